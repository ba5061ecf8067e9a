package cache

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/dirgate/dirgate/upstream"
)

// sameUser reports whether two users carry the same data, field by field:
// the check of userRec.user that does not go through userRec.same.
func sameUser(a, b *upstream.User) bool {
	return a.Key == b.Key && a.ExternalID == b.ExternalID && a.Username == b.Username &&
		a.FirstName == b.FirstName && a.LastName == b.LastName && a.DisplayName == b.DisplayName &&
		a.Email == b.Email && a.Active == b.Active && a.Created.Equal(b.Created) &&
		a.Updated.Equal(b.Updated) && sameAttrs(a.Attributes, b.Attributes)
}

func TestPackUser(t *testing.T) {
	attrs := map[string][]string{"phone": {"+1 555", "+1 556"}}
	created := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	u := upstream.User{Key: "uid=a,dc=x", ExternalID: "e-1", Username: "Alice", FirstName: "Alice",
		LastName: "Liddell", DisplayName: "Alice Liddell", Email: "alice@example.com", Active: true,
		Created: created, Attributes: attrs}
	want := u
	want.Attributes = map[string][]string{"phone": {"+1 555", "+1 556"}}
	r := newUserRec(&u, 7)
	if got := r.user(); !sameUser(got, &want) || !r.same(&want) || r.order != 7 || r.fold() != "alice" {
		t.Fatalf("packed record differs: %+v (order %d, fold %q)", got, r.order, r.fold())
	}
	// Every string lies in one allocation, in field order, the folded
	// username last (it differs from the username).
	got := r.user()
	base := unsafe.StringData(r.packed)
	off := uintptr(0)
	for _, s := range []string{got.Key, got.ExternalID, got.Username, got.FirstName, got.LastName, got.DisplayName, got.Email, r.fold()} {
		if s == "" {
			continue
		}
		if at := uintptr(unsafe.Pointer(unsafe.StringData(s))) - uintptr(unsafe.Pointer(base)); at != off {
			t.Fatalf("%q at offset %d, want %d", s, at, off)
		}
		off += uintptr(len(s))
	}
	if int(off) != len(r.packed) {
		t.Fatalf("packed %d bytes, the fields %d", len(r.packed), off)
	}
	// The caller's attribute map and slices are not written; the values
	// are packed together.
	if unsafe.StringData(attrs["phone"][0]) == unsafe.StringData(r.attrs["phone"][0]) {
		t.Fatal("the caller's attribute values were replaced")
	}
	// A change in any field makes it another record.
	for _, change := range []func(*upstream.User){
		func(u *upstream.User) { u.Key = "k2" }, func(u *upstream.User) { u.ExternalID = "e-2" },
		func(u *upstream.User) { u.Username = "alicia" }, func(u *upstream.User) { u.FirstName = "A" },
		func(u *upstream.User) { u.LastName = "L" }, func(u *upstream.User) { u.DisplayName = "A L" },
		func(u *upstream.User) { u.Email = "a@x" }, func(u *upstream.User) { u.Active = false },
		func(u *upstream.User) { u.Created = created.Add(time.Second) }, func(u *upstream.User) { u.Updated = created },
		func(u *upstream.User) { u.Attributes = nil },
	} {
		c := want
		change(&c)
		if r.same(&c) {
			t.Fatalf("same despite a change: %+v", c)
		}
	}
	// A lower-case username is not stored twice.
	lower := newUserRec(&upstream.User{Key: "k", Username: "bob"}, 0)
	if lower.fold() != "bob" || len(lower.packed) != len("k")+len("bob") {
		t.Fatalf("fold %q, packed %q", lower.fold(), lower.packed)
	}
	empty := newUserRec(&upstream.User{}, 0)
	if empty.key() != "" || empty.attrs != nil || empty.user().Username != "" {
		t.Fatalf("empty record: %+v", empty.user())
	}
}

func TestPackGroupKeepsMembers(t *testing.T) {
	members := []string{"uid=a,dc=x", "uid=b,dc=x"}
	g := upstream.Group{Key: "cn=g,dc=x", Name: "g", Description: "the g", Members: members}
	packGroup(&g)
	if g.Key != "cn=g,dc=x" || g.Name != "g" || g.Description != "the g" {
		t.Fatalf("packed group differs: %+v", g)
	}
	if unsafe.StringData(g.Members[0]) != unsafe.StringData(members[0]) || &g.Members[0] != &members[0] {
		t.Fatal("member keys were copied")
	}
}

// table returns a slot table and a function that stores a record in it.
func table() (*slotTable[*userRec], func(key string, order uint64, name, email string) *userRec) {
	tab := newSlotTable[*userRec]()
	return &tab, func(key string, order uint64, name, email string) *userRec {
		r := newUserRec(&upstream.User{Key: key, Username: name, Email: email}, order)
		tab.put(r)
		return r
	}
}

func TestEmailIndex(t *testing.T) {
	tab, rec := table()
	x := newEmailIndex(tab)
	alice, anna, ann := rec("k1", 1, "alice", "A@x"), rec("k2", 9, "anna", "a@x"), rec("k3", 4, "ann", "a@X")
	other := rec("k4", 2, "other", "b@x")
	var buf [1]*userRec
	check := func(step string, want ...*userRec) {
		t.Helper()
		if got := x.list("a@x", &buf); !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", step, got, want)
		}
	}
	x.add("a@x", alice)
	check("one record", alice)
	if len(x.more) != 0 {
		t.Fatalf("one record kept a list: %v", x.more)
	}
	x.add("a@x", anna)
	x.add("a@x", ann)
	check("three records, lowest order first", alice, ann, anna)
	if len(x.more) != 1 {
		t.Fatalf("three records: more %v", x.more)
	}
	x.remove("a@x", anna)
	x.remove("a@x", other)
	check("after removal", alice, ann)
	x.remove("a@x", alice)
	check("back to one", ann)
	if len(x.more) != 0 || x.first("a@x") != ann {
		t.Fatalf("back to one: first %v, more %v", x.first("a@x"), x.more)
	}
	x.remove("a@x", other)
	x.remove("a@x", ann)
	check("empty")
	if len(x.one.h) != 0 {
		t.Fatalf("empty: one %v", x.one.h)
	}
}

func TestNameIndex(t *testing.T) {
	tab, rec := table()
	x := newNameIndex(tab, func(r *userRec) string { return r.fold() }, func(r *userRec) uint64 { return r.order }, func(r *userRec, e bool) { r.effective = e })
	a, b, c := rec("ka", 5, "n", ""), rec("kb", 2, "n", ""), rec("kc", 9, "n", "")
	check := func(step string, want ...*userRec) {
		t.Helper()
		var buf [1]*userRec
		got := x.list("n", &buf)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: list = %v, want %v", step, got, want)
		}
		if len(want) > 0 && x.first("n") != want[0] || len(want) == 0 && x.first("n") != nil {
			t.Fatalf("%s: first = %v", step, x.first("n"))
		}
		for i, r := range want {
			if r.effective != (i == 0) {
				t.Fatalf("%s: record %d effective = %v", step, i, r.effective)
			}
		}
		if len(want) < 2 && len(x.more) != 0 {
			t.Fatalf("%s: a list kept for %d records", step, len(want))
		}
	}
	x.add("n", a)
	check("one", a)
	x.add("n", c)
	x.add("n", b)
	check("three, lowest order first", b, a, c)
	x.remove("n", a)
	check("middle removed", b, c)
	x.remove("n", b)
	check("first removed", c)
	if b.effective {
		t.Fatal("a removed record stays effective")
	}
	x.remove("n", a) // not there any more: nothing happens
	check("absent removed", c)
	x.remove("n", c)
	check("empty")
}

// weakHash makes hashKey collide often for the rest of the test.
func weakHash(t *testing.T) {
	old := hashKey
	hashKey = func(k string) uint64 { return uint64(len(k) % 3) }
	t.Cleanup(func() { hashKey = old })
}

// A slot table finds what a map would, through slot reuse and keys whose
// hashes collide.
func TestSlotTableMatchesAMap(t *testing.T) {
	for _, weak := range []bool{false, true} {
		if weak {
			weakHash(t)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		tab, _ := table()
		want := map[string]*userRec{}
		for step := range 5000 {
			k := fmt.Sprintf("k%d", rng.IntN(300))
			switch r := tab.get(k); {
			case r != want[k]:
				t.Fatalf("weak %v, step %d: get(%s) = %v, want %v", weak, step, k, r, want[k])
			case r != nil && rng.IntN(2) == 0:
				tab.del(r)
				delete(want, k)
			case r == nil:
				r = newUserRec(&upstream.User{Key: k}, 0)
				tab.put(r)
				want[k] = r
			}
			if tab.len() != len(want) {
				t.Fatalf("weak %v, step %d: %d records, want %d", weak, step, tab.len(), len(want))
			}
		}
		n := 0
		for k, r := range tab.all() {
			if want[k] != r {
				t.Fatalf("weak %v: all() yields %s → %v, want %v", weak, k, r, want[k])
			}
			n++
		}
		if n != len(want) {
			t.Fatalf("weak %v: all() yields %d records, want %d", weak, n, len(want))
		}
		if weak && len(tab.byKey.more) == 0 {
			t.Fatal("the weak hash made no collision")
		}
	}
}

// The store behaves the same when every index key collides with others.
func TestStoreWithCollidingHashes(t *testing.T) {
	weakHash(t)
	t.Run("nested reads", TestFullSyncAndNestedReads)
	t.Run("collisions", TestCollisionsInsideOneUpstream)
	t.Run("merged view", TestMergedViewOrderAndAggregation)
	t.Run("renames", TestIncrementalAndRenameByExternalID)
	t.Run("emails", TestUsersByEmailServesWinnersOnly)
	t.Run("link by email", TestLinkByEmail)
	t.Run("parents", TestParentsFollowGroupChanges)
	t.Run("cycles", TestCyclesFromReverseEdgesMatchMemberWalk)
}

// cycles finds the child groups from the reverse edges; on random graphs
// over two upstreams, with colliding names and users among the members,
// it finds what walking every group's member list finds.
func TestCyclesFromReverseEdgesMatchMemberWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 40 {
		s := open(t, "", "one", "two")
		for _, up := range []string{"one", "two"} {
			var users []upstream.User
			for i := range 5 {
				users = append(users, u(fmt.Sprintf("%s-u%d", up, i), fmt.Sprintf("user%d", i)))
			}
			var groups []upstream.Group
			for i := range 12 {
				var members []string
				for range rng.IntN(4) {
					if rng.IntN(3) == 0 {
						members = append(members, fmt.Sprintf("%s-u%d", up, rng.IntN(5)))
					} else {
						members = append(members, fmt.Sprintf("%s-g%d", up, rng.IntN(12)))
					}
				}
				if rng.IntN(10) == 0 {
					members = append(members, fmt.Sprintf("%s-g%d", up, i)) // itself
				}
				// Eight names for twelve groups: some collide (case apart).
				name := fmt.Sprintf("G%d", rng.IntN(8))
				if rng.IntN(2) == 0 {
					name = strings.ToLower(name)
				}
				groups = append(groups, g(fmt.Sprintf("%s-g%d", up, i), name, members...))
			}
			mustSync(t, s, up, full(users, groups))
		}
		walk := func(n string) []string {
			var cs nameSet
			s.v.directMembers(n, true, nil, &cs)
			return cs.sorted()
		}
		// A group lists itself: one of its records has a member group of
		// the same name.
		loop := func(n string) bool {
			for _, up := range s.v.ups {
				r := up.groupByName(n)
				if r == nil {
					continue
				}
				for _, mk := range r.Members {
					if g := up.groups.get(mk); g != nil && g.fold == n {
						return true
					}
				}
			}
			return false
		}
		got, want := s.v.cycles(), s.v.cyclesOf(walk, loop)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("round %d: cycles %q, member walk finds %q", round, got, want)
		}
	}
}

// The reverse edges (parents) stay what the member lists say through any
// sequence of group writes and deletions, hold the current records, and
// their storage is compacted so that churn does not grow it.
func TestParentsFollowGroupChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	u := newUpState("x", 0)
	compactions, prev := 0, 0
	for step := range 3000 {
		k := fmt.Sprintf("g%d", rng.IntN(60))
		if rng.IntN(4) == 0 {
			u.delGroup(k)
		} else {
			var members []string
			for range rng.IntN(40) {
				members = append(members, fmt.Sprintf("%c%d", "gu"[rng.IntN(2)], rng.IntN(60)))
			}
			u.putGroup(&groupRec{Group: upstream.Group{Key: k, Name: k, Members: normMembers(members)}, order: uint64(step)})
		}
		want := map[string][]*groupRec{}
		live := 0
		for _, g := range u.groups.all() {
			for _, m := range g.Members {
				want[m] = append(want[m], g)
				live++
			}
		}
		if len(want) != len(u.parents) {
			t.Fatalf("step %d: parents of %d keys, want %d", step, len(u.parents), len(want))
		}
		for m, l := range want {
			var got []*groupRec
			for _, id := range u.parentIDs(m) {
				got = append(got, u.groups.slots[id])
			}
			if len(got) != len(l) {
				t.Fatalf("step %d: %s has parents %d, want %d", step, m, len(got), len(l))
			}
			for _, g := range l {
				if !slices.Contains(got, g) {
					t.Fatalf("step %d: %s lacks parent %s (the current record)", step, m, g.Key)
				}
			}
		}
		if len(u.edges) < prev {
			compactions++
		}
		prev = len(u.edges)
		if len(u.edges) > 2*(live+compactEdgesMin) {
			t.Fatalf("step %d: %d edges stored for %d live ones", step, len(u.edges), live)
		}
		for k, g := range u.groups.all() {
			if u.groups.get(k) != g || u.groups.slots[g.id] != g {
				t.Fatalf("step %d: group %s not found in its slot", step, k)
			}
		}
	}
	if compactions == 0 {
		t.Fatal("the edges were never compacted")
	}
}

// UsersByEmail returns the winners with an address: not a record that
// lost its name to an earlier upstream or to a collision in its own, and
// a winner whose address changed is found at the new one only.
func TestUsersByEmailServesWinnersOnly(t *testing.T) {
	s := open(t, "", "first", "second")
	with := func(key, name, email string) upstream.User {
		r := u(key, name)
		r.Email = email
		return r
	}
	mustSync(t, s, "first", full([]upstream.User{with("f1", "alice", "a@x"), with("f2", "bob", "shared@x")}, nil))
	mustSync(t, s, "second", full([]upstream.User{
		with("s1", "alice", "lost@x"),   // loses to first's alice
		with("s2", "carol", "shared@x"), // wins: no carol before
		with("s3", "dave", "dave@x"),    // wins
		with("s4", "DAVE", "dup@x"),     // collides with dave, reported later: skipped
	}, nil))
	names := func(email string) []string {
		var out []string
		for _, us := range s.UsersByEmail(email) {
			out = append(out, us.Upstream+"/"+us.Rec.Username)
		}
		return out
	}
	eq(t, "a@x", names("A@X"), []string{"first/alice"})
	eq(t, "lost@x", names("lost@x"), nil)
	eq(t, "shared@x", names("shared@x"), []string{"first/bob", "second/carol"})
	eq(t, "dave@x", names("dave@x"), []string{"second/dave"})
	eq(t, "dup@x", names("dup@x"), nil)

	// first's alice goes: second's alice wins, and is found by its address.
	mustSync(t, s, "first", full([]upstream.User{with("f2", "bob", "new@x")}, nil))
	eq(t, "lost@x after", names("lost@x"), []string{"second/alice"})
	eq(t, "a@x after", names("a@x"), nil)
	eq(t, "shared@x after", names("shared@x"), []string{"second/carol"})
	eq(t, "new@x", names("new@x"), []string{"first/bob"})
	if n, _ := s.Counts(); n != 4 {
		t.Fatalf("Counts: %d users, want 4 (alice, bob, carol, dave and DAVE as one)", n)
	}
}
