package jiracloud

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/jiracloud/jirafake"
)

func contains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s %q does not contain %q", what, s, sub)
	}
}

func anyContains(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}

// servedAfterFailure asserts what every failure test ends with: the last
// good data is still served and the status names the problem.
func servedAfterFailure(t *testing.T, g *rig, users int, problem string) {
	t.Helper()
	if n := len(g.store.UpstreamUsers("cloud")); n != users {
		t.Errorf("the store serves %d users after the failure, want the last good %d", n, users)
	}
	st := g.status(t)
	if st.State != cache.StateError || st.LastSuccess.IsZero() || st.ConsecutiveFailures == 0 {
		t.Errorf("status %+v", st)
	}
	contains(t, "status last_error", st.LastError, problem)
}

func TestFullSyncMapping(t *testing.T) {
	g := newRig(t, small(), nil)
	// The refresher's second sync would be incremental; the result is full anyway.
	run := g.mustSync(t)
	res, err := g.up.Sync(context.Background(), upstream.SyncRequest{Full: false})
	if err != nil || !res.Full || !run.Full {
		t.Fatalf("full=%v %v", res != nil && res.Full, err)
	}
	if got, want := usernames(g.store), []string{"acc-bob", "acc-dana", "ann@acme.example", "chen@acme.example"}; !slices.Equal(got, want) {
		t.Fatalf("usernames %q, want %q", got, want)
	}
	ann, _ := g.store.User("ann@acme.example")
	a := ann.Rec
	if a.Key != "acc-ann" || a.ExternalID != "acc-ann" || a.FirstName != "Ann" || a.LastName != "Lee" || a.DisplayName != "Ann Lee" ||
		a.Email != "ann@acme.example" || !a.Active || a.Attributes["accountType"][0] != "atlassian" ||
		a.Attributes["timeZone"][0] != "Europe/Berlin" || a.Attributes["locale"][0] != "en_GB" || a.Attributes["emailHidden"] != nil {
		t.Errorf("ann = %+v", a)
	}
	chen, _ := g.store.User("chen@acme.example")
	if chen.Rec.FirstName != "Chen Wei" || chen.Rec.LastName != "Ming" || chen.Rec.DisplayName != "Chen Wei Ming" {
		t.Errorf("chen = %+v", chen.Rec)
	}
	bob, _ := g.store.User("acc-bob")
	if bob.Rec.Active || bob.Rec.Email != "" || bob.Rec.Attributes["emailHidden"][0] != "true" || bob.Rec.LastName != "Bob" {
		t.Errorf("bob = %+v", bob.Rec)
	}
	if got := g.store.GroupUsers("devs", false, true); !slices.Equal(got, []string{"acc-bob", "ann@acme.example"}) {
		t.Errorf("devs = %q (the app account is not copied)", got)
	}
	if got := g.store.GroupUsers("helpdesk", false, true); !slices.Equal(got, []string{"ann@acme.example"}) {
		t.Errorf("helpdesk = %q (the customer is not copied)", got)
	}
	if gr, _ := g.store.UpstreamGroup("cloud", "ops"); gr == nil || gr.Key != "g-ops" || gr.ExternalID != "g-ops" || !gr.Active {
		t.Errorf("ops = %+v", gr)
	}
	st := g.up.LastSync()
	if st.Accounts != 7 || st.Users != 4 || st.Groups != 3 || st.Skipped["app"] != 2 || st.Skipped["customer"] != 1 ||
		st.EmailHidden != 2 || st.UsernameFallback != 2 || st.Memberships != 5 {
		t.Errorf("stats %+v", st)
	}
	w := g.up.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "2 users have no visible e-mail address") {
		t.Errorf("warnings %q", w)
	}
	if !anyContains(g.status(t).Warnings, "their usernames are their account IDs") {
		t.Errorf("status warnings %q", g.status(t).Warnings)
	}
	checkMirror(t, g)
}

func TestAccountTypes(t *testing.T) {
	g := newRig(t, small(), func(c *Config) { c.AccountTypes = []string{AccountAtlassian, AccountApp, AccountCustomer} })
	g.mustSync(t)
	got := usernames(g.store)
	for _, want := range []string{"acc-bot", "cust@customer.example", g.f.ServiceAccountID()} {
		if !slices.Contains(got, want) {
			t.Errorf("%s missing from %q", want, got)
		}
	}
	if u, _ := g.store.User("acc-bot"); u.Rec.Attributes["accountType"][0] != "app" {
		t.Errorf("bot = %+v", u.Rec)
	}
	if got := g.store.GroupUsers("devs", false, true); !slices.Equal(got, []string{"acc-bob", "acc-bot", "ann@acme.example"}) {
		t.Errorf("devs = %q", got)
	}

	g = newRig(t, small(), func(c *Config) { c.AccountTypes = []string{AccountCustomer} })
	g.mustSync(t)
	if got := usernames(g.store); !slices.Equal(got, []string{"cust@customer.example"}) {
		t.Errorf("customers only: %q", got)
	}
}

func TestUsernameFromAccountID(t *testing.T) {
	g := newRig(t, small(), func(c *Config) { c.UsernameFrom = UsernameFromAccountID })
	g.mustSync(t)
	if got, want := usernames(g.store), []string{"acc-ann", "acc-bob", "acc-chen", "acc-dana"}; !slices.Equal(got, want) {
		t.Fatalf("usernames %q, want %q", got, want)
	}
	if a, _ := g.store.User("acc-ann"); a.Rec.Email != "ann@acme.example" {
		t.Errorf("ann = %+v", a.Rec)
	}
	if st := g.up.LastSync(); st.EmailHidden != 2 || st.UsernameFallback != 0 {
		t.Errorf("stats %+v", st)
	}
	if w := g.up.Warnings(); len(w) != 0 {
		t.Errorf("no fallback, no warning: %q", w)
	}
}

func TestIncludeInactiveFalse(t *testing.T) {
	f := false
	g := newRig(t, small(), func(c *Config) { c.IncludeInactive = &f })
	g.mustSync(t)
	if _, ok := g.store.User("acc-bob"); ok {
		t.Error("inactive bob copied")
	}
	if got := g.store.GroupUsers("devs", false, true); !slices.Equal(got, []string{"ann@acme.example"}) {
		t.Errorf("devs = %q", got)
	}
	if g.up.LastSync().Skipped["inactive"] != 1 {
		t.Errorf("stats %+v", g.up.LastSync())
	}
}

// The pagination tests compare against a generated site of a few pages.
func midsize() jirafake.Dataset { return jirafake.Generate(7, 250, 20) }

func TestClampedPages(t *testing.T) {
	g := newRig(t, midsize(), nil)
	g.f.SetUserPageCap(60) // asked 1000
	g.f.SetBeanPageCap(10) // asked 1000
	g.mustSync(t)          // includes the credential check
	g.f.ResetCounts()
	g.mustSync(t)
	checkMirror(t, g)
	users, bulk, members := minRequests(g.f, DefaultPageSize)
	if got := g.f.Requests(jirafake.UserList); got != users {
		t.Errorf("users/search: %d requests, the minimum is %d", got, users)
	}
	if got := g.f.Requests(jirafake.GroupBulk); got != bulk {
		t.Errorf("group/bulk: %d requests, the minimum is %d", got, bulk)
	}
	if got := g.f.Requests(jirafake.GroupMember); got != members {
		t.Errorf("group/member: %d requests, the minimum is %d", got, members)
	}
	if st := g.up.LastSync(); st.Requests != users+bulk+members {
		t.Errorf("LastSync().Requests = %d", st.Requests)
	}
	if g.status(t).State != cache.StateConnected {
		t.Errorf("status %+v", g.status(t))
	}
}

func TestShortPages(t *testing.T) {
	g := newRig(t, midsize(), nil)
	g.f.SetShortPages(true)
	g.f.SetUserPageCap(100) // pages of 50 before the end
	g.f.SetBeanPageCap(10)  // pages of 5
	g.mustSync(t)
	checkMirror(t, g)
	if g.f.Requests(jirafake.UserList) < 7 {
		t.Errorf("pages were not short: %d users/search requests", g.f.Requests(jirafake.UserList))
	}
	if g.status(t).State != cache.StateConnected {
		t.Errorf("status %+v", g.status(t))
	}
}

func TestMissingTotal(t *testing.T) {
	for _, tc := range []struct {
		name                string
		omitTotal, omitLast bool
		extra               int // group/bulk requests beyond the pages with data
	}{
		{"no total", true, false, 0},
		{"no isLast", false, true, 0},
		{"neither", true, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newRig(t, midsize(), nil)
			g.f.SetBeanPageCap(10)
			g.f.SetOmitTotal(tc.omitTotal)
			g.f.SetOmitIsLast(tc.omitLast)
			g.mustSync(t)
			g.f.ResetCounts()
			g.mustSync(t)
			checkMirror(t, g)
			_, bulk, _ := minRequests(g.f, DefaultPageSize)
			if got := g.f.Requests(jirafake.GroupBulk); got != bulk+tc.extra {
				t.Errorf("group/bulk: %d requests, want %d", got, bulk+tc.extra)
			}
			if g.status(t).State != cache.StateConnected {
				t.Errorf("status %+v", g.status(t))
			}
		})
	}
}

func TestThrottledWithRetryAfter(t *testing.T) {
	g := newRig(t, small(), nil)
	g.mustSync(t)
	g.clk.ResetSleeps()
	g.f.Throttle(jirafake.GroupBulk, 2, 3*time.Second)
	g.mustSync(t)
	sleeps := g.clk.Sleeps()
	if len(sleeps) != 2 || sleeps[0] < 3*time.Second || sleeps[1] < 3*time.Second {
		t.Errorf("waits %v, want two of at least 3s", sleeps)
	}
	if n := g.f.EarlyRetries(); n != 0 {
		t.Errorf("%d retries inside the Retry-After window", n)
	}

	// Throttled for good: the sync gives up after its retries, never early,
	// and tells the refresher when to come back.
	g.f.ResetCounts()
	g.f.Throttle(jirafake.UserList, 100, 7*time.Second)
	_, err := g.sync(t)
	var ra upstream.RetryAfterError
	if !errors.Is(err, upstream.ErrUnavailable) || !errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second {
		t.Fatalf("err %v", err)
	}
	if n := g.f.EarlyRetries(); n != 0 || g.f.Requests(jirafake.UserList) != 5 {
		t.Errorf("%d early retries, %d requests", n, g.f.Requests(jirafake.UserList))
	}
	servedAfterFailure(t, g, 4, "rate limited (429)")
	if d := time.Until(g.status(t).NextRun); d < 6*time.Second {
		t.Errorf("next sync in %v, before the Retry-After", d)
	}
}

func TestThrottledWithoutRetryAfter(t *testing.T) {
	g := newRig(t, small(), nil)
	g.mustSync(t)
	g.clk.ResetSleeps()
	g.f.Throttle(jirafake.UserList, 3, 0)
	g.mustSync(t)
	if got, want := g.clk.Sleeps(), []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want the exponential %v", got, want)
	}
	g.f.Throttle(jirafake.UserList, 100, 0)
	if _, err := g.sync(t); !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	servedAfterFailure(t, g, 4, "rate limited (429)")
}

func TestServiceUnavailable(t *testing.T) {
	// One request at a time: the window a 503 opens would throttle the
	// other member requests in flight too, adding waits.
	g := newRig(t, small(), func(c *Config) { c.Concurrency = 1 })
	g.mustSync(t)
	g.clk.ResetSleeps()
	g.f.Unavailable(jirafake.GroupMember, 2, 2*time.Second)
	g.mustSync(t)
	for _, s := range g.clk.Sleeps() {
		if s < 2*time.Second {
			t.Errorf("retried after %v, before the Retry-After", s)
		}
	}
	if len(g.clk.Sleeps()) != 2 || g.f.EarlyRetries() != 0 {
		t.Errorf("waits %v, %d early", g.clk.Sleeps(), g.f.EarlyRetries())
	}
	g.f.SetDown(true)
	_, err := g.sync(t)
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	servedAfterFailure(t, g, 4, "service unavailable (503)")
}

func TestExpiredToken(t *testing.T) {
	for name, fl := range map[string]jirafake.Flavour401{"text": jirafake.Text401, "json": jirafake.JSON401,
		"xml": jirafake.XML401, "html": jirafake.HTML401} {
		t.Run(name, func(t *testing.T) {
			g := newRig(t, small(), nil)
			g.mustSync(t)
			g.f.Set401(fl)
			g.f.ExpireToken(g.f.ServiceToken())
			g.f.ResetCounts()
			_, err := g.sync(t)
			if !errors.Is(err, upstream.ErrCredentials) {
				t.Fatalf("err %v", err)
			}
			contains(t, "error", err.Error(), "API token rejected — it may have expired")
			if strings.Contains(err.Error(), g.f.ServiceToken()) {
				t.Error("the error shows the token")
			}
			// No retry storm: one request, no waits.
			if n := g.f.Requests(jirafake.AnyEndpoint); n != 1 || len(g.clk.Sleeps()) != 0 {
				t.Errorf("%d requests, waits %v", n, g.clk.Sleeps())
			}
			// The next sync checks the credential first: one request again.
			if _, err := g.sync(t); !errors.Is(err, upstream.ErrCredentials) {
				t.Fatalf("err %v", err)
			}
			if log := g.f.Log(); len(log) != 2 || log[1].Endpoint != jirafake.Myself {
				t.Errorf("requests %+v", log)
			}
			servedAfterFailure(t, g, 4, "API token rejected — it may have expired")
			// A new token: the next sync checks and succeeds.
			g.f.RenewToken(g.f.ServiceToken())
			g.mustSync(t)
		})
	}
}

func TestMissingPermissions(t *testing.T) {
	t.Run("Administer Jira revoked", func(t *testing.T) {
		g := newRig(t, small(), nil)
		g.mustSync(t)
		g.f.SetAdmin(g.f.ServiceToken(), false)
		_, err := g.sync(t)
		if !errors.Is(err, upstream.ErrRejected) {
			t.Fatalf("err %v", err)
		}
		contains(t, "error", err.Error(), `lacks the "Administer Jira" global permission`)
		servedAfterFailure(t, g, 4, "Administer Jira")
	})
	t.Run("checked before the crawl", func(t *testing.T) {
		g := newRig(t, small(), nil)
		g.f.SetAdmin(g.f.ServiceToken(), false)
		err := g.up.Check(context.Background())
		contains(t, "error", err.Error(), "Administer Jira")
		if g.f.Requests(jirafake.UserList) != 1 || g.f.Requests(jirafake.GroupMember) != 1 {
			t.Errorf("%+v", g.f.Log())
		}
	})
	t.Run("Browse users and groups", func(t *testing.T) {
		g := newRig(t, small(), nil)
		g.f.SetBrowse(g.f.ServiceToken(), false)
		_, err := g.sync(t)
		if !errors.Is(err, upstream.ErrRejected) {
			t.Fatalf("err %v", err)
		}
		contains(t, "error", err.Error(), `lacks the "Browse users and groups" global permission`)
	})
}

func TestGroupVanishesMidSync(t *testing.T) {
	g := newRig(t, small(), nil)
	g.mustSync(t)
	g.f.DropGroupBefore(jirafake.GroupMember, 1, "g-ops")
	run := g.mustSync(t)
	if run.Result.GroupsDeleted != 1 {
		t.Errorf("result %+v", run.Result)
	}
	if _, ok := g.store.Group("ops"); ok {
		t.Error("ops still served")
	}
	if got := g.store.GroupUsers("devs", false, true); len(got) != 2 {
		t.Errorf("devs = %q", got)
	}
	if st := g.up.LastSync(); !slices.Equal(st.VanishedGroups, []string{"ops"}) {
		t.Errorf("stats %+v", st)
	}
	st := g.status(t)
	if st.State != cache.StateConnected || !anyContains(st.Warnings, "were left out: ops") {
		t.Errorf("status %+v", st)
	}

	// Most groups answering 404 is a broken site, not a cleanup.
	g.f.DropGroupBefore(jirafake.GroupMember, 1, "g-devs")
	g.f.DropGroupBefore(jirafake.GroupMember, 1, "g-help")
	if _, err := g.sync(t); err == nil || !strings.Contains(err.Error(), "2 of 2 groups answered 404") {
		t.Fatalf("err %v", err)
	}
	servedAfterFailure(t, g, 4, "answered 404")
	if _, ok := g.store.Group("devs"); !ok {
		t.Error("devs dropped")
	}
}

func TestListingShiftsMidCrawl(t *testing.T) {
	t.Run("group deleted between group/bulk pages", func(t *testing.T) {
		g := newRig(t, small(), nil)
		g.f.SetBeanPageCap(1)
		g.mustSync(t)
		// Page 2 would skip helpdesk once devs is gone; total changes, so
		// the listing is read again.
		g.f.DropGroupBefore(jirafake.GroupBulk, 2, "g-devs")
		g.mustSync(t)
		var got []string
		g.store.Groups("", func(gr cache.Group) bool { got = append(got, gr.Rec.Name); return true })
		if !slices.Equal(got, []string{"helpdesk", "ops"}) {
			t.Errorf("groups %q", got)
		}
		if st := g.up.LastSync(); st.Restarts != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("account inserted before the crawl position", func(t *testing.T) {
		g := newRig(t, small(), nil)
		g.f.SetUserPageCap(2)
		g.f.OnRequest(jirafake.UserList, 3, func() { // the credential check is the first
			g.f.InsertUser(0, jirafake.User{AccountID: "acc-new", Email: "new@acme.example", DisplayName: "New Person"})
		})
		g.mustSync(t)
		st := g.up.LastSync()
		if st.Duplicates != 1 || st.Users != 4 {
			t.Errorf("stats %+v", st)
		}
		g.mustSync(t)
		if _, ok := g.store.User("new@acme.example"); !ok {
			t.Error("the next sync does not find the new account")
		}
	})
}

func TestConflictAsksForLess(t *testing.T) {
	g := newRig(t, small(), nil)
	g.f.Conflict(2)
	g.mustSync(t)
	var sizes []string
	for _, r := range g.f.Log() {
		if r.Endpoint == jirafake.UserList {
			sizes = append(sizes, r.Query)
		}
	}
	if len(sizes) != 5 || !strings.Contains(sizes[3], "maxResults=250") {
		t.Errorf("users/search requests %q", sizes)
	}
	checkMirror(t, g)
}

func TestServerIgnoringStartAt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case pathMyself:
			w.Write([]byte(`{"accountId":"svc"}`))
		case pathGroupBulk:
			w.Write([]byte(`{"startAt":0,"maxResults":50,"isLast":true,"values":[]}`))
		default:
			w.Write([]byte(`[{"accountId":"a","accountType":"atlassian","displayName":"A","active":true}]`))
		}
	}))
	defer srv.Close()
	up, err := Open("x", Config{URL: srv.URL, Email: "svc@example.com", APIToken: "t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	_, err = up.Sync(context.Background(), upstream.SyncRequest{Full: true})
	if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "already read") {
		t.Fatalf("err %v", err)
	}
}

func TestTokenExpiryDate(t *testing.T) {
	g := newRig(t, small(), func(c *Config) { c.APITokenExpires = "2026-05-10" })
	if exp, ok := g.up.CredentialExpiry(); !ok || !exp.Equal(time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expiry %v %v", exp, ok)
	}
	g.mustSync(t)
	if w := g.up.Warnings(); !anyContains(w, "expires on 2026-05-10, in 6 days") {
		t.Errorf("warnings %q", w)
	}
	if !anyContains(g.status(t).Warnings, "expires on 2026-05-10") {
		t.Errorf("status warnings %q", g.status(t).Warnings)
	}
	// The day comes: syncs fail at once, without a request.
	g.clk.Advance(6 * 24 * time.Hour)
	g.f.ResetCounts()
	_, err := g.sync(t)
	if !errors.Is(err, upstream.ErrCredentials) || !strings.Contains(err.Error(), "expired on 2026-05-10") {
		t.Fatalf("err %v", err)
	}
	if n := g.f.Requests(jirafake.AnyEndpoint); n != 0 {
		t.Errorf("%d requests with an expired token", n)
	}
	servedAfterFailure(t, g, 4, "expired on 2026-05-10")
	if !anyContains(g.status(t).Warnings, "expired on 2026-05-10") {
		t.Errorf("status warnings %q", g.status(t).Warnings)
	}

	g = newRig(t, small(), func(c *Config) { c.APITokenExpires = "2027-05-10" })
	if w := g.up.Warnings(); len(w) != 0 {
		t.Errorf("a year ahead: %q", w)
	}
	if _, ok := newRig(t, small(), nil).up.CredentialExpiry(); ok {
		t.Error("expiry without api_token_expires")
	}
}

func TestPasswordModes(t *testing.T) {
	for _, mode := range []string{AuthNone, AuthLocal, ""} {
		g := newRig(t, small(), func(c *Config) { c.Auth = mode })
		if _, ok := g.up.AsUpstream().(upstream.PasswordChecker); ok {
			t.Errorf("auth %q: the upstream checks passwords", mode)
		}
		if _, ok := any(g.up).(upstream.PasswordChecker); ok {
			t.Error("*Upstream is a PasswordChecker")
		}
		if _, ok := g.up.AsUpstream().(upstream.Syncer); !ok {
			t.Errorf("auth %q: not a Syncer", mode)
		}
	}

	g := newRig(t, small(), func(c *Config) { c.Auth = AuthAPIToken })
	pc, ok := g.up.AsUpstream().(upstream.PasswordChecker)
	if !ok {
		t.Fatal("auth api_token: no PasswordChecker")
	}
	g.mustSync(t)
	ctx := context.Background()
	ann, _ := g.store.UpstreamUser("cloud", "ann@acme.example")
	chen, _ := g.store.UpstreamUser("cloud", "chen@acme.example")
	bob, _ := g.store.UpstreamUser("cloud", "acc-bob")
	dana, _ := g.store.UpstreamUser("cloud", "acc-dana")
	other := *ann
	other.Key = "acc-someone-else"
	for _, tc := range []struct {
		name     string
		u        *upstream.User
		password string
		ok       bool
	}{
		{"own token", ann, "ann-token", true},
		{"other own token", chen, "chen-token", true},
		{"wrong token", ann, "nope", false},
		{"another user's token", ann, "chen-token", false},
		{"empty", ann, "", false},
		{"record of another account", &other, "ann-token", false},
		{"inactive", bob, "anything", false},
		{"hidden address", dana, "anything", false},
	} {
		g.f.ResetCounts()
		ok, err := pc.CheckPassword(ctx, tc.u, tc.password)
		if ok != tc.ok || err != nil {
			t.Errorf("%s: %v %v", tc.name, ok, err)
		}
		if tc.password == "anything" || tc.password == "" {
			if n := g.f.Requests(jirafake.AnyEndpoint); n != 0 {
				t.Errorf("%s: %d requests", tc.name, n)
			}
		}
	}
	g.f.ExpireToken("ann-token")
	if ok, err := pc.CheckPassword(ctx, ann, "ann-token"); ok || err != nil {
		t.Errorf("expired token: %v %v", ok, err)
	}
	// A throttled site makes a login fail as unavailable after a short wait,
	// not sit out a long Retry-After.
	g.f.Throttle(jirafake.Myself, 10, time.Minute)
	ok, err := pc.CheckPassword(ctx, chen, "chen-token")
	if ok || !errors.Is(err, upstream.ErrUnavailable) || strings.Contains(err.Error(), "chen-token") {
		t.Errorf("throttled: %v %v", ok, err)
	}
	if g.f.Requests(jirafake.Myself) > 2 {
		t.Errorf("%d requests", g.f.Requests(jirafake.Myself))
	}
}

func TestScopedURL(t *testing.T) {
	clk := jirafake.NewManualClock(fixedNow)
	f := jirafake.Start(t, small(), jirafake.Options{Clock: clk})
	up, err := Open("cloud", Config{URL: f.ScopedURL(), Email: f.ServiceEmail(), APIToken: secret.String(f.ServiceToken())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	res, err := up.Sync(context.Background(), upstream.SyncRequest{Full: true})
	if err != nil || len(res.Users) != 4 || len(res.Groups) != 3 {
		t.Fatalf("%v", err)
	}
	for _, r := range f.Log() {
		if !strings.HasPrefix(r.Path, "/ex/jira/"+jirafake.DefaultCloudID+"/rest/api/3/") {
			t.Errorf("request to %s", r.Path)
		}
	}

	bad, err := Open("cloud", Config{URL: f.URL() + "/ex/jira/wrong", Email: f.ServiceEmail(), APIToken: secret.String(f.ServiceToken())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Check(context.Background())
	if !errors.Is(err, upstream.ErrNotFound) || !strings.Contains(err.Error(), "does not serve the Jira Cloud REST API") {
		t.Fatalf("err %v", err)
	}
}

func TestConcurrencyBounded(t *testing.T) {
	g := newRig(t, jirafake.Generate(3, 200, 60), func(c *Config) { c.Concurrency = 3 })
	g.mustSync(t)
	if n := g.f.MaxInFlight(); n > 3 {
		t.Errorf("%d requests in flight, concurrency is 3", n)
	}
	checkMirror(t, g)
}

func TestCloseDuringSync(t *testing.T) {
	g := newRig(t, small(), nil)
	g.f.OnRequest(jirafake.GroupMember, 2, func() { g.up.Close() })
	_, err := g.up.Sync(context.Background(), upstream.SyncRequest{Full: true})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err %v", err)
	}
}

func TestProgress(t *testing.T) {
	g := newRig(t, small(), nil)
	var seen []int
	_, err := g.up.Sync(context.Background(), upstream.SyncRequest{Full: true, Progress: func(n int) { seen = append(seen, n) }})
	if err != nil || len(seen) == 0 || seen[len(seen)-1] != 7+3 {
		t.Fatalf("progress %v %v", seen, err)
	}
}

// TestPacedUnderBurstLimits: against a site with Jira's burst limits
// (a token bucket per endpoint), the default pace of 10 requests a second
// gets no 429 at all where an unpaced crawl is throttled; and when the
// site says X-RateLimit-NearLimit the pace halves before the bucket runs
// dry.
func TestPacedUnderBurstLimits(t *testing.T) {
	ds := jirafake.Generate(3, 600, 200)
	t.Run("unpaced", func(t *testing.T) {
		g := newRig(t, ds, nil)
		g.f.SetBurstLimit(10, 10)
		_, _ = g.sync(t)
		if g.f.Throttled429() == 0 {
			t.Fatal("an unpaced crawl was never throttled: the test proves nothing")
		}
	})
	t.Run("paced", func(t *testing.T) {
		g := newRig(t, ds, func(c *Config) { c.RequestsPerSecond = DefaultRequestsPerSecond })
		g.f.SetBurstLimit(10, 10)
		g.mustSync(t)
		if n := g.f.Throttled429(); n != 0 {
			t.Errorf("%d requests throttled at the default pace", n)
		}
	})
	t.Run("near limit", func(t *testing.T) {
		g := newRig(t, ds, func(c *Config) { c.RequestsPerSecond = DefaultRequestsPerSecond })
		// Half the pace: the bucket drains, and NearLimit says so while
		// 10 requests are left, room for the ones already in flight.
		g.f.SetBurstLimit(5, 50)
		g.mustSync(t)
		if n := g.f.Throttled429(); n != 0 {
			t.Errorf("%d requests throttled: the pace did not slow down at NearLimit", n)
		}
		if !slices.Contains(g.clk.Sleeps(), 200*time.Millisecond) {
			t.Errorf("no halved pace among the waits %v", g.clk.Sleeps())
		}
	})
}
