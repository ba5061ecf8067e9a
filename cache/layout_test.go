package cache

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/dirgate/dirgate/upstream"
)

func TestPackUser(t *testing.T) {
	attrs := map[string][]string{"phone": {"+1 555", "+1 556"}}
	u := upstream.User{Key: "uid=a,dc=x", ExternalID: "e-1", Username: "alice", FirstName: "Alice",
		LastName: "Liddell", DisplayName: "Alice Liddell", Email: "alice@example.com", Attributes: attrs}
	want := u
	want.Attributes = map[string][]string{"phone": {"+1 555", "+1 556"}}
	packUser(&u)
	if !sameUser(&u, &want) {
		t.Fatalf("packed record differs: %+v", u)
	}
	// Every string lies in one allocation, in field order.
	base := unsafe.StringData(u.Key)
	off := uintptr(0)
	for _, s := range []string{u.Key, u.ExternalID, u.Username, u.FirstName, u.LastName, u.DisplayName, u.Email,
		u.Attributes["phone"][0], u.Attributes["phone"][1]} {
		if got := uintptr(unsafe.Pointer(unsafe.StringData(s))) - uintptr(unsafe.Pointer(base)); got != off {
			t.Fatalf("%q at offset %d, want %d", s, got, off)
		}
		off += uintptr(len(s))
	}
	// The caller's attribute map and slices are not written.
	if unsafe.StringData(attrs["phone"][0]) == unsafe.StringData(u.Attributes["phone"][0]) {
		t.Fatal("the caller's attribute values were replaced")
	}
	var empty upstream.User
	packUser(&empty) // nothing to pack: no panic, nothing set
	if empty.Key != "" || empty.Attributes != nil {
		t.Fatalf("empty record changed: %+v", empty)
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

func TestEmailIndex(t *testing.T) {
	x := newEmailIndex()
	var buf [1]string
	get := func(k string) []string { return slices.Sorted(slices.Values(x.list(k, &buf))) }
	x.add("a@x", "alice")
	if got := get("a@x"); !slices.Equal(got, []string{"alice"}) || len(x.more) != 0 {
		t.Fatalf("one name: %v (more %v)", got, x.more)
	}
	x.add("a@x", "anna")
	x.add("a@x", "ann")
	if got := get("a@x"); !slices.Equal(got, []string{"alice", "ann", "anna"}) || len(x.more) != 1 {
		t.Fatalf("three names: %v (more %v)", got, x.more)
	}
	x.remove("a@x", "anna")
	x.remove("a@x", "nobody")
	if got := get("a@x"); !slices.Equal(got, []string{"alice", "ann"}) {
		t.Fatalf("after removal: %v", got)
	}
	x.remove("a@x", "alice")
	if got := get("a@x"); !slices.Equal(got, []string{"ann"}) || len(x.more) != 0 || x.one["a@x"] != "ann" {
		t.Fatalf("back to one: %v (one %v, more %v)", got, x.one, x.more)
	}
	x.remove("a@x", "someone else")
	x.remove("a@x", "ann")
	if got := x.list("a@x", &buf); len(got) != 0 || len(x.one) != 0 {
		t.Fatalf("empty: %v", got)
	}
}

func TestNameIndex(t *testing.T) {
	x := newNameIndex(func(r *userRec) uint64 { return r.order }, func(r *userRec, e bool) { r.effective = e })
	a, b, c := &userRec{order: 5}, &userRec{order: 2}, &userRec{order: 9}
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
			m := s.v.groups[n]
			for i, r := range m.recs {
				if r == nil {
					continue
				}
				for _, mk := range r.Members {
					if g := s.v.ups[i].groups[mk]; g != nil && g.fold == n {
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
// sequence of group writes and deletions, and hold the current records.
func TestParentsFollowGroupChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	u := newUpState("x", 0)
	for step := range 2000 {
		k := fmt.Sprintf("g%d", rng.IntN(20))
		if rng.IntN(4) == 0 {
			u.delGroup(k)
		} else {
			var members []string
			for range rng.IntN(5) {
				members = append(members, fmt.Sprintf("%c%d", "gu"[rng.IntN(2)], rng.IntN(20)))
			}
			u.putGroup(&groupRec{Group: upstream.Group{Key: k, Name: k, Members: normMembers(members)}, order: uint64(step)})
		}
		want := map[string][]*groupRec{}
		for _, g := range u.groups {
			for _, m := range g.Members {
				want[m] = append(want[m], g)
			}
		}
		if len(want) != len(u.parents) {
			t.Fatalf("step %d: parents of %d keys, want %d", step, len(u.parents), len(want))
		}
		for m, l := range want {
			got := u.parents[m]
			if len(got) != len(l) {
				t.Fatalf("step %d: %s has parents %d, want %d", step, m, len(got), len(l))
			}
			for _, g := range l {
				if !slices.Contains(got, g) {
					t.Fatalf("step %d: %s lacks parent %s (the current record)", step, m, g.Key)
				}
			}
		}
	}
}
