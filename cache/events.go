package cache

import (
	"slices"
	"sort"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// tracker remembers, before an apply, the merged-view state of every entity
// the apply may touch, so that afterwards the journal gets exactly the
// entities whose visible state changed.
type tracker struct {
	users  map[string]userSnap
	groups map[string]groupSnap
}

type userSnap struct {
	rec    *userRec
	win    int
	agg    []string // direct groups, aggregating memberships
	direct []string // direct groups from the winning upstream only
}

type groupSnap struct {
	rec      *groupRec
	win      int
	parents  []string
	children []string
}

func snapUser(v *view, name string) userSnap {
	r, win := v.user(name)
	if r == nil {
		return userSnap{}
	}
	var agg, direct nameSet
	v.directGroupsOfUser(name, true, &agg)
	v.directGroupsOfUser(name, false, &direct)
	return userSnap{rec: r, win: win, agg: agg.sorted(), direct: direct.sorted()}
}

func snapGroup(v *view, name string) groupSnap {
	r, win := v.group(name)
	if r == nil {
		return groupSnap{}
	}
	var ps, cs nameSet
	v.parentGroups(name, &ps)
	v.directMembers(name, true, nil, &cs)
	return groupSnap{rec: r, win: win, parents: ps.sorted(), children: cs.sorted()}
}

// track snapshots what cs may change. Called with mu held, before applyMem.
func (s *Store) track(st *upState, cs *changeSet) *tracker {
	t := &tracker{users: map[string]userSnap{}, groups: map[string]groupSnap{}}
	addUser := func(name string) {
		if _, ok := t.users[name]; !ok {
			t.users[name] = snapUser(s.v, name)
		}
	}
	addGroup := func(name string) {
		if _, ok := t.groups[name]; !ok {
			t.groups[name] = snapGroup(s.v, name)
		}
	}
	newUsers := make(map[string]*userRec, len(cs.users))
	for _, u := range cs.users {
		newUsers[u.key()] = u
		addUser(u.fold())
		if o := st.users.get(u.key()); o != nil {
			addUser(o.fold())
		}
	}
	for _, k := range cs.delUsers {
		if o := st.users.get(k); o != nil {
			addUser(o.fold())
		}
	}
	newGroups := make(map[string]*groupRec, len(cs.groups))
	for _, g := range cs.groups {
		newGroups[g.Key] = g
	}
	resolve := func(key string) {
		if u := st.users.get(key); u != nil {
			addUser(u.fold())
		}
		if u := newUsers[key]; u != nil {
			addUser(u.fold())
		}
		if g := st.groups.get(key); g != nil {
			addGroup(upstream.Fold(g.Name))
		}
		if g := newGroups[key]; g != nil {
			addGroup(upstream.Fold(g.Name))
		}
	}
	// A group change touches the group, its members, its parents, and
	// every record of the same name (one may start or stop shadowing another).
	touchGroup := func(g *groupRec) {
		name := upstream.Fold(g.Name)
		addGroup(name)
		var buf [1]*groupRec
		recs := append([]*groupRec{g}, st.groupNames.list(name, &buf)...)
		for _, r := range recs {
			for _, m := range r.Members {
				resolve(m)
			}
			for _, id := range st.parentIDs(r.Key) {
				resolve(st.groups.slots[id].Key)
			}
		}
	}
	for _, g := range cs.groups {
		touchGroup(g)
		if o := st.groups.get(g.Key); o != nil {
			touchGroup(o)
		}
	}
	for _, k := range cs.delGroups {
		if o := st.groups.get(k); o != nil {
			touchGroup(o)
		}
	}
	return t
}

// events compares the snapshots with the merged view after the apply.
func (t *tracker) events(v *view, up string) []Event {
	now := time.Now().UTC()
	var creates, memberships, deletes []Event
	ev := func(list *[]Event, kind EventKind, op EventOp, name string) {
		*list = append(*list, Event{Time: now, Kind: kind, Op: op, Name: name, Upstream: up})
	}
	groupNames := sortedKeys(t.groups)
	userNames := sortedKeys(t.users)
	for _, n := range groupNames {
		b, a := t.groups[n], snapGroup(v, n)
		switch {
		case b.rec == nil && a.rec != nil:
			ev(&creates, KindGroup, OpCreated, a.rec.Name)
		case b.rec != nil && a.rec == nil:
			ev(&deletes, KindGroup, OpDeleted, b.rec.Name)
		case b.rec != nil && (b.win != a.win || !sameGroupView(&b.rec.Group, &a.rec.Group)):
			ev(&creates, KindGroup, OpUpdated, a.rec.Name)
		}
		if a.rec != nil && (!slices.Equal(b.parents, a.parents) || !slices.Equal(b.children, a.children)) {
			ev(&memberships, KindGroupMembership, OpUpdated, a.rec.Name)
		}
	}
	for _, n := range userNames {
		b, a := t.users[n], snapUser(v, n)
		switch {
		case b.rec == nil && a.rec != nil:
			ev(&creates, KindUser, OpCreated, a.rec.username())
		case b.rec != nil && a.rec == nil:
			ev(&deletes, KindUser, OpDeleted, b.rec.username())
		case b.rec != nil && (b.win != a.win || !sameUserView(b.rec, a.rec)):
			ev(&creates, KindUser, OpUpdated, a.rec.username())
		}
		if a.rec != nil && (!slices.Equal(b.agg, a.agg) || !slices.Equal(b.direct, a.direct)) {
			ev(&memberships, KindUserMembership, OpUpdated, a.rec.username())
		}
	}
	// Entities first, then memberships that may name them, then deletions:
	// the order a client applying them one by one needs.
	out := append(creates, memberships...)
	// Within memberships, users' before groups' is irrelevant; deletions of
	// users before groups so that no user is left in a deleted group.
	sort.SliceStable(deletes, func(i, j int) bool { return deletes[i].Kind == KindUser && deletes[j].Kind == KindGroup })
	return append(out, deletes...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sameUserView compares what the merged view shows of a user (the key is
// internal to the upstream).
func sameUserView(a, b *userRec) bool {
	x := b.user()
	x.Key = a.key()
	return a.same(x)
}

func sameGroupView(a, b *upstream.Group) bool {
	return a.ExternalID == b.ExternalID && a.Name == b.Name && a.Description == b.Description &&
		a.Active == b.Active && sameAttrs(a.Attributes, b.Attributes)
}
