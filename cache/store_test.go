package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/dirgate/dirgate/upstream"
)

func u(key, name string) upstream.User {
	return upstream.User{Key: key, ExternalID: "ext-" + key, Username: name, Email: strings.ToLower(name) + "@example.com", Active: true}
}

func g(key, name string, members ...string) upstream.Group {
	return upstream.Group{Key: key, ExternalID: "ext-" + key, Name: name, Active: true, Members: members}
}

func open(t *testing.T, dir string, ups ...string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, InMemory: dir == "", Upstreams: ups})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func full(users []upstream.User, groups []upstream.Group) *upstream.SyncResult {
	return &upstream.SyncResult{Full: true, Users: users, Groups: groups, Cursor: []byte("c1")}
}

func mustSync(t *testing.T, s *Store, up string, res *upstream.SyncResult) ApplyResult {
	t.Helper()
	r, err := s.ApplySync(context.Background(), up, res, SyncOptions{MaxDeletePercent: 100})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// fixture: alice in devs; bob in ops; devs and ops nested in staff; staff
// in all; carol in nothing.
func fixture() *upstream.SyncResult {
	return full(
		[]upstream.User{u("ua", "alice"), u("ub", "Bob"), u("uc", "carol")},
		[]upstream.Group{g("gd", "devs", "ua"), g("go", "ops", "ub"), g("gs", "staff", "gd", "go"), g("gall", "all", "gs")},
	)
}

func TestFullSyncAndNestedReads(t *testing.T) {
	s := open(t, "", "one")
	r := mustSync(t, s, "one", fixture())
	if r.UsersAdded != 3 || r.GroupsAdded != 4 || r.Users != 3 || r.Groups != 4 || !r.Reset && r.Events == 0 {
		t.Fatalf("result %+v", r)
	}
	if us, ok := s.User("BOB"); !ok || us.Rec.Username != "Bob" || us.Upstream != "one" {
		t.Fatalf("User(BOB) = %+v, %v", us, ok)
	}
	if n, ok := s.Username("BOB"); !ok || n != "Bob" {
		t.Fatalf("Username(BOB) = %q, %v", n, ok)
	}
	if n, ok := s.Username("nobody"); ok || n != "" {
		t.Fatalf("Username(nobody) = %q, %v", n, ok)
	}
	if l := s.UsersByEmail("ALICE@example.com"); len(l) != 1 || l[0].Rec.Username != "alice" {
		t.Fatalf("UsersByEmail = %+v", l)
	}
	eq(t, "direct groups of alice", s.UserGroups("alice", false, true), []string{"devs"})
	eq(t, "nested groups of alice", s.UserGroups("alice", true, true), []string{"all", "devs", "staff"})
	eq(t, "direct users of staff", s.GroupUsers("staff", false, true), nil)
	eq(t, "nested users of all", s.GroupUsers("all", true, true), []string{"alice", "Bob"})
	eq(t, "children of staff", s.GroupChildren("staff", false), []string{"devs", "ops"})
	eq(t, "descendants of all", s.GroupChildren("all", true), []string{"devs", "ops", "staff"})
	eq(t, "parents of devs", s.GroupParents("devs", false), []string{"staff"})
	eq(t, "ancestors of devs", s.GroupParents("devs", true), []string{"all", "staff"})
	if !s.IsMember("ALICE", "All", true, true) || s.IsMember("alice", "all", false, true) || s.IsMember("carol", "all", true, true) {
		t.Error("IsMember wrong")
	}
	var names []string
	s.Users("", func(u User) bool { names = append(names, u.Rec.Username); return true })
	eq(t, "users in order", names, []string{"alice", "Bob", "carol"})
	names = nil
	s.Users("bob", func(u User) bool { names = append(names, u.Rec.Username); return true })
	eq(t, "users from bob", names, []string{"Bob", "carol"})
}

// UserGroups writes display names over the list userGroups returns, so
// every call must get a list of its own: overwriting one answer must not
// change the next (as it would if a path handed out a memoised list).
func TestUserGroupsListsAreTheCallers(t *testing.T) {
	s := open(t, "", "one")
	mustSync(t, s, "one", fixture())
	for _, nested := range []bool{false, true} {
		for _, aggregate := range []bool{false, true} {
			first := s.UserGroups("alice", nested, aggregate)
			want := slices.Clone(first)
			for i := range first {
				first[i] = "overwritten"
			}
			eq(t, fmt.Sprintf("alice nested=%v aggregate=%v, asked again", nested, aggregate), s.UserGroups("alice", nested, aggregate), want)
		}
	}
}

func TestUsersWalkSpansBatches(t *testing.T) {
	s := open(t, "", "one")
	var users []upstream.User
	for i := range 1300 {
		users = append(users, u(fmt.Sprint("k", i), fmt.Sprintf("user%04d", i)))
	}
	mustSync(t, s, "one", full(users, nil))
	n, last := 0, ""
	s.Users("", func(u User) bool {
		if u.Rec.Username <= last {
			t.Fatalf("out of order: %s after %s", u.Rec.Username, last)
		}
		last = u.Rec.Username
		n++
		return true
	})
	if n != 1300 {
		t.Fatalf("walked %d users", n)
	}
}

func TestCyclesAreToleratedAndReported(t *testing.T) {
	s := open(t, "", "one")
	mustSync(t, s, "one", full(
		[]upstream.User{u("ua", "alice")},
		[]upstream.Group{g("g1", "a", "ua", "g2"), g("g2", "b", "g3"), g("g3", "c", "g1"), g("g4", "self", "g4")},
	))
	eq(t, "nested groups of alice", s.UserGroups("alice", true, true), []string{"a", "b", "c"})
	eq(t, "nested users of b", s.GroupUsers("b", true, true), []string{"alice"})
	eq(t, "descendants of a", s.GroupChildren("a", true), []string{"a", "b", "c"})
	cy := s.Cycles()
	if len(cy) != 2 || !slices.Equal(cy[0], []string{"a", "b", "c"}) || !slices.Equal(cy[1], []string{"self"}) {
		t.Fatalf("Cycles = %q", cy)
	}
	// The result is kept until the nesting changes: a change to users only
	// leaves it, a change to a group's members is seen at once.
	mustSync(t, s, "one", full(
		[]upstream.User{u("ua", "alice"), u("ub", "bob")},
		[]upstream.Group{g("g1", "a", "ua", "g2"), g("g2", "b", "g3"), g("g3", "c", "g1"), g("g4", "self", "g4")},
	))
	if cy := s.Cycles(); len(cy) != 2 {
		t.Fatalf("after a user change: Cycles = %q", cy)
	}
	mustSync(t, s, "one", full(
		[]upstream.User{u("ua", "alice"), u("ub", "bob")},
		[]upstream.Group{g("g1", "a", "ua", "g2"), g("g2", "b", "g3"), g("g3", "C"), g("g4", "self", "g4")},
	))
	if cy := s.Cycles(); len(cy) != 1 || !slices.Equal(cy[0], []string{"self"}) {
		t.Fatalf("after the cycle was broken: Cycles = %q", cy)
	}
	mustSync(t, s, "one", full(
		[]upstream.User{u("ua", "alice"), u("ub", "bob")},
		[]upstream.Group{g("g1", "a", "ua", "g2"), g("g2", "b", "g3"), g("g3", "C", "g1"), g("g4", "self")},
	))
	if cy := s.Cycles(); len(cy) != 1 || !slices.Equal(cy[0], []string{"a", "b", "C"}) {
		t.Fatalf("after the cycle came back (one group renamed): Cycles = %q", cy)
	}
}

func TestCollisionsInsideOneUpstream(t *testing.T) {
	s := open(t, "", "one")
	mustSync(t, s, "one", full(
		[]upstream.User{u("k1", "alice"), u("k2", "ALICE"), u("k3", "bob")},
		[]upstream.Group{g("g1", "devs", "k1", "k2"), g("g2", "Devs", "k3")},
	))
	us, _ := s.User("alice")
	if us.Rec.Key != "k1" {
		t.Fatalf("the first-listed record must win, got %s", us.Rec.Key)
	}
	eq(t, "members of devs", s.GroupUsers("devs", false, true), []string{"alice"})
	c := s.Collisions("one")
	if len(c) != 2 || c[0].Kind != "group" || c[0].Kept != "g1" || !slices.Equal(c[0].Skipped, []string{"g2"}) ||
		c[1].Kind != "user" || c[1].Kept != "k1" || !slices.Equal(c[1].Skipped, []string{"k2"}) {
		t.Fatalf("Collisions = %+v", c)
	}
	if n, _ := s.Counts(); n != 2 {
		t.Fatalf("users counted twice: %d", n)
	}
	// The winner goes away: the other record takes over.
	mustSync(t, s, "one", full([]upstream.User{u("k2", "ALICE"), u("k3", "bob")}, []upstream.Group{g("g2", "Devs", "k3")}))
	if us, _ := s.User("alice"); us.Rec.Key != "k2" || us.Rec.Username != "ALICE" {
		t.Fatalf("after removal: %+v", us.Rec)
	}
	eq(t, "members of devs", s.GroupUsers("devs", false, true), []string{"bob"})
}

func TestMergedViewOrderAndAggregation(t *testing.T) {
	s := open(t, "", "first", "second")
	a1 := u("a1", "alice")
	a1.DisplayName = "Alice One"
	a2 := u("a2", "Alice")
	a2.DisplayName = "Alice Two"
	mustSync(t, s, "first", full([]upstream.User{a1}, []upstream.Group{g("g1", "devs", "a1")}))
	mustSync(t, s, "second", full([]upstream.User{a2, u("b2", "bob")},
		[]upstream.Group{g("g2", "ops", "a2", "b2"), g("g3", "DEVS", "b2")}))
	us, _ := s.User("ALICE")
	if us.Upstream != "first" || us.Rec.DisplayName != "Alice One" {
		t.Fatalf("first upstream must win: %+v", us)
	}
	eq(t, "alice aggregated", s.UserGroups("alice", false, true), []string{"devs", "ops"})
	eq(t, "alice non-aggregated", s.UserGroups("alice", false, false), []string{"devs"})
	eq(t, "devs members aggregated", s.GroupUsers("devs", false, true), []string{"alice", "bob"})
	eq(t, "ops members non-aggregated", s.GroupUsers("ops", false, false), []string{"bob"})
	gr, _ := s.Group("devs")
	if gr.Upstream != "first" || !slices.Equal(gr.Upstreams, []string{"first", "second"}) {
		t.Fatalf("merged group %+v", gr)
	}
	if n, m := s.Counts(); n != 2 || m != 2 {
		t.Fatalf("counts %d %d", n, m)
	}
}

func TestIncrementalAndRenameByExternalID(t *testing.T) {
	s := open(t, "", "one")
	mustSync(t, s, "one", fixture())
	changed := u("ua", "alice")
	changed.Email = "alice@new.example.com"
	r := mustSync(t, s, "one", &upstream.SyncResult{Users: []upstream.User{changed}})
	if r.UsersUpdated != 1 || r.UsersAdded != 0 || r.Users != 3 {
		t.Fatalf("result %+v", r)
	}
	if us, _ := s.User("alice"); us.Rec.Email != "alice@new.example.com" {
		t.Fatal("email not updated")
	}
	if len(s.UsersByEmail("alice@example.com")) != 0 || len(s.UsersByEmail("alice@new.example.com")) != 1 {
		t.Fatal("email index stale")
	}
	// Same external ID under a new key: a rename (DN change), not an add.
	moved := u("ua-new", "alice")
	moved.ExternalID = "ext-ua"
	r = mustSync(t, s, "one", &upstream.SyncResult{Users: []upstream.User{moved},
		Groups: []upstream.Group{g("gd", "devs", "ua-new")}})
	if r.UsersAdded != 0 || r.UsersDeleted != 0 || r.UsersUpdated != 1 || r.Users != 3 {
		t.Fatalf("rename result %+v", r)
	}
	eq(t, "alice still in devs", s.UserGroups("alice", true, true), []string{"all", "devs", "staff"})
	// Unchanged records: nothing happens, nothing is journaled.
	head := s.Head()
	r = mustSync(t, s, "one", &upstream.SyncResult{Users: []upstream.User{moved}, Cursor: []byte("c1")})
	if r.Changed() || r.Events != 0 || s.Head() != head {
		t.Fatalf("no-op sync changed something: %+v", r)
	}
}

func TestDeletionGuard(t *testing.T) {
	s := open(t, "", "one")
	var users []upstream.User
	for i := range 10 {
		users = append(users, u(fmt.Sprint("k", i), fmt.Sprint("user", i)))
	}
	mustSync(t, s, "one", full(users, nil))
	_, err := s.ApplySync(context.Background(), "one", full(users[:5], nil), SyncOptions{MaxDeletePercent: 20})
	var ge *GuardError
	if !errors.As(err, &ge) || !errors.Is(err, ErrDeletionGuard) || ge.UsersDeleted != 5 || ge.UsersTotal != 10 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "--allow-deletes") {
		t.Errorf("the error should say how to apply it: %v", err)
	}
	if n, _ := s.Counts(); n != 10 {
		t.Fatalf("guarded sync changed the store: %d users", n)
	}
	// 2 of 10 is within 20%.
	if _, err := s.ApplySync(context.Background(), "one", full(users[:8], nil), SyncOptions{MaxDeletePercent: 20}); err != nil {
		t.Fatal(err)
	}
	r, err := s.ApplySync(context.Background(), "one", full(users[:4], nil), SyncOptions{MaxDeletePercent: 20, AllowDeletes: true})
	if err != nil || r.UsersDeleted != 4 || r.Users != 4 {
		t.Fatalf("allow-deletes: %+v %v", r, err)
	}
}

func TestJournal(t *testing.T) {
	s := open(t, "", "one")
	tok0 := s.Head()
	mustSync(t, s, "one", fixture())
	tok1 := s.Head()
	if evs, _, err := s.EventsSince(tok0, 0); err != nil || len(evs) == 0 {
		t.Fatalf("events after first sync: %v %v", evs, err)
	}
	// Changes: carol joins ops, dave is added, bob is deleted, devs nested in ops.
	res := &upstream.SyncResult{Full: true,
		Users:  []upstream.User{u("ua", "alice"), u("uc", "carol"), u("ud", "dave")},
		Groups: []upstream.Group{g("gd", "devs", "ua"), g("go", "ops", "uc", "gd"), g("gs", "staff", "gd", "go"), g("gall", "all", "gs")}}
	mustSync(t, s, "one", res)
	evs, next, err := s.EventsSince(tok1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s %s %s", e.Kind, e.Op, e.Name))
	}
	want := []string{
		"user created dave",
		"group_membership updated devs",
		"group_membership updated ops",
		"user_membership updated carol",
		"user deleted Bob",
	}
	eq(t, "events", got, want)
	if next != s.Head() {
		t.Fatalf("next token %v, head %v", next, s.Head())
	}
	// Paging through the journal.
	evs, mid, err := s.EventsSince(tok1, 2)
	if err != nil || len(evs) != 2 {
		t.Fatal(err)
	}
	if rest, _, _ := s.EventsSince(mid, 0); len(rest) != 3 {
		t.Fatalf("rest %d", len(rest))
	}
	if _, _, err := s.EventsSince(Token{Epoch: "other", Seq: 1}, 0); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("foreign epoch: %v", err)
	}
	if _, _, err := s.EventsSince(Token{Epoch: tok1.Epoch, Seq: next.Seq + 5}, 0); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("future token: %v", err)
	}
	if tk, err := ParseToken(next.String()); err != nil || tk != next {
		t.Fatalf("token round trip %v %v", tk, err)
	}
}

func TestJournalResetOnBigChange(t *testing.T) {
	s, err := Open(Options{InMemory: true, Upstreams: []string{"one"}, ResetThreshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustSync(t, s, "one", fixture())
	tok := s.Head()
	var users []upstream.User
	for i := range 10 {
		users = append(users, u(fmt.Sprint("k", i), fmt.Sprint("user", i)))
	}
	r := mustSync(t, s, "one", &upstream.SyncResult{Users: users})
	if !r.Reset {
		t.Fatal("expected a reset")
	}
	if _, _, err := s.EventsSince(tok, 0); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("token before reset: %v", err)
	}
	if evs, _, err := s.EventsSince(s.Head(), 0); err != nil || len(evs) != 0 {
		t.Fatalf("head after reset: %v %v", evs, err)
	}
}

func TestJournalRetention(t *testing.T) {
	s, err := Open(Options{InMemory: true, Upstreams: []string{"one"}, JournalRetention: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustSync(t, s, "one", full([]upstream.User{u("a", "a")}, nil))
	old := s.Head()
	for i := range 30 {
		x := u("a", "a")
		x.DisplayName = fmt.Sprint(i)
		mustSync(t, s, "one", &upstream.SyncResult{Users: []upstream.User{x}})
	}
	if _, _, err := s.EventsSince(old, 0); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired token accepted: %v", err)
	}
	recent := Token{Epoch: old.Epoch, Seq: s.Head().Seq - 5}
	if evs, _, err := s.EventsSince(recent, 0); err != nil || len(evs) != 5 {
		t.Fatalf("recent token: %d %v", len(evs), err)
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Upstreams: []string{"one", "two"}})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, s, "one", fixture())
	mustSync(t, s, "two", full([]upstream.User{u("x", "xavier")}, []upstream.Group{g("gx", "devs", "x")}))
	if _, err := s.Apply(context.Background(), "two", Changes{Aux: map[string][]byte{"pw:x": []byte("hash")}}); err != nil {
		t.Fatal(err)
	}
	head := s.Head()
	if err := s.PutStatus(Status{Upstream: "one", State: StateConnected, Users: 3}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2, err := Open(Options{Dir: dir, Upstreams: []string{"one", "two"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	eq(t, "nested groups of alice after reopen", s2.UserGroups("alice", true, true), []string{"all", "devs", "staff"})
	eq(t, "devs members after reopen", s2.GroupUsers("devs", false, true), []string{"alice", "xavier"})
	if s2.Head() != head {
		t.Fatalf("journal head %v, want %v", s2.Head(), head)
	}
	if c, _ := s2.Cursor("one"); string(c) != "c1" || !s2.Synced("one") {
		t.Fatalf("cursor %q", c)
	}
	if v, _ := s2.Aux("two", "pw:x"); string(v) != "hash" {
		t.Fatalf("aux %q", v)
	}
	if st, _ := s2.Status("one"); st.State != StateConnected || st.Users != 3 {
		t.Fatalf("status %+v", st)
	}
	s2.Close()

	// A different upstream order resets the journal.
	s3, err := Open(Options{Dir: dir, Upstreams: []string{"two", "one"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if _, _, err := s3.EventsSince(head, 0); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("order change must expire tokens: %v", err)
	}
	if us, _ := s3.User("alice"); us.Upstream != "one" {
		t.Fatal("alice lost")
	}
}

func TestBigApplyUsesGenerationsAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Upstreams: []string{"one"}, BigApply: 3})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, s, "one", fixture()) // 7 records: big
	if s.ups["one"].meta.Gen != 1 {
		t.Fatalf("generation %d", s.ups["one"].meta.Gen)
	}
	// A small change stays in generation 1.
	mustSync(t, s, "one", &upstream.SyncResult{Users: []upstream.User{u("ue", "eve")}})
	res := fixture()
	res.Users = append(res.Users, u("uf", "frank"), u("ug", "gina"), u("uh", "hal"))
	mustSync(t, s, "one", res)
	if s.ups["one"].meta.Gen != 2 {
		t.Fatalf("generation %d", s.ups["one"].meta.Gen)
	}
	if n := countPrefix(t, s, genPrefix("one", 1)); n != 0 {
		t.Fatalf("old generation has %d keys left", n)
	}
	// Simulate a crash in the middle of the next big sync: a pending
	// generation with some records, never flipped.
	err = s.update(func(txn *badger.Txn) error {
		m := s.ups["one"].meta
		m.Pending = 3
		if err := putJSON(txn, metaKey("one"), m); err != nil {
			return err
		}
		return txn.Set(userKey("one", 3, "zz"), encodeUser(newUserRec(&upstream.User{Key: "zz", Username: "zombie"}, 0)))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(Options{Dir: dir, Upstreams: []string{"one"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, ok := s2.User("zombie"); ok {
		t.Fatal("a half-written generation was served")
	}
	if n, _ := s2.Counts(); n != 6 {
		t.Fatalf("users after crash recovery: %d", n)
	}
	if n := countPrefix(t, s2, genPrefix("one", 3)); n != 0 {
		t.Fatalf("pending generation has %d keys left", n)
	}
}

func countPrefix(t *testing.T, s *Store, p []byte) int {
	n := 0
	_ = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n
}

func TestApplyValidation(t *testing.T) {
	s := open(t, "", "one")
	if _, err := s.Apply(context.Background(), "one", Changes{Users: []upstream.User{{Key: "k"}}}); !errors.Is(err, ErrInvalidRecords) {
		t.Fatalf("empty username accepted: %v", err)
	}
	if _, err := s.Apply(context.Background(), "nope", Changes{}); !errors.Is(err, ErrUnknownUp) {
		t.Fatalf("unknown upstream: %v", err)
	}
	r := mustSync(t, s, "one", full([]upstream.User{{Key: "k", Username: " spaced"}, u("a", "a"), u("a", "dup")}, nil))
	if r.Skipped != 2 || r.Users != 1 {
		t.Fatalf("skipped %+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ApplySync(ctx, "one", fixture(), SyncOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestStoreLockedByAnotherOpen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "one")
	_ = s
	if _, err := Open(Options{Dir: dir, Upstreams: []string{"one"}}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v", err)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	in := newUserRec(&upstream.User{Key: "k", ExternalID: "e", Username: "N", FirstName: "f", LastName: "l",
		DisplayName: "d", Email: "m", Active: true, Created: time.Unix(1700000000, 5).UTC(), Attributes: map[string][]string{"a": {"1", "2"}}}, 42)
	out, err := decodeUser(encodeUser(in))
	if err != nil || out.order != 42 || !out.same(in.user()) || out.fold() != "n" {
		t.Fatalf("user round trip: %+v %v", out, err)
	}
	gin := &groupRec{order: 7, Group: upstream.Group{Key: "g", Name: "n", Members: []string{"a", "b"}, Updated: time.Unix(5, 0).UTC()}}
	gout, err := decodeGroup(encodeGroup(gin))
	if err != nil || gout.order != 7 || !sameGroup(&gin.Group, &gout.Group) {
		t.Fatalf("group round trip: %+v %v", gout, err)
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(encodeUser(newUserRec(&upstream.User{Key: "k", Username: "n"}, 0)))
	f.Add(encodeGroup(&groupRec{Group: g("k", "n", "a", "b")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeUser(b); err == nil {
			if r2, err := decodeUser(encodeUser(r)); err != nil || !r2.same(r.user()) {
				t.Fatalf("user does not round-trip: %v", err)
			}
		}
		if r, err := decodeGroup(b); err == nil {
			if r2, err := decodeGroup(encodeGroup(r)); err != nil || !sameGroup(&r.Group, &r2.Group) {
				t.Fatalf("group does not round-trip: %v", err)
			}
		}
	})
}

// TestApplyTooBigForOneTransaction: a change set whose encoded size does not
// fit one Badger transaction still applies atomically (by generation).
func TestApplyTooBigForOneTransaction(t *testing.T) {
	s := open(t, "", "one")
	mustSync(t, s, "one", fixture())
	big := strings.Repeat("x", 2000)
	var users []upstream.User
	for i := range 2000 { // about 4 MB: more than one transaction holds
		x := u(fmt.Sprint("k", i), fmt.Sprint("user", i))
		x.Attributes = map[string][]string{"blob": {big}}
		users = append(users, x)
	}
	gen := s.ups["one"].meta.Gen
	r := mustSync(t, s, "one", &upstream.SyncResult{Users: users})
	if r.UsersAdded != 2000 || r.Users != 2003 {
		t.Fatalf("result %+v", r)
	}
	if s.ups["one"].meta.Gen == gen {
		t.Fatal("expected a new generation")
	}
	if u, ok := s.User("user1999"); !ok || len(u.Rec.Attributes["blob"][0]) != 2000 {
		t.Fatal("records lost")
	}
}

// Non-aggregating reads keep to the user's own upstream, nesting included:
// a group that nests the user's group in another upstream does not count.
func TestNonAggregatingNesting(t *testing.T) {
	s := open(t, "", "corp", "local")
	mustSync(t, s, "corp", full([]upstream.User{u("ua", "alice")},
		[]upstream.Group{g("gd", "devs", "ua"), g("gs", "staff", "gd"), g("gall", "all", "gs")}))
	mustSync(t, s, "local", full([]upstream.User{u("lc", "carol"), u("la", "alice")},
		[]upstream.Group{g("ld", "devs", "lc"), g("lq", "qa", "lc", "la"), g("lt", "testers", "lq")}))
	eq(t, "carol nested, aggregated", s.UserGroups("carol", true, true), []string{"all", "devs", "qa", "staff", "testers"})
	eq(t, "carol nested, own upstream", s.UserGroups("carol", true, false), []string{"devs", "qa", "testers"})
	eq(t, "alice nested, own upstream", s.UserGroups("alice", true, false), []string{"all", "devs", "staff"})
	eq(t, "alice nested, aggregated", s.UserGroups("alice", true, true), []string{"all", "devs", "qa", "staff", "testers"})
	eq(t, "staff nested members, aggregated", s.GroupUsers("staff", true, true), []string{"alice", "carol"})
	eq(t, "staff nested members, own upstreams", s.GroupUsers("staff", true, false), []string{"alice"})
	eq(t, "testers nested members, own upstreams", s.GroupUsers("testers", true, false), []string{"carol"})
	if s.IsMember("carol", "staff", true, false) || !s.IsMember("carol", "staff", true, true) {
		t.Fatal("IsMember disagrees with UserGroups")
	}
}

// link_by: email files a later upstream's user under the earlier user with
// the same address: one user, the earlier record wins, memberships
// aggregate; ambiguous addresses link nothing; re-syncing changes nothing.
func TestLinkByEmail(t *testing.T) {
	s := open(t, "", "corp", "cloud")
	mustSync(t, s, "corp", full([]upstream.User{u("ua", "alice"), u("uc", "carol"), u("ud", "dan")},
		[]upstream.Group{g("gd", "devs", "ua")}))
	// carol and dan share an address: nobody links to them.
	mustSync(t, s, "corp", &upstream.SyncResult{Users: []upstream.User{func() upstream.User { x := u("ud", "dan"); x.Email = "carol@example.com"; return x }()}})
	cloudUser := func(key, email string) upstream.User {
		return upstream.User{Key: key, ExternalID: key, Username: email, Email: strings.ToUpper(email), DisplayName: "Cloud " + email, Active: true}
	}
	res := full([]upstream.User{cloudUser("acc-1", "alice@example.com"), cloudUser("acc-2", "bob@cloud.example"), cloudUser("acc-3", "carol@example.com")},
		[]upstream.Group{g("cg", "jira-users", "acc-1", "acc-2", "acc-3")})
	link := func() ApplyResult {
		r, err := s.ApplySync(context.Background(), "cloud", res, SyncOptions{MaxDeletePercent: 100, LinkByEmail: true})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	link()
	a, ok := s.User("alice")
	if !ok || a.Upstream != "corp" {
		t.Fatalf("alice: %+v", a)
	}
	if _, ok := s.User("alice@example.com"); ok {
		t.Fatal("the linked cloud account is also served under its own name")
	}
	eq(t, "alice's groups, aggregated", s.UserGroups("alice", false, true), []string{"devs", "jira-users"})
	eq(t, "alice's groups, her own upstream's", s.UserGroups("alice", false, false), []string{"devs"})
	eq(t, "jira-users members", s.GroupUsers("jira-users", false, true), []string{"alice", "bob@cloud.example", "carol@example.com"})
	if rec, ok := s.UpstreamUser("cloud", "alice"); !ok || rec.Attributes[LinkedFromAttr][0] != "alice@example.com" {
		t.Fatalf("the cloud record: %+v", rec)
	}
	if _, ok := s.User("carol@example.com"); !ok {
		t.Fatal("an address two earlier users share must not link")
	}
	head := s.Head()
	if r := link(); r.Changed() || s.Head() != head {
		t.Fatalf("re-linking unchanged data changed the store: %+v", r)
	}
	// Without the option the accounts stay apart.
	s2 := open(t, "", "corp", "cloud")
	mustSync(t, s2, "corp", full([]upstream.User{u("ua", "alice")}, nil))
	mustSync(t, s2, "cloud", res)
	if _, ok := s2.User("alice@example.com"); !ok {
		t.Fatal("linked without link_by")
	}
}
