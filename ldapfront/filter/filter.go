package filter

import (
	"errors"
	"strconv"
)

// Op is the kind of a filter node.
type Op uint8

// The filter operators. AbsoluteTrue and AbsoluteFalse are the RFC 4526
// filters (&) and (|): an And or Or without children. (They are not called
// True and False because those names belong to Result.)
const (
	And            Op = iota + 1 // (&(a)(b)...) with at least one child
	Or                           // (|(a)(b)...) with at least one child
	Not                          // (!(a))
	Equal                        // (attr=value)
	Substring                    // (attr=ini*any*fin)
	GreaterOrEqual               // (attr>=value)
	LessOrEqual                  // (attr<=value)
	Present                      // (attr=*)
	Approx                       // (attr~=value); evaluated as equality
	Extensible                   // (attr:dn:rule:=value)
	AbsoluteTrue                 // (&)
	AbsoluteFalse                // (|)
)

var opNames = [...]string{
	And: "And", Or: "Or", Not: "Not", Equal: "Equal", Substring: "Substring",
	GreaterOrEqual: "GreaterOrEqual", LessOrEqual: "LessOrEqual", Present: "Present",
	Approx: "Approx", Extensible: "Extensible", AbsoluteTrue: "AbsoluteTrue",
	AbsoluteFalse: "AbsoluteFalse",
}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Node is one node of a parsed filter. Nodes are read-only: Parse fills in
// the exported fields for the query planner together with what evaluation
// needs (normalised assertion values, parsed integers and times), and a
// node changed afterwards would evaluate inconsistently.
type Node struct {
	Op Op
	// Children of And and Or (at least one), and the one child of Not.
	Children []*Node

	// Attr is the canonical attribute type of an item: lower-case, options
	// stripped, aliases and OIDs resolved (see Canonical). Empty for an
	// extensible match without a type.
	Attr string
	// Options are the attribute options, lower-cased ("cn;lang-de" has
	// ["lang-de"]). Entries hold no subtyped values, so an item with any
	// option other than "binary" never matches: it is False (or Undefined
	// if it would be Undefined anyway). A planner must not answer such an
	// item from an index of Attr.
	Options []string
	// Value is the unescaped assertion value of Equal, GreaterOrEqual,
	// LessOrEqual, Approx and Extensible.
	Value string
	// Substrings holds the unescaped components of a Substring item.
	Substrings *Substrings
	// Rule is the matching rule of an Extensible item as sent (an OID or a
	// name), lower-cased; empty when absent.
	Rule string
	// DNAttrs is the ":dn" flag of an Extensible item: the match is also
	// tried against the attribute values in the entry's DN.
	DNAttrs bool

	next    *Node    // the next sibling, while Parse reads a set
	desc    string   // the attribute description as sent, for String
	rawRule string   // the matching rule as sent, for String
	m       prepared // what evaluation needs, computed by Parse
}

// Substrings are the components of a substring assertion
// (initial*any*...*final). Empty Initial or Final means absent; Any never
// holds empty strings. All three may be empty: (cn=**) has no components
// and matches any value of a string attribute.
type Substrings struct {
	Initial string
	Any     []string
	Final   string
}

// Filter is a parsed search filter. It is immutable, and safe for
// concurrent use by any number of goroutines.
type Filter struct {
	root *Node
}

// Root returns the root of the filter's tree.
func (f *Filter) Root() *Node { return f.root }

// String returns the filter in RFC 4515 form: values re-escaped the way
// go-ldap's EscapeFilter does (the bytes ( ) * \ NUL and every byte >= 0x80
// as \xx), redundant parentheses removed, attribute descriptions and
// matching rules as the client sent them. It compiles with
// goldap.CompileFilter to the same BER as the string Parse was given.
func (f *Filter) String() string { return f.root.String() }

// String returns the node and its subtree in RFC 4515 form, as
// (*Filter).String does.
func (n *Node) String() string {
	return string(n.appendString(make([]byte, 0, 64)))
}

func (n *Node) appendString(b []byte) []byte {
	b = append(b, '(')
	switch n.Op {
	case And, Or, Not:
		b = append(b, "&|!"[n.Op-And])
		for _, c := range n.Children {
			b = c.appendString(b)
		}
	case AbsoluteTrue:
		b = append(b, '&')
	case AbsoluteFalse:
		b = append(b, '|')
	case Equal, GreaterOrEqual, LessOrEqual, Approx:
		b = n.appendDesc(b)
		switch n.Op {
		case Equal:
			b = append(b, '=')
		case GreaterOrEqual:
			b = append(b, ">="...)
		case LessOrEqual:
			b = append(b, "<="...)
		case Approx:
			b = append(b, "~="...)
		}
		b = appendEscaped(b, n.Value)
	case Present:
		b = n.appendDesc(b)
		b = append(b, "=*"...)
	case Substring:
		b = n.appendDesc(b)
		b = append(b, '=')
		s := n.Substrings
		if s == nil {
			s = &Substrings{}
		}
		b = appendEscaped(b, s.Initial)
		b = append(b, '*')
		for _, a := range s.Any {
			b = appendEscaped(b, a)
			b = append(b, '*')
		}
		if s.Final != "" {
			b = appendEscaped(b, s.Final)
		} else if s.Initial == "" && len(s.Any) == 0 {
			// No components at all: "**", since "*" alone is presence.
			b = append(b, '*')
		}
	case Extensible:
		b = n.appendDesc(b)
		if n.DNAttrs {
			b = append(b, ":dn"...)
		}
		rule := n.rawRule
		if rule == "" {
			rule = n.Rule
		}
		if !n.DNAttrs && rule == "dn" && n.Value == "" {
			// From "(cn:dn)": go-ldap takes "dn" for a rule when no ":="
			// follows, but reads "(cn:dn:=)" as the :dn flag.
			return append(b, ":dn)"...)
		}
		if rule != "" {
			b = append(b, ':')
			b = append(b, rule...)
		}
		b = append(b, ":="...)
		b = appendEscaped(b, n.Value)
	}
	return append(b, ')')
}

// appendDesc appends the attribute description as sent; for a node not made
// by Parse, the canonical type and its options.
func (n *Node) appendDesc(b []byte) []byte {
	if n.desc != "" || n.Attr == "" {
		return append(b, n.desc...)
	}
	b = append(b, n.Attr...)
	for _, o := range n.Options {
		b = append(b, ';')
		b = append(b, o...)
	}
	return b
}

// appendEscaped appends v escaped as RFC 4515 and go-ldap's EscapeFilter
// do: ( ) * \ NUL and bytes >= 0x80 as \xx.
func appendEscaped(b []byte, v string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '(' || c == ')' || c == '*' || c == '\\' || c == 0 || c >= 0x80:
			b = append(b, '\\', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// Key returns the assertion value normalised for the matching rule the
// item uses — NormalizeDN for DN syntax and the in-chain rule; the
// prepared string (spaces trimmed and collapsed, lower-cased) for
// case-ignore strings and object classes (OIDs of known classes replaced by
// their names); the canonical decimal for integers; otherwise the value as
// sent — which is what an index keyed by normalised values holds. The
// boolean is false when the item has no such key (And, Or, Not, Present,
// Substring, the absolute filters) or when the item never matches by its
// key: it is Undefined (invalid assertion, unsupported operation, unknown
// rule) or has attribute options. The evaluator passes the same key to
// EqualityMatcher.
func (n *Node) Key() (string, bool) {
	switch n.Op {
	case Equal, Approx, GreaterOrEqual, LessOrEqual, Extensible:
		return n.m.key, n.m.state == stateOK
	}
	return "", false
}

// Limits bound what Parse accepts. Zero or negative fields take the
// defaults.
type Limits struct {
	// MaxLength is the longest filter string, in bytes.
	MaxLength int
	// MaxDepth bounds nesting: every And, Or and Not adds a level, and so
	// does every redundant pair of parentheses ("((a=b))"). (a=b) has
	// depth 1, (&(a=b)(!(c=d))) depth 3.
	MaxDepth int
	// MaxNodes bounds the number of nodes of the tree (items, And, Or and
	// Not all count).
	MaxNodes int
}

// The default limits.
const (
	DefaultMaxLength = 64 << 10
	DefaultMaxDepth  = 64
	DefaultMaxNodes  = 1024
)

func (l Limits) withDefaults() Limits {
	if l.MaxLength <= 0 {
		l.MaxLength = DefaultMaxLength
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultMaxNodes
	}
	return l
}

var (
	// ErrSyntax is wrapped by every error for a malformed filter (a
	// *SyntaxError). LDAP answers it with protocolError (2).
	ErrSyntax = errors.New("filter: malformed filter")
	// ErrLimit is wrapped by every error for a filter beyond the Limits
	// (a *LimitError). LDAP answers it with unwillingToPerform (53) or
	// adminLimitExceeded (11).
	ErrLimit = errors.New("filter: filter exceeds a limit")
)

// SyntaxError is a malformed filter: what is wrong, and at which byte
// offset of the filter string.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return "filter: malformed filter at position " + strconv.Itoa(e.Pos) + ": " + e.Msg
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// LimitError is a filter beyond one of the Limits.
type LimitError struct {
	// Limit is the field of Limits that was exceeded: "MaxLength",
	// "MaxDepth" or "MaxNodes".
	Limit string
	// Max is the value of that limit.
	Max int
}

func (e *LimitError) Error() string {
	var what string
	switch e.Limit {
	case "MaxLength":
		what = "is longer than " + strconv.Itoa(e.Max) + " bytes"
	case "MaxDepth":
		what = "is nested deeper than " + strconv.Itoa(e.Max) + " levels"
	case "MaxNodes":
		what = "has more than " + strconv.Itoa(e.Max) + " components"
	default:
		what = "exceeds " + e.Limit + " " + strconv.Itoa(e.Max)
	}
	return "filter: the filter " + what
}

// Unwrap makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Unwrap() error { return ErrLimit }
