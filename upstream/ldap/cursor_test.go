package ldap

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/upstream"
)

func TestCursorDecode(t *testing.T) {
	good := []string{
		`{"v":1,"mode":"modifyTimestamp","since":"20261122063812Z","config":"x"}`,
		`{"v":1,"mode":"uSNChanged","usn":42,"server":"CN=DC1","config":"x"}`,
	}
	for _, s := range good {
		if _, err := decodeCursor([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		``, `null`, `{`, `[]`,
		`{"v":2,"mode":"modifyTimestamp","since":"20261122063812Z"}`,
		`{"v":1,"mode":"modifyTimestamp","since":"yesterday"}`,
		`{"v":1,"mode":"modifyTimestamp"}`,
		`{"v":1,"mode":"uSNChanged","usn":42}`,
		`{"v":1,"mode":"uSNChanged","server":"CN=DC1"}`,
		`{"v":1,"mode":"none"}`,
		`{"v":1,"mode":"entryCSN","since":"20261122063812Z"}`,
	}
	for _, s := range bad {
		if c, err := decodeCursor([]byte(s)); err == nil {
			t.Errorf("%s: decoded to %+v, want an error", s, c)
		}
	}
}

func TestCursorFilterAndUsable(t *testing.T) {
	ts := &cursor{V: 1, Mode: IncrementalModifyTimestamp, Since: "20261122063812Z", Config: "h"}
	if got, want := ts.filter("(objectClass=inetOrgPerson)"), "(&(objectClass=inetOrgPerson)(modifyTimestamp>=20261122063812Z))"; got != want {
		t.Errorf("filter = %s, want %s", got, want)
	}
	usn := &cursor{V: 1, Mode: IncrementalUSNChanged, USN: 41, Server: "CN=DC1", Config: "h"}
	if got, want := usn.filter("(&(objectCategory=person)(objectClass=user))"), "(&(&(objectCategory=person)(objectClass=user))(uSNChanged>=42))"; got != want {
		t.Errorf("filter = %s, want %s", got, want)
	}
	for _, f := range []string{ts.filter("(cn=*)"), usn.filter("(cn=*)")} {
		if _, err := goldap.CompileFilter(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	if why := ts.usable(IncrementalModifyTimestamp, "h", ""); why != "" {
		t.Errorf("usable: %s", why)
	}
	if why := ts.usable(IncrementalUSNChanged, "h", "CN=DC1"); why == "" {
		t.Error("a modifyTimestamp cursor drives a uSNChanged sync")
	}
	if why := ts.usable(IncrementalModifyTimestamp, "other", ""); why == "" {
		t.Error("a cursor survives changed search settings")
	}
	if why := usn.usable(IncrementalUSNChanged, "h", "CN=DC1"); why != "" {
		t.Errorf("usable: %s", why)
	}
	if why := usn.usable(IncrementalUSNChanged, "h", "CN=DC2"); !strings.Contains(why, "DC2") {
		t.Errorf("a USN from DC1 used on DC2: %q", why)
	}
}

func TestTracker(t *testing.T) {
	tr := newTracker(IncrementalModifyTimestamp, nil)
	tr.see("20260101000000Z", "a")
	tr.see("20260101000005Z", "b")
	tr.see("20260101000001Z", "c")
	tr.see("20260101000005Z", "d")
	tr.see("", "e")
	var c cursor
	if err := json.Unmarshal(tr.cursor("h", "ldap://x", "", 0), &c); err != nil {
		t.Fatal(err)
	}
	if c.Since != "20260101000005Z" || !slices.Equal(c.At, []string{"b", "d"}) || c.URL != "ldap://x" || c.Config != "h" {
		t.Errorf("cursor %+v", c)
	}

	// An incremental sync never moves the cursor backwards.
	tr = newTracker(IncrementalModifyTimestamp, &c)
	if got := tr.cursor("h", "ldap://x", "", 0); !strings.Contains(string(got), `"since":"20260101000005Z"`) {
		t.Errorf("empty incremental sync: %s", got)
	}

	// Too many entries in the newest second: no "at" list.
	tr = newTracker(IncrementalModifyTimestamp, nil)
	for i := range maxBoundary + 1 {
		tr.see("20260101000005Z", strconv.Itoa(i))
	}
	if got := tr.cursor("h", "", "", 0); strings.Contains(string(got), `"at"`) {
		t.Errorf("overflowing cursor: %.100s", got)
	}
	tr.see("20260101000006Z", "new")
	if got := tr.cursor("h", "", "", 0); !strings.Contains(string(got), `"at":["new"]`) {
		t.Errorf("after overflow: %s", got)
	}

	// Nothing seen: no cursor, the next sync is full.
	if got := newTracker(IncrementalModifyTimestamp, nil).cursor("h", "", "", 0); got != nil {
		t.Errorf("cursor without timestamps: %s", got)
	}
	if got := newTracker(IncrementalNone, nil).cursor("h", "", "", 0); got != nil {
		t.Errorf("cursor in mode none: %s", got)
	}

	// uSNChanged prefers highestCommittedUSN, falls back to the highest seen.
	tr = newTracker(IncrementalUSNChanged, nil)
	tr.seeUSN(7)
	tr.seeUSN(5)
	if got := string(tr.cursor("h", "", "CN=DC1", 9)); !strings.Contains(got, `"usn":9`) || !strings.Contains(got, `"server":"CN=DC1"`) {
		t.Errorf("usn cursor: %s", got)
	}
	if got := string(tr.cursor("h", "", "CN=DC1", 0)); !strings.Contains(got, `"usn":7`) {
		t.Errorf("usn cursor without highestCommittedUSN: %s", got)
	}
}

// fakeAD answers searches the way Active Directory does: a root DSE with
// dsServiceName and highestCommittedUSN, paged results, and member values in
// ranges of two.
type fakeAD struct {
	t        *testing.T
	server   string
	usn      int64
	users    []*goldap.Entry
	groups   []*goldap.Entry
	filters  []string // filters of the subtree searches
	pageSize uint32
}

func (f *fakeAD) Search(req *goldap.SearchRequest) (*goldap.SearchResult, error) {
	res := &goldap.SearchResult{}
	switch {
	case req.BaseDN == "" && req.Scope == goldap.ScopeBaseObject:
		res.Entries = []*goldap.Entry{goldap.NewEntry("", map[string][]string{
			"dsServiceName":       {f.server},
			"highestCommittedUSN": {strconv.FormatInt(f.usn, 10)},
		})}
		return res, nil
	case req.Scope == goldap.ScopeBaseObject: // a range of a group's members
		if len(req.Attributes) != 1 {
			f.t.Fatalf("range read of %v", req.Attributes)
		}
		_, low, _, _, ok := parseRange(req.Attributes[0])
		if !ok {
			f.t.Fatalf("range read of %v", req.Attributes)
		}
		for _, g := range f.groups {
			if strings.EqualFold(g.DN, req.BaseDN) {
				all := g.GetAttributeValues("fullMember")
				res.Entries = []*goldap.Entry{rangedEntry(g.DN, all, low)}
				return res, nil
			}
		}
		return nil, goldap.NewError(goldap.LDAPResultNoSuchObject, fmt.Errorf("no %s", req.BaseDN))
	}
	f.filters = append(f.filters, req.Filter)
	var entries []*goldap.Entry
	switch req.BaseDN {
	case "CN=Users,DC=corp,DC=example":
		entries = f.users
	case "CN=Groups,DC=corp,DC=example":
		for _, g := range f.groups {
			entries = append(entries, rangedEntry(g.DN, g.GetAttributeValues("fullMember"), 0, g.Attributes...))
		}
	}
	// Incremental: keep the entries at or above the USN in the filter.
	if _, after, ok := strings.Cut(req.Filter, "(uSNChanged>="); ok {
		min, _ := strconv.ParseInt(strings.TrimRight(after, ")"), 10, 64)
		entries = slices.DeleteFunc(slices.Clone(entries), func(e *goldap.Entry) bool {
			n, _ := strconv.ParseInt(e.GetAttributeValue("uSNChanged"), 10, 64)
			return n < min
		})
	}
	paging, _ := goldap.FindControl(req.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
	if paging == nil {
		f.t.Fatal("search without paging")
	}
	f.pageSize = paging.PagingSize
	offset := 0
	if len(paging.Cookie) > 0 {
		offset, _ = strconv.Atoi(string(paging.Cookie))
	}
	end := min(offset+int(paging.PagingSize), len(entries))
	res.Entries = entries[offset:end]
	next := goldap.NewControlPaging(0)
	if end < len(entries) {
		next.SetCookie([]byte(strconv.Itoa(end)))
	}
	res.Controls = []goldap.Control{next}
	return res, nil
}

// rangedEntry returns an entry with member values from low on, at most two,
// named as AD names ranges.
func rangedEntry(dn string, all []string, low int, other ...*goldap.EntryAttribute) *goldap.Entry {
	e := &goldap.Entry{DN: dn}
	for _, a := range other {
		if a.Name != "fullMember" {
			e.Attributes = append(e.Attributes, a)
		}
	}
	high := min(low+2, len(all))
	name := fmt.Sprintf("member;range=%d-%d", low, high-1)
	if high == len(all) {
		name = fmt.Sprintf("member;range=%d-*", low)
	}
	if low == 0 && high == len(all) {
		name = "member"
	}
	e.Attributes = append(e.Attributes, goldap.NewEntryAttribute(name, all[low:high]))
	return e
}

func adEntry(dn string, usn int, attrs map[string][]string) *goldap.Entry {
	attrs["uSNChanged"] = []string{strconv.Itoa(usn)}
	attrs["whenCreated"] = []string{"20240102030405.0Z"}
	attrs["whenChanged"] = []string{"20250102030405.0Z"}
	e := goldap.NewEntry(dn, attrs)
	guid := []byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, byte(usn)}
	e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: "objectGUID", Values: []string{string(guid)}, ByteValues: [][]byte{guid}})
	return e
}

// TestSyncActiveDirectory runs the uSNChanged path against fakeAD.
func TestSyncActiveDirectory(t *testing.T) {
	cfg := validConfig()
	cfg.Incremental = IncrementalUSNChanged
	cfg.UserBase = "CN=Users,DC=corp,DC=example"
	cfg.GroupBase = "CN=Groups,DC=corp,DC=example"
	cfg.UserFilter = "(&(objectCategory=person)(objectClass=user))"
	cfg.GroupFilter = "(objectClass=group)"
	cfg.Attributes.Username = "sAMAccountName"
	cfg.PageSize = 2
	u, err := Open("ad", cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()

	user := func(name string, usn int, uac string) *goldap.Entry {
		return adEntry("CN="+name+",CN=Users,DC=corp,DC=example", usn, map[string][]string{
			"sAMAccountName": {name}, "cn": {name}, "userAccountControl": {uac}, "mail": {name + "@corp.example"},
		})
	}
	fake := &fakeAD{t: t, server: "CN=NTDS Settings,CN=DC1,CN=Servers,DC=corp,DC=example", usn: 100,
		users: []*goldap.Entry{user("Ann", 10, "512"), user("Ben", 11, "514"), user("Cid", 12, "66048")},
	}
	members := []string{"CN=Ann,CN=Users,DC=corp,DC=example", "CN=Ben,CN=Users,DC=corp,DC=example",
		"CN=Cid,CN=Users,DC=corp,DC=example", "CN=Small,CN=Groups,DC=corp,DC=example", "CN=Nobody,CN=Users,DC=corp,DC=example"}
	big := adEntry("CN=Big,CN=Groups,DC=corp,DC=example", 20, map[string][]string{"cn": {"Big"}, "fullMember": members})
	small := adEntry("CN=Small,CN=Groups,DC=corp,DC=example", 21, map[string][]string{"cn": {"Small"}, "fullMember": members[:1]})
	fake.groups = []*goldap.Entry{big, small}

	run := func(req upstream.SyncRequest) *upstream.SyncResult {
		t.Helper()
		s := u.newSync("ldap://dc1.corp.example")
		res, err := s.run(context.Background(), fake, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := run(upstream.SyncRequest{})
	if !res.Full || len(res.Users) != 3 || len(res.Groups) != 2 {
		t.Fatalf("full sync: full=%v, %d users, %d groups", res.Full, len(res.Users), len(res.Groups))
	}
	if fake.pageSize != 2 {
		t.Errorf("page size %d", fake.pageSize)
	}
	ann, ben, cid := res.Users[0], res.Users[1], res.Users[2]
	if ann.Username != "Ann" || ann.Key != "cn=ann,cn=users,dc=corp,dc=example" || !ann.Active ||
		ann.ExternalID != "00112233-4455-6677-8899-aabbccddee0a" || ann.Email != "Ann@corp.example" || ann.DisplayName != "Ann" ||
		ann.Created.Year() != 2024 || ann.Updated.Year() != 2025 {
		t.Errorf("Ann: %+v", ann)
	}
	if ben.Active || !cid.Active {
		t.Errorf("userAccountControl: Ben (514) active=%v, Cid (66048) active=%v", ben.Active, cid.Active)
	}
	wantMembers := []string{"cn=ann,cn=users,dc=corp,dc=example", "cn=ben,cn=users,dc=corp,dc=example",
		"cn=cid,cn=users,dc=corp,dc=example", "cn=small,cn=groups,dc=corp,dc=example", "cn=nobody,cn=users,dc=corp,dc=example"}
	if g := res.Groups[0]; g.Name != "Big" || !slices.Equal(g.Members, wantMembers) || g.Attributes != nil {
		t.Errorf("ranged group: %+v", g)
	}
	if g := res.Groups[1]; !slices.Equal(g.Members, wantMembers[:1]) {
		t.Errorf("small group: %+v", g)
	}
	var c cursor
	if err := json.Unmarshal(res.Cursor, &c); err != nil || c.Mode != IncrementalUSNChanged || c.USN != 100 || c.Server != fake.server {
		t.Fatalf("cursor %s: %v", res.Cursor, err)
	}

	// Incremental: only what changed after USN 100.
	fake.users[1] = user("Ben", 101, "512")
	fake.usn = 101
	fake.filters = nil
	res = run(upstream.SyncRequest{Cursor: res.Cursor})
	if res.Full || len(res.Users) != 1 || res.Users[0].Username != "Ben" || !res.Users[0].Active || len(res.Groups) != 0 {
		t.Fatalf("incremental: %+v", res)
	}
	if want := "(&(&(objectCategory=person)(objectClass=user))(uSNChanged>=101))"; fake.filters[0] != want {
		t.Errorf("filter %s, want %s", fake.filters[0], want)
	}
	if !strings.Contains(string(res.Cursor), `"usn":101`) {
		t.Errorf("cursor %s", res.Cursor)
	}

	// Another domain controller: USNs are not comparable, full sync.
	cursor := res.Cursor
	fake.server = "CN=NTDS Settings,CN=DC2,CN=Servers,DC=corp,DC=example"
	if res = run(upstream.SyncRequest{Cursor: cursor}); !res.Full || len(res.Users) != 3 {
		t.Errorf("cursor from DC1 on DC2: full=%v, %d users", res.Full, len(res.Users))
	}
	// Full requested.
	fake.server = "CN=NTDS Settings,CN=DC1,CN=Servers,DC=corp,DC=example"
	if res = run(upstream.SyncRequest{Cursor: cursor, Full: true}); !res.Full {
		t.Error("Full request answered incrementally")
	}
}
