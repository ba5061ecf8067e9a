package filter

import (
	"strings"
	"unicode/utf8"
)

// Parse parses a search filter in the RFC 4515 string form gldap hands to a
// search handler (go-ldap's DecompileFilter output) or a client writes by
// hand, and prepares it for evaluation.
//
// It accepts exactly what goldap.CompileFilter accepts, and reads it the
// same way (the differential tests hold it to that), including go-ldap's
// leniencies: redundant parentheses ("((a=b))"), a Not whose operand has
// no parentheses of its own ("(!a=b)", "(!!(a=b))"), characters RFC 4515
// would want escaped, and an extensible match without type, rule or
// ":=" ("(cn:1.2.3)"). Values are unescaped (\xx to the byte); attribute
// descriptions and matching rules are taken as written, never unescaped.
// Invalid UTF-8 and a literal U+FFFD are rejected, as go-ldap does.
//
// A filter beyond lim (zero fields take the defaults) is a *LimitError
// wrapping ErrLimit; a malformed one a *SyntaxError wrapping ErrSyntax.
func Parse(s string, lim Limits) (*Filter, error) {
	lim = lim.withDefaults()
	if len(s) > lim.MaxLength {
		return nil, &LimitError{Limit: "MaxLength", Max: lim.MaxLength}
	}
	if s == "" || s[0] != '(' {
		return nil, &SyntaxError{Pos: 0, Msg: "a filter starts with '('"}
	}
	// Every node starts at a '(' or a '!', so their count bounds the
	// nodes: a usual filter gets all its nodes in one allocation. (Capped,
	// so that parentheses in values or a filter that fails early cost
	// little.)
	bound := min(strings.Count(s, "(")+strings.Count(s, "!"), lim.MaxNodes)
	p := parser{
		s:     s,
		lim:   lim,
		bound: bound,
		nodes: make([]Node, 0, min(bound, 32)),
	}
	root, end, err := p.filter(1, 1)
	if err != nil {
		return nil, err
	}
	if end < len(s) {
		return nil, p.errorf(end, "unexpected text after the end of the filter")
	}
	return &Filter{root: root}, nil
}

// parser holds the state of one Parse. The grammar is go-ldap's
// (filter.go, compileFilter), written again over bytes: filter(pos) reads
// what follows an opening parenthesis, up to and including its closing
// parenthesis.
type parser struct {
	s     string
	lim   Limits
	bound int     // at most this many nodes (see Parse)
	count int     // nodes so far
	nodes []Node  // where the next nodes go
	ptrs  []*Node // where the next Children slices go
}

func (p *parser) errorf(pos int, msg string) error {
	return &SyntaxError{Pos: pos, Msg: msg}
}

func (p *parser) node(op Op) (*Node, error) {
	if p.count >= p.lim.MaxNodes {
		return nil, &LimitError{Limit: "MaxNodes", Max: p.lim.MaxNodes}
	}
	if len(p.nodes) == cap(p.nodes) {
		// A new chunk; nodes already handed out stay where they are.
		p.nodes = make([]Node, 0, max(1, min(2*cap(p.nodes), p.bound-p.count)))
	}
	p.count++
	p.nodes = p.nodes[:len(p.nodes)+1]
	n := &p.nodes[len(p.nodes)-1]
	n.Op = op
	return n, nil
}

// children returns a Children slice holding the k nodes of the list that
// starts at first (linked through next while the set was read).
func (p *parser) children(first *Node, k int) []*Node {
	if len(p.ptrs)+k > cap(p.ptrs) {
		p.ptrs = make([]*Node, 0, max(k, min(p.bound, 2*cap(p.ptrs)+8)))
	}
	start := len(p.ptrs)
	for c := first; c != nil; c = c.next {
		p.ptrs = append(p.ptrs, c)
	}
	return p.ptrs[start:len(p.ptrs):len(p.ptrs)]
}

// filter reads a filter whose opening parenthesis is just before pos, and
// returns it with the position after its closing parenthesis.
func (p *parser) filter(pos, depth int) (*Node, int, error) {
	if depth > p.lim.MaxDepth {
		return nil, 0, &LimitError{Limit: "MaxDepth", Max: p.lim.MaxDepth}
	}
	s := p.s
	if pos >= len(s) {
		return nil, 0, p.errorf(pos, "unexpected end of filter")
	}
	switch s[pos] {
	case '(':
		// Redundant parentheses: "((a=b))" is (a=b).
		n, end, err := p.filter(pos+1, depth+1)
		if err != nil {
			return nil, 0, err
		}
		return p.close(n, end)
	case '&', '|':
		op := And
		if s[pos] == '|' {
			op = Or
		}
		n, err := p.node(op)
		if err != nil {
			return nil, 0, err
		}
		var first, last *Node
		k := 0
		pos++
		for pos < len(s) && s[pos] == '(' {
			var c *Node
			c, pos, err = p.filter(pos+1, depth+1)
			if err != nil {
				return nil, 0, err
			}
			if last == nil {
				first = c
			} else {
				last.next = c
			}
			last, k = c, k+1
		}
		if pos >= len(s) {
			return nil, 0, p.errorf(pos, "unexpected end of filter")
		}
		if s[pos] != ')' {
			return nil, 0, p.errorf(pos, "expected '(' or ')' in a filter set")
		}
		if k == 0 {
			// RFC 4526 absolute true (&) and false (|).
			n.Op += AbsoluteTrue - And
		} else {
			n.Children = p.children(first, k)
		}
		return n, pos + 1, nil
	case '!':
		n, err := p.node(Not)
		if err != nil {
			return nil, 0, err
		}
		// go-ldap reads the operand as a filter whose opening parenthesis
		// is the '!' itself: "(!(a=b))" is the '(' case above, "(!a=b)"
		// an item, "(!!(a=b))" a Not of a Not. Reading "(!(" here, at one
		// level, keeps depth what it looks like.
		var c *Node
		var end int
		if pos+1 < len(s) && s[pos+1] == '(' {
			c, end, err = p.filter(pos+2, depth+1)
			if err == nil {
				c, end, err = p.close(c, end)
			}
		} else {
			c, end, err = p.filter(pos+1, depth+1)
		}
		if err != nil {
			return nil, 0, err
		}
		n.Children = p.children(c, 1)
		return n, end, nil
	}
	return p.item(pos)
}

// close expects the closing parenthesis of a redundant pair at end.
func (p *parser) close(n *Node, end int) (*Node, int, error) {
	if end >= len(p.s) {
		return nil, 0, p.errorf(end, "unexpected end of filter")
	}
	if p.s[end] != ')' {
		return nil, 0, p.errorf(end, "expected ')'")
	}
	return n, end + 1, nil
}

// checkUTF8 returns the position of the first invalid UTF-8 sequence or
// literal U+FFFD in s[from:to] (go-ldap rejects both), or -1.
func checkUTF8(s string, from, to int) int {
	for i := from; i < to; {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:to])
		if r == utf8.RuneError {
			return i
		}
		i += w
	}
	return -1
}

// item reads a filter item (attribute, operator, value) starting at start,
// up to and including its closing parenthesis.
func (p *parser) item(start int) (*Node, int, error) {
	s := p.s
	var (
		op          Op
		dn          bool
		readingRule bool
		attrEnd     int
		i           = start
	)
	// The attribute description, up to the operator. As in go-ldap, it may
	// hold any character but ')' and the operators; '>', '<' and '~' not
	// followed by '=' are part of it.
	for op == 0 {
		if i >= len(s) {
			return nil, 0, p.errorf(i, "unexpected end of filter")
		}
		switch c := s[i]; c {
		case ')':
			return nil, 0, p.errorf(i, "filter item without an operator (=, >=, <=, ~=, :=)")
		case '=':
			op, attrEnd, i = Equal, i, i+1
		case '>', '<', '~':
			if i+1 < len(s) && s[i+1] == '=' {
				op, attrEnd = Approx, i
				if c == '>' {
					op = GreaterOrEqual
				} else if c == '<' {
					op = LessOrEqual
				}
				i += 2
			} else {
				i++
			}
		case ':':
			op, attrEnd = Extensible, i
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, ":dn:="):
				dn, i = true, i+5
			case strings.HasPrefix(rest, ":dn:"):
				dn, readingRule, i = true, true, i+4
			case strings.HasPrefix(rest, ":="):
				i += 2
			default:
				readingRule, i = true, i+1
			}
		default:
			if c < utf8.RuneSelf {
				i++
				break
			}
			r, w := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError {
				return nil, 0, p.errorf(i, "invalid UTF-8 or U+FFFD in filter")
			}
			i += w
		}
	}
	// The matching rule of an extensible match: up to ":=", or up to ')'
	// (go-ldap then takes an empty value).
	ruleStart, ruleEnd := -1, -1
	if readingRule {
		ruleStart = i
		for i < len(s) && s[i] != ')' && !(s[i] == ':' && i+1 < len(s) && s[i+1] == '=') {
			i++
		}
		if i >= len(s) {
			return nil, 0, p.errorf(i, "unexpected end of filter")
		}
		ruleEnd = i
		if bad := checkUTF8(s, ruleStart, ruleEnd); bad >= 0 {
			return nil, 0, p.errorf(bad, "invalid UTF-8 or U+FFFD in filter")
		}
		if s[i] == ':' {
			i += 2
		}
	}
	// The value: everything up to the next ')'.
	valStart := i
	end := strings.IndexByte(s[i:], ')')
	if end < 0 {
		return nil, 0, p.errorf(len(s), "unexpected end of filter")
	}
	end += i
	if bad := checkUTF8(s, valStart, end); bad >= 0 {
		return nil, 0, p.errorf(bad, "invalid UTF-8 or U+FFFD in filter")
	}

	n, err := p.node(op)
	if err != nil {
		return nil, 0, err
	}
	n.desc = s[start:attrEnd]
	typ, opts := splitOptions(n.desc)
	n.Attr, n.Options = Canonical(typ), opts
	raw := s[valStart:end]
	switch {
	case op == Extensible:
		n.DNAttrs = dn
		if ruleStart >= 0 {
			n.rawRule = s[ruleStart:ruleEnd]
			n.Rule = lowerRule(n.rawRule)
		}
		n.Value, err = p.unescape(raw, valStart)
	case op == Equal && raw == "*":
		n.Op = Present
	case op == Equal && strings.IndexByte(raw, '*') >= 0:
		n.Op = Substring
		n.Substrings, err = p.substrings(raw, valStart)
	default:
		n.Value, err = p.unescape(raw, valStart)
	}
	if err != nil {
		return nil, 0, err
	}
	p.prepare(n)
	return n, end + 1, nil
}

// substrings splits a raw substring assertion at its unescaped '*'s the way
// go-ldap does: empty parts are dropped, the first part is the initial and
// the last the final component.
func (p *parser) substrings(raw string, at int) (*Substrings, error) {
	sub := &Substrings{}
	parts := strings.Count(raw, "*") + 1
	for i := 0; i < parts; i++ {
		j := strings.IndexByte(raw, '*')
		part := raw
		if j >= 0 {
			part, raw = raw[:j], raw[j+1:]
		}
		if part != "" {
			v, err := p.unescape(part, at)
			if err != nil {
				return nil, err
			}
			switch i {
			case 0:
				sub.Initial = v
			case parts - 1:
				sub.Final = v
			default:
				sub.Any = append(sub.Any, v)
			}
		}
		at += len(part) + 1
	}
	return sub, nil
}

// unescape decodes the \xx escapes of a value read at position at. It
// allocates only when there are escapes.
func (p *parser) unescape(raw string, at int) (string, error) {
	i := strings.IndexByte(raw, '\\')
	if i < 0 {
		return raw, nil
	}
	var buf [128]byte
	b := append(buf[:0], raw[:i]...)
	for ; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(raw) {
			return "", p.errorf(at+i, "a '\\' in a value needs two hex digits after it")
		}
		hi, ok1 := unhex(raw[i+1])
		lo, ok2 := unhex(raw[i+2])
		if !ok1 || !ok2 {
			return "", p.errorf(at+i, "a '\\' in a value needs two hex digits after it")
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
