package ldap

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
)

// NormalizeDN returns the canonical form of a DN, used as the Key of LDAP
// records and in group member lists, so that two spellings of one DN give
// one key:
//
//   - attribute types and values are lower-cased (DN matching is
//     case-insensitive for the naming attributes directories use);
//   - spaces around separators are dropped, ';' separators become ',';
//   - the values of a multi-valued RDN are sorted;
//   - #hex (BER) values are decoded;
//   - values are escaped as RFC 4514 requires and no further: the special
//     characters, a leading '#' or space, a trailing space, control
//     characters and bytes that are not UTF-8 are escaped; other UTF-8 is
//     kept as it is.
//
// Attribute types must be descriptors (cn, uid) or OIDs; aliases are not
// resolved (2.5.4.3=x and cn=x stay different). The empty DN is an error.
// NormalizeDN of a normalised DN returns it unchanged.
func NormalizeDN(dn string) (string, error) {
	if s, ok := fastNormalizeDN(dn); ok {
		return s, nil
	}
	return slowNormalizeDN(dn)
}

func slowNormalizeDN(dn string) (string, error) {
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("invalid DN %q: %w", dn, err)
	}
	if len(parsed.RDNs) == 0 {
		return "", errors.New("empty DN")
	}
	var b strings.Builder
	b.Grow(len(dn))
	var avas []string
	for i, rdn := range parsed.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		avas = avas[:0]
		for _, ava := range rdn.Attributes {
			if !validAttrType(ava.Type) {
				return "", fmt.Errorf("invalid DN %q: bad attribute type %q", dn, ava.Type)
			}
			var a strings.Builder
			a.WriteString(strings.ToLower(ava.Type))
			a.WriteByte('=')
			writeDNValue(&a, foldValue(ava.Value))
			avas = append(avas, a.String())
		}
		if len(avas) > 1 {
			slices.Sort(avas)
		}
		for j, a := range avas {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(a)
		}
	}
	return b.String(), nil
}

// validAttrType accepts a descriptor (letter, then letters, digits and '-')
// or a numeric OID.
func validAttrType(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		for i := 1; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
		return true
	case c >= '0' && c <= '9':
		prevDot := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '.':
				if prevDot || i == len(s)-1 {
					return false
				}
				prevDot = true
			case c >= '0' && c <= '9':
				prevDot = false
			default:
				return false
			}
		}
		return true
	}
	return false
}

// foldValue lower-cases the UTF-8 in s and keeps bytes that are not UTF-8.
func foldValue(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			ascii = false
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteRune(lowerRune(r))
		i += size
	}
	return b.String()
}

// lowerRune is unicode.ToLower made idempotent: a rune whose lower case
// lower-cases again is folded until it is stable.
func lowerRune(r rune) rune {
	for range 4 {
		l := unicode.ToLower(r)
		if l == r {
			break
		}
		r = l
	}
	return r
}

const hexDigits = "0123456789abcdef"

// writeDNValue writes an attribute value escaped as RFC 4514 section 2.4
// requires, plus control characters and bytes that are not UTF-8 as \XX.
func writeDNValue(b *strings.Builder, v string) {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' && (i == 0 || i == len(v)-1), c == '#' && i == 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '"', c == '+', c == ',', c == ';', c == '<', c == '>', c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte('\\')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(v[i:])
			if r == utf8.RuneError && size <= 1 {
				b.WriteByte('\\')
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
				i++
				continue
			}
			b.WriteString(v[i : i+size])
			i += size
			continue
		default:
			b.WriteByte(c)
		}
		i++
	}
}

// fastNormalizeDN recognises the common DN that is already canonical
// (uid=alice,ou=people,dc=example,dc=com: lower-case ASCII, no spaces,
// escapes or multi-valued RDNs) and returns it without parsing. It must
// agree with slowNormalizeDN wherever it answers ok (FuzzNormalizeDN checks
// this).
func fastNormalizeDN(dn string) (string, bool) {
	if dn == "" {
		return "", false
	}
	inType, start := true, 0
	for i := 0; i <= len(dn); i++ {
		var c byte = ','
		if i < len(dn) {
			c = dn[i]
		}
		switch {
		case inType && c == '=':
			if !validLowerDescr(dn[start:i]) {
				return "", false
			}
			inType, start = false, i+1
		case inType:
			// type characters are checked by validLowerDescr
		case c == ',':
			if i == start { // empty value
				return "", false
			}
			inType, start = true, i+1
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '@':
		default:
			return "", false
		}
	}
	return dn, start > len(dn)
}

func validLowerDescr(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
