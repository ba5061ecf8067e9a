package jirafake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// answer is a response decided under the lock and written after it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (f *Fake) serveHTTP(w http.ResponseWriter, r *http.Request) {
	prefix, path := "", r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/ex/jira/"); ok {
		id, tail, _ := strings.Cut(rest, "/")
		if id != f.opts.CloudID {
			f.write(w, r, Other, "", errorCollection(http.StatusNotFound, "Site not found."), false)
			return
		}
		prefix, path = "/ex/jira/"+id, "/"+tail
	}
	ep, rest := route(path)
	email, token, hasAuth := r.BasicAuth()

	f.mu.Lock()
	f.total++
	f.counts[ep]++
	f.inflight++
	f.max = max(f.max, f.inflight)
	var due []func()
	for _, h := range f.hooks {
		n := f.counts[h.ep]
		if h.anyCnt {
			n = f.total
		}
		if !h.fired && n >= h.at {
			h.fired = true
			due = append(due, h.fn)
		}
	}
	f.hooks = slices.DeleteFunc(f.hooks, func(h *hook) bool { return h.fired })
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	for _, fn := range due {
		fn()
	}

	f.mu.Lock()
	base := "http://" + r.Host + prefix
	a, early := f.decide(r, ep, rest, base, email, token, hasAuth)
	if f.burstRate > 0 && a.status == http.StatusOK {
		a = f.burstHeaders(a, burstKey(token, ep, r), f.clock.Now())
	}
	f.mu.Unlock()
	f.write(w, r, ep, email, a, early)
}

func (f *Fake) write(w http.ResponseWriter, r *http.Request, ep Endpoint, email string, a answer, early bool) {
	for k, vs := range a.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.log) >= 100000 {
		f.log = f.log[1:]
	}
	f.log = append(f.log, Request{At: f.clock.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Endpoint: ep, Email: email, Status: a.status, Early: early})
}

// route maps a path to its endpoint and the API-relative rest.
func route(path string) (Endpoint, string) {
	for _, v := range []string{"/rest/api/3/", "/rest/api/2/"} {
		if rest, ok := strings.CutPrefix(path, v); ok {
			switch rest {
			case "myself":
				return Myself, rest
			case "users/search", "users":
				return UserList, rest
			case "group/bulk":
				return GroupBulk, rest
			case "group/member":
				return GroupMember, rest
			}
		}
	}
	return Other, path
}

// decide answers one request; f.mu is held.
func (f *Fake) decide(r *http.Request, ep Endpoint, rest, base, email, token string, hasAuth bool) (answer, bool) {
	now := f.clock.Now()
	if r.Method != http.MethodGet {
		return errorCollection(http.StatusMethodNotAllowed, "Method not allowed."), false
	}
	if f.down {
		return answer{status: http.StatusServiceUnavailable, header: http.Header{"Content-Type": {"text/html"}},
			body: []byte("<html><body><h1>Service Unavailable</h1><p>Your Atlassian Cloud site is currently unavailable.</p></body></html>")}, false
	}
	if f.maxConcurrent > 0 && f.inflight > f.maxConcurrent {
		return f.throttled(now, ep, token, r, http.StatusTooManyRequests, time.Second), false
	}
	// A Retry-After window still open.
	wkey := token + "|" + string(ep)
	rkey := token + "|" + r.Method + "|" + r.URL.String()
	if win, ok := f.windows[wkey]; ok {
		if now.Before(win.until) {
			left := win.until.Sub(now)
			if until, ok := f.retries[rkey]; ok && now.Before(until) {
				// Reissued before the period expired: the same or a longer
				// Retry-After (cloud-apis.md §2.8).
				f.early++
				return f.throttled(now, ep, token, r, http.StatusTooManyRequests, left+win.base), true
			}
			f.inWindow++
			return f.throttled(now, ep, token, r, http.StatusTooManyRequests, left), false
		}
		delete(f.windows, wkey)
	}
	if f.burstRate > 0 && !f.takeBurst(burstKey(token, ep, r), now) {
		return f.throttled(now, ep, token, r, http.StatusTooManyRequests, time.Second), false
	}
	for _, ft := range f.faults {
		if ft.left <= 0 || (ft.ep != AnyEndpoint && ft.ep != ep) {
			continue
		}
		if ft.status == http.StatusConflict {
			if n, _ := strconv.Atoi(r.URL.Query().Get("maxResults")); n <= 100 {
				continue
			}
		}
		ft.left--
		switch ft.status {
		case http.StatusConflict:
			return errorCollection(http.StatusConflict, "Request timed out. Try a smaller maxResults."), false
		default:
			return f.throttled(now, ep, token, r, ft.status, ft.retryAfter), false
		}
	}
	f.faults = slices.DeleteFunc(f.faults, func(ft *fault) bool { return ft.left <= 0 })
	if ep == Other {
		return errorCollection(http.StatusNotFound, "No route for "+rest), false
	}

	// Authentication.
	var id *identity
	if hasAuth {
		id = f.authenticate(email, token)
		if id == nil {
			return f.unauthorized(), false
		}
	} else if ep == Myself {
		return f.unauthorized(), false
	}
	q := r.URL.Query()
	switch ep {
	case Myself:
		u := f.byID[id.accountID]
		if u == nil || u.Inactive {
			return f.unauthorized(), false
		}
		v := f.userJSON(base, u)
		v.EmailAddress = u.Email // an account sees its own address
		return jsonAnswer(v), false
	case UserList:
		if id == nil || !id.browse {
			return errorCollection(http.StatusForbidden, "Browse users and groups permission is required to view users."), false
		}
		return f.userList(base, q), false
	case GroupBulk:
		if id == nil || !id.browse {
			return errorCollection(http.StatusForbidden, "Browse users and groups permission is required to view groups."), false
		}
		return f.groupBulk(base, rest, q), false
	case GroupMember:
		return f.groupMember(base, rest, q, id), false
	}
	return errorCollection(http.StatusNotFound, "Not found."), false
}

func (f *Fake) authenticate(email, token string) *identity {
	if f.expired[token] {
		return nil
	}
	if id := f.idents[token]; id != nil {
		if strings.EqualFold(id.email, email) {
			return id
		}
		return nil
	}
	if acc, ok := f.userTokens[token]; ok {
		if u := f.byID[acc]; u != nil && strings.EqualFold(u.Email, email) {
			return &identity{email: u.Email, accountID: acc, browse: true}
		}
	}
	return nil
}

// throttled is a 429 or 503 answer; with ra > 0 it carries Retry-After
// and opens a window for the endpoint and the request.
func (f *Fake) throttled(now time.Time, ep Endpoint, token string, r *http.Request, status int, ra time.Duration) answer {
	h := http.Header{"Content-Type": {"application/json"}}
	if status == http.StatusTooManyRequests {
		h.Set("X-RateLimit-Limit", "100")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("RateLimit-Reason", "jira-burst-based")
	}
	if ra > 0 {
		secs := int(math.Ceil(ra.Seconds()))
		h.Set("Retry-After", strconv.Itoa(secs))
		until := now.Add(time.Duration(secs) * time.Second)
		// Minute precision, as Atlassian sends it; Retry-After rules.
		h.Set("X-RateLimit-Reset", until.UTC().Add(59*time.Second).Truncate(time.Minute).Format("2006-01-02T15:04Z"))
		wkey := token + "|" + string(ep)
		base := f.windows[wkey].base
		if base == 0 {
			base = time.Duration(secs) * time.Second
		}
		f.windows[wkey] = window{until: until, base: base}
		f.retries[token+"|"+r.Method+"|"+r.URL.String()] = until
	}
	msg := "Rate limit exceeded."
	if status == http.StatusServiceUnavailable {
		msg = "Service temporarily unavailable."
	}
	a := errorCollection(status, msg)
	a.header = h
	return a
}

func (f *Fake) unauthorized() answer {
	switch f.flavour {
	case JSON401:
		return answer{status: 401, header: http.Header{"Content-Type": {"application/json"}},
			body: []byte(`{"message":"Client must be authenticated to access this resource.","status-code":401}`)}
	case XML401:
		return answer{status: 401, header: http.Header{"Content-Type": {"application/xml"}},
			body: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><status><status-code>401</status-code><message>Client must be authenticated to access this resource.</message></status>`)}
	case HTML401:
		return answer{status: 401, header: http.Header{"Content-Type": {"text/html;charset=UTF-8"}},
			body: []byte(`<!DOCTYPE html><html><head><title>Unauthorized (401)</title></head><body><h1>Unauthorized (401)</h1><p>Encountered a "401 - Unauthorized" error while loading this page.</p></body></html>`)}
	default:
		return answer{status: 401, header: http.Header{"Content-Type": {"text/plain;charset=UTF-8"}},
			body: []byte("Basic authentication with passwords is deprecated. For more information, see: https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/")}
	}
}

func errorCollection(status int, msgs ...string) answer {
	b, _ := json.Marshal(struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}{msgs, map[string]string{}})
	return answer{status: status, header: http.Header{"Content-Type": {"application/json;charset=UTF-8"}}, body: b}
}

func jsonAnswer(v any) answer {
	b, err := json.Marshal(v)
	if err != nil {
		return errorCollection(http.StatusInternalServerError, err.Error())
	}
	return answer{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json;charset=UTF-8"},
		"X-Ratelimit-Limit": {"100"}, "X-Ratelimit-Remaining": {"99"}}, body: b}
}

// userJSON is the User schema (and, with key and name, UserDetails).
type userJSON struct {
	Self         string            `json:"self"`
	AccountID    string            `json:"accountId"`
	AccountType  string            `json:"accountType"`
	EmailAddress string            `json:"emailAddress,omitempty"`
	AvatarURLs   map[string]string `json:"avatarUrls"`
	DisplayName  string            `json:"displayName"`
	Active       bool              `json:"active"`
	TimeZone     string            `json:"timeZone,omitempty"`
	Locale       string            `json:"locale,omitempty"`
	Key          *string           `json:"key,omitempty"`
	Name         *string           `json:"name,omitempty"`
}

func (f *Fake) userJSON(base string, u *User) userJSON {
	v := userJSON{
		Self:        base + "/rest/api/3/user?accountId=" + url.QueryEscape(u.AccountID),
		AccountID:   u.AccountID,
		AccountType: u.AccountType,
		AvatarURLs:  map[string]string{"48x48": "https://avatar.example/" + url.PathEscape(u.AccountID) + "/48.png"},
		DisplayName: u.DisplayName,
		Active:      !u.Inactive,
		TimeZone:    u.TimeZone,
		Locale:      u.Locale,
	}
	if !u.EmailHidden {
		v.EmailAddress = u.Email
	}
	return v
}

// intParam reads an integer query parameter.
func intParam(q url.Values, name string, def int) (int, bool) {
	s := q.Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// page cuts [startAt, startAt+size) out of n items, shortened when
// short pages are on and the page is not the last.
func (f *Fake) page(n, startAt, size int) (from, to int) {
	if startAt >= n || size <= 0 {
		return n, n
	}
	to = min(startAt+size, n)
	if f.shortPages && to < n && to-startAt > 1 {
		to = startAt + (to-startAt+1)/2
	}
	return startAt, to
}

func (f *Fake) userList(base string, q url.Values) answer {
	startAt, ok1 := intParam(q, "startAt", 0)
	maxResults, ok2 := intParam(q, "maxResults", DefaultPageSize)
	if !ok1 || !ok2 {
		return errorCollection(http.StatusBadRequest, "startAt and maxResults must be non-negative integers.")
	}
	from, to := f.page(len(f.users), startAt, min(maxResults, f.userCap))
	out := make([]userJSON, 0, to-from)
	for _, u := range f.users[from:to] {
		out = append(out, f.userJSON(base, u))
	}
	return jsonAnswer(out)
}

// pageBean is PageBeanGroupDetails / PageBeanUserDetails.
type pageBean struct {
	Self       string `json:"self"`
	NextPage   string `json:"nextPage,omitempty"`
	MaxResults int    `json:"maxResults"`
	StartAt    int    `json:"startAt"`
	Total      *int   `json:"total,omitempty"`
	IsLast     *bool  `json:"isLast,omitempty"`
	Values     any    `json:"values"`
}

func (f *Fake) bean(base, rest string, q url.Values, startAt, size, n int, values func(from, to int) any) answer {
	from, to := f.page(n, startAt, size)
	last := to >= n
	self := base + "/rest/api/3/" + rest + "?" + q.Encode()
	b := pageBean{Self: self, MaxResults: size, StartAt: startAt, Values: values(from, to)}
	if !last {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("startAt", strconv.Itoa(to))
		nq.Set("maxResults", strconv.Itoa(size))
		b.NextPage = base + "/rest/api/3/" + rest + "?" + nq.Encode()
	}
	if !f.omitTotal {
		b.Total = &n
	}
	if !f.omitIsLast {
		b.IsLast = &last
	}
	return jsonAnswer(b)
}

func (f *Fake) groupBulk(base, rest string, q url.Values) answer {
	startAt, ok1 := intParam(q, "startAt", 0)
	maxResults, ok2 := intParam(q, "maxResults", DefaultPageSize)
	if !ok1 || !ok2 {
		return errorCollection(http.StatusBadRequest, "startAt and maxResults must be non-negative integers.")
	}
	gs := f.sortedGroups()
	if ids, names := q["groupId"], q["groupName"]; len(ids)+len(names) > 0 {
		gs = slices.DeleteFunc(gs, func(g *Group) bool {
			return !slices.Contains(ids, g.ID) && !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, g.Name) })
		})
	}
	type groupDetails struct {
		GroupID string `json:"groupId"`
		Name    string `json:"name"`
	}
	return f.bean(base, rest, q, startAt, min(maxResults, f.beanCap), len(gs), func(from, to int) any {
		out := make([]groupDetails, 0, to-from)
		for _, g := range gs[from:to] {
			out = append(out, groupDetails{g.ID, g.Name})
		}
		return out
	})
}

func (f *Fake) groupMember(base, rest string, q url.Values, id *identity) answer {
	gid, gname := q.Get("groupId"), q.Get("groupname")
	if (gid == "") == (gname == "") {
		return errorCollection(http.StatusBadRequest, "Either groupId or groupname must be given, not both.")
	}
	startAt, ok1 := intParam(q, "startAt", 0)
	maxResults, ok2 := intParam(q, "maxResults", DefaultPageSize)
	if !ok1 || !ok2 {
		return errorCollection(http.StatusBadRequest, "startAt and maxResults must be non-negative integers.")
	}
	if id == nil || !id.admin {
		return errorCollection(http.StatusForbidden, "You need the Administer Jira global permission to view group members.")
	}
	var g *Group
	if gid != "" {
		g = f.groups[gid]
	} else {
		for _, c := range f.groups {
			if strings.EqualFold(c.Name, gname) {
				g = c
			}
		}
	}
	if g == nil {
		if gid != "" {
			return errorCollection(http.StatusNotFound, fmt.Sprintf("Group with groupId '%s' doesn't exist.", gid))
		}
		return errorCollection(http.StatusNotFound, fmt.Sprintf("Group with name '%s' doesn't exist.", gname))
	}
	inactive := strings.EqualFold(q.Get("includeInactiveUsers"), "true")
	ms := f.memberOrder(g)
	if !inactive {
		ms = slices.DeleteFunc(slices.Clone(ms), func(u *User) bool { return u.Inactive })
	}
	empty := ""
	return f.bean(base, rest, q, startAt, min(maxResults, f.beanCap), len(ms), func(from, to int) any {
		out := make([]userJSON, 0, to-from)
		for _, u := range ms[from:to] {
			v := f.userJSON(base, u)
			v.Key, v.Name = &empty, &empty
			out = append(out, v)
		}
		return out
	})
}
