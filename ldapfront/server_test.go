package ldapfront

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/certs"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/ldapfront/filter"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/local"
)

const base = "dc=example,dc=com"

// cheapHash hashes a test password with tiny argon2 costs.
func cheapHash(t testing.TB, pw string) string {
	h, err := secret.HashParams(pw, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// env is a running frontend over a store with a local directory:
// alice, bob, carol (passwords "<name>-pw"), dave (inactive); groups
// devs{alice}, ops{bob, carol}, staff{devs, ops}, all{staff}; and the
// service account reader/reader-pw.
type env struct {
	store  *cache.Store
	srv    *Server
	addr   string
	ldaps  string
	tls    *tls.Config // client side, trusting the server
	caFile string
}

type envOpt func(*Config)

func seedFile(t testing.TB) string {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range []struct{ name, first, last string }{{"alice", "Alice", "Liddell"}, {"bob", "Bob", "Builder"}, {"carol", "Carol", "Danvers"}, {"dave", "Dave", "Bowman"}} {
		fmt.Fprintf(&b, "  - username: %s\n    first_name: %s\n    last_name: %s\n    email: %s@example.com\n    password_hash: %q\n",
			u.name, u.first, u.last, u.name, cheapHash(t, u.name+"-pw"))
		if u.name == "dave" {
			b.WriteString("    active: false\n")
		}
	}
	b.WriteString(`groups:
  - name: devs
    description: Developers
    users: [alice]
  - name: ops
    users: [bob, carol]
  - name: staff
    groups: [devs, ops]
  - name: all
    groups: [staff]
`)
	p := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"internal", "bulk"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	lu, err := local.Open("internal", local.Config{SeedFile: seedFile(t)}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Listen:          "127.0.0.1:0",
		Tree:            &Tree{BaseDN: base, TransitiveMemberOf: true, ServiceAccounts: []string{"reader"}},
		ServiceAccounts: []ServiceAccount{{Name: "reader", PasswordHash: cheapHash(t, "reader-pw")}},
		Checkers:        map[string]upstream.PasswordChecker{"internal": lu},
		Limits:          Limits{IdleTimeout: time.Minute},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	e := &env{store: store, srv: srv}
	e.addr, e.ldaps = srv.Addrs()
	return e
}

func (e *env) dial(t testing.TB) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL("ldap://" + e.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(10 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) reader(t testing.TB) *goldap.Conn {
	c := e.dial(t)
	if err := c.Bind("cn=reader,ou=services,"+base, "reader-pw"); err != nil {
		t.Fatal(err)
	}
	return c
}

func code(err error) uint16 {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	if err == nil {
		return 0
	}
	return 0xffff
}

func search(t testing.TB, c *goldap.Conn, baseDN string, scope int, flt string, attrs ...string) []*goldap.Entry {
	t.Helper()
	r, err := c.Search(goldap.NewSearchRequest(baseDN, scope, goldap.NeverDerefAliases, 0, 0, false, flt, attrs, nil))
	if err != nil {
		t.Fatalf("search %s %q: %v", baseDN, flt, err)
	}
	return r.Entries
}

func dns(es []*goldap.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.DN)
	}
	sort.Strings(out)
	return out
}

func userDN(n string) string  { return "uid=" + n + ",ou=users," + base }
func groupDN(n string) string { return "cn=" + n + ",ou=groups," + base }

func TestRootDSEAndAnonymousAccess(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t)
	es := search(t, c, "", goldap.ScopeBaseObject, "(objectClass=*)", "+")
	if len(es) != 1 {
		t.Fatalf("root DSE: %d entries", len(es))
	}
	dse := es[0]
	if dse.GetAttributeValue("namingContexts") != base || dse.GetAttributeValue("supportedLDAPVersion") != "3" ||
		!slices.Contains(dse.GetAttributeValues("supportedControl"), "1.2.840.113556.1.4.319") ||
		dse.GetAttributeValue("vendorName") != "dirgate" || dse.GetAttributeValue("subschemaSubentry") != "cn=Subschema" {
		t.Fatalf("root DSE %+v", dse.Attributes)
	}
	if es := search(t, c, "", goldap.ScopeBaseObject, "(objectClass=*)"); len(es[0].Attributes) != 1 {
		t.Errorf("root DSE without '+' should show objectClass only, got %d attributes", len(es[0].Attributes))
	}
	schema := search(t, c, "cn=Subschema", goldap.ScopeBaseObject, "(objectClass=subschema)", "attributeTypes", "objectClasses")
	if len(schema) != 1 || len(schema[0].GetAttributeValues("attributeTypes")) < 10 {
		t.Fatalf("subschema %+v", schema)
	}
	_, err := c.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=alice)", nil, nil))
	if code(err) != goldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("anonymous search: %v", err)
	}
	// Allowed when configured.
	e2 := newEnv(t, func(c *Config) { c.AllowAnonymousSearch = true })
	if es := search(t, e2.dial(t), base, goldap.ScopeWholeSubtree, "(uid=alice)"); len(es) != 1 {
		t.Fatalf("allow_anonymous_search: %d entries", len(es))
	}
}

func TestBinds(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, pw string
		want     uint16
	}{
		{"cn=reader,ou=services," + base, "reader-pw", 0},
		{"CN=Reader, OU=Services, DC=Example, DC=Com", "reader-pw", 0},
		{"cn=reader,ou=services," + base, "wrong", goldap.LDAPResultInvalidCredentials},
		{"cn=nobody,ou=services," + base, "x", goldap.LDAPResultInvalidCredentials},
		{userDN("alice"), "alice-pw", 0},
		{"alice", "alice-pw", 0},
		{"ALICE", "alice-pw", 0},
		{"alice@example.com", "alice-pw", 0},
		{"alice", "bob-pw", goldap.LDAPResultInvalidCredentials},
		{"dave", "dave-pw", goldap.LDAPResultInvalidCredentials}, // inactive
		{"nobody", "x", goldap.LDAPResultInvalidCredentials},
		{"uid=alice,ou=elsewhere," + base, "alice-pw", goldap.LDAPResultInvalidCredentials},
		{"uid=alice,,", "alice-pw", goldap.LDAPResultInvalidDNSyntax},
	} {
		err := e.dial(t).Bind(tc.name, tc.pw)
		if code(err) != tc.want {
			t.Errorf("bind %q/%q: %v, want code %d", tc.name, tc.pw, err, tc.want)
		}
	}
	// An unauthenticated bind (name, no password) never authenticates.
	c := e.dial(t)
	err := c.UnauthenticatedBind("alice")
	if code(err) != goldap.LDAPResultUnwillingToPerform {
		t.Fatalf("unauthenticated bind: %v", err)
	}
	if _, err := c.Search(goldap.NewSearchRequest(base, 2, 0, 0, 0, false, "(uid=alice)", nil, nil)); code(err) != goldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("after an unauthenticated bind the connection must be anonymous: %v", err)
	}
	// A user can search after binding; a failed bind drops the identity.
	c = e.dial(t)
	if err := c.Bind("bob", "bob-pw"); err != nil {
		t.Fatal(err)
	}
	if es := search(t, c, base, 2, "(uid=alice)"); len(es) != 1 {
		t.Fatal("bound user cannot search")
	}
	_ = c.Bind("bob", "wrong")
	if _, err := c.Search(goldap.NewSearchRequest(base, 2, 0, 0, 0, false, "(uid=alice)", nil, nil)); code(err) != goldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("a failed bind must leave the connection anonymous: %v", err)
	}
}

func TestScopesAndNoSuchObject(t *testing.T) {
	e := newEnv(t)
	c := e.reader(t)
	for _, tc := range []struct {
		base  string
		scope int
		want  []string
	}{
		{base, goldap.ScopeBaseObject, []string{base}},
		{base, goldap.ScopeSingleLevel, []string{"ou=groups," + base, "ou=services," + base, "ou=users," + base}},
		{"ou=users," + base, goldap.ScopeSingleLevel, []string{userDN("alice"), userDN("bob"), userDN("carol"), userDN("dave")}},
		{"ou=services," + base, goldap.ScopeWholeSubtree, []string{"cn=reader,ou=services," + base, "ou=services," + base}},
		{"OU=Groups, DC=Example,DC=com", goldap.ScopeSingleLevel, []string{groupDN("all"), groupDN("devs"), groupDN("ops"), groupDN("staff")}},
		{userDN("alice"), goldap.ScopeBaseObject, []string{userDN("alice")}},
		{userDN("alice"), goldap.ScopeSingleLevel, nil},
		{groupDN("devs"), goldap.ScopeWholeSubtree, []string{groupDN("devs")}},
		{base, goldap.ScopeChildren, nil}, // checked by count below
	} {
		got := dns(search(t, c, tc.base, tc.scope, "(objectClass=*)", "1.1"))
		if tc.scope == goldap.ScopeChildren {
			if len(got) != 3+4+4+1 {
				t.Errorf("subordinate subtree of the base: %d entries", len(got))
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("search %q scope %d = %q, want %q", tc.base, tc.scope, got, tc.want)
		}
	}
	if got := search(t, c, base, goldap.ScopeWholeSubtree, "(objectClass=*)", "1.1"); len(got) != 1+3+4+4+1 {
		t.Errorf("whole tree: %d entries", len(got))
	}
	for _, tc := range []struct{ base, matched string }{
		{userDN("nobody"), "ou=users," + base},
		{"cn=x," + userDN("alice"), "ou=users," + base},
		{"ou=nowhere," + base, base},
		{"dc=other,dc=org", ""},
		{"", ""}, // the root DSE has no subtree
	} {
		scope := goldap.ScopeBaseObject
		if tc.base == "" {
			scope = goldap.ScopeWholeSubtree
		}
		_, err := c.Search(goldap.NewSearchRequest(tc.base, scope, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		var le *goldap.Error
		if !errors.As(err, &le) || le.ResultCode != goldap.LDAPResultNoSuchObject || le.MatchedDN != tc.matched {
			t.Errorf("search %q: %v (matched %q), want noSuchObject matched %q", tc.base, err, matchedOf(err), tc.matched)
		}
	}
}

func matchedOf(err error) string {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.MatchedDN
	}
	return ""
}

func TestFilters(t *testing.T) {
	e := newEnv(t)
	c := e.reader(t)
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"(&(objectClass=inetOrgPerson)(uid=alice))", []string{userDN("alice")}},
		{"(uid=ALICE)", []string{userDN("alice")}},
		{"(mail=bob@EXAMPLE.com)", []string{userDN("bob")}},
		{"(cn=Carol Danvers)", []string{userDN("carol")}},
		{"(cn=devs)", []string{groupDN("devs")}},
		{"(cn=ca*)", []string{userDN("carol")}},
		{"(&(objectClass=person)(sn=*e*))", []string{userDN("alice"), userDN("bob"), userDN("carol")}},
		{"(|(uid=alice)(uid=bob)(cn=ops))", []string{groupDN("ops"), userDN("alice"), userDN("bob")}},
		{"(&(objectClass=groupOfNames)(!(cn=all)))", []string{groupDN("devs"), groupDN("ops"), groupDN("staff")}},
		{"(memberOf=" + groupDN("all") + ")", []string{groupDN("devs"), groupDN("ops"), groupDN("staff"), userDN("alice"), userDN("bob"), userDN("carol")}},
		{"(&(uid=alice)(memberOf=" + groupDN("staff") + "))", []string{userDN("alice")}},
		{"(&(uid=alice)(memberOf=" + groupDN("ops") + "))", nil},
		{"(&(uid=alice)(memberOf=" + strings.ToUpper(groupDN("staff")) + "))", []string{userDN("alice")}},
		{"(&(uid=alice)(memberOf=" + strings.ReplaceAll(groupDN("all"), ",", " , ") + "))", []string{userDN("alice")}},
		{"(&(uid=alice)(memberOf=" + groupDN("nope") + "))", nil},
		{"(&(uid=alice)(!(memberOf=" + groupDN("ops") + ")))", []string{userDN("alice")}},
		{"(memberOf:1.2.840.113556.1.4.1941:=" + groupDN("staff") + ")", []string{groupDN("devs"), groupDN("ops"), userDN("alice"), userDN("bob"), userDN("carol")}},
		{"(member:1.2.840.113556.1.4.1941:=" + userDN("alice") + ")", []string{groupDN("all"), groupDN("devs"), groupDN("staff")}},
		{"(member=" + userDN("bob") + ")", []string{groupDN("ops")}},
		{"(member=" + groupDN("devs") + ")", []string{groupDN("staff")}},
		{"(&(objectClass=inetOrgPerson)(uid=nobody))", nil},
		{"(&)", nil}, // checked by count below
	} {
		got := dns(search(t, c, base, goldap.ScopeWholeSubtree, tc.filter, "1.1"))
		if tc.filter == "(&)" {
			if len(got) != 13 {
				t.Errorf("(&) matched %d entries, want every one", len(got))
			}
			continue
		}
		want := slices.Clone(tc.want)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("filter %s = %q, want %q", tc.filter, got, want)
		}
	}
}

func TestAttributeSelection(t *testing.T) {
	e := newEnv(t)
	c := e.reader(t)
	get := func(attrs ...string) *goldap.Entry {
		es := search(t, c, userDN("alice"), goldap.ScopeBaseObject, "(objectClass=*)", attrs...)
		if len(es) != 1 {
			t.Fatalf("alice: %d entries", len(es))
		}
		return es[0]
	}
	names := func(e *goldap.Entry) []string {
		var out []string
		for _, a := range e.Attributes {
			out = append(out, a.Name)
		}
		return out
	}
	all := names(get())
	if !slices.Contains(all, "memberOf") || slices.Contains(all, "entryUUID") || !slices.Contains(all, "objectClass") {
		t.Errorf("default attributes %q", all)
	}
	if got := names(get("+")); !slices.Equal(got, []string{"entryUUID", "createTimestamp", "modifyTimestamp"}) {
		t.Errorf("'+' gives %q", got)
	}
	if got := names(get("*", "+")); len(got) != len(all)+3 {
		t.Errorf("'* +' gives %q", got)
	}
	if got := names(get("1.1")); len(got) != 0 {
		t.Errorf("'1.1' gives %q", got)
	}
	if got := names(get("UID", "commonName", "entryuuid", "nonexistent")); !slices.Equal(got, []string{"uid", "cn", "entryUUID"}) {
		t.Errorf("named attributes give %q", got)
	}
	memberOf := get("memberOf").GetAttributeValues("memberOf")
	if !slices.Equal(memberOf, []string{groupDN("all"), groupDN("devs"), groupDN("staff")}) {
		t.Errorf("transitive memberOf %q", memberOf)
	}
	r, err := c.Search(goldap.NewSearchRequest(userDN("alice"), 0, 0, 0, 0, true, "(objectClass=*)", []string{"mail", "cn"}, nil))
	if err != nil || len(r.Entries) != 1 || len(r.Entries[0].Attributes) != 2 || len(r.Entries[0].Attributes[0].Values) != 0 {
		t.Fatalf("typesOnly: %v %+v", err, r)
	}
}

func TestSizeAndTimeLimits(t *testing.T) {
	e := newEnv(t)
	c := e.reader(t)
	r, err := c.Search(goldap.NewSearchRequest("ou=users,"+base, goldap.ScopeSingleLevel, 0, 2, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if code(err) != goldap.LDAPResultSizeLimitExceeded || r == nil || len(r.Entries) != 2 {
		t.Fatalf("size limit: %v, %v", err, r)
	}
	e2 := newEnv(t, func(c *Config) { c.Limits.MaxSizeLimit = 3 })
	r, err = e2.reader(t).Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if code(err) != goldap.LDAPResultSizeLimitExceeded || len(r.Entries) != 3 {
		t.Fatalf("server size limit: %v, %d entries", err, len(r.Entries))
	}
}

// bulk adds n users named user00000... to the "bulk" upstream.
func (e *env) bulk(t testing.TB, n int) {
	t.Helper()
	users := make([]upstream.User, n)
	for i := range users {
		users[i] = upstream.User{Key: fmt.Sprint("k", i), Username: fmt.Sprintf("user%05d", i), Email: fmt.Sprintf("user%05d@bulk.example.com", i), Active: true}
	}
	if _, err := e.store.ApplySync(context.Background(), "bulk", &upstream.SyncResult{Full: true, Users: users}, cache.SyncOptions{MaxDeletePercent: 100}); err != nil {
		t.Fatal(err)
	}
}

func TestPagedResults(t *testing.T) {
	e := newEnv(t)
	e.bulk(t, 10_000)
	c := e.reader(t)
	req := goldap.NewSearchRequest("ou=users,"+base, goldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil)
	r, err := c.SearchWithPaging(req, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, en := range r.Entries {
		if seen[en.DN] {
			t.Fatalf("%s returned twice", en.DN)
		}
		seen[en.DN] = true
	}
	if len(seen) != 10_004 {
		t.Fatalf("paged search returned %d entries, want 10004", len(seen))
	}

	// Page sizes are honoured exactly; a cookie is good for one page.
	paging := goldap.NewControlPaging(7)
	r, err = c.Search(goldap.NewSearchRequest("ou=users,"+base, 1, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, []goldap.Control{paging}))
	if err != nil || len(r.Entries) != 7 {
		t.Fatalf("first page: %v, %d entries", err, len(r.Entries))
	}
	cookie := goldap.FindControl(r.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging).Cookie
	if len(cookie) == 0 {
		t.Fatal("no cookie")
	}
	next := goldap.NewControlPaging(7)
	next.SetCookie(cookie)
	r, err = c.Search(goldap.NewSearchRequest("ou=users,"+base, 1, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, []goldap.Control{next}))
	if err != nil || len(r.Entries) != 7 {
		t.Fatalf("second page: %v", err)
	}
	for name, ctrl := range map[string]*goldap.ControlPaging{"reused": next, "forged": {PagingSize: 7, Cookie: []byte("forged")}} {
		_, err = c.Search(goldap.NewSearchRequest("ou=users,"+base, 1, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, []goldap.Control{ctrl}))
		if code(err) != goldap.LDAPResultProtocolError {
			t.Errorf("%s cookie: %v", name, err)
		}
	}
	// A cookie is bound to its search.
	first := goldap.NewControlPaging(5)
	r, _ = c.Search(goldap.NewSearchRequest("ou=users,"+base, 1, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, []goldap.Control{first}))
	other := goldap.NewControlPaging(5)
	other.SetCookie(goldap.FindControl(r.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging).Cookie)
	if _, err := c.Search(goldap.NewSearchRequest("ou=groups,"+base, 1, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, []goldap.Control{other})); code(err) != goldap.LDAPResultProtocolError {
		t.Errorf("cookie used for another search: %v", err)
	}
}

func TestReadOnlyAndUnsupportedOperations(t *testing.T) {
	e := newEnv(t)
	c := e.reader(t)
	add := goldap.NewAddRequest("uid=x,ou=users,"+base, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	for name, err := range map[string]error{
		"add":    c.Add(add),
		"modify": c.Modify(goldap.NewModifyRequest(userDN("alice"), nil)),
		"delete": c.Del(goldap.NewDelRequest(userDN("alice"), nil)),
	} {
		var le *goldap.Error
		if !errors.As(err, &le) || le.ResultCode != goldap.LDAPResultUnwillingToPerform || le.MatchedDN != "" || strings.Contains(le.Err.Error(), "Unused") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.PasswordModify(goldap.NewPasswordModifyRequest("", "a", "b")); code(err) != goldap.LDAPResultProtocolError {
		t.Errorf("password modify (unsupported extended operation): %v", err)
	}
	// The connection still works.
	if es := search(t, c, userDN("alice"), 0, "(objectClass=*)"); len(es) != 1 {
		t.Fatal("connection broken after refused operations")
	}
	// gldap cannot parse Compare, ModifyDN, Abandon or SASL binds: it drops
	// the connection without a response (libraries.md §1.3). The client
	// sees the connection closed, and the server goes on serving others.
	for name, op := range map[string]func(*goldap.Conn) error{
		"compare": func(c *goldap.Conn) error { _, err := c.Compare(userDN("alice"), "uid", "alice"); return err },
		"modifydn": func(c *goldap.Conn) error {
			return c.ModifyDN(goldap.NewModifyDNRequest(userDN("alice"), "uid=alicia", true, ""))
		},
		"sasl external": func(c *goldap.Conn) error { return c.ExternalBind() },
	} {
		cc := e.reader(t)
		if err := op(cc); err == nil || !cc.IsClosing() {
			t.Errorf("%s: %v, want the connection closed", name, err)
		}
	}
	// The same for extensible matches with the :dn: flag: gldap cannot
	// decode the dnAttributes boolean off the wire. (Our evaluator handles
	// :dn:, see TestDNAttributesFilter.)
	cc := e.reader(t)
	if _, err := cc.Search(goldap.NewSearchRequest(base, 2, 0, 0, 0, false, "(ou:dn:=users)", nil, nil)); err == nil || !cc.IsClosing() {
		t.Errorf(":dn: filter: %v, want the connection closed", err)
	}
	if es := search(t, e.reader(t), userDN("alice"), 0, "(objectClass=*)"); len(es) != 1 {
		t.Fatal("server broken after dropped connections")
	}
}

// panicky is a password checker that panics.
type panicky struct{}

func (panicky) CheckPassword(context.Context, *upstream.User, string) (bool, error) { panic("boom") }

// blocking is a password checker that waits until released.
type blocking struct {
	started chan struct{}
	release chan struct{}
}

func (b blocking) CheckPassword(ctx context.Context, _ *upstream.User, _ string) (bool, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func TestPanicIsRecovered(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Checkers = map[string]upstream.PasswordChecker{"internal": panicky{}} })
	err := e.dial(t).Bind("alice", "alice-pw")
	if code(err) != goldap.LDAPResultOperationsError {
		t.Fatalf("bind with a panicking checker: %v", err)
	}
	if es := search(t, e.reader(t), userDN("alice"), 0, "(objectClass=*)"); len(es) != 1 {
		t.Fatal("server broken after a panic")
	}
}

func TestBusyAndConnectionLimits(t *testing.T) {
	b := blocking{started: make(chan struct{}, 10), release: make(chan struct{})}
	e := newEnv(t, func(c *Config) {
		c.Checkers = map[string]upstream.PasswordChecker{"internal": b}
		c.Limits.MaxInFlight = 1
		c.Limits.MaxConnections = 2
	})
	c := e.dial(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Bind("alice", "alice-pw") }()
	<-b.started
	// The same connection has a request in flight: busy.
	if _, err := c.Search(goldap.NewSearchRequest("", 0, 0, 0, 0, false, "(objectClass=*)", nil, nil)); code(err) != goldap.LDAPResultBusy {
		t.Errorf("second request in flight: %v", err)
	}
	// A second connection works; a third is over the limit.
	c2 := e.dial(t)
	if _, err := c2.Search(goldap.NewSearchRequest("", 0, 0, 0, 0, false, "(objectClass=*)", nil, nil)); err != nil {
		t.Errorf("second connection: %v", err)
	}
	c3 := e.dial(t)
	if _, err := c3.Search(goldap.NewSearchRequest("", 0, 0, 0, 0, false, "(objectClass=*)", nil, nil)); code(err) != goldap.LDAPResultBusy {
		t.Errorf("third connection: %v", err)
	}
	close(b.release)
	wg.Wait()
}

func TestIdleTimeoutAndShutdown(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.IdleTimeout = 200 * time.Millisecond })
	c := e.reader(t)
	// Wait for the server to close the idle connection: the next request
	// fails. (The client notices the close; no sleep is needed to sync.)
	deadline := time.Now().Add(10 * time.Second)
	for !c.IsClosing() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !c.IsClosing() {
		t.Fatal("idle connection not closed")
	}

	// Shutdown with an idle client and a request in flight: the request
	// finishes, the idle client does not hold the server up.
	b := blocking{started: make(chan struct{}, 1), release: make(chan struct{})}
	e2 := newEnv(t, func(c *Config) { c.Checkers = map[string]upstream.PasswordChecker{"internal": b} })
	idle := e2.reader(t)
	_ = idle
	busy := e2.dial(t)
	bindErr := make(chan error, 1)
	go func() { bindErr <- busy.Bind("alice", "alice-pw") }()
	<-b.started
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- e2.srv.Shutdown(ctx)
	}()
	// Release the check only once Shutdown has begun, so that it is
	// always the request in flight that shutdown must let finish.
	<-e2.srv.ctx.Done()
	close(b.release)
	if err := <-bindErr; err != nil {
		t.Fatalf("the request in flight did not finish: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestDNAttributesFilter runs :dn: filters through the search path itself,
// since gldap cannot pass them from the wire.
func TestDNAttributesFilter(t *testing.T) {
	e := newEnv(t)
	for flt, want := range map[string]int{"(ou:dn:=users)": 5, "(uid:dn:=users)": 0, "(dc:dn:=example)": 13, "(:dn:2.5.13.2:=GROUPS)": 5} {
		f, err := filter.Parse(flt, filter.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		q := &query{baseDN: e.srv.cfg.Tree.normBase, scope: scopeSub, filter: f, deadline: time.Now().Add(time.Minute)}
		segs, code, _ := e.srv.segments(q)
		if code != 0 {
			t.Fatal(code)
		}
		n := 0
		e.srv.walk(q, segs, position{}, 0, func(*served) bool { n++; return true })
		if n != want {
			t.Errorf("%s matched %d entries, want %d", flt, n, want)
		}
	}
}

// tlsEnv is newEnv with StartTLS and LDAPS on a self-signed certificate.
func tlsEnv(t *testing.T) *env {
	src, err := certs.Open(certs.Config{Dir: filepath.Join(t.TempDir(), "certs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	e := newEnv(t, func(c *Config) { c.TLS = src.TLSConfig(); c.LDAPSListen = "127.0.0.1:0" })
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(src.Info().CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	e.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	e.caFile = src.Info().CAFile
	return e
}

func TestStartTLSAndLDAPS(t *testing.T) {
	e := tlsEnv(t)
	c := e.dial(t)
	if err := c.StartTLS(e.tls); err != nil {
		t.Fatal(err)
	}
	if st, ok := c.TLSConnectionState(); !ok || st.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %v %v", st, ok)
	}
	if err := c.Bind("alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	if es := search(t, c, base, 2, "(uid=bob)"); len(es) != 1 {
		t.Fatal("search over StartTLS")
	}
	// A second StartTLS is refused.
	if err := c.StartTLS(e.tls); err == nil {
		t.Fatal("second StartTLS accepted")
	}

	lc, err := goldap.DialURL("ldaps://"+e.ldaps, goldap.DialWithTLSConfig(e.tls))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if err := lc.Bind("cn=reader,ou=services,"+base, "reader-pw"); err != nil {
		t.Fatal(err)
	}
	if es := search(t, lc, base, 2, "(uid=carol)"); len(es) != 1 {
		t.Fatal("search over LDAPS")
	}
	// TLS 1.1 is refused.
	old := e.tls.Clone()
	old.MaxVersion = tls.VersionTLS11
	if c, err := goldap.DialURL("ldaps://"+e.ldaps, goldap.DialWithTLSConfig(old)); err == nil {
		c.SetTimeout(2 * time.Second)
		if err := c.Bind("alice", "alice-pw"); err == nil {
			t.Fatal("TLS 1.1 accepted")
		}
		c.Close()
	}
	// A plain client on the LDAPS port gets nothing.
	pc, err := goldap.DialURL("ldap://" + e.ldaps)
	if err == nil {
		pc.SetTimeout(2 * time.Second)
		if err := pc.Bind("alice", "alice-pw"); err == nil {
			t.Fatal("plain LDAP worked on the LDAPS port")
		}
		pc.Close()
	}
}

func TestFailedBindsAreThrottled(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t)
	for range 3 {
		_ = c.Bind("alice", "wrong")
	}
	start := time.Now()
	if err := c.Bind("alice", "wrong"); code(err) != goldap.LDAPResultInvalidCredentials {
		t.Fatal(err)
	}
	// Three failures: the fourth attempt waits 400ms before it is checked.
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Fatalf("fourth failed bind answered after %v", d)
	}
}

func TestTimeLimitAndFilterLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.MaxTimeLimit = time.Nanosecond })
	e.bulk(t, 2000)
	c := e.reader(t)
	// An unindexed filter over every user cannot finish in a nanosecond.
	_, err := c.Search(goldap.NewSearchRequest(base, 2, 0, 0, 0, false, "(description=nothing)", []string{"1.1"}, nil))
	if code(err) != goldap.LDAPResultTimeLimitExceeded {
		t.Fatalf("server time limit: %v", err)
	}

	e2 := newEnv(t, func(c *Config) { c.Limits.MaxFilterDepth = 4; c.Limits.MaxFilterNodes = 6 })
	c2 := e2.reader(t)
	for _, f := range []string{"(&(|(&(!(uid=a))))(cn=b))", "(|(a=1)(b=2)(c=3)(d=4)(e=5)(f=6)(g=7))"} {
		if _, err := c2.Search(goldap.NewSearchRequest(base, 2, 0, 0, 0, false, f, nil, nil)); code(err) != goldap.LDAPResultUnwillingToPerform {
			t.Errorf("filter %s: %v, want unwillingToPerform", f, err)
		}
	}
	if es := search(t, c2, base, 2, "(&(uid=alice)(objectClass=person))"); len(es) != 1 {
		t.Fatal("a filter within the limits failed")
	}
}

func TestPagingCursorsAreBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.MaxCursors = 2 })
	c := e.reader(t)
	page := func(cookie []byte) ([]byte, error) {
		p := goldap.NewControlPaging(1)
		p.SetCookie(cookie)
		r, err := c.Search(goldap.NewSearchRequest("ou=users,"+base, 1, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, []goldap.Control{p}))
		if err != nil {
			return nil, err
		}
		return goldap.FindControl(r.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging).Cookie, nil
	}
	first, err := page(nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // two more cursors push the first one out
		if _, err := page(nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := page(first); code(err) != goldap.LDAPResultProtocolError {
		t.Fatalf("an evicted cursor: %v", err)
	}
}

func TestOversizedMessageClosesOnlyItsConnection(t *testing.T) {
	saved := ber.MaxPacketLengthBytes // a process-wide setting: put it back
	t.Cleanup(func() { ber.MaxPacketLengthBytes = saved })
	e := newEnv(t, func(c *Config) { c.Limits.MaxPDU = 64 << 10 })
	c := e.reader(t)
	huge := strings.Repeat("x", 100<<10)
	_, err := c.Search(goldap.NewSearchRequest(base, 2, 0, 0, 0, false, "(cn="+huge+")", nil, nil))
	if err == nil {
		t.Fatal("a 100 KiB request was accepted with a 64 KiB limit")
	}
	if es := search(t, e.reader(t), base, 2, "(uid=alice)"); len(es) != 1 {
		t.Fatal("the server stopped serving others")
	}
}
