package slapdtest_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/internal/slapdtest"
)

const fixture = `
dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
userPassword: wonderland

dn: cn=readers,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: readers
member: uid=alice,ou=people,dc=example,dc=com
`

func search(t *testing.T, c *goldap.Conn, base, filter string, attrs ...string) []*goldap.Entry {
	t.Helper()
	res, err := c.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

func TestStartAndSearch(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	c := srv.Conn(t)

	got := search(t, c, srv.BaseDN(), "(uid=alice)", "cn", "mail", "entryUUID", "modifyTimestamp")
	if len(got) != 1 {
		t.Fatalf("got %d entries, want 1", len(got))
	}
	e := got[0]
	if e.DN != srv.UserDN("alice") || e.GetAttributeValue("cn") != "Alice Liddell" || e.GetAttributeValue("entryUUID") == "" || e.GetAttributeValue("modifyTimestamp") == "" {
		t.Errorf("unexpected entry %s: %v", e.DN, e.Attributes)
	}

	// A user can bind with the password from the LDIF.
	uc, err := goldap.DialURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if err := uc.Bind(srv.UserDN("alice"), "wonderland"); err != nil {
		t.Errorf("user bind: %v", err)
	}
	if err := uc.Bind(srv.UserDN("alice"), "nope"); !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		t.Errorf("wrong password: got %v, want invalid credentials", err)
	}

	// Mutators.
	bob := srv.AddUser(t, "bob", slapdtest.A("mail", "robert@example.com"))
	srv.Modify(t, srv.GroupDN("readers"), slapdtest.AddValues("member", bob))
	writers := srv.AddGroup(t, "writers", bob)
	empty := srv.AddGroup(t, "empty")
	srv.SetMembers(t, writers, srv.UserDN("alice"), empty)
	srv.Delete(t, empty)

	got = search(t, c, srv.GroupsDN(), "(member="+bob+")", "cn")
	if len(got) != 1 || got[0].GetAttributeValue("cn") != "readers" {
		t.Errorf("groups of bob: %v", got)
	}
	got = search(t, c, srv.PeopleDN(), "(mail=robert@example.com)", "uid", "displayName")
	if len(got) != 1 || got[0].GetAttributeValue("displayName") != "User bob" {
		t.Errorf("bob: %v", got)
	}
	if err := uc.Bind(bob, slapdtest.UserPassword("bob")); err != nil {
		t.Errorf("bob's bind: %v", err)
	}
}

func TestStopRestart(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	port := srv.Port()
	srv.AddUser(t, "carol")

	srv.Stop()
	if srv.Running() {
		t.Fatal("still running after Stop")
	}
	if _, err := goldap.DialURL(srv.URL()); err == nil {
		t.Fatal("dial succeeded while slapd is stopped")
	}
	srv.Stop() // stopping twice is harmless

	srv.Restart()
	if srv.Port() != port {
		t.Errorf("port changed from %d to %d", port, srv.Port())
	}
	c := srv.Conn(t)
	if got := search(t, c, srv.PeopleDN(), "(uid=carol)", "uid"); len(got) != 1 {
		t.Errorf("carol lost across restart: %v", got)
	}
	// The mutators reconnect by themselves.
	srv.AddUser(t, "dave")
	if got := search(t, c, srv.PeopleDN(), "(uid=dave)", "uid"); len(got) != 1 {
		t.Errorf("dave: %v", got)
	}
}

func TestOverlays(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithMemberOf())
	alice := srv.AddUser(t, "alice")
	inner := srv.AddGroup(t, "inner", alice)
	srv.AddGroup(t, "outer", inner)
	c := srv.Conn(t)
	got := search(t, c, alice, "(objectClass=*)", "memberOf")
	if mo := got[0].GetAttributeValues("memberOf"); !slices.Equal(mo, []string{inner}) {
		t.Errorf("memberof overlay: memberOf = %v, want [%s]", mo, inner)
	}

	dyn := slapdtest.Start(t, slapdtest.WithDynlist())
	alice = dyn.AddUser(t, "alice")
	inner = dyn.AddGroup(t, "inner", alice)
	outer := dyn.AddGroup(t, "outer", inner)
	got = search(t, dyn.Conn(t), alice, "(objectClass=*)", "memberOf")
	mo := got[0].GetAttributeValues("memberOf")
	slices.Sort(mo)
	if want := []string{inner, outer}; !slices.Equal(mo, want) {
		t.Errorf("dynlist overlay: memberOf = %v, want %v", mo, want)
	}
}

// TestGenerateLDIF checks the generated shape without a server.
func TestGenerateLDIF(t *testing.T) {
	spec := slapdtest.DataSpec{Users: 97, Groups: 23, Memberships: 300, NestEvery: 10, Password: "pw", MemberOf: true}
	var buf bytes.Buffer
	if err := slapdtest.GenerateLDIF(&buf, spec); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := slapdtest.GenerateLDIF(&again, spec); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("output is not deterministic")
	}

	members := map[string][]string{}  // group DN -> member DNs
	memberOf := map[string][]string{} // DN -> memberOf
	var users, groups, userMemberships int
	var dn string
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch k {
		case "dn":
			dn = v
			if strings.HasPrefix(v, "uid=") {
				users++
			} else if strings.HasPrefix(v, "cn=") {
				groups++
				members[dn] = nil
			}
		case "member":
			if slices.Contains(members[dn], v) {
				t.Errorf("%s: duplicate member %s", dn, v)
			}
			members[dn] = append(members[dn], v)
			if strings.HasPrefix(v, "uid=") {
				userMemberships++
			}
		case "memberOf":
			memberOf[dn] = append(memberOf[dn], v)
		}
	}
	if users != spec.Users || groups != spec.Groups || userMemberships != spec.Memberships {
		t.Errorf("got %d users, %d groups, %d memberships", users, groups, userMemberships)
	}
	var nested int
	inverse := map[string][]string{}
	for g, ms := range members {
		if len(ms) == 0 {
			t.Errorf("%s has no member", g)
		}
		for _, m := range ms {
			inverse[m] = append(inverse[m], g)
			if strings.HasPrefix(m, "cn=") {
				nested++
				if len(members[m]) > 0 && slices.ContainsFunc(members[m], func(s string) bool { return strings.HasPrefix(s, "cn=") }) {
					t.Errorf("chain: %s in %s has nested groups itself", m, g)
				}
			}
		}
	}
	if nested != 2 { // groups 9 and 19
		t.Errorf("got %d nested groups, want 2", nested)
	}
	for m, gs := range inverse {
		mo := memberOf[m]
		slices.Sort(mo)
		slices.Sort(gs)
		if !slices.Equal(mo, gs) {
			t.Errorf("%s: memberOf %v, groups listing it %v", m, mo, gs)
		}
	}
}

func TestGeneratedLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.ldif")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	spec := slapdtest.DataSpec{Users: 300, Groups: 30, Memberships: 900, NestEvery: 10, Password: "pw", MemberOf: true}
	if err := slapdtest.GenerateLDIF(f, spec); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	srv := slapdtest.Start(t, slapdtest.WithLDIFFile(path), slapdtest.WithLDIFIncludesBase(), slapdtest.WithMemberOf())
	c := srv.Conn(t)
	if got := search(t, c, srv.PeopleDN(), "(objectClass=inetOrgPerson)", "1.1"); len(got) != 300 {
		t.Errorf("got %d users", len(got))
	}
	g0 := srv.GroupDN(slapdtest.GenGroupCN(0))
	if got := search(t, c, srv.PeopleDN(), "(memberOf="+g0+")", "1.1"); len(got) != 30 {
		t.Errorf("got %d users with memberOf %s, want 30", len(got), g0)
	}
	u := srv.UserDN(slapdtest.GenUID(7))
	uc, err := goldap.DialURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if err := uc.Bind(u, "pw"); err != nil {
		t.Errorf("bind as %s: %v", u, err)
	}
}

func TestTLS(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture), slapdtest.WithTLS())
	pem, err := os.ReadFile(srv.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	c, err := goldap.DialURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(cfg); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Bind(srv.UserDN("alice"), "wonderland"); err != nil {
		t.Errorf("bind over StartTLS: %v", err)
	}

	lc, err := goldap.DialURL(srv.LDAPSURL(), goldap.DialWithTLSConfig(cfg))
	if err != nil {
		t.Fatalf("LDAPS: %v", err)
	}
	defer lc.Close()
	if err := lc.Bind(srv.AdminDN(), srv.AdminPassword()); err != nil {
		t.Errorf("bind over LDAPS: %v", err)
	}

	srv.Restart() // both ports come back
	lc2, err := goldap.DialURL(srv.LDAPSURL(), goldap.DialWithTLSConfig(cfg))
	if err != nil {
		t.Fatalf("LDAPS after restart: %v", err)
	}
	lc2.Close()
}
