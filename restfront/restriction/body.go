package restriction

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// readBody reads a whole request body, at most MaxBodyBytes, without a
// leading UTF-8 byte order mark. blank reports a body of nothing but white
// space.
//
// A blank body is the Null restriction. The spec does not cover it (§6.1
// lists the three restriction kinds; only §6.2 says a blank CQL string is
// the null restriction) and Crowd itself answers 400 (the entity is null
// and SearchRestrictionEntityTranslator.toSearchRestriction throws "Unknown
// search restriction entity type"). We follow the CQL rule instead: no
// studied client sends an empty body, so nothing depends on the 400, a
// restriction-less POST meaning "everything" is what a caller would
// expect, and it grants nothing an application cannot already get with
// <null-search-restriction/>.
func readBody(r io.Reader, syntax string) (data []byte, blank bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		// Not ErrInvalid: the connection or the HTTP layer's own limit
		// (*http.MaxBytesError) failed, not the restriction.
		return nil, false, fmt.Errorf("restriction: reading %s body: %w", syntax, err)
	}
	if len(data) > MaxBodyBytes {
		return nil, false, &Error{Syntax: syntax, Msg: "body larger than " + strconv.Itoa(MaxBodyBytes) + " bytes"}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	return data, len(bytes.TrimSpace(data)) == 0, nil
}

// normKey folds the spellings clients use for one field name: the JAXB
// names ("match-mode"), the camelCase of the newer Swagger docs
// ("matchMode", spec §13.5) and snake_case all become "matchmode".
func normKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == '_':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// The kinds of restriction, by their normalised element or
// restriction-type names.
const (
	kindNull     = "nullsearchrestriction"
	kindProperty = "propertysearchrestriction"
	kindBoolean  = "booleansearchrestriction"
)

func isKind(k string) bool { return k == kindNull || k == kindProperty || k == kindBoolean }

const wantKinds = "want null-search-restriction, property-search-restriction or boolean-search-restriction"

// rawProperty collects the fields of a property restriction from a body.
type rawProperty struct {
	hasProp, hasName, hasType, hasMode, hasValue bool
	name, typ, mode, value                       string
}

// build checks the fields and makes the Property; on failure it returns
// the message and the field at fault (a JAXB name, for the error path).
func (rp *rawProperty) build() (Property, string, string) {
	if !rp.hasProp {
		return Property{}, "property restriction without a property", ""
	}
	name := strings.TrimSpace(rp.name)
	if !rp.hasName || name == "" {
		return Property{}, "property without a name", "property"
	}
	name = Canonical(name)
	typ := inferType(name) // a missing type: Crowd fails with a NullPointerException
	if rp.hasType {
		var ok bool
		if typ, ok = parseType(rp.typ); !ok {
			return Property{}, "unknown type " + quote(rp.typ) + " for property " + quote(name) + ": want STRING, BOOLEAN or DATE", "property/type"
		}
	}
	if !rp.hasMode {
		return Property{}, "missing match-mode for property " + quote(name), ""
	}
	mode, ok := parseMode(rp.mode)
	if !ok {
		return Property{}, "unknown match mode " + quote(rp.mode) + " for property " + quote(name) + ": want " + strings.Join(modeNames[1:], ", "), "match-mode"
	}
	if mode != IsNull && !rp.hasValue {
		return Property{}, "missing value for property " + quote(name) + " with match mode " + mode.String(), ""
	}
	p, msg := newProperty(name, typ, mode, rp.value)
	if msg != "" {
		return Property{}, msg, "value"
	}
	return p, "", ""
}

// counter enforces MaxDepth and MaxRestrictions while a body is parsed.
type counter struct{ n int }

// add counts one more restriction at the given depth (the root is 1) and
// returns the message of the limit it breaks, if any.
func (c *counter) add(depth int) string {
	c.n++
	switch {
	case depth > MaxDepth:
		return "restrictions nested deeper than " + strconv.Itoa(MaxDepth)
	case c.n > MaxRestrictions:
		return "more than " + strconv.Itoa(MaxRestrictions) + " restrictions"
	}
	return ""
}
