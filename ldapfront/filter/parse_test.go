package filter

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// dump writes a tree compactly for the AST tests.
func dump(n *Node) string {
	var b strings.Builder
	var walk func(n *Node)
	walk = func(n *Node) {
		b.WriteString(n.Op.String())
		switch n.Op {
		case And, Or, Not:
			b.WriteString("(")
			for i, c := range n.Children {
				if i > 0 {
					b.WriteString(" ")
				}
				walk(c)
			}
			b.WriteString(")")
			return
		case AbsoluteTrue, AbsoluteFalse:
			return
		}
		fmt.Fprintf(&b, " %s", n.Attr)
		if len(n.Options) > 0 {
			fmt.Fprintf(&b, ";%s", strings.Join(n.Options, ";"))
		}
		if n.DNAttrs {
			b.WriteString(" dn")
		}
		if n.Rule != "" {
			fmt.Fprintf(&b, " rule=%s", n.Rule)
		}
		if n.Substrings != nil {
			fmt.Fprintf(&b, " %q %q %q", n.Substrings.Initial, n.Substrings.Any, n.Substrings.Final)
		} else if n.Op != Present {
			fmt.Fprintf(&b, " %q", n.Value)
		}
	}
	walk(n)
	return b.String()
}

func TestParseTree(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"(&(objectClass=inetOrgPerson)(uid=alice))", `And(Equal objectclass "inetOrgPerson" Equal uid "alice")`},
		{"(|(cn=a)(!(sn=b)))", `Or(Equal cn "a" Not(Equal sn "b"))`},
		{"(&)", "AbsoluteTrue"},
		{"(|)", "AbsoluteFalse"},
		{"(|(&)(|))", "Or(AbsoluteTrue AbsoluteFalse)"},
		{"((cn=a))", `Equal cn "a"`},
		{"(!cn=a)", `Not(Equal cn "a")`},
		{"(!!(cn=a))", `Not(Not(Equal cn "a"))`},
		{"(cn=*)", "Present cn"},
		{"(CN=*)", "Present cn"},
		{"(cn=a*)", `Substring cn "a" [] ""`},
		{"(cn=*a)", `Substring cn "" [] "a"`},
		{"(cn=*a*)", `Substring cn "" ["a"] ""`},
		{"(cn=a*b*c*d)", `Substring cn "a" ["b" "c"] "d"`},
		{"(cn=**)", `Substring cn "" [] ""`},
		{"(cn=a**b)", `Substring cn "a" [] "b"`},
		{`(cn=\2a*\28\29\5c)`, `Substring cn "*" [] "()\\"`},
		{"(uidNumber>=10)", `GreaterOrEqual uidnumber "10"`},
		{"(uidNumber<=10)", `LessOrEqual uidnumber "10"`},
		{"(cn~=x)", `Approx cn "x"`},
		{`(cn=jos\c3\a9)`, `Equal cn "josé"`},
		{`(cn=JOS\C3\89)`, `Equal cn "JOSÉ"`},
		{`(cn=a\00b)`, `Equal cn "a\x00b"`},
		{`(cn=\2a)`, `Equal cn "*"`},
		{"(cn=)", `Equal cn ""`},
		{"(commonName=x)", `Equal cn "x"`},
		{"(2.5.4.3=x)", `Equal cn "x"`},
		{"(1.2.840.113556.1.2.102=x)", `Equal memberof "x"`},
		{"(cn;Lang-DE;binary=x)", `Equal cn;lang-de;binary "x"`},
		{"(cn:=x)", `Extensible cn "x"`},
		{"(cn:dn:=x)", `Extensible cn dn "x"`},
		{"(cn:dn:2.5.13.2:=x)", `Extensible cn dn rule=2.5.13.2 "x"`},
		{"(cn:caseExactMatch:=x)", `Extensible cn rule=caseexactmatch "x"`},
		{"(:dn:2.5.13.5:=x)", `Extensible  dn rule=2.5.13.5 "x"`},
		{"(memberOf:1.2.840.113556.1.4.1941:=cn=g,ou=groups,dc=example,dc=com)",
			`Extensible memberof rule=1.2.840.113556.1.4.1941 "cn=g,ou=groups,dc=example,dc=com"`},
		{"(cn:1.2.3)", `Extensible cn rule=1.2.3 ""`},
		{"(cn:DN:=x)", `Extensible cn rule=dn "x"`},
	} {
		f, err := Parse(c.in, Limits{})
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := dump(f.Root()); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"(&(objectClass=inetOrgPerson)(uid=alice))": "(&(objectClass=inetOrgPerson)(uid=alice))",
		"((cn=a))":               "(cn=a)",
		"(!cn=a)":                "(!(cn=a))",
		"(cn=josé)":              `(cn=jos\c3\a9)`,
		`(cn=JOS\C3\89)`:         `(cn=JOS\c3\89)`,
		"(cn=a\x00b)":            `(cn=a\00b)`,
		`(cn=\2a)`:               `(cn=\2a)`,
		"(cn~=*)":                `(cn~=\2a)`,
		"(cn=a(b)":               `(cn=a\28b)`,
		"(cn=a**b)":              "(cn=a*b)",
		"(cn=**)":                "(cn=**)",
		"(cn=*)":                 "(cn=*)",
		"(CN;Lang-DE=x)":         "(CN;Lang-DE=x)",
		"(cn:dn:2.5.13.2:=x)":    "(cn:dn:2.5.13.2:=x)",
		"(cn:CaseExactMatch:=x)": "(cn:CaseExactMatch:=x)",
		"(cn::=x)":               "(cn:=x)",
		"(cn:1.2)":               "(cn:1.2:=)",
		"(cn:dn)":                "(cn:dn)",
		"(&)":                    "(&)",
		"(|(&)(|))":              "(|(&)(|))",
	} {
		f, err := Parse(in, Limits{})
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := f.String(); got != want {
			t.Errorf("%s: String() %q, want %q", in, got, want)
		}
	}
	// A hand-made node without the description as sent.
	n := &Node{Op: Equal, Attr: "cn", Options: []string{"lang-de"}, Value: "a*"}
	if got := n.String(); got != `(cn;lang-de=a\2a)` {
		t.Errorf("hand-made node: %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		in  string
		pos int
		msg string
	}{
		{"", 0, "starts with '('"},
		{"cn=a", 0, "starts with '('"},
		{"(cn=a", 5, "unexpected end"},
		{"(cn=a)x", 6, "after the end"},
		{"(cn=a)(cn=b)", 6, "after the end"},
		{"()", 1, "without an operator"},
		{"(cn)", 3, "without an operator"},
		{"(&(cn=a)x)", 8, "expected '(' or ')'"},
		{"(&(cn=a)", 8, "unexpected end"},
		{"((cn=a)", 7, "unexpected end"},
		{"((cn=a)x", 7, "expected ')'"},
		{`(cn=a\2)`, 5, "two hex digits"},
		{`(cn=ab\zz)`, 6, "two hex digits"},
		{`(cn=x*a\2*b)`, 7, "two hex digits"},
		{"(cn=\xff)", 4, "UTF-8"},
		{"(c\xffn=a)", 2, "UTF-8"},
		{"(cn=\xef\xbf\xbd)", 4, "U+FFFD"},
		{"(cn:x\xff:=a)", 5, "UTF-8"},
		{"(cn:1.2", 7, "unexpected end"},
	} {
		_, err := Parse(c.in, Limits{})
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: error %v, want a SyntaxError", c.in, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Error(), c.msg) {
			t.Errorf("%q: %v (pos %d), want pos %d and %q", c.in, err, se.Pos, c.pos, c.msg)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("(!", n) + "(cn=a)" + strings.Repeat(")", n) }
	wide := func(n int) string { return "(|" + strings.Repeat("(cn=a)", n) + ")" }
	for _, c := range []struct {
		in    string
		lim   Limits
		limit string
	}{
		{"(cn=" + strings.Repeat("a", DefaultMaxLength) + ")", Limits{}, "MaxLength"},
		{"(cn=abcdef)", Limits{MaxLength: 10}, "MaxLength"},
		{deep(DefaultMaxDepth), Limits{}, "MaxDepth"},
		{deep(4), Limits{MaxDepth: 4}, "MaxDepth"},
		{strings.Repeat("(", 100) + "cn=a" + strings.Repeat(")", 100), Limits{}, "MaxDepth"},
		{strings.Repeat("(!", 100) + "cn=a)", Limits{}, "MaxDepth"},
		{wide(DefaultMaxNodes), Limits{}, "MaxNodes"},
		{wide(3), Limits{MaxNodes: 3}, "MaxNodes"},
	} {
		_, err := Parse(c.in, c.lim)
		var le *LimitError
		if !errors.As(err, &le) || !errors.Is(err, ErrLimit) || le.Limit != c.limit {
			t.Errorf("%.40q: error %v, want a LimitError on %s", c.in, err, c.limit)
		}
	}
	for _, c := range []struct {
		in  string
		lim Limits
	}{
		{"(cn=" + strings.Repeat("a", DefaultMaxLength-5) + ")", Limits{}},
		{deep(DefaultMaxDepth - 1), Limits{}},
		{deep(3), Limits{MaxDepth: 4}},
		{wide(DefaultMaxNodes - 1), Limits{}},
		{wide(2), Limits{MaxNodes: 3}},
		{"(cn=" + strings.Repeat("(", 5000) + ")", Limits{}}, // parentheses in a value are no nodes
	} {
		if _, err := Parse(c.in, c.lim); err != nil {
			t.Errorf("%.40q: %v", c.in, err)
		}
	}
	var le LimitError
	for _, l := range []string{"MaxLength", "MaxDepth", "MaxNodes"} {
		le = LimitError{Limit: l, Max: 7}
		if !strings.Contains(le.Error(), "7") {
			t.Errorf("%s: %s", l, le.Error())
		}
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"(uid=ALICE)":             "alice",
		"(cn=  Alice   Liddell )": "alice liddell",
		"(memberOf=CN=Staff, OU=Groups,DC=Example,DC=com)": "cn=staff,ou=groups,dc=example,dc=com",
		"(objectClass=2.5.6.6)":                            "person",
		"(objectClass=InetOrgPerson)":                      "inetorgperson",
		"(uidNumber>=-007)":                                "-7",
		"(homeDirectory=/Home  X)":                         "/Home X",
		"(userPassword= X )":                               " X ",
		"(memberOf:1.2.840.113556.1.4.1941:=CN=G,DC=x)":    "cn=g,dc=x",
		"(cn:=ABC)":          "abc",
		"(cn:2.5.13.5:=ABC)": "ABC",
	} {
		f, err := Parse(in, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := f.Root().Key(); !ok || k != want {
			t.Errorf("%s: Key() %q %v, want %q", in, k, ok, want)
		}
	}
	for _, in := range []string{"(cn=*)", "(cn=a*)", "(&(a=b))", "(uidNumber=x)", "(cn;lang-de=x)", "(cn:9.9:=x)", "(&)"} {
		f, _ := Parse(in, Limits{})
		if k, ok := f.Root().Key(); ok {
			t.Errorf("%s: Key() %q, want none", in, k)
		}
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"cn": "cn", "CN": "cn", "commonName": "cn", "2.5.4.3": "cn", "cn;lang-de": "cn",
		"surname": "sn", "2.5.4.4": "sn", "userid": "uid", "UserID": "uid", "0.9.2342.19200300.100.1.1": "uid",
		"rfc822Mailbox": "mail", "0.9.2342.19200300.100.1.3": "mail", "gn": "givenname", "givenName": "givenname",
		"2.5.4.42": "givenname", "2.5.4.0": "objectclass", "objectClass": "objectclass", "2.5.4.31": "member",
		"1.2.840.113556.1.2.102": "memberof", "memberOf": "memberof", "departmentNumber": "departmentnumber",
		"FooBar": "foobar", "x;binary": "x", "": "", "É": "é", strings.Repeat("A", 70): strings.Repeat("a", 70),
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Canonical("objectClass"); Canonical("2.5.4.3"); Canonical("uid") }); n != 0 {
		t.Errorf("Canonical allocates %v times for known names", n)
	}
}

func TestSyntaxOf(t *testing.T) {
	for attr, want := range map[string]Syntax{
		"cn": CaseIgnoreString, "unknownAttr": CaseIgnoreString, "homeDirectory": CaseExactString,
		"member": DN, "MemberOf": DN, "uniqueMember": DN, "manager": DN, "owner": DN, "seeAlso": DN,
		"2.5.4.31": DN, "uidNumber": Integer, "createTimestamp": GeneralizedTime, "modifyTimestamp": GeneralizedTime,
		"userPassword": OctetString, "jpegPhoto": OctetString, "objectClass": ObjectClass, "2.5.4.0": ObjectClass,
	} {
		if got := SyntaxOf(attr); got != want {
			t.Errorf("SyntaxOf(%q) = %v, want %v", attr, got, want)
		}
	}
	if Syntax(99).String() != "Syntax(99)" || DN.String() != "DN" {
		t.Error("Syntax.String")
	}
}

func TestRegister(t *testing.T) {
	defer func() {
		delete(syntaxes, "x-shoesize")
		delete(names, "x-shoesize")
	}()
	before, _ := Parse("(x-shoeSize>=9)", Limits{})
	Register("X-ShoeSize", Integer)
	if SyntaxOf("x-shoesize") != Integer {
		t.Fatal("Register did not take")
	}
	after, _ := Parse("(x-shoeSize>=9)", Limits{})
	e := newEntry("x", "cn=x", "x-shoesize", "10")
	// As a string "10" < "9"; as an integer 10 >= 9.
	if before.Eval(e) != False || after.Eval(e) != True {
		t.Errorf("before %v, after %v", before.Eval(e), after.Eval(e))
	}
	Register("x-shoesize", CaseIgnoreString)
	if SyntaxOf("x-shoesize") != CaseIgnoreString {
		t.Error("Register back to the default")
	}
}

func TestOpAndResultStrings(t *testing.T) {
	if And.String() != "And" || AbsoluteFalse.String() != "AbsoluteFalse" || Op(0).String() != "Op(0)" {
		t.Error("Op.String")
	}
	if True.String() != "True" || Undefined.String() != "Undefined" || Result(9).String() != "Result(?)" {
		t.Error("Result.String")
	}
}

func TestParseAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	for s, max := range map[string]float64{
		"(&(objectClass=inetOrgPerson)(uid=user012345))":                 3,
		"(&(uid=user012345)(memberOf=cn=g,ou=groups,dc=example,dc=com))": 3,
		"(uid=alice)": 2,
		"(|(uid=a)(uid=b)(uid=c)(mail=a@example.com)(!(objectClass=groupOfNames)))": 3,
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = Parse(s, Limits{}) }); n > max {
			t.Errorf("%s: %v allocations, want at most %v", s, n, max)
		}
	}
}

func TestNodeFieldsComplete(t *testing.T) {
	// Keep dump and the AST in step: a new exported field needs a test.
	var exported []string
	typ := reflect.TypeOf(Node{})
	for i := 0; i < typ.NumField(); i++ {
		if typ.Field(i).IsExported() {
			exported = append(exported, typ.Field(i).Name)
		}
	}
	if got := strings.Join(exported, " "); got != "Op Children Attr Options Value Substrings Rule DNAttrs" {
		t.Errorf("Node's exported fields changed: %s", got)
	}
}
