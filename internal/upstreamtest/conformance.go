// Package upstreamtest is the conformance suite every upstream type runs:
// the same fixture, the same changes made upstream, the same expectations
// of what the cache serves after each sync. Each type supplies a Harness
// that drives its real upstream (slapd for ldap, the store for local, the
// fakes for the clouds).
package upstreamtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/upstream"
)

// Fixture users and their passwords. Groups: devs{alice}, ops{bob, carol},
// staff{devs, ops} (nested), all{staff}.
var (
	FixtureUsers = []FixtureUser{
		{Username: "alice", FirstName: "Alice", LastName: "Liddell", Email: "alice@example.com", Password: "alice-Secret-1"},
		{Username: "bob", FirstName: "Bob", LastName: "Builder", Email: "bob@example.com", Password: "bob-Secret-2"},
		{Username: "carol", FirstName: "Carol", LastName: "Danvers", Email: "carol@example.com", Password: "carol-Secret-3"},
	}
	FixtureGroups = []FixtureGroup{
		{Name: "devs", Users: []string{"alice"}},
		{Name: "ops", Users: []string{"bob", "carol"}},
		{Name: "staff", Groups: []string{"devs", "ops"}},
		{Name: "all", Groups: []string{"staff"}},
	}
)

// FixtureUser is a user the harness creates upstream.
type FixtureUser struct {
	Username, FirstName, LastName, Email, Password string
}

// FixtureGroup is a group with its direct members.
type FixtureGroup struct {
	Name   string
	Users  []string
	Groups []string
}

// Caps declares what an upstream type can do; the suite skips the rest,
// saying why.
type Caps struct {
	// IncrementalDeletes: deletions show in incremental syncs (otherwise
	// only the next full sync removes them).
	IncrementalDeletes bool
	// Collisions: the upstream can hold two users whose names differ only
	// in case.
	Collisions bool
	// Breakable: Break can make the upstream unreachable.
	Breakable bool
	// Flat: the upstream has no nested groups (Jira Cloud, Atlassian
	// Admin). Its harness ignores FixtureGroup.Groups; the suite expects
	// direct memberships only and skips the nesting tests.
	Flat bool
	// FullOnly: every sync is a full one (no change feed); the suite does
	// not insist that the second sync is incremental.
	FullOnly bool
}

// Harness drives one upstream type.
type Harness interface {
	Caps() Caps
	// Open starts the upstream loaded with FixtureUsers and FixtureGroups
	// and opens it as upstream "up" of store.
	Open(t *testing.T, store *cache.Store) upstream.Upstream
	AddUser(t *testing.T, u FixtureUser)
	// AddCollidingUser adds a second user named like an existing one but
	// in another case (only with Caps.Collisions).
	AddCollidingUser(t *testing.T, username string)
	SetEmail(t *testing.T, username, email string)
	DeleteUser(t *testing.T, username string)
	AddGroup(t *testing.T, g FixtureGroup)
	// SetMembers replaces a group's direct members.
	SetMembers(t *testing.T, g FixtureGroup)
	// Break makes the upstream unreachable; Repair brings it back.
	Break(t *testing.T)
	Repair(t *testing.T)
}

// Run runs the suite; newHarness gives each subtest a fresh upstream.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"FullSync", testFullSync},
		{"Incremental", testIncremental},
		{"NestedAndCycles", testNestedAndCycles},
		{"Collisions", testCollisions},
		{"Passwords", testPasswords},
		{"Cancellation", testCancellation},
		{"Close", testClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"up"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			up := h.Open(t, store)
			t.Cleanup(func() { up.Close() })
			syncer, ok := up.(upstream.Syncer)
			if !ok {
				t.Fatalf("%T is not a Syncer", up)
			}
			r := cache.NewRefresher(store, []cache.Target{{Name: "up", Type: up.Type(), Syncer: syncer,
				Interval: time.Hour, FullEvery: 24 * time.Hour, MaxDeletePercent: 100}}, nil)
			tc.fn(t, &env{h: h, store: store, up: up, r: r})
		})
	}
}

type env struct {
	h     Harness
	store *cache.Store
	up    upstream.Upstream
	r     *cache.Refresher
}

func (e *env) sync(t *testing.T, full bool) cache.SyncRun {
	t.Helper()
	run, err := e.r.SyncNow(context.Background(), "up", cache.SyncRequest{Full: full})
	if err != nil {
		t.Fatalf("sync (full=%v): %v", full, err)
	}
	return run
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func names(s *cache.Store) []string {
	var out []string
	s.Users("", func(u cache.User) bool { out = append(out, u.Rec.Username); return true })
	return out
}

func testFullSync(t *testing.T, e *env) {
	run := e.sync(t, true)
	if run.Result.Users != 3 || run.Result.Groups != 4 {
		t.Fatalf("full sync %+v", run.Result)
	}
	eq(t, "users", names(e.store), []string{"alice", "bob", "carol"})
	a, ok := e.store.User("ALICE")
	if !ok || a.Rec.Email != "alice@example.com" || a.Rec.FirstName != "Alice" || a.Rec.LastName != "Liddell" || !a.Rec.Active || a.Rec.Key == "" {
		t.Fatalf("alice = %+v", a.Rec)
	}
	eq(t, "alice's groups", e.store.UserGroups("alice", false, true), []string{"devs"})
	eq(t, "ops members", e.store.GroupUsers("ops", false, true), []string{"bob", "carol"})
	if e.h.Caps().Flat {
		eq(t, "alice's nested groups", e.store.UserGroups("alice", true, true), []string{"devs"})
		eq(t, "all nested members", e.store.GroupUsers("all", true, true), nil)
	} else {
		eq(t, "alice's nested groups", e.store.UserGroups("alice", true, true), []string{"all", "devs", "staff"})
		eq(t, "all nested members", e.store.GroupUsers("all", true, true), []string{"alice", "bob", "carol"})
		eq(t, "staff children", e.store.GroupChildren("staff", false), []string{"devs", "ops"})
	}
	// A second full sync of unchanged data changes and journals nothing.
	head := e.store.Head()
	run = e.sync(t, true)
	if run.Result.Changed() || e.store.Head() != head {
		t.Fatalf("unchanged data changed the store: %+v", run.Result)
	}
}

func testIncremental(t *testing.T, e *env) {
	e.sync(t, true)
	tok := e.store.Head()
	e.h.AddUser(t, FixtureUser{Username: "dave", FirstName: "Dave", LastName: "Bowman", Email: "dave@example.com", Password: "dave-Secret-4"})
	e.h.SetEmail(t, "bob", "bob@new.example.com")
	// carol moves from ops to devs; a new group qa (with dave) is nested into devs.
	e.h.AddGroup(t, FixtureGroup{Name: "qa", Users: []string{"dave"}})
	e.h.SetMembers(t, FixtureGroup{Name: "ops", Users: []string{"bob"}})
	e.h.SetMembers(t, FixtureGroup{Name: "devs", Users: []string{"alice", "carol"}, Groups: []string{"qa"}})
	run := e.sync(t, false)
	if run.Full && !e.h.Caps().FullOnly {
		t.Error("the sync after the first should be incremental")
	}
	flat := e.h.Caps().Flat
	eq(t, "users", names(e.store), []string{"alice", "bob", "carol", "dave"})
	if b, _ := e.store.User("bob"); b.Rec.Email != "bob@new.example.com" {
		t.Errorf("bob's email = %q", b.Rec.Email)
	}
	eq(t, "carol's groups", e.store.UserGroups("carol", false, true), []string{"devs"})
	if flat {
		eq(t, "dave's nested groups", e.store.UserGroups("dave", true, true), []string{"qa"})
	} else {
		eq(t, "dave's nested groups", e.store.UserGroups("dave", true, true), []string{"all", "devs", "qa", "staff"})
		eq(t, "devs children", e.store.GroupChildren("devs", false), []string{"qa"})
	}
	evs, _, err := e.store.EventsSince(tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, string(ev.Kind)+" "+string(ev.Op)+" "+ev.Name)
	}
	for _, want := range []string{"user created dave", "user updated bob", "group created qa",
		"user_membership updated carol", "user_membership updated dave", "group_membership updated devs"} {
		if flat && want == "group_membership updated devs" {
			continue
		}
		if !slices.Contains(got, want) {
			t.Errorf("journal lacks %q; has %q", want, got)
		}
	}

	e.h.DeleteUser(t, "bob")
	e.sync(t, false)
	if _, ok := e.store.User("bob"); ok && e.h.Caps().IncrementalDeletes {
		t.Error("bob still served after an incremental sync")
	}
	e.sync(t, true)
	if _, ok := e.store.User("bob"); ok {
		t.Error("bob still served after a full sync")
	}
	eq(t, "ops members after delete", e.store.GroupUsers("ops", false, true), nil)
}

func testNestedAndCycles(t *testing.T, e *env) {
	if e.h.Caps().Flat {
		t.Skip("this upstream type has no nested groups")
	}
	e.sync(t, true)
	// all ⊃ staff ⊃ devs, and now devs ⊃ all: a cycle.
	e.h.SetMembers(t, FixtureGroup{Name: "devs", Users: []string{"alice"}, Groups: []string{"all"}})
	e.sync(t, false)
	eq(t, "alice's nested groups", e.store.UserGroups("alice", true, true), []string{"all", "devs", "staff"})
	eq(t, "bob's nested groups", e.store.UserGroups("bob", true, true), []string{"all", "devs", "ops", "staff"})
	eq(t, "devs nested members", e.store.GroupUsers("devs", true, true), []string{"alice", "bob", "carol"})
	cy := e.store.Cycles()
	if len(cy) != 1 || !slices.Equal(cy[0], []string{"all", "devs", "staff"}) {
		t.Errorf("cycles = %q", cy)
	}
	st, _ := e.store.Status("up")
	if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "nesting cycle: all → devs → staff → all") {
		t.Errorf("status does not report the cycle: %q", st.Warnings)
	}
}

func testCollisions(t *testing.T, e *env) {
	if !e.h.Caps().Collisions {
		t.Skip("this upstream type cannot hold two names that differ only in case")
	}
	e.sync(t, true)
	e.h.AddCollidingUser(t, "ALICE")
	e.sync(t, true)
	eq(t, "users", names(e.store), []string{"alice", "bob", "carol"})
	if a, _ := e.store.User("alice"); a.Rec.Username != "alice" {
		t.Errorf("the earlier alice must win, got %q", a.Rec.Username)
	}
	c := e.store.Collisions("up")
	if len(c) != 1 || c[0].Kind != "user" || len(c[0].Skipped) != 1 {
		t.Errorf("collisions %+v", c)
	}
	st, _ := e.store.Status("up")
	if len(st.Collisions) != 1 || len(st.Warnings) == 0 {
		t.Errorf("status does not report the collision: %+v", st)
	}
}

func testPasswords(t *testing.T, e *env) {
	pc, ok := e.up.(upstream.PasswordChecker)
	if !ok {
		t.Skip("this upstream type checks no passwords")
	}
	e.sync(t, true)
	ctx := context.Background()
	a, _ := e.store.User("alice")
	if ok, err := pc.CheckPassword(ctx, a.Rec, "alice-Secret-1"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := pc.CheckPassword(ctx, a.Rec, "wrong"); ok || err != nil {
		t.Fatalf("wrong password must be denied, not an error: %v %v", ok, err)
	}
	if ok, err := pc.CheckPassword(ctx, a.Rec, ""); ok || err != nil {
		t.Fatalf("empty password must be denied: %v %v", ok, err)
	}
	b, _ := e.store.User("bob")
	if ok, err := pc.CheckPassword(ctx, b.Rec, "alice-Secret-1"); ok || err != nil {
		t.Fatalf("another user's password: %v %v", ok, err)
	}
	if !e.h.Caps().Breakable {
		return
	}
	e.h.Break(t)
	ok, err := pc.CheckPassword(ctx, a.Rec, "alice-Secret-1")
	if ok || err == nil {
		t.Fatalf("a broken upstream must be an error, not a denial: %v %v", ok, err)
	}
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("error does not wrap ErrUnavailable: %v", err)
	}
	if _, err := e.r.SyncNow(ctx, "up", cache.SyncRequest{}); err == nil {
		t.Error("sync of a broken upstream succeeded")
	}
	if _, ok := e.store.User("alice"); !ok {
		t.Error("the last good data is not served")
	}
	e.h.Repair(t)
	if ok, err := pc.CheckPassword(ctx, a.Rec, "alice-Secret-1"); !ok || err != nil {
		t.Fatalf("after repair: %v %v", ok, err)
	}
	e.sync(t, false)
}

func testCancellation(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := e.up.(upstream.Syncer).Sync(ctx, upstream.SyncRequest{Full: true})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("sync with a cancelled context: %v", err)
	}
	if pc, ok := e.up.(upstream.PasswordChecker); ok {
		e.sync(t, true)
		a, _ := e.store.User("alice")
		if ok, err := pc.CheckPassword(ctx, a.Rec, "alice-Secret-1"); ok || !errors.Is(err, context.Canceled) {
			t.Fatalf("password check with a cancelled context: %v %v", ok, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled calls took %v", d)
	}
}

func testClose(t *testing.T, e *env) {
	e.sync(t, true)
	if err := e.up.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.up.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.up.(upstream.Syncer).Sync(context.Background(), upstream.SyncRequest{Full: true}); err == nil {
		t.Error("Sync after Close succeeded")
	}
	if pc, ok := e.up.(upstream.PasswordChecker); ok {
		a, _ := e.store.User("alice")
		if ok, err := pc.CheckPassword(context.Background(), a.Rec, "alice-Secret-1"); ok || err == nil || strings.Contains(err.Error(), "alice-Secret-1") {
			t.Errorf("CheckPassword after Close: %v %v", ok, err)
		}
	}
}
