package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirgate/dirgate/internal/cloudhttp"
	"github.com/dirgate/dirgate/upstream"
)

// Safety limits.
const (
	// maxPages caps one listing (10 million entries at 100 a page): a
	// server that keeps returning a next link cannot keep a sync busy
	// forever.
	maxPages = 100000
	// maxIDs is the most accountIds or groupIds one request may filter on
	// (cloud-apis.md A7).
	maxIDs = 10
)

// errUseGet: the POST search answered 404 or 405 on its first page; the
// GET list should be used instead.
var errUseGet = errors.New("POST search not available")

// errGroupGone: a group's member listing answered 404 (the group was
// deleted after it was listed).
var errGroupGone = errors.New("group gone")

// syncRun is one sync's state.
type syncRun struct {
	u        *Upstream
	cfg      Config
	requests atomic.Int64 // requests sent (not counting retries)
	fetched  atomic.Int64
	progress func(int)
	progMu   sync.Mutex

	mu       sync.Mutex
	warnings []string
}

func (s *syncRun) warn(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warnings = append(s.warnings, fmt.Sprintf(format, args...))
}

func (s *syncRun) got(n int) {
	f := s.fetched.Add(int64(n))
	if s.progress != nil && n > 0 {
		s.progMu.Lock()
		s.progress(int(f))
		s.progMu.Unlock()
	}
}

// Sync copies the organization's directory. A full sync lists every user
// (with their groups) and every group; an incremental one (req.Full false
// and a usable cursor) reads the events stream from the cursor and
// refetches only the users and groups the events name, and falls back to a
// full sync (Result.Full true) when it cannot. See the package comment.
func (u *Upstream) Sync(ctx context.Context, req upstream.SyncRequest) (*upstream.SyncResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, u.errf("sync", "%w", err)
	}
	if u.isClosed() {
		return nil, u.errf("sync", "%w", ErrClosed)
	}
	if u.keyExpired(u.clock.Now()) {
		return nil, u.errf("sync", "%w", u.expiredKeyError())
	}
	u.syncMu.Lock()
	defer u.syncMu.Unlock()
	ctx, done := u.opContext(ctx)
	defer done()
	s := &syncRun{u: u, cfg: u.cfg, progress: req.Progress}
	res, err := s.run(ctx, req)
	if err != nil {
		if u.isClosed() {
			return nil, u.errf("sync", "%w", ErrClosed)
		}
		return nil, u.errf("sync", "%w", err)
	}
	u.setWarnings(s.warnings)
	return res, nil
}

func (s *syncRun) run(ctx context.Context, req upstream.SyncRequest) (*upstream.SyncResult, error) {
	start := time.Now()
	log := s.u.log
	why := "full sync requested"
	var prev *cursor
	if !req.Full {
		switch c, err := decodeCursor(req.Cursor); {
		case !s.cfg.EventsEnabled():
			why = "incremental syncs are off (events: false)"
		case err != nil:
			why = err.Error()
		case c.Config != s.u.configHash:
			why = "base_url, org_id, directory_id or username changed"
		case c.Events == "":
			why = "the last sync has no events position"
		default:
			prev = c
		}
	}
	var pos string // an events position to start the full sync from
	if prev != nil {
		res, fallback, p, err := s.incremental(ctx, prev)
		if err != nil {
			return nil, err
		}
		if res != nil {
			log.Info("incremental sync done", "users", len(res.Users), "groups", len(res.Groups),
				"deleted_users", len(res.DeletedUsers), "deleted_groups", len(res.DeletedGroups),
				"requests", s.requests.Load(), "duration", time.Since(start).Round(time.Millisecond))
			return res, nil
		}
		why, pos = fallback, p
	}
	if !req.Full {
		log.Info("full sync", "reason", why)
	}
	res, err := s.full(ctx, pos)
	if err != nil {
		return nil, err
	}
	log.Info("full sync done", "users", len(res.Users), "groups", len(res.Groups),
		"requests", s.requests.Load(), "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// full lists everything. pos, when set, is an events position read just
// now (by an incremental sync that fell back); otherwise the position is
// captured first, so that every change made while the listing runs is
// replayed by the next incremental sync.
func (s *syncRun) full(ctx context.Context, pos string) (*upstream.SyncResult, error) {
	cur := &cursor{V: cursorVersion, Config: s.u.configHash}
	if s.cfg.EventsEnabled() {
		at := s.u.clock.Now().UTC()
		if pos == "" {
			var err error
			pos, err = s.capture(ctx, at)
			switch {
			case err == nil:
			case ctx.Err() != nil, cloudhttp.IsKind(err, cloudhttp.KindAuth):
				return nil, explain("events", err, s.cfg)
			default:
				s.warn("the events stream cannot be read, so the next sync is full too: %v", explain("events", err, s.cfg))
				pos = ""
			}
		}
		if pos != "" {
			cur.Events, cur.At = pos, at
		}
	}
	var res *upstream.SyncResult
	var err error
	if s.u.getMode.Load() {
		res, err = s.fullGet(ctx)
	} else {
		res, err = s.fullSearch(ctx)
		if errors.Is(err, errUseGet) {
			res, err = s.fullGet(ctx)
			s.u.useGet(err)
		}
	}
	if err != nil {
		return nil, err
	}
	cur.FullRequests = int(s.requests.Load())
	res.Cursor = cur.encode()
	return res, nil
}

// useGet records, after the POST searches answered 404 or 405, that the GET
// lists work (err is what they gave): from then on they are used.
func (u *Upstream) useGet(err error) {
	if err == nil && !u.getMode.Swap(true) {
		u.log.Info("the POST searches are not available; using the GET lists")
	}
}

// fullSearch is the cheap full sync: POST users/search with
// expand=groups gives every user with their groups, so memberships cost
// nothing beyond the user pages; POST groups/search adds the groups
// (empty ones included). Users are listed first: a group deleted while
// they are is missing from the group list that follows, and its
// memberships are dropped ("skipped").
func (s *syncRun) fullSearch(ctx context.Context) (*upstream.SyncResult, error) {
	var (
		users   []upstream.User
		seen    map[string]bool
		members map[string][]string
		dups    int
	)
	reset := func() { users, seen, members, dups = nil, map[string]bool{}, map[string][]string{}, 0 }
	reset()
	err := list(ctx, s, listSpec{what: "users", endpoint: "users", search: true,
		body: map[string]any{"limit": s.cfg.PageSize, "expand": []string{"groups"}}}, reset,
		func(a *apiUser) {
			if seen[a.AccountID] {
				dups++
				return
			}
			seen[a.AccountID] = true
			usr, ok := s.user(a)
			if !ok {
				return
			}
			users = append(users, usr)
			for _, g := range a.Groups {
				if g.ID != "" {
					members[g.ID] = append(members[g.ID], a.AccountID)
				}
			}
		})
	if err != nil {
		return nil, err
	}
	groups, err := s.listGroups(ctx, true, nil)
	if err != nil {
		return nil, err
	}
	if dups > 0 {
		s.u.log.Info("dropped accounts listed twice", "count", dups)
	}
	listed := make(map[string]bool, len(groups))
	for i := range groups {
		g := &groups[i]
		listed[g.Key] = true
		g.Members = sortedUnique(members[g.Key])
	}
	var gone int
	for id := range members {
		if !listed[id] {
			gone++
		}
	}
	if gone > 0 {
		s.warn("%d group(s) named in users' group lists were not in the group list (deleted during the sync?); skipped", gone)
	}
	return &upstream.SyncResult{Full: true, Users: users, Groups: groups}, nil
}

// fullGet is the full sync without the POST searches: the GET lists have
// no expand, so each group's members cost a listing of its own
// (users?groupIds=G). A group deleted before its members are read is
// skipped.
func (s *syncRun) fullGet(ctx context.Context) (*upstream.SyncResult, error) {
	var (
		users []upstream.User
		seen  map[string]bool
	)
	reset := func() { users, seen = nil, map[string]bool{} }
	reset()
	err := list(ctx, s, listSpec{what: "users", endpoint: "users",
		query: url.Values{"limit": {strconv.Itoa(s.cfg.PageSize)}}}, reset,
		func(a *apiUser) {
			if seen[a.AccountID] {
				return
			}
			seen[a.AccountID] = true
			if usr, ok := s.user(a); ok {
				users = append(users, usr)
			}
		})
	if err != nil {
		return nil, err
	}
	groups, err := s.listGroups(ctx, false, nil)
	if err != nil {
		return nil, err
	}
	gone := make([]bool, len(groups))
	err = s.forEach(ctx, len(groups), func(ctx context.Context, i int) error {
		ids, _, err := s.groupMembers(ctx, groups[i].Key, false)
		if errors.Is(err, errGroupGone) {
			gone[i] = true
			return nil
		}
		groups[i].Members = ids
		return err
	})
	if err != nil {
		return nil, err
	}
	kept := groups[:0]
	for i, g := range groups {
		if !gone[i] {
			kept = append(kept, g)
		}
	}
	if n := len(groups) - len(kept); n > 0 {
		s.warn("%d group(s) disappeared while their members were read (deleted during the sync?); skipped", n)
	}
	return &upstream.SyncResult{Full: true, Users: users, Groups: kept}, nil
}

// listGroups lists groups, all of them or those of ids (at most maxIDs).
func (s *syncRun) listGroups(ctx context.Context, search bool, ids []string) ([]upstream.Group, error) {
	var (
		groups []upstream.Group
		seen   map[string]bool
	)
	reset := func() { groups, seen = nil, map[string]bool{} }
	reset()
	spec := listSpec{what: "groups", endpoint: "groups", search: search}
	if search {
		spec.body = map[string]any{"limit": s.cfg.PageSize}
		if ids != nil {
			spec.body["groupIds"] = ids
		}
	} else {
		spec.query = url.Values{"limit": {strconv.Itoa(s.cfg.PageSize)}}
		if ids != nil {
			spec.query["groupIds"] = ids
		}
	}
	err := list(ctx, s, spec, reset, func(a *apiGroup) {
		if seen[a.ID] {
			return
		}
		seen[a.ID] = true
		if g, ok := group(a); ok {
			groups = append(groups, g)
		}
	})
	return groups, err
}

// groupMembers lists the members of one group (users?groupIds=G; one group
// per listing, so that nothing depends on how the API combines several).
// It returns their account IDs, sorted, and their records.
func (s *syncRun) groupMembers(ctx context.Context, id string, search bool) ([]string, []upstream.User, error) {
	var (
		ids   []string
		users []upstream.User
	)
	reset := func() { ids, users = nil, nil }
	spec := listSpec{what: "members", endpoint: "users", search: search, group: true}
	if search {
		spec.body = map[string]any{"limit": s.cfg.PageSize, "groupIds": []string{id}}
	} else {
		spec.query = url.Values{"limit": {strconv.Itoa(s.cfg.PageSize)}, "groupIds": {id}}
	}
	err := list(ctx, s, spec, reset, func(a *apiUser) {
		if usr, ok := s.user(a); ok {
			ids = append(ids, a.AccountID)
			users = append(users, usr)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return sortedUnique(ids), users, nil
}

// listUsers lists the users of ids (at most maxIDs).
func (s *syncRun) listUsers(ctx context.Context, search bool, ids []string) ([]upstream.User, error) {
	var users []upstream.User
	reset := func() { users = nil }
	spec := listSpec{what: "users", endpoint: "users", search: search}
	if search {
		spec.body = map[string]any{"limit": s.cfg.PageSize, "accountIds": ids}
	} else {
		spec.query = url.Values{"limit": {strconv.Itoa(s.cfg.PageSize)}, "accountIds": ids}
	}
	err := list(ctx, s, spec, reset, func(a *apiUser) {
		if usr, ok := s.user(a); ok {
			users = append(users, usr)
		}
	})
	return users, err
}

// listSpec describes one listing: the first page's request; follow-ups
// send only the cursor.
type listSpec struct {
	what     string // for messages: users, groups, members
	endpoint string // users or groups
	search   bool   // POST …/search with body; else GET with query
	body     map[string]any
	query    url.Values
	group    bool // a member listing: 404 means the group is gone
}

// list runs a cursor-paged listing, calling each for every item. Cursors
// are opaque (links.next; a full URL's cursor parameter is taken too).
// When the API refuses its own cursor (400 ADMIN-400-1: expired) the
// listing restarts from the first page once, after reset; a second refusal
// fails. A cursor seen twice, or more than maxPages pages, fails too.
func list[T any](ctx context.Context, s *syncRun, l listSpec, reset func(), each func(*T)) error {
	path := s.u.dirPath() + "/" + l.endpoint
	if l.search {
		path += "/search"
	}
	restarted := false
	for {
		err := listOnce(ctx, s, l, path, each)
		if !errors.Is(err, errCursorRefused) {
			return err
		}
		if restarted {
			return fmt.Errorf("listing %s: the API refused its page cursor again after the listing was restarted: %w", l.what, errors.Unwrap(err))
		}
		restarted = true
		s.u.log.Warn("the API refused its page cursor; restarting the listing", "what", l.what, "err", errors.Unwrap(err))
		reset()
	}
}

// errCursorRefused wraps the error of a follow-up page that was refused.
var errCursorRefused = errors.New("page cursor refused")

type cursorRefusedError struct{ err error }

func (e *cursorRefusedError) Error() string   { return "page cursor refused: " + e.err.Error() }
func (e *cursorRefusedError) Unwrap() error   { return e.err }
func (e *cursorRefusedError) Is(t error) bool { return t == errCursorRefused }

// listPage is one page of a v2 list or search.
type listPage[T any] struct {
	Data  []T `json:"data"`
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
}

func listOnce[T any](ctx context.Context, s *syncRun, l listSpec, path string, each func(*T)) error {
	seen := map[string]bool{}
	next := ""
	for page := 0; ; page++ {
		if page >= maxPages {
			return fmt.Errorf("%w: listing %s: more than %d pages; giving up", upstream.ErrUnavailable, l.what, maxPages)
		}
		var p listPage[T]
		var err error
		switch {
		case l.search && next != "":
			_, err = s.u.api.Do(ctx, http.MethodPost, path, nil, map[string]any{"cursor": next}, &p)
		case l.search:
			_, err = s.u.api.Do(ctx, http.MethodPost, path, nil, l.body, &p)
		case next != "":
			_, err = s.u.api.Get(ctx, path, url.Values{"cursor": {next}}, &p)
		default:
			_, err = s.u.api.Get(ctx, path, l.query, &p)
		}
		s.requests.Add(1)
		if err != nil {
			var e *cloudhttp.Error
			isE := errors.As(err, &e)
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case isE && next != "" && e.Status == http.StatusBadRequest:
				return &cursorRefusedError{err}
			case isE && l.group && e.Kind == cloudhttp.KindNotFound && e.Code != "ADMIN-404-2":
				return errGroupGone
			case isE && l.search && next == "" && e.Code != "ADMIN-404-2" &&
				(e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed):
				return errUseGet
			}
			return explain(l.what, err, s.cfg)
		}
		for i := range p.Data {
			each(&p.Data[i])
		}
		s.got(len(p.Data))
		n := nextCursor(p.Links.Next)
		if n == "" {
			return nil
		}
		if seen[n] {
			return fmt.Errorf("%w: listing %s: the API returned a page cursor it had returned before (a pagination loop)", upstream.ErrUnavailable, l.what)
		}
		seen[n] = true
		next = n
	}
}

// nextCursor reads links.next: an opaque token (v2) or a full URL whose
// cursor parameter is the token (v1 style, cloud-apis.md §3.2).
func nextCursor(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Query().Get("cursor")
	}
	return s
}

// forEach runs fn(0..n-1) on up to cfg.Concurrency goroutines (the HTTP
// client bounds requests in flight as well); the first error cancels the
// rest and is returned.
func (s *syncRun) forEach(ctx context.Context, n int, fn func(context.Context, int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < min(n, s.cfg.Concurrency); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel(err) })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// batches splits ids into slices of at most maxIDs.
func batches(ids []string) [][]string {
	var out [][]string
	for len(ids) > 0 {
		n := min(len(ids), maxIDs)
		out = append(out, slices.Clip(ids[:n]))
		ids = ids[n:]
	}
	return out
}
