package restriction

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits applied by every parser. Bodies and CQL strings beyond them are
// invalid (ErrInvalid), not truncated.
const (
	// MaxDepth is the deepest restriction tree accepted: a Null or Property
	// has depth 1, a Boolean one more than its deepest child. For CQL it
	// also bounds the nesting of parentheses.
	MaxDepth = 32
	// MaxRestrictions is the largest number of restrictions (nodes of any
	// kind, Boolean ones included) in one tree.
	MaxRestrictions = 1000
	// MaxCQLLength is the longest CQL string accepted, in bytes.
	MaxCQLLength = 64 << 10
	// MaxBodyBytes is the largest XML or JSON body ParseXML and ParseJSON
	// read. The HTTP layer should limit the body first (http.MaxBytesReader);
	// this is a second fence.
	MaxBodyBytes = 1 << 20
)

// ErrInvalid is wrapped by every error for a restriction that cannot be
// parsed or is beyond the limits (always an *Error). The REST frontend
// answers it with 400 ILLEGAL_ARGUMENT "Search restriction is invalid: "
// followed by Error.Detail.
var ErrInvalid = errors.New("restriction: invalid search restriction")

// Error is an invalid restriction: what is wrong and where.
type Error struct {
	// Syntax is the input format: "xml", "json", "cql", or "" for
	// NewProperty.
	Syntax string
	// Pos is the 1-based byte position in a CQL string, 0 when unknown.
	Pos int
	// Path locates the problem in an XML or JSON body: element names with
	// the 1-based index of a Boolean's member in XML
	// ("boolean-search-restriction/restrictions/property-search-restriction[2]/match-mode"),
	// keys with 0-based indexes in JSON ("restrictions[1].match-mode"); ""
	// at the top of a JSON body. Long paths keep their end.
	Path string
	// Msg says what is wrong; it names the offending property, match mode,
	// type or token. Values from the input are quoted and shortened.
	Msg string
}

// Detail is the message without the package prefix, for the REST error
// body: "at position 6: operator \"!=\" is not supported …" or
// "in restrictions[1].match-mode: unknown match mode …".
func (e *Error) Detail() string {
	switch {
	case e.Pos > 0:
		return "at position " + strconv.Itoa(e.Pos) + ": " + e.Msg
	case e.Path != "":
		return "in " + e.Path + ": " + e.Msg
	}
	return e.Msg
}

func (e *Error) Error() string {
	s := ErrInvalid.Error()
	if e.Syntax != "" {
		s += " (" + e.Syntax + ")"
	}
	return s + ": " + e.Detail()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// Restriction is a parsed search restriction: Null, Property or Boolean.
// Parsers return values of these types, never pointers; Match also accepts
// pointers to them. A nil Restriction is treated like Null.
type Restriction interface {
	// String is a one-line rendering for logs: control characters in names
	// and values are escaped, so it never spans lines. Its length grows
	// with the restriction; see Format for a bounded form.
	String() string
	restriction()
}

// Null matches every entity (<null-search-restriction/>, a blank CQL
// string). Jira's full sync searches with it.
type Null struct{}

// Property restricts one property of the entity.
//
// Parsers and NewProperty fill the parsed forms (Bool, Time) from Value and
// canonicalise Name (see Canonical); a Property built by hand should come
// from NewProperty so that they agree.
type Property struct {
	// Name is a built-in property ("email", "createdDate", see Canonical)
	// or the name of a custom attribute.
	Name string
	Type PropType
	Mode MatchMode
	// Value is the value as received: unused (and empty) for IsNull; for
	// strings it is the value to compare; for TypeBoolean and TypeDate the
	// text Bool or Time were parsed from. CQL values have their quotes,
	// escapes and leading/trailing '*' wildcards removed.
	Value string
	// Bool is Value parsed, for TypeBoolean.
	Bool bool
	// Time is Value parsed, in UTC, for TypeDate.
	Time time.Time
}

// Boolean combines restrictions. And of no restrictions matches every
// entity and Or of none matches no entity (the identities of the two
// operations; Crowd's Combine.allOf/anyOf never build them, but a body may).
type Boolean struct {
	Logic        Logic
	Restrictions []Restriction
}

func (Null) restriction()     {}
func (Property) restriction() {}
func (Boolean) restriction()  {}

// PropType is the value type of a property.
type PropType uint8

// The property types of Crowd's SearchRestrictionEntityTranslator.
// The zero PropType is invalid.
const (
	TypeString  PropType = iota + 1 // STRING
	TypeBoolean                     // BOOLEAN: "true" or "false"
	TypeDate                        // DATE: 2020-01-02T03:04:05.000+0000 and ISO 8601 forms
)

var typeNames = [...]string{TypeString: "STRING", TypeBoolean: "BOOLEAN", TypeDate: "DATE"}

// String is the wire name: "STRING", "BOOLEAN" or "DATE".
func (t PropType) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "PropType(" + strconv.Itoa(int(t)) + ")"
}

// MatchMode is how a Property compares the entity's value with its own.
type MatchMode uint8

// The match modes of Crowd's MatchMode enum. The zero MatchMode is invalid
// and matches nothing.
const (
	ExactlyMatches     MatchMode = iota + 1 // EXACTLY_MATCHES
	StartsWith                              // STARTS_WITH
	EndsWith                                // ENDS_WITH
	Contains                                // CONTAINS
	LessThan                                // LESS_THAN
	LessThanOrEqual                         // LESS_THAN_OR_EQUAL
	GreaterThan                             // GREATER_THAN
	GreaterThanOrEqual                      // GREATER_THAN_OR_EQUAL
	// IsNull ("NULL" on the wire) matches entities without a value for the
	// property; the restriction's value is ignored.
	IsNull
)

var modeNames = [...]string{
	ExactlyMatches: "EXACTLY_MATCHES", StartsWith: "STARTS_WITH", EndsWith: "ENDS_WITH",
	Contains: "CONTAINS", LessThan: "LESS_THAN", LessThanOrEqual: "LESS_THAN_OR_EQUAL",
	GreaterThan: "GREATER_THAN", GreaterThanOrEqual: "GREATER_THAN_OR_EQUAL", IsNull: "NULL",
}

// String is the wire name, e.g. "EXACTLY_MATCHES" or "NULL".
func (m MatchMode) String() string {
	if int(m) < len(modeNames) && modeNames[m] != "" {
		return modeNames[m]
	}
	return "MatchMode(" + strconv.Itoa(int(m)) + ")"
}

// Logic is the operator of a Boolean restriction.
type Logic uint8

// The zero Logic is invalid and matches nothing.
const (
	And Logic = iota + 1
	Or
)

// String is the wire name, "AND" or "OR".
func (l Logic) String() string {
	switch l {
	case And:
		return "AND"
	case Or:
		return "OR"
	}
	return "Logic(" + strconv.Itoa(int(l)) + ")"
}

// parseEnum finds s among names, ignoring case and surrounding white space
// and treating '-' like '_' (so "starts-with" is STARTS_WITH).
func parseEnum(s string, names []string) (int, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "-", "_")
	for i, n := range names {
		if n != "" && strings.EqualFold(s, n) {
			return i, true
		}
	}
	return 0, false
}

func parseType(s string) (PropType, bool) {
	i, ok := parseEnum(s, typeNames[:])
	return PropType(i), ok
}

func parseMode(s string) (MatchMode, bool) {
	i, ok := parseEnum(s, modeNames[:])
	return MatchMode(i), ok
}

func parseLogic(s string) (Logic, bool) {
	i, ok := parseEnum(s, []string{And: "AND", Or: "OR"})
	return Logic(i), ok
}

// parseBool accepts "true" and "false" in any case. Crowd's Boolean.valueOf
// reads anything else as false; a client sending "yes" more likely has a
// bug than means false, so it is rejected.
func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// NewProperty checks and builds a Property: the name is canonicalised and
// must not be blank, the type and mode must be valid, and for modes other
// than IsNull the value must parse for the type (for IsNull it is dropped).
// Errors wrap ErrInvalid.
func NewProperty(name string, typ PropType, mode MatchMode, value string) (Property, error) {
	p, msg := newProperty(name, typ, mode, value)
	if msg != "" {
		return Property{}, &Error{Msg: msg}
	}
	return p, nil
}

// newProperty is NewProperty with the message of the error, so parsers can
// add their own position or path.
func newProperty(name string, typ PropType, mode MatchMode, value string) (Property, string) {
	name = Canonical(strings.TrimSpace(name))
	if name == "" {
		return Property{}, "property without a name"
	}
	if typ < TypeString || typ > TypeDate {
		return Property{}, "property " + quote(name) + " has invalid type " + typ.String()
	}
	if mode < ExactlyMatches || mode > IsNull {
		return Property{}, "property " + quote(name) + " has invalid match mode " + mode.String()
	}
	p := Property{Name: name, Type: typ, Mode: mode}
	if mode == IsNull {
		return p, ""
	}
	p.Value = value
	switch typ {
	case TypeBoolean:
		b, ok := parseBool(value)
		if !ok {
			return Property{}, "invalid BOOLEAN value " + quote(value) + " for property " + quote(name) + ": want true or false"
		}
		p.Bool = b
	case TypeDate:
		t, err := ParseDate(value)
		if err != nil {
			return Property{}, "invalid DATE value " + quote(value) + " for property " + quote(name) + ": want e.g. 2020-01-02T03:04:05.000+0000"
		}
		p.Time = t
	}
	return p, ""
}

// quote quotes s for a message or String, escaping control characters,
// and shortens it to about 64 bytes.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// clean makes a message from another package (encoding/xml echoes the
// input in its errors) safe for a one-line log and a response body:
// invalid UTF-8 and control characters escaped, at most about 200 bytes.
func clean(s string) string {
	q := strconv.QuoteToGraphic(s)
	q = q[1 : len(q)-1]
	if len(q) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(q[cut]) {
			cut--
		}
		q = q[:cut] + "…"
	}
	return q
}

// cleanPath is clean for a path in a body, keeping its end (the part
// closest to the problem) when it is long.
func cleanPath(s string) string {
	q := strconv.QuoteToGraphic(s)
	q = q[1 : len(q)-1]
	if len(q) > 200 {
		cut := len(q) - 200
		for cut < len(q) && !utf8.RuneStart(q[cut]) {
			cut++
		}
		q = "…" + q[cut:]
	}
	return q
}

// quoteFull quotes s like quote without shortening it.
func quoteFull(s string) string { return strconv.Quote(s) }

// String is "ALL".
func (Null) String() string { return "ALL" }

// String renders e.g. `email EXACTLY_MATCHES "bob@example.net"`,
// `createdDate:DATE GREATER_THAN "2020-01-02T03:04:05.000+0000"` or
// `name NULL`. The type is shown unless it is STRING; names other than
// plain identifiers are quoted.
func (p Property) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p Property) write(b *strings.Builder) {
	if plainName(p.Name) {
		b.WriteString(p.Name)
	} else {
		b.WriteString(quoteFull(p.Name))
	}
	if p.Type != TypeString {
		b.WriteByte(':')
		b.WriteString(p.Type.String())
	}
	b.WriteByte(' ')
	b.WriteString(p.Mode.String())
	if p.Mode != IsNull {
		b.WriteByte(' ')
		b.WriteString(quoteFull(p.Value))
	}
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// String renders e.g. `(name STARTS_WITH "a" OR email CONTAINS "b")`;
// an empty And is "(AND)" and an empty Or "(OR)".
func (bl Boolean) String() string {
	var b strings.Builder
	writeRestriction(&b, bl, 0)
	return b.String()
}

// writeRestriction renders r into b; with limit > 0 it may stop early once
// b holds more than limit bytes.
func writeRestriction(b *strings.Builder, r Restriction, limit int) {
	switch r := r.(type) {
	case Null:
		b.WriteString("ALL")
	case Property:
		r.write(b)
	case Boolean:
		b.WriteByte('(')
		if len(r.Restrictions) == 0 {
			b.WriteString(r.Logic.String())
		}
		for i, c := range r.Restrictions {
			if limit > 0 && b.Len() > limit {
				return
			}
			if i > 0 {
				b.WriteByte(' ')
				b.WriteString(r.Logic.String())
				b.WriteByte(' ')
			}
			writeRestriction(b, c, limit)
		}
		b.WriteByte(')')
	case nil:
		b.WriteString("<nil>")
	default:
		b.WriteString(r.String())
	}
}

// Format renders r like its String method, cut to at most max bytes (on a
// character boundary, with "…" appended when cut); max <= 0 means no limit.
// A nil r is "<nil>".
func Format(r Restriction, max int) string {
	var b strings.Builder
	writeRestriction(&b, r, max)
	s := b.String()
	if max <= 0 || len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Stats returns the depth of r (Null and Property 1, Boolean one more than
// its deepest child) and its number of restrictions of any kind. Parsers
// never return a restriction beyond MaxDepth or MaxRestrictions.
func Stats(r Restriction) (depth, count int) {
	switch r := r.(type) {
	case Boolean:
		count = 1
		for _, c := range r.Restrictions {
			d, n := Stats(c)
			depth = max(depth, d)
			count += n
		}
		return depth + 1, count
	case *Boolean:
		if r == nil {
			return 1, 1
		}
		return Stats(*r)
	}
	return 1, 1
}

var (
	_ Restriction = Null{}
	_ Restriction = Property{}
	_ Restriction = Boolean{}
)
