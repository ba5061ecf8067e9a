package accessfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

var start = time.Date(2026, 5, 2, 9, 0, 30, 0, time.UTC)

type client struct {
	t   *testing.T
	s   *Server
	key string
}

func (c *client) do(method, path string, q url.Values, body any) (int, http.Header, map[string]any) {
	c.t.Helper()
	u := c.s.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func newFake(t *testing.T, d *Dataset) (*Server, *Clock, *client) {
	clk := NewClock(start)
	s := New(Options{Clock: clk, Data: d})
	t.Cleanup(s.Close)
	return s, clk, &client{t: t, s: s, key: s.APIKey}
}

func ids(page map[string]any, field string) []string {
	var out []string
	for _, d := range page["data"].([]any) {
		out = append(out, d.(map[string]any)[field].(string))
	}
	return out
}

func next(page map[string]any) string {
	n, _ := page["links"].(map[string]any)["next"].(string)
	return n
}

func errCode(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) != 1 {
		return ""
	}
	e := errs[0].(map[string]any)
	for _, k := range []string{"id", "status", "code", "title", "detail"} {
		if _, ok := e[k].(string); !ok {
			return "missing " + k
		}
	}
	return e["code"].(string)
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := Generate(42, 1000, 50), Generate(42, 1000, 50)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different data")
	}
	if len(a.Users) != 1000 || len(a.Groups) != 50 || len(a.Members[a.Groups[0].ID]) != 1000 {
		t.Fatalf("sizes: %d users, %d groups, everyone has %d", len(a.Users), len(a.Groups), len(a.Members[a.Groups[0].ID]))
	}
	if c := Generate(43, 1000, 50); reflect.DeepEqual(a.Users, c.Users) {
		t.Error("another seed gave the same users")
	}
	empty := 0
	for _, g := range a.Groups {
		if len(a.Members[g.ID]) == 0 {
			empty++
		}
	}
	if empty == 0 {
		t.Error("no empty group")
	}
}

func TestUserPagingAndCursors(t *testing.T) {
	s, _, c := newFake(t, Generate(1, 250, 10))
	base := "/admin/v2/orgs/" + s.OrgID + "/directories/-"
	var all []string
	code, _, page := c.do("GET", base+"/users", url.Values{"limit": {"1000"}}, nil)
	if code != 200 || len(page["data"].([]any)) != MaxLimit {
		t.Fatalf("limit 1000: %d, %d items (want clamped to %d)", code, len(page["data"].([]any)), MaxLimit)
	}
	all = append(all, ids(page, "accountId")...)
	for n := next(page); n != ""; n = next(page) {
		// Other parameters are ignored with a cursor.
		code, _, page = c.do("GET", base+"/users", url.Values{"cursor": {n}, "limit": {"3"}, "groupIds": {"nope"}}, nil)
		if code != 200 {
			t.Fatalf("follow-up: %d %v", code, page)
		}
		all = append(all, ids(page, "accountId")...)
	}
	if len(all) != 250 {
		t.Fatalf("%d users listed", len(all))
	}
	// Default limits: 20 (GET), 50 (POST search).
	_, _, page = c.do("GET", base+"/users", nil, nil)
	if n := len(page["data"].([]any)); n != DefaultUsersLimit {
		t.Errorf("GET default page %d", n)
	}
	_, _, page = c.do("POST", base+"/users/search", nil, map[string]any{"expand": []string{"groups"}})
	if n := len(page["data"].([]any)); n != DefaultSearchLimit {
		t.Errorf("search default page %d", n)
	}
	if g := page["data"].([]any)[0].(map[string]any)["groups"]; g == nil {
		t.Error("expand=groups gave no groups")
	}
	// A garbage or expired cursor: 400 ADMIN-400-1.
	code, _, body := c.do("GET", base+"/users", url.Values{"cursor": {"garbage"}}, nil)
	if code != 400 || errCode(body) != "ADMIN-400-1" {
		t.Errorf("garbage cursor: %d %v", code, body)
	}
	tok := next(page)
	s.ExpireCursors()
	code, _, body = c.do("POST", base+"/users/search", nil, map[string]any{"cursor": tok})
	if code != 400 || errCode(body) != "ADMIN-400-1" {
		t.Errorf("expired cursor: %d %v", code, body)
	}
	// groupIds filter; unknown group 404; too many IDs 400.
	var g Group
	for _, x := range s.Groups() {
		if n := len(s.Members(x.ID)); n > 0 && n < MaxLimit {
			g = x
			break
		}
	}
	code, _, page = c.do("GET", base+"/users", url.Values{"groupIds": {g.ID}, "limit": {"100"}}, nil)
	if got := ids(page, "accountId"); code != 200 || strings.Join(got, ",") != strings.Join(s.Members(g.ID), ",") {
		t.Errorf("groupIds filter: %d %d users, want %d", code, len(got), len(s.Members(g.ID)))
	}
	code, _, body = c.do("GET", base+"/users", url.Values{"groupIds": {"no-such-group"}}, nil)
	if code != 404 || errCode(body) != "ADMIN-404-10" {
		t.Errorf("unknown group: %d %v", code, body)
	}
	var many []string
	for i := 0; i < 11; i++ {
		many = append(many, fmt.Sprint(i))
	}
	code, _, _ = c.do("POST", base+"/users/search", nil, map[string]any{"accountIds": many})
	if code != 400 {
		t.Errorf("11 accountIds: %d", code)
	}
}

func TestAuthErrors(t *testing.T) {
	s, clk, c := newFake(t, Small())
	path := "/admin/v2/orgs/" + s.OrgID + "/directories"
	bad := &client{t: t, s: s, key: "wrong"}
	code, _, body := bad.do("GET", path, nil, nil)
	if code != 401 || errCode(body) != "ADMIN-401-1" {
		t.Errorf("wrong key: %d %v", code, body)
	}
	s.SetKeyExpiry(start.Add(time.Hour))
	if code, _, _ := c.do("GET", path, nil, nil); code != 200 {
		t.Errorf("before expiry: %d", code)
	}
	clk.Advance(time.Hour)
	if code, _, _ := c.do("GET", path, nil, nil); code != 401 {
		t.Errorf("after expiry: %d", code)
	}
	s.SetKeyExpiry(time.Time{})
	s.Forbid(EndpointDirectories, true)
	if code, _, body := c.do("GET", path, nil, nil); code != 403 || errCode(body) != "ADMIN-403-3" {
		t.Errorf("forbidden: %d %v", code, body)
	}
	if code, _, body := c.do("GET", "/admin/v2/orgs/other/directories/-/users", nil, nil); code != 404 || errCode(body) != "ADMIN-404-2" {
		t.Errorf("other org: %d %v", code, body)
	}
}

func TestRateLimits(t *testing.T) {
	s, clk, c := newFake(t, Small())
	ev := "/admin/v1/orgs/" + s.OrgID + "/events-stream"
	for i := 0; i < DefaultEventsPerMin; i++ {
		if code, _, _ := c.do("GET", ev, nil, nil); code != 200 {
			t.Fatalf("request %d: %d", i+1, code)
		}
	}
	code, h, body := c.do("GET", ev, nil, nil)
	if code != 429 || errCode(body) != "ADMIN-429-1" || h.Get("X-RateLimit-Reset") != "2026-05-02T09:01Z" || h.Get("Retry-After") != "" {
		t.Fatalf("11th request in a minute: %d %v %v", code, h, body)
	}
	// Early: counted and punished.
	clk.Advance(10 * time.Second)
	code, h, _ = c.do("GET", ev, nil, nil)
	if code != 429 || h.Get("X-RateLimit-Reset") != "2026-05-02T09:02Z" || s.Stats().EarlyRetries != 1 {
		t.Fatalf("early retry: %d %v %d", code, h, s.Stats().EarlyRetries)
	}
	clk.Advance(time.Minute + 20*time.Second) // 09:02:00
	if code, _, _ := c.do("GET", ev, nil, nil); code != 200 {
		t.Fatalf("after the reset: %d", code)
	}
	// Knobs: Retry-After only; 503.
	s.Throttle(1, 7*time.Second)
	code, h, _ = c.do("GET", "/admin/v2/orgs/"+s.OrgID+"/directories", nil, nil)
	if code != 429 || h.Get("Retry-After") != "7" || h.Get("X-RateLimit-Reset") != "" {
		t.Errorf("Retry-After mode: %d %v", code, h)
	}
	s.Unavailable(1, 3*time.Second)
	clk.Advance(7 * time.Second)
	code, h, _ = c.do("GET", "/admin/v2/orgs/"+s.OrgID+"/directories", nil, nil)
	if code != 503 || h.Get("Retry-After") != "3" {
		t.Errorf("503: %d %v", code, h)
	}
}

func TestEventsStream(t *testing.T) {
	s, clk, c := newFake(t, Small())
	ev := "/admin/v1/orgs/" + s.OrgID + "/events-stream"
	alice, _ := s.UserByNickname("alice")
	ops, _ := s.GroupByName("ops")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.AddMember(ops.ID, alice.AccountID))
	clk.Advance(time.Second)
	must(s.UpdateUser(alice.AccountID, func(u *User) { u.Email = "a@x" }))
	_, _, page := c.do("GET", ev, url.Values{"limit": {"1"}}, nil)
	evs := page["data"].([]any)
	attrs := evs[0].(map[string]any)["attributes"].(map[string]any)
	if len(evs) != 1 || attrs["action"] != ActionUserAddedToGroup || len(attrs["context"].([]any)) != 2 {
		t.Fatalf("first page: %v", page)
	}
	tok := page["meta"].(map[string]any)["next"].(string)
	linkNext, _ := url.Parse(page["links"].(map[string]any)["next"].(string))
	if linkNext.Query().Get("cursor") != tok || linkNext.Query().Get("limit") != "" {
		t.Errorf("links.next %s should carry the cursor only", linkNext)
	}
	_, _, page = c.do("GET", ev, url.Values{"cursor": {tok}}, nil)
	if n := len(page["data"].([]any)); n != 1 {
		t.Fatalf("second page: %d events", n)
	}
	tok = page["meta"].(map[string]any)["next"].(string)
	// After the last page: empty, but the cursor keeps working.
	_, _, page = c.do("GET", ev, url.Values{"cursor": {tok}}, nil)
	if n := len(page["data"].([]any)); n != 0 {
		t.Fatalf("past the end: %d events", n)
	}
	tok = page["meta"].(map[string]any)["next"].(string)
	must(s.RemoveUser(alice.AccountID))
	_, _, page = c.do("GET", ev, url.Values{"cursor": {tok}}, nil)
	if evs := page["data"].([]any); len(evs) != 1 || evs[0].(map[string]any)["attributes"].(map[string]any)["action"] != ActionUserRemoved {
		t.Fatalf("new event not picked up: %v", page)
	}
	// from (epoch ms, against processedAt) skips the first event.
	from := start.Add(time.Second).UnixMilli()
	_, _, page = c.do("GET", ev, url.Values{"from": {fmt.Sprint(from)}}, nil)
	if n := len(page["data"].([]any)); n != 2 {
		t.Errorf("from: %d events, want 2", n)
	}
	// desc order.
	_, _, page = c.do("GET", ev, url.Values{"sortOrder": {"desc"}, "limit": {"1"}}, nil)
	if a := page["data"].([]any)[0].(map[string]any)["attributes"].(map[string]any)["action"]; a != ActionUserRemoved {
		t.Errorf("desc: first is %v", a)
	}
}

func TestMutationsAreConsistent(t *testing.T) {
	s, _, c := newFake(t, Small())
	base := "/admin/v2/orgs/" + s.OrgID + "/directories/-"
	bob, _ := s.UserByNickname("bob")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.RemoveUser(bob.AccountID))
	ops, _ := s.GroupByName("ops")
	if m := s.Members(ops.ID); len(m) != 1 {
		t.Errorf("ops after bob left: %v", m)
	}
	must(s.DeleteGroup(ops.ID))
	carol, _ := s.UserByNickname("carol")
	_, _, page := c.do("POST", base+"/users/search", nil, map[string]any{"accountIds": []string{carol.AccountID}, "expand": []string{"groups"}})
	if g := page["data"].([]any)[0].(map[string]any)["groups"].([]any); len(g) != 0 {
		t.Errorf("carol's groups after ops was deleted: %v", g)
	}
	if code, _, body := c.do("GET", base+"/groups/"+ops.ID, nil, nil); code != 404 || errCode(body) != "ADMIN-404-10" {
		t.Errorf("deleted group: %d %v", code, body)
	}
	var actions []string
	for _, e := range s.Events() {
		actions = append(actions, e.Action)
	}
	if strings.Join(actions, " ") != "user_removed group_deleted" {
		t.Errorf("events: %v", actions)
	}
}
