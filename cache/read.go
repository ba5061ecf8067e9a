package cache

import (
	"slices"
	"sort"
	"sync"

	"github.com/dirgate/dirgate/upstream"
)

// User is a user of the merged view: the record of the first upstream (in
// configured order) that has the username. Rec is shared with the store and
// must not be modified.
type User struct {
	Rec      *upstream.User
	Upstream string
	// UpstreamIndex is the position of Upstream in the configured order.
	UpstreamIndex int
}

// Group is a group of the merged view. Rec is the record of the first
// upstream that has the group name; members are merged from all of them.
type Group struct {
	Rec           *upstream.Group
	Upstream      string
	UpstreamIndex int
	// Upstreams lists every upstream that has the group, in order.
	Upstreams []string
}

// user returns the merged user of a folded name.
func (s *Store) user(name string) (User, bool) {
	r, win := s.v.user(name)
	if r == nil {
		return User{}, false
	}
	return User{Rec: r.user(), Upstream: s.v.ups[win].name, UpstreamIndex: win}, true
}

func (s *Store) group(name string) (Group, bool) {
	r, win := s.v.group(name)
	if r == nil {
		return Group{}, false
	}
	g := Group{Rec: &r.Group, Upstream: s.v.ups[win].name, UpstreamIndex: win, Upstreams: []string{s.v.ups[win].name}}
	for _, up := range s.v.ups[win+1:] {
		if up.groupByName(name) != nil {
			g.Upstreams = append(g.Upstreams, up.name)
		}
	}
	return g, true
}

// User looks a user up by username, case-insensitively.
func (s *Store) User(name string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.user(upstream.Fold(name))
}

// Username returns the username as the user's winning record spells it:
// User without building the record (it allocates nothing).
func (s *Store) Username(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r, _ := s.v.user(upstream.Fold(name)); r != nil {
		return r.username(), true
	}
	return "", false
}

// UsersByEmail returns the users whose e-mail address is email,
// case-insensitively, ordered by username.
func (s *Store) UsersByEmail(email string) []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []User
	s.v.emailWinners(upstream.Fold(email), len(s.v.ups), func(r *userRec, i int) {
		out = append(out, User{Rec: r.user(), Upstream: s.v.ups[i].name, UpstreamIndex: i})
	})
	sort.Slice(out, func(i, j int) bool { return upstream.Fold(out[i].Rec.Username) < upstream.Fold(out[j].Rec.Username) })
	return out
}

// Group looks a group up by name, case-insensitively.
func (s *Store) Group(name string) (Group, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.group(upstream.Fold(name))
}

// Counts returns the number of users and groups in the merged view.
func (s *Store) Counts() (users, groups int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.v.sortedUsers), len(s.v.sortedGroups)
}

// Users calls fn for every user in case-insensitive name order, from start
// (a folded name; "" for the beginning), until fn returns false. The view
// is read in batches, so a long walk does not hold up writers.
func (s *Store) Users(start string, fn func(User) bool) {
	walk(s, start, func(v *view) []string { return v.userList() }, s.user, fn)
}

// Groups calls fn for every group in case-insensitive name order.
func (s *Store) Groups(start string, fn func(Group) bool) {
	walk(s, start, func(v *view) []string { return v.groupList() }, s.group, fn)
}

func walk[T any](s *Store, start string, list func(*view) []string, get func(string) (T, bool), fn func(T) bool) {
	const batch = 512
	next := upstream.Fold(start)
	first := true
	for {
		var items []T
		var last string
		s.mu.RLock()
		names := list(s.v)
		i := sort.SearchStrings(names, next)
		if !first && i < len(names) && names[i] == next {
			i++
		}
		for ; i < len(names) && len(items) < batch; i++ {
			if it, ok := get(names[i]); ok {
				items = append(items, it)
				last = names[i]
			}
		}
		s.mu.RUnlock()
		if len(items) == 0 {
			return
		}
		for _, it := range items {
			if !fn(it) {
				return
			}
		}
		next, first = last, false
	}
}

// displayNames maps folded group names to the winners' spelling.
func (s *Store) groupDisplay(names []string) []string {
	return s.appendGroupDisplay(make([]string, 0, len(names)), names)
}

// appendGroupDisplay appends the display names of the folded group names
// to out, which may be names[:0] when names is the caller's to overwrite.
func (s *Store) appendGroupDisplay(out, names []string) []string {
	for _, n := range names {
		if r, _ := s.v.group(n); r != nil {
			out = append(out, r.Name)
		}
	}
	return out
}

func (s *Store) userDisplay(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if r, _ := s.v.user(n); r != nil {
			out = append(out, r.username())
		}
	}
	return out
}

// cached returns a memoised closure, computing it with compute under the
// read lock on a miss. Entries are tagged with the view version, so a
// change invalidates them all at once.
func (s *Store) cached(k closureKey, compute func() []string) []string {
	ver := s.version.Load()
	if c, ok := s.closure.Get(k); ok && c.version == ver {
		return c.names
	}
	names := compute()
	s.closure.Add(k, closureVal{version: ver, names: names})
	return names
}

// UserGroups returns the names of the groups user belongs to, sorted
// case-insensitively: the direct ones, or with nested every group reachable
// through nesting. aggregate selects memberships from every upstream that
// has the username (true) or from its winning upstream only.
func (s *Store) UserGroups(user string, nested, aggregate bool) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := s.userGroups(upstream.Fold(user), nested, aggregate)
	// The list is the caller's alone (userGroups returns a new slice on
	// every path): its display names can take the folded names' places.
	return s.appendGroupDisplay(names[:0], names)
}

// userGroups returns folded names; mu must be held.
//
// Without aggregate (Crowd's non-aggregating mode) the user's groups are
// those of its own upstream, nesting included: a group that nests the
// user's group in another upstream does not count, since that upstream
// never said anything about this user.
//
// It returns a new slice on every path, which the caller may overwrite.
// The lists are allocated at about their size rather than grown (this
// runs for every Crowd membership request).
func (s *Store) userGroups(name string, nested, aggregate bool) []string {
	var direct nameSet
	s.v.directGroupsOfUser(name, aggregate, &direct)
	if !nested {
		return direct.sorted()
	}
	if !aggregate {
		return s.v.ownAncestors(name).sorted()
	}
	all := nameSet{list: make([]string, len(direct.list), 2*len(direct.list)+4)}
	copy(all.list, direct.list)
	for _, g := range direct.list {
		for _, a := range s.ancestors(g) {
			all.add(a)
		}
	}
	return all.sorted()
}

// ancestors returns a group's ancestors, memoised per view version in a
// plain map: every user lookup asks for the ancestors of each of its
// groups, and there are only as many entries as groups, so no LRU
// bookkeeping is needed on this path. mu must be held.
func (s *Store) ancestors(group string) []string {
	ver := s.version.Load()
	am := s.anc.Load()
	if am == nil || am.version != ver {
		fresh := &ancestorMemo{version: ver, m: make(map[string][]string)}
		if s.anc.CompareAndSwap(am, fresh) {
			am = fresh
		} else {
			am = s.anc.Load()
		}
	}
	am.mu.RLock()
	v, ok := am.m[group]
	am.mu.RUnlock()
	if ok && am.version == ver {
		return v
	}
	v = s.v.ancestors(group)
	if am.version == ver {
		am.mu.Lock()
		am.m[group] = v
		am.mu.Unlock()
	}
	return v
}

type ancestorMemo struct {
	version uint64
	mu      sync.RWMutex
	m       map[string][]string
}

// IsMember reports whether user is a member of group, directly or (with
// nested) through nesting.
func (s *Store) IsMember(user, group string, nested, aggregate bool) bool {
	g := upstream.Fold(group)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, n := range s.userGroups(upstream.Fold(user), nested, aggregate) {
		if n == g {
			return true
		}
	}
	return false
}

// GroupUsers returns the usernames that are members of group, directly or
// with nested through child groups at any depth, sorted case-insensitively.
func (s *Store) GroupUsers(group string, nested, aggregate bool) []string {
	name := upstream.Fold(group)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !nested {
		var us nameSet
		s.v.directMembers(name, aggregate, &us, nil)
		return s.userDisplay(us.sorted())
	}
	folded := s.cached(closureKey{kind: 'm', name: name, aggregate: aggregate}, func() []string {
		if !aggregate {
			return s.v.ownNestedMembers(name).sorted()
		}
		var us nameSet
		s.v.directMembers(name, aggregate, &us, nil)
		for _, d := range s.v.descendants(name) {
			s.v.directMembers(d, aggregate, &us, nil)
		}
		return us.sorted()
	})
	return s.userDisplay(folded)
}

// GroupChildren returns the groups nested in group: direct children, or
// with nested all descendants.
func (s *Store) GroupChildren(group string, nested bool) []string {
	name := upstream.Fold(group)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !nested {
		var cs nameSet
		s.v.directMembers(name, true, nil, &cs)
		return s.groupDisplay(cs.sorted())
	}
	return s.groupDisplay(s.cached(closureKey{kind: 'd', name: name}, func() []string { return s.v.descendants(name) }))
}

// GroupParents returns the groups that contain group: direct parents, or
// with nested all ancestors.
func (s *Store) GroupParents(group string, nested bool) []string {
	name := upstream.Fold(group)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !nested {
		var ps nameSet
		s.v.parentGroups(name, &ps)
		return s.groupDisplay(ps.sorted())
	}
	return s.groupDisplay(s.ancestors(name))
}

// Cycles returns the groups that take part in nesting cycles, one list per
// cycle. Cycles are tolerated (every closure stops where it has been), but
// they are almost always a mistake upstream, so status shows them.
// The search runs again only when an upstream's nesting graph changed
// since the last one: the refresher asks after every sync.
func (s *Store) Cycles() [][]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	gens := make([]uint64, len(s.v.ups))
	for i, up := range s.v.ups {
		gens[i] = up.graph
	}
	s.cyclesMu.Lock()
	if s.cyclesGens == nil || !slices.Equal(gens, s.cyclesGens) {
		s.cyclesOut, s.cyclesGens = s.v.cycles(), gens
	}
	raw := s.cyclesOut
	s.cyclesMu.Unlock()
	var out [][]string
	for _, c := range raw {
		out = append(out, s.groupDisplay(c))
	}
	return out
}

// UpstreamUser returns the effective record named username in one upstream.
func (s *Store) UpstreamUser(up, username string) (*upstream.User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.ups[up]
	if st == nil {
		return nil, false
	}
	if r := st.userByName(upstream.Fold(username)); r != nil {
		return r.user(), true
	}
	return nil, false
}

// UpstreamGroup returns the effective record named name in one upstream.
func (s *Store) UpstreamGroup(up, name string) (*upstream.Group, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.ups[up]
	if st == nil {
		return nil, false
	}
	if r := st.groupByName(upstream.Fold(name)); r != nil {
		return &r.Group, true
	}
	return nil, false
}

// UpstreamUsers returns every user record of one upstream (collisions
// included), ordered by username.
func (s *Store) UpstreamUsers(up string) []*upstream.User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.ups[up]
	if st == nil {
		return nil
	}
	out := make([]*upstream.User, 0, st.users.len())
	for _, r := range st.users.all() {
		out = append(out, r.user())
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := upstream.Fold(out[i].Username), upstream.Fold(out[j].Username)
		return a < b || a == b && out[i].Key < out[j].Key
	})
	return out
}

// UpstreamGroups returns every group record of one upstream, ordered by name.
func (s *Store) UpstreamGroups(up string) []*upstream.Group {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.ups[up]
	if st == nil {
		return nil
	}
	out := make([]*upstream.Group, 0, st.groups.len())
	for _, r := range st.groups.all() {
		out = append(out, &r.Group)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := upstream.Fold(out[i].Name), upstream.Fold(out[j].Name)
		return a < b || a == b && out[i].Key < out[j].Key
	})
	return out
}

// Collision is a name that more than one record of an upstream carries
// (case-insensitively). Kept is served; Skipped are not.
type Collision struct {
	Kind    string   `json:"kind"` // user or group
	Name    string   `json:"name"`
	Kept    string   `json:"kept"`    // key of the served record
	Skipped []string `json:"skipped"` // keys of the others
}

// Collisions returns the name collisions inside one upstream.
func (s *Store) Collisions(up string) []Collision {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.ups[up]
	if st == nil {
		return nil
	}
	var out []Collision
	for _, l := range st.userNames.more {
		c := Collision{Kind: "user", Name: l[0].username(), Kept: l[0].key()}
		for _, r := range l[1:] {
			c.Skipped = append(c.Skipped, r.key())
		}
		out = append(out, c)
	}
	for _, l := range st.groupNames.more {
		c := Collision{Kind: "group", Name: l[0].Name, Kept: l[0].Key}
		for _, r := range l[1:] {
			c.Skipped = append(c.Skipped, r.Key)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Kind < out[j].Kind || out[i].Kind == out[j].Kind && upstream.Fold(out[i].Name) < upstream.Fold(out[j].Name)
	})
	return out
}

// UpstreamCounts returns one upstream's record counts and direct
// membership edges.
func (s *Store) UpstreamCounts(up string) (users, groups, memberships int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.ups[up]
	if st == nil {
		return 0, 0, 0
	}
	for _, g := range st.groups.all() {
		memberships += len(g.Members)
	}
	return st.users.len(), st.groups.len(), memberships
}
