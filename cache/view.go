package cache

import (
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/dirgate/dirgate/upstream"
)

// This file holds the in-memory side of the store: each upstream's records
// with their indexes, and the merged view the frontends read. Badger is the
// durable copy; everything here is rebuilt from it on Open. The memory
// layout is the directory itself (about 100 MB for 100,000 users), which is
// what lets a lookup, with nested groups, cost microseconds.
//
// Only appliers (serialised by Store.applyMu) mutate these structures, and
// only while holding Store.mu for writing; readers hold Store.mu for reading.

// userRec and groupRec are stored records with the order in which the
// upstream first reported them: when two names in one upstream collide
// case-insensitively, the lower order wins and the other is skipped.
type userRec struct {
	upstream.User
	order     uint64
	fold      string // upstream.Fold(Username)
	effective bool   // first of its name in its upstream (see upState)
}

type groupRec struct {
	upstream.Group
	order     uint64
	fold      string // upstream.Fold(Name)
	effective bool
	id        int32 // slot in upState.slots while stored
}

// upState is one upstream's records and indexes.
type upState struct {
	name string
	idx  int

	users  map[string]*userRec  // key → record
	groups map[string]*groupRec // key → record

	// Records by folded name, lowest order first; the first is the
	// effective record, the others are collisions.
	userNames  nameIndex[*userRec]
	groupNames nameIndex[*groupRec]

	userExt  map[string]string // external ID → key
	groupExt map[string]string

	// emails holds every user record by folded e-mail address, lowest
	// order first (the merged view keeps winners only: UsersByEmail).
	emails nameIndex[*userRec]

	// The reverse membership edges: parents maps a member key (user or
	// group) to the groups that list it directly, as a run of group slots
	// in edges, so that a lookup of a user's groups costs one map lookup
	// and the half million edges of a large directory are one block the
	// collector does not scan (a list of records per member was an object
	// and a pointer per edge).
	parents map[string]edgeRun
	edges   []int32
	live    int         // elements of edges that hold an edge
	slots   []*groupRec // by id
	free    []int32     // unused slots

	// graph changes whenever the nesting graph may have (a group stored or
	// removed, or a user whose key is also a group's): Store.Cycles
	// recomputes only then. Values come from graphSeq, so that no two
	// states of any upState share one.
	graph uint64

	meta upMeta
}

var graphSeq atomic.Uint64

func (u *upState) graphChanged() { u.graph = graphSeq.Add(1) }

func newUpState(name string, idx int) *upState {
	return &upState{
		name: name, idx: idx,
		users: map[string]*userRec{}, groups: map[string]*groupRec{},
		userNames:  newNameIndex(func(r *userRec) uint64 { return r.order }, func(r *userRec, e bool) { r.effective = e }),
		groupNames: newNameIndex(func(r *groupRec) uint64 { return r.order }, func(r *groupRec, e bool) { r.effective = e }),
		userExt:    map[string]string{}, groupExt: map[string]string{},
		emails:  newEmailIndex(),
		parents: map[string]edgeRun{},
	}
}

// userByName returns the effective record for a folded username.
func (u *upState) userByName(folded string) *userRec { return u.userNames.first(folded) }

func (u *upState) groupByName(folded string) *groupRec { return u.groupNames.first(folded) }

// nameIndex holds records by folded name, lowest order first, and flags
// the first of each name as the effective one. Nearly every name has one
// record: those are a plain map entry, and only names with collisions get
// a list (one list per user would be 100,000 more objects on the heap).
// The view's e-mail index is one too (newEmailIndex).
type nameIndex[R comparable] struct {
	one   map[string]R   // the first record of every name
	more  map[string][]R // every record of a name that has more than one
	order func(R) uint64
	mark  func(r R, effective bool)
}

func newNameIndex[R comparable](order func(R) uint64, mark func(R, bool)) nameIndex[R] {
	return nameIndex[R]{one: map[string]R{}, more: map[string][]R{}, order: order, mark: mark}
}

// newEmailIndex maps a folded e-mail address to the records that have it,
// lowest order first (almost every address has one).
func newEmailIndex() nameIndex[*userRec] {
	return newNameIndex(func(r *userRec) uint64 { return r.order }, func(*userRec, bool) {})
}

func (x *nameIndex[R]) first(name string) R { return x.one[name] }

// list returns the records of name; buf holds a single one.
func (x *nameIndex[R]) list(name string, buf *[1]R) []R {
	if l, ok := x.more[name]; ok {
		return l
	}
	if r, ok := x.one[name]; ok {
		buf[0] = r
		return buf[:]
	}
	return nil
}

func (x *nameIndex[R]) add(name string, r R) {
	var l []R
	if m, ok := x.more[name]; ok {
		l = m
	} else if o, ok := x.one[name]; ok {
		l = []R{o}
	} else {
		x.one[name] = r
		x.mark(r, true)
		return
	}
	i := sort.Search(len(l), func(i int) bool { return x.order(l[i]) > x.order(r) })
	l = slices.Insert(l, i, r)
	x.more[name] = l
	x.set(name, l)
}

func (x *nameIndex[R]) remove(name string, r R) {
	x.mark(r, false)
	l, ok := x.more[name]
	if !ok {
		if o, ok := x.one[name]; ok && o == r {
			delete(x.one, name)
		}
		return
	}
	l = removePtr(l, r)
	if len(l) == 1 {
		delete(x.more, name)
	} else {
		x.more[name] = l
	}
	x.set(name, l)
}

// set makes l[0] the effective record of name.
func (x *nameIndex[R]) set(name string, l []R) {
	x.one[name] = l[0]
	for i, r := range l {
		x.mark(r, i == 0)
	}
}

// putUser stores r, replacing any record with its key, and returns the
// replaced record.
func (u *upState) putUser(r *userRec) *userRec {
	old := u.delUser(r.Key)
	u.users[r.Key] = r
	if u.groups[r.Key] != nil {
		u.graphChanged()
	}
	r.fold = upstream.Fold(r.Username)
	u.userNames.add(r.fold, r)
	if r.ExternalID != "" {
		u.userExt[r.ExternalID] = r.Key
	}
	if r.Email != "" {
		u.emails.add(upstream.Fold(r.Email), r)
	}
	return old
}

func (u *upState) delUser(key string) *userRec {
	old := u.users[key]
	if old == nil {
		return nil
	}
	delete(u.users, key)
	if u.groups[key] != nil {
		u.graphChanged()
	}
	u.userNames.remove(old.fold, old)
	if old.ExternalID != "" && u.userExt[old.ExternalID] == key {
		delete(u.userExt, old.ExternalID)
	}
	if old.Email != "" {
		u.emails.remove(upstream.Fold(old.Email), old)
	}
	return old
}

func (u *upState) putGroup(r *groupRec) *groupRec {
	old := u.delGroup(r.Key)
	u.groups[r.Key] = r
	u.graphChanged()
	r.fold = upstream.Fold(r.Name)
	u.groupNames.add(r.fold, r)
	if r.ExternalID != "" {
		u.groupExt[r.ExternalID] = r.Key
	}
	if n := len(u.free); n > 0 {
		r.id, u.free = u.free[n-1], u.free[:n-1]
		u.slots[r.id] = r
	} else {
		r.id = int32(len(u.slots))
		u.slots = append(u.slots, r)
	}
	for _, m := range r.Members {
		u.addParent(m, r.id)
	}
	u.compactEdges()
	return old
}

func (u *upState) delGroup(key string) *groupRec {
	old := u.groups[key]
	if old == nil {
		return nil
	}
	delete(u.groups, key)
	u.graphChanged()
	u.groupNames.remove(old.fold, old)
	if old.ExternalID != "" && u.groupExt[old.ExternalID] == key {
		delete(u.groupExt, old.ExternalID)
	}
	for _, m := range old.Members {
		u.removeParent(m, old.id)
	}
	u.slots[old.id] = nil
	u.free = append(u.free, old.id)
	u.compactEdges()
	return old
}

// edgeRun is where a member's parents are in upState.edges: n group slots
// from off, room for cap.
type edgeRun struct{ off, n, cap uint32 }

// parentIDs returns the slots of the groups that list key directly, in
// the order they were stored; valid until the next change.
func (u *upState) parentIDs(key string) []int32 {
	r := u.parents[key]
	return u.edges[r.off : r.off+r.n]
}

func (u *upState) addParent(key string, id int32) {
	r := u.parents[key]
	if r.n == r.cap {
		// Move the run to the end with twice the room; the old place is
		// waste until compactEdges.
		c := max(2, 2*r.cap)
		off := len(u.edges)
		u.edges = append(u.edges, u.edges[r.off:r.off+r.n]...)
		u.edges = append(u.edges, make([]int32, c-r.n)...)
		r.off, r.cap = uint32(off), c
	}
	u.edges[r.off+r.n] = id
	r.n++
	u.live++
	u.parents[key] = r
}

func (u *upState) removeParent(key string, id int32) {
	r, ok := u.parents[key]
	if !ok {
		return
	}
	l := u.edges[r.off : r.off+r.n]
	i := slices.Index(l, id)
	if i < 0 {
		return
	}
	copy(l[i:], l[i+1:])
	r.n--
	u.live--
	if r.n == 0 {
		delete(u.parents, key)
		return
	}
	u.parents[key] = r
}

// compactEdgesMin is the waste (elements of edges that hold no edge:
// places runs moved from, room left in runs) below which edges is never
// rewritten.
const compactEdgesMin = 4096

// compactEdges rewrites edges without waste once more than half of it is.
func (u *upState) compactEdges() {
	if waste := len(u.edges) - u.live; waste < compactEdgesMin || waste < u.live {
		return
	}
	edges := make([]int32, 0, u.live)
	for k, r := range u.parents {
		off := len(edges)
		edges = append(edges, u.edges[r.off:r.off+r.n]...)
		u.parents[k] = edgeRun{off: uint32(off), n: r.n, cap: r.n}
	}
	u.edges = edges
}

func removePtr[T comparable](l []T, r T) []T {
	if i := slices.Index(l, r); i >= 0 {
		return slices.Delete(l, i, i+1)
	}
	return l
}

// view is the merged directory. A name's winner is the effective record
// of the first upstream (in configured order) that has the name; it is
// found when asked (one map lookup per upstream up to the winner) rather
// than kept in a map of its own: that map held an object and four
// pointers per name for the collector to visit on every cycle.
type view struct {
	ups []*upState

	// Sorted folded names: what exists in the merged view.
	sortedUsers  []string
	sortedGroups []string
	bulk         bool // a bulk change is under way: re-sort at the end
}

func newView(ups []*upState) *view {
	return &view{ups: ups, sortedUsers: []string{}, sortedGroups: []string{}}
}

// user returns the winning record of a folded username and the index of
// its upstream, or nil and -1.
func (v *view) user(name string) (*userRec, int) {
	for i, up := range v.ups {
		if r := up.userByName(name); r != nil {
			return r, i
		}
	}
	return nil, -1
}

func (v *view) group(name string) (*groupRec, int) {
	for i, up := range v.ups {
		if r := up.groupByName(name); r != nil {
			return r, i
		}
	}
	return nil, -1
}

// emailWinners calls fn with every winning record, of the upstreams before
// limit, that has the folded e-mail address, and its upstream's index.
func (v *view) emailWinners(email string, limit int, fn func(*userRec, int)) {
	var buf [1]*userRec
	for i, up := range v.ups[:limit] {
		for _, r := range up.emails.list(email, &buf) {
			if r.effective && v.userWinsAt(r.fold, i) {
				fn(r, i)
			}
		}
	}
}

// userWinsAt reports whether no upstream before i has the folded username:
// for an effective record of upstream i, whether it is the winner.
func (v *view) userWinsAt(name string, i int) bool {
	for _, up := range v.ups[:i] {
		if up.userByName(name) != nil {
			return false
		}
	}
	return true
}

// refreshUser brings the sorted names up to date after the upstream
// records behind a folded username changed.
func (v *view) refreshUser(name string) {
	r, _ := v.user(name)
	v.refreshName(&v.sortedUsers, name, r != nil)
}

func (v *view) refreshGroup(name string) {
	r, _ := v.group(name)
	v.refreshName(&v.sortedGroups, name, r != nil)
}

// rebuild recomputes the sorted names from the upstream states.
func (v *view) rebuild() {
	v.sortedUsers, v.sortedGroups = nil, nil
	v.sortNames()
}

// The sorted name lists are kept current by every change: one name is
// inserted or removed in place, a bulk change (more than bulkNames names)
// re-sorts once at the end (sortNames).
const bulkNames = 256

func (v *view) refreshName(list *[]string, name string, exists bool) {
	if v.bulk || *list == nil {
		*list = nil
		return
	}
	i := sort.SearchStrings(*list, name)
	switch had := i < len(*list) && (*list)[i] == name; {
	case exists && !had:
		*list = slices.Insert(*list, i, name)
	case !exists && had:
		*list = slices.Delete(*list, i, i+1)
	}
}

// sortNames rebuilds the sorted lists that a bulk change dropped: the
// names of every upstream, once each.
func (v *view) sortNames() {
	if v.sortedUsers == nil {
		v.sortedUsers = unionNames(v.ups, func(up *upState) map[string]*userRec { return up.userNames.one })
	}
	if v.sortedGroups == nil {
		v.sortedGroups = unionNames(v.ups, func(up *upState) map[string]*groupRec { return up.groupNames.one })
	}
}

func unionNames[R any](ups []*upState, names func(*upState) map[string]R) []string {
	n := 0
	for _, up := range ups {
		n += len(names(up))
	}
	out := make([]string, 0, n)
	for _, up := range ups {
		for name := range names(up) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (v *view) userList() []string  { return v.sortedUsers }
func (v *view) groupList() []string { return v.sortedGroups }

// nameSet collects folded names without duplicates. Membership lists are
// short, so a slice beats a map until it grows.
type nameSet struct {
	list []string
	m    map[string]struct{}
}

func (s *nameSet) add(n string) bool {
	if s.m == nil {
		if slices.Contains(s.list, n) {
			return false
		}
		s.list = append(s.list, n)
		if len(s.list) > 32 {
			s.m = make(map[string]struct{}, 64)
			for _, x := range s.list {
				s.m[x] = struct{}{}
			}
		}
		return true
	}
	if _, ok := s.m[n]; ok {
		return false
	}
	s.m[n] = struct{}{}
	s.list = append(s.list, n)
	return true
}

func (s *nameSet) has(n string) bool {
	if s.m == nil {
		return slices.Contains(s.list, n)
	}
	_, ok := s.m[n]
	return ok
}

func (s *nameSet) sorted() []string {
	sort.Strings(s.list)
	return s.list
}

// directGroupsOfUser returns the folded names of the groups that list the
// user directly. With aggregate, memberships come from every upstream that
// has the username; without, only from the winning upstream.
func (v *view) directGroupsOfUser(name string, aggregate bool, out *nameSet) {
	for _, up := range v.ups {
		r := up.userByName(name)
		if r == nil {
			continue
		}
		ids := up.parentIDs(r.Key)
		out.list = slices.Grow(out.list, len(ids))
		for _, id := range ids {
			if g := up.slots[id]; g.effective {
				out.add(g.fold)
			}
		}
		if !aggregate {
			return // the winner's upstream only
		}
	}
}

// parentGroups returns the folded names of the groups that list group name
// as a direct member, in any upstream.
func (v *view) parentGroups(name string, out *nameSet) {
	for _, up := range v.ups {
		r := up.groupByName(name)
		if r == nil {
			continue
		}
		for _, id := range up.parentIDs(r.Key) {
			g := up.slots[id]
			if g.effective && g.fold != name {
				out.add(g.fold)
			}
		}
	}
}

// directMembers adds the direct members of a group: users (when users is
// not nil) and child groups (when groups is not nil). Without aggregate, a
// user counts only if the upstream listing it is the user's winner.
func (v *view) directMembers(name string, aggregate bool, users, groups *nameSet) {
	for i, up := range v.ups {
		r := up.groupByName(name)
		if r == nil {
			continue
		}
		for _, mk := range r.Members {
			if u := up.users[mk]; u != nil {
				if users != nil && u.effective && (aggregate || v.userWinsAt(u.fold, i)) {
					users.add(u.fold)
				}
			} else if g := up.groups[mk]; g != nil && groups != nil && g.effective && g.fold != name {
				groups.add(g.fold)
			}
		}
	}
}

// ownAncestors returns the folded names of the groups user name belongs
// to in its winning upstream, directly or through that upstream's own
// nesting (the non-aggregating view).
func (v *view) ownAncestors(name string) *nameSet {
	var out nameSet
	r, win := v.user(name)
	if r == nil {
		return &out
	}
	up := v.ups[win]
	queue := []string{r.Key}
	seen := map[string]bool{}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, id := range up.parentIDs(k) {
			g := up.slots[id]
			if !g.effective || seen[g.Key] {
				continue
			}
			seen[g.Key] = true
			out.add(g.fold)
			queue = append(queue, g.Key)
		}
	}
	return &out
}

// ownNestedMembers returns the folded usernames that are members of group
// name in some upstream through that upstream's own nesting, counting only
// users whose winning upstream it is (the non-aggregating view).
func (v *view) ownNestedMembers(name string) *nameSet {
	var out nameSet
	for i, up := range v.ups {
		r := up.groupByName(name)
		if r == nil {
			continue
		}
		queue := []*groupRec{r}
		seen := map[string]bool{r.Key: true}
		for len(queue) > 0 {
			g := queue[0]
			queue = queue[1:]
			for _, mk := range g.Members {
				if u := up.users[mk]; u != nil {
					if u.effective && v.userWinsAt(u.fold, i) {
						out.add(u.fold)
					}
				} else if c := up.groups[mk]; c != nil && c.effective && !seen[mk] {
					seen[mk] = true
					queue = append(queue, c)
				}
			}
		}
	}
	return &out
}

// ancestors returns every group that contains group name, directly or
// through nesting, excluding name itself unless it is part of a cycle.
func (v *view) ancestors(name string) []string {
	var out nameSet
	queue := []string{name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		var ps nameSet
		v.parentGroups(n, &ps)
		for _, p := range ps.list {
			if out.add(p) {
				queue = append(queue, p)
			}
		}
	}
	return out.sorted()
}

// descendants returns every group nested in group name, at any depth.
func (v *view) descendants(name string) []string {
	var out nameSet
	queue := []string{name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		var cs nameSet
		v.directMembers(n, true, nil, &cs)
		for _, c := range cs.list {
			if out.add(c) {
				queue = append(queue, c)
			}
		}
	}
	return out.sorted()
}

// cycles returns the groups that take part in nesting cycles, as strongly
// connected components of the merged nesting graph (Tarjan's algorithm,
// iterative so that a deep chain cannot overflow the stack).
func (v *view) cycles() [][]string {
	// The child groups of every group, from the reverse edges (a group's
	// parents): walking the groups' member lists instead would look up
	// every user membership too, half a million of them in a large
	// directory, after every sync.
	kids := map[string]*nameSet{}
	loops := map[string]bool{}
	for _, up := range v.ups {
		for _, g := range up.groups {
			for _, id := range up.parentIDs(g.Key) {
				p := up.slots[id]
				if !p.effective {
					continue
				}
				if p.fold == g.fold {
					loops[p.fold] = true // a group listing itself (or a namesake)
					continue
				}
				if !g.effective || up.users[g.Key] != nil {
					continue
				}
				ks := kids[p.fold]
				if ks == nil {
					ks = &nameSet{}
					kids[p.fold] = ks
				}
				ks.add(g.fold)
			}
		}
	}
	children := func(n string) []string {
		if ks := kids[n]; ks != nil {
			return ks.sorted()
		}
		return nil
	}
	return v.cyclesOf(children, func(n string) bool { return loops[n] })
}

// cyclesOf finds the cycles of the group graph that children and
// selfLoop describe: Tarjan's strongly connected components, and groups
// that contain themselves.
func (v *view) cyclesOf(children func(string) []string, selfLoop func(string) bool) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	type frame struct {
		node string
		kids []string
		i    int
	}
	for _, root := range v.groupList() {
		if _, seen := index[root]; seen {
			continue
		}
		work := []*frame{{node: root, kids: children(root)}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(work) > 0 {
			f := work[len(work)-1]
			if f.i < len(f.kids) {
				k := f.kids[f.i]
				f.i++
				if _, seen := index[k]; !seen {
					index[k], low[k] = next, next
					next++
					stack = append(stack, k)
					onStack[k] = true
					work = append(work, &frame{node: k, kids: children(k)})
				} else if onStack[k] && index[k] < low[f.node] {
					low[f.node] = index[k]
				}
				continue
			}
			work = work[:len(work)-1]
			if len(work) > 0 {
				p := work[len(work)-1].node
				if low[f.node] < low[p] {
					low[p] = low[f.node]
				}
			}
			if low[f.node] == index[f.node] {
				var comp []string
				for {
					n := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[n] = false
					comp = append(comp, n)
					if n == f.node {
						break
					}
				}
				if len(comp) > 1 || selfLoop(f.node) {
					sort.Strings(comp)
					out = append(out, comp)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Join(out[i], ",") < strings.Join(out[j], ",") })
	return out
}
