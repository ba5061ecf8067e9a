package jirafake

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Account types (the User schema's accountType).
const (
	TypeAtlassian = "atlassian"
	TypeApp       = "app"
	TypeCustomer  = "customer"
	TypeUnknown   = "unknown"
)

// User is one account of the fake site.
type User struct {
	// AccountID is the opaque account ID; AddUser makes one when empty.
	AccountID string
	// AccountType is atlassian (when empty), app, customer or unknown.
	AccountType string
	// Email is the account's address: what Basic authentication uses. It is
	// absent from every listing when EmailHidden is set (privacy settings),
	// and shown only to the account itself (/myself).
	Email       string
	EmailHidden bool
	DisplayName string
	// Inactive accounts are listed by users/search, and by group/member
	// only with includeInactiveUsers=true.
	Inactive bool
	TimeZone string
	Locale   string
	// APIToken, when set, is the account's own API token: Basic
	// Email:APIToken authenticates as this account (never as an admin).
	APIToken string
}

// Group is one group of the fake site. Members are account IDs.
type Group struct {
	// ID is the groupId; AddGroup makes one when empty.
	ID      string
	Name    string
	Members []string
}

// Dataset is what a fake site holds at start.
type Dataset struct {
	Users  []User
	Groups []Group
}

// Big is the benchmark's dataset: Generate(1, 10000, 500).
func Big() Dataset { return Generate(1, 10000, 500) }

var (
	firstNames = []string{"Ann", "Bob", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kofi",
		"Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wim", "Xenia", "Yusuf", "Zoe"}
	lastNames = []string{"Lee", "Okafor", "Schmidt", "Novak", "Garcia", "Tanaka", "Haddad", "Rossi", "Kowalski",
		"Nguyen", "Silva", "Murphy", "Dubois", "Jansen", "Petrov", "Ali", "Moreau", "Larsen", "Costa", "Weber"}
	timeZones = []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "UTC", ""}
	locales   = []string{"en_US", "en_GB", "de_DE", "ja_JP", "fr_FR", ""}
	teamWords = []string{"platform", "mobile", "payments", "search", "infra", "design", "support", "sales",
		"security", "data", "qa", "docs", "growth", "billing", "identity", "legal"}
)

// Generate makes a deterministic dataset from seed: users accounts (about
// 2% app and 3% customer accounts, 6% inactive, 4% of the people with a
// hidden e-mail address) and groups groups (the default
// jira-software-users with every active person, site-admins,
// atlassian-addons-admin with the apps, and teams of log-uniform sizes up to
// 400 drawn from all people, a few of them empty).
func Generate(seed uint64, users, groups int) Dataset {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var ds Dataset
	var people, active, apps []string
	for i := range users {
		u := User{
			AccountID:   accountID(r),
			AccountType: TypeAtlassian,
			TimeZone:    timeZones[r.IntN(len(timeZones))],
			Locale:      locales[r.IntN(len(locales))],
		}
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		switch k := r.IntN(100); {
		case k < 2:
			u.AccountType = TypeApp
			w := teamWords[r.IntN(len(teamWords))]
			u.DisplayName = fmt.Sprintf("%s%s bot %d", strings.ToUpper(w[:1]), w[1:], i)
			u.Email = fmt.Sprintf("app-%d@connect.atlassian.com", i)
			u.EmailHidden = true
			u.TimeZone, u.Locale = "", ""
		case k < 5:
			u.AccountType = TypeCustomer
			u.DisplayName = first + " " + last
			u.Email = fmt.Sprintf("%s.%s.%d@customer.example", strings.ToLower(first), strings.ToLower(last), i)
		default:
			u.DisplayName = first + " " + last
			u.Email = fmt.Sprintf("%s.%s.%d@acme.example", strings.ToLower(first), strings.ToLower(last), i)
			u.EmailHidden = r.IntN(100) < 4
		}
		u.Inactive = r.IntN(100) < 6
		ds.Users = append(ds.Users, u)
		switch u.AccountType {
		case TypeAtlassian:
			people = append(people, u.AccountID)
			if !u.Inactive {
				active = append(active, u.AccountID)
			}
		case TypeApp:
			apps = append(apps, u.AccountID)
		}
	}
	pick := func(n int) []string {
		n = min(n, len(people))
		out := make([]string, 0, n)
		for _, j := range r.Perm(len(people))[:n] {
			out = append(out, people[j])
		}
		return out
	}
	for i := range groups {
		g := Group{ID: uuid(r)}
		switch i {
		case 0:
			g.Name, g.Members = "jira-software-users", append([]string(nil), active...)
		case 1:
			g.Name, g.Members = "site-admins", pick(5)
		case 2:
			g.Name, g.Members = "atlassian-addons-admin", append([]string(nil), apps...)
		default:
			g.Name = fmt.Sprintf("team-%s-%03d", teamWords[r.IntN(len(teamWords))], i)
			if r.IntN(100) >= 3 {
				g.Members = pick(int(math.Exp(r.Float64() * math.Log(400))))
			}
		}
		ds.Groups = append(ds.Groups, g)
	}
	return ds
}

func uuid(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0xfff, b&0xffffffffffff)
}

func accountID(r *rand.Rand) string { return "712020:" + uuid(r) }
