package restriction

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCQL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		// Spec §6.2, examples in the wild.
		{`email=bob@example.net`, `email EXACTLY_MATCHES "bob@example.net"`},                                                                 // D3
		{`firstName = "bob" and email = "bob@example.net"`, `(firstName EXACTLY_MATCHES "bob" AND email EXACTLY_MATCHES "bob@example.net")`}, // D3
		{`name = "admin*" and active = false`, `(name STARTS_WITH "admin" AND active:BOOLEAN EXACTLY_MATCHES "false")`},                      // D3
		{`firstName=Foo`, `firstName EXACTLY_MATCHES "Foo"`},                                                                                 // N2
		{`name=testgroup1`, `name EXACTLY_MATCHES "testgroup1"`},                                                                             // N2
		{`active=true`, `active:BOOLEAN EXACTLY_MATCHES "true"`},                                                                             // N2
		{`email=" x "`, `email EXACTLY_MATCHES " x "`},                                                                                       // RC
		{`name="*foo*"`, `name CONTAINS "foo"`},                                                                                              // hermes

		// Blank.
		{``, `ALL`},
		{" \t\r\n", `ALL`},

		// Wildcards (CqlEval.getMatchMode).
		{`name=foo*`, `name STARTS_WITH "foo"`},
		{`name=*foo`, `name EXACTLY_MATCHES "foo"`},
		{`name=**foo**`, `name CONTAINS "foo"`},
		{`name=*`, `name CONTAINS ""`},
		{`name="a*b"`, `name EXACTLY_MATCHES "a*b"`},
		{`name=" *x* "`, `name EXACTLY_MATCHES " *x* "`},
		{`name<b*`, `name LESS_THAN "b"`},
		{`name > m`, `name GREATER_THAN "m"`},

		// Types from the name.
		{`createdDate > 2020-01-02`, `createdDate:DATE GREATER_THAN "2020-01-02"`},
		{`updatedDate<"2020-01-02T03:04:05.000+0000"`, `updatedDate:DATE LESS_THAN "2020-01-02T03:04:05.000+0000"`},
		{`local = TRUE`, `local:BOOLEAN EXACTLY_MATCHES "TRUE"`},
		{`active < true`, `active:BOOLEAN LESS_THAN "true"`},
		{`EMAIL=x`, `email EXACTLY_MATCHES "x"`},
		{`phone=555*`, `phone STARTS_WITH "555"`},
		{`'my attr' = 'v'`, `"my attr" EXACTLY_MATCHES "v"`},

		// Precedence and parentheses.
		{`a=1 or b=2 and c=3`, `(a EXACTLY_MATCHES "1" OR (b EXACTLY_MATCHES "2" AND c EXACTLY_MATCHES "3"))`},
		{`a=1 and b=2 or c=3`, `((a EXACTLY_MATCHES "1" AND b EXACTLY_MATCHES "2") OR c EXACTLY_MATCHES "3")`},
		{`(a=1 or b=2) and c=3`, `((a EXACTLY_MATCHES "1" OR b EXACTLY_MATCHES "2") AND c EXACTLY_MATCHES "3")`},
		{`a=1 AND b=2 And c=3`, `(a EXACTLY_MATCHES "1" AND b EXACTLY_MATCHES "2" AND c EXACTLY_MATCHES "3")`},
		{`((a=1))`, `a EXACTLY_MATCHES "1"`},
		{`(a=1 or (b=2 and (c=3 or d=4)))`, `(a EXACTLY_MATCHES "1" OR (b EXACTLY_MATCHES "2" AND (c EXACTLY_MATCHES "3" OR d EXACTLY_MATCHES "4")))`},
		{`(a=1)and(b=2)`, `(a EXACTLY_MATCHES "1" AND b EXACTLY_MATCHES "2")`},

		// Terms.
		{`name=and`, `name EXACTLY_MATCHES "and"`},
		{`name="or" or name='and'`, `(name EXACTLY_MATCHES "or" OR name EXACTLY_MATCHES "and")`},
		{`name=order`, `name EXACTLY_MATCHES "order"`},
		{`x="a\"b\\c\'d"`, `x EXACTLY_MATCHES "a\"b\\c'd"`},
		{`x='it\'s'`, `x EXACTLY_MATCHES "it's"`},
		{`x=a\ b`, `x EXACTLY_MATCHES "a b"`},
		{`x="\t\n\r"`, `x EXACTLY_MATCHES "\t\n\r"`},
		{`x="\u00e9\ud83d\ude00"`, `x EXACTLY_MATCHES "é😀"`},
		{`x=é~@#$%^.-+/:;?{}`, `x EXACTLY_MATCHES "é~@#$%^.-+/:;?{}"`},
		{`x=""`, `x EXACTLY_MATCHES ""`},
		{"x=\"multi\nline\"", `x EXACTLY_MATCHES "multi\nline"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParseCQL(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseCQLTree(t *testing.T) {
	r, err := ParseCQL(`name = "admin*" and active = false and createdDate > 2020-01-02T03:04`)
	if err != nil {
		t.Fatal(err)
	}
	want := Boolean{Logic: And, Restrictions: []Restriction{
		Property{Name: KeyName, Type: TypeString, Mode: StartsWith, Value: "admin"},
		Property{Name: KeyActive, Type: TypeBoolean, Mode: ExactlyMatches, Value: "false", Bool: false},
		Property{Name: KeyCreatedDate, Type: TypeDate, Mode: GreaterThan, Value: "2020-01-02T03:04", Time: time.Date(2020, 1, 2, 3, 4, 0, 0, time.UTC)},
	}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %#v\nwant %#v", r, want)
	}
	// The same through XML.
	x, err := ParseXML(strings.NewReader(toXML(r)))
	if err != nil || !reflect.DeepEqual(x, r) {
		t.Errorf("xml round trip: %v, %v", x, err)
	}
}

func TestParseCQLErrors(t *testing.T) {
	deepParens := strings.Repeat("(", MaxDepth+1) + "a=1" + strings.Repeat(")", MaxDepth+1)
	// 16 levels of parentheses, each adding an Or and an And: depth 33.
	deepTree := "a=1"
	for range 16 {
		deepTree = "a=1 or a=1 and (" + deepTree + ")"
	}
	many := strings.TrimSuffix(strings.Repeat("a=1 or ", MaxRestrictions), " or ")
	for _, tc := range []struct {
		in, want string
	}{
		{`name != x`, `at position 6: operator "!=" is not supported: CQL has only =, < and >`},
		{`name <= x`, `at position 6: operator "<=" is not supported`},
		{`name >= x`, `operator ">=" is not supported`},
		{`name == x`, `operator "==" is not supported`},
		{`name <> x`, `operator "<>" is not supported`},
		{`name ~ x`, `at position 6: expected =, < or > after "name", found "~"`},
		{`name x`, `expected =, < or > after "name", found "x"`},
		{`!name=x`, `at position 1: unexpected '!': CQL has no negation`},
		{`a=1 && b=2`, `at position 5: unexpected '&': use AND and OR`},
		{`a=1 || b=2`, `unexpected '|': use AND and OR`},
		{`a in [1,2]`, `expected =, < or > after "a", found "in"`},
		{`a=[1]`, `at position 3: unexpected '['`},
		{`name =`, `at position 7: expected a value after "name =", found the end`},
		{`name = (x)`, `expected a value after "name =", found "("`},
		{`= x`, `at position 1: expected a property name or '(', found "="`},
		{`a=1 and`, `at position 8: expected a restriction, found the end`},
		{`a=1 or or b=2`, `expected =, < or > after "or", found "b"`},
		{`a=1 b=2`, `at position 5: expected AND, OR or the end, found "b"`},
		{`a=1 and (b=2`, `at position 9: unbalanced '(': no matching ')'`},
		{`(a=1`, `at position 1: unbalanced '(': no matching ')'`},
		{`a=1)`, `at position 4: unbalanced ')': no matching '('`},
		{`(a=1 b=2)`, `at position 6: expected ')', AND or OR, found "b"`},
		{`()`, `at position 2: expected a property name or '(', found ")"`},
		{`x="abc`, `at position 3: unterminated quoted string`},
		{`x='abc"`, `unterminated quoted string`},
		{`x="a\qb"`, `at position 5: invalid escape "\\q"`},
		{`x=a\`, `backslash at the end`},
		{`x="\u12"`, `invalid escape: want \u and four hex digits`},
		{`x="\ud83d"`, `unpaired surrogate`},
		{`x="\u0001"`, `control character U+0001 is not allowed`},
		{"x=a\x00b", `at position 4: control character U+0000 is not allowed`},
		{"x=\"a\x7fb\"", `control character U+007F is not allowed`},
		{"x=\xff", `at position 3: invalid UTF-8`},
		{`""=x`, `at position 1: empty property name`},
		{`active=yes`, `at position 8: invalid BOOLEAN value "yes" for property "active": want true or false`},
		{`active=true*`, `invalid BOOLEAN value "true*"`},
		{`createdDate>yesterday`, `at position 13: invalid DATE value "yesterday" for property "createdDate"`},
		{`createdDate>2020-13-01`, `invalid DATE value "2020-13-01"`},
		{deepParens, `at position 33: parentheses nested deeper than 32`},
		{deepTree, `restrictions nested deeper than 32`},
		{many, `more than 1000 restrictions`},
		{strings.Repeat(" ", MaxCQLLength) + "a=1", `restriction longer than 65536 bytes`},
		{`name=` + strings.Repeat("x", 100) + ` y`, `found "y"`},
		{`x=` + strings.Repeat("é", 100) + `!`, `unexpected '!'`},
	} {
		t.Run(tc.in[:min(len(tc.in), 40)], func(t *testing.T) {
			r, err := ParseCQL(tc.in)
			if r != nil {
				t.Errorf("got restriction %v with the error", r)
			}
			checkInvalid(t, err, "cql", tc.want)
		})
	}
}

func TestParseCQLLimitsInclusive(t *testing.T) {
	in := strings.Repeat("(", MaxDepth) + "a=1" + strings.Repeat(")", MaxDepth)
	if _, err := ParseCQL(in); err != nil {
		t.Errorf("%d parentheses: %v", MaxDepth, err)
	}
	many := strings.TrimSuffix(strings.Repeat("a=1 or ", MaxRestrictions-1), " or ")
	r, err := ParseCQL(many)
	if err != nil {
		t.Fatal(err)
	}
	if d, n := Stats(r); d != 2 || n != MaxRestrictions {
		t.Errorf("Stats = %d, %d", d, n)
	}
	long := "a=" + strings.Repeat("x", MaxCQLLength-2)
	if _, err := ParseCQL(long); err != nil {
		t.Errorf("%d bytes: %v", len(long), err)
	}
}

// Error messages quote at most about 64 bytes of the input.
func TestParseCQLErrorShort(t *testing.T) {
	_, err := ParseCQL(`active=` + strings.Repeat("y", 10000))
	if err == nil || len(err.Error()) > 250 {
		t.Errorf("error of %d bytes: %.300v", len(err.Error()), err)
	}
}
