package jiracloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dirgate/dirgate/internal/cloudhttp"
	"github.com/dirgate/dirgate/upstream"
)

// Paging limits.
const (
	// beanRequest is the maxResults asked of group/bulk and group/member.
	// Their cap is undocumented (50 today, cloud-apis.md U2); the server
	// clamps a larger request and says so in maxResults, and the end of a
	// PageBean is isLast/total, so asking for more costs nothing and
	// profits from a higher cap.
	beanRequest = 1000
	// maxPages is the safety cap of one listing: a server that never sends
	// the last page stops the sync instead of looping.
	maxPages = 100000
	// maxStalls is the number of consecutive users/search pages without a
	// new account after which the server is taken to ignore startAt.
	maxStalls = 3
	// minConflictPage is the smallest page a 409 ("took longer than 10
	// seconds") makes users/search retry with.
	minConflictPage = 50
)

// apiUser is the User schema (and UserDetails) as far as dirgate reads it.
type apiUser struct {
	AccountID    string `json:"accountId"`
	AccountType  string `json:"accountType"`
	EmailAddress string `json:"emailAddress"`
	DisplayName  string `json:"displayName"`
	// Active is documented as always present; a record without it (the
	// fallback values of an outage) is taken as active rather than
	// deactivating everyone.
	Active   *bool  `json:"active"`
	TimeZone string `json:"timeZone"`
	Locale   string `json:"locale"`
}

// memberRef is the part of a group/member value dirgate reads: decoding
// only it keeps the member crawl (most of a sync's requests) cheap.
type memberRef struct {
	AccountID string `json:"accountId"`
}

type apiGroup struct {
	GroupID string `json:"groupId"`
	Name    string `json:"name"`
}

// pageBean is Jira's PageBean; the pointers tell absent from zero.
type pageBean[T any] struct {
	MaxResults int    `json:"maxResults"`
	StartAt    *int64 `json:"startAt"`
	Total      *int64 `json:"total"`
	IsLast     *bool  `json:"isLast"`
	Values     []T    `json:"values"`
}

func pageQuery(startAt, maxResults int) url.Values {
	return url.Values{"startAt": {strconv.Itoa(startAt)}, "maxResults": {strconv.Itoa(maxResults)}}
}

// groupQuery selects a group for group/member: by groupId, or by name for
// a site that returns none.
func groupQuery(g apiGroup) url.Values {
	if g.GroupID != "" {
		return url.Values{"groupId": {g.GroupID}}
	}
	return url.Values{"groupname": {g.Name}}
}

// Sync reads the whole directory: every account from users/search, every
// group from group/bulk and every group's members from group/member. Jira
// Cloud has no change feed a site credential can read, so every sync is
// full (the result says so whatever the request asked).
func (u *Upstream) Sync(ctx context.Context, req upstream.SyncRequest) (*upstream.SyncResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, u.errf("sync", "%w", err)
	}
	u.syncMu.Lock()
	defer u.syncMu.Unlock()
	if u.isClosed() {
		return nil, u.errf("sync", "%w", ErrClosed)
	}
	if exp, ok := u.cfg.expiry(); ok && !u.now().Before(exp) {
		return nil, u.errf("sync", "%w: the API token of %s expired on %s (api_token_expires); create a new one and update api_token and api_token_expires",
			upstream.ErrCredentials, u.cfg.Email, u.cfg.APITokenExpires)
	}
	bctx, cancel := u.bind(ctx)
	defer cancel()
	res, err := u.sync(bctx, req)
	if err != nil {
		if u.isClosed() {
			return nil, u.errf("sync", "%w", ErrClosed)
		}
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			return nil, u.errf("sync", "%w", ctx.Err())
		}
		if cloudhttp.IsKind(err, cloudhttp.KindAuth) || cloudhttp.IsKind(err, cloudhttp.KindPermission) {
			// Check again next time: the fix (a new token, a granted
			// permission) should be confirmed before a crawl.
			u.mu.Lock()
			u.checked = false
			u.mu.Unlock()
		}
		return nil, err
	}
	return res, nil
}

func (u *Upstream) sync(ctx context.Context, req upstream.SyncRequest) (*upstream.SyncResult, error) {
	u.mu.Lock()
	checked := u.checked
	u.mu.Unlock()
	if !checked {
		if err := u.check(ctx); err != nil {
			return nil, err
		}
		u.mu.Lock()
		u.checked = true
		u.mu.Unlock()
	}
	s := &syncRun{u: u, req: req, started: u.now(), requests0: u.requests.Load(),
		stats: SyncStats{Skipped: map[string]int{}}, keep: map[string]bool{}}
	s.types = map[string]bool{}
	for _, t := range u.cfg.AccountTypes {
		s.types[t] = true
	}
	users, err := s.listUsers(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := s.listGroups(ctx)
	if err != nil {
		return nil, err
	}
	members, err := s.listMembers(ctx, groups)
	if err != nil {
		return nil, err
	}
	res := &upstream.SyncResult{Full: true, Users: users}
	for i, g := range groups {
		if members[i] == nil {
			continue // vanished
		}
		key := g.GroupID
		if key == "" {
			key = "name:" + g.Name
		}
		res.Groups = append(res.Groups, upstream.Group{Key: key, ExternalID: g.GroupID, Name: g.Name, Active: true, Members: *members[i]})
		s.stats.Memberships += len(*members[i])
	}
	st := s.stats
	st.At, st.Duration = s.started, u.now().Sub(s.started)
	st.Users, st.Groups = len(res.Users), len(res.Groups)
	st.Requests = int(u.requests.Load() - s.requests0)
	u.mu.Lock()
	u.last = st
	u.mu.Unlock()
	u.log.Debug("read the site", "accounts", st.Accounts, "users", st.Users, "groups", st.Groups, "memberships", st.Memberships,
		"requests", st.Requests, "skipped", st.Skipped, "vanished_groups", len(st.VanishedGroups))
	return res, nil
}

// syncRun is one sync's state.
type syncRun struct {
	u         *Upstream
	req       upstream.SyncRequest
	started   time.Time
	requests0 int64
	types     map[string]bool
	keep      map[string]bool // account IDs of the users copied
	fetched   int
	mu        sync.Mutex // guards stats while member workers run
	stats     SyncStats
}

func (s *syncRun) progress(n int) {
	s.fetched += n
	if s.req.Progress != nil {
		s.req.Progress(s.fetched)
	}
}

// listUsers pages through users/search: a bare array without total or
// isLast. It advances startAt by what came back (the server may clamp
// maxResults, or return a short page before the end) and stops only on an
// empty page; accounts are de-duplicated by accountId.
func (s *syncRun) listUsers(ctx context.Context) ([]upstream.User, error) {
	u := s.u
	size := u.cfg.PageSize
	startAt, stalls := 0, 0
	seen := map[string]bool{}
	var out []upstream.User
	for pages := 0; ; pages++ {
		if pages >= maxPages {
			return nil, u.errf("sync", "%w: users/search returned %d pages without an empty one; giving up (safety cap)", upstream.ErrUnavailable, pages)
		}
		var batch []apiUser
		_, err := u.api.Get(ctx, pathUsers, pageQuery(startAt, size), &batch)
		var he *cloudhttp.Error
		if errors.As(err, &he) && he.Status == http.StatusConflict && size > minConflictPage {
			// "The request takes longer than 10 seconds": ask for less.
			size = max(minConflictPage, size/2)
			u.log.Info("users/search timed out (409); asking for smaller pages", "max_results", size)
			continue
		}
		if err != nil {
			return nil, u.explain("sync", err)
		}
		if len(batch) == 0 {
			return out, nil
		}
		startAt += len(batch)
		fresh := 0
		for i := range batch {
			a := &batch[i]
			if a.AccountID == "" {
				s.stats.Skipped["no account id"]++
				continue
			}
			if seen[a.AccountID] {
				s.stats.Duplicates++
				continue
			}
			seen[a.AccountID] = true
			fresh++
			s.stats.Accounts++
			if rec, ok := s.user(a); ok {
				out = append(out, rec)
			}
		}
		if fresh == 0 {
			if stalls++; stalls >= maxStalls {
				return nil, u.errf("sync", "%w: users/search keeps returning accounts already read (startAt %d); giving up", upstream.ErrUnavailable, startAt)
			}
		} else {
			stalls = 0
		}
		s.progress(fresh)
	}
}

// user maps an account to a record; ok is false for accounts left out.
func (s *syncRun) user(a *apiUser) (upstream.User, bool) {
	cfg := &s.u.cfg
	typ := a.AccountType
	if typ == "" || a.AccountID == "unknown" {
		typ = "unknown"
	}
	if !s.types[typ] {
		s.stats.Skipped[typ]++
		return upstream.User{}, false
	}
	active := a.Active == nil || *a.Active
	if !active && !*cfg.IncludeInactive {
		s.stats.Skipped["inactive"]++
		return upstream.User{}, false
	}
	email := strings.TrimSpace(a.EmailAddress)
	display := strings.Join(strings.Fields(a.DisplayName), " ")
	rec := upstream.User{
		Key:         a.AccountID,
		ExternalID:  a.AccountID,
		Username:    a.AccountID,
		DisplayName: display,
		Email:       email,
		Active:      active,
		Attributes:  map[string][]string{"accountType": {typ}},
	}
	rec.FirstName, rec.LastName = splitName(display)
	if a.TimeZone != "" {
		rec.Attributes["timeZone"] = []string{a.TimeZone}
	}
	if a.Locale != "" {
		rec.Attributes["locale"] = []string{a.Locale}
	}
	if email == "" {
		rec.Attributes["emailHidden"] = []string{"true"}
		s.stats.EmailHidden++
	}
	if cfg.UsernameFrom == UsernameFromEmail {
		if email != "" {
			rec.Username = email
		} else {
			s.stats.UsernameFallback++
		}
	}
	s.keep[a.AccountID] = true
	return rec, true
}

// splitName derives first and last names from a display name, which is all
// Jira has: the last word is the last name, the rest the first name ("Ann
// Lee" → Ann, Lee; "Automation" → "", Automation).
func splitName(display string) (first, last string) {
	i := strings.LastIndexByte(display, ' ')
	if i < 0 {
		return "", display
	}
	return display[:i], display[i+1:]
}

// listGroups pages through group/bulk.
func (s *syncRun) listGroups(ctx context.Context) ([]apiGroup, error) {
	var out []apiGroup
	err := beanPages(ctx, s, pathGroupBulk, url.Values{},
		func(g apiGroup) string {
			if g.GroupID != "" {
				return g.GroupID
			}
			return "name:" + g.Name
		},
		func(g apiGroup) {
			if strings.TrimSpace(g.Name) != "" {
				out = append(out, g)
			}
		})
	if err != nil {
		return nil, s.u.explain("sync", err)
	}
	s.progress(len(out))
	return out, nil
}

// beanPages reads a PageBean listing: startAt advances by the number of
// values returned; the end is isLast when present, else startAt >= total,
// else an empty page. When total changes between pages the listing
// shifted under the crawl and is read once more from the start (values
// are de-duplicated by key).
func beanPages[T any](ctx context.Context, s *syncRun, path string, q url.Values, key func(T) string, each func(T)) error {
	startAt := 0
	var total *int64
	restarted := false
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages >= maxPages {
			return fmt.Errorf("%w: %s returned %d pages without the last one; giving up (safety cap)", upstream.ErrUnavailable, path, pages)
		}
		q.Set("startAt", strconv.Itoa(startAt))
		q.Set("maxResults", strconv.Itoa(beanRequest))
		var pb pageBean[T]
		if _, err := s.u.api.Get(ctx, path, q, &pb); err != nil {
			return err
		}
		if pb.Total != nil {
			if total != nil && *total != *pb.Total && !restarted {
				restarted, startAt, total = true, 0, pb.Total
				s.restart()
				continue
			}
			total = pb.Total
		}
		for _, v := range pb.Values {
			k := key(v)
			if seen[k] {
				s.duplicate()
				continue
			}
			seen[k] = true
			each(v)
		}
		n := len(pb.Values)
		startAt += n
		switch {
		case n == 0:
			return nil
		case pb.IsLast != nil:
			if *pb.IsLast {
				return nil
			}
		case pb.Total != nil:
			if int64(startAt) >= *pb.Total {
				return nil
			}
		}
	}
}

func (s *syncRun) restart() {
	s.mu.Lock()
	s.stats.Restarts++
	s.mu.Unlock()
}

func (s *syncRun) duplicate() {
	s.mu.Lock()
	s.stats.Duplicates++
	s.mu.Unlock()
}

// listMembers reads every group's members with cfg.Concurrency requests in
// flight. members[i] is nil for a group that vanished (404) meanwhile.
func (s *syncRun) listMembers(ctx context.Context, groups []apiGroup) ([]*[]string, error) {
	u := s.u
	members := make([]*[]string, len(groups))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		vanished []int
	)
	for range min(u.cfg.Concurrency, max(len(groups), 1)) {
		wg.Go(func() {
			for i := range jobs {
				ms, err := s.members(ctx, groups[i])
				switch {
				case err == nil:
					members[i] = &ms
				case cloudhttp.IsKind(err, cloudhttp.KindNotFound):
					u.log.Warn("group deleted during the sync; left out", "group", groups[i].Name, "group_id", groups[i].GroupID)
					errMu.Lock()
					vanished = append(vanished, i)
					errMu.Unlock()
				default:
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					cancel()
					return
				}
			}
		})
	}
feed:
	for i := range groups {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, u.explain("sync", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, u.errf("sync", "%w", err)
	}
	slices.Sort(vanished)
	for _, i := range vanished {
		s.stats.VanishedGroups = append(s.stats.VanishedGroups, groups[i].Name)
	}
	// Many groups vanishing at once is not a cleanup someone did while we
	// read: more likely a broken site. Refuse rather than drop them.
	if n := len(vanished); n >= 2 && n*2 > len(groups) {
		return nil, u.errf("sync", "%w: %d of %d groups answered 404 when their members were read; not applying a sync that would drop them",
			upstream.ErrUnavailable, n, len(groups))
	}
	return members, nil
}

// members reads one group's members (account IDs of copied users, sorted).
func (s *syncRun) members(ctx context.Context, g apiGroup) ([]string, error) {
	q := groupQuery(g)
	q.Set("includeInactiveUsers", "true")
	var ids []string
	err := beanPages(ctx, s, pathGroupMember, q,
		func(m memberRef) string { return m.AccountID },
		func(m memberRef) {
			if s.keep[m.AccountID] {
				ids = append(ids, m.AccountID)
			}
		})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}
