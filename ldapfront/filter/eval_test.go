package filter

import (
	"strings"
	"testing"
)

const (
	users  = "alice bob carol"
	groups = "admins staff devs"
	all    = "alice bob carol admins staff devs jira"
)

// evalGolden: each filter, the entries for which it is True and those for
// which it is Undefined (all others are False).
var evalGolden = []struct {
	filter      string
	true, undef string
}{
	// Equality, case-ignore with insignificant spaces; aliases and OIDs.
	{"(uid=alice)", "alice", ""},
	{"(UID=ALICE)", "alice", ""},
	{"(userid=alice)", "alice", ""},
	{"(0.9.2342.19200300.100.1.1=alice)", "alice", ""},
	{"(cn=alice liddell)", "alice", ""},
	{"(cn=  Alice   Liddell )", "alice", ""},
	{"(commonName=bob builder)", "bob", ""},
	{"(2.5.4.3=JIRA)", "jira", ""},
	{"(displayName=alice liddell)", "alice", ""},
	{"(description=head of it)", "alice", ""},
	{"(gn=ALICE)", "alice", ""},
	{"(2.5.4.42=alice)", "alice", ""},
	{"(surname=builder)", "bob", ""},
	{"(mail=carol@example.com)", "carol", ""},
	{"(rfc822Mailbox=ALICE@EXAMPLE.COM)", "alice", ""},
	{"(0.9.2342.19200300.100.1.3=alice@example.com)", "alice", ""},
	{"(uid=alic)", "", ""},
	{"(uid=)", "", ""},
	// Escapes, UTF-8 (as gldap hands it: hex-escaped; and raw), NUL.
	{`(cn=jos\c3\a9 m\c3\bcller)`, "carol", ""},
	{`(cn=JOS\C3\89 M\C3\9CLLER)`, "carol", ""},
	{"(sn=MÜLLER)", "carol", ""},
	{`(description=nul\00byte)`, "carol", ""},
	{`(description=*\00*)`, "carol", ""},
	{`(cn=\41lice liddell)`, "alice", ""},
	// Object classes, with OID aliases.
	{"(objectClass=inetOrgPerson)", users, ""},
	{"(objectclass=INETORGPERSON)", users, ""},
	{"(objectClass=2.16.840.1.113730.3.2.2)", users, ""},
	{"(objectClass=2.5.6.6)", users, ""},
	{"(objectClass=2.5.6.7)", users, ""},
	{"(objectClass=2.5.6.9)", groups, ""},
	{"(2.5.4.0=groupOfNames)", groups, ""},
	{"(objectClass=2.5.6.0)", all, ""},
	{"(objectClass=1.2.3)", "", ""},
	// Presence.
	{"(objectClass=*)", all, ""},
	{"(mail=*)", "alice carol", ""},
	{"(member=*)", groups, ""},
	{"(foo=*)", "", ""},
	{"(userPassword=*)", "alice", ""},
	// Substrings: every combination of initial, any and final.
	{"(cn=a*)", "alice admins", ""},
	{"(cn=*er)", "bob carol", ""},
	{"(cn=*lid*)", "alice", ""},
	{"(cn=a*l)", "alice", ""},
	{"(cn=a*l*l*l)", "alice", ""},
	{"(cn=a*l*l*l*l)", "alice", ""},
	{"(cn=a*l*l*l*l*l)", "", ""},
	{"(cn=*i*e*)", "alice bob", ""},
	{"(cn=b*b*r)", "bob", ""},
	{"(cn=*b*b*)", "bob", ""},
	{"(cn=b*u*)", "bob", ""},
	{"(cn=*s*f)", "staff", ""},
	{"(cn=**)", all, ""},
	{"(cn=a*b*c*d)", "", ""},
	{"(cn=alice *)", "alice", ""},
	{"(cn=alice   *)", "alice", ""},
	{"(cn=alicel*)", "", ""},
	{"(cn=* builder)", "bob", ""},
	{`(cn=*\c3\bc*)`, "carol", ""},
	{`(cn=*\2a*)`, "", ""},
	{"(cn=ALI*LID*ELL)", "alice", ""},
	{"(homeDirectory=/home/a*)", "", ""},
	{"(homeDirectory=/home/A*)", "alice", ""},
	{"(foo=*a*)", "", ""},
	// Substrings on syntaxes without a substrings rule are Undefined.
	{"(memberOf=*staff*)", "", all},
	{"(uidNumber=1*)", "", all},
	{"(objectClass=inet*)", "", all},
	{"(userPassword=*secret*)", "", all},
	{"(createTimestamp=2024*)", "", all},
	// Ordering: strings, integers, times; Undefined where the syntax has
	// no ordering or the assertion is invalid.
	{"(cn>=c)", "carol staff devs jira", ""},
	{"(cn<=b)", "alice admins", ""},
	{"(cn>=ALICE LIDDELL)", "alice bob carol staff devs jira", ""},
	{"(cn<=alice liddell)", "alice admins", ""},
	{"(homeDirectory>=/home/B)", "", ""},
	{"(homeDirectory<=/home/B)", "alice", ""},
	{"(uidNumber>=1000)", "alice bob", ""},
	{"(uidNumber<=1001)", "alice carol", ""},
	{"(uidNumber>=-5)", users, ""},
	{"(uidNumber<=-5)", "", ""},
	{"(uidNumber<=0999)", "carol", ""},
	{"(uidNumber>=99999999999999999999999)", "", ""},
	{"(uidNumber<=99999999999999999999999)", users, ""},
	{"(uidNumber>=abc)", "", all},
	{"(uidNumber>= 5)", "", all},
	{"(createTimestamp>=20240101120000Z)", "alice carol", ""},
	{"(createTimestamp>=202401011300+0100)", "alice carol", ""},
	{"(createTimestamp>=2024010112Z)", "alice carol", ""},
	{"(createTimestamp>=2024010112.5Z)", "carol", ""},
	{"(createTimestamp<=20231231235959.999Z)", "bob", ""},
	{"(createTimestamp<=20240101115959,9-0000)", "bob", ""},
	{"(createTimestamp>=2024)", "", all},
	{"(createTimestamp>=20241301000000Z)", "", all},
	{"(createTimestamp>=20240101120000)", "", all},
	{"(modifyTimestamp<=20240615063000.4Z)", "", ""},
	{"(modifyTimestamp>=20240615063000.4Z)", "alice", ""},
	{"(userPassword>=a)", "", all},
	{"(memberOf>=cn=a)", "", all},
	{"(objectClass<=z)", "", all},
	// Equality by syntax: integers, times, octets, DNs.
	{"(uidNumber=1001)", "alice", ""},
	{"(uidNumber=01001)", "alice", ""},
	{"(uidNumber=-0)", "", ""},
	{"(uidNumber=x)", "", all},
	{"(gidNumber=100)", "alice bob", ""},
	{"(createTimestamp=20240101120000Z)", "alice", ""},
	{"(createTimestamp=20240101120000.000Z)", "alice", ""},
	{"(createTimestamp=20240101140000+0200)", "alice", ""},
	{"(modifyTimestamp=20240615063000.5Z)", "alice", ""},
	{"(createTimestamp=yesterday)", "", all},
	{"(userPassword={SSHA}secret)", "alice", ""},
	{"(userPassword={ssha}secret)", "", ""},
	{`(jpegPhoto=\ff\d8\00)`, "carol", ""},
	{`(jpegPhoto=\FF\D8)`, "", ""},
	{"(memberOf=cn=devs,ou=groups,dc=example,dc=com)", "alice", ""},
	{"(memberOf=cn=staff,ou=groups,dc=example,dc=com)", "alice bob devs", ""},
	{"(memberOf=CN=Staff, OU=groups, DC=example, DC=com)", "alice bob devs", ""},
	{"(memberOf=commonName=staff,ou=groups,dc=example,dc=com)", "alice bob devs", ""},
	{"(memberOf=2.5.4.3=staff,ou=groups,dc=example,dc=com)", "alice bob devs", ""},
	{"(memberOf=cn=staff,ou=groups)", "", ""},
	{"(memberOf=not a dn)", "", all},
	{"(member=uid=alice,ou=users,dc=example,dc=com)", "devs", ""},
	{"(member=UID=Bob,OU=Users,DC=Example,DC=Com)", "staff", ""},
	{"(uniqueMember=uid=bob,ou=users,dc=example,dc=com)", "", ""},
	// Approximate match is equality.
	{"(cn~=ALICE LIDDELL)", "alice", ""},
	{"(cn~=alice)", "", ""},
	{"(uidNumber~=1002)", "bob", ""},
	{"(memberOf~=cn=devs,ou=groups,dc=example,dc=com)", "alice", ""},
	{"(uidNumber~=x)", "", all},
	// Attribute options: entries hold no subtyped values; ;binary is a
	// transfer option and ignored.
	{"(cn;lang-de=alice liddell)", "", ""},
	{"(cn;lang-de=*)", "", ""},
	{"(!(cn;lang-de=x))", all, ""},
	{"(cn;binary=alice liddell)", "alice", ""},
	{"(CN;BINARY=*)", all, ""},
	{"(uidNumber;lang-de>=x)", "", all},
	// Unknown attributes are case-ignore strings nobody has.
	{"(foo=bar)", "", ""},
	{"(!(foo=bar))", all, ""},
	{"(foo>=a)", "", ""},
	{"(=x)", "", ""},
	// Extensible match: type only; type and rule; :dn:; rule only.
	{"(cn:=Alice Liddell)", "alice", ""},
	{"(memberOf:=CN=devs,OU=groups,DC=example,DC=com)", "alice", ""},
	{"(cn:caseExactMatch:=Alice Liddell)", "alice", ""},
	{"(cn:2.5.13.5:=alice liddell)", "", ""},
	{"(cn:2.5.13.5:=Alice   Liddell)", "alice", ""},
	{"(cn:2.5.13.2:=ALICE LIDDELL)", "alice", ""},
	{"(cn:CASEIGNOREMATCH:=bob builder)", "bob", ""},
	{"(mail:caseIgnoreIA5Match:=carol@example.com)", "carol", ""},
	{"(mail:1.3.6.1.4.1.1466.109.114.1:=carol@example.com)", "", ""},
	{"(ou:dn:=users)", users, ""},
	{"(ou:dn:=Groups)", groups, ""},
	{"(ou:dn:2.5.13.2:=GROUPS)", groups, ""},
	{"(ou:dn:2.5.13.5:=Groups)", "", ""},
	{"(ou:=users)", "", ""},
	{"(dc:dn:=example)", all, ""},
	{"(uid:dn:2.5.13.5:=alice)", "alice", ""},
	{"(cn:dn:=staff)", "staff", ""},
	{"(:dn:2.5.13.5:=groups)", groups, ""},
	{"(:dn:2.5.13.5:=Groups)", "", ""},
	{"(:dn:caseIgnoreMatch:=SERVICES)", "jira", ""},
	{"(:2.5.13.5:=Alice Liddell)", "alice", ""},
	{"(:2.5.13.2:=staff)", "staff", ""},
	{"(:caseIgnoreMatch:=alice)", "alice", ""},
	{"(:dn:2.5.13.2:=alice)", "alice", ""},
	{"(:2.5.13.14:=100)", "alice bob", ""},
	{"(:integerMatch:=abc)", "", all},
	{"(:2.5.13.1:=cn=staff,ou=groups,dc=example,dc=com)", "alice bob devs", ""},
	{"(:distinguishedNameMatch:=uid=carol,ou=users,dc=example,dc=com)", "admins", ""},
	{"(:2.5.13.17:=admins)", "admins", ""},
	{"(:2.5.13.17:={SSHA}secret)", "alice", ""},
	{"(:2.5.13.0:=2.5.6.9)", groups, ""},
	{"(:2.5.13.27:=20230101000000Z)", "bob", ""},
	{"(uidNumber:2.5.13.14:=1001)", "alice", ""},
	{"(uidNumber:integerMatch:=01001)", "alice", ""},
	{"(uidNumber:2.5.13.14:=abc)", "", all},
	{"(cn:2.5.13.14:=1)", "", ""},
	{"(userPassword:2.5.13.17:={SSHA}secret)", "alice", ""},
	{"(cn:2.5.13.17:=alice liddell)", "", ""},
	{"(cn:octetStringMatch:=Alice Liddell)", "alice", ""},
	{"(employeeNumber:2.5.13.8:=0042)", "alice", ""},
	{"(employeeNumber:numericStringMatch:= 0 0 4 2 )", "alice", ""},
	{"(employeeNumber:2.5.13.8:=42)", "", ""},
	{"(employeeNumber:2.5.13.8:=4a)", "", all},
	{"(createTimestamp:2.5.13.27:=20240101130000+0100)", "alice", ""},
	{"(createTimestamp:generalizedTimeMatch:=bad)", "", all},
	{"(memberOf:2.5.13.1:=CN=devs,OU=groups,DC=example,DC=com)", "alice", ""},
	{"(member:distinguishedNameMatch:=uid=alice,ou=users,dc=example,dc=com)", "devs", ""},
	{"(objectClass:2.5.13.0:=2.5.6.6)", users, ""},
	{"(objectClass:objectIdentifierMatch:=groupOfNames)", groups, ""},
	{"(cn:1.2.3.4:=x)", "", all},
	{"(cn:dn:1.2.3.4:=x)", "", all},
	{"(:1.2.3.4:=x)", "", all},
	{"(:=x)", "", all},
	{"(:dn:=x)", "", all},
	{"(cn:)", "", ""},
	{"(cn;lang-de:2.5.13.2:=alice liddell)", "", ""},
	// Active Directory bit rules.
	{"(userAccountControl:1.2.840.113556.1.4.803:=2)", "bob", ""},
	{"(!(userAccountControl:1.2.840.113556.1.4.803:=2))", "alice carol admins staff devs jira", ""},
	{"(userAccountControl:1.2.840.113556.1.4.803:=514)", "bob", ""},
	{"(userAccountControl:1.2.840.113556.1.4.803:=66048)", "carol", ""},
	{"(userAccountControl:1.2.840.113556.1.4.804:=65538)", "bob carol", ""},
	{"(userAccountControl:1.2.840.113556.1.4.804:=0)", "", ""},
	{"(userAccountControl:1.2.840.113556.1.4.803:=0)", users, ""},
	{"(userAccountControl:1.2.840.113556.1.4.803:=x)", "", all},
	{"(userAccountControl:1.2.840.113556.1.4.803:=99999999999999999999)", "", all},
	{"(:1.2.840.113556.1.4.803:=2)", "bob carol", ""}, // uidNumber 1002 and 999 have bit 2 too
	// The in-chain rule.
	{"(memberOf:1.2.840.113556.1.4.1941:=cn=staff,ou=groups,dc=example,dc=com)", "alice bob devs", ""},
	{"(memberOf:1.2.840.113556.1.4.1941:=CN=Staff,OU=Groups,DC=Example,DC=Com)", "alice bob devs", ""},
	{"(memberOf:1.2.840.113556.1.4.1941:=cn=devs,ou=groups,dc=example,dc=com)", "alice", ""},
	{"(1.2.840.113556.1.2.102:1.2.840.113556.1.4.1941:=cn=admins,ou=groups,dc=example,dc=com)", "carol", ""},
	{"(member:1.2.840.113556.1.4.1941:=uid=alice,ou=users,dc=example,dc=com)", "staff devs", ""},
	{"(member:dn:1.2.840.113556.1.4.1941:=uid=bob,ou=users,dc=example,dc=com)", "staff", ""},
	{"(memberOf:1.2.840.113556.1.4.1941:=not a dn)", "", all},
	{"(:1.2.840.113556.1.4.1941:=cn=staff,ou=groups,dc=example,dc=com)", "", all},
	{"(cn:1.2.840.113556.1.4.1941:=cn=staff,ou=groups,dc=example,dc=com)", "", ""},
	// Absolute true and false; And, Or, Not with Undefined.
	{"(&)", all, ""},
	{"(|)", "", ""},
	{"(!(&))", "", ""},
	{"(!(|))", all, ""},
	{"(&(objectClass=person)(uid=bob))", "bob", ""},
	{"(|(uid=alice)(cn=staff))", "alice staff", ""},
	{"(!(uid=alice))", "bob carol admins staff devs jira", ""},
	{"(!(uidNumber>=abc))", "", all},
	{"(&(uid=alice)(uidNumber>=abc))", "", "alice"},
	{"(|(uid=alice)(uidNumber>=abc))", "alice", "bob carol admins staff devs jira"},
	{"(!(|(uid=alice)(uidNumber>=abc)))", "", "bob carol admins staff devs jira"},
	{"(!(&(uid=alice)(uidNumber>=abc)))", "bob carol admins staff devs jira", "alice"},
	{"(&(uidNumber>=abc)(uidNumber>=abc))", "", all},
	{"(|(&)(uidNumber>=abc))", all, ""},
	{"(&(|)(uidNumber>=abc))", "", ""},
	{"(&(objectClass=person)(|(uid=alice)(uid=carol))(!(mail=carol@example.com)))", "alice", ""},
	// go-ldap's leniencies read the same way.
	{"((uid=alice))", "alice", ""},
	{"(!!(uid=alice))", "alice", ""},
	{"(!uid=alice)", "bob carol admins staff devs jira", ""},
}

func TestEvalGolden(t *testing.T) {
	for _, tc := range evalGolden {
		f, err := Parse(tc.filter, Limits{})
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		gotTrue := entryNames(func(e *testEntry) bool { return f.Eval(e) == True })
		gotUndef := entryNames(func(e *testEntry) bool { return f.Eval(e) == Undefined })
		if gotTrue != tc.true || gotUndef != tc.undef {
			t.Errorf("%s:\n  True      %q, want %q\n  Undefined %q, want %q", tc.filter, gotTrue, tc.true, gotUndef, tc.undef)
		}
		// Matches is Eval == True; String() evaluates the same.
		f2, err := Parse(f.String(), Limits{})
		if err != nil {
			t.Errorf("%s: String() %q: %v", tc.filter, f.String(), err)
			continue
		}
		for _, e := range testEntries {
			if f.Matches(e) != (f.Eval(e) == True) || f2.Eval(e) != f.Eval(e) {
				t.Errorf("%s: Matches or String() differ for %s", tc.filter, e.name)
			}
		}
	}
}

// TestTruthTables checks And, Or and Not against RFC 4511 §4.5.1.7 for all
// combinations of up to three operands, using (&) for True, (|) for False
// and an invalid integer assertion for Undefined.
func TestTruthTables(t *testing.T) {
	lit := map[Result]string{True: "(&)", False: "(|)", Undefined: "(uidNumber>=abc)"}
	vals := []Result{False, True, Undefined}
	and := func(rs []Result) Result {
		r := True
		for _, x := range rs {
			if x == False {
				return False
			}
			if x == Undefined {
				r = Undefined
			}
		}
		return r
	}
	or := func(rs []Result) Result {
		r := False
		for _, x := range rs {
			if x == True {
				return True
			}
			if x == Undefined {
				r = Undefined
			}
		}
		return r
	}
	not := map[Result]Result{True: False, False: True, Undefined: Undefined}
	e := testEntries[0]
	var combos [][]Result
	for _, a := range vals {
		combos = append(combos, []Result{a})
		for _, b := range vals {
			combos = append(combos, []Result{a, b})
			for _, c := range vals {
				combos = append(combos, []Result{a, b, c})
			}
		}
	}
	for _, rs := range combos {
		var parts []string
		for _, r := range rs {
			parts = append(parts, lit[r])
		}
		inner := strings.Join(parts, "")
		for _, c := range []struct {
			filter string
			want   Result
		}{
			{"(&" + inner + ")", and(rs)},
			{"(|" + inner + ")", or(rs)},
			{"(!(&" + inner + "))", not[and(rs)]},
			{"(!(|" + inner + "))", not[or(rs)]},
		} {
			f, err := Parse(c.filter, Limits{})
			if err != nil {
				t.Fatalf("%s: %v", c.filter, err)
			}
			if got := f.Eval(e); got != c.want {
				t.Errorf("%s = %v, want %v", c.filter, got, c.want)
			}
		}
	}
	// The cases the RFC spells out.
	for filter, want := range map[string]Result{
		"(!(uidNumber>=abc))":          Undefined,
		"(&(|)(uidNumber>=abc))":       False,
		"(|(&)(uidNumber>=abc))":       True,
		"(&(&)(uidNumber>=abc))":       Undefined,
		"(|(|)(uidNumber>=abc))":       Undefined,
		"(!(!(uidNumber>=abc)))":       Undefined,
		"(&(uid=alice)(!(uid=alice)))": False,
	} {
		f, _ := Parse(filter, Limits{})
		if got := f.Eval(e); got != want {
			t.Errorf("%s = %v, want %v", filter, got, want)
		}
	}
}

// matcherEntry answers memberOf equality from a fixed set, as the server's
// membership index does, and counts the questions.
type matcherEntry struct {
	*testEntry
	groups map[string]bool // normalised DNs
	asked  []string
}

var _ EqualityMatcher = (*matcherEntry)(nil)

func (e *matcherEntry) MatchEqual(attr, value string) (Result, bool) {
	e.asked = append(e.asked, attr+"="+value)
	if attr != "memberof" {
		return Undefined, false
	}
	return result(e.groups[value]), true
}

func TestEqualityMatcher(t *testing.T) {
	e := &matcherEntry{testEntry: testEntries[1], groups: map[string]bool{"cn=secret,ou=groups,dc=example,dc=com": true}}
	for _, c := range []struct {
		filter string
		want   Result
		asked  string
	}{
		// The index answers memberOf (even against the values), with the
		// normalised DN.
		{"(memberOf=CN=Secret, OU=Groups,DC=example,DC=com)", True, "memberof=cn=secret,ou=groups,dc=example,dc=com"},
		{"(memberOf=cn=staff,ou=groups,dc=example,dc=com)", False, "memberof=cn=staff,ou=groups,dc=example,dc=com"},
		{"(memberOf~=cn=secret,ou=groups,dc=example,dc=com)", True, "memberof=cn=secret,ou=groups,dc=example,dc=com"},
		{"(memberOf:=cn=secret,ou=groups,dc=example,dc=com)", True, "memberof=cn=secret,ou=groups,dc=example,dc=com"},
		// Other attributes fall back to the values, with the prepared key.
		{"(uid=BOB)", True, "uid=bob"},
		{"(cn=  Bob   Builder)", True, "cn=bob builder"},
		{"(uidNumber=01002)", True, "uidnumber=1002"},
		// Not asked: invalid assertions, options, other operations, rules.
		{"(memberOf=not a dn)", Undefined, ""},
		{"(memberOf;x=cn=secret,ou=groups,dc=example,dc=com)", False, ""},
		{"(memberOf=*)", True, ""},
		{"(memberOf:2.5.13.1:=cn=secret,ou=groups,dc=example,dc=com)", False, ""},
	} {
		e.asked = nil
		f, err := Parse(c.filter, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Eval(e); got != c.want {
			t.Errorf("%s = %v, want %v", c.filter, got, c.want)
		}
		if got := strings.Join(e.asked, " "); got != c.asked {
			t.Errorf("%s asked %q, want %q", c.filter, got, c.asked)
		}
	}
}

func TestAttributeRangerMissing(t *testing.T) {
	e := plainEntry{testEntries[0]}
	for filter, want := range map[string]Result{
		"(:2.5.13.2:=alice)":           Undefined, // cannot list the attributes
		"(:dn:2.5.13.2:=alice)":        True,      // the DN decides
		"(:dn:2.5.13.2:=nobody)":       Undefined,
		"(cn:2.5.13.2:=alice liddell)": True,
	} {
		f, _ := Parse(filter, Limits{})
		if got := f.Eval(e); got != want {
			t.Errorf("%s = %v, want %v", filter, got, want)
		}
	}
}

// TestDNAttrsParsed covers :dn: on DNs that need goldap.ParseDN.
func TestDNAttrsParsed(t *testing.T) {
	e := newEntry("x", `cn=Smith\, John+uid=JS,OU=People , dc=example,dc=com`, "cn", "x")
	for filter, want := range map[string]Result{
		"(cn:dn:=smith, john)": True,
		"(uid:dn:=js)":         True,
		"(ou:dn:=people)":      True,
		"(ou:dn:=persons)":     False,
		"(:dn:2.5.13.5:=JS)":   True,
		"(:dn:2.5.13.5:=js)":   False,
	} {
		f, _ := Parse(filter, Limits{})
		if got := f.Eval(e); got != want {
			t.Errorf("%s = %v, want %v", filter, got, want)
		}
	}
}

// TestEvalAllocations holds the common searches to no allocations.
func TestEvalAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	for _, s := range []string{
		"(&(objectClass=inetOrgPerson)(uid=alice))",
		"(&(uid=alice)(memberOf=cn=staff,ou=groups,dc=example,dc=com))",
		"(|(cn=ali*)(mail=*@example.com)(uidNumber>=1000)(createTimestamp>=20240101000000Z))",
		"(!(userAccountControl:1.2.840.113556.1.4.803:=2))",
		"(memberOf:1.2.840.113556.1.4.1941:=cn=staff,ou=groups,dc=example,dc=com)",
		"(ou:dn:=users)",
	} {
		f, err := Parse(s, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		e := testEntries[0]
		if n := testing.AllocsPerRun(100, func() { f.Eval(e) }); n != 0 {
			t.Errorf("%s: %v allocations per Eval", s, n)
		}
	}
}
