// Package accessfake is an in-process fake of the Atlassian Admin API
// (cloud-apis.md §3) for tests and benchmarks: the v2 directory APIs
// (directories, users, groups; GET lists and POST searches), the v1
// events stream, Bearer org API keys, the Admin error bodies, and the
// rate limiting and cursor behaviour the spec describes. It follows the
// spec, not dirgate's connector, and it offers knobs to misbehave on
// demand (throttling, outages, an expired key, expired cursors, a group
// deleted between pages, clamped page sizes) and counters to check what a
// client asked.
//
// Decisions where the spec is unsure (§7), all documented here and in the
// code:
//   - limit above 100 (U7) is clamped to 100, silently, as Jira does with
//     maxResults [J7]; links.next keeps paging correct either way.
//   - Event action keys (U9): the spec says to learn them from
//     /event-actions and names none. The fake emits the Action* constants
//     below. Removing a user emits only ActionUserRemoved (no per-group
//     events), deleting a group only ActionGroupDeleted.
//   - An unknown or expired key gets 401 with code ADMIN-401-1 (U6).
//   - The users' groupIds filter matches users in any of the groups; an
//     unknown group ID in it is 404 ADMIN-404-10. At most 10 accountIds and
//     10 groupIds per request (A7); more is 400 ADMIN-400-24.
//   - expand (groups, counts.users) exists in the POST searches only, as in
//     the spec; the GET lists ignore it.
//   - Rate limits are fixed one-minute windows aligned on the minute, so
//     X-RateLimit-Reset (minute precision) is exact. The events stream
//     allows 10 requests a minute; other endpoints are unlimited unless
//     Options.RatePerMinute says otherwise. A request that arrives before
//     the reset the server announced is an early retry: it is counted and,
//     unless SetPunishEarly(false), pushes the reset out by a minute.
//
// Everything is safe for concurrent use. Time comes from Options.Clock, so
// a test can share one *Clock between the fake and the client.
package accessfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoints, as counted by Stats and named by Forbid.
const (
	EndpointOrg          = "org"           // GET /admin/v1/orgs/{orgId}
	EndpointDirectories  = "directories"   // GET /admin/v2/orgs/{orgId}/directories
	EndpointUsers        = "users"         // GET …/directories/{dir}/users
	EndpointUsersSearch  = "users/search"  // POST …/directories/{dir}/users/search
	EndpointUser         = "user"          // GET …/directories/{dir}/users/{accountId}
	EndpointGroups       = "groups"        // GET …/directories/{dir}/groups
	EndpointGroupsSearch = "groups/search" // POST …/directories/{dir}/groups/search
	EndpointGroup        = "group"         // GET …/directories/{dir}/groups/{groupId}
	EndpointEvents       = "events-stream" // GET /admin/v1/orgs/{orgId}/events-stream
	EndpointOther        = "other"         // anything else (404)
)

// scopes is the API key scope each endpoint needs (cloud-apis.md §3.1).
var scopes = map[string]string{
	EndpointOrg: "read:orgs:admin", EndpointDirectories: "read:directories:admin",
	EndpointUsers: "read:directories:admin", EndpointUsersSearch: "read:directories:admin", EndpointUser: "read:directories:admin",
	EndpointGroups: "read:groups:admin", EndpointGroupsSearch: "read:groups:admin", EndpointGroup: "read:groups:admin",
	EndpointEvents: "read:events:admin",
}

// Event action keys the fake emits (uncertain: see the package comment).
const (
	ActionUserCreated          = "user_created"
	ActionUserUpdated          = "user_updated"
	ActionUserRemoved          = "user_removed"
	ActionGroupCreated         = "group_created"
	ActionGroupUpdated         = "group_updated"
	ActionGroupDeleted         = "group_deleted"
	ActionUserAddedToGroup     = "user_added_to_group"
	ActionUserRemovedFromGroup = "user_removed_from_group"
)

// Page size limits (cloud-apis.md §3.3 and §3.6).
const (
	MaxLimit              = 100
	DefaultUsersLimit     = 20  // GET users
	DefaultSearchLimit    = 50  // POST users/search
	DefaultGroupsLimit    = 20  // GET groups and POST groups/search
	DefaultEventsLimit    = 200 // events-stream
	MaxEventsLimit        = 500
	MaxFilterIDs          = 10
	DefaultEventsPerMin   = 10
	defaultPunishment     = time.Minute
	maxCursorsKept        = 200000
	rateLimitResetLayout  = "2006-01-02T15:04Z"
	fakeActorID, fakeName = "5f00aa0000000000000000aa", "Org Admin"
)

// Options configure a fake.
type Options struct {
	// OrgID is the organization's ID (default "9a1b2c3d-0000-4e4e-9f9f-abcdefabcdef").
	OrgID string
	// APIKey is the org API key requests must carry as a Bearer token
	// (default "test-admin-key").
	APIKey string
	// KeyExpires, when set, is when the key stops working.
	KeyExpires time.Time
	// Clock is the fake's time (default: the wall clock).
	Clock interface{ Now() time.Time }
	// Data is the initial content (default: an empty organization with one
	// directory). The fake keeps its own copy.
	Data *Dataset
	// EventsPerMinute limits the events stream (default 10; negative:
	// unlimited). RatePerMinute limits every other endpoint, each on its
	// own (0: unlimited).
	EventsPerMinute int
	RatePerMinute   int
	// CursorTTL expires listing cursors that old (0: never).
	CursorTTL time.Duration
}

// Server is a running fake. URL is what a client's base_url should be.
type Server struct {
	URL    string
	OrgID  string
	APIKey string

	srv   *httptest.Server
	clock interface{ Now() time.Time }

	mu         sync.Mutex
	dirs       []Directory
	users      map[string]*User
	userOrder  []string // account IDs, sorted
	groups     map[string]*Group
	groupOrder []string // group IDs, sorted
	members    map[string]map[string]bool
	userGroups map[string]map[string]bool
	events     []Event
	cursors    map[string]*cursorState
	cursorSeq  uint64
	gen        int
	idSeq      int
	errSeq     int
	noEvents   bool

	keyExpires      time.Time
	eventsPerMinute int
	ratePerMinute   int
	cursorTTL       time.Duration
	throttleN       int
	throttleRA      time.Duration
	throttleBlind   bool
	unavailableN    int
	unavailableRA   time.Duration
	punish          bool
	failCursorsN    int
	drop            *dropPlan
	hooks           []*hook
	runNow          []func()
	clampLimit      int
	shortPages      bool
	pagesServed     int // with shortPages: which pages come short
	searchDisabled  bool
	forbidden       map[string]bool
	overlap         bool
	broken          bool

	requests    map[string]int
	statuses    map[int]int
	early       int
	resetAt     map[string]time.Time
	raMode      map[string]bool
	windows     map[string]window
	eventsTimes []time.Time
}

type window struct {
	start time.Time
	n     int
}

type dropPlan struct {
	group string
	after int
}

type hook struct {
	after int
	fn    func()
}

// New starts a fake. Close it when done.
func New(opts Options) *Server {
	s := &Server{
		OrgID: opts.OrgID, APIKey: opts.APIKey, clock: opts.Clock,
		users: map[string]*User{}, groups: map[string]*Group{},
		members: map[string]map[string]bool{}, userGroups: map[string]map[string]bool{},
		cursors: map[string]*cursorState{}, keyExpires: opts.KeyExpires,
		eventsPerMinute: opts.EventsPerMinute, ratePerMinute: opts.RatePerMinute, cursorTTL: opts.CursorTTL,
		punish: true, forbidden: map[string]bool{},
		requests: map[string]int{}, statuses: map[int]int{}, resetAt: map[string]time.Time{},
		raMode: map[string]bool{}, windows: map[string]window{},
	}
	if s.OrgID == "" {
		s.OrgID = "9a1b2c3d-0000-4e4e-9f9f-abcdefabcdef"
	}
	if s.APIKey == "" {
		s.APIKey = "test-admin-key"
	}
	if s.clock == nil {
		s.clock = wallClock{}
	}
	if s.eventsPerMinute == 0 {
		s.eventsPerMinute = DefaultEventsPerMin
	}
	d := opts.Data
	if d == nil {
		d = &Dataset{}
	}
	s.dirs = slices.Clone(d.Directories)
	if len(s.dirs) == 0 {
		s.dirs = []Directory{{ID: DefaultDirectoryID, Name: "Directory"}}
	}
	for _, u := range d.Users {
		u := u
		if u.DirectoryID == "" {
			u.DirectoryID = s.dirs[0].ID
		}
		s.users[u.AccountID] = &u
		s.userOrder = append(s.userOrder, u.AccountID)
	}
	for _, g := range d.Groups {
		g := g
		if g.DirectoryID == "" {
			g.DirectoryID = s.dirs[0].ID
		}
		s.groups[g.ID] = &g
		s.groupOrder = append(s.groupOrder, g.ID)
		s.members[g.ID] = map[string]bool{}
	}
	sort.Strings(s.userOrder)
	sort.Strings(s.groupOrder)
	for gid, ids := range d.Members {
		if s.groups[gid] == nil {
			continue
		}
		for _, id := range ids {
			if s.users[id] != nil {
				s.addMemberLocked(gid, id)
			}
		}
	}

	mux := http.NewServeMux()
	v2 := "/admin/v2/orgs/{orgId}/directories"
	s.route(mux, "GET /admin/v1/orgs/{orgId}", EndpointOrg, s.serveOrg)
	s.route(mux, "GET "+v2, EndpointDirectories, s.serveDirectories)
	s.route(mux, "GET "+v2+"/{dir}/users", EndpointUsers, s.serveUsers)
	s.route(mux, "POST "+v2+"/{dir}/users/search", EndpointUsersSearch, s.serveUsers)
	s.route(mux, "GET "+v2+"/{dir}/users/{accountId}", EndpointUser, s.serveUser)
	s.route(mux, "GET "+v2+"/{dir}/groups", EndpointGroups, s.serveGroups)
	s.route(mux, "POST "+v2+"/{dir}/groups/search", EndpointGroupsSearch, s.serveGroups)
	s.route(mux, "GET "+v2+"/{dir}/groups/{groupId}", EndpointGroup, s.serveGroup)
	s.route(mux, "GET /admin/v1/orgs/{orgId}/events-stream", EndpointEvents, s.serveEvents)
	s.route(mux, "/", EndpointOther, func(w http.ResponseWriter, r *http.Request, now time.Time) {
		s.adminError(w, http.StatusNotFound, "ADMIN-404-1", "Unknown resource", "No such resource: "+r.URL.Path)
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) route(mux *http.ServeMux, pattern, endpoint string, h func(http.ResponseWriter, *http.Request, time.Time)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer func() {
			// Hooks run outside the lock (they may call the mutations),
			// before the client has the answer.
			run := s.runNow
			s.runNow = nil
			s.mu.Unlock()
			for _, fn := range run {
				fn()
			}
		}()
		now := s.clock.Now()
		s.requests[endpoint]++
		if endpoint == EndpointEvents {
			s.eventsTimes = append(s.eventsTimes, now)
		}
		if s.broken {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			s.adminError(w, http.StatusBadGateway, "ADMIN-500-1", "Internal error", "broken")
			return
		}
		if !s.authorised(r, now) {
			s.adminError(w, http.StatusUnauthorized, "ADMIN-401-1", "Unauthorized",
				"The API key is missing, invalid or expired.")
			return
		}
		if s.unavailableN > 0 {
			s.unavailableN--
			if s.unavailableRA > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(s.unavailableRA.Seconds()))))
			}
			s.adminError(w, http.StatusServiceUnavailable, "ADMIN-503-1", "Service unavailable", "Try again later.")
			return
		}
		if s.throttled(w, endpoint, now) {
			return
		}
		if org := r.PathValue("orgId"); endpoint != EndpointOther && org != s.OrgID {
			s.adminError(w, http.StatusNotFound, "ADMIN-404-2", "Organization not found", "No organization "+org+" for this API key.")
			return
		}
		if s.forbidden[endpoint] {
			s.adminError(w, http.StatusForbidden, "ADMIN-403-3", "Forbidden",
				"The API key is not allowed to do this (it needs the scope "+scopes[endpoint]+").")
			return
		}
		h(w, r, now)
	})
}

func (s *Server) authorised(r *http.Request, now time.Time) bool {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key != s.APIKey {
		return false
	}
	return s.keyExpires.IsZero() || now.Before(s.keyExpires)
}

// throttled answers 429 when the endpoint is limited; see the package
// comment for the rules.
func (s *Server) throttled(w http.ResponseWriter, endpoint string, now time.Time) bool {
	limit := s.ratePerMinute
	if endpoint == EndpointEvents {
		limit = s.eventsPerMinute
	}
	if until, ok := s.resetAt[endpoint]; ok && now.Before(until) {
		s.early++
		if s.punish {
			until = until.Add(defaultPunishment)
			s.resetAt[endpoint] = until
		}
		s.write429(w, endpoint, limit, now, until, s.raMode[endpoint])
		return true
	}
	if s.throttleN > 0 {
		s.throttleN--
		switch {
		case s.throttleBlind:
			delete(s.resetAt, endpoint)
			s.write429(w, endpoint, limit, now, time.Time{}, false)
		case s.throttleRA > 0:
			until := now.Add(s.throttleRA)
			s.resetAt[endpoint], s.raMode[endpoint] = until, true
			s.write429(w, endpoint, limit, now, until, true)
		default:
			until := now.Truncate(time.Minute).Add(time.Minute)
			s.resetAt[endpoint], s.raMode[endpoint] = until, false
			s.write429(w, endpoint, limit, now, until, false)
		}
		return true
	}
	if limit <= 0 {
		return false
	}
	start := now.Truncate(time.Minute)
	win := s.windows[endpoint]
	if !win.start.Equal(start) {
		win = window{start: start}
	}
	if win.n >= limit {
		until := start.Add(time.Minute)
		s.resetAt[endpoint], s.raMode[endpoint] = until, false
		s.write429(w, endpoint, limit, now, until, false)
		return true
	}
	win.n++
	s.windows[endpoint] = win
	return false
}

func (s *Server) write429(w http.ResponseWriter, endpoint string, limit int, now, until time.Time, retryAfter bool) {
	h := w.Header()
	if limit > 0 {
		h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	}
	h.Set("X-RateLimit-Remaining", "0")
	switch {
	case until.IsZero():
	case retryAfter:
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(until.Sub(now).Seconds()))))
	default:
		h.Set("X-RateLimit-Reset", until.UTC().Format(rateLimitResetLayout))
	}
	s.adminError(w, http.StatusTooManyRequests, "ADMIN-429-1", "Rate limit exceeded",
		"Too many requests, retry after the reset time.")
}

// adminError writes the Admin API error body (cloud-apis.md §3.4).
func (s *Server) adminError(w http.ResponseWriter, status int, code, title, detail string) {
	s.errSeq++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", s.OrgID, s.errSeq)))
	id := fmt.Sprintf("%x-%x-4%x-8%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	id = id[:36]
	body := map[string]any{"errors": []map[string]string{{
		"id": id, "status": strconv.Itoa(status), "code": code, "title": title, "detail": detail,
	}}}
	s.writeJSON(w, status, body)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	s.statuses[status]++
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ---- knobs -----------------------------------------------------------------

// Throttle answers the next n requests with 429. With retryAfter 0 the
// answer carries X-RateLimit-Reset only (the next minute boundary); with
// retryAfter > 0 it carries Retry-After only.
func (s *Server) Throttle(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleN, s.throttleRA, s.throttleBlind = n, retryAfter, false
}

// ThrottleBlind answers the next n requests with 429 without saying when
// to come back (no Retry-After, no X-RateLimit-Reset).
func (s *Server) ThrottleBlind(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleN, s.throttleRA, s.throttleBlind = n, 0, true
}

// SetPunishEarly sets whether a request before the announced reset pushes
// the reset out by a minute (default true). Early requests are counted
// either way.
func (s *Server) SetPunishEarly(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.punish = on
}

// Unavailable answers the next n requests with 503, with Retry-After when
// retryAfter > 0.
func (s *Server) Unavailable(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unavailableN, s.unavailableRA = n, retryAfter
}

// ExpireKey makes the API key invalid from now on (401).
func (s *Server) ExpireKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyExpires = s.clock.Now()
}

// SetKeyExpiry sets when the key stops working (zero: never).
func (s *Server) SetKeyExpiry(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyExpires = t
}

// ExpireCursors invalidates every cursor issued so far, listing and
// events-stream cursors alike (400 ADMIN-400-1 when used).
func (s *Server) ExpireCursors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
}

// FailCursors answers the next n listing requests (users or groups) that
// carry a cursor with 400 ADMIN-400-1, as if the cursor had expired.
func (s *Server) FailCursors(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCursorsN = n
}

// DropGroupAfter deletes the group (with its event) right after the fake
// has served n more pages of users (GET lists and POST searches alike).
func (s *Server) DropGroupAfter(groupID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = &dropPlan{group: groupID, after: n}
}

// AfterUsersPages runs fn once the fake has served n more pages of users
// (GET lists and POST searches alike), before the client receives the
// n-th: a change made between two pages of a listing. fn runs outside the
// fake's lock and may call its mutations.
func (s *Server) AfterUsersPages(n int, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, &hook{after: n, fn: fn})
}

// ClampLimit makes the server serve at most n items per page whatever the
// request asks (0: the normal 100).
func (s *Server) ClampLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clampLimit = n
}

// ShortPages makes every other page of a listing shorter than the limit,
// before the end as well (off: full pages until the last).
func (s *Server) ShortPages(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shortPages = on
}

// DisableSearch makes the POST searches answer 405 ADMIN-405-1, as a
// deployment without them would.
func (s *Server) DisableSearch(off bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searchDisabled = off
}

// Forbid makes an endpoint answer 403 (the key lacks its scope); allowed
// false lifts it.
func (s *Server) Forbid(endpoint string, forbidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[endpoint] = forbidden
}

// OverlapPages makes each page of a list start with the last item of the
// previous one (a duplicate the client must drop).
func (s *Server) OverlapPages(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.overlap = on
}

// Break makes the server unreachable: every connection is closed without
// an answer. Repair undoes it.
func (s *Server) Break() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken = true
}

// Repair undoes Break.
func (s *Server) Repair() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken = false
}

// SuppressEvents stops (or resumes) the audit events of mutations, to
// simulate changes the stream does not report.
func (s *Server) SuppressEvents(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noEvents = on
}

// ---- counters --------------------------------------------------------------

// Stats counts what the fake was asked.
type Stats struct {
	// Requests counts every request by endpoint (Endpoint*), whatever its
	// answer; Total is their sum.
	Requests map[string]int
	Total    int
	// Status counts the answers by HTTP status.
	Status map[int]int
	// EarlyRetries counts requests that came before an announced reset.
	EarlyRetries int
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Requests: map[string]int{}, Status: map[int]int{}, EarlyRetries: s.early}
	for k, v := range s.requests {
		st.Requests[k] = v
		st.Total += v
	}
	for k, v := range s.statuses {
		st.Status[k] = v
	}
	return st
}

// ResetStats zeroes the counters (not the rate-limit windows).
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.statuses, s.early, s.eventsTimes = map[string]int{}, map[int]int{}, 0, nil
}

// EventsRequestTimes returns when each events-stream request arrived (by
// the fake's clock).
func (s *Server) EventsRequestTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.eventsTimes)
}

// ---- cursors ---------------------------------------------------------------

type cursorState struct {
	q      listQuery // listings
	ev     *evQuery  // events stream
	issued time.Time
	gen    int
	seq    uint64
}

func (s *Server) newCursor(c *cursorState, now time.Time) string {
	s.cursorSeq++
	c.issued, c.gen, c.seq = now, s.gen, s.cursorSeq
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.cursorSeq)
	sum := sha256.Sum256(append([]byte(s.OrgID), b[:8]...))
	copy(b[8:], sum[:8])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	s.cursors[tok] = c
	if len(s.cursors) > maxCursorsKept {
		for k, v := range s.cursors {
			if v.seq+maxCursorsKept/2 < s.cursorSeq {
				delete(s.cursors, k)
			}
		}
	}
	return tok
}

// cursor looks a token up; nil when it is unknown or expired.
func (s *Server) cursor(tok string, now time.Time, listing bool) *cursorState {
	c := s.cursors[tok]
	if c == nil || c.gen != s.gen || (listing && c.ev != nil) || (!listing && c.ev == nil) {
		return nil
	}
	if listing && s.cursorTTL > 0 && now.Sub(c.issued) > s.cursorTTL {
		return nil
	}
	return c
}

func (s *Server) invalidCursor(w http.ResponseWriter) {
	s.adminError(w, http.StatusBadRequest, "ADMIN-400-1", "Invalid page cursor", "The page cursor is invalid or has expired.")
}

// ---- org and directories ---------------------------------------------------

func (s *Server) serveOrg(w http.ResponseWriter, r *http.Request, now time.Time) {
	self := s.URL + "/admin/v1/orgs/" + s.OrgID
	s.writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"id": s.OrgID, "type": "orgs", "attributes": map[string]any{"name": "Acme Corp"},
		"links": map[string]any{"self": self},
	}})
}

func (s *Server) serveDirectories(w http.ResponseWriter, r *http.Request, now time.Time) {
	data := make([]map[string]any, 0, len(s.dirs))
	for _, d := range s.dirs {
		data = append(data, map[string]any{"directoryId": d.ID, "name": d.Name, "icon": nil})
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": data,
		"links": map[string]any{"self": "", "prev": nil, "next": nil}})
}

// dirOK checks the {dir} path value: "-" or a known directory.
func (s *Server) dirOK(w http.ResponseWriter, dir string) bool {
	if dir == "-" || slices.ContainsFunc(s.dirs, func(d Directory) bool { return d.ID == dir }) {
		return true
	}
	s.adminError(w, http.StatusNotFound, "ADMIN-404-1", "Unknown resource", "No directory "+dir+".")
	return false
}

// ---- listings --------------------------------------------------------------

type listQuery struct {
	users        bool
	dir          string
	limit        int
	accountIDs   []string
	groupIDs     []string
	groupNames   []string
	emails       []string
	searchTerm   string
	expandGroups bool
	expandCounts bool
	after        string
}

// searchBody is the JSON body of the POST searches (fields the fake does
// not implement are accepted and ignored, like the GET lists' filters).
type searchBody struct {
	Cursor     string   `json:"cursor"`
	Limit      *int     `json:"limit"`
	AccountIDs []string `json:"accountIds"`
	GroupIDs   []string `json:"groupIds"`
	GroupNames []string `json:"groupNames"`
	Emails     []string `json:"emails"`
	SearchTerm string   `json:"searchTerm"`
	Expand     []string `json:"expand"`
}

// queryList reads a repeatable query parameter: name=a&name=b, name[]=a,
// or name=a,b.
func queryList(q url.Values, name string) []string {
	var out []string
	for _, v := range append(q[name], q[name+"[]"]...) {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (s *Server) serveUsers(w http.ResponseWriter, r *http.Request, now time.Time) {
	s.serveList(w, r, now, true)
}

func (s *Server) serveGroups(w http.ResponseWriter, r *http.Request, now time.Time) {
	s.serveList(w, r, now, false)
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, now time.Time, users bool) {
	post := r.Method == http.MethodPost
	if post && s.searchDisabled {
		s.adminError(w, http.StatusMethodNotAllowed, "ADMIN-405-1", "Method not supported", "Search is not available.")
		return
	}
	dir := r.PathValue("dir")
	if !s.dirOK(w, dir) {
		return
	}
	var q listQuery
	var tok string
	var body searchBody
	if post {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request body", "The body is not valid JSON.")
			return
		}
		tok = body.Cursor
	} else {
		tok = r.URL.Query().Get("cursor")
	}
	if tok != "" {
		// "If present, all other parameters are discarded."
		c := s.cursor(tok, now, true)
		if c != nil && s.failCursorsN > 0 {
			s.failCursorsN--
			c = nil
		}
		if c == nil || c.q.users != users || c.q.dir != dir {
			s.invalidCursor(w)
			return
		}
		q = c.q
	} else {
		q = listQuery{users: users, dir: dir}
		if post {
			q.accountIDs, q.groupIDs, q.groupNames, q.emails = body.AccountIDs, body.GroupIDs, body.GroupNames, body.Emails
			q.searchTerm = body.SearchTerm
			for _, e := range body.Expand {
				switch {
				case e == "groups" && users:
					q.expandGroups = true
				case e == "counts.users" && !users:
					q.expandCounts = true
				case e == "platformRoles" || e == "counts.resources" || e == "productAccess":
				default:
					s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request body", "Unknown expand value "+e+".")
					return
				}
			}
			q.limit = DefaultGroupsLimit
			if users {
				q.limit = DefaultSearchLimit
			}
			if body.Limit != nil {
				q.limit = *body.Limit
			}
		} else {
			v := r.URL.Query()
			q.accountIDs, q.groupIDs = queryList(v, "accountIds"), queryList(v, "groupIds")
			q.searchTerm = v.Get("searchTerm")
			q.expandCounts = !users && v.Get("counts") == "true"
			q.limit = DefaultGroupsLimit
			if users {
				q.limit = DefaultUsersLimit
			}
			if l := v.Get("limit"); l != "" {
				n, err := strconv.Atoi(l)
				if err != nil {
					s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request", "limit must be a number.")
					return
				}
				q.limit = n
			}
		}
		switch {
		case q.limit < 1:
			s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request", "limit must be at least 1.")
			return
		case len(q.accountIDs) > MaxFilterIDs || len(q.groupIDs) > MaxFilterIDs:
			s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request", fmt.Sprintf("At most %d accountIds and %d groupIds.", MaxFilterIDs, MaxFilterIDs))
			return
		case len(q.emails) > 0 && q.searchTerm != "":
			s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request body", "emails and searchTerm are mutually exclusive.")
			return
		case len(q.groupNames) > 0 && (q.searchTerm != "" || len(q.groupIDs) > 0):
			s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request body", "groupNames, searchTerm and groupIds are mutually exclusive.")
			return
		}
		q.limit = min(q.limit, MaxLimit) // U7: clamped, not refused
	}
	if users {
		for _, g := range q.groupIDs {
			if s.groups[g] == nil {
				s.adminError(w, http.StatusNotFound, "ADMIN-404-10", "Group not found", "No group "+g+".")
				return
			}
		}
	}
	limit := q.limit
	if s.clampLimit > 0 {
		limit = min(limit, s.clampLimit)
	}
	if s.shortPages {
		// Every other page is short (one to half the limit): a client
		// must follow links.next, never stop at a short page.
		if s.pagesServed++; s.pagesServed%2 == 1 {
			limit = 1 + s.pagesServed%max(1, limit/2)
		}
	}
	keys, more := s.page(&q, limit)
	data := make([]any, 0, len(keys))
	for _, k := range keys {
		if users {
			data = append(data, s.userDoc(s.users[k], q.expandGroups, q.dir))
		} else {
			data = append(data, s.groupDoc(s.groups[k], q.expandCounts))
		}
	}
	var next any
	if more {
		nq := q
		nq.after = keys[len(keys)-1]
		if s.overlap && len(keys) >= 2 {
			nq.after = keys[len(keys)-2]
		}
		next = s.newCursor(&cursorState{q: nq}, now)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": data,
		"links": map[string]any{"self": s.newCursor(&cursorState{q: q}, now), "prev": nil, "next": next}})
	if users {
		kept := s.hooks[:0]
		for _, h := range s.hooks {
			if h.after--; h.after <= 0 {
				s.runNow = append(s.runNow, h.fn)
			} else {
				kept = append(kept, h)
			}
		}
		s.hooks = kept
	}
	if users && s.drop != nil {
		if s.drop.after--; s.drop.after <= 0 {
			g := s.drop.group
			s.drop = nil
			if s.groups[g] != nil {
				s.deleteGroupLocked(g, now)
			}
		}
	}
}

// page returns up to limit keys after q.after that match q, and whether
// more follow.
func (s *Server) page(q *listQuery, limit int) ([]string, bool) {
	order := s.groupOrder
	if q.users {
		order = s.userOrder
	}
	i := 0
	if q.after != "" {
		i = sort.SearchStrings(order, q.after)
		if i < len(order) && order[i] == q.after {
			i++
		}
	}
	var out []string
	for ; i < len(order); i++ {
		if s.matches(q, order[i]) {
			if len(out) == limit {
				return out, true
			}
			out = append(out, order[i])
		}
	}
	return out, false
}

func (s *Server) matches(q *listQuery, key string) bool {
	term := strings.ToLower(q.searchTerm)
	if q.users {
		u := s.users[key]
		if q.dir != "-" && u.DirectoryID != q.dir {
			return false
		}
		if len(q.accountIDs) > 0 && !slices.Contains(q.accountIDs, key) {
			return false
		}
		if len(q.emails) > 0 && !slices.ContainsFunc(q.emails, func(e string) bool { return strings.EqualFold(e, u.Email) }) {
			return false
		}
		if len(q.groupIDs) > 0 && !slices.ContainsFunc(q.groupIDs, func(g string) bool { return s.members[g][key] }) {
			return false
		}
		if term != "" && !strings.Contains(strings.ToLower(u.Name+"\x00"+u.Nickname+"\x00"+u.Email), term) {
			return false
		}
		return true
	}
	g := s.groups[key]
	if q.dir != "-" && g.DirectoryID != q.dir {
		return false
	}
	if len(q.groupIDs) > 0 && !slices.Contains(q.groupIDs, key) {
		return false
	}
	if len(q.groupNames) > 0 && !slices.ContainsFunc(q.groupNames, func(n string) bool { return strings.EqualFold(n, g.Name) }) {
		return false
	}
	if len(q.accountIDs) > 0 && !slices.ContainsFunc(q.accountIDs, func(a string) bool { return s.members[key][a] }) {
		return false
	}
	if term != "" && !strings.Contains(strings.ToLower(g.Name), term) {
		return false
	}
	return true
}

func (s *Server) serveUser(w http.ResponseWriter, r *http.Request, now time.Time) {
	dir := r.PathValue("dir")
	if !s.dirOK(w, dir) {
		return
	}
	u := s.users[r.PathValue("accountId")]
	if u == nil || (dir != "-" && u.DirectoryID != dir) {
		s.adminError(w, http.StatusNotFound, "ADMIN-404-8", "User not found", "No such user in the directory.")
		return
	}
	s.writeJSON(w, http.StatusOK, s.userDoc(u, false, dir))
}

func (s *Server) serveGroup(w http.ResponseWriter, r *http.Request, now time.Time) {
	dir := r.PathValue("dir")
	if !s.dirOK(w, dir) {
		return
	}
	g := s.groups[r.PathValue("groupId")]
	if g == nil || (dir != "-" && g.DirectoryID != dir) {
		s.adminError(w, http.StatusNotFound, "ADMIN-404-10", "Group not found", "No such group in the directory.")
		return
	}
	s.writeJSON(w, http.StatusOK, s.groupDoc(g, true))
}

// ---- documents -------------------------------------------------------------

type groupRef struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

type userDoc struct {
	AccountID        string      `json:"accountId"`
	AccountType      string      `json:"accountType"`
	Status           string      `json:"status"`
	AccountStatus    string      `json:"accountStatus"`
	MembershipStatus string      `json:"membershipStatus"`
	AddedToOrg       string      `json:"addedToOrg,omitempty"`
	Name             string      `json:"name"`
	Nickname         string      `json:"nickname"`
	Email            *string     `json:"email"`
	EmailVerified    bool        `json:"emailVerified"`
	ClaimStatus      string      `json:"claimStatus"`
	PlatformRoles    []string    `json:"platformRoles"`
	Picture          string      `json:"picture"`
	Avatar           string      `json:"avatar"`
	ManagementSource *string     `json:"managementSource"`
	MFAEnabled       bool        `json:"mfaEnabled"`
	JobTitle         *string     `json:"jobTitle"`
	Department       *string     `json:"department"`
	Organization     *string     `json:"organization"`
	Location         *string     `json:"location"`
	TimeZone         *string     `json:"timeZone"`
	Groups           *[]groupRef `json:"groups,omitempty"` // with expand=groups only
	Links            struct {
		Self string `json:"self"`
	} `json:"links"`
	DeactivatedOn *string `json:"deactivatedOn"`
	ForDeletion   bool    `json:"forDeletion"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *Server) userDoc(u *User, expandGroups bool, dir string) userDoc {
	d := userDoc{
		AccountID: u.AccountID, AccountType: or(u.AccountType, "atlassian"), Status: or(u.Status, "active"),
		AccountStatus: or(u.AccountStatus, "active"), MembershipStatus: or(u.MembershipStatus, "active"),
		Name: u.Name, Nickname: u.Nickname, Email: strOrNil(u.Email), EmailVerified: u.EmailVerified,
		ClaimStatus: or(u.ClaimStatus, "unmanaged"), PlatformRoles: []string{"atlassian/user"},
		Picture:          "https://avatar.example/" + url.PathEscape(u.AccountID) + ".png",
		Avatar:           "https://avatar.example/" + url.PathEscape(u.AccountID) + ".png",
		ManagementSource: strOrNil(u.ManagementSource), MFAEnabled: u.MFAEnabled,
		JobTitle: strOrNil(u.JobTitle), Department: strOrNil(u.Department), Organization: strOrNil(u.Organization),
		Location: strOrNil(u.Location), TimeZone: strOrNil(u.TimeZone),
		ForDeletion: u.Status == "for_deletion",
	}
	if !u.AddedToOrg.IsZero() {
		d.AddedToOrg = u.AddedToOrg.UTC().Format(time.RFC3339)
	}
	if d.Status == "deactivated" {
		d.DeactivatedOn = strOrNil(d.AddedToOrg)
	}
	d.Links.Self = base64.RawURLEncoding.EncodeToString([]byte("user/" + u.AccountID))
	if expandGroups {
		refs := []groupRef{}
		for gid := range s.userGroups[u.AccountID] {
			g := s.groups[gid]
			if dir != "-" && g.DirectoryID != dir {
				continue
			}
			refs = append(refs, groupRef{ID: g.ID, Name: g.Name, Description: strOrNil(g.Description)})
		}
		slices.SortFunc(refs, func(a, b groupRef) int { return strings.Compare(a.Name, b.Name) })
		d.Groups = &refs
	}
	return d
}

type groupDoc struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	Description      *string `json:"description"`
	DirectoryID      string  `json:"directoryId"`
	ManagementAccess struct {
		Readable   bool `json:"readable"`
		Modifiable bool `json:"modifiable"`
		Deletable  bool `json:"deletable"`
	} `json:"managementAccess"`
	ExternalSynced bool            `json:"externalSynced"`
	ManagedBy      string          `json:"managedBy"`
	Counts         *map[string]int `json:"counts,omitempty"`
	Links          struct {
		Self string `json:"self"`
	} `json:"links"`
}

func (s *Server) groupDoc(g *Group, counts bool) groupDoc {
	d := groupDoc{ID: g.ID, Name: g.Name, Description: strOrNil(g.Description), DirectoryID: g.DirectoryID,
		ExternalSynced: g.ExternalSynced, ManagedBy: or(g.ManagedBy, "admins")}
	d.ManagementAccess.Readable = true
	d.ManagementAccess.Modifiable = !g.ExternalSynced
	d.ManagementAccess.Deletable = !g.ExternalSynced
	if counts {
		c := map[string]int{"users": len(s.members[g.ID]), "resources": 0}
		d.Counts = &c
	}
	d.Links.Self = base64.RawURLEncoding.EncodeToString([]byte("group/" + g.ID))
	return d
}
