package restriction

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseCQL reads the restriction parameter of GET /search, in the Crowd
// Query Language (Crowd's Cql.g and CqlEval.g):
//
//	expr    := and (OR and)*
//	and     := primary (AND primary)*
//	primary := '(' expr ')' | term op term
//	op      := '=' | '<' | '>'
//
// AND and OR are case-insensitive keywords where an operator is expected
// (elsewhere they are plain terms: `name = or` is allowed). A term is bare
// (it ends at white space, a quote or any of = ! < > ( ) , [ ] | &) or in
// double or single quotes; both forms take the escapes \t \n \r \" \' \\
// \<space> and \uXXXX. (Crowd only strips the quotes and keeps escapes
// verbatim; a client escaping a quote means the quote.)
//
// The first term names the property (see Canonical); its type is that of
// the built-in property of that name, TypeString for anything else (a
// custom attribute). On strings '=' reads wildcards as Crowd does: *x* is
// CONTAINS, x* STARTS_WITH, anything else EXACTLY_MATCHES, and leading and
// trailing '*' are then removed from the value (so *x is EXACTLY_MATCHES
// x). '<' and '>' are LESS_THAN and GREATER_THAN. BOOLEAN values must be
// true or false (Crowd reads anything else as false), DATE values ParseDate
// forms.
//
// A blank string is Null. Errors, which wrap ErrInvalid and give the
// 1-based byte position, include: != <= >= == (CQL has only = < >), a
// missing operand, unbalanced parentheses, an unterminated quote, a bad
// escape, control characters, invalid UTF-8, more than MaxCQLLength bytes,
// parentheses or restrictions nested deeper than MaxDepth, and more than
// MaxRestrictions restrictions.
func ParseCQL(s string) (Restriction, error) {
	if len(s) > MaxCQLLength {
		return nil, &Error{Syntax: "cql", Msg: "restriction longer than " + strconv.Itoa(MaxCQLLength) + " bytes"}
	}
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return nil, &Error{Syntax: "cql", Pos: i + 1, Msg: "invalid UTF-8"}
	}
	if strings.Trim(s, " \t\r\n") == "" { // the lexer's white space
		return Null{}, nil
	}
	p := &cqlParser{s: s}
	if err := p.next(); err != nil {
		return nil, err
	}
	r, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tEOF:
	case tRParen:
		return nil, p.errorf(p.tok.pos, "unbalanced ')': no matching '('")
	default:
		return nil, p.errorf(p.tok.pos, "expected AND, OR or the end, found %s", p.tok.describe())
	}
	if depth, _ := Stats(r); depth > MaxDepth {
		return nil, &Error{Syntax: "cql", Msg: "restrictions nested deeper than " + strconv.Itoa(MaxDepth)}
	}
	return r, nil
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tEq
	tLT
	tGT
	tTerm
)

type token struct {
	kind tokKind
	pos  int    // byte offset in the input
	text string // a term's value: quotes removed, escapes applied
	bare bool   // an unquoted term without escapes (a keyword candidate)
	raw  string // the input the token was read from, for messages
}

func (t token) describe() string {
	if t.kind == tEOF {
		return "the end"
	}
	return quote(t.raw)
}

// keyword reports whether the token is the bare word kw, in any case.
func (t token) keyword(kw string) bool {
	return t.kind == tTerm && t.bare && strings.EqualFold(t.text, kw)
}

type cqlParser struct {
	s     string
	i     int // next byte to read
	tok   token
	count int
}

func (p *cqlParser) errorf(pos int, format string, args ...any) error {
	return &Error{Syntax: "cql", Pos: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *cqlParser) add(pos int) error {
	p.count++
	if p.count > MaxRestrictions {
		return p.errorf(pos, "more than %d restrictions", MaxRestrictions)
	}
	return nil
}

func (p *cqlParser) expr(depth int) (Restriction, error) {
	return p.list(depth, "OR", Or, p.and)
}

func (p *cqlParser) and(depth int) (Restriction, error) {
	return p.list(depth, "AND", And, p.primary)
}

// list reads item (kw item)* and makes a Boolean of them if there are
// several.
func (p *cqlParser) list(depth int, kw string, logic Logic, item func(int) (Restriction, error)) (Restriction, error) {
	pos := p.tok.pos
	first, err := item(depth)
	if err != nil || !p.tok.keyword(kw) {
		return first, err
	}
	items := []Restriction{first}
	for p.tok.keyword(kw) {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := item(depth)
		if err != nil {
			return nil, err
		}
		items = append(items, r)
	}
	if err := p.add(pos); err != nil {
		return nil, err
	}
	return Boolean{Logic: logic, Restrictions: items}, nil
}

func (p *cqlParser) primary(depth int) (Restriction, error) {
	switch p.tok.kind {
	case tLParen:
		open := p.tok.pos
		if depth >= MaxDepth {
			return nil, p.errorf(open, "parentheses nested deeper than %d", MaxDepth)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		switch p.tok.kind {
		case tRParen:
			return r, p.next()
		case tEOF:
			return nil, p.errorf(open, "unbalanced '(': no matching ')'")
		}
		return nil, p.errorf(p.tok.pos, "expected ')', AND or OR, found %s", p.tok.describe())
	case tTerm:
		key := p.tok
		if err := p.next(); err != nil {
			return nil, err
		}
		op := p.tok
		if op.kind != tEq && op.kind != tLT && op.kind != tGT {
			return nil, p.errorf(op.pos, "expected =, < or > after %s, found %s", quote(key.text), op.describe())
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		val := p.tok
		if val.kind != tTerm {
			return nil, p.errorf(val.pos, "expected a value after %s, found %s", quote(key.text+" "+op.raw), val.describe())
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		if err := p.add(key.pos); err != nil {
			return nil, err
		}
		return p.property(key, op, val)
	case tEOF:
		return nil, p.errorf(p.tok.pos, "expected a restriction, found the end")
	}
	return nil, p.errorf(p.tok.pos, "expected a property name or '(', found %s", p.tok.describe())
}

func (p *cqlParser) property(key, op, val token) (Restriction, error) {
	name := Canonical(strings.TrimSpace(key.text))
	if name == "" {
		return nil, p.errorf(key.pos, "empty property name")
	}
	typ := inferType(name)
	value := val.text
	var mode MatchMode
	switch op.kind {
	case tLT:
		mode = LessThan
	case tGT:
		mode = GreaterThan
	default:
		mode = ExactlyMatches
		// CqlEval.getMatchMode: only a non-blank value has wildcards.
		if typ == TypeString && strings.TrimSpace(value) != "" {
			first, last := value[0], value[len(value)-1]
			switch {
			case first == '*' && last == '*':
				mode = Contains
			case last == '*':
				mode = StartsWith
			}
		}
	}
	if typ == TypeString {
		value = strings.Trim(value, "*")
	}
	prop, msg := newProperty(name, typ, mode, value)
	if msg != "" {
		return nil, p.errorf(val.pos, "%s", msg)
	}
	return prop, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isControl is Cql.g's CONTROLCHARS without white space: C0 and C1
// controls, DEL and the Unicode non-characters U+FDD0–U+FDEF, U+FFFE and
// U+FFFF.
func isControl(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\r' ||
		0x7f <= r && r <= 0x9f ||
		0xfdd0 <= r && r <= 0xfdef || r == 0xfffe || r == 0xffff
}

// next reads the next token into p.tok.
func (p *cqlParser) next() error {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
	start := p.i
	if start == len(p.s) {
		p.tok = token{kind: tEOF, pos: start}
		return nil
	}
	c := p.s[start]
	var peek byte
	if start+1 < len(p.s) {
		peek = p.s[start+1]
	}
	single := func(k tokKind) error {
		p.i++
		p.tok = token{kind: k, pos: start, raw: p.s[start:p.i]}
		return nil
	}
	unsupported := func(op string) error {
		return p.errorf(start, "operator %q is not supported: CQL has only =, < and >", op)
	}
	switch c {
	case '(':
		return single(tLParen)
	case ')':
		return single(tRParen)
	case '=':
		if peek == '=' {
			return unsupported("==")
		}
		return single(tEq)
	case '<':
		if peek == '=' || peek == '>' {
			return unsupported(string([]byte{c, peek}))
		}
		return single(tLT)
	case '>':
		if peek == '=' {
			return unsupported(">=")
		}
		return single(tGT)
	case '!':
		if peek == '=' {
			return unsupported("!=")
		}
		return p.errorf(start, "unexpected '!': CQL has no negation")
	case '&', '|':
		return p.errorf(start, "unexpected %q: use AND and OR", c)
	case ',', '[', ']':
		return p.errorf(start, "unexpected %q", c)
	case '"', '\'':
		return p.quoted(c)
	}
	return p.bare()
}

// isStop reports whether c ends a bare term: Cql.g's STRINGSTOP and white
// space.
func isStop(c byte) bool {
	switch c {
	case '"', '\'', '=', '!', '<', '>', '(', ')', ',', '[', ']', '|', '&':
		return true
	}
	return isSpace(c)
}

func (p *cqlParser) bare() error {
	start := p.i
	var b strings.Builder
	escaped := false
	for p.i < len(p.s) && !isStop(p.s[p.i]) {
		r, n := utf8.DecodeRuneInString(p.s[p.i:])
		if isControl(r) {
			return p.errorf(p.i, "control character %U is not allowed", r)
		}
		if r == '\\' {
			er, err := p.escape()
			if err != nil {
				return err
			}
			b.WriteRune(er)
			escaped = true
			continue
		}
		b.WriteString(p.s[p.i : p.i+n])
		p.i += n
	}
	p.tok = token{kind: tTerm, pos: start, text: b.String(), bare: !escaped, raw: p.s[start:p.i]}
	return nil
}

func (p *cqlParser) quoted(q byte) error {
	start := p.i
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return p.errorf(start, "unterminated quoted string")
		}
		r, n := utf8.DecodeRuneInString(p.s[p.i:])
		switch {
		case r == rune(q):
			p.i++
			p.tok = token{kind: tTerm, pos: start, text: b.String(), raw: p.s[start:p.i]}
			return nil
		case r == '\\':
			er, err := p.escape()
			if err != nil {
				return err
			}
			b.WriteRune(er)
		case isControl(r):
			return p.errorf(p.i, "control character %U is not allowed", r)
		default:
			b.WriteString(p.s[p.i : p.i+n])
			p.i += n
		}
	}
}

// escape reads the escape sequence at p.i (a backslash) and returns the
// character it stands for.
func (p *cqlParser) escape() (rune, error) {
	start := p.i
	if p.i+1 >= len(p.s) {
		return 0, p.errorf(start, "backslash at the end")
	}
	c := p.s[p.i+1]
	p.i += 2
	switch c {
	case 't':
		return '\t', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case '"', '\'', '\\', ' ':
		return rune(c), nil
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return 0, p.errorf(start, "invalid escape: want \\u and four hex digits")
		}
		if utf16.IsSurrogate(r) {
			// A pair like \ud83d\ude00 is one character.
			if p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
				save := p.i
				p.i += 2
				if lo, ok := p.hex4(); ok {
					if dr := utf16.DecodeRune(r, lo); dr != utf8.RuneError {
						return dr, nil
					}
				}
				p.i = save
			}
			return 0, p.errorf(start, "invalid escape: unpaired surrogate")
		}
		if isControl(r) {
			return 0, p.errorf(start, "control character %U is not allowed", r)
		}
		return r, nil
	}
	r, _ := utf8.DecodeRuneInString(p.s[start+1:])
	p.i = start + 1 + utf8.RuneLen(r)
	return 0, p.errorf(start, "invalid escape %s", quote(`\`+string(r)))
}

func (p *cqlParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 16)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}
