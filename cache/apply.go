package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/dirgate/dirgate/upstream"
)

// Changes is a set of record changes to one upstream, applied atomically:
// the local directory's writes come this way.
type Changes struct {
	Users  []upstream.User  // created or replaced, by Key
	Groups []upstream.Group // created or replaced, by Key
	// DeleteUsers and DeleteGroups are keys; unknown keys are ignored.
	DeleteUsers  []string
	DeleteGroups []string
	// Cursor, when not nil, replaces the stored sync cursor.
	Cursor []byte
	// Aux sets (non-nil value) or deletes (nil value) private values of the
	// upstream in the same transaction.
	Aux map[string][]byte
	// MarkSynced records that the upstream now has served data.
	MarkSynced bool
}

// SyncOptions tune ApplySync.
type SyncOptions struct {
	// MaxDeletePercent: refuse a sync that deletes more than this share of
	// the upstream's users or of its groups. 100 or more disables the guard.
	MaxDeletePercent int
	// AllowDeletes applies the sync whatever it deletes.
	AllowDeletes bool
	// LinkByEmail files each user of the sync under the username of the
	// one user of an earlier upstream with the same e-mail address, so
	// that both records are one user of the merged view (the earlier one
	// wins; memberships aggregate). The original name is kept in the
	// attribute LinkedFromAttr. Linking is decided when this upstream
	// syncs: a change of address in the earlier upstream takes effect at
	// the linking upstream's next sync.
	LinkByEmail bool
}

// LinkedFromAttr is the attribute that keeps a linked user's own name.
const LinkedFromAttr = "linked_from"

// ApplyResult counts what an apply changed.
type ApplyResult struct {
	UsersAdded    int `json:"users_added"`
	UsersUpdated  int `json:"users_updated"`
	UsersDeleted  int `json:"users_deleted"`
	GroupsAdded   int `json:"groups_added"`
	GroupsUpdated int `json:"groups_updated"`
	GroupsDeleted int `json:"groups_deleted"`
	// Skipped counts records the upstream sent that could not be stored
	// (no key, no name, a key sent twice).
	Skipped int `json:"skipped,omitempty"`
	// Events is the number of journal events written; Reset reports that
	// the journal was reset instead.
	Events int  `json:"events"`
	Reset  bool `json:"reset,omitempty"`
	// Users and Groups are the upstream's totals afterwards.
	Users  int `json:"users"`
	Groups int `json:"groups"`
}

// Changed reports whether any record changed.
func (r ApplyResult) Changed() bool {
	return r.UsersAdded+r.UsersUpdated+r.UsersDeleted+r.GroupsAdded+r.GroupsUpdated+r.GroupsDeleted > 0
}

// GuardError is returned (wrapping ErrDeletionGuard) when a sync would
// delete more than allowed. Nothing was applied.
type GuardError struct {
	Upstream      string
	UsersDeleted  int
	UsersTotal    int
	GroupsDeleted int
	GroupsTotal   int
	MaxPercent    int
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("deletion guard: the sync of %s would delete %d of %d users and %d of %d groups, more than max_delete_percent=%d%%; not applied (run `dirgate sync --upstream %s --allow-deletes` to apply it)",
		e.Upstream, e.UsersDeleted, e.UsersTotal, e.GroupsDeleted, e.GroupsTotal, e.MaxPercent, e.Upstream)
}

func (e *GuardError) Unwrap() error { return ErrDeletionGuard }

// changeSet is a validated set of changes with orders assigned.
type changeSet struct {
	users     []*userRec
	groups    []*groupRec
	delUsers  []string
	delGroups []string
	// renamed keys are deleted because a record with the same external ID
	// arrived under a new key; they do not count as deletions for the guard.
	renamedUsers, renamedGroups int
	added                       struct{ users, groups int }
	cursor                      []byte
	setCursor                   bool
	aux                         map[string][]byte
	markSynced                  bool
	nextOrder                   uint64
	skipped                     int
}

func (c *changeSet) recordChanges() int {
	return len(c.users) + len(c.groups) + len(c.delUsers) + len(c.delGroups)
}

// ApplySync stores what a sync fetched: a full result replaces the
// upstream's records (absent ones are deleted, subject to the deletion
// guard), an incremental one updates them. Unchanged records cost nothing
// and journal nothing. Readers see the old state or the new, never a mix;
// on any error nothing changes.
func (s *Store) ApplySync(ctx context.Context, up string, res *upstream.SyncResult, opts SyncOptions) (ApplyResult, error) {
	if err := ctxErr(ctx, "apply sync"); err != nil {
		return ApplyResult{}, err
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.closed.Load() {
		return ApplyResult{}, ErrClosed
	}
	st, err := s.upstream(up)
	if err != nil {
		return ApplyResult{}, err
	}
	users := res.Users
	if opts.LinkByEmail {
		users = s.linkByEmail(st, users)
	}
	cs := s.diff(st, users, res.Groups, res.Full)
	for _, k := range res.DeletedUsers {
		if st.users.get(k) != nil && !slices.Contains(cs.delUsers, k) {
			cs.delUsers = append(cs.delUsers, k)
		}
	}
	for _, k := range res.DeletedGroups {
		if st.groups.get(k) != nil && !slices.Contains(cs.delGroups, k) {
			cs.delGroups = append(cs.delGroups, k)
		}
	}
	if !opts.AllowDeletes && opts.MaxDeletePercent < 100 {
		ud := len(cs.delUsers) - cs.renamedUsers
		gd := len(cs.delGroups) - cs.renamedGroups
		if exceeds(ud, st.users.len(), opts.MaxDeletePercent) || exceeds(gd, st.groups.len(), opts.MaxDeletePercent) {
			return ApplyResult{}, &GuardError{Upstream: up, UsersDeleted: ud, UsersTotal: st.users.len(),
				GroupsDeleted: gd, GroupsTotal: st.groups.len(), MaxPercent: opts.MaxDeletePercent}
		}
	}
	cs.cursor, cs.setCursor = res.Cursor, true
	cs.markSynced = true
	return s.apply(ctx, st, cs, false)
}

// linkByEmail returns users with the names of the earlier upstreams' users
// they link to (see SyncOptions.LinkByEmail). An address shared by several
// earlier users links to none of them. applyMu is held.
func (s *Store) linkByEmail(st *upState, users []upstream.User) []upstream.User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]upstream.User, len(users))
	for i, u := range users {
		out[i] = u
		if u.Email == "" {
			continue
		}
		var target *userRec
		n := 0
		s.v.emailWinners(upstream.Fold(u.Email), st.idx, func(r *userRec, _ int) { target, n = r, n+1 })
		if n != 1 || target.fold() == upstream.Fold(u.Username) {
			continue
		}
		attrs := make(map[string][]string, len(u.Attributes)+1)
		for k, v := range u.Attributes {
			attrs[k] = v
		}
		attrs[LinkedFromAttr] = []string{u.Username}
		out[i].Username, out[i].Attributes = target.username(), attrs
	}
	return out
}

func exceeds(deleted, total, pct int) bool {
	return deleted > 0 && deleted*100 > total*pct
}

// Apply applies explicit changes to one upstream (no deletion guard).
func (s *Store) Apply(ctx context.Context, up string, ch Changes) (ApplyResult, error) {
	if err := ctxErr(ctx, "apply"); err != nil {
		return ApplyResult{}, err
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.closed.Load() {
		return ApplyResult{}, ErrClosed
	}
	st, err := s.upstream(up)
	if err != nil {
		return ApplyResult{}, err
	}
	cs := s.diff(st, ch.Users, ch.Groups, false)
	if cs.skipped > 0 {
		return ApplyResult{}, fmt.Errorf("apply to %s: %w", up, ErrInvalidRecords)
	}
	for _, k := range ch.DeleteUsers {
		if st.users.get(k) != nil && !slices.Contains(cs.delUsers, k) {
			cs.delUsers = append(cs.delUsers, k)
		}
	}
	for _, k := range ch.DeleteGroups {
		if st.groups.get(k) != nil && !slices.Contains(cs.delGroups, k) {
			cs.delGroups = append(cs.delGroups, k)
		}
	}
	if ch.Cursor != nil {
		cs.cursor, cs.setCursor = ch.Cursor, true
	}
	cs.aux = ch.Aux
	cs.markSynced = ch.MarkSynced
	return s.apply(ctx, st, cs, false)
}

// diff turns records into the changes they make to st. With full, records
// st holds that are absent from the lists are deleted.
func (s *Store) diff(st *upState, users []upstream.User, groups []upstream.Group, full bool) *changeSet {
	cs := &changeSet{nextOrder: st.meta.NextOrder}
	seenU := make(map[string]struct{}, len(users))
	for i := range users {
		u := users[i]
		if u.Validate() != nil {
			cs.skipped++
			continue
		}
		if _, dup := seenU[u.Key]; dup {
			cs.skipped++
			continue
		}
		seenU[u.Key] = struct{}{}
		old := st.users.get(u.Key)
		if old != nil && old.same(&u) {
			continue
		}
		r := newUserRec(&u, 0)
		switch {
		case old != nil:
			r.order = old.order
		case u.ExternalID != "" && st.userByExt(u.ExternalID) != nil:
			// Renamed upstream (a DN changed): same entity, new key.
			o := st.userByExt(u.ExternalID)
			k := o.key()
			r.order = o.order
			cs.delUsers = append(cs.delUsers, k)
			cs.renamedUsers++
			seenU[k] = struct{}{}
		default:
			r.order = cs.nextOrder
			cs.nextOrder++
			cs.added.users++
		}
		cs.users = append(cs.users, r)
	}
	seenG := make(map[string]struct{}, len(groups))
	for i := range groups {
		g := groups[i]
		if g.Validate() != nil {
			cs.skipped++
			continue
		}
		if _, dup := seenG[g.Key]; dup {
			cs.skipped++
			continue
		}
		seenG[g.Key] = struct{}{}
		g.Members = normMembers(g.Members)
		old := st.groups.get(g.Key)
		if old != nil && sameGroup(&old.Group, &g) {
			continue
		}
		r := &groupRec{Group: g}
		packGroup(&r.Group)
		switch {
		case old != nil:
			r.order = old.order
		case g.ExternalID != "" && st.groupByExt(g.ExternalID) != nil:
			o := st.groupByExt(g.ExternalID)
			k := o.Key
			r.order = o.order
			cs.delGroups = append(cs.delGroups, k)
			cs.renamedGroups++
			seenG[k] = struct{}{}
		default:
			r.order = cs.nextOrder
			cs.nextOrder++
			cs.added.groups++
		}
		cs.groups = append(cs.groups, r)
	}
	if full {
		for k := range st.users.all() {
			if _, ok := seenU[k]; !ok {
				cs.delUsers = append(cs.delUsers, k)
			}
		}
		for k := range st.groups.all() {
			if _, ok := seenG[k]; !ok {
				cs.delGroups = append(cs.delGroups, k)
			}
		}
	}
	// Share member key strings with the record keys they name.
	pending := make(map[string]string, len(cs.users))
	for _, u := range cs.users {
		pending[u.key()] = u.key()
	}
	for _, g := range cs.groups {
		pending[g.Key] = g.Key
	}
	for _, g := range cs.groups {
		internMembers(st, &g.Group, pending)
	}
	return cs
}

// normMembers sorts and de-duplicates a member list (a copy: the caller's
// slice is not modified).
func normMembers(m []string) []string {
	if len(m) == 0 {
		return nil
	}
	out := slices.Clone(m)
	slices.Sort(out)
	return slices.Compact(out)
}

// apply persists cs and installs it in memory, journaling what changed in
// the merged view. forceBig writes a new generation whatever the size.
// Called with applyMu held.
func (s *Store) apply(ctx context.Context, st *upState, cs *changeSet, forceBig bool) (ApplyResult, error) {
	res := ApplyResult{
		UsersAdded: cs.added.users, UsersUpdated: len(cs.users) - cs.added.users,
		UsersDeleted: len(cs.delUsers) - cs.renamedUsers,
		GroupsAdded:  cs.added.groups, GroupsUpdated: len(cs.groups) - cs.added.groups,
		GroupsDeleted: len(cs.delGroups) - cs.renamedGroups,
		Skipped:       cs.skipped,
	}
	meta := st.meta
	meta.NextOrder = cs.nextOrder
	if cs.setCursor {
		meta.Cursor = slices.Clone(cs.cursor)
	}
	if cs.markSynced {
		meta.Synced = true
	}
	recordChanges := cs.recordChanges()
	if recordChanges == 0 && len(cs.aux) == 0 && metaEqual(meta, st.meta) {
		res.Users, res.Groups = st.users.len(), st.groups.len()
		return res, nil
	}
	big := forceBig || recordChanges > s.opts.BigApply
	var encUsers, encGroups [][]byte
	if !big {
		// Encode now, to know whether one transaction can hold it (with room
		// for the journal: about three events of ~200 bytes per change).
		size := int64(recordChanges) * 600
		for _, u := range cs.users {
			b := encodeUser(u)
			encUsers = append(encUsers, b)
			size += int64(len(b) + len(u.key()) + 64)
		}
		for _, g := range cs.groups {
			b := encodeGroup(g)
			encGroups = append(encGroups, b)
			size += int64(len(b) + len(g.Key) + 64)
		}
		big = size > s.db.MaxBatchSize()*7/10 || int64(4*recordChanges) > s.db.MaxBatchCount()*7/10
	}
	oldGen := meta.Gen
	if big {
		// Write the whole new state under a fresh generation first; it stays
		// invisible until the flip below commits.
		meta.Pending = meta.Gen + 1
		if err := s.update(func(txn *badger.Txn) error {
			p := st.meta
			p.Pending = meta.Pending
			return putJSON(txn, metaKey(st.name), p)
		}); err != nil {
			return ApplyResult{}, fmt.Errorf("apply %s: %w", st.name, err)
		}
		s.log.Debug("writing a new generation", "upstream", st.name, "generation", meta.Pending, "changes", recordChanges)
		if err := s.writeGeneration(ctx, st, cs, meta.Pending); err != nil {
			_ = s.dropPrefix(genPrefix(st.name, meta.Pending))
			return ApplyResult{}, fmt.Errorf("apply %s: %w", st.name, err)
		}
		meta.Gen, meta.Pending, meta.Old = meta.Pending, 0, oldGen
	}

	s.mu.Lock()
	var tr *tracker
	if recordChanges <= s.opts.ResetThreshold {
		tr = s.track(st, cs)
	}
	undo := s.applyMem(st, cs)
	var evs []Event
	if tr != nil {
		evs = tr.events(s.v, st.name)
	}
	jm := s.journal
	err := s.update(func(txn *badger.Txn) error {
		jm = s.journal
		if !big {
			for _, k := range cs.delUsers {
				if err := txn.Delete(userKey(st.name, meta.Gen, k)); err != nil {
					return err
				}
			}
			for _, k := range cs.delGroups {
				if err := txn.Delete(groupKey(st.name, meta.Gen, k)); err != nil {
					return err
				}
			}
			for i, u := range cs.users {
				if err := txn.Set(userKey(st.name, meta.Gen, u.key()), encUsers[i]); err != nil {
					return err
				}
			}
			for i, g := range cs.groups {
				if err := txn.Set(groupKey(st.name, meta.Gen, g.Key), encGroups[i]); err != nil {
					return err
				}
			}
		}
		for k, v := range cs.aux {
			var err error
			if v == nil {
				err = txn.Delete(auxKey(st.name, k))
			} else {
				err = txn.Set(auxKey(st.name, k), v)
			}
			if err != nil {
				return err
			}
		}
		if tr == nil && recordChanges > 0 {
			jm.Head++
			jm.Reset = jm.Head
			if err := putJSON(txn, journalKey(jm.Head), Event{Seq: jm.Head, Time: time.Now().UTC(), Kind: KindReset,
				Upstream: st.name, Reason: fmt.Sprintf("%d changes in one sync", recordChanges)}); err != nil {
				return err
			}
		} else if err := s.appendEvents(txn, &jm, evs); err != nil {
			return err
		}
		if err := putJSON(txn, []byte(keyJournal), jm); err != nil {
			return err
		}
		return putJSON(txn, metaKey(st.name), meta)
	})
	if errors.Is(err, badger.ErrTxnTooBig) && !big {
		// Rare: a few records too large for one transaction. Undo and go
		// the generation way.
		undo()
		s.mu.Unlock()
		return s.apply(ctx, st, cs, true)
	}
	if err != nil {
		undo()
		s.mu.Unlock()
		if big {
			_ = s.dropPrefix(genPrefix(st.name, meta.Gen))
		}
		return ApplyResult{}, fmt.Errorf("apply %s: %w", st.name, err)
	}
	st.meta = meta
	s.journal = jm
	s.version.Add(1)
	res.Users, res.Groups = st.users.len(), st.groups.len()
	s.mu.Unlock()

	if tr == nil && recordChanges > 0 {
		res.Reset = true
	}
	res.Events = len(evs)
	if big {
		failpoint("after-flip")
		if err := s.dropPrefix(genPrefix(st.name, oldGen)); err != nil {
			s.log.Warn("could not delete the replaced generation; it goes at the next start", "upstream", st.name, "err", err)
		} else {
			st.meta.Old = 0
			m := st.meta
			_ = s.update(func(txn *badger.Txn) error { return putJSON(txn, metaKey(st.name), m) })
		}
	}
	if err := s.db.Sync(); err != nil {
		s.log.Warn("store sync failed", "err", err)
	}
	return res, nil
}

func metaEqual(a, b upMeta) bool {
	return a.Gen == b.Gen && a.Pending == b.Pending && a.Old == b.Old && a.NextOrder == b.NextOrder &&
		a.Synced == b.Synced && string(a.Cursor) == string(b.Cursor)
}

// writeGeneration writes st's state with cs applied under generation gen.
func (s *Store) writeGeneration(ctx context.Context, st *upState, cs *changeSet, gen uint64) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	delU := make(map[string]struct{}, len(cs.delUsers)+len(cs.users))
	for _, k := range cs.delUsers {
		delU[k] = struct{}{}
	}
	for _, u := range cs.users {
		delU[u.key()] = struct{}{}
		if err := wb.Set(userKey(st.name, gen, u.key()), encodeUser(u)); err != nil {
			return err
		}
	}
	n := 0
	for k, u := range st.users.all() {
		if _, skip := delU[k]; skip {
			continue
		}
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := wb.Set(userKey(st.name, gen, k), encodeUser(u)); err != nil {
			return err
		}
	}
	// Users and groups go in two batches; the generation stays invisible
	// until the flip, so a crash between them (the failpoint) leaves a
	// half-written generation for Open to drop.
	if err := wb.Flush(); err != nil {
		return err
	}
	failpoint("mid-generation")
	wb = s.db.NewWriteBatch()
	defer wb.Cancel()
	delG := make(map[string]struct{}, len(cs.delGroups)+len(cs.groups))
	for _, k := range cs.delGroups {
		delG[k] = struct{}{}
	}
	for _, g := range cs.groups {
		delG[g.Key] = struct{}{}
		if err := wb.Set(groupKey(st.name, gen, g.Key), encodeGroup(g)); err != nil {
			return err
		}
	}
	for k, g := range st.groups.all() {
		if _, skip := delG[k]; skip {
			continue
		}
		if err := wb.Set(groupKey(st.name, gen, k), encodeGroup(g)); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return wb.Flush()
}

// applyMem installs cs in st and the merged view, and returns a function
// that puts everything back. Called with mu held for writing.
func (s *Store) applyMem(st *upState, cs *changeSet) (undo func()) {
	var oldUsers []*userRec
	var oldGroups []*groupRec
	userNames := map[string]struct{}{}
	groupNames := map[string]struct{}{}
	for _, k := range cs.delUsers {
		if o := st.delUser(k); o != nil {
			oldUsers = append(oldUsers, o)
			userNames[o.fold()] = struct{}{}
		}
	}
	for _, u := range cs.users {
		if o := st.putUser(u); o != nil {
			oldUsers = append(oldUsers, o)
			userNames[o.fold()] = struct{}{}
		}
		userNames[u.fold()] = struct{}{}
	}
	for _, k := range cs.delGroups {
		if o := st.delGroup(k); o != nil {
			oldGroups = append(oldGroups, o)
			groupNames[upstream.Fold(o.Name)] = struct{}{}
		}
	}
	for _, g := range cs.groups {
		if o := st.putGroup(g); o != nil {
			oldGroups = append(oldGroups, o)
			groupNames[upstream.Fold(o.Name)] = struct{}{}
		}
		groupNames[upstream.Fold(g.Name)] = struct{}{}
	}
	refresh := func() {
		s.v.bulk = len(userNames)+len(groupNames) > bulkNames
		for n := range userNames {
			s.v.refreshUser(n)
		}
		for n := range groupNames {
			s.v.refreshGroup(n)
		}
		s.v.bulk = false
		s.v.sortNames()
	}
	refresh()
	return func() {
		for _, u := range cs.users {
			st.delUser(u.key())
		}
		for _, g := range cs.groups {
			st.delGroup(g.Key)
		}
		for _, o := range oldUsers {
			st.putUser(o)
		}
		for _, o := range oldGroups {
			st.putGroup(o)
		}
		refresh()
	}
}
