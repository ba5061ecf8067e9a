package restfront

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/local"
)

func cheapHash(t testing.TB, pw string) string {
	h, err := secret.HashParams(pw, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// env is a running Crowd frontend over two upstreams:
//
//	staff (read-only, records like an LDAP sync's, fixed times and IDs):
//	  users alice (Alice Liddell), Bob (inactive), erin; groups devs{alice},
//	  ops{Bob}, staff{devs, ops}, all{staff}
//	internal (the local directory, writable, seeded):
//	  users carol, alice (shadowed by staff's), groups devs{carol} (merged
//	  with staff's), jira-users{carol, erin-local?}
//
// Passwords: <name>-pw. Applications: jira (read, write; from 127.0.0.1),
// conf (read; lower-case output; not aggregating; allowed_groups staff),
// far (allowed only from 10.0.0.0/8).
type env struct {
	store *cache.Store
	srv   *Server
	base  string
	local *local.Upstream
}

type staffChecker map[string]string // user key → password

func (c staffChecker) CheckPassword(_ context.Context, u *upstream.User, pw string) (bool, error) {
	if pw == "" {
		return false, nil
	}
	want, ok := c[u.Key]
	return ok && want == pw, nil
}

func staffRecords() *upstream.SyncResult {
	u := func(key, name, first, last string, active bool) upstream.User {
		return upstream.User{Key: key, ExternalID: "ext-" + key, Username: name, FirstName: first, LastName: last,
			DisplayName: strings.TrimSpace(first + " " + last), Email: strings.ToLower(name) + "@example.com", Active: active,
			Created: fixedTime, Updated: fixedTime}
	}
	g := func(key, name, desc string, members ...string) upstream.Group {
		return upstream.Group{Key: key, ExternalID: "ext-" + key, Name: name, Description: desc, Active: true, Members: members,
			Created: fixedTime, Updated: fixedTime}
	}
	alice := u("ua", "alice", "Alice", "Liddell", true)
	alice.Attributes = map[string][]string{"team": {"blue"}, "phone": {"1", "2"}}
	return &upstream.SyncResult{Full: true,
		Users: []upstream.User{alice, u("ub", "Bob", "Bob", "Builder", false), u("ue", "erin", "Erin", "", true)},
		Groups: []upstream.Group{g("gd", "devs", "Developers", "ua"), g("go", "ops", "Operations", "ub"),
			g("gs", "staff", "Everyone", "gd", "go"), g("ga", "all", "", "gs")},
	}
}

const seed = `
users:
  - username: carol
    first_name: Carol
    last_name: Danvers
    email: carol@example.com
    password_hash: %q
  - username: Alice
    first_name: Other
    last_name: Alice
    password_hash: %q
groups:
  - name: devs
    description: Local developers
    users: [carol]
  - name: jira-users
    users: [carol]
`

type envOpt func(*Config)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"staff", "internal"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.ApplySync(context.Background(), "staff", staffRecords(), cache.SyncOptions{MaxDeletePercent: 100}); err != nil {
		t.Fatal(err)
	}
	seedFile := filepath.Join(t.TempDir(), "seed.yaml")
	os.WriteFile(seedFile, []byte(fmt.Sprintf(seed, cheapHash(t, "carol-pw"), cheapHash(t, "other-pw"))), 0o600)
	lu, err := local.Open("internal", local.Config{SeedFile: seedFile}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Listen: "127.0.0.1:0",
		Applications: []Application{
			{Name: "jira", PasswordHash: cheapHash(t, "jira-pw"), RemoteAddresses: []string{"127.0.0.1"}, Aggregate: true, Write: true},
			{Name: "conf", PasswordHash: cheapHash(t, "conf-pw"), RemoteAddresses: []string{"127.0.0.0/8"}, Lowercase: true,
				AllowedGroups: []string{"staff"}},
			{Name: "far", PasswordHash: cheapHash(t, "far-pw"), RemoteAddresses: []string{"10.0.0.0/8"}, Aggregate: true},
		},
		Checkers: map[string]upstream.PasswordChecker{"staff": staffChecker{"ua": "alice-pw", "ub": "Bob-pw", "ue": "erin-pw"}, "internal": lu},
		Writer:   lu, WriterUpstream: "internal",
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(context.Background(), cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return &env{store: store, srv: srv, base: "http://" + srv.Addr() + "/rest/usermanagement/1", local: lu}
}

// call is one request: the app (name:password), method, path (after the
// API root), body and content type, and whether to ask for JSON.
type call struct {
	app, method, path, body, ctype string
	json                           bool
	header                         map[string]string
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(t testing.TB, c call) response {
	t.Helper()
	if c.app == "" {
		c.app = "jira:jira-pw"
	}
	if c.method == "" {
		c.method = "GET"
	}
	req, err := http.NewRequest(c.method, e.base+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.app != "-" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.app)))
	}
	if c.json {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "application/xml")
	}
	if c.body != "" {
		ct := c.ctype
		if ct == "" {
			ct = "application/xml; charset=UTF-8"
			if c.json {
				ct = "application/json; charset=utf-8"
			}
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Embedded-Crowd-Version") == "" {
		t.Errorf("%s %s: no X-Embedded-Crowd-Version header", c.method, c.path)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}
