package filter

import (
	"time"
	"unicode"
	"unicode/utf8"
)

// rule is a matching rule the evaluator implements: the equality rule of
// each syntax, and the further rules an extensible match may name.
type rule uint8

const (
	ruleNone        rule = iota
	ruleCaseIgnore       // caseIgnoreMatch 2.5.13.2, caseIgnoreIA5Match
	ruleCaseExact        // caseExactMatch 2.5.13.5, caseExactIA5Match
	ruleDN               // distinguishedNameMatch 2.5.13.1
	ruleInteger          // integerMatch 2.5.13.14
	ruleTime             // generalizedTimeMatch 2.5.13.27
	ruleOctet            // octetStringMatch 2.5.13.17
	ruleObjectClass      // objectIdentifierMatch 2.5.13.0
	ruleNumeric          // numericStringMatch 2.5.13.8
	ruleInChain          // LDAP_MATCHING_RULE_IN_CHAIN 1.2.840.113556.1.4.1941
	ruleBitAnd           // LDAP_MATCHING_RULE_BIT_AND 1.2.840.113556.1.4.803
	ruleBitOr            // LDAP_MATCHING_RULE_BIT_OR 1.2.840.113556.1.4.804
)

// rules maps the lower-case OIDs and names of the matching rules an
// extensible match may name.
var rules = map[string]rule{
	"2.5.13.0":                   ruleObjectClass,
	"objectidentifiermatch":      ruleObjectClass,
	"2.5.13.1":                   ruleDN,
	"distinguishednamematch":     ruleDN,
	"2.5.13.2":                   ruleCaseIgnore,
	"caseignorematch":            ruleCaseIgnore,
	"2.5.13.5":                   ruleCaseExact,
	"caseexactmatch":             ruleCaseExact,
	"2.5.13.8":                   ruleNumeric,
	"numericstringmatch":         ruleNumeric,
	"2.5.13.14":                  ruleInteger,
	"integermatch":               ruleInteger,
	"2.5.13.17":                  ruleOctet,
	"octetstringmatch":           ruleOctet,
	"2.5.13.27":                  ruleTime,
	"generalizedtimematch":       ruleTime,
	"1.3.6.1.4.1.1466.109.114.1": ruleCaseExact,
	"caseexactia5match":          ruleCaseExact,
	"1.3.6.1.4.1.1466.109.114.2": ruleCaseIgnore,
	"caseignoreia5match":         ruleCaseIgnore,
	"1.2.840.113556.1.4.1941":    ruleInChain,
	"1.2.840.113556.1.4.803":     ruleBitAnd,
	"1.2.840.113556.1.4.804":     ruleBitOr,
}

// ruleKeys maps each key of rules to itself, to intern lowerRule's result.
var ruleKeys = func() map[string]string {
	m := make(map[string]string, len(rules))
	for k := range rules {
		m[k] = k
	}
	return m
}()

// lowerRule lower-cases a matching rule as sent, without allocating for the
// rules the evaluator knows.
func lowerRule(r string) string {
	var buf [32]byte
	if len(r) <= len(buf) {
		b := buf[:len(r)]
		for i := 0; i < len(r); i++ {
			c := r[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if k, ok := ruleKeys[string(b)]; ok { // does not allocate
			return k
		}
	}
	return toLowerASCII(r)
}

func toLowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// equalityRule is the equality rule of a syntax.
func equalityRule(s Syntax) rule {
	switch s {
	case CaseExactString:
		return ruleCaseExact
	case DN:
		return ruleDN
	case Integer:
		return ruleInteger
	case GeneralizedTime:
		return ruleTime
	case OctetString:
		return ruleOctet
	case ObjectClass:
		return ruleObjectClass
	}
	return ruleCaseIgnore
}

// applies reports whether a rule applies to the values of a syntax, for an
// extensible match without an attribute type, which tries every attribute
// the rule applies to. octetStringMatch compares bytes and applies to all.
func (r rule) applies(s Syntax) bool {
	switch r {
	case ruleCaseIgnore, ruleCaseExact, ruleNumeric:
		return s == CaseIgnoreString || s == CaseExactString
	case ruleDN:
		return s == DN
	case ruleInteger, ruleBitAnd, ruleBitOr:
		return s == Integer
	case ruleTime:
		return s == GeneralizedTime
	case ruleObjectClass:
		return s == ObjectClass
	case ruleOctet:
		return true
	}
	return false
}

// state is what Parse decided about an item without looking at any entry.
type state uint8

const (
	stateOK        state = iota
	stateUndefined       // the item is Undefined for every entry
	stateAbsent          // the item names values no entry has (options)
)

// prepared is what Parse computes for evaluating an item.
type prepared struct {
	state state
	rule  rule   // equality or extensible rule; for ordering, the syntax's equality rule
	key   string // the normalised assertion (see Node.Key)
	n     int64  // bit rules: the mask; times: Unix seconds
	ns    int32  // times: nanoseconds
	// sub holds the prepared substring components: the initial (nil if
	// absent), the any components, the final (nil if absent).
	sub [][]byte
}

// prepare fills in n.m.
func (p *parser) prepare(n *Node) {
	m := &n.m
	if !ignorableOptions(n.Options) {
		m.state = stateAbsent
	}
	syn := syntaxes[n.Attr]
	switch n.Op {
	case Present:
		return
	case Equal, Approx:
		m.rule = equalityRule(syn)
	case GreaterOrEqual, LessOrEqual:
		if !syn.hasOrdering() {
			m.state = stateUndefined
			return
		}
		m.rule = equalityRule(syn)
	case Substring:
		if !syn.hasSubstrings() {
			m.state = stateUndefined
			return
		}
		m.rule = equalityRule(syn)
		fold := m.rule == ruleCaseIgnore
		sub := n.Substrings
		m.sub = make([][]byte, 0, 2+len(sub.Any))
		m.sub = append(m.sub, p.prepComponent(sub.Initial, fold, false, true))
		for _, a := range sub.Any {
			m.sub = append(m.sub, p.prepComponent(a, fold, true, true))
		}
		m.sub = append(m.sub, p.prepComponent(sub.Final, fold, true, false))
		return
	case Extensible:
		switch {
		case n.Rule == "" && n.Attr == "":
			// Neither type nor rule (RFC 4511 requires one).
			m.state = stateUndefined
			return
		case n.Rule == "":
			m.rule = equalityRule(syn)
		default:
			r, ok := rules[n.Rule]
			if !ok || (r == ruleInChain && n.Attr == "") {
				m.state = stateUndefined
				return
			}
			m.rule = r
		}
	}
	if !p.prepAssertion(m, n.Value) {
		m.state = stateUndefined
	}
}

// prepAssertion normalises the assertion value for m.rule; false when the
// value is not valid for it.
func (p *parser) prepAssertion(m *prepared, v string) bool {
	switch m.rule {
	case ruleCaseIgnore:
		m.key = p.prepString(v, true)
	case ruleCaseExact:
		m.key = p.prepString(v, false)
	case ruleObjectClass:
		var buf [128]byte
		b := prepAppend(buf[:0], v, true, false, false)
		if c, ok := objectClasses[string(b)]; ok {
			m.key = c // interned; an OID resolved to the name
		} else if string(b) == v {
			m.key = v
		} else {
			m.key = string(b)
		}
	case ruleDN, ruleInChain:
		k, ok := NormalizeDN(v)
		if !ok {
			return false
		}
		m.key = k
	case ruleInteger:
		neg, digits, ok := parseInteger(v)
		if !ok {
			return false
		}
		if neg {
			m.key = "-" + digits
		} else {
			m.key = digits
		}
	case ruleTime:
		sec, ns, ok := parseGeneralizedTime(v)
		if !ok {
			return false
		}
		m.key, m.n, m.ns = v, sec, ns
	case ruleNumeric:
		var buf [64]byte
		b := buf[:0]
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == ' ':
			case '0' <= c && c <= '9':
				b = append(b, c)
			default:
				return false
			}
		}
		if len(v) == 0 {
			return false
		}
		m.key = string(b)
	case ruleBitAnd, ruleBitOr:
		x, ok := parseBits(v)
		if !ok {
			return false
		}
		m.key, m.n = v, x
	default: // ruleOctet
		m.key = v
	}
	return true
}

// prepString returns the prepared form of an assertion value, reusing v
// when it is already prepared.
func (p *parser) prepString(v string, fold bool) string {
	var buf [128]byte
	b := prepAppend(buf[:0], v, fold, false, false)
	if string(b) == v {
		return v
	}
	return string(b)
}

func (p *parser) prepComponent(v string, fold, keepLead, keepTrail bool) []byte {
	if v == "" {
		return nil
	}
	return prepAppend(nil, v, fold, keepLead, keepTrail)
}

// prepAppend appends the prepared form of s to dst: RFC 4518 string
// preparation, simplified. White space (unicode.IsSpace) is insignificant:
// runs of it become one space, and leading and trailing runs are dropped
// unless keepLead / keepTrail (substring components keep theirs, collapsed
// to one space, so "(cn=John *)" still needs a space after John). With fold,
// letters are lower-cased (unicode.ToLower). Invalid UTF-8 bytes are kept
// as they are.
func prepAppend(dst []byte, s string, fold, keepLead, keepTrail bool) []byte {
	space, started := false, false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if c == ' ' || ('\t' <= c && c <= '\r') {
				space = true
				continue
			}
			if space && (started || keepLead) {
				dst = append(dst, ' ')
			}
			space, started = false, true
			if fold && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			if space && (started || keepLead) {
				dst = append(dst, ' ')
			}
			space, started = false, true
			dst = append(dst, c)
			i++
			continue
		}
		i += w
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && (started || keepLead) {
			dst = append(dst, ' ')
		}
		space, started = false, true
		if fold {
			r = unicode.ToLower(r)
		}
		dst = utf8.AppendRune(dst, r)
	}
	if space && keepTrail && (started || keepLead) {
		dst = append(dst, ' ')
	}
	return dst
}

// parseInteger parses an RFC 4517 INTEGER: an optional '-' and decimal
// digits, of any length. Leading zeros are accepted and dropped; "-0" is 0.
// It returns the sign and the digits, without allocating.
func parseInteger(s string) (neg bool, digits string, ok bool) {
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" {
		return false, "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false, "", false
		}
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	if s == "0" {
		neg = false
	}
	return neg, s, true
}

// compareIntegers compares two parsed integers: -1, 0 or +1.
func compareIntegers(aNeg bool, a string, bNeg bool, b string) int {
	if aNeg != bNeg {
		if aNeg {
			return -1
		}
		return 1
	}
	c := 0
	switch {
	case len(a) != len(b):
		c = 1
		if len(a) < len(b) {
			c = -1
		}
	case a < b:
		c = -1
	case a > b:
		c = 1
	}
	if aNeg {
		c = -c
	}
	return c
}

// splitKey splits an integer key made by prepAssertion into sign and
// digits.
func splitKey(k string) (bool, string) {
	if k != "" && k[0] == '-' {
		return true, k[1:]
	}
	return false, k
}

// parseBits parses the operand of the bit rules: a decimal integer that
// fits in 64 bits, signed or unsigned (AD's groupType is negative, masks
// may be written as 2147483648). It is used as a two's complement bit
// pattern.
func parseBits(s string) (int64, bool) {
	neg, digits, ok := parseInteger(s)
	if !ok || len(digits) > 20 {
		return 0, false
	}
	var u uint64
	for i := 0; i < len(digits); i++ {
		d := uint64(digits[i] - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	return int64(u), true
}

// parseGeneralizedTime parses an RFC 4517 GeneralizedTime:
// YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|(+|-)HH[MM]); the fraction applies
// to the last unit given. It returns the instant as Unix seconds and
// nanoseconds, without allocating.
func parseGeneralizedTime(s string) (sec int64, nsec int32, ok bool) {
	num := func(i, n int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v := 0
		for j := i; j < i+n; j++ {
			if s[j] < '0' || s[j] > '9' {
				return 0, false
			}
			v = v*10 + int(s[j]-'0')
		}
		return v, true
	}
	isDigit := func(i int) bool { return i < len(s) && '0' <= s[i] && s[i] <= '9' }

	year, ok1 := num(0, 4)
	month, ok2 := num(4, 2)
	day, ok3 := num(6, 2)
	hour, ok4 := num(8, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, 0, false
	}
	minute, second, i := 0, 0, 10
	unit := int64(3600) // seconds in the last unit given, for the fraction
	if isDigit(i) {
		if minute, ok = num(i, 2); !ok {
			return 0, 0, false
		}
		i, unit = i+2, 60
		if isDigit(i) {
			if second, ok = num(i, 2); !ok {
				return 0, 0, false
			}
			i, unit = i+2, 1
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || second > 60 {
		return 0, 0, false
	}
	var fracNs int64
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		i++
		if !isDigit(i) {
			return 0, 0, false
		}
		var n, scale int64 = 0, 1_000_000_000
		for ; isDigit(i); i++ {
			if scale > 1 {
				scale /= 10
				n += int64(s[i]-'0') * scale
			}
		}
		fracNs = n * unit // n is in nanoseconds of one unit
	}
	var offset int64
	switch {
	case i < len(s) && s[i] == 'Z':
		i++
	case i < len(s) && (s[i] == '+' || s[i] == '-'):
		sign := int64(1)
		if s[i] == '-' {
			sign = -1
		}
		oh, okh := num(i+1, 2)
		if !okh || oh > 23 {
			return 0, 0, false
		}
		i += 3
		om := 0
		if isDigit(i) {
			if om, ok = num(i, 2); !ok || om > 59 {
				return 0, 0, false
			}
			i += 2
		}
		offset = sign * int64(oh*3600+om*60)
	default:
		return 0, 0, false
	}
	if i != len(s) {
		return 0, 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	sec = t.Unix() - offset + fracNs/1_000_000_000
	return sec, int32(fracNs % 1_000_000_000), true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func compareTimes(aSec int64, aNs int32, bSec int64, bNs int32) int {
	switch {
	case aSec < bSec || (aSec == bSec && aNs < bNs):
		return -1
	case aSec == bSec && aNs == bNs:
		return 0
	}
	return 1
}
