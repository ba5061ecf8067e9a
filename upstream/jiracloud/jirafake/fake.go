package jirafake

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint names a family of routes, for counting and for knobs.
type Endpoint string

// Endpoints.
const (
	AnyEndpoint Endpoint = ""             // knobs: every endpoint
	Myself      Endpoint = "myself"       // /rest/api/{2,3}/myself
	UserList    Endpoint = "users"        // /rest/api/{2,3}/users/search and /users
	GroupBulk   Endpoint = "group/bulk"   // /rest/api/{2,3}/group/bulk
	GroupMember Endpoint = "group/member" // /rest/api/{2,3}/group/member
	Other       Endpoint = "other"        // anything else (404)
)

// Flavour401 is the body a rejected credential gets; Jira is seen to send
// each of them (cloud-apis.md §2.7).
type Flavour401 int

// 401 flavours.
const (
	Text401 Flavour401 = iota // text/plain "Basic authentication with passwords is deprecated…"
	JSON401                   // {"message":"Client must be authenticated…","status-code":401}
	XML401                    // <status><status-code>401</status-code>…
	HTML401                   // an HTML "Unauthorized (401)" page
)

// Defaults of the knobs.
const (
	DefaultUserCap     = 1000
	DefaultBeanCap     = 50
	DefaultPageSize    = 50 // maxResults when the request has none
	DefaultServiceMail = "svc-dirgate@serviceaccount.atlassian.com"
	DefaultToken       = "service-token"
	DefaultCloudID     = "0f1e2d3c-aaaa-4bbb-8ccc-000000000001"
)

// Options configure a fake site.
type Options struct {
	// ServiceEmail and ServiceToken are the admin credential (an app
	// account, listed by users/search) the connector syncs with.
	ServiceEmail string
	ServiceToken string
	// CloudID is the {cloudId} of the /ex/jira/{cloudId} routes.
	CloudID string
	// Clock judges Retry-After windows (default: the wall clock).
	Clock Clock
}

// Request is one logged request.
type Request struct {
	At       time.Time
	Method   string
	Path     string // as sent, with the /ex/jira prefix if any
	Query    string
	Endpoint Endpoint
	Email    string // the Basic user, "" when anonymous
	Status   int
	// Early is set on a retry made inside its Retry-After window.
	Early bool
}

// Fake is a running fake Jira Cloud site.
type Fake struct {
	srv     *httptest.Server
	opts    Options
	clock   Clock
	svcID   string
	idCount uint64

	mu         sync.Mutex
	users      []*User // listing order of users/search
	byID       map[string]*User
	userTokens map[string]string // API token → account ID
	groups     map[string]*Group // by groupId
	// gen counts data changes; the caches below are valid for one gen.
	gen          uint64
	groupOrder   cached[[]*Group]
	memberOrders map[string]cached[[]*User] // by groupId
	idents       map[string]*identity
	expired      map[string]bool // tokens that get 401

	userCap, beanCap      int
	shortPages            bool
	omitTotal, omitIsLast bool
	down                  bool
	flavour               Flavour401
	maxConcurrent         int
	burstRate, burstSize  int
	buckets               map[string]*bucket
	faults                []*fault
	hooks                 []*hook

	windows map[string]window    // token|endpoint → throttled until
	retries map[string]time.Time // token|method|URL of throttled requests → until

	counts        map[Endpoint]int
	total         int
	early         int
	inWindow      int
	inflight, max int
	log           []Request
}

type cached[T any] struct {
	gen uint64
	v   T
}

// touch records a data change; f.mu is held.
func (f *Fake) touch() { f.gen++ }

type identity struct {
	email, accountID string
	admin, browse    bool
}

type fault struct {
	ep         Endpoint
	left       int
	status     int
	retryAfter time.Duration
}

type hook struct {
	ep     Endpoint
	at     int // fires when counts[ep] reaches at
	fn     func()
	fired  bool
	anyCnt bool
}

type window struct {
	until time.Time
	base  time.Duration
}

// New starts a fake site holding ds. Close it when done.
func New(ds Dataset, opts Options) *Fake {
	if opts.ServiceEmail == "" {
		opts.ServiceEmail = DefaultServiceMail
	}
	if opts.ServiceToken == "" {
		opts.ServiceToken = DefaultToken
	}
	if opts.CloudID == "" {
		opts.CloudID = DefaultCloudID
	}
	f := &Fake{
		opts: opts, clock: opts.Clock,
		byID: map[string]*User{}, userTokens: map[string]string{}, groups: map[string]*Group{},
		memberOrders: map[string]cached[[]*User]{}, gen: 1,
		idents: map[string]*identity{}, expired: map[string]bool{}, userCap: DefaultUserCap, beanCap: DefaultBeanCap,
		windows: map[string]window{}, retries: map[string]time.Time{}, counts: map[Endpoint]int{},
	}
	if f.clock == nil {
		f.clock = wallClock{}
	}
	svc := f.AddUser(User{AccountType: TypeApp, Email: opts.ServiceEmail, EmailHidden: true, DisplayName: "dirgate sync"})
	f.svcID = svc.AccountID
	f.idents[opts.ServiceToken] = &identity{email: opts.ServiceEmail, accountID: svc.AccountID, admin: true, browse: true}
	for _, u := range ds.Users {
		f.AddUser(u)
	}
	for _, g := range ds.Groups {
		if _, err := f.addGroup(g); err != nil {
			panic("jirafake: dataset: " + err.Error())
		}
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	return f
}

// Start is New for a test: the site closes when tb ends.
func Start(tb testing.TB, ds Dataset, opts Options) *Fake {
	tb.Helper()
	f := New(ds, opts)
	tb.Cleanup(f.Close)
	return f
}

// Close stops the server.
func (f *Fake) Close() { f.srv.Close() }

// URL is the site's base URL (the https://<site>.atlassian.net form).
func (f *Fake) URL() string { return f.srv.URL }

// ScopedURL is the base URL in the api.atlassian.com/ex/jira/{cloudId} form.
func (f *Fake) ScopedURL() string { return f.srv.URL + "/ex/jira/" + f.opts.CloudID }

// ServiceEmail and ServiceToken are the admin credential.
func (f *Fake) ServiceEmail() string { return f.opts.ServiceEmail }

// ServiceToken is the admin credential's API token.
func (f *Fake) ServiceToken() string { return f.opts.ServiceToken }

// ServiceAccountID is the account ID of the service credential.
func (f *Fake) ServiceAccountID() string { return f.svcID }

// ---- data ----

var errNotFound = errors.New("jirafake: not found")

func (f *Fake) newID() string {
	f.idCount++
	r := rand.New(rand.NewPCG(f.idCount, 0x5eed))
	return uuid(r)
}

// AddUser adds an account at the end of the listing and returns it (with
// its AccountID and AccountType filled in).
func (f *Fake) AddUser(u User) User { return f.InsertUser(-1, u) }

// InsertUser adds an account at position pos of the listing (the end when
// pos is out of range), shifting the later ones: what a concurrent change
// does to the offsets of a crawl.
func (f *Fake) InsertUser(pos int, u User) User {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touch()
	if u.AccountID == "" {
		u.AccountID = "712020:" + f.newID()
	}
	if u.AccountType == "" {
		u.AccountType = TypeAtlassian
	}
	if _, dup := f.byID[u.AccountID]; dup {
		panic("jirafake: duplicate account ID " + u.AccountID)
	}
	p := &u
	if pos < 0 || pos > len(f.users) {
		pos = len(f.users)
	}
	f.users = slices.Insert(f.users, pos, p)
	f.byID[u.AccountID] = p
	if u.APIToken != "" {
		f.userTokens[u.APIToken] = u.AccountID
	}
	return u
}

// UpdateUser changes an account in place (its AccountID stays).
func (f *Fake) UpdateUser(accountID string, change func(*User)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touch()
	p, ok := f.byID[accountID]
	if !ok {
		return fmt.Errorf("%w: account %s", errNotFound, accountID)
	}
	old := *p
	change(p)
	p.AccountID = old.AccountID
	if old.APIToken != p.APIToken {
		delete(f.userTokens, old.APIToken)
		if p.APIToken != "" {
			f.userTokens[p.APIToken] = p.AccountID
		}
	}
	return nil
}

// DeleteUser removes an account and its memberships.
func (f *Fake) DeleteUser(accountID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touch()
	p, ok := f.byID[accountID]
	if !ok {
		return fmt.Errorf("%w: account %s", errNotFound, accountID)
	}
	delete(f.byID, accountID)
	delete(f.userTokens, p.APIToken)
	f.users = slices.DeleteFunc(f.users, func(u *User) bool { return u == p })
	for _, g := range f.groups {
		g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == accountID })
	}
	return nil
}

// User returns the account with this ID.
func (f *Fake) User(accountID string) (User, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.byID[accountID]; ok {
		return *p, true
	}
	return User{}, false
}

// UserByEmail returns the account with this address (case-insensitive).
func (f *Fake) UserByEmail(email string) (User, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.users {
		if strings.EqualFold(p.Email, email) {
			return *p, true
		}
	}
	return User{}, false
}

// Users returns every account in listing order.
func (f *Fake) Users() []User {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]User, len(f.users))
	for i, p := range f.users {
		out[i] = *p
	}
	return out
}

// AddGroup adds a group with these members (account IDs).
func (f *Fake) AddGroup(name string, members ...string) (Group, error) {
	return f.addGroup(Group{Name: name, Members: members})
}

func (f *Fake) addGroup(g Group) (Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touch()
	if g.ID == "" {
		g.ID = f.newID()
	}
	if _, dup := f.groups[g.ID]; dup {
		return Group{}, fmt.Errorf("jirafake: duplicate groupId %s", g.ID)
	}
	for _, o := range f.groups {
		if strings.EqualFold(o.Name, g.Name) {
			return Group{}, fmt.Errorf("jirafake: a group named %q exists", g.Name)
		}
	}
	if err := f.checkMembers(g.Members); err != nil {
		return Group{}, err
	}
	g.Members = slices.Compact(slices.Sorted(slices.Values(g.Members)))
	p := &g
	f.groups[g.ID] = p
	return clone(p), nil
}

func (f *Fake) checkMembers(ids []string) error {
	for _, id := range ids {
		if _, ok := f.byID[id]; !ok {
			return fmt.Errorf("%w: member account %s", errNotFound, id)
		}
	}
	return nil
}

func clone(g *Group) Group {
	c := *g
	c.Members = slices.Clone(g.Members)
	return c
}

// GroupByName returns the group with this name (case-insensitive).
func (f *Fake) GroupByName(name string) (Group, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.groups {
		if strings.EqualFold(g.Name, name) {
			return clone(g), true
		}
	}
	return Group{}, false
}

// Groups returns every group in group/bulk order.
func (f *Fake) Groups() []Group {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Group
	for _, g := range f.sortedGroups() {
		out = append(out, clone(g))
	}
	return out
}

func (f *Fake) sortedGroups() []*Group {
	if f.groupOrder.gen == f.gen {
		return f.groupOrder.v
	}
	gs := make([]*Group, 0, len(f.groups))
	for _, g := range f.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *Group) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	f.groupOrder = cached[[]*Group]{f.gen, gs}
	return gs
}

// memberOrder returns a group's members in group/member order ("ordered by
// username": here by address, then account ID).
func (f *Fake) memberOrder(g *Group) []*User {
	if c, ok := f.memberOrders[g.ID]; ok && c.gen == f.gen {
		return c.v
	}
	ms := make([]*User, 0, len(g.Members))
	for _, acc := range g.Members {
		if u := f.byID[acc]; u != nil {
			ms = append(ms, u)
		}
	}
	slices.SortFunc(ms, func(a, b *User) int {
		if c := strings.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email)); c != 0 {
			return c
		}
		return strings.Compare(a.AccountID, b.AccountID)
	})
	f.memberOrders[g.ID] = cached[[]*User]{f.gen, ms}
	return ms
}

// RenameGroup changes a group's name (its groupId stays).
func (f *Fake) RenameGroup(id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touch()
	g, ok := f.groups[id]
	if !ok {
		return fmt.Errorf("%w: group %s", errNotFound, id)
	}
	g.Name = name
	return nil
}

// DeleteGroup removes a group.
func (f *Fake) DeleteGroup(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touch()
	if _, ok := f.groups[id]; !ok {
		return fmt.Errorf("%w: group %s", errNotFound, id)
	}
	delete(f.groups, id)
	return nil
}

// SetMembers replaces a group's members.
func (f *Fake) SetMembers(id string, members ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touch()
	g, ok := f.groups[id]
	if !ok {
		return fmt.Errorf("%w: group %s", errNotFound, id)
	}
	if err := f.checkMembers(members); err != nil {
		return err
	}
	g.Members = slices.Compact(slices.Sorted(slices.Values(members)))
	return nil
}

// AddMember adds an account to a group.
func (f *Fake) AddMember(id, accountID string) error {
	f.mu.Lock()
	g, ok := f.groups[id]
	var members []string
	if ok {
		members = append(slices.Clone(g.Members), accountID)
	}
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: group %s", errNotFound, id)
	}
	return f.SetMembers(id, members...)
}

// RemoveMember removes an account from a group.
func (f *Fake) RemoveMember(id, accountID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touch()
	g, ok := f.groups[id]
	if !ok {
		return fmt.Errorf("%w: group %s", errNotFound, id)
	}
	g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == accountID })
	return nil
}

// ---- credentials ----

// AddIdentity adds another service credential: an app account (listed by
// users/search) that authenticates with email and token. admin grants
// Administer Jira (group/member); every identity may browse users and
// groups unless SetBrowse takes it away.
func (f *Fake) AddIdentity(email, token string, admin bool) (accountID string) {
	u := f.AddUser(User{AccountType: TypeApp, Email: email, EmailHidden: true, DisplayName: "service " + email})
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idents[token] = &identity{email: email, accountID: u.AccountID, admin: admin, browse: true}
	return u.AccountID
}

func (f *Fake) ident(token string) *identity {
	id := f.idents[token]
	if id == nil {
		panic("jirafake: no service identity has token " + token)
	}
	return id
}

// SetAdmin grants or revokes Administer Jira for a service token.
func (f *Fake) SetAdmin(token string, admin bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ident(token).admin = admin
}

// SetBrowse grants or revokes Browse users and groups for a service token.
func (f *Fake) SetBrowse(token string, browse bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ident(token).browse = browse
}

// ExpireToken makes a service token or a user's API token fail with 401
// from now on (RenewToken undoes it).
func (f *Fake) ExpireToken(token string) { f.setExpired(token, true) }

// RenewToken makes an expired token work again.
func (f *Fake) RenewToken(token string) { f.setExpired(token, false) }

func (f *Fake) setExpired(token string, expired bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if expired {
		f.expired[token] = true
	} else {
		delete(f.expired, token)
	}
}

// Set401 chooses the body of 401 answers.
func (f *Fake) Set401(fl Flavour401) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flavour = fl
}

// ---- knobs ----

// SetUserPageCap clamps users/search pages to n (default 1000).
func (f *Fake) SetUserPageCap(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.userCap = n
}

// SetBeanPageCap clamps group/bulk and group/member pages to n (default 50).
func (f *Fake) SetBeanPageCap(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beanCap = n
}

// UserPageCap and BeanPageCap return the caps in force.
func (f *Fake) UserPageCap() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.userCap
}

// BeanPageCap returns the PageBean cap in force.
func (f *Fake) BeanPageCap() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.beanCap
}

// SetShortPages makes every page before the last one about half as long
// as the (clamped) page size: a server filtering records after paging.
func (f *Fake) SetShortPages(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shortPages = on
}

// SetOmitTotal drops total from PageBeans (JRACLOUD-90701).
func (f *Fake) SetOmitTotal(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.omitTotal = on
}

// SetOmitIsLast drops isLast from PageBeans.
func (f *Fake) SetOmitIsLast(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.omitIsLast = on
}

// SetDown makes every request fail with 503 without Retry-After (a site
// in an outage) until SetDown(false).
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// SetMaxConcurrent answers 429 (Retry-After 1) to requests beyond n in
// flight at once; 0 lifts the cap.
func (f *Fake) SetMaxConcurrent(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maxConcurrent = n
}

// Throttle answers the next k requests to ep (AnyEndpoint: to any) with
// 429. With retryAfter > 0 they carry Retry-After (whole seconds, rounded
// up) and X-RateLimit-Reset, and open a window: until it passes, a retry
// of the same request gets 429 with a longer Retry-After (and counts as an
// early retry), another request to the endpoint gets 429 with the time
// left. With retryAfter 0 they carry neither header.
func (f *Fake) Throttle(ep Endpoint, k int, retryAfter time.Duration) {
	f.addFault(ep, k, http.StatusTooManyRequests, retryAfter)
}

// Unavailable answers the next k requests to ep with 503, with Retry-After
// when retryAfter > 0 (and its window, as Throttle).
func (f *Fake) Unavailable(ep Endpoint, k int, retryAfter time.Duration) {
	f.addFault(ep, k, http.StatusServiceUnavailable, retryAfter)
}

// Conflict answers the next k users/search requests with 409 ("the request
// took longer than 10 seconds") when they ask for more than 100 users.
func (f *Fake) Conflict(k int) { f.addFault(UserList, k, http.StatusConflict, 0) }

func (f *Fake) addFault(ep Endpoint, k, status int, ra time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault{ep: ep, left: k, status: status, retryAfter: ra})
}

// ClearFaults drops every pending Throttle, Unavailable and Conflict and
// closes the Retry-After windows.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
	f.windows = map[string]window{}
	f.retries = map[string]time.Time{}
}

// OnRequest runs fn before the nth request to ep (AnyEndpoint: to any),
// counting from now, is answered. fn may call the fake's methods.
func (f *Fake) OnRequest(ep Endpoint, n int, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := &hook{ep: ep, fn: fn, anyCnt: ep == AnyEndpoint}
	if h.anyCnt {
		h.at = f.total + n
	} else {
		h.at = f.counts[ep] + n
	}
	f.hooks = append(f.hooks, h)
}

// DropGroupBefore deletes group id before the nth request to ep: a group
// deleted while a sync runs.
func (f *Fake) DropGroupBefore(ep Endpoint, n int, id string) {
	f.OnRequest(ep, n, func() { _ = f.DeleteGroup(id) })
}

// ---- counters ----

// Requests returns the number of requests to ep (AnyEndpoint: all).
func (f *Fake) Requests(ep Endpoint) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ep == AnyEndpoint {
		return f.total
	}
	return f.counts[ep]
}

// EarlyRetries counts retries made inside their Retry-After window.
func (f *Fake) EarlyRetries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.early
}

// InWindowRequests counts requests (not retries) that arrived inside
// another request's Retry-After window for the same credential and
// endpoint, and got 429 with the time left.
func (f *Fake) InWindowRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inWindow
}

// MaxInFlight is the most requests that were in flight at once.
func (f *Fake) MaxInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.max
}

// Log returns the requests so far (the last 100,000).
func (f *Fake) Log() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// ResetCounts zeroes the counters and the log (hooks keep their targets).
func (f *Fake) ResetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hooks {
		if h.anyCnt {
			h.at -= f.total
		} else {
			h.at -= f.counts[h.ep]
		}
	}
	f.counts = map[Endpoint]int{}
	f.total, f.early, f.inWindow, f.max = 0, 0, 0, 0
	f.log = nil
}
