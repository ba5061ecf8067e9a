package access

import (
	"testing"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/upstreamtest"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/access/accessfake"
)

// harness runs the conformance suite against the fake organization. The
// fixture's usernames are the accounts' nicknames; nested groups do not
// exist in Atlassian Cloud (Caps.Flat), so FixtureGroup.Groups is ignored.
type harness struct {
	fake  *accessfake.Server
	clock *accessfake.Clock
}

func (h *harness) Caps() upstreamtest.Caps {
	// Nicknames are not unique in Atlassian, so two accounts can hold
	// names that differ only in case (Collisions).
	return upstreamtest.Caps{Flat: true, IncrementalDeletes: true, Breakable: true, Collisions: true}
}

func (h *harness) Open(t *testing.T, store *cache.Store) upstream.Upstream {
	h.clock = accessfake.NewClock(t0)
	h.fake = accessfake.New(accessfake.Options{Clock: h.clock})
	t.Cleanup(h.fake.Close)
	for _, u := range upstreamtest.FixtureUsers {
		h.AddUser(t, u)
	}
	for _, g := range upstreamtest.FixtureGroups {
		h.AddGroup(t, g)
	}
	up, err := Open("up", Config{BaseURL: h.fake.URL, OrgID: h.fake.OrgID, APIKey: secret.String(h.fake.APIKey)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	up.setClock(h.clock)
	return up
}

func (h *harness) AddUser(t *testing.T, u upstreamtest.FixtureUser) {
	_, err := h.fake.AddUser(accessfake.User{Nickname: u.Username, Name: u.FirstName + " " + u.LastName,
		Email: u.Email, EmailVerified: true, ClaimStatus: "managed"})
	must(t, err)
}

func (h *harness) AddCollidingUser(t *testing.T, username string) {
	_, err := h.fake.AddUser(accessfake.User{Nickname: username, Name: username + " Twin"})
	must(t, err)
}

func (h *harness) id(t *testing.T, nick string) string {
	u, ok := h.fake.UserByNickname(nick)
	if !ok {
		t.Fatalf("no user %s", nick)
	}
	return u.AccountID
}

func (h *harness) SetEmail(t *testing.T, username, email string) {
	must(t, h.fake.UpdateUser(h.id(t, username), func(u *accessfake.User) { u.Email = email }))
}

func (h *harness) DeleteUser(t *testing.T, username string) {
	must(t, h.fake.RemoveUser(h.id(t, username)))
}

func (h *harness) AddGroup(t *testing.T, g upstreamtest.FixtureGroup) {
	_, err := h.fake.AddGroup(accessfake.Group{Name: g.Name})
	must(t, err)
	h.SetMembers(t, g)
}

func (h *harness) SetMembers(t *testing.T, g upstreamtest.FixtureGroup) {
	grp, ok := h.fake.GroupByName(g.Name)
	if !ok {
		t.Fatalf("no group %s", g.Name)
	}
	var ids []string
	for _, u := range g.Users {
		ids = append(ids, h.id(t, u))
	}
	must(t, h.fake.SetMembers(grp.ID, ids))
}

func (h *harness) Break(t *testing.T)  { h.fake.Break() }
func (h *harness) Repair(t *testing.T) { h.fake.Repair() }

func TestConformance(t *testing.T) {
	upstreamtest.Run(t, func(t *testing.T) upstreamtest.Harness { return &harness{} })
}
