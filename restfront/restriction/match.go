package restriction

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Entity is a user or group being matched.
type Entity interface {
	// Property returns the entity's value for a property: a built-in one
	// by its canonical name (KeyEmail, KeyActive, …; see Canonical) or a
	// custom attribute. ok is false when the entity has no such property.
	Property(name string) (v Value, ok bool)
}

// Value is the value of one property of an entity: one string, several
// strings (a multi-valued custom attribute), a boolean or a time. Make
// it with StringValue, StringsValue, BoolValue or TimeValue; the zero Value
// holds nothing.
type Value struct {
	typ  PropType
	s    string
	ss   []string
	many bool
	b    bool
	t    time.Time
}

// StringValue is a single string.
func StringValue(s string) Value { return Value{typ: TypeString, s: s} }

// StringsValue holds the values of a multi-valued attribute; a restriction
// matches if it matches any of them. The slice is not copied.
func StringsValue(ss []string) Value { return Value{typ: TypeString, ss: ss, many: true} }

// BoolValue is a boolean, e.g. KeyActive.
func BoolValue(b bool) Value { return Value{typ: TypeBoolean, b: b} }

// TimeValue is a time, e.g. KeyCreatedDate. The zero time.Time means the
// date is unknown: only IsNull matches it.
func TimeValue(t time.Time) Value { return Value{typ: TypeDate, t: t} }

// Type is the type of the value, 0 for the zero Value.
func (v Value) Type() PropType { return v.typ }

// Strings returns the values of a string Value (nil for other types).
func (v Value) Strings() []string {
	switch {
	case v.typ != TypeString:
		return nil
	case v.many:
		return v.ss
	}
	return []string{v.s}
}

// Bool returns a boolean Value (false for other types).
func (v Value) Bool() bool { return v.typ == TypeBoolean && v.b }

// Time returns a date Value (the zero time for other types).
func (v Value) Time() time.Time {
	if v.typ != TypeDate {
		return time.Time{}
	}
	return v.t
}

// empty reports whether the value counts as absent for IsNull: no strings
// or only empty ones, a zero time, or the zero Value.
func (v Value) empty() bool {
	switch v.typ {
	case TypeString:
		if !v.many {
			return v.s == ""
		}
		for _, s := range v.ss {
			if s != "" {
				return false
			}
		}
		return true
	case TypeBoolean:
		return false
	case TypeDate:
		return v.t.IsZero()
	}
	return true
}

// eachString calls f with the value's strings: a boolean is "true" or
// "false", a date is formatted like 2020-01-02T03:04:05.000+0000 in UTC
// (the DATE format of POSTed restrictions). It stops when f returns true.
func (v Value) eachString(f func(string) bool) bool {
	switch v.typ {
	case TypeString:
		if !v.many {
			return f(v.s)
		}
		for _, s := range v.ss {
			if f(s) {
				return true
			}
		}
	case TypeBoolean:
		if v.b {
			return f("true")
		}
		return f("false")
	case TypeDate:
		if !v.t.IsZero() {
			return f(v.t.UTC().Format(crowdTimeLayout))
		}
	}
	return false
}

const crowdTimeLayout = "2006-01-02T15:04:05.000-0700"

// eachBool calls f with the value's booleans: strings that are "true" or
// "false" in any case count, others are skipped; dates have none.
func (v Value) eachBool(f func(bool) bool) bool {
	switch v.typ {
	case TypeBoolean:
		return f(v.b)
	case TypeString:
		return v.eachString(func(s string) bool {
			b, ok := parseBool(s)
			return ok && f(b)
		})
	}
	return false
}

// eachTime calls f with the value's times: strings that ParseDate reads
// count, others are skipped; booleans and the zero time have none.
func (v Value) eachTime(f func(time.Time) bool) bool {
	switch v.typ {
	case TypeDate:
		return !v.t.IsZero() && f(v.t)
	case TypeString:
		return v.eachString(func(s string) bool {
			t, err := ParseDate(s)
			return err == nil && f(t)
		})
	}
	return false
}

// MapEntity is an Entity backed by a map, for tests and small callers.
// Lookups are exact: keys should be canonical names.
type MapEntity map[string]Value

// Property implements Entity.
func (m MapEntity) Property(name string) (Value, bool) {
	v, ok := m[name]
	return v, ok
}

// Match reports whether the entity satisfies the restriction.
//
//   - Null (and a nil Restriction) matches everything. Boolean And needs
//     every child to match and Or one of them, so an empty And matches
//     everything and an empty Or nothing.
//   - IsNull matches when the entity lacks the property or its value is
//     empty (see Value): Jira's test-connection probe, name IS NULL,
//     matches no user or group, so the search answers an empty list.
//   - Other modes never match a missing property. A multi-valued property
//     matches if any of its values does.
//   - TypeString compares case-insensitively, as Crowd does (IdentifierUtils
//     lower-cases both sides; we use strings.ToLower, i.e. Unicode simple
//     case mapping rather than a configurable locale). STARTS_WITH,
//     ENDS_WITH and CONTAINS are substring tests; LESS_THAN and friends
//     compare the lower-cased strings byte-wise (code point order).
//   - TypeDate compares instants; STARTS_WITH, ENDS_WITH and CONTAINS are
//     false.
//   - TypeBoolean supports only EXACTLY_MATCHES; other modes are false.
//   - When the entity's value has another type than the restriction it is
//     converted (see Value's string, boolean and time forms) and values
//     that do not convert do not match.
//   - An invalid Type, Mode or Logic matches nothing.
func Match(r Restriction, e Entity) bool {
	switch r := r.(type) {
	case nil, Null, *Null:
		return true
	case Property:
		return matchProperty(&r, e)
	case *Property:
		return r != nil && matchProperty(r, e)
	case Boolean:
		return matchBoolean(&r, e)
	case *Boolean:
		return r != nil && matchBoolean(r, e)
	}
	return false
}

func matchBoolean(b *Boolean, e Entity) bool {
	switch b.Logic {
	case And:
		for _, c := range b.Restrictions {
			if !Match(c, e) {
				return false
			}
		}
		return true
	case Or:
		for _, c := range b.Restrictions {
			if Match(c, e) {
				return true
			}
		}
	}
	return false
}

func matchProperty(p *Property, e Entity) bool {
	v, ok := e.Property(p.Name)
	if p.Mode == IsNull {
		return !ok || v.empty()
	}
	if !ok || p.Mode < ExactlyMatches || p.Mode > IsNull {
		return false
	}
	switch p.Type {
	case TypeString:
		return v.eachString(func(s string) bool { return compareString(p.Mode, s, p.Value) })
	case TypeBoolean:
		return p.Mode == ExactlyMatches && v.eachBool(func(b bool) bool { return b == p.Bool })
	case TypeDate:
		return v.eachTime(func(t time.Time) bool { return compareTime(p.Mode, t, p.Time) })
	}
	return false
}

// compareString compares have with want, ignoring case: as if both were
// lower-cased with strings.ToLower. ASCII strings, the common case, are
// compared without allocating.
func compareString(m MatchMode, have, want string) bool {
	if isASCII(have) && isASCII(want) {
		return compareASCII(m, have, want)
	}
	return compareLower(m, strings.ToLower(have), strings.ToLower(want))
}

func compareLower(m MatchMode, have, want string) bool {
	switch m {
	case ExactlyMatches:
		return have == want
	case StartsWith:
		return strings.HasPrefix(have, want)
	case EndsWith:
		return strings.HasSuffix(have, want)
	case Contains:
		return strings.Contains(have, want)
	case LessThan:
		return have < want
	case LessThanOrEqual:
		return have <= want
	case GreaterThan:
		return have > want
	case GreaterThanOrEqual:
		return have >= want
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// cmpASCII is strings.Compare of the lower-cased ASCII strings.
func cmpASCII(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if ca, cb := lowerASCII(a[i]), lowerASCII(b[i]); ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func eqASCII(a, b string) bool { return len(a) == len(b) && cmpASCII(a, b) == 0 }

// compareASCII is compareLower for ASCII strings.
func compareASCII(m MatchMode, have, want string) bool {
	switch m {
	case ExactlyMatches:
		return eqASCII(have, want)
	case StartsWith:
		return len(have) >= len(want) && eqASCII(have[:len(want)], want)
	case EndsWith:
		return len(have) >= len(want) && eqASCII(have[len(have)-len(want):], want)
	case Contains:
		for i := 0; i+len(want) <= len(have); i++ {
			if eqASCII(have[i:i+len(want)], want) {
				return true
			}
		}
		return false
	case LessThan:
		return cmpASCII(have, want) < 0
	case LessThanOrEqual:
		return cmpASCII(have, want) <= 0
	case GreaterThan:
		return cmpASCII(have, want) > 0
	case GreaterThanOrEqual:
		return cmpASCII(have, want) >= 0
	}
	return false
}

func compareTime(m MatchMode, have, want time.Time) bool {
	switch m {
	case ExactlyMatches:
		return have.Equal(want)
	case LessThan:
		return have.Before(want)
	case LessThanOrEqual:
		return !have.After(want)
	case GreaterThan:
		return have.After(want)
	case GreaterThanOrEqual:
		return !have.Before(want)
	}
	return false
}

var _ Entity = MapEntity(nil)
