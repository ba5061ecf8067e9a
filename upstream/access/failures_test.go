package access

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/access/accessfake"
)

// failsKeepingData runs a sync that must fail with an error containing
// want, and checks what dirgate then shows: the last good data still
// served, and the upstream's status in error naming the problem.
func (e *env) failsKeepingData(want string) error {
	e.t.Helper()
	_, err := e.sync(true)
	if err == nil {
		e.t.Fatalf("sync succeeded; want an error with %q", want)
	}
	e.t.Logf("sync failed as expected: %v", err)
	if !strings.Contains(err.Error(), want) {
		e.t.Errorf("error %q does not contain %q", err, want)
	}
	if _, ok := e.store.User("alice"); !ok {
		e.t.Error("the last good data is not served after the failure")
	}
	if got := e.store.GroupUsers("ops", false, true); len(got) != 2 {
		e.t.Errorf("ops members after the failure = %q", got)
	}
	st := e.status()
	if st.State != "error" || !strings.Contains(st.LastError, want) {
		e.t.Errorf("status = %s %q; want error naming %q", st.State, st.LastError, want)
	}
	if st.LastSuccess.IsZero() || st.Users != 3 {
		e.t.Errorf("status lost the last success: %+v", st)
	}
	return err
}

func TestThrottledWaitsForResetOnly(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	e.fake.ResetStats()
	e.clock.Advance(17 * time.Second) // mid-minute: the reset is 43 s away
	before := e.clock.Now()
	e.fake.Throttle(1, 0) // X-RateLimit-Reset only
	e.mustSync(true)
	st := e.fake.Stats()
	if st.Status[429] != 1 || st.EarlyRetries != 0 {
		t.Errorf("429s %d, early retries %d; want 1 and 0", st.Status[429], st.EarlyRetries)
	}
	if reset := before.Truncate(time.Minute).Add(time.Minute); e.clock.Now().Before(reset) {
		t.Errorf("the client came back at %s, before the reset %s", e.clock.Now(), reset)
	}
	// Throttled for good: the sync gives up (never early) and says why.
	e.fake.Throttle(1000, 0)
	err := e.failsKeepingData("rate limited (429)")
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("%v does not wrap ErrUnavailable", err)
	}
	if n := e.fake.Stats().EarlyRetries; n != 0 {
		t.Errorf("%d early retries", n)
	}
}

func TestThrottledRetryAfter(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	e.fake.ResetStats()
	before := e.clock.Now()
	e.fake.Throttle(2, 30*time.Second)
	e.mustSync(true)
	st := e.fake.Stats()
	if st.Status[429] != 2 || st.EarlyRetries != 0 {
		t.Errorf("429s %d, early retries %d; want 2 and 0", st.Status[429], st.EarlyRetries)
	}
	if d := e.clock.Now().Sub(before); d < 60*time.Second {
		t.Errorf("two Retry-After: 30 waits took %s", d)
	}
	e.fake.Throttle(1000, 30*time.Second)
	e.failsKeepingData("rate limited (429)")
	if n := e.fake.Stats().EarlyRetries; n != 0 {
		t.Errorf("%d early retries", n)
	}
}

func TestUnavailable503(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	// Two bare 503s: exponential backoff (5 s, 10 s), then success.
	before := e.clock.Now()
	e.fake.Unavailable(2, 0)
	e.mustSync(true)
	if d := e.clock.Now().Sub(before); d < 15*time.Second {
		t.Errorf("backoff after two 503s took %s, want at least 15s", d)
	}
	// A 503 with Retry-After is waited out as asked.
	before = e.clock.Now()
	e.fake.Unavailable(1, 40*time.Second)
	e.mustSync(true)
	if d := e.clock.Now().Sub(before); d < 40*time.Second {
		t.Errorf("Retry-After: 40 on a 503 was waited %s", d)
	}
	e.fake.Unavailable(1000, 0)
	err := e.failsKeepingData("service unavailable (503)")
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("%v does not wrap ErrUnavailable", err)
	}
}

func TestExpiredKey401(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	e.fake.ResetStats()
	e.fake.ExpireKey()
	err := e.failsKeepingData("API key rejected — it may have expired")
	if !errors.Is(err, upstream.ErrCredentials) {
		t.Errorf("%v does not wrap ErrCredentials", err)
	}
	if !strings.Contains(err.Error(), "ADMIN-401-1") {
		t.Errorf("error does not quote the API's code: %v", err)
	}
	// One request, one 401, no retries: no storm against a dead key.
	if st := e.fake.Stats(); st.Total != 1 || st.Status[401] != 1 {
		t.Errorf("requests after the key expired: %+v", st)
	}
	if strings.Contains(err.Error(), e.fake.APIKey) {
		t.Error("the error reveals the key")
	}
}

func TestForbidden403(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	e.fake.Forbid(accessfake.EndpointGroupsSearch, true)
	err := e.failsKeepingData("it needs the scope read:groups:admin")
	if !errors.Is(err, upstream.ErrRejected) {
		t.Errorf("%v does not wrap ErrRejected", err)
	}
	e.fake.Forbid(accessfake.EndpointGroupsSearch, false)

	// Without the events scope the directory is still synced (fully),
	// and status says what is missing.
	e.fake.Forbid(accessfake.EndpointEvents, true)
	run := e.mustSync(true)
	if !run.Full {
		t.Error("not a full sync")
	}
	if st := e.status(); !contains(st.Warnings, "read:events:admin") {
		t.Errorf("status warnings %q do not name the events scope", st.Warnings)
	}
	// ... and the next sync is full again, as it must be without a position.
	if run := e.mustSync(false); !run.Full {
		t.Error("a sync without an events position was incremental")
	}
}

func TestInvalidCursorRestartsOnce(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.fake.ClampLimit(1) // three pages of users
	e.mustSync(true)
	e.fake.ResetStats()
	e.fake.FailCursors(1)
	run := e.mustSync(true)
	if run.Result.Users != 3 {
		t.Errorf("users after a restarted listing: %+v", run.Result)
	}
	// The first page, the refused second, then three pages again.
	if n := e.fake.Stats().Requests[accessfake.EndpointUsersSearch]; n != 5 {
		t.Errorf("%d user pages requested, want 5", n)
	}
	e.fake.FailCursors(2)
	err := e.failsKeepingData("refused its page cursor again")
	if !strings.Contains(err.Error(), "ADMIN-400-1") {
		t.Errorf("error does not quote the API's code: %v", err)
	}
}

func TestGroupDroppedMidSync(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	e.mustSync(true)
	// devs is deleted right after the page of users that lists it (alice).
	e.fake.ClampLimit(1)
	e.fake.DropGroupAfter(e.groupID("devs"), 1)
	run := e.mustSync(true)
	if run.Result.Groups != 3 || run.Result.Users != 3 {
		t.Errorf("after the drop: %+v", run.Result)
	}
	if _, ok := e.store.Group("devs"); ok {
		t.Error("the dropped group is still served")
	}
	if got := e.store.GroupUsers("ops", false, true); len(got) != 2 {
		t.Errorf("ops = %q", got)
	}
	st := e.status()
	if st.State != "connected" || !contains(st.Warnings, "skipped") {
		t.Errorf("status %s, warnings %q: want connected with a warning about the skipped group", st.State, st.Warnings)
	}
	// The next sync has nothing to skip: the warning goes.
	e.mustSync(true)
	if st := e.status(); contains(st.Warnings, "skipped") {
		t.Errorf("warning kept: %q", st.Warnings)
	}
}

func TestGroupDroppedMidSyncGetLists(t *testing.T) {
	e := newEnv(t, accessfake.Small(), func(c *Config) { c.Concurrency = 1 })
	e.fake.DisableSearch(true)
	e.mustSync(true)
	// Users: one page (request 1); members of devs (request 2, groups go
	// by ID); then ops is deleted before its own member listing.
	e.fake.DropGroupAfter(e.groupID("ops"), 2)
	run := e.mustSync(true)
	if run.Result.Groups != 3 {
		t.Errorf("after the drop: %+v", run.Result)
	}
	if _, ok := e.store.Group("ops"); ok {
		t.Error("the dropped group is still served")
	}
	if st := e.status(); st.State != "connected" || !contains(st.Warnings, "skipped") {
		t.Errorf("status %s, warnings %q", st.State, st.Warnings)
	}
}

func TestKeyExpiryDate(t *testing.T) {
	// t0 is 2026-05-02: a key that expired on April 30 stops syncs at
	// once, before any request.
	e := newEnv(t, accessfake.Small(), func(c *Config) { c.APIKeyExpires = "2026-04-30" })
	_, err := e.sync(true)
	if !errors.Is(err, upstream.ErrCredentials) || !strings.Contains(err.Error(), "expired on 2026-04-30") {
		t.Fatalf("sync with an expired key: %v", err)
	}
	if n := e.fake.Stats().Total; n != 0 {
		t.Errorf("%d requests with a key known to be expired", n)
	}
	if day, ok := e.up.CredentialExpiry(); !ok || !day.Equal(time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("CredentialExpiry = %v %v", day, ok)
	}
	if st := e.status(); st.State != "error" || !strings.Contains(st.LastError, "expired on 2026-04-30") || !contains(st.Warnings, "expired on 2026-04-30") {
		t.Errorf("status %+v", st)
	}

	for _, tc := range []struct {
		day  string
		warn string // "" for none
	}{
		{"2026-05-02", "expires on 2026-05-02 (in 0 days)"}, // works through its day
		{"2026-05-10", "expires on 2026-05-10 (in 8 days)"},
		{"2026-05-15", "expires on 2026-05-15 (in 13 days)"},
		{"2026-05-16", ""},
		{"2027-06-30", ""},
	} {
		e := newEnv(t, accessfake.Small(), func(c *Config) { c.APIKeyExpires = tc.day })
		e.mustSync(true)
		w := e.up.Warnings()
		if tc.warn == "" && len(w) != 0 || tc.warn != "" && !contains(w, tc.warn) {
			t.Errorf("%s: warnings %q, want %q", tc.day, w, tc.warn)
		}
		if tc.warn != "" && !contains(e.status().Warnings, tc.warn) {
			t.Errorf("%s: status warnings %q", tc.day, e.status().Warnings)
		}
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t, accessfake.Small(), nil)
	if err := e.up.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, accessfake.Small(), func(c *Config) { c.DirectoryID = "no-such-dir" })
	if err := e2.up.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "no-such-dir") {
		t.Errorf("Check with an unknown directory: %v", err)
	}
	e3 := newEnv(t, accessfake.Small(), func(c *Config) { c.OrgID = "other-org" })
	if err := e3.up.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "check org_id") {
		t.Errorf("Check with an unknown org: %v", err)
	}
}
