package restfront

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/upstream"
	ldapup "github.com/dirgate/dirgate/upstream/ldap"
	"github.com/dirgate/dirgate/upstream/local"
)

// replayEnv is dirgate over a real slapd ("corp") and its local directory
// ("internal"), with the Crowd frontend in front.
type replayEnv struct {
	slapd   *slapdtest.Server
	store   *cache.Store
	refresh *cache.Refresher
	local   *local.Upstream
	srv     *Server
	base    string
}

const replaySeed = `
users:
  - username: carol
    first_name: Carol
    last_name: Local
    email: carol@example.org
    password_hash: %q
groups:
  - name: local-admins
    users: [carol]
  - name: engineering
    description: Local engineering
    users: [carol]
`

func newReplayEnv(t *testing.T) *replayEnv {
	t.Helper()
	e := &replayEnv{slapd: slapdtest.Start(t)}
	s := e.slapd
	alice := s.AddUser(t, "alice", slapdtest.A("givenName", "Alice"), slapdtest.A("sn", "Liddell"), slapdtest.A("displayName", "Alice Liddell"))
	bob := s.AddUser(t, "bob")
	dave := s.AddUser(t, "dave")
	jsu := s.AddGroup(t, "jira-software-users", alice, bob)
	s.AddGroup(t, "engineering", jsu)
	s.AddGroup(t, "ops", dave)

	store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"corp", "internal"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store
	up, err := ldapup.Open("corp", ldapup.Config{URLs: []string{s.URL()}, BindDN: s.AdminDN(),
		BindPassword: secret.String(s.AdminPassword()), UserBase: s.PeopleDN(), GroupBase: s.GroupsDN()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	seedFile := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(seedFile, []byte(strings.ReplaceAll(replaySeed, "%q", `"`+cheapHash(t, "carol-pw")+`"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.local, err = local.Open("internal", local.Config{SeedFile: seedFile}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.refresh = cache.NewRefresher(store, []cache.Target{{Name: "corp", Type: "ldap", Syncer: up, MaxDeletePercent: 100}}, nil)
	e.sync(t, true)

	e.srv, err = New(context.Background(), Config{
		Listen: "127.0.0.1:0",
		Applications: []Application{
			{Name: "jira", PasswordHash: cheapHash(t, "jira-pw"), RemoteAddresses: []string{"127.0.0.1"}, Aggregate: true},
			{Name: "confluence", PasswordHash: cheapHash(t, "conf-pw"), RemoteAddresses: []string{"localhost"}, Lowercase: true},
		},
		Checkers: map[string]upstream.PasswordChecker{"corp": up, "internal": e.local},
	}, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srv.Shutdown(context.Background()) })
	e.base = "http://" + e.srv.Addr() + "/rest/usermanagement/1"
	return e
}

func (e *replayEnv) sync(t *testing.T, full bool) {
	t.Helper()
	if _, err := e.refresh.SyncNow(context.Background(), "corp", cache.SyncRequest{Full: full, AllowDeletes: true}); err != nil {
		t.Fatal(err)
	}
}

func (e *replayEnv) client(t *testing.T, app, pw string) *jiraClient {
	return &jiraClient{t: t, base: e.base, app: app, appPw: pw, nested: true}
}

// check asserts that the client's replica equals the cache as the
// application sees it.
func (e *replayEnv) check(t *testing.T, step string, c *jiraClient, lowercase, aggregate bool) {
	t.Helper()
	if d := expectedReplica(e.store, lowercase, aggregate, c.nested).diff(c.replica); d != "" {
		t.Fatalf("%s: %s's replica differs from the cache:\n%s", step, c.app, d)
	}
}

// TestJiraReplay replays what Jira sends (crowd-rest.md §9): test
// connection, full sync, incremental syncs after changes made upstream,
// logins; after each step the replica Jira would hold equals the cache.
func TestJiraReplay(t *testing.T) {
	e := newReplayEnv(t)
	ctx := context.Background()
	jira := e.client(t, "jira", "jira-pw")
	conf := e.client(t, "confluence", "conf-pw")
	apps := []struct {
		c                    *jiraClient
		lowercase, aggregate bool
	}{{jira, false, true}, {conf, true, false}}

	for _, a := range apps {
		a.c.testConnection()
		a.c.fullSync()
		e.check(t, "full sync", a.c, a.lowercase, a.aggregate)
	}
	want := []string{
		"POST /search?entity-type=user&start-index=0&max-results=1&expand=user",
		"GET /event",
		"POST /search?entity-type=user&start-index=0&max-results=-1&expand=user",
		"POST /search?entity-type=group&start-index=0&max-results=-1&expand=group",
		"GET /group/membership",
		"GET /event",
	}
	if !slices.Equal(jira.requests, want) {
		t.Fatalf("request sequence %q", jira.requests)
	}
	if n := len(jira.replica.Users); n != 4 { // alice, bob, dave (corp), carol (internal)
		t.Fatalf("full sync: %d users", n)
	}
	if got := jira.replica.UserParents["carol"]; !got["engineering"] || !got["local-admins"] {
		t.Fatalf("aggregating app: carol's groups %v", got)
	}

	// Logins: an LDAP user (password checked by slapd), a local user, bad
	// passwords and unknown users.
	u, groups, st, reason := jira.login("alice", slapdtest.UserPassword("alice"))
	if st != http.StatusOK || u.Name != "alice" || u.Key == "" || !slices.Equal(groups, []string{"jira-software-users"}) {
		t.Fatalf("login alice: %d %s %+v %v", st, reason, u, groups)
	}
	if _, _, st, reason = jira.login("ALICE", "wrong"); st != http.StatusBadRequest || reason != "INVALID_USER_AUTHENTICATION" {
		t.Fatalf("wrong password: %d %s", st, reason)
	}
	if u, groups, st, _ = conf.login("Carol", "carol-pw"); st != http.StatusOK || u.Name != "carol" || !slices.Equal(groups, []string{"engineering", "local-admins"}) {
		t.Fatalf("login carol: %d %+v %v", st, u, groups)
	}
	if _, _, st, reason = jira.login("nobody", "x"); st != http.StatusBadRequest || reason != "USER_NOT_FOUND" {
		t.Fatalf("unknown user: %d %s", st, reason)
	}

	s := e.slapd
	steps := []struct {
		name   string
		change func()
		full   bool // the upstream change needs a full upstream sync (deletions)
	}{
		{"add a user and a membership", func() {
			erin := s.AddUser(t, "erin", slapdtest.A("displayName", "Erin E"))
			s.Modify(t, s.GroupDN("ops"), slapdtest.AddValues("member", erin))
		}, false},
		{"update a user without renaming", func() {
			s.Modify(t, s.UserDN("bob"), slapdtest.Replace("mail", "robert@example.com"), slapdtest.Replace("displayName", "Robert B"))
		}, false},
		{"membership change", func() {
			s.SetMembers(t, s.GroupDN("jira-software-users"), s.UserDN("alice"), s.UserDN("dave"))
		}, false},
		{"nested group change", func() {
			s.SetMembers(t, s.GroupDN("engineering"), s.GroupDN("ops"))
		}, false},
		{"delete a user", func() { s.Delete(t, s.UserDN("dave")) }, true},
		{"add and delete a group", func() {
			s.AddGroup(t, "contractors", s.UserDN("erin"))
			s.Delete(t, s.GroupDN("ops"))
		}, true},
		{"local directory changes", func() {
			if _, err := e.local.CreateUser(ctx, upstream.User{Username: "Frank", FirstName: "Frank", LastName: "Local", Active: true}, "frank-pw"); err != nil {
				t.Fatal(err)
			}
			if err := e.local.AddMember(ctx, "local-admins", "frank", false); err != nil {
				t.Fatal(err)
			}
			if err := e.local.AddMember(ctx, "engineering", "local-admins", true); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a local user shadowed by corp's, then corp's deleted", func() {
			if _, err := e.local.CreateUser(ctx, upstream.User{Username: "bob", FirstName: "Bob", LastName: "Local", Active: true}, "bob-local"); err != nil {
				t.Fatal(err)
			}
			if err := e.local.AddMember(ctx, "local-admins", "bob", false); err != nil {
				t.Fatal(err)
			}
			s.Delete(t, s.UserDN("bob"))
		}, true},
		{"deactivate a local user", func() {
			if _, err := e.local.UpdateUser(ctx, "frank", upstream.User{Username: "frank", FirstName: "Frank", LastName: "Local", Active: false}); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, st := range steps {
		st.change()
		e.sync(t, st.full)
		for _, a := range apps {
			n := len(a.c.requests)
			if !a.c.incrementalSync() {
				t.Fatalf("%s: token expired; incremental sync unavailable", st.name)
			}
			for _, r := range a.c.requests[n:] {
				if !strings.HasPrefix(r, "GET /event/") {
					t.Fatalf("%s: incremental sync sent %s", st.name, r)
				}
			}
			e.check(t, st.name, a.c, a.lowercase, a.aggregate)
		}
	}

	// The local user takes over bob's name: Jira sees a new key for bob.
	if k := jira.replica.Users["bob"].Key; !strings.HasPrefix(k, "2:") {
		t.Fatalf("bob's key after corp's bob was deleted: %q", k)
	}
	// Frank is inactive: login is refused with INACTIVE_ACCOUNT.
	if _, _, st, reason := jira.login("frank", "frank-pw"); st != http.StatusBadRequest || reason != "INACTIVE_ACCOUNT" {
		t.Fatalf("inactive frank: %d %s", st, reason)
	}

	// A fresh full sync builds the same replica as the increments did.
	for _, a := range apps {
		incr := a.c.replica
		a.c.fullSync()
		if d := a.c.replica.diff(incr); d != "" {
			t.Fatalf("%s: full sync differs from incremental replica:\n%s", a.c.app, d)
		}
	}
}

// TestEventTokens: tokens survive a restart of an on-disk store; tokens
// from another store, older than the retention or from before a reset get
// 410 EVENT_TOKEN_EXPIRED, and Jira falls back to a full sync.
func TestEventTokens(t *testing.T) {
	dir := t.TempDir()
	open := func() (*cache.Store, *local.Upstream, *Server, string) {
		store, err := cache.Open(cache.Options{Dir: dir, Upstreams: []string{"internal"}, JournalRetention: 5})
		if err != nil {
			t.Fatal(err)
		}
		lu, err := local.Open("internal", local.Config{}, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(context.Background(), Config{Listen: "127.0.0.1:0", Applications: []Application{
			{Name: "jira", PasswordHash: cheapHash(t, "jira-pw"), RemoteAddresses: []string{"127.0.0.1"}},
		}}, store)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		return store, lu, srv, "http://" + srv.Addr() + "/rest/usermanagement/1"
	}
	ctx := context.Background()
	store, lu, srv, base := open()
	c := &jiraClient{t: t, base: base, app: "jira", appPw: "jira-pw", nested: true}
	c.fullSync()
	if _, err := lu.CreateUser(ctx, upstream.User{Username: "u1", Active: true}, ""); err != nil {
		t.Fatal(err)
	}
	// Restart: the journal is on disk, the token still works.
	srv.Shutdown(ctx)
	store.Close()
	store, lu, srv, base = open()
	c.base = base
	if !c.incrementalSync() {
		t.Fatal("token expired across a restart of an on-disk store")
	}
	if _, ok := c.replica.Users["u1"]; !ok {
		t.Fatal("u1 created before the restart is not in the replica")
	}
	if d := expectedReplica(store, false, false, true).diff(c.replica); d != "" {
		t.Fatal(d)
	}

	// Beyond the retention (5 events): 410, then a full sync.
	old := c.token
	for _, n := range []string{"u2", "u3", "u4", "u5", "u6", "u7", "u8"} {
		if _, err := lu.CreateUser(ctx, upstream.User{Username: n, Active: true}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if c.incrementalSync() {
		t.Fatalf("token %s older than the retention was accepted", old)
	}
	c.fullSync()
	if d := expectedReplica(store, false, false, true).diff(c.replica); d != "" {
		t.Fatal(d)
	}

	// A token of another store (a lost journal) and a malformed one.
	for _, tok := range []string{"0123456789abcdef:1", "garbage", strings.Repeat("9", 100)} {
		c.token = tok
		if c.incrementalSync() {
			t.Fatalf("token %q accepted", tok)
		}
	}
	srv.Shutdown(ctx)
	store.Close()
}
