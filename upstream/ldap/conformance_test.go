package ldap

import (
	"testing"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/internal/upstreamtest"
	"github.com/dirgate/dirgate/upstream"
)

// harness runs the conformance suite against a real slapd.
type harness struct {
	s *slapdtest.Server
}

func (h *harness) Caps() upstreamtest.Caps {
	return upstreamtest.Caps{IncrementalDeletes: false, Collisions: true, Breakable: true}
}

func (h *harness) Open(t *testing.T, store *cache.Store) upstream.Upstream {
	h.s = slapdtest.Start(t)
	for _, u := range upstreamtest.FixtureUsers {
		h.AddUser(t, u)
	}
	for _, g := range upstreamtest.FixtureGroups {
		h.AddGroup(t, g)
	}
	up, err := Open("up", Config{
		URLs:         []string{h.s.URL()},
		BindDN:       h.s.AdminDN(),
		BindPassword: secret.String(h.s.AdminPassword()),
		UserBase:     h.s.PeopleDN(),
		GroupBase:    h.s.GroupsDN(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return up
}

func (h *harness) AddUser(t *testing.T, u upstreamtest.FixtureUser) {
	h.s.AddUser(t, u.Username,
		slapdtest.A("givenName", u.FirstName), slapdtest.A("sn", u.LastName),
		slapdtest.A("cn", u.FirstName+" "+u.LastName), slapdtest.A("displayName", u.FirstName+" "+u.LastName),
		slapdtest.A("mail", u.Email), slapdtest.A("userPassword", u.Password))
}

func (h *harness) AddCollidingUser(t *testing.T, username string) {
	h.s.Add(t, "cn="+username+"-2,"+h.s.PeopleDN(),
		slapdtest.A("objectClass", "inetOrgPerson"), slapdtest.A("uid", username),
		slapdtest.A("cn", username+"-2"), slapdtest.A("sn", username))
}

func (h *harness) SetEmail(t *testing.T, username, email string) {
	h.s.Modify(t, h.s.UserDN(username), slapdtest.Replace("mail", email))
}

func (h *harness) DeleteUser(t *testing.T, username string) { h.s.Delete(t, h.s.UserDN(username)) }

func (h *harness) members(g upstreamtest.FixtureGroup) []string {
	var dns []string
	for _, u := range g.Users {
		dns = append(dns, h.s.UserDN(u))
	}
	for _, c := range g.Groups {
		dns = append(dns, h.s.GroupDN(c))
	}
	return dns
}

func (h *harness) AddGroup(t *testing.T, g upstreamtest.FixtureGroup) {
	h.s.AddGroup(t, g.Name, h.members(g)...)
}

func (h *harness) SetMembers(t *testing.T, g upstreamtest.FixtureGroup) {
	h.s.SetMembers(t, h.s.GroupDN(g.Name), h.members(g)...)
}

func (h *harness) Break(t *testing.T)  { h.s.Stop() }
func (h *harness) Repair(t *testing.T) { h.s.Restart() }

func TestConformance(t *testing.T) {
	upstreamtest.Run(t, func(t *testing.T) upstreamtest.Harness { return &harness{} })
}
