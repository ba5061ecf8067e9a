package jiracloud

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream/jiracloud/jirafake"
)

var fixedNow = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// rig is a fake site, an upstream on it, and a store kept by a refresher
// whose status carries the upstream's warnings.
type rig struct {
	f     *jirafake.Fake
	clk   *jirafake.ManualClock
	up    *Upstream
	store *cache.Store
	r     *cache.Refresher
}

func newRig(t *testing.T, ds jirafake.Dataset, tune func(*Config)) *rig {
	t.Helper()
	clk := jirafake.NewManualClock(fixedNow)
	f := jirafake.Start(t, ds, jirafake.Options{Clock: clk})
	cfg := Config{URL: f.URL(), Email: f.ServiceEmail(), APIToken: secret.String(f.ServiceToken())}
	if tune != nil {
		tune(&cfg)
	}
	up, err := Open("cloud", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	up.setClock(clk)
	if cfg.RequestsPerSecond == 0 {
		// Unpaced unless a test asks: the waits the tests check are the
		// retries' alone.
		up.api.MinInterval = 0
	}
	up.api.Jitter = func() float64 { return 1.0 }
	up.login.Jitter = up.api.Jitter
	t.Cleanup(func() { up.Close() })
	store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"cloud"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := cache.NewRefresher(store, []cache.Target{{Name: "cloud", Type: Type, Syncer: up,
		Interval: time.Hour, FullEvery: 24 * time.Hour, MaxDeletePercent: 100}}, nil)
	r.Warnings = func(string) []string { return up.Warnings() }
	return &rig{f: f, clk: clk, up: up, store: store, r: r}
}

func (g *rig) sync(t *testing.T) (cache.SyncRun, error) {
	t.Helper()
	return g.r.SyncNow(context.Background(), "cloud", cache.SyncRequest{Full: true})
}

func (g *rig) mustSync(t *testing.T) cache.SyncRun {
	t.Helper()
	run, err := g.sync(t)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return run
}

func (g *rig) status(t *testing.T) cache.Status {
	t.Helper()
	st, err := g.store.Status("cloud")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// small is a fixture of people, an app, a customer, an inactive user and
// one with a hidden address, in three groups.
func small() jirafake.Dataset {
	return jirafake.Dataset{
		Users: []jirafake.User{
			{AccountID: "acc-ann", Email: "ann@acme.example", DisplayName: "Ann Lee", TimeZone: "Europe/Berlin", Locale: "en_GB", APIToken: "ann-token"},
			{AccountID: "acc-bob", Email: "bob@acme.example", EmailHidden: true, DisplayName: "Bob", Inactive: true},
			{AccountID: "acc-chen", Email: "chen@acme.example", DisplayName: "Chen  Wei Ming", APIToken: "chen-token"},
			{AccountID: "acc-bot", AccountType: jirafake.TypeApp, Email: "bot@connect.atlassian.com", EmailHidden: true, DisplayName: "Automation for Jira"},
			{AccountID: "acc-cust", AccountType: jirafake.TypeCustomer, Email: "cust@customer.example", DisplayName: "Carla Customer"},
			{AccountID: "acc-dana", Email: "dana@acme.example", EmailHidden: true, DisplayName: "Dana Novak"},
		},
		Groups: []jirafake.Group{
			{ID: "g-devs", Name: "devs", Members: []string{"acc-ann", "acc-bob", "acc-bot"}},
			{ID: "g-ops", Name: "ops", Members: []string{"acc-chen", "acc-dana"}},
			{ID: "g-help", Name: "helpdesk", Members: []string{"acc-cust", "acc-ann"}},
		},
	}
}

func usernames(s *cache.Store) []string {
	var out []string
	s.Users("", func(u cache.User) bool { out = append(out, u.Rec.Username); return true })
	return out
}

// minRequests is the fewest requests one sync of f's data can make: the
// users pages with data plus the empty one that ends the listing, the
// group/bulk pages, and for each group its member pages (at least one).
func minRequests(f *jirafake.Fake, pageSize int) (users, bulk, members int) {
	uc, bc := min(pageSize, f.UserPageCap()), f.BeanPageCap()
	users = (len(f.Users())+uc-1)/uc + 1
	gs := f.Groups()
	bulk = max(1, (len(gs)+bc-1)/bc)
	for _, g := range gs {
		members += max(1, (len(g.Members)+bc-1)/bc)
	}
	return users, bulk, members
}

// checkMirror compares what the store holds for the upstream with the fake
// site's data under the default settings (atlassian accounts, inactive
// ones included).
func checkMirror(t *testing.T, g *rig) {
	t.Helper()
	want := map[string]bool{}
	for _, u := range g.f.Users() {
		if u.AccountType == jirafake.TypeAtlassian {
			want[u.AccountID] = true
		}
	}
	got := map[string]bool{}
	for _, u := range g.store.UpstreamUsers("cloud") {
		got[u.Key] = true
	}
	if len(got) != len(want) {
		t.Errorf("store holds %d users, the site %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("user %s missing", k)
		}
	}
	groups := map[string][]string{}
	for _, gr := range g.store.UpstreamGroups("cloud") {
		groups[gr.Key] = gr.Members
	}
	fg := g.f.Groups()
	if len(groups) != len(fg) {
		t.Errorf("store holds %d groups, the site %d", len(groups), len(fg))
	}
	for _, gr := range fg {
		var w []string
		for _, m := range gr.Members {
			if want[m] {
				w = append(w, m)
			}
		}
		if got := groups[gr.ID]; !slices.Equal(got, w) {
			t.Errorf("group %s: %d members stored, %d on the site", gr.Name, len(got), len(w))
		}
	}
}
