package filter

import (
	"bytes"
)

// Result is the value of a filter for an entry: RFC 4511 §4.5.1.7 logic
// has three.
type Result int8

const (
	// False: the entry does not match.
	False Result = iota
	// True: the entry matches. Only True entries are returned.
	True
	// Undefined: the server cannot tell (an invalid assertion value, an
	// operation the attribute's syntax lacks, an unknown matching rule).
	// Not(Undefined) is Undefined, so such an item does not turn into True
	// under a Not.
	Undefined
)

func (r Result) String() string {
	switch r {
	case False:
		return "False"
	case True:
		return "True"
	case Undefined:
		return "Undefined"
	}
	return "Result(?)"
}

// Entry is what the evaluator needs of a directory entry.
type Entry interface {
	// DN returns the entry's DN (as served; it need not be normalised).
	DN() string
	// Values returns the values of an attribute by canonical name (see
	// Canonical), nil if the entry does not have it.
	Values(attr string) []string
	// Chain returns, for the in-chain matching rule
	// (1.2.840.113556.1.4.1941), the normalised DNs (see NormalizeDN)
	// reachable from the entry by following attr transitively: for
	// memberof every group through nesting, for member every member
	// through nesting. nil if none or attr has no such meaning.
	Chain(attr string) []string
}

// EqualityMatcher is an optional fast path an Entry may implement. The
// evaluator asks it first for each equality (=, ~= and an extensible match
// with a type and no rule) whose assertion is valid, passing the canonical
// attribute name and the normalised assertion value — Node.Key: NormalizeDN
// for DN attributes, the prepared lower-case string for case-ignore ones.
// When the boolean is true the Result is the answer for that item; when
// false the evaluator compares Values itself. The server answers
// memberOf=<group DN> from its membership index this way, instead of
// producing and comparing every group DN of the user.
type EqualityMatcher interface {
	MatchEqual(attr, value string) (Result, bool)
}

// AttributeRanger is an optional interface for entries that can list their
// attributes. An extensible match without an attribute type
// ("(:caseExactMatch:=x)") tries every attribute the rule applies to; for
// an entry without this interface it can only look at the DN (with :dn:),
// and is otherwise Undefined.
type AttributeRanger interface {
	// RangeAttributes calls fn with the canonical name and the values of
	// each attribute, until fn returns false.
	RangeAttributes(fn func(attr string, values []string) bool)
}

// Eval evaluates the filter against an entry. A Filter not made by Parse
// is Undefined.
func (f *Filter) Eval(e Entry) Result {
	if f == nil || f.root == nil {
		return Undefined
	}
	return f.root.Eval(e)
}

// Matches reports whether the filter is True for the entry (a search
// returns only those).
func (f *Filter) Matches(e Entry) bool { return f.Eval(e) == True }

// Eval evaluates the subtree at n against an entry (a planner evaluates
// what its indexes did not decide). n must come from Parse.
func (n *Node) Eval(e Entry) Result {
	switch n.Op {
	case And:
		r := True
		for _, c := range n.Children {
			switch c.Eval(e) {
			case False:
				return False
			case Undefined:
				r = Undefined
			}
		}
		return r
	case Or:
		r := False
		for _, c := range n.Children {
			switch c.Eval(e) {
			case True:
				return True
			case Undefined:
				r = Undefined
			}
		}
		return r
	case Not:
		switch n.Children[0].Eval(e) {
		case True:
			return False
		case False:
			return True
		}
		return Undefined
	case AbsoluteTrue:
		return True
	case AbsoluteFalse:
		return False
	}
	switch n.m.state {
	case stateUndefined:
		return Undefined
	case stateAbsent:
		return False
	}
	switch n.Op {
	case Present:
		return result(len(e.Values(n.Attr)) > 0)
	case Equal, Approx:
		return n.equal(e)
	case GreaterOrEqual, LessOrEqual:
		for _, v := range e.Values(n.Attr) {
			if c, ok := n.compare(v); ok && (c == 0 || (c > 0) == (n.Op == GreaterOrEqual)) {
				return True
			}
		}
		return False
	case Substring:
		return n.substring(e)
	case Extensible:
		return n.extensible(e)
	}
	return Undefined // a Node not made by Parse
}

func result(b bool) Result {
	if b {
		return True
	}
	return False
}

// equal evaluates an equality item (and ~=, and an extensible match with
// a type and no rule).
func (n *Node) equal(e Entry) Result {
	if em, ok := e.(EqualityMatcher); ok {
		if r, ok := em.MatchEqual(n.Attr, n.m.key); ok {
			return r
		}
	}
	for _, v := range e.Values(n.Attr) {
		if n.m.match(v) {
			return True
		}
	}
	return False
}

// match reports whether a value matches the assertion under m.rule. A
// value invalid for the rule (a stored "abc" under integerMatch) does not.
func (m *prepared) match(v string) bool {
	var buf [128]byte
	switch m.rule {
	case ruleCaseIgnore:
		return string(prepAppend(buf[:0], v, true, false, false)) == m.key
	case ruleCaseExact:
		return string(prepAppend(buf[:0], v, false, false, false)) == m.key
	case ruleObjectClass:
		b := prepAppend(buf[:0], v, true, false, false)
		if string(b) == m.key {
			return true
		}
		if len(b) > 0 && isDigit(b[0]) {
			c, ok := objectClasses[string(b)]
			return ok && c == m.key
		}
		return false
	case ruleDN, ruleInChain:
		return dnEqual(v, m.key)
	case ruleInteger:
		neg, digits, ok := parseInteger(v)
		kneg, kdigits := splitKey(m.key)
		return ok && neg == kneg && digits == kdigits
	case ruleTime:
		sec, ns, ok := parseGeneralizedTime(v)
		return ok && sec == m.n && ns == m.ns
	case ruleNumeric:
		j := 0
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == ' ':
			case j < len(m.key) && c == m.key[j]:
				j++
			default:
				return false
			}
		}
		return j == len(m.key)
	case ruleBitAnd:
		x, ok := parseBits(v)
		return ok && x&m.n == m.n
	case ruleBitOr:
		x, ok := parseBits(v)
		return ok && x&m.n != 0
	case ruleOctet:
		return v == m.key
	}
	return false
}

// compare orders a value against the assertion of an ordering item: -1, 0
// or +1, and false if the value is invalid for the syntax.
func (n *Node) compare(v string) (int, bool) {
	m := &n.m
	var buf [128]byte
	switch m.rule {
	case ruleCaseIgnore, ruleCaseExact:
		b := prepAppend(buf[:0], v, m.rule == ruleCaseIgnore, false, false)
		switch {
		case string(b) < m.key:
			return -1, true
		case string(b) > m.key:
			return 1, true
		}
		return 0, true
	case ruleInteger:
		neg, digits, ok := parseInteger(v)
		if !ok {
			return 0, false
		}
		kneg, kdigits := splitKey(m.key)
		return compareIntegers(neg, digits, kneg, kdigits), true
	case ruleTime:
		sec, ns, ok := parseGeneralizedTime(v)
		if !ok {
			return 0, false
		}
		return compareTimes(sec, ns, m.n, m.ns), true
	}
	return 0, false
}

// substring evaluates a substrings item.
func (n *Node) substring(e Entry) Result {
	fold := n.m.rule == ruleCaseIgnore
	sub := n.m.sub
	var buf [128]byte
	for _, v := range e.Values(n.Attr) {
		b := prepAppend(buf[:0], v, fold, false, false)
		if matchSubstrings(b, sub) {
			return True
		}
	}
	return False
}

// matchSubstrings matches a prepared value against prepared components:
// the initial, the any components in order, the final (nil if absent).
func matchSubstrings(v []byte, sub [][]byte) bool {
	initial, final := sub[0], sub[len(sub)-1]
	if !bytes.HasPrefix(v, initial) {
		return false
	}
	v = v[len(initial):]
	for _, a := range sub[1 : len(sub)-1] {
		i := bytes.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return bytes.HasSuffix(v, final)
}

// extensible evaluates an extensible match (RFC 4511 §4.5.1.7.7).
func (n *Node) extensible(e Entry) Result {
	m := &n.m
	if m.rule == ruleInChain {
		// The assertion DN against everything reachable through Attr;
		// :dn: has no meaning here and is ignored, as AD does.
		for _, d := range e.Chain(n.Attr) {
			if d == m.key {
				return True
			}
		}
		return False
	}
	r := False
	switch {
	case n.Attr != "" && n.Rule == "":
		r = n.equal(e)
	case n.Attr != "":
		for _, v := range e.Values(n.Attr) {
			if m.match(v) {
				return True
			}
		}
	default:
		// No type: every attribute the rule applies to.
		ar, ok := e.(AttributeRanger)
		if !ok {
			r = Undefined
			break
		}
		r = result(m.matchAnyAttribute(ar))
	}
	if r == True || !n.DNAttrs {
		return r
	}
	// :dn: — also the attribute value assertions of the entry's DN.
	found := false
	rangeAVAs(e.DN(), func(typ, val string) bool {
		if (n.Attr != "" && typ != n.Attr) || (n.Attr == "" && !m.rule.applies(syntaxes[typ])) {
			return true
		}
		found = m.match(val)
		return !found
	})
	if found {
		return True
	}
	return r
}

// matchAnyAttribute reports whether a value of any attribute the rule
// applies to matches. (Apart from extensible so that the closure's
// captures do not move extensible's variables to the heap.)
func (m *prepared) matchAnyAttribute(ar AttributeRanger) bool {
	found := false
	ar.RangeAttributes(func(attr string, values []string) bool {
		if !m.rule.applies(syntaxes[attr]) {
			return true
		}
		for _, v := range values {
			if m.match(v) {
				found = true
				return false
			}
		}
		return true
	})
	return found
}
