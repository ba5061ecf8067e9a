package accessfake

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Directory is one directory of the organization (GET …/directories).
type Directory struct {
	ID   string
	Name string
}

// User is a MultiDirectoryUser (cloud-apis.md §3.3) as the fake stores it.
// Empty status fields are served as "active".
type User struct {
	AccountID        string
	AccountType      string // atlassian (default), customer, app
	Status           string // active, suspended, not_invited, deactivated, for_deletion
	AccountStatus    string // active, inactive, closed
	MembershipStatus string // active, suspended, no_membership
	AddedToOrg       time.Time
	Name             string // full name
	Nickname         string
	Email            string
	EmailVerified    bool
	ClaimStatus      string // managed, unmanaged
	ManagementSource string // invited, synced, "" (null)
	MFAEnabled       bool
	JobTitle         string
	Department       string
	Organization     string
	Location         string
	TimeZone         string
	// DirectoryID is the directory holding the account (default: the
	// first directory).
	DirectoryID string
}

// Group is a MultiDirectoryGroup as the fake stores it.
type Group struct {
	ID             string
	Name           string
	Description    string
	DirectoryID    string // default: the first directory
	ManagedBy      string // external, admins, team-members, open (default admins)
	ExternalSynced bool
}

// Dataset is the content a fake starts with: no events describe it (it
// predates the audit log's window).
type Dataset struct {
	Directories []Directory
	Users       []User
	Groups      []Group
	// Members maps a group ID to the account IDs of its members.
	Members map[string][]string
}

// Memberships is the number of (group, member) pairs.
func (d *Dataset) Memberships() int {
	n := 0
	for _, m := range d.Members {
		n += len(m)
	}
	return n
}

// DefaultDirectoryID is the ID of the directory a dataset gets when it
// names none.
const DefaultDirectoryID = "d0000000-0000-4000-8000-000000000001"

// Small is the conformance fixture of internal/upstreamtest as an Admin
// organization has it (no nested groups): alice, bob and carol; devs
// {alice}, ops {bob, carol}, and the empty staff and all (whose members in
// the fixture are groups). Nicknames are the fixture's usernames.
func Small() *Dataset {
	d := &Dataset{Directories: []Directory{{ID: DefaultDirectoryID, Name: "Acme"}}, Members: map[string][]string{}}
	added := time.Date(2024, 2, 11, 8, 0, 0, 0, time.UTC)
	for i, u := range []struct{ nick, first, last string }{
		{"alice", "Alice", "Liddell"}, {"bob", "Bob", "Builder"}, {"carol", "Carol", "Danvers"},
	} {
		d.Users = append(d.Users, User{
			AccountID: fmt.Sprintf("712020:%08x-0000-4000-8000-%012x", i+1, i+1), Nickname: u.nick,
			Name: u.first + " " + u.last, Email: u.nick + "@example.com", EmailVerified: true,
			AddedToOrg: added.Add(time.Duration(i) * time.Hour), ClaimStatus: "managed",
		})
	}
	id := func(i int) string { return fmt.Sprintf("7c0ffee0-0000-4000-8000-%012x", i) }
	d.Groups = []Group{{ID: id(1), Name: "devs"}, {ID: id(2), Name: "ops"}, {ID: id(3), Name: "staff"}, {ID: id(4), Name: "all"}}
	d.Members[id(1)] = []string{d.Users[0].AccountID}
	d.Members[id(2)] = []string{d.Users[1].AccountID, d.Users[2].AccountID}
	return d
}

var (
	firstNames = []string{"Ann", "Bob", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jules",
		"Kofi", "Lena", "Mika", "Noor", "Omar", "Pia", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wen", "Yusuf", "Zoe"}
	lastNames = []string{"Lee", "Smith", "Okafor", "Novak", "Garcia", "Kowalski", "Haddad", "Tanaka", "Müller",
		"Rossi", "Silva", "Nguyen", "Ivanova", "Dubois", "Jensen", "O'Brien", "Costa", "Kaur", "Berg", "Moreau"}
	teams = []string{"platform", "payments", "search", "mobile", "web", "data", "infra", "security", "support",
		"sales", "finance", "legal", "design", "qa", "research", "ops", "hr", "marketing", "growth", "docs"}
)

// Generate returns a deterministic organization of users and groups for
// seed: one directory; about 1% of the accounts inactive or suspended and
// 0.5% app accounts; group 0 ("everyone") holds every account, the other
// groups follow a skewed size distribution (a few large, many small), and
// the last 2% of groups are empty. Each non-app account is in 1 to 6 groups
// besides "everyone".
func Generate(seed uint64, users, groups int) *Dataset {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	d := &Dataset{Directories: []Directory{{ID: DefaultDirectoryID, Name: "Acme"}}, Members: make(map[string][]string, groups)}
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[r.IntN(16)]
		}
		return string(b)
	}
	uuid := func() string {
		return hex(8) + "-" + hex(4) + "-4" + hex(3) + "-" + string("89ab"[r.IntN(4)]) + hex(3) + "-" + hex(12)
	}
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	seenID := map[string]bool{}
	for i := 0; i < users; i++ {
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		u := User{
			Name:          first + " " + last,
			Nickname:      fmt.Sprintf("%s.%s%d", strings.ToLower(first), asciiLower(last), i),
			EmailVerified: true,
			AddedToOrg:    start.Add(time.Duration(r.Int64N(int64(6 * 365 * 24 * time.Hour)))).Truncate(time.Second),
			ClaimStatus:   "managed",
			MFAEnabled:    r.IntN(3) > 0,
			JobTitle:      "Engineer",
			Department:    teams[r.IntN(len(teams))],
			TimeZone:      "Europe/Berlin",
		}
		for {
			u.AccountID = "712020:" + uuid()
			if !seenID[u.AccountID] {
				seenID[u.AccountID] = true
				break
			}
		}
		u.Email = u.Nickname + "@acme.example"
		switch x := r.IntN(1000); {
		case x < 5:
			u.AccountType, u.Email, u.Nickname, u.Name = "app", "", fmt.Sprintf("bot-%d", i), fmt.Sprintf("Automation %d", i)
		case x < 10:
			u.AccountStatus = "inactive"
		case x < 15:
			u.Status, u.MembershipStatus = "suspended", "suspended"
		case x < 100:
			u.ClaimStatus, u.ManagementSource = "unmanaged", "invited"
		default:
			u.ManagementSource = "synced"
		}
		d.Users = append(d.Users, u)
	}
	for i := 0; i < groups; i++ {
		g := Group{ID: uuid()}
		switch {
		case i == 0:
			g.Name, g.Description = "everyone", "Every account of the organization"
		default:
			g.Name = fmt.Sprintf("%s-%s-%d", teams[i%len(teams)], []string{"users", "admins", "readers", "team", "oncall"}[i%5], i)
			if i%3 == 0 {
				g.Description = "Team " + teams[i%len(teams)]
			}
			if i%7 == 0 {
				g.ManagedBy, g.ExternalSynced = "external", true
			}
		}
		d.Groups = append(d.Groups, g)
	}
	if groups == 0 {
		return d
	}
	empty := groups - groups/50 // groups from here on stay empty
	member := make([]map[int]bool, groups)
	for i := range member {
		member[i] = map[int]bool{}
	}
	for ui, u := range d.Users {
		member[0][ui] = true
		if u.AccountType == "app" || empty <= 1 {
			continue
		}
		for k := 1 + r.IntN(6); k > 0; k-- {
			// Skewed: low group numbers are much more likely.
			f := r.Float64()
			gi := 1 + int(f*f*f*float64(empty-1))
			member[gi][ui] = true
		}
	}
	for gi, set := range member {
		if len(set) == 0 {
			continue
		}
		idx := make([]int, 0, len(set))
		for ui := range set {
			idx = append(idx, ui)
		}
		slices.Sort(idx)
		ids := make([]string, len(idx))
		for i, ui := range idx {
			ids[i] = d.Users[ui].AccountID
		}
		d.Members[d.Groups[gi].ID] = ids
	}
	return d
}

func asciiLower(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
