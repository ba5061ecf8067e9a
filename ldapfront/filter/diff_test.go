package filter

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// The differential tests hold Parse to goldap.CompileFilter: the same
// strings accepted, the same tree read from them, and String() compiling
// to the same BER.

// noLimits keeps the limits out of the comparison.
var noLimits = Limits{MaxLength: 1 << 30, MaxDepth: 1 << 20, MaxNodes: 1 << 30}

// trickyFilters are hand-picked cases around go-ldap's grammar.
var trickyFilters = []string{
	"", "(", ")", "()", "(())", "((cn=a))", "(((cn=a)))", "((cn=a)", "(cn=a))", "(cn=a)(cn=b)", "cn=a",
	"(cn=a", "(cn=a)x", "(cn=a) ", " (cn=a)",
	"(&)", "(|)", "(!)", "(&", "(|(", "(&(cn=a)", "(&(cn=a))", "(&(cn=a)(cn=b))", "(&((cn=a))(cn=b))",
	"(&(cn=a)x)", "(& (cn=a))", "(&(cn=a) )", "(|(&)(|))", "(!(&))", "(!(|))",
	"(!(cn=a))", "(!cn=a)", "(!!(cn=a))", "(!!cn=a)", "(!(cn=a)(cn=b))", "(!((cn=a)))", "(!&(cn=a))",
	"(!|(cn=a)(cn=b))", "(!(cn=a)", "(!", "(!!)", "(&!(cn=a))",
	"(cn=*)", "(cn=**)", "(cn=***)", "(cn=a*)", "(cn=*a)", "(cn=*a*)", "(cn=a*b)", "(cn=a*b*c*d)",
	"(cn=*a*b*)", "(cn=a**b)", "(cn=\\2a)", "(cn=a\\2a*)", "(cn=\\2a*\\2a)", "(cn=a\\*b)", "(cn=a*\\)",
	"(cn=)", "(=a)", "(=)", "(=*)", "(cn>=a)", "(cn<=a)", "(cn~=a)", "(cn>a)", "(cn<a)", "(cn~a)",
	"(cn>=)", "(cn~=*)", "(cn>=a*b)", "(a>b=c)", "(a<b>=c)", "(a~b~=c)", "(cn=a=b)", "(cn==)",
	"(cn:=a)", "(cn:dn:=a)", "(cn:dn:2.5.13.2:=a)", "(cn:2.5.13.5:=a)", "(:dn:2.5.13.5:=x)",
	"(:2.5.13.5:=x)", "(:=x)", "(:dn:=x)", "(:)", "(cn:)", "(cn:1.2.3)", "(cn:dn:)", "(cn:dn)",
	"(cn:DN:=x)", "(cn:Dn:2.5.13.2:=x)", "(cn::=x)", "(cn:dn::=x)", "(cn:a::=x)", "(cn:a:b:=x)",
	"(cn:dn:dn:=x)", "(cn:dn:dn:x:=v)", "(cn:=a*b)", "(cn:=*)", "(cn:1.2:=a(b)", "(cn:1.2=:=a)",
	"(memberOf:1.2.840.113556.1.4.1941:=cn=g,ou=groups,dc=example,dc=com)",
	"(userAccountControl:1.2.840.113556.1.4.803:=2)", "(cn;lang-de=x)", "(CN;Lang-DE;binary=x)",
	"(2.5.4.3=x)", "(cn=jos\\c3\\a9)", "(cn=jos\\C3\\A9)", "(cn=josé)", "(cné=x)", "(cn=\\00)",
	"(cn=a\x00b)", "(cn=\\0)", "(cn=\\)", "(cn=\\g0)", "(cn=\\0g)", "(cn=\\\\)", "(cn=\\ff)",
	"(cn=\xff)", "(cn=\xc3)", "(cn=\xc3\xa9)", "(\xc3\xa9=x)", "(\xff=x)", "(cn=\xef\xbf\xbd)",
	"(\xef\xbf\xbd=x)", "(cn:\xef\xbf\xbd:=x)", "(cn:\xff:=x)", "(cn=a\xff*b)", "(&\xff)",
	"(\xc3\xa9)", "(cn=a(b)", "(cn=a(b))", "(cn(=a)", "(c*n=a)", "(c\\n=a)", "(c\\2an=a)",
	"(cn= a )", "(cn=\t)", "(&(|(!(cn=a))(sn=b))(uid=c))", "((&(cn=a)))", "(&((&(cn=a))))",
	"(cn=a)\x00", "(\x00=a)", "(&\x00)", "(!\x00)", "(cn:=\\2)", "(cn:dn:1.2:=\\zz)",
	"(objectClass=*)", "(&(objectClass=inetOrgPerson)(uid=alice))",
	"(|(cn=a)(!(cn=b))(&(cn=c)(cn=d)))", "(cn=*\\2a*)", "(cn=**a**)", "(cn=a\\2)", "(cn=\\2a\\)",
}

func TestDifferentialTricky(t *testing.T) {
	for _, s := range trickyFilters {
		checkAgainstGoldap(t, s)
	}
}

func TestDifferentialGenerated(t *testing.T) {
	r := rand.New(rand.NewSource(4515))
	accepted, rejected := 0, 0
	for i := 0; i < 20000; i++ {
		s := genFilter(r, 0)
		for m := r.Intn(3); m > 0; m-- {
			s = mutate(r, s)
		}
		if checkAgainstGoldap(t, s) {
			accepted++
		} else {
			rejected++
		}
	}
	t.Logf("%d accepted, %d rejected by both", accepted, rejected)
	if accepted < 2000 || rejected < 2000 {
		t.Errorf("generator is lopsided: %d accepted, %d rejected", accepted, rejected)
	}
}

// checkAgainstGoldap compares Parse with goldap.CompileFilter on s and
// reports whether both accepted it.
func checkAgainstGoldap(t *testing.T, s string) bool {
	t.Helper()
	f, err := Parse(s, noLimits)
	pkt, gerr := goldap.CompileFilter(s)
	if (err == nil) != (gerr == nil) {
		t.Errorf("%q: Parse error %v, CompileFilter error %v", s, err, gerr)
		return false
	}
	if err != nil {
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: error %v does not wrap ErrSyntax", s, err)
		}
		return false
	}
	if msg := sameTree(f.Root(), pkt); msg != "" {
		t.Errorf("%q: tree differs from go-ldap's: %s", s, msg)
	}
	out := f.String()
	pkt2, err := goldap.CompileFilter(out)
	if err != nil {
		t.Errorf("%q: String() %q does not compile: %v", s, out, err)
		return true
	}
	if !bytes.Equal(pkt.Bytes(), pkt2.Bytes()) {
		d1, _ := goldap.DecompileFilter(pkt)
		d2, _ := goldap.DecompileFilter(pkt2)
		t.Errorf("%q: String() %q compiles to other BER: %q vs %q", s, out, d1, d2)
	}
	f2, err := Parse(out, noLimits)
	if err != nil {
		t.Errorf("%q: String() %q does not parse: %v", s, out, err)
	} else if f2.String() != out {
		t.Errorf("%q: String() %q re-parses to %q", s, out, f2.String())
	}
	return true
}

// sameTree compares our tree with go-ldap's BER, field by field.
func sameTree(n *Node, p *ber.Packet) string {
	data := func(p *ber.Packet) string { return string(p.Data.Bytes()) }
	want := map[Op]ber.Tag{
		And: goldap.FilterAnd, Or: goldap.FilterOr, Not: goldap.FilterNot, Equal: goldap.FilterEqualityMatch,
		Substring: goldap.FilterSubstrings, GreaterOrEqual: goldap.FilterGreaterOrEqual,
		LessOrEqual: goldap.FilterLessOrEqual, Present: goldap.FilterPresent, Approx: goldap.FilterApproxMatch,
		Extensible: goldap.FilterExtensibleMatch, AbsoluteTrue: goldap.FilterAnd, AbsoluteFalse: goldap.FilterOr,
	}[n.Op]
	if p.Tag != want {
		return fmt.Sprintf("op %v, BER tag %d", n.Op, p.Tag)
	}
	switch n.Op {
	case And, Or, Not, AbsoluteTrue, AbsoluteFalse:
		if len(n.Children) != len(p.Children) {
			return fmt.Sprintf("%v has %d children, BER %d", n.Op, len(n.Children), len(p.Children))
		}
		for i := range n.Children {
			if msg := sameTree(n.Children[i], p.Children[i]); msg != "" {
				return msg
			}
		}
	case Equal, GreaterOrEqual, LessOrEqual, Approx:
		if n.desc != data(p.Children[0]) || n.Value != data(p.Children[1]) {
			return fmt.Sprintf("%v %q=%q, BER %q=%q", n.Op, n.desc, n.Value, data(p.Children[0]), data(p.Children[1]))
		}
	case Present:
		if n.desc != data(p) {
			return fmt.Sprintf("present %q, BER %q", n.desc, data(p))
		}
	case Substring:
		var got []string
		if n.Substrings.Initial != "" {
			got = append(got, "i:"+n.Substrings.Initial)
		}
		for _, a := range n.Substrings.Any {
			got = append(got, "a:"+a)
		}
		if n.Substrings.Final != "" {
			got = append(got, "f:"+n.Substrings.Final)
		}
		var bs []string
		for _, c := range p.Children[1].Children {
			bs = append(bs, "iaf"[c.Tag:c.Tag+1]+":"+data(c))
		}
		if n.desc != data(p.Children[0]) || strings.Join(got, "|") != strings.Join(bs, "|") {
			return fmt.Sprintf("substrings %q %q, BER %q %q", n.desc, got, data(p.Children[0]), bs)
		}
	case Extensible:
		var rule, typ, val string
		var dn bool
		for _, c := range p.Children {
			switch c.Tag {
			case 1:
				rule = data(c)
			case 2:
				typ = data(c)
			case 3:
				val = data(c)
			case 4:
				dn = c.Value.(bool)
			}
		}
		if n.rawRule != rule || n.desc != typ || n.Value != val || n.DNAttrs != dn {
			return fmt.Sprintf("extensible %q %q %q %v, BER %q %q %q %v", n.rawRule, n.desc, n.Value, n.DNAttrs, rule, typ, val, dn)
		}
	}
	return ""
}

var (
	genAttrs = []string{"cn", "CN", "uid", "objectClass", "memberOf", "cn;lang-de", "2.5.4.3", "uidNumber",
		"createTimestamp", "a-b", "x", "", "c*n", "c(n", "c\\n", "é", "a b", "!", "&"}
	genRules  = []string{"2.5.13.2", "caseExactMatch", "1.2.840.113556.1.4.1941", "1.2.840.113556.1.4.803", "DN", "dn", "x:y", ""}
	genPieces = []string{"a", "B", " ", "alice", "\\2a", "\\28", "\\29", "\\5c", "\\00", "\\c3\\a9", "\\C3\\A9",
		"é", "\\", "\\2", "\\zz", "(", "=", ":", ":=", "~", ">", "<", "!", "&", "|", "\x00", "\xff", "\xef\xbf\xbd",
		"cn=g,ou=groups,dc=example,dc=com", "42", "-7", "20240101000000Z"}
	genOps      = []string{"=", ">=", "<=", "~=", ":=", ":dn:=", "=*", "sub", "ext"}
	mutAlphabet = []string{"(", ")", "&", "|", "!", "=", "*", "\\", ":", "~", "<", ">", "dn", ":dn:", ":=", "a",
		" ", "\x00", "\x80", "\xc3", "\xc3\xa9", "\xef\xbf\xbd", "\\2", "\\2a", "\\g"}
)

func pick(r *rand.Rand, l []string) string { return l[r.Intn(len(l))] }

func genValue(r *rand.Rand) string {
	var b strings.Builder
	for k := r.Intn(4); k > 0; k-- {
		b.WriteString(pick(r, genPieces))
	}
	return b.String()
}

func genFilter(r *rand.Rand, depth int) string {
	if depth < 4 && r.Intn(3) == 0 {
		var b strings.Builder
		switch r.Intn(5) {
		case 0, 1:
			b.WriteString("(" + "&|"[r.Intn(2):][:1])
			for k := r.Intn(4); k > 0; k-- {
				b.WriteString(genFilter(r, depth+1))
			}
			b.WriteString(")")
		case 2:
			b.WriteString("(!" + genFilter(r, depth+1) + ")")
		case 3:
			b.WriteString("(" + genFilter(r, depth+1) + ")")
		case 4:
			inner := genFilter(r, depth+1)
			b.WriteString("(!" + inner[1:]) // go-ldap's "(!a=b)"
		}
		return b.String()
	}
	attr := pick(r, genAttrs)
	switch op := pick(r, genOps); op {
	case "sub":
		var b strings.Builder
		for k := r.Intn(5) + 1; k > 0; k-- {
			if r.Intn(3) > 0 {
				b.WriteString(genValue(r))
			}
			b.WriteString("*")
		}
		if r.Intn(2) == 0 {
			b.WriteString(genValue(r))
		}
		return "(" + attr + "=" + b.String() + ")"
	case "ext":
		s := "(" + attr
		if r.Intn(2) == 0 {
			s += ":dn"
		}
		return s + ":" + pick(r, genRules) + ":=" + genValue(r) + ")"
	case "=*":
		return "(" + attr + "=*)"
	default:
		return "(" + attr + op + genValue(r) + ")"
	}
}

func mutate(r *rand.Rand, s string) string {
	if s == "" {
		return pick(r, mutAlphabet)
	}
	i := r.Intn(len(s) + 1)
	switch r.Intn(4) {
	case 0: // insert
		return s[:i] + pick(r, mutAlphabet) + s[i:]
	case 1: // delete
		if i == len(s) {
			i--
		}
		return s[:i] + s[i+1:]
	case 2: // replace
		if i == len(s) {
			i--
		}
		return s[:i] + pick(r, mutAlphabet) + s[i+1:]
	default: // duplicate a slice
		j := i + r.Intn(len(s)-i+1)
		return s[:j] + s[i:j] + s[j:]
	}
}
