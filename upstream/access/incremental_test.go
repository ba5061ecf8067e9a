package access

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/upstream/access/accessfake"
)

// checkSameAsFull fails unless the store serves exactly what a full sync
// of the fake's current content gives.
func (e *env) checkSameAsFull(what string) {
	e.t.Helper()
	got, want := dump(e.store), e.fullDump()
	if got != want {
		e.t.Errorf("%s: the store differs from a full sync\n got:\n%s\nwant:\n%s", what, diffLines(got, want), diffLines(want, got))
	}
}

// diffLines returns the lines of a that b lacks.
func diffLines(a, b string) string {
	have := map[string]bool{}
	for _, l := range strings.Split(b, "\n") {
		have[l] = true
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !have[l] {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestIncrementalMatchesFull(t *testing.T) {
	e := newEnv(t, accessfake.Generate(7, 300, 30), nil)
	if run := e.mustSync(false); !run.Full {
		t.Fatal("the first sync must be full")
	}
	users, groups := e.fake.Users(), e.fake.Groups()
	f := e.fake

	// Round 1: every kind of change.
	newID, err := f.AddUser(accessfake.User{Nickname: "zed", Name: "Zed Zulu", Email: "zed@acme.example"})
	must(t, err)
	must(t, f.UpdateUser(users[1].AccountID, func(u *accessfake.User) { u.Email = "changed@acme.example"; u.Name = "Renamed Person" }))
	must(t, f.UpdateUser(users[2].AccountID, func(u *accessfake.User) { u.AccountStatus = "inactive" }))
	must(t, f.RemoveUser(users[3].AccountID))
	gid, err := f.AddGroup(accessfake.Group{Name: "new-team", Description: "fresh"})
	must(t, err)
	must(t, f.SetMembers(gid, []string{newID, users[4].AccountID, users[5].AccountID}))
	must(t, f.UpdateGroup(groups[2].ID, func(g *accessfake.Group) { g.Name = "renamed-group"; g.Description = "renamed" }))
	must(t, f.DeleteGroup(groups[3].ID))
	must(t, f.AddMember(groups[4].ID, users[6].AccountID))
	if m := f.Members(groups[5].ID); len(m) > 0 {
		must(t, f.RemoveMember(groups[5].ID, m[0]))
	}
	f.ResetStats()
	run := e.mustSync(false)
	if run.Full {
		t.Fatalf("the sync after round 1 was full: %+v", e.status().Warnings)
	}
	st := f.Stats()
	t.Logf("round 1 incremental: %d requests %v", st.Total, st.Requests)
	if st.Requests[accessfake.EndpointEvents] != 1 {
		t.Errorf("events requests %d, want 1", st.Requests[accessfake.EndpointEvents])
	}
	e.checkSameAsFull("round 1")
	if run.Result.UsersDeleted != 1 || run.Result.GroupsDeleted != 1 || run.Result.UsersAdded != 1 || run.Result.GroupsAdded != 1 {
		t.Errorf("round 1 result %+v", run.Result)
	}

	// Round 2: a user leaves every group and is removed; a group is
	// emptied; a member added and removed again (net nothing).
	u := users[10].AccountID
	for _, g := range e.fake.Groups() {
		must(t, f.RemoveMember(g.ID, u))
	}
	must(t, f.RemoveUser(u))
	must(t, f.SetMembers(groups[6].ID, nil))
	must(t, f.AddMember(groups[7].ID, users[11].AccountID))
	must(t, f.RemoveMember(groups[7].ID, users[11].AccountID))
	if run := e.mustSync(false); run.Full {
		t.Fatal("the sync after round 2 was full")
	}
	e.checkSameAsFull("round 2")

	// Nothing changed: an incremental sync reads one page of events and
	// changes nothing.
	f.ResetStats()
	if run := e.mustSync(false); run.Full || run.Result.Changed() {
		t.Errorf("an idle incremental sync: %+v", run)
	}
	if st := f.Stats(); st.Total != 1 {
		t.Errorf("an idle incremental sync made %d requests: %v", st.Total, st.Requests)
	}

	// Changes made while a full sync lists are replayed by the next
	// incremental one: the position is taken before the listing. After
	// the third page of users: a new account that sorts first (the
	// listing is past it), a change to an account already listed, and a
	// group deleted.
	f.ClampLimit(50)
	first := e.fake.Users()[0]
	f.AfterUsersPages(3, func() {
		_, err := f.AddUser(accessfake.User{AccountID: "000-early", Nickname: "early", Name: "Early Bird"})
		must(t, err)
		must(t, f.UpdateUser(first.AccountID, func(u *accessfake.User) { u.Name = "Changed Midway" }))
		must(t, f.AddMember(groups[9].ID, "000-early"))
		must(t, f.DeleteGroup(groups[8].ID))
	})
	e.mustSync(true)
	if _, ok := e.store.User("early"); ok {
		t.Fatal("the test is broken: the listing saw the account added behind it")
	}
	f.ClampLimit(0)
	if run := e.mustSync(false); run.Full {
		t.Fatal("the sync after the full one was full")
	}
	if u, ok := e.store.User("early"); !ok || !slices.Contains(e.store.UserGroups("early", false, true), groups[9].Name) {
		t.Errorf("the account added during the full sync: %v %+v", ok, u.Rec)
	}
	e.checkSameAsFull("after changes during a full sync")
}

func TestIncrementalGetLists(t *testing.T) {
	e := newEnv(t, accessfake.Generate(11, 120, 12), nil)
	e.fake.DisableSearch(true)
	e.mustSync(true)
	e.checkSameAsFull("full sync through the GET lists")
	users, groups := e.fake.Users(), e.fake.Groups()
	must(t, e.fake.UpdateUser(users[0].AccountID, func(u *accessfake.User) { u.Email = "x@acme.example" }))
	must(t, e.fake.AddMember(groups[3].ID, users[1].AccountID))
	must(t, e.fake.RemoveUser(users[2].AccountID))
	must(t, e.fake.DeleteGroup(groups[4].ID))
	e.fake.ResetStats()
	if run := e.mustSync(false); run.Full {
		t.Fatal("not incremental")
	}
	if st := e.fake.Stats(); st.Requests[accessfake.EndpointUsersSearch]+st.Requests[accessfake.EndpointGroupsSearch] != 0 {
		t.Errorf("the POST searches were tried again: %v", st.Requests)
	}
	e.checkSameAsFull("incremental through the GET lists")
}

func TestSearchAndGetListsAgree(t *testing.T) {
	data := accessfake.Generate(3, 250, 25)
	a := newEnv(t, data, nil)
	b := newEnv(t, data, nil)
	b.fake.DisableSearch(true)
	a.mustSync(true)
	b.mustSync(true)
	if da, db := dump(a.store), dump(b.store); da != db {
		t.Errorf("search and GET syncs differ:\n%s\n---\n%s", diffLines(da, db), diffLines(db, da))
	}
	// The GET way costs a member listing per group.
	sa, sb := a.fake.Stats(), b.fake.Stats()
	t.Logf("search: %d requests %v; get: %d requests %v", sa.Total, sa.Requests, sb.Total, sb.Requests)
	if sb.Total <= sa.Total+len(data.Groups)-1 {
		t.Errorf("GET sync made %d requests, search %d", sb.Total, sa.Total)
	}
}

func TestShortPagesBeforeTheEnd(t *testing.T) {
	e := newEnv(t, accessfake.Generate(7, 450, 230), nil)
	e.fake.ShortPages(true)
	run := e.mustSync(true)
	var want int
	for _, u := range e.fake.Users() {
		if u.AccountType != "app" {
			want++
		}
	}
	if run.Result.Users != want || run.Result.Groups != 230 {
		t.Errorf("with short pages: %+v, want %d users and 230 groups", run.Result, want)
	}
	if n := e.fake.Stats().Total; n <= minFullSyncRequests(450, 230, DefaultPageSize, true) {
		t.Errorf("%d requests: the pages were not short", n)
	}
	e.fake.ShortPages(false)
	e.checkSameAsFull("short pages")
}

func TestDuplicatesDropped(t *testing.T) {
	e := newEnv(t, accessfake.Generate(5, 57, 9), nil)
	e.fake.ClampLimit(7)
	e.fake.OverlapPages(true)
	run := e.mustSync(true)
	var want int
	for _, u := range e.fake.Users() {
		if u.AccountType != "app" {
			want++
		}
	}
	if run.Result.Users != want || run.Result.Skipped != 0 {
		t.Errorf("with overlapping pages: %+v, want %d users", run.Result, want)
	}
	e.fake.OverlapPages(false)
	e.fake.ClampLimit(0)
	e.checkSameAsFull("overlapping pages")
}

func TestEventsCursorExpired(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	e.fake.ExpireCursors()
	must(t, e.fake.UpdateUser(e.userID("bob"), func(u *accessfake.User) { u.Email = "bob@else.example" }))
	run := e.mustSync(false)
	if !run.Full {
		t.Error("an expired events cursor did not lead to a full sync")
	}
	if b, _ := e.store.User("bob"); b.Rec.Email != "bob@else.example" {
		t.Errorf("bob = %+v", b.Rec)
	}
	if st := e.status(); !contains(st.Warnings, "refused the stored cursor") {
		t.Errorf("status warnings %q", st.Warnings)
	}
	// The full sync took a fresh position: the next one is incremental.
	if run := e.mustSync(false); run.Full {
		t.Error("still full")
	}
}

func TestUnknownEvents(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	// Unrelated to the directory: ignored.
	e.fake.AppendEvent(accessfake.Event{Action: "policy_updated", Context: []accessfake.Ref{{ID: "p1", Type: "policies"}}})
	if run := e.mustSync(false); run.Full {
		t.Error("an unrelated event forced a full sync")
	}
	// Unknown but about a user: a full sync, and status says why.
	e.fake.AppendEvent(accessfake.Event{Action: "user_mfa_reset", Context: []accessfake.Ref{{ID: e.userID("alice"), Type: "users"}}})
	if run := e.mustSync(false); !run.Full {
		t.Error("an unknown user event did not force a full sync")
	}
	if st := e.status(); !contains(st.Warnings, `"user_mfa_reset"`) {
		t.Errorf("status warnings %q", st.Warnings)
	}
	// A known action without the context it needs: a full sync too.
	e.fake.AppendEvent(accessfake.Event{Action: accessfake.ActionUserAddedToGroup})
	if run := e.mustSync(false); !run.Full {
		t.Error("an unmappable event did not force a full sync")
	}
	// Back to normal.
	if run := e.mustSync(false); run.Full {
		t.Error("still full")
	}
}

func TestEventBacklogAndCost(t *testing.T) {
	e := newEnv(t, accessfake.Generate(9, 400, 10), nil)
	e.mustSync(true)
	// More events than one incremental sync reads: a full sync. (Three
	// pages rather than the real maxEventPages, to keep the test fast.)
	e.up.eventPages = 3
	id := e.fake.Users()[0].AccountID
	for i := 0; i < e.up.eventPages*eventsLimit+1; i++ {
		e.fake.AppendEvent(accessfake.Event{Action: "user_updated", Context: []accessfake.Ref{{ID: id, Type: "users"}}})
	}
	if run := e.mustSync(false); !run.Full {
		t.Error("a backlog did not lead to a full sync")
	}
	if st := e.status(); !contains(st.Warnings, "more than 1500 events") {
		t.Errorf("status warnings %q", st.Warnings)
	}
	// Changes to most users: refetching them costs more than a full sync.
	for i, u := range e.fake.Users() {
		if i%4 != 0 {
			must(t, e.fake.UpdateUser(u.AccountID, func(u *accessfake.User) { u.Department = "moved" }))
		}
	}
	if run := e.mustSync(false); !run.Full {
		t.Error("300 changed users were refetched ten at a time")
	}
	e.checkSameAsFull("after the cost fallback")
}

// TestEventsPacer runs incremental syncs back to back: the events stream
// must never see more than 10 requests in any minute (its limit), and
// never answer 429.
func TestEventsPacer(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	ops := e.groupID("ops")
	alice := e.userID("alice")
	for i := 0; i < 30; i++ {
		if i%2 == 0 {
			must(t, e.fake.AddMember(ops, alice))
		} else {
			must(t, e.fake.RemoveMember(ops, alice))
		}
		if run := e.mustSync(false); run.Full {
			t.Fatalf("sync %d was full", i)
		}
	}
	times := e.fake.EventsRequestTimes()
	if len(times) != 31 {
		t.Fatalf("%d events requests, want 31", len(times))
	}
	for i := 0; i+10 < len(times); i++ {
		if d := times[i+10].Sub(times[i]); d < time.Minute {
			t.Fatalf("11 events requests within %s (requests %d to %d)", d, i, i+10)
		}
	}
	if st := e.fake.Stats(); st.Status[429] != 0 {
		t.Errorf("%d answers were 429", st.Status[429])
	}
	if e.clock.Now().Sub(t0) > 31*EventsInterval+time.Second {
		t.Errorf("pacing waited longer than needed: %s", e.clock.Now().Sub(t0))
	}
	e.checkSameAsFull("after 30 incremental syncs")
}

func TestEventsOff(t *testing.T) {
	off := false
	e := newEnv(t, accessfake.Small(), func(c *Config) { c.Events = &off })
	e.mustSync(true)
	if run := e.mustSync(false); !run.Full {
		t.Error("events: false still synced incrementally")
	}
	if n := e.fake.Stats().Requests[accessfake.EndpointEvents]; n != 0 {
		t.Errorf("%d events requests with events off", n)
	}
}

func TestUsernameMapping(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{UsernameNickname, "alice"}, {UsernameEmail, "alice@example.com"},
		{UsernameAccountID, fmt.Sprintf("712020:%08x-0000-4000-8000-%012x", 1, 1)},
	} {
		e := newEnv(t, accessfake.Small(), func(c *Config) { c.Username = tc.mode })
		e.mustSync(true)
		u, ok := e.store.User(tc.want)
		if !ok || u.Rec.FirstName != "Alice" || u.Rec.LastName != "Liddell" || u.Rec.DisplayName != "Alice Liddell" {
			t.Errorf("username %s: %q not found or wrong: %+v", tc.mode, tc.want, u.Rec)
		}
	}
}
