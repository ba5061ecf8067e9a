package cache

import (
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

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
	packed           string // the strings, back to back (newUserRec)
	ends             [nUserStrs]uint32
	attrs            map[string][]string
	created, updated time.Time
	active           bool
	effective        bool  // first of its name in its upstream (see upState)
	id               int32 // slot in upState.users while stored
	order            uint64
}

type groupRec struct {
	upstream.Group
	order     uint64
	fold      string // upstream.Fold(Name)
	effective bool
	id        int32 // slot in upState.groups while stored
}

// upState is one upstream's records and indexes.
type upState struct {
	name string
	idx  int

	users  slotTable[*userRec] // by key
	groups slotTable[*groupRec]

	// Records by folded name, lowest order first; the first is the
	// effective record, the others are collisions.
	userNames  nameIndex[*userRec]
	groupNames nameIndex[*groupRec]

	userExt  hashIndex // external ID → slot in users
	groupExt hashIndex

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
	live    int // elements of edges that hold an edge

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
	u := &upState{
		name: name, idx: idx,
		users: newSlotTable[*userRec](), groups: newSlotTable[*groupRec](),
		userExt: newHashIndex(), groupExt: newHashIndex(),
		parents: map[string]edgeRun{},
	}
	u.userNames = newNameIndex(&u.users, func(r *userRec) string { return r.fold() },
		func(r *userRec) uint64 { return r.order }, func(r *userRec, e bool) { r.effective = e })
	u.groupNames = newNameIndex(&u.groups, func(r *groupRec) string { return r.fold },
		func(r *groupRec) uint64 { return r.order }, func(r *groupRec, e bool) { r.effective = e })
	u.emails = newEmailIndex(&u.users)
	return u
}

func (u *upState) userExtKey(id int32) string  { return u.users.slots[id].ext() }
func (u *upState) groupExtKey(id int32) string { return u.groups.slots[id].ExternalID }

// userByExt returns the user record with an external ID, or nil.
func (u *upState) userByExt(ext string) *userRec {
	if id, ok := u.userExt.get(ext, u.userExtKey); ok {
		return u.users.slots[id]
	}
	return nil
}

func (u *upState) groupByExt(ext string) *groupRec {
	if id, ok := u.groupExt.get(ext, u.groupExtKey); ok {
		return u.groups.slots[id]
	}
	return nil
}

// userByName returns the effective record for a folded username.
func (u *upState) userByName(folded string) *userRec { return u.userNames.first(folded) }

func (u *upState) groupByName(folded string) *groupRec { return u.groupNames.first(folded) }

// nameIndex holds the records of a slot table by name (a folded username,
// group name or e-mail address), lowest order first, and flags the first
// of each name as the effective one. Nearly every name has one record:
// those are a hash index entry, and only names with collisions get a list
// (one list per user would be 100,000 more objects on the heap).
type nameIndex[R slotted] struct {
	one   hashIndex      // the first record of every name
	more  map[string][]R // every record of a name that has more than one
	tab   *slotTable[R]
	name  func(R) string
	order func(R) uint64
	mark  func(r R, effective bool)
}

func newNameIndex[R slotted](tab *slotTable[R], name func(R) string, order func(R) uint64, mark func(R, bool)) nameIndex[R] {
	return nameIndex[R]{one: newHashIndex(), more: map[string][]R{}, tab: tab, name: name, order: order, mark: mark}
}

// newEmailIndex maps a folded e-mail address to the records that have it,
// lowest order first (almost every address has one).
func newEmailIndex(tab *slotTable[*userRec]) nameIndex[*userRec] {
	return newNameIndex(tab, func(r *userRec) string { return upstream.Fold(r.email()) },
		func(r *userRec) uint64 { return r.order }, func(*userRec, bool) {})
}

func (x *nameIndex[R]) nameOf(id int32) string { return x.name(x.tab.slots[id]) }

func (x *nameIndex[R]) first(name string) R {
	if id, ok := x.one.get(name, x.nameOf); ok {
		return x.tab.slots[id]
	}
	var zero R
	return zero
}

// list returns the records of name; buf holds a single one.
func (x *nameIndex[R]) list(name string, buf *[1]R) []R {
	if l, ok := x.more[name]; ok {
		return l
	}
	if id, ok := x.one.get(name, x.nameOf); ok {
		buf[0] = x.tab.slots[id]
		return buf[:]
	}
	return nil
}

// add indexes r, which must be in the table, under name.
func (x *nameIndex[R]) add(name string, r R) {
	var l []R
	if m, ok := x.more[name]; ok {
		l = m
	} else if id, ok := x.one.get(name, x.nameOf); ok {
		l = []R{x.tab.slots[id]}
	} else {
		x.one.put(name, *r.slotp(), x.nameOf)
		x.mark(r, true)
		return
	}
	i := sort.Search(len(l), func(i int) bool { return x.order(l[i]) > x.order(r) })
	l = slices.Insert(l, i, r)
	x.more[name] = l
	x.set(name, l)
}

// remove drops r, which must still be in the table, from name.
func (x *nameIndex[R]) remove(name string, r R) {
	x.mark(r, false)
	l, ok := x.more[name]
	if !ok {
		x.one.del(name, *r.slotp(), x.nameOf)
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

// removePtr deletes r from l, if it is there.
func removePtr[T comparable](l []T, r T) []T {
	if i := slices.Index(l, r); i >= 0 {
		return slices.Delete(l, i, i+1)
	}
	return l
}

// set makes l[0] the effective record of name.
func (x *nameIndex[R]) set(name string, l []R) {
	x.one.put(name, *l[0].slotp(), x.nameOf)
	for i, r := range l {
		x.mark(r, i == 0)
	}
}

// putUser stores r, replacing any record with its key, and returns the
// replaced record.
func (u *upState) putUser(r *userRec) *userRec {
	old := u.delUser(r.key())
	u.users.put(r)
	if u.groups.get(r.key()) != nil {
		u.graphChanged()
	}
	u.userNames.add(r.fold(), r)
	if r.ext() != "" {
		u.userExt.put(r.ext(), r.id, u.userExtKey)
	}
	if r.email() != "" {
		u.emails.add(upstream.Fold(r.email()), r)
	}
	return old
}

// delUser removes the record with key and returns it. The indexes let go
// of it before its slot does: they check keys against the slot.
func (u *upState) delUser(key string) *userRec {
	old := u.users.get(key)
	if old == nil {
		return nil
	}
	if u.groups.get(key) != nil {
		u.graphChanged()
	}
	u.userNames.remove(old.fold(), old)
	if old.ext() != "" {
		u.userExt.del(old.ext(), old.id, u.userExtKey)
	}
	if old.email() != "" {
		u.emails.remove(upstream.Fold(old.email()), old)
	}
	u.users.del(old)
	return old
}

func (u *upState) putGroup(r *groupRec) *groupRec {
	old := u.delGroup(r.Key)
	u.groups.put(r)
	u.graphChanged()
	r.fold = upstream.Fold(r.Name)
	u.groupNames.add(r.fold, r)
	if r.ExternalID != "" {
		u.groupExt.put(r.ExternalID, r.id, u.groupExtKey)
	}
	for _, m := range r.Members {
		u.addParent(m, r.id)
	}
	u.compactEdges()
	return old
}

func (u *upState) delGroup(key string) *groupRec {
	old := u.groups.get(key)
	if old == nil {
		return nil
	}
	u.graphChanged()
	u.groupNames.remove(old.fold, old)
	if old.ExternalID != "" {
		u.groupExt.del(old.ExternalID, old.id, u.groupExtKey)
	}
	for _, m := range old.Members {
		u.removeParent(m, old.id)
	}
	u.groups.del(old)
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
			if r.effective && v.userWinsAt(r.fold(), i) {
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
		v.sortedUsers = unionNames(v.ups, func(up *upState) *slotTable[*userRec] { return &up.users },
			func(r *userRec) (string, bool) { return r.fold(), r.effective })
	}
	if v.sortedGroups == nil {
		v.sortedGroups = unionNames(v.ups, func(up *upState) *slotTable[*groupRec] { return &up.groups },
			func(r *groupRec) (string, bool) { return r.fold, r.effective })
	}
}

// unionNames returns the sorted names of the effective records of every
// upstream, once each.
func unionNames[R slotted](ups []*upState, tab func(*upState) *slotTable[R], name func(R) (string, bool)) []string {
	n := 0
	for _, up := range ups {
		n += tab(up).len()
	}
	out := make([]string, 0, n)
	for _, up := range ups {
		for _, r := range tab(up).all() {
			if nm, ok := name(r); ok {
				out = append(out, nm)
			}
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
		ids := up.parentIDs(r.key())
		out.list = slices.Grow(out.list, len(ids))
		for _, id := range ids {
			if g := up.groups.slots[id]; g.effective {
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
			g := up.groups.slots[id]
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
			if u := up.users.get(mk); u != nil {
				if users != nil && u.effective && (aggregate || v.userWinsAt(u.fold(), i)) {
					users.add(u.fold())
				}
			} else if g := up.groups.get(mk); g != nil && groups != nil && g.effective && g.fold != name {
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
	queue := []string{r.key()}
	seen := map[string]bool{}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, id := range up.parentIDs(k) {
			g := up.groups.slots[id]
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
				if u := up.users.get(mk); u != nil {
					if u.effective && v.userWinsAt(u.fold(), i) {
						out.add(u.fold())
					}
				} else if c := up.groups.get(mk); c != nil && c.effective && !seen[mk] {
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
		for _, g := range up.groups.all() {
			for _, id := range up.parentIDs(g.Key) {
				p := up.groups.slots[id]
				if !p.effective {
					continue
				}
				if p.fold == g.fold {
					loops[p.fold] = true // a group listing itself (or a namesake)
					continue
				}
				if !g.effective || up.users.get(g.Key) != nil {
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
