package access

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/access/accessfake"
)

// t0 is when every test's fake clock starts.
var t0 = time.Date(2026, 5, 2, 9, 0, 0, 0, time.UTC)

// env is one fake organization, an Upstream on it sharing the fake's
// clock, and a store with a refresher, as dirgate wires them.
type env struct {
	t     *testing.T
	clock *accessfake.Clock
	fake  *accessfake.Server
	up    *Upstream
	store *cache.Store
	r     *cache.Refresher
}

func newEnv(t *testing.T, data *accessfake.Dataset, mod func(*Config)) *env {
	t.Helper()
	clock := accessfake.NewClock(t0)
	fake := accessfake.New(accessfake.Options{Clock: clock, Data: data})
	t.Cleanup(fake.Close)
	cfg := Config{BaseURL: fake.URL, OrgID: fake.OrgID, APIKey: secret.String(fake.APIKey)}
	if mod != nil {
		mod(&cfg)
	}
	up, err := Open("org", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	up.setClock(clock)
	// Tests do not wait for jitter: retries wait exactly what they must.
	up.api.Jitter = func() float64 { return 1 }
	t.Cleanup(func() { up.Close() })
	store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"org"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := cache.NewRefresher(store, []cache.Target{{Name: "org", Type: up.Type(), Syncer: up,
		Interval: time.Hour, FullEvery: 24 * time.Hour, MaxDeletePercent: 100}}, nil)
	r.Warnings = func(string) []string { return up.Warnings() }
	return &env{t: t, clock: clock, fake: fake, up: up, store: store, r: r}
}

func (e *env) sync(full bool) (cache.SyncRun, error) {
	return e.r.SyncNow(context.Background(), "org", cache.SyncRequest{Full: full})
}

func (e *env) mustSync(full bool) cache.SyncRun {
	e.t.Helper()
	run, err := e.sync(full)
	if err != nil {
		e.t.Fatalf("sync (full=%v): %v", full, err)
	}
	return run
}

func (e *env) status() cache.Status {
	e.t.Helper()
	st, err := e.store.Status("org")
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// userID and groupID look fixtures up in the fake.
func (e *env) userID(nick string) string {
	e.t.Helper()
	u, ok := e.fake.UserByNickname(nick)
	if !ok {
		e.t.Fatalf("no user %s in the fake", nick)
	}
	return u.AccountID
}

func (e *env) groupID(name string) string {
	e.t.Helper()
	g, ok := e.fake.GroupByName(name)
	if !ok {
		e.t.Fatalf("no group %s in the fake", name)
	}
	return g.ID
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dump renders what the store serves for the upstream: every user with
// its fields and direct groups, every group with its members.
func dump(s *cache.Store) string {
	var b strings.Builder
	s.Users("", func(u cache.User) bool {
		r := u.Rec
		fmt.Fprintf(&b, "user %s key=%s first=%q last=%q display=%q mail=%q active=%v created=%s attrs=%v groups=%q\n",
			r.Username, r.Key, r.FirstName, r.LastName, r.DisplayName, r.Email, r.Active,
			r.Created.Format(time.RFC3339), r.Attributes, s.UserGroups(r.Username, false, true))
		return true
	})
	s.Groups("", func(g cache.Group) bool {
		r := g.Rec
		fmt.Fprintf(&b, "group %s key=%s desc=%q attrs=%v members=%q\n", r.Name, r.Key, r.Description,
			r.Attributes, s.GroupUsers(r.Name, false, true))
		return true
	})
	return b.String()
}

// fullDump syncs the fake's current content fully into a fresh store and
// dumps it: what an incremental sync must have arrived at.
func (e *env) fullDump() string {
	e.t.Helper()
	cfg := e.up.cfg
	up, err := Open("org", cfg, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer up.Close()
	up.setClock(e.clock)
	store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"org"}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer store.Close()
	res, err := up.Sync(context.Background(), upstream.SyncRequest{Full: true})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := store.ApplySync(context.Background(), "org", res, cache.SyncOptions{MaxDeletePercent: 100}); err != nil {
		e.t.Fatal(err)
	}
	return dump(store)
}

func contains(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}
