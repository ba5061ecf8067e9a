package filter

import (
	"sort"
	"strings"
)

// testEntry is an in-memory Entry for the tests, with attribute names
// given in any case (canonicalised on construction).
type testEntry struct {
	name   string
	dn     string
	attrs  map[string][]string
	chains map[string][]string
}

var (
	_ Entry           = (*testEntry)(nil)
	_ AttributeRanger = (*testEntry)(nil)
)

func (e *testEntry) DN() string                  { return e.dn }
func (e *testEntry) Values(attr string) []string { return e.attrs[attr] }
func (e *testEntry) Chain(attr string) []string  { return e.chains[attr] }

func (e *testEntry) RangeAttributes(fn func(string, []string) bool) {
	names := make([]string, 0, len(e.attrs))
	for n := range e.attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !fn(n, e.attrs[n]) {
			return
		}
	}
}

// plainEntry hides RangeAttributes.
type plainEntry struct{ Entry }

func newEntry(name, dn string, kv ...string) *testEntry {
	e := &testEntry{name: name, dn: dn, attrs: map[string][]string{}, chains: map[string][]string{}}
	for i := 0; i < len(kv); i += 2 {
		c := Canonical(kv[i])
		e.attrs[c] = append(e.attrs[c], kv[i+1])
	}
	return e
}

func (e *testEntry) chain(attr string, dns ...string) *testEntry {
	for _, d := range dns {
		n, ok := NormalizeDN(d)
		if !ok {
			panic("bad DN " + d)
		}
		e.chains[attr] = append(e.chains[attr], n)
	}
	return e
}

const (
	suffix   = ",dc=example,dc=com"
	aliceDN  = "uid=alice,ou=users" + suffix
	bobDN    = "uid=bob,ou=users" + suffix
	carolDN  = "uid=carol,ou=users" + suffix
	adminsDN = "cn=admins,ou=groups" + suffix
	staffDN  = "cn=staff,ou=groups" + suffix
	devsDN   = "cn=devs,ou=groups" + suffix
)

// testEntries is the directory of the golden tests: three users, three
// groups (admins ⊃ carol; staff ⊃ bob, devs; devs ⊃ alice) and a service.
var testEntries = []*testEntry{
	newEntry("alice", aliceDN,
		"objectClass", "top", "objectClass", "person", "objectClass", "organizationalPerson", "objectClass", "inetOrgPerson",
		"uid", "alice", "cn", "Alice Liddell", "sn", "Liddell", "givenName", "Alice", "mail", "alice@example.com",
		"displayName", "Alice  Liddell",
		"memberOf", devsDN, "memberOf", "cn=Staff,ou=Groups,dc=Example,dc=com",
		"uidNumber", "1001", "gidNumber", "100", "userAccountControl", "512",
		"createTimestamp", "20240101120000Z", "modifyTimestamp", "20240615083000.5+0200",
		"userPassword", "{SSHA}secret", "description", "  Head   of  IT  ", "employeeNumber", "00 42",
		"homeDirectory", "/home/Alice",
	).chain("memberof", devsDN, staffDN),
	newEntry("bob", bobDN,
		"objectClass", "top", "objectClass", "person", "objectClass", "organizationalPerson", "objectClass", "inetOrgPerson",
		"uid", "bob", "cn", "Bob Builder", "sn", "Builder", "memberOf", staffDN,
		"uidNumber", "1002", "gidNumber", "100", "userAccountControl", "514",
		"createTimestamp", "20230101000000Z", "description", "builder",
	).chain("memberof", staffDN),
	newEntry("carol", carolDN,
		"objectClass", "top", "objectClass", "person", "objectClass", "organizationalPerson", "objectClass", "inetOrgPerson",
		"uid", "carol", "cn", "José Müller", "sn", "Müller", "mail", "CAROL@Example.COM", "memberOf", adminsDN,
		"uidNumber", "999", "userAccountControl", "66048", "createTimestamp", "20250301000000Z",
		"description", "nul\x00byte", "jpegPhoto", "\xff\xd8\x00",
	).chain("memberof", adminsDN),
	newEntry("admins", adminsDN,
		"objectClass", "top", "objectClass", "groupOfNames", "cn", "admins", "member", carolDN,
		"description", "Administrators",
	).chain("member", carolDN),
	newEntry("staff", staffDN,
		"objectClass", "top", "objectClass", "groupOfNames", "cn", "staff", "member", bobDN, "member", devsDN,
	).chain("member", bobDN, devsDN, aliceDN),
	newEntry("devs", devsDN,
		"objectClass", "top", "objectClass", "groupOfNames", "cn", "devs", "member", "UID=Alice, OU=Users, DC=Example, DC=Com",
		"memberOf", staffDN,
	).chain("member", aliceDN).chain("memberof", staffDN),
	newEntry("jira", "cn=jira,ou=services"+suffix,
		"objectClass", "top", "objectClass", "applicationProcess", "cn", "jira",
	),
}

func entryNames(filter func(*testEntry) bool) string {
	var out []string
	for _, e := range testEntries {
		if filter(e) {
			out = append(out, e.name)
		}
	}
	return strings.Join(out, " ")
}
