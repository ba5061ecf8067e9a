package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// scripted is an upstream whose answers the test sets.
type scripted struct {
	mu    sync.Mutex
	res   *upstream.SyncResult
	err   error
	calls []upstream.SyncRequest
}

func (f *scripted) set(res *upstream.SyncResult, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.res, f.err = res, err
}

func (f *scripted) Sync(ctx context.Context, req upstream.SyncRequest) (*upstream.SyncResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.res, f.err
}

func TestRefresherStatusAndFailures(t *testing.T) {
	s := open(t, "", "one")
	f := &scripted{}
	f.set(fixture(), nil)
	r := NewRefresher(s, []Target{{Name: "one", Type: "test", Syncer: f, Interval: time.Hour, FullEvery: 24 * time.Hour, MaxDeletePercent: 20}}, nil)

	run, err := r.SyncNow(context.Background(), "one", SyncRequest{})
	if err != nil || !run.Full || run.Result.UsersAdded != 3 {
		t.Fatalf("first sync %+v %v", run, err)
	}
	if !f.calls[0].Full {
		t.Fatal("the first sync must be full")
	}
	st, _ := s.Status("one")
	if st.State != StateConnected || st.Users != 3 || st.Groups != 4 || st.LastFull == nil || st.LastSuccess.IsZero() ||
		st.NextRun.Before(time.Now().Add(59*time.Minute)) || st.Type != "test" {
		t.Fatalf("status after success %+v", st)
	}

	// The next one is incremental and carries the cursor.
	f.set(&upstream.SyncResult{Cursor: []byte("c2")}, nil)
	if _, err := r.SyncNow(context.Background(), "one", SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	if f.calls[1].Full || string(f.calls[1].Cursor) != "c1" {
		t.Fatalf("second request %+v", f.calls[1])
	}

	// Failure: last good data served, status names the error and the last success.
	lastOK := st.LastSuccess
	f.set(nil, upstream.ErrUnavailable)
	if _, err := r.SyncNow(context.Background(), "one", SyncRequest{}); !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	st, _ = s.Status("one")
	if st.State != StateError || !strings.Contains(st.LastError, "unavailable") || st.LastSuccess.Before(lastOK) ||
		st.ConsecutiveFailures != 1 || st.LastFailure == nil {
		t.Fatalf("status after failure %+v", st)
	}
	if d := time.Until(st.NextRun); d > 7*time.Second || d < 3*time.Second {
		t.Fatalf("first retry in %v, want about 5s", d)
	}
	if _, ok := s.User("alice"); !ok {
		t.Fatal("last good data not served")
	}

	// The deletion guard: an error with counts, retried at the normal interval.
	f.set(full(nil, nil), nil)
	_, err = r.SyncNow(context.Background(), "one", SyncRequest{Full: true})
	if !errors.Is(err, ErrDeletionGuard) {
		t.Fatalf("guard: %v", err)
	}
	st, _ = s.Status("one")
	if !strings.Contains(st.LastError, "would delete 3 of 3 users") || time.Until(st.NextRun) < 59*time.Minute {
		t.Fatalf("guard status %+v", st)
	}
	if _, err := r.SyncNow(context.Background(), "one", SyncRequest{Full: true, AllowDeletes: true}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Counts(); n != 0 {
		t.Fatalf("allow-deletes did not apply: %d users", n)
	}
	st, _ = s.Status("one")
	if st.State != StateConnected || st.LastError != "" || st.ConsecutiveFailures != 0 {
		t.Fatalf("status after recovery %+v", st)
	}
}

type retryLater struct{ d time.Duration }

func (e retryLater) Error() string             { return "rate limited" }
func (e retryLater) RetryAfter() time.Duration { return e.d }

func TestBackoffGrowsAndHonoursRetryAfter(t *testing.T) {
	r := NewRefresher(nil, nil, nil)
	tg := &target{Target: Target{Interval: time.Minute}}
	prev := time.Duration(0)
	for n := 1; n <= 4; n++ {
		d := r.backoff(tg, n, errors.New("x"))
		want := r.BaseBackoff << (n - 1)
		if d < want*8/10 || d > want*12/10 {
			t.Fatalf("backoff(%d) = %v, want about %v", n, d, want)
		}
		if d <= prev*9/10 {
			t.Fatalf("backoff does not grow: %v after %v", d, prev)
		}
		prev = d
	}
	if d := r.backoff(tg, 30, errors.New("x")); d > time.Minute*12/10 {
		t.Fatalf("backoff not capped by the interval: %v", d)
	}
	if d := r.backoff(tg, 1, retryLater{2 * time.Minute}); d != 2*time.Minute {
		t.Fatalf("Retry-After not honoured: %v", d)
	}
}

func TestRefresherLoopRecoversWithoutRestart(t *testing.T) {
	s := open(t, "", "one")
	f := &scripted{}
	f.set(fixture(), nil)
	runs := make(chan SyncRun, 100)
	r := NewRefresher(s, []Target{{Name: "one", Syncer: f, Interval: 20 * time.Millisecond, FullEvery: time.Hour, MaxDeletePercent: 20}}, nil)
	r.BaseBackoff = 5 * time.Millisecond
	r.OnSync = func(_ string, run SyncRun) { runs <- run }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	if run := <-runs; run.Error != "" || !run.Full {
		t.Fatalf("first run %+v", run)
	}
	f.set(nil, upstream.ErrUnavailable)
	for run := <-runs; run.Error == ""; run = <-runs {
	}
	if _, ok := s.User("alice"); !ok {
		t.Fatal("data lost while the upstream is down")
	}
	f.set(&upstream.SyncResult{Users: []upstream.User{u("ud", "dave")}}, nil)
	for run := <-runs; run.Error != ""; run = <-runs {
	}
	if _, ok := s.User("dave"); !ok {
		t.Fatal("recovered sync not applied")
	}
	st, _ := s.Status("one")
	if st.State != StateConnected {
		t.Fatalf("state %s", st.State)
	}
}

func TestFirstRunKeepsTheScheduleAcrossRestarts(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ok := now.Add(-3 * time.Minute)
	for _, tc := range []struct {
		name   string
		st     Status
		synced bool
		want   time.Time
	}{
		{"never synced", Status{}, false, now},
		{"synced 3m ago, interval 10m", Status{LastSuccess: ok, NextRun: ok.Add(10 * time.Minute)}, true, ok.Add(10 * time.Minute)},
		{"failing, retry sooner", Status{LastSuccess: ok, NextRun: now.Add(5 * time.Second)}, true, now.Add(5 * time.Second)},
		{"overdue", Status{LastSuccess: now.Add(-time.Hour)}, true, now.Add(-50 * time.Minute)},
		{"seeded but never synced", Status{}, true, now},
	} {
		if got := firstRun(tc.st, tc.synced, 10*time.Minute, now); !got.Equal(tc.want) {
			t.Errorf("%s: first run at %v, want %v", tc.name, got, tc.want)
		}
	}
}

// cloudish is a scripted upstream with a credential expiry and warnings.
type cloudish struct {
	scripted
	expires time.Time
}

func (c *cloudish) CredentialExpiry() (time.Time, bool) { return c.expires, !c.expires.IsZero() }
func (c *cloudish) Warnings() []string                  { return []string{"API key expires in 3 days"} }

func TestRefresherCredentialExpiryAndWarnings(t *testing.T) {
	s := open(t, "", "one")
	f := &cloudish{expires: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)}
	f.set(fixture(), nil)
	r := NewRefresher(s, []Target{{Name: "one", Type: "access", Syncer: f, Interval: time.Hour, FullEvery: 24 * time.Hour, MaxDeletePercent: 20}}, nil)
	if _, err := r.SyncNow(context.Background(), "one", SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Status("one")
	if !st.CredentialExpires.Equal(f.expires) || !slices.Contains(st.Warnings, "API key expires in 3 days") {
		t.Fatalf("status %+v", st)
	}
	// A failed sync keeps showing both.
	f.set(nil, errors.New("boom"))
	r.SyncNow(context.Background(), "one", SyncRequest{})
	st, _ = s.Status("one")
	if st.State != StateError || !st.CredentialExpires.Equal(f.expires) || !slices.Contains(st.Warnings, "API key expires in 3 days") {
		t.Fatalf("status after a failure %+v", st)
	}
}

// TestBeforeSyncPairs: the function BeforeSync returns runs once after
// every sync — succeeded, failed or cancelled — and after OnSync.
func TestBeforeSyncPairs(t *testing.T) {
	s := open(t, "", "one")
	f := &scripted{}
	f.set(fixture(), nil)
	r := NewRefresher(s, []Target{{Name: "one", Type: "test", Syncer: f, Interval: time.Hour, FullEvery: 24 * time.Hour, MaxDeletePercent: 20}}, nil)
	var events []string
	r.BeforeSync = func(name string, full bool) func() {
		events = append(events, fmt.Sprintf("before %s full=%v", name, full))
		return func() { events = append(events, "after") }
	}
	r.OnSync = func(string, SyncRun) { events = append(events, "onsync") }
	if _, err := r.SyncNow(context.Background(), "one", SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	f.set(nil, upstream.ErrUnavailable)
	if _, err := r.SyncNow(context.Background(), "one", SyncRequest{}); err == nil {
		t.Fatal("the failing sync succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.SyncNow(ctx, "one", SyncRequest{Full: true}); err == nil {
		t.Fatal("the cancelled sync succeeded")
	}
	want := []string{"before one full=true", "onsync", "after", "before one full=false", "onsync", "after", "before one full=true", "after"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}
