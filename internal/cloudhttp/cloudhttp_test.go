package cloudhttp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// fakeClock advances only when slept on, and records the sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

// scripted answers requests from a list of handlers, in order (the last
// one repeats), and counts them.
func scripted(t *testing.T, steps ...http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		steps[min(i, len(steps)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

var ok200 = status(200, map[string]string{"Content-Type": "application/json"}, `{"ok":true}`)

func client(srv *httptest.Server, clk *fakeClock) *Client {
	c := New(srv.URL, 2)
	c.Clock = clk
	c.Jitter = func() float64 { return 1.0 }
	c.Auth = func(r *http.Request) { r.SetBasicAuth("admin@example.com", "SECRET-TOKEN") }
	return c
}

func TestRetryAfterHonoured(t *testing.T) {
	for name, h := range map[string]map[string]string{
		"429 seconds":   {"Retry-After": "2"},
		"503 seconds":   {"Retry-After": "2"},
		"429 http date": {"Retry-After": "Fri, 01 May 2026 12:00:02 GMT"},
		"429 reset":     {"X-RateLimit-Reset": "2026-05-01T12:00Z"},
	} {
		t.Run(name, func(t *testing.T) {
			code := 429
			if strings.HasPrefix(name, "503") {
				code = 503
			}
			srv, n := scripted(t, status(code, h, ""), ok200)
			clk := newFakeClock()
			var out struct{ OK bool }
			if _, err := client(srv, clk).Get(context.Background(), "/rest/api/3/myself", nil, &out); err != nil || !out.OK {
				t.Fatalf("%v %+v", err, out)
			}
			if n.Load() != 2 || len(clk.sleeps) != 1 {
				t.Fatalf("%d requests, sleeps %v", n.Load(), clk.sleeps)
			}
			min := 2 * time.Second
			if name == "429 reset" {
				min = time.Second // the reset time is now (minute precision) plus a second of slack
			}
			if clk.sleeps[0] < min {
				t.Fatalf("retried after %v, before the %v asked", clk.sleeps[0], min)
			}
		})
	}
}

func TestExponentialBackoff(t *testing.T) {
	srv, n := scripted(t, status(429, nil, ""), status(429, nil, ""), status(429, nil, ""), ok200)
	clk := newFakeClock()
	if _, err := client(srv, clk).Get(context.Background(), "/x", nil, nil); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}
	if n.Load() != 4 || len(clk.sleeps) != 3 || clk.sleeps[0] != want[0] || clk.sleeps[1] != want[1] || clk.sleeps[2] != want[2] {
		t.Fatalf("%d requests, sleeps %v, want %v", n.Load(), clk.sleeps, want)
	}
}

func TestGivesUpThrottled(t *testing.T) {
	srv, n := scripted(t, status(429, map[string]string{"Retry-After": "7"}, `{"errorMessages":["Too many requests"]}`))
	clk := newFakeClock()
	_, err := client(srv, clk).Get(context.Background(), "/x", nil, nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindThrottled || !errors.Is(err, upstream.ErrUnavailable) || e.RetryAfter() != 7*time.Second {
		t.Fatalf("%#v", err)
	}
	var ra upstream.RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatal("not a RetryAfterError")
	}
	if n.Load() != DefaultAttempts || !strings.Contains(err.Error(), "Too many requests") {
		t.Fatalf("%d requests: %v", n.Load(), err)
	}
	// The wait cap ends it sooner.
	srv2, n2 := scripted(t, status(429, map[string]string{"Retry-After": "100"}, ""))
	c := client(srv2, newFakeClock())
	c.MaxWait = 150 * time.Second
	if _, err := c.Get(context.Background(), "/x", nil, nil); !IsKind(err, KindThrottled) || n2.Load() != 2 {
		t.Fatalf("%d requests: %v", n2.Load(), err)
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, tc := range []struct {
		code     int
		ctype    string
		body     string
		kind     Kind
		is       error
		contains string
	}{
		{401, "application/json", `{"errorMessages":["Client must be authenticated"],"errors":{}}`, KindAuth, upstream.ErrCredentials, "may have expired"},
		{401, "text/plain", "Unauthorized", KindAuth, upstream.ErrCredentials, "Unauthorized"},
		{401, "text/html", "<html><body>Login</body></html>", KindAuth, upstream.ErrCredentials, "401"},
		{401, "application/xml", "<error>nope</error>", KindAuth, upstream.ErrCredentials, "401"},
		{401, "application/json", `{"errors":[{"id":"x","status":"401","code":"ADMIN-401-1","title":"Unauthorized","detail":"The API key is invalid or expired"}]}`, KindAuth, upstream.ErrCredentials, "ADMIN-401-1"},
		{403, "application/json", `{"errorMessages":["You do not have the permission to see the specified group."],"errors":{}}`, KindPermission, upstream.ErrRejected, "permission to see"},
		{404, "application/json", `{"errorMessages":["Group not found"]}`, KindNotFound, upstream.ErrNotFound, "Group not found"},
		{400, "application/json", `{"errors":[{"code":"ADMIN-400-1","title":"Bad Request","detail":"invalid cursor"}]}`, KindBadRequest, upstream.ErrRejected, "invalid cursor"},
	} {
		srv, n := scripted(t, status(tc.code, map[string]string{"Content-Type": tc.ctype}, tc.body))
		_, err := client(srv, newFakeClock()).Get(context.Background(), "/rest/api/3/group/member", nil, nil)
		if !IsKind(err, tc.kind) || !errors.Is(err, tc.is) || n.Load() != 1 || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%d %s: %d requests, %v", tc.code, tc.ctype, n.Load(), err)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error leaks the credential: %v", err)
		}
	}
}

func TestTransientRetriedThenFails(t *testing.T) {
	srv, n := scripted(t, status(502, nil, "bad gateway"), ok200)
	clk := newFakeClock()
	if _, err := client(srv, clk).Get(context.Background(), "/x", nil, nil); err != nil || n.Load() != 2 {
		t.Fatalf("%d: %v", n.Load(), err)
	}
	// A server that is gone: transient, wrapping ErrUnavailable.
	srv.Close()
	_, err := client(srv, newFakeClock()).Get(context.Background(), "/x", nil, nil)
	if !IsKind(err, KindTransient) || !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("%v", err)
	}
}

func TestConcurrencyBounded(t *testing.T) {
	var cur, peak atomic.Int32
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		arrived <- struct{}{}
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		cur.Add(-1)
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := New(srv.URL, 3)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Get(context.Background(), "/x", nil, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	// Three requests reach the server and block there; the other seven
	// wait on the client's semaphore. Then release them all.
	for range 3 {
		<-arrived
	}
	close(release)
	wg.Wait()
	if peak.Load() != 3 {
		t.Fatalf("peak %d concurrent requests, limit 3", peak.Load())
	}
}

func TestLinksStayOnHost(t *testing.T) {
	srv, n := scripted(t, ok200)
	c := client(srv, newFakeClock())
	if _, err := c.Get(context.Background(), srv.URL+"/admin/v1/orgs/o/users?cursor=abc", nil, nil); err != nil || n.Load() != 1 {
		t.Fatalf("same-host link: %v", err)
	}
	if _, err := c.Get(context.Background(), "https://evil.example/steal", nil, nil); err == nil || n.Load() != 1 {
		t.Fatalf("a link to another host was followed: %v", err)
	}
}

func TestPacer(t *testing.T) {
	srv, _ := scripted(t, ok200)
	clk := newFakeClock()
	c := client(srv, clk)
	c.MinInterval = 6 * time.Second
	for range 3 {
		if _, err := c.Get(context.Background(), "/admin/v1/orgs/o/events-stream", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(clk.sleeps) != 2 || clk.sleeps[0] != 6*time.Second || clk.sleeps[1] != 6*time.Second {
		t.Fatalf("sleeps %v", clk.sleeps)
	}
}

func TestCancelledWhileWaiting(t *testing.T) {
	srv, _ := scripted(t, status(429, map[string]string{"Retry-After": "30"}, ""))
	ctx, cancel := context.WithCancel(context.Background())
	c := New(srv.URL, 1)
	c.Clock = Real
	done := make(chan error)
	go func() { _, err := c.Get(ctx, "/x", nil, nil); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 30, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"3": 3 * time.Second, "1.5": 1500 * time.Millisecond, "0": 0,
		"Fri, 01 May 2026 12:01:00 GMT": 30 * time.Second,
	} {
		if d, ok := RetryAfter(http.Header{"Retry-After": {v}}, now); !ok || d != want {
			t.Errorf("Retry-After %q: %v %v", v, d, ok)
		}
	}
	if d, ok := RetryAfter(http.Header{"X-Ratelimit-Reset": {"2026-05-01T12:01Z"}}, now); !ok || d != 31*time.Second {
		t.Errorf("reset: %v %v", d, ok)
	}
	for _, bad := range []string{"soon", "-1", "1e99"} {
		if _, ok := RetryAfter(http.Header{"Retry-After": {bad}}, now); ok {
			t.Errorf("Retry-After %q accepted", bad)
		}
	}
}

// TestPauseHoldsBackTheScope: a 429 holds back every request of the
// client until its Retry-After has passed, not only the one that got it;
// a burst limit (RateLimit-Reason jira-burst-based) holds back its own
// endpoint only.
func TestPauseHoldsBackTheScope(t *testing.T) {
	for _, tc := range []struct {
		name          string
		header        map[string]string
		other         string // a request to another endpoint after the 429
		otherWaits    bool
		sameEndpoint  bool // then one to the throttled endpoint
		sameEndpWaits bool
	}{
		{name: "tenant", header: map[string]string{"Retry-After": "10"}, other: "/b", otherWaits: true},
		{name: "503", header: map[string]string{"Retry-After": "10"}, other: "/b", otherWaits: true},
		{name: "burst", header: map[string]string{"Retry-After": "10", "RateLimit-Reason": "jira-burst-based"}, other: "/b", otherWaits: false, sameEndpoint: true, sameEndpWaits: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := 429
			if tc.name == "503" {
				code = 503
			}
			clk := newFakeClock()
			t0 := clk.Now()
			var mu sync.Mutex
			seen := map[string][]time.Time{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen[r.URL.Path] = append(seen[r.URL.Path], clk.Now())
				first := r.URL.Path == "/a" && len(seen["/a"]) == 1
				mu.Unlock()
				if first {
					status(code, tc.header, "")(w, r)
					return
				}
				ok200(w, r)
			}))
			defer srv.Close()
			c := client(srv, clk)
			c.Attempts = 1 // /a gives up at once: only the pause can hold the others back
			if _, err := c.Get(context.Background(), "/a", nil, nil); err == nil {
				t.Fatal("the 429 was not an error")
			}
			if _, err := c.Get(context.Background(), tc.other, nil, nil); err != nil {
				t.Fatal(err)
			}
			at := seen[tc.other][0]
			if waited := at.Sub(t0) >= 10*time.Second; waited != tc.otherWaits {
				t.Errorf("%s was sent %v after the 429; held back: %v, want %v", tc.other, at.Sub(t0), waited, tc.otherWaits)
			}
			if tc.sameEndpoint {
				if _, err := c.Get(context.Background(), "/a", nil, nil); err != nil {
					t.Fatal(err)
				}
				if at := seen["/a"][1]; at.Sub(t0) < 10*time.Second {
					t.Errorf("the throttled endpoint was asked again %v after its 429", at.Sub(t0))
				}
			}
		})
	}
}

// FuzzRetryAfter: whatever the headers say, the wait is between zero and
// a day, so that the backoff arithmetic on it cannot overflow into an
// early retry.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"2", "0.5", "-1", "Fri, 01 May 2026 12:00:02 GMT", "Fri, 01 May 9999 12:00:02 GMT",
		"2026-05-01T12:00Z", "9999-12-31T23:59Z", "1777636800", "99999999999999", "NaN", "1e308"} {
		f.Add(s, s)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, retry, reset string) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		h.Set("X-RateLimit-Reset", reset)
		d, ok := RetryAfter(h, now)
		if d < 0 || d > maxRetryAfter || (!ok && d != 0) {
			t.Fatalf("RetryAfter(%q, %q) = %v %v", retry, reset, d, ok)
		}
		c := &Client{Jitter: func() float64 { return 1.299 }, Clock: newFakeClock()}
		if ok {
			resp := &Response{Header: h}
			if w := c.backoff(&Error{}, resp, 1); w < d {
				t.Fatalf("backoff %v shorter than the asked %v", w, d)
			}
		}
	})
}

// FuzzAPIMessage: error bodies of any shape give a bounded message and
// never a panic.
func FuzzAPIMessage(f *testing.F) {
	for _, s := range []string{`{"errorMessages":["x"],"errors":{"a":"b"}}`, `{"errors":[{"code":"ADMIN-401-1","title":"t","detail":"d"}]}`,
		`{"message":"m"}`, "<html>x</html>", "plain", `{"errors":[{}]}`, `[1,2]`} {
		f.Add([]byte(s), "application/json")
	}
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		code, msg := apiMessage(body, ctype)
		if len(code)+len(msg) > 4096 {
			t.Fatalf("message of %d bytes", len(code)+len(msg))
		}
	})
}

// TestErrorNamesThePath: an error names the request as method and path,
// with its leading slash, whatever the base URL.
func TestErrorNamesThePath(t *testing.T) {
	srv, _ := scripted(t, status(404, nil, ""))
	for _, base := range []string{srv.URL, srv.URL + "/", srv.URL + "/ex/jira/abc"} {
		c := client(srv, newFakeClock())
		c.Base = strings.TrimRight(base, "/")
		_, err := c.Get(context.Background(), "/rest/api/3/myself", nil, nil)
		want := "GET /rest/api/3/myself: not found (404)"
		if strings.HasSuffix(base, "abc") {
			want = "GET /ex/jira/abc/rest/api/3/myself: not found (404)"
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("base %s: error %v, want it to start with %q", base, err, want)
		}
	}
}
