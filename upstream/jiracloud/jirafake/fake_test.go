package jirafake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type client struct {
	t           *testing.T
	f           *Fake
	email, tok  string
	noAuth      bool
	lastHeaders http.Header
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.f.URL()+path, nil)
	if !c.noAuth {
		req.SetBasicAuth(c.email, c.tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.lastHeaders = resp.Header
	return resp.StatusCode, string(b)
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

type bean struct {
	Self       string            `json:"self"`
	NextPage   string            `json:"nextPage"`
	MaxResults int               `json:"maxResults"`
	StartAt    int               `json:"startAt"`
	Total      *int              `json:"total"`
	IsLast     *bool             `json:"isLast"`
	Values     []json.RawMessage `json:"values"`
}

func TestUsersSearch(t *testing.T) {
	f := Start(t, Generate(1, 120, 3), Options{})
	c := &client{t: t, f: f, email: f.ServiceEmail(), tok: f.ServiceToken()}
	code, body := c.get("/rest/api/3/users/search")
	users := decode[[]map[string]any](t, body)
	if code != 200 || len(users) != DefaultPageSize || !strings.HasPrefix(body, "[") {
		t.Fatalf("%d %d", code, len(users))
	}
	f.SetUserPageCap(30)
	_, body = c.get("/rest/api/2/users?startAt=100&maxResults=1000")
	if users := decode[[]map[string]any](t, body); len(users) != 21 { // 121 accounts with the service one
		t.Errorf("last page %d", len(users))
	}
	_, body = c.get("/rest/api/3/users/search?startAt=30&maxResults=50")
	if users := decode[[]map[string]any](t, body); len(users) != 30 {
		t.Errorf("clamped page %d", len(users))
	}
	if _, body = c.get("/rest/api/3/users/search?startAt=121"); body != "[]" {
		t.Errorf("past the end: %s", body)
	}
	kinds := map[string]int{}
	for _, u := range f.Users() {
		kinds[u.AccountType]++
		if u.Inactive {
			kinds["inactive"]++
		}
		if u.EmailHidden {
			kinds["hidden"]++
		}
	}
	if kinds[TypeApp] == 0 || kinds[TypeCustomer] == 0 || kinds["inactive"] == 0 || kinds["hidden"] == 0 {
		t.Errorf("dataset lacks special accounts: %v", kinds)
	}
	f.SetShortPages(true)
	_, body = c.get("/rest/api/3/users/search?startAt=0&maxResults=30")
	if users := decode[[]map[string]any](t, body); len(users) != 15 {
		t.Errorf("short page %d", len(users))
	}
	if code, _ := c.get("/rest/api/3/users/search?startAt=-1"); code != 400 {
		t.Errorf("negative startAt: %d", code)
	}
	f.SetBrowse(f.ServiceToken(), false)
	if code, body := c.get("/rest/api/3/users/search"); code != 403 || !strings.Contains(body, `"errorMessages"`) {
		t.Errorf("no browse: %d %s", code, body)
	}
}

func TestHiddenEmail(t *testing.T) {
	f := Start(t, Dataset{Users: []User{{AccountID: "a", Email: "a@x.example", EmailHidden: true, DisplayName: "A", APIToken: "ta"}}}, Options{})
	c := &client{t: t, f: f, email: f.ServiceEmail(), tok: f.ServiceToken()}
	_, body := c.get("/rest/api/3/users/search?startAt=1")
	if strings.Contains(body, "emailAddress") {
		t.Errorf("hidden address listed: %s", body)
	}
	me := &client{t: t, f: f, email: "a@x.example", tok: "ta"}
	if _, body := me.get("/rest/api/3/myself"); !strings.Contains(body, `"emailAddress":"a@x.example"`) {
		t.Errorf("own address hidden from oneself: %s", body)
	}
}

func TestGroupBulkAndMembers(t *testing.T) {
	f := Start(t, Generate(2, 200, 120), Options{})
	c := &client{t: t, f: f, email: f.ServiceEmail(), tok: f.ServiceToken()}
	_, body := c.get("/rest/api/3/group/bulk?maxResults=500")
	b := decode[bean](t, body)
	if b.MaxResults != 50 || len(b.Values) != 50 || *b.Total != 120 || *b.IsLast || b.NextPage == "" || b.Self == "" {
		t.Errorf("first page %+v", b)
	}
	_, body = c.get("/rest/api/3/group/bulk?startAt=100")
	if b := decode[bean](t, body); len(b.Values) != 20 || !*b.IsLast || b.NextPage != "" {
		t.Errorf("last page %+v", b)
	}
	f.SetOmitTotal(true)
	_, body = c.get("/rest/api/3/group/bulk")
	if strings.Contains(body, `"total"`) || !strings.Contains(body, `"isLast":false`) {
		t.Errorf("total not omitted: %.200s", body)
	}

	g, _ := f.GroupByName("jira-software-users")
	_, body = c.get("/rest/api/3/group/member?groupId=" + g.ID + "&includeInactiveUsers=true&maxResults=1000")
	b = decode[bean](t, body)
	if b.MaxResults != 50 || len(b.Values) != min(50, len(g.Members)) {
		t.Errorf("members page %+v", b)
	}
	var m map[string]any
	_ = json.Unmarshal(b.Values[0], &m)
	if m["key"] != "" || m["name"] != "" || m["accountId"] == "" {
		t.Errorf("UserDetails %v", m)
	}
	// Inactive members only with includeInactiveUsers=true.
	var inactive string
	for _, u := range f.Users() {
		if u.Inactive && u.AccountType == TypeAtlassian {
			inactive = u.AccountID
			break
		}
	}
	_ = f.SetMembers(g.ID, inactive)
	if _, body := c.get("/rest/api/3/group/member?groupId=" + g.ID); strings.Contains(body, inactive) {
		t.Error("inactive member listed without includeInactiveUsers")
	}
	if _, body := c.get("/rest/api/3/group/member?groupname=JIRA-software-users&includeInactiveUsers=TRUE"); !strings.Contains(body, inactive) {
		t.Error("inactive member not listed")
	}
	for path, want := range map[string]int{
		"/rest/api/3/group/member":                                  400,
		"/rest/api/3/group/member?groupId=" + g.ID + "&groupname=x": 400,
		"/rest/api/3/group/member?groupId=nope":                     404,
		"/rest/api/3/nothing":                                       404,
	} {
		if code, _ := c.get(path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
	f.SetAdmin(f.ServiceToken(), false)
	if code, body := c.get("/rest/api/3/group/member?groupId=" + g.ID); code != 403 || !strings.Contains(body, "Administer Jira") {
		t.Errorf("non-admin: %d %s", code, body)
	}
	if f.Requests(GroupMember) != 7 || f.Requests(GroupBulk) != 3 || f.Requests(AnyEndpoint) != 11 {
		t.Errorf("counts %d %d %d", f.Requests(GroupMember), f.Requests(GroupBulk), f.Requests(AnyEndpoint))
	}
}

func TestAuth(t *testing.T) {
	f := Start(t, Dataset{Users: []User{{AccountID: "ann", Email: "ann@x.example", DisplayName: "Ann", APIToken: "ann-tok"}}}, Options{})
	for _, tc := range []struct {
		name, email, tok string
		noAuth           bool
		want             int
	}{
		{"service", f.ServiceEmail(), f.ServiceToken(), false, 200},
		{"user", "ANN@x.example", "ann-tok", false, 200},
		{"wrong token", "ann@x.example", "nope", false, 401},
		{"token of another address", f.ServiceEmail(), "ann-tok", false, 401},
		{"anonymous", "", "", true, 401},
	} {
		c := &client{t: t, f: f, email: tc.email, tok: tc.tok, noAuth: tc.noAuth}
		if code, _ := c.get("/rest/api/3/myself"); code != tc.want {
			t.Errorf("%s: %d", tc.name, code)
		}
	}
	c := &client{t: t, f: f, email: "ann@x.example", tok: "ann-tok"}
	if _, body := c.get("/rest/api/3/myself"); decode[map[string]any](t, body)["accountId"] != "ann" {
		t.Errorf("myself %s", body)
	}
	f.ExpireToken("ann-tok")
	for fl, want := range map[Flavour401]string{Text401: "Basic authentication", JSON401: `"status-code":401`,
		XML401: "<status-code>401</status-code>", HTML401: "Unauthorized (401)"} {
		f.Set401(fl)
		if code, body := c.get("/rest/api/3/myself"); code != 401 || !strings.Contains(body, want) {
			t.Errorf("flavour %d: %d %s", fl, code, body)
		}
	}
	f.RenewToken("ann-tok")
	if code, _ := c.get("/rest/api/3/myself"); code != 200 {
		t.Errorf("renewed: %d", code)
	}
	_ = f.UpdateUser("ann", func(u *User) { u.Inactive = true })
	if code, _ := c.get("/rest/api/3/myself"); code != 401 {
		t.Errorf("inactive: %d", code)
	}
}

func TestThrottleAndEarlyRetry(t *testing.T) {
	clk := NewManualClock(time.Time{})
	f := Start(t, Dataset{}, Options{Clock: clk})
	c := &client{t: t, f: f, email: f.ServiceEmail(), tok: f.ServiceToken()}
	f.Throttle(UserList, 1, 2*time.Second)
	code, _ := c.get("/rest/api/3/users/search")
	if code != 429 || c.lastHeaders.Get("Retry-After") != "2" || c.lastHeaders.Get("X-RateLimit-Reset") == "" ||
		c.lastHeaders.Get("RateLimit-Reason") != "jira-burst-based" {
		t.Fatalf("%d %v", code, c.lastHeaders)
	}
	// Too early: punished with a longer wait.
	clk.Advance(time.Second)
	code, _ = c.get("/rest/api/3/users/search")
	if code != 429 || c.lastHeaders.Get("Retry-After") != "3" || f.EarlyRetries() != 1 {
		t.Fatalf("early retry: %d %v %d", code, c.lastHeaders.Get("Retry-After"), f.EarlyRetries())
	}
	// Another request to the endpoint inside the window waits what is left.
	code, _ = c.get("/rest/api/3/users/search?startAt=5")
	if code != 429 || c.lastHeaders.Get("Retry-After") != "3" || f.EarlyRetries() != 1 {
		t.Fatalf("in window: %d %v", code, c.lastHeaders.Get("Retry-After"))
	}
	// Other endpoints are not throttled.
	if code, _ := c.get("/rest/api/3/group/bulk"); code != 200 {
		t.Errorf("group/bulk %d", code)
	}
	clk.Advance(3 * time.Second)
	if code, _ := c.get("/rest/api/3/users/search"); code != 200 {
		t.Errorf("after the window: %d", code)
	}
	f.Throttle(AnyEndpoint, 1, 0)
	if code, _ := c.get("/rest/api/3/myself"); code != 429 || c.lastHeaders.Get("Retry-After") != "" || c.lastHeaders.Get("X-RateLimit-Reset") != "" {
		t.Errorf("without Retry-After: %d %v", code, c.lastHeaders)
	}
	f.Unavailable(Myself, 1, time.Second)
	if code, _ := c.get("/rest/api/3/myself"); code != 503 || c.lastHeaders.Get("Retry-After") != "1" {
		t.Errorf("503: %d %v", code, c.lastHeaders)
	}
	f.SetDown(true)
	if code, _ := c.get("/rest/api/3/group/bulk"); code != 503 {
		t.Errorf("down: %d", code)
	}
}

func TestScopedRoutesAndHooks(t *testing.T) {
	f := Start(t, Dataset{Groups: []Group{{ID: "g1", Name: "one"}, {ID: "g2", Name: "two"}}}, Options{})
	req, _ := http.NewRequest(http.MethodGet, f.ScopedURL()+"/rest/api/3/group/bulk", nil)
	req.SetBasicAuth(f.ServiceEmail(), f.ServiceToken())
	f.DropGroupBefore(GroupBulk, 1, "g1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Contains(string(b), "g1") || !strings.Contains(string(b), "/ex/jira/"+DefaultCloudID+"/rest/api/3/group/bulk") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}

func TestGenerate(t *testing.T) {
	a, b := Big(), Big()
	if len(a.Users) < 10000 || len(a.Groups) < 500 {
		t.Fatalf("%d users, %d groups", len(a.Users), len(a.Groups))
	}
	for i := range a.Users {
		if a.Users[i] != b.Users[i] {
			t.Fatalf("not deterministic at user %d", i)
		}
	}
	if a.Groups[7].ID != b.Groups[7].ID || len(a.Groups[7].Members) != len(b.Groups[7].Members) {
		t.Fatal("groups not deterministic")
	}
	ids := map[string]bool{}
	for _, u := range a.Users {
		if ids[u.AccountID] {
			t.Fatalf("duplicate id %s", u.AccountID)
		}
		ids[u.AccountID] = true
	}
	if c := Generate(2, 10, 2); c.Users[0].AccountID == a.Users[0].AccountID {
		t.Error("seed ignored")
	}
}
