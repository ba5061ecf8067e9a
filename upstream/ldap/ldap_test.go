package ldap_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/upstream"
	ldapup "github.com/dirgate/dirgate/upstream/ldap"
)

// fixture: three users (one more without a uid), a user (alice) in two
// groups, a group (admins) nested into another (devs), and member values
// spelled in another case than the entries' DNs.
const fixture = `
dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
givenName: Alice
displayName: Alice L.
mail: alice@example.com
userPassword: alice-pw

dn: uid=Bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: Bob
cn: Bob Builder
sn: Builder
givenName: Bob
mail: bob@example.com
userPassword: bob-pw

dn: uid=carol,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: carol
cn: Carol Singer
sn: Singer
mail: carol@example.com
userPassword: carol-pw

dn: cn=no uid,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
cn: no uid
sn: Nobody

dn: cn=admins,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: admins
description: Administrators
member: uid=alice,ou=people,dc=example,dc=com

dn: cn=devs,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: devs
description: Developers
member: UID=Alice, OU=People,dc=Example,dc=com
member: uid=bob,ou=people,dc=example,dc=com
member: cn=admins,ou=groups,dc=example,dc=com

dn: cn=ops,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: ops
member: uid=carol,ou=people,dc=example,dc=com
`

const (
	aliceKey  = "uid=alice,ou=people,dc=example,dc=com"
	bobKey    = "uid=bob,ou=people,dc=example,dc=com"
	carolKey  = "uid=carol,ou=people,dc=example,dc=com"
	adminsKey = "cn=admins,ou=groups,dc=example,dc=com"
	devsKey   = "cn=devs,ou=groups,dc=example,dc=com"
	opsKey    = "cn=ops,ou=groups,dc=example,dc=com"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testConfig(srv *slapdtest.Server) ldapup.Config {
	return ldapup.Config{
		URLs:         []string{srv.URL()},
		BindDN:       srv.AdminDN(),
		BindPassword: secret.String(srv.AdminPassword()),
		UserBase:     srv.PeopleDN(),
		GroupBase:    srv.GroupsDN(),
		Timeout:      5 * time.Second,
	}
}

func open(t *testing.T, cfg ldapup.Config) *ldapup.Upstream {
	t.Helper()
	u, err := ldapup.Open("staff", cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func doSync(t *testing.T, u *ldapup.Upstream, req upstream.SyncRequest) *upstream.SyncResult {
	t.Helper()
	res, err := u.Sync(t.Context(), req)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}

func userKeys(res *upstream.SyncResult) []string {
	var keys []string
	for _, u := range res.Users {
		keys = append(keys, u.Key)
	}
	slices.Sort(keys)
	return keys
}

func groupKeys(res *upstream.SyncResult) []string {
	var keys []string
	for _, g := range res.Groups {
		keys = append(keys, g.Key)
	}
	slices.Sort(keys)
	return keys
}

// deadURL returns an ldap:// URL of a loopback port nothing listens on.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "ldap://" + addr
}

func TestFullSync(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	u := open(t, testConfig(srv))
	if u.Type() != "ldap" {
		t.Errorf("Type() = %q", u.Type())
	}
	var progress []int
	res := doSync(t, u, upstream.SyncRequest{Full: true, Progress: func(n int) { progress = append(progress, n) }})

	if !res.Full {
		t.Error("Full = false")
	}
	if got, want := userKeys(res), []string{aliceKey, bobKey, carolKey}; !slices.Equal(got, want) {
		t.Fatalf("users %v, want %v (the entry without uid is skipped)", got, want)
	}
	if got, want := groupKeys(res), []string{adminsKey, devsKey, opsKey}; !slices.Equal(got, want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 7 {
		t.Errorf("progress %v, want it to end at 7 entries", progress)
	}

	// Operational attributes straight from slapd, to compare with.
	c := srv.Conn(t)
	op, err := c.Search(goldap.NewSearchRequest(srv.BaseDN(), goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(|(uid=alice)(cn=devs))", []string{"entryUUID", "createTimestamp", "modifyTimestamp"}, nil))
	if err != nil || len(op.Entries) != 2 {
		t.Fatalf("reading operational attributes: %v", err)
	}
	uuid := map[string]string{}
	for _, e := range op.Entries {
		uuid[strings.ToLower(e.DN)] = e.GetAttributeValue("entryUUID")
	}
	stamp, _ := time.Parse("20060102150405Z", op.Entries[0].GetAttributeValue("modifyTimestamp"))

	byKey := map[string]upstream.User{}
	for _, usr := range res.Users {
		byKey[usr.Key] = usr
		if err := usr.Validate(); err != nil {
			t.Error(err)
		}
	}
	alice := byKey[aliceKey]
	want := upstream.User{
		Key: aliceKey, ExternalID: uuid[aliceKey], Username: "alice", FirstName: "Alice", LastName: "Liddell",
		DisplayName: "Alice L.", Email: "alice@example.com", Active: true, Created: stamp, Updated: stamp,
	}
	if alice.ExternalID == "" || !alice.Created.Equal(stamp) || !alice.Updated.Equal(stamp) {
		t.Errorf("alice: %+v, want %+v", alice, want)
	}
	alice.Created, alice.Updated, want.Created, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if fmt.Sprintf("%+v", alice) != fmt.Sprintf("%+v", want) {
		t.Errorf("alice:\n got %+v\nwant %+v", alice, want)
	}
	bob := byKey[bobKey]
	if bob.Username != "Bob" || bob.DisplayName != "Bob Builder" || bob.FirstName != "Bob" || bob.Email != "bob@example.com" {
		t.Errorf("bob (display name from cn, username case kept): %+v", bob)
	}
	if carol := byKey[carolKey]; carol.FirstName != "" || carol.DisplayName != "Carol Singer" {
		t.Errorf("carol: %+v", carol)
	}

	groups := map[string]upstream.Group{}
	for _, g := range res.Groups {
		groups[g.Key] = g
		if err := g.Validate(); err != nil {
			t.Error(err)
		}
	}
	devs := groups[devsKey]
	if devs.Name != "devs" || devs.Description != "Developers" || !devs.Active || devs.ExternalID != uuid[devsKey] || devs.Created.IsZero() {
		t.Errorf("devs: %+v", devs)
	}
	if got, want := devs.Members, []string{aliceKey, bobKey, adminsKey}; !slices.Equal(got, want) {
		t.Errorf("devs members %v, want %v", got, want)
	}
	if got := groups[adminsKey].Members; !slices.Equal(got, []string{aliceKey}) {
		t.Errorf("admins members %v", got)
	}
	if got := groups[opsKey].Members; !slices.Equal(got, []string{carolKey}) {
		t.Errorf("ops members %v", got)
	}

	var cur map[string]any
	if err := json.Unmarshal(res.Cursor, &cur); err != nil || cur["mode"] != "modifyTimestamp" || cur["since"] == "" {
		t.Errorf("cursor %s: %v", res.Cursor, err)
	}
}

func TestIncrementalSync(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	u := open(t, testConfig(srv))
	res := doSync(t, u, upstream.SyncRequest{})
	if !res.Full || len(res.Users) != 3 {
		t.Fatalf("first sync: full=%v, %d users", res.Full, len(res.Users))
	}
	cursor := res.Cursor

	step := func(name string, wantUsers, wantGroups []string) *upstream.SyncResult {
		t.Helper()
		res := doSync(t, u, upstream.SyncRequest{Cursor: cursor})
		if res.Full {
			t.Fatalf("%s: got a full result", name)
		}
		if got := userKeys(res); !slices.Equal(got, wantUsers) {
			t.Errorf("%s: users %v, want %v", name, got, wantUsers)
		}
		if got := groupKeys(res); !slices.Equal(got, wantGroups) {
			t.Errorf("%s: groups %v, want %v", name, got, wantGroups)
		}
		cursor = res.Cursor
		return res
	}

	step("nothing changed", nil, nil)

	dave := srv.AddUser(t, "dave")
	res = step("user added", []string{"uid=dave,ou=people,dc=example,dc=com"}, nil)
	if res.Users[0].Username != "dave" || res.Users[0].Email != "dave@example.com" {
		t.Errorf("dave: %+v", res.Users[0])
	}

	srv.Modify(t, srv.UserDN("Bob"), slapdtest.Replace("mail", "robert@example.com"))
	res = step("email changed", []string{bobKey}, nil)
	if res.Users[0].Email != "robert@example.com" {
		t.Errorf("bob: %+v", res.Users[0])
	}

	// carol moves from ops to devs: both groups change, carol does not.
	srv.SetMembers(t, srv.GroupDN("ops"), srv.UserDN("alice"))
	srv.Modify(t, srv.GroupDN("devs"), slapdtest.AddValues("member", srv.UserDN("carol")))
	res = step("user moved", nil, []string{devsKey, opsKey})
	for _, g := range res.Groups {
		want := []string{aliceKey}
		if g.Key == devsKey {
			want = []string{aliceKey, bobKey, adminsKey, carolKey}
		}
		if !slices.Equal(g.Members, want) {
			t.Errorf("%s: members %v, want the complete list %v", g.Key, g.Members, want)
		}
	}

	srv.Modify(t, srv.GroupDN("admins"), slapdtest.AddValues("member", srv.GroupDN("ops")))
	res = step("group nested", nil, []string{adminsKey})
	if got := res.Groups[0].Members; !slices.Equal(got, []string{aliceKey, opsKey}) {
		t.Errorf("admins members %v", got)
	}

	// A deletion is not reported incrementally; the next full sync lacks it.
	srv.Delete(t, dave)
	step("user deleted", nil, nil)
	full := doSync(t, u, upstream.SyncRequest{Cursor: cursor, Full: true})
	if !full.Full {
		t.Fatal("Full request answered incrementally")
	}
	if got, want := userKeys(full), []string{aliceKey, bobKey, carolKey}; !slices.Equal(got, want) {
		t.Errorf("full sync after delete: users %v, want %v", got, want)
	}
	if len(full.Groups) != 3 {
		t.Errorf("full sync: %d groups", len(full.Groups))
	}

	// Cursors that cannot drive an incremental sync give a full one.
	for _, bad := range [][]byte{nil, []byte("garbage"), []byte(`{"v":1,"mode":"uSNChanged","usn":5,"server":"x","config":"y"}`)} {
		if res := doSync(t, u, upstream.SyncRequest{Cursor: bad}); !res.Full || len(res.Users) != 3 {
			t.Errorf("cursor %q: full=%v, %d users", bad, res.Full, len(res.Users))
		}
	}
	// So does a cursor made under other search settings.
	cfg := testConfig(srv)
	cfg.UserFilter = "(objectClass=person)"
	if res := doSync(t, open(t, cfg), upstream.SyncRequest{Cursor: cursor}); !res.Full {
		t.Error("cursor reused after the user filter changed")
	}
	// And incremental: none.
	cfg = testConfig(srv)
	cfg.Incremental = ldapup.IncrementalNone
	if res := doSync(t, open(t, cfg), upstream.SyncRequest{Cursor: cursor}); !res.Full || res.Cursor != nil {
		t.Errorf("incremental none: full=%v cursor=%s", res.Full, res.Cursor)
	}
}

func TestPaging(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.ldif")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, slapdtest.DataSpec{Users: 250, Groups: 7, Memberships: 500, NestEvery: 3}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	srv := slapdtest.Start(t, slapdtest.WithLDIFFile(path), slapdtest.WithLDIFIncludesBase())
	cfg := testConfig(srv)
	cfg.PageSize = 100
	u := open(t, cfg)
	var progress []int
	res := doSync(t, u, upstream.SyncRequest{Progress: func(n int) { progress = append(progress, n) }})

	seen := map[string]bool{}
	for _, usr := range res.Users {
		if seen[usr.Key] {
			t.Errorf("%s twice", usr.Key)
		}
		seen[usr.Key] = true
	}
	if len(seen) != 250 || len(res.Users) != 250 {
		t.Errorf("got %d users (%d distinct), want 250", len(res.Users), len(seen))
	}
	members := 0
	for _, g := range res.Groups {
		members += len(g.Members)
	}
	if len(res.Groups) != 7 || members != 500+2 { // 2 nested groups
		t.Errorf("got %d groups with %d members", len(res.Groups), members)
	}
	if want := []int{100, 200, 250, 257}; !slices.Equal(progress, want) {
		t.Errorf("progress %v, want %v (one call per page)", progress, want)
	}
}

func TestCheckPassword(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	cfg := testConfig(srv)
	cfg.BindConnections = 2
	u := open(t, cfg)
	ctx := t.Context()
	alice := &upstream.User{Key: aliceKey, Username: "alice"}
	check := func(usr *upstream.User, pw string, want bool) {
		t.Helper()
		ok, err := u.CheckPassword(ctx, usr, pw)
		if err != nil || ok != want {
			t.Errorf("CheckPassword(%s, %q) = %v, %v; want %v, nil", usr.Key, pw, ok, err, want)
		}
	}
	check(alice, "alice-pw", true)
	check(alice, "wrong", false)
	check(alice, "", false)
	check(&upstream.User{Key: "uid=nobody,ou=people,dc=example,dc=com"}, "x", false)
	check(&upstream.User{Key: bobKey}, "bob-pw", true)

	// Concurrent checks share the two bind connections.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			usr, pw := alice, "alice-pw"
			if i%2 == 1 {
				usr, pw = &upstream.User{Key: carolKey}, "carol-pw"
			}
			if ok, err := u.CheckPassword(ctx, usr, pw); !ok || err != nil {
				t.Errorf("concurrent check %d: %v, %v", i, ok, err)
			}
		})
	}
	wg.Wait()
	doSync(t, u, upstream.SyncRequest{}) // the sync connection is another one

	srv.Stop()
	// An empty password never reaches the server.
	check(alice, "", false)
	ok, err := u.CheckPassword(ctx, alice, "alice-pw")
	if ok || !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("server stopped: %v, %v; want ErrUnavailable", ok, err)
	}
	if _, err := u.Sync(ctx, upstream.SyncRequest{}); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("sync with the server stopped: %v; want ErrUnavailable", err)
	}

	srv.Restart()
	check(alice, "alice-pw", true)
	check(alice, "wrong", false)
	if res := doSync(t, u, upstream.SyncRequest{}); len(res.Users) != 3 {
		t.Errorf("sync after restart: %d users", len(res.Users))
	}
}

// TestReconnectAfterRestart: connections opened before a restart are
// replaced without an error reaching the caller.
func TestReconnectAfterRestart(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	u := open(t, testConfig(srv))
	doSync(t, u, upstream.SyncRequest{})
	if ok, err := u.CheckPassword(t.Context(), &upstream.User{Key: aliceKey}, "alice-pw"); !ok || err != nil {
		t.Fatalf("check: %v, %v", ok, err)
	}
	srv.Restart()
	if res := doSync(t, u, upstream.SyncRequest{}); len(res.Users) != 3 {
		t.Errorf("sync after restart: %d users", len(res.Users))
	}
	if ok, err := u.CheckPassword(t.Context(), &upstream.User{Key: aliceKey}, "alice-pw"); !ok || err != nil {
		t.Errorf("check after restart: %v, %v", ok, err)
	}
}

func TestFailover(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	cfg := testConfig(srv)
	cfg.URLs = []string{deadURL(t), srv.URL()}
	u := open(t, cfg)
	if err := u.Check(t.Context()); err != nil {
		t.Fatalf("check: %v", err)
	}
	res := doSync(t, u, upstream.SyncRequest{})
	if len(res.Users) != 3 {
		t.Errorf("%d users", len(res.Users))
	}
	var cur map[string]any
	if err := json.Unmarshal(res.Cursor, &cur); err != nil || cur["url"] != srv.URL() {
		t.Errorf("cursor %s does not name %s", res.Cursor, srv.URL())
	}
	if ok, err := u.CheckPassword(t.Context(), &upstream.User{Key: aliceKey}, "alice-pw"); !ok || err != nil {
		t.Errorf("check: %v, %v", ok, err)
	}

	// Nothing answers.
	cfg.URLs = []string{deadURL(t), deadURL(t)}
	u = open(t, cfg)
	if err := u.Check(t.Context()); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("check with no server: %v", err)
	}
	if _, err := u.Sync(t.Context(), upstream.SyncRequest{}); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("sync with no server: %v", err)
	}
}

func TestServiceCredentials(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	cfg := testConfig(srv)
	cfg.BindPassword = "not-the-password"
	u := open(t, cfg)
	_, err := u.Sync(t.Context(), upstream.SyncRequest{})
	if !errors.Is(err, upstream.ErrCredentials) {
		t.Fatalf("sync: %v, want ErrCredentials", err)
	}
	if msg := err.Error(); !strings.Contains(msg, srv.AdminDN()) || strings.Contains(msg, "not-the-password") {
		t.Errorf("message must name the bind DN and not the password: %s", msg)
	}
	if err := u.Check(t.Context()); !errors.Is(err, upstream.ErrCredentials) {
		t.Errorf("check: %v, want ErrCredentials", err)
	}
	// Password checks do not use the service account.
	if ok, err := u.CheckPassword(t.Context(), &upstream.User{Key: aliceKey}, "alice-pw"); !ok || err != nil {
		t.Errorf("check: %v, %v", ok, err)
	}

	// Anonymous: slapd's default access lets anybody read.
	cfg = testConfig(srv)
	cfg.BindDN, cfg.BindPassword = "", ""
	if res := doSync(t, open(t, cfg), upstream.SyncRequest{}); len(res.Users) != 3 {
		t.Errorf("anonymous sync: %d users", len(res.Users))
	}
}

func TestRejected(t *testing.T) {
	// reader may not search more than 5 candidate entries: slapd refuses
	// unindexed filters with adminLimitExceeded.
	srv := slapdtest.Start(t,
		slapdtest.WithLDIF(fixture+`
dn: cn=reader,dc=example,dc=com
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-pw
`),
		slapdtest.WithConfig(`limits dn.exact="cn=reader,dc=example,dc=com" size.unchecked=5`))
	for i := range 6 {
		srv.AddUser(t, fmt.Sprintf("extra%d", i))
	}

	cfg := testConfig(srv)
	cfg.UserBase = "ou=nobody,dc=example,dc=com"
	u := open(t, cfg)
	_, err := u.Sync(t.Context(), upstream.SyncRequest{})
	if !errors.Is(err, upstream.ErrRejected) || !strings.Contains(err.Error(), cfg.UserBase) || !strings.Contains(err.Error(), "No Such Object") {
		t.Errorf("missing base: %v", err)
	}
	if err := u.Check(t.Context()); !errors.Is(err, upstream.ErrRejected) || !strings.Contains(err.Error(), cfg.UserBase) {
		t.Errorf("check with a missing base: %v", err)
	}

	cfg = testConfig(srv)
	cfg.BindDN, cfg.BindPassword = "cn=reader,dc=example,dc=com", "reader-pw"
	cfg.UserFilter = "(description=*)"
	_, err = open(t, cfg).Sync(t.Context(), upstream.SyncRequest{})
	if !errors.Is(err, upstream.ErrRejected) || !strings.Contains(err.Error(), cfg.UserFilter) || !strings.Contains(err.Error(), "Admin Limit Exceeded") {
		t.Errorf("refused filter: %v", err)
	}
	// A narrow indexed filter passes the same limit.
	cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid=alice))"
	cfg.GroupFilter = "(cn=devs)"
	if res := doSync(t, open(t, cfg), upstream.SyncRequest{}); len(res.Users) != 1 || len(res.Groups) != 1 {
		t.Errorf("indexed filter: %d users, %d groups", len(res.Users), len(res.Groups))
	}

	// slapd 2.5 does not refuse an unknown matching rule or attribute: the
	// filter is Undefined and matches nothing.
	cfg = testConfig(srv)
	cfg.UserFilter = "(cn:fooMatch:=x)"
	if res := doSync(t, open(t, cfg), upstream.SyncRequest{}); len(res.Users) != 0 {
		t.Errorf("undefined filter: %d users", len(res.Users))
	}
}

func TestContext(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	cfg := testConfig(srv)
	cfg.PageSize = 2
	cfg.Timeout = time.Minute // a call that waited for it would be caught below
	u := open(t, cfg)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if _, err := u.Sync(ctx, upstream.SyncRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("sync: %v, want context.Canceled", err)
	}
	if _, err := u.CheckPassword(ctx, &upstream.User{Key: aliceKey}, "alice-pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("password check: %v, want context.Canceled", err)
	}
	if err := u.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("check: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancelled calls took %s", d)
	}

	// Cancelled in the middle: after the first page.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	_, err := u.Sync(ctx, upstream.SyncRequest{Progress: func(int) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("sync cancelled after a page: %v", err)
	}
	// The upstream recovers.
	if res := doSync(t, u, upstream.SyncRequest{}); len(res.Users) != 3 {
		t.Errorf("sync after cancel: %d users", len(res.Users))
	}
}

func TestClose(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	u := open(t, testConfig(srv))
	doSync(t, u, upstream.SyncRequest{})
	if ok, err := u.CheckPassword(t.Context(), &upstream.User{Key: aliceKey}, "alice-pw"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := u.Sync(t.Context(), upstream.SyncRequest{}); !errors.Is(err, ldapup.ErrClosed) {
		t.Errorf("sync after Close: %v", err)
	}
	if _, err := u.CheckPassword(t.Context(), &upstream.User{Key: aliceKey}, "alice-pw"); !errors.Is(err, ldapup.ErrClosed) {
		t.Errorf("password check after Close: %v", err)
	}
	if err := u.Check(t.Context()); !errors.Is(err, ldapup.ErrClosed) {
		t.Errorf("check after Close: %v", err)
	}
}

func TestOpenDoesNotConnect(t *testing.T) {
	cfg := ldapup.Config{URLs: []string{deadURL(t)}, UserBase: "ou=people,dc=example,dc=com", GroupBase: "ou=groups,dc=example,dc=com"}
	u, err := ldapup.Open("down", cfg, nil)
	if err != nil {
		t.Fatalf("Open with the server down: %v", err)
	}
	u.Close()
}

func TestTLS(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(fixture), slapdtest.WithTLS())
	alice := &upstream.User{Key: aliceKey}

	works := func(name string, cfg ldapup.Config) {
		t.Helper()
		u := open(t, cfg)
		if res, err := u.Sync(t.Context(), upstream.SyncRequest{}); err != nil || len(res.Users) != 3 {
			t.Errorf("%s: sync: %v", name, err)
		}
		if ok, err := u.CheckPassword(t.Context(), alice, "alice-pw"); !ok || err != nil {
			t.Errorf("%s: password check: %v, %v", name, ok, err)
		}
	}
	fails := func(name string, cfg ldapup.Config) {
		t.Helper()
		u := open(t, cfg)
		if _, err := u.Sync(t.Context(), upstream.SyncRequest{}); !errors.Is(err, upstream.ErrUnavailable) {
			t.Errorf("%s: sync: %v, want ErrUnavailable", name, err)
		}
		if ok, err := u.CheckPassword(t.Context(), alice, "alice-pw"); ok || !errors.Is(err, upstream.ErrUnavailable) {
			t.Errorf("%s: password check: %v, %v; want ErrUnavailable", name, ok, err)
		}
	}

	cfg := testConfig(srv)
	cfg.StartTLS = true
	cfg.TLS.CAFile = srv.CAFile()
	works("StartTLS", cfg)

	cfg = testConfig(srv)
	cfg.URLs = []string{srv.LDAPSURL()}
	cfg.TLS.CAFile = srv.CAFile()
	works("LDAPS", cfg)

	cfg.TLS.ServerName = "localhost" // also in the certificate
	works("LDAPS with server_name", cfg)

	cfg.TLS.ServerName = "ldap.example.org"
	fails("LDAPS, certificate for another name", cfg)

	cfg = testConfig(srv)
	cfg.URLs = []string{srv.LDAPSURL()}
	fails("LDAPS, unknown CA", cfg)
	cfg.TLS.InsecureSkipVerify = true
	works("LDAPS, verification off", cfg)

	cfg = testConfig(srv)
	cfg.StartTLS = true
	fails("StartTLS, unknown CA", cfg)

	// A server without TLS refuses StartTLS; the connection is closed
	// rather than left hanging, and failover moves on.
	plain := slapdtest.Start(t, slapdtest.WithLDIF(fixture))
	cfg = testConfig(plain)
	cfg.StartTLS = true
	cfg.Timeout = time.Minute
	fails("StartTLS refused", cfg)
	cfg.URLs = []string{plain.URL(), srv.URL()}
	cfg.TLS.CAFile = srv.CAFile()
	works("StartTLS refused, then failover", cfg)
}
