package filter

import (
	"sort"
	"strings"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
)

// NormalizeDN returns the normalised form of a DN, and false if it is not a
// valid DN (goldap.ParseDN rejects it). Two DNs are equal under
// distinguishedNameMatch when their normalised forms are equal strings.
//
// The normalised form: attribute types canonical (lower-case, aliases and
// OIDs resolved: "CN", "commonName" and "2.5.4.3" are all "cn"); values
// prepared as case-ignore strings (white space trimmed and collapsed,
// lower-cased); the values of a multi-valued RDN sorted; no spaces around
// ',', '+' and '='; and RFC 4514 escaping — '\' before
// \ " + , ; < > and before a leading '#' or space, \xx for control bytes,
// NUL and invalid UTF-8, everything else as is. The root DSE "" is "".
// NormalizeDN(NormalizeDN(s)) is NormalizeDN(s).
//
// DNs of the plain shape our own tree uses ("uid=alice,ou=users,dc=example,
// dc=com": letters, digits and hyphens in the types; printable ASCII
// without specials and without leading, trailing or double spaces in the
// values) take a fast path that does not call ParseDN, and does not
// allocate when the DN is already lower-case.
func NormalizeDN(s string) (string, bool) {
	if ok, upper := simpleDN(s); ok {
		if upper {
			return lowerASCII(s), true
		}
		return s, true
	}
	return normalizeDNSlow(s)
}

// simpleDN reports whether s is a DN of the plain shape NormalizeDN's fast
// path takes, whose normalised form is s lower-cased; and whether s has
// upper-case letters.
func simpleDN(s string) (ok, upper bool) {
	if s == "" {
		return false, false
	}
	i := 0
	for {
		ts := i
		if i >= len(s) || !isLetter(s[i]) {
			return false, false
		}
		for i < len(s) && (isLetter(s[i]) || isDigit(s[i]) || s[i] == '-') {
			if 'A' <= s[i] && s[i] <= 'Z' {
				upper = true
			}
			i++
		}
		if i >= len(s) || s[i] != '=' || !isCanonicalType(s[ts:i]) {
			return false, false
		}
		i++
		vs := i
		for ; i < len(s) && s[i] != ','; i++ {
			switch c := s[i]; {
			case c < 0x20 || c >= 0x7f:
				return false, false
			case c == '\\' || c == '"' || c == '+' || c == ';' || c == '<' || c == '>' || c == '=' || c == '#':
				return false, false
			case c == ' ' && (i == vs || s[i-1] == ' '):
				return false, false
			case 'A' <= c && c <= 'Z':
				upper = true
			}
		}
		if i == vs || s[i-1] == ' ' {
			return false, false
		}
		if i == len(s) {
			return true, upper
		}
		i++ // ','
	}
}

// isCanonicalType reports whether an ASCII attribute type, lower-cased, is
// its own canonical name (not an alias such as commonName).
func isCanonicalType(t string) bool {
	var buf [32]byte
	if len(t) > len(buf) {
		return false
	}
	b := buf[:len(t)]
	for i := 0; i < len(t); i++ {
		c := t[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	switch string(b) {
	case "cn", "uid", "ou", "dc", "o", "c", "l", "st":
		return true
	}
	c, ok := names[string(b)]
	return !ok || c == string(b)
}

func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

func lowerASCII(s string) string {
	return strings.ToLower(s) // s is ASCII: one allocation
}

// equalLowerASCII reports whether s with ASCII letters lower-cased is key.
func equalLowerASCII(s, key string) bool {
	if len(s) != len(key) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != key[i] {
			return false
		}
	}
	return true
}

func normalizeDNSlow(s string) (string, bool) {
	d, err := goldap.ParseDN(s)
	if err != nil {
		return "", false
	}
	var b []byte
	var avas []string
	for i, rdn := range d.RDNs {
		if i > 0 {
			b = append(b, ',')
		}
		if len(rdn.Attributes) == 1 {
			b = appendAVA(b, rdn.Attributes[0])
			continue
		}
		avas = avas[:0]
		for _, a := range rdn.Attributes {
			avas = append(avas, string(appendAVA(nil, a)))
		}
		sort.Strings(avas)
		b = append(b, strings.Join(avas, "+")...)
	}
	return string(b), true
}

func appendAVA(b []byte, a *goldap.AttributeTypeAndValue) []byte {
	b = appendDNString(b, canonicalType(a.Type), true)
	b = append(b, '=')
	var buf [128]byte
	return appendDNString(b, string(prepAppend(buf[:0], a.Value, true, false, false)), false)
}

// appendDNString appends an attribute type or value escaped as RFC 4514
// wants and goldap.ParseDN reads back.
func appendDNString(b []byte, v string, isType bool) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' || c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>',
			c == '=' && isType,
			(c == '#' || c == ' ') && i == 0,
			c == ' ' && i == len(v)-1:
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', hex[c>>4], hex[c&0xf])
		case c >= utf8.RuneSelf:
			if r, w := utf8.DecodeRuneInString(v[i:]); r != utf8.RuneError || w > 1 {
				b = append(b, v[i:i+w]...)
				i += w - 1
			} else {
				b = append(b, '\\', hex[c>>4], hex[c&0xf])
			}
		default:
			b = append(b, c)
		}
	}
	return b
}

// dnEqual reports whether the DN v equals the normalised DN key.
func dnEqual(v, key string) bool {
	// v differing from key only in the case of ASCII letters is the same
	// DN: key is normalised, so those letters are in types (which compare
	// without case), values (folded) or hex escapes.
	if equalLowerASCII(v, key) {
		return true
	}
	if ok, _ := simpleDN(v); ok {
		return false // its normalised form is v lower-cased, which is not key
	}
	n, ok := normalizeDNSlow(v)
	return ok && n == key
}

// rangeAVAs calls fn with the canonical type and the value of each
// attribute value assertion of the DN, until fn returns false.
func rangeAVAs(dn string, fn func(typ, val string) bool) {
	if ok, _ := simpleDN(dn); ok {
		for dn != "" {
			rdn := dn
			if i := strings.IndexByte(dn, ','); i >= 0 {
				rdn, dn = dn[:i], dn[i+1:]
			} else {
				dn = ""
			}
			eq := strings.IndexByte(rdn, '=')
			if !fn(canonicalType(rdn[:eq]), rdn[eq+1:]) {
				return
			}
		}
		return
	}
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return
	}
	for _, rdn := range d.RDNs {
		for _, a := range rdn.Attributes {
			if !fn(canonicalType(a.Type), a.Value) {
				return
			}
		}
	}
}
