package jiracloud

import (
	"testing"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/upstreamtest"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/jiracloud/jirafake"
)

// harness runs the conformance suite against the fake site. The fixture's
// usernames are the account IDs (username_from: account_id; the fake lets
// the test choose them), and each user's password is their API token
// (auth: api_token), so the password tests run too.
type harness struct {
	f *jirafake.Fake
}

func (h *harness) Caps() upstreamtest.Caps {
	return upstreamtest.Caps{Flat: true, FullOnly: true, Breakable: true}
}

func (h *harness) Open(t *testing.T, _ *cache.Store) upstream.Upstream {
	clk := jirafake.NewManualClock(fixedNow)
	h.f = jirafake.Start(t, jirafake.Dataset{}, jirafake.Options{Clock: clk})
	for _, u := range upstreamtest.FixtureUsers {
		h.AddUser(t, u)
	}
	for _, g := range upstreamtest.FixtureGroups {
		h.AddGroup(t, g)
	}
	up, err := Open("up", Config{
		URL:          h.f.URL(),
		Email:        h.f.ServiceEmail(),
		APIToken:     secret.String(h.f.ServiceToken()),
		UsernameFrom: UsernameFromAccountID,
		Auth:         AuthAPIToken,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	up.setClock(clk)
	return up.AsUpstream()
}

func (h *harness) AddUser(t *testing.T, u upstreamtest.FixtureUser) {
	h.f.AddUser(jirafake.User{AccountID: u.Username, Email: u.Email, DisplayName: u.FirstName + " " + u.LastName,
		TimeZone: "Europe/Berlin", APIToken: u.Password})
}

func (h *harness) AddCollidingUser(t *testing.T, username string) {
	t.Fatal("account IDs cannot collide")
}

func (h *harness) SetEmail(t *testing.T, username, email string) {
	if err := h.f.UpdateUser(username, func(u *jirafake.User) { u.Email = email }); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) DeleteUser(t *testing.T, username string) {
	if err := h.f.DeleteUser(username); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) AddGroup(t *testing.T, g upstreamtest.FixtureGroup) {
	// Flat: g.Groups is ignored.
	if _, err := h.f.AddGroup(g.Name, g.Users...); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) SetMembers(t *testing.T, g upstreamtest.FixtureGroup) {
	grp, ok := h.f.GroupByName(g.Name)
	if !ok {
		t.Fatalf("no group %s", g.Name)
	}
	if err := h.f.SetMembers(grp.ID, g.Users...); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) Break(t *testing.T)  { h.f.SetDown(true) }
func (h *harness) Repair(t *testing.T) { h.f.SetDown(false) }

func TestConformance(t *testing.T) {
	upstreamtest.Run(t, func(t *testing.T) upstreamtest.Harness { return &harness{} })
}
