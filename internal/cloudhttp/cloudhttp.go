// Package cloudhttp is the HTTP layer of the cloud upstreams (Jira Cloud,
// Atlassian Admin): one client per upstream with its authentication,
// bounded concurrency, retries of 429 and 503 that honour Retry-After and
// X-RateLimit-Reset (exponential backoff with jitter and a cap otherwise,
// never an early retry) and hold back the client's other requests too, and
// errors classified so that the refresher and
// `dirgate status` can say what went wrong: an expired token, a missing
// permission, a group that vanished mid-sync, a throttled or unreachable
// service.
//
// Time is injectable (Clock) so that backoff tests run without waiting.
// Secrets never appear in errors or logs: requests are described by method
// and path only.
package cloudhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// Defaults (crowd-rest.md's sibling, cloud-apis.md §1.5 and §5: Atlassian's
// reference backoff starts at 5 s and doubles up to 30 s, with jitter ×0.7–1.3,
// for up to 4 retries).
const (
	DefaultAttempts    = 5
	DefaultBaseBackoff = 5 * time.Second
	DefaultMaxBackoff  = 30 * time.Second
	DefaultMaxWait     = 3 * time.Minute
	DefaultConcurrency = 4
	DefaultTimeout     = 30 * time.Second
	DefaultMaxBody     = 32 << 20
	// NearSlowdown is how long the pace stays halved after the service
	// said X-RateLimit-NearLimit: true (cloud-apis.md §2.8 rule 6).
	NearSlowdown = 5 * time.Second
)

// Clock is the time the client waits by; Real is the wall clock.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done (returning its error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Real is the wall clock.
var Real Clock = realClock{}

// Client makes the requests of one upstream.
type Client struct {
	// Base is the API root (https://example.atlassian.net); request paths
	// are appended to it. A full URL given to a request is used as is when
	// it has the same scheme and host as Base (links.next) and refused
	// otherwise, so that credentials never go to another host.
	Base string
	// Auth sets the request's credentials.
	Auth func(*http.Request)
	// HTTP is the transport (default: a client with DefaultTimeout).
	HTTP *http.Client
	// Attempts is the most tries of one request (default 5: four retries).
	Attempts int
	// BaseBackoff and MaxBackoff bound the exponential backoff used when a
	// throttled or failed answer does not say when to come back.
	BaseBackoff, MaxBackoff time.Duration
	// MaxWait caps the total time one request may spend waiting to retry;
	// beyond it the request fails as throttled (retryable later).
	MaxWait time.Duration
	// MaxBody bounds a response body (default 32 MiB).
	MaxBody int64
	// MinInterval spaces the requests of this client (a pacer: Jira's
	// burst limits, the Admin events stream's ten requests a minute).
	// For NearSlowdown after an answer with X-RateLimit-NearLimit: true
	// the interval doubles.
	MinInterval time.Duration
	Clock       Clock
	Logger      *slog.Logger
	// Jitter returns a factor in [0.7, 1.3) (tests may fix it).
	Jitter func() float64

	sem  chan struct{}
	pace chan time.Time
	// nearUntil (Unix nanoseconds of the Clock) is when the slower pace
	// that X-RateLimit-NearLimit: true asks for ends.
	nearUntil atomic.Int64

	pauseMu sync.Mutex
	// paused is when each scope takes requests again after a 429 or 503:
	// "" is the whole client (the tenant), "GET /path" one endpoint (a
	// burst limit, RateLimit-Reason jira-burst-based).
	paused map[string]time.Time
}

// New returns a client for base with concurrency parallel requests at most.
func New(base string, concurrency int) *Client {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	c := &Client{Base: strings.TrimRight(base, "/"), sem: make(chan struct{}, concurrency), pace: make(chan time.Time, 1),
		paused: map[string]time.Time{}}
	c.pace <- time.Time{}
	return c
}

func (c *Client) clock() Clock {
	if c.Clock == nil {
		return Real
	}
	return c.Clock
}

func (c *Client) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) attempts() int { return cmpDefault(c.Attempts, DefaultAttempts) }

func cmpDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Kind classifies a failed request.
type Kind int

// Kinds of failure.
const (
	KindTransient  Kind = iota + 1 // network error, 5xx: try again later
	KindThrottled                  // 429 (or 503) beyond the retries or the wait cap
	KindAuth                       // 401: the credential was rejected (expired or revoked?)
	KindPermission                 // 403: the credential lacks a permission
	KindNotFound                   // 404
	KindBadRequest                 // other 4xx: the request itself (an invalid cursor, ...)
	KindDecode                     // the answer was not what the API documents
)

// Error is a failed request. It wraps the upstream error of its kind
// (upstream.ErrCredentials for 401, ErrRejected for 403 and other 4xx,
// ErrNotFound for 404, ErrUnavailable for throttling and transient
// failures) so callers can use errors.Is.
type Error struct {
	Kind       Kind
	Status     int    // 0 when no answer came
	Method     string // GET
	Path       string // the URL path, without query or host
	Code       string // the API's error code when it gave one (ADMIN-401-1)
	Message    string // what the API said, shortened
	Attempts   int
	retryAfter time.Duration
	err        error // the transport error, for KindTransient without a status
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Method + " " + e.Path + ": ")
	switch e.Kind {
	case KindAuth:
		b.WriteString("API token or key rejected (401) — it may have expired or been revoked")
	case KindPermission:
		b.WriteString("permission denied (403)")
	case KindNotFound:
		b.WriteString("not found (404)")
	case KindThrottled:
		fmt.Fprintf(&b, "rate limited (%d) after %d attempts", e.Status, e.Attempts)
	case KindTransient:
		if e.Status != 0 {
			fmt.Fprintf(&b, "service unavailable (%d) after %d attempts", e.Status, e.Attempts)
		} else {
			fmt.Fprintf(&b, "no answer after %d attempts", e.Attempts)
		}
	case KindBadRequest:
		fmt.Fprintf(&b, "request refused (%d)", e.Status)
	case KindDecode:
		b.WriteString("unexpected answer")
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.err != nil && e.Message == "" {
		b.WriteString(": " + e.err.Error())
	}
	return b.String()
}

// Unwrap returns the upstream error of the kind (and the transport error).
func (e *Error) Unwrap() []error {
	var base error
	switch e.Kind {
	case KindAuth:
		base = upstream.ErrCredentials
	case KindPermission, KindBadRequest, KindDecode:
		base = upstream.ErrRejected
	case KindNotFound:
		base = upstream.ErrNotFound
	default:
		base = upstream.ErrUnavailable
	}
	if e.err != nil {
		return []error{base, e.err}
	}
	return []error{base}
}

// RetryAfter is how long the service asked to wait (throttling), 0 if it
// did not say.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// Response is a successful answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Get fetches pathOrURL (a path under Base, or a full URL on Base's host)
// with query, retrying as the package describes, and decodes the JSON body
// into out when out is not nil.
func (c *Client) Get(ctx context.Context, pathOrURL string, query url.Values, out any) (*Response, error) {
	return c.Do(ctx, http.MethodGet, pathOrURL, query, nil, out)
}

// Do makes a request with an optional JSON body (GET and POST searches).
func (c *Client) Do(ctx context.Context, method, pathOrURL string, query url.Values, body any, out any) (*Response, error) {
	u, err := c.resolve(pathOrURL, query)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()

	clk := c.clock()
	var waited time.Duration
	e := &Error{Method: method, Path: u.Path}
	endpoint := method + " " + u.Path
	for attempt := 1; ; attempt++ {
		w, err := c.waitPause(ctx, endpoint)
		if err != nil {
			return nil, err
		}
		waited += w
		if err := c.waitPace(ctx); err != nil {
			return nil, err
		}
		e.Attempts = attempt
		resp, err := c.once(ctx, method, u, payload)
		if resp != nil && strings.EqualFold(resp.Header.Get("X-RateLimit-NearLimit"), "true") {
			c.nearUntil.Store(clk.Now().Add(NearSlowdown).UnixNano())
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			e.Kind, e.Status, e.err = KindTransient, 0, err
		} else if resp.Status >= 200 && resp.Status < 300 {
			if out != nil && len(resp.Body) > 0 {
				if err := json.Unmarshal(resp.Body, out); err != nil {
					return nil, &Error{Kind: KindDecode, Status: resp.Status, Method: method, Path: u.Path, Attempts: attempt, Message: shorten(err.Error())}
				}
			}
			return resp, nil
		} else {
			classify(e, resp)
		}
		retryable := e.Kind == KindThrottled || e.Kind == KindTransient
		if !retryable {
			return nil, e
		}
		wait := c.backoff(e, resp, attempt)
		if resp != nil && (resp.Status == http.StatusTooManyRequests || resp.Status == http.StatusServiceUnavailable) {
			// The limit is the service's, not this request's: hold back
			// every request of its scope until it passes.
			c.pause(pauseScope(resp, endpoint), clk.Now().Add(wait))
		}
		if attempt >= c.attempts() || waited+wait > cmpDefault(c.MaxWait, DefaultMaxWait) {
			if e.Kind == KindThrottled && e.retryAfter == 0 {
				e.retryAfter = wait
			}
			return nil, e
		}
		c.log().Debug("retrying", "method", method, "path", u.Path, "status", e.Status, "attempt", attempt, "wait", wait)
		if err := clk.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

// pauseScope is what a 429 or 503 holds back: the endpoint for a burst
// limit (Jira's RateLimit-Reason jira-burst-based is per tenant, endpoint
// and method), else the whole client.
func pauseScope(r *Response, endpoint string) string {
	if strings.Contains(strings.ToLower(r.Header.Get("RateLimit-Reason")), "burst") {
		return endpoint
	}
	return ""
}

// pause holds back scope's requests until until (never shortening a
// pause already set).
func (c *Client) pause(scope string, until time.Time) {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if until.After(c.paused[scope]) {
		c.paused[scope] = until
	}
}

// waitPause waits until neither the whole client nor endpoint is paused,
// and returns how long it waited.
func (c *Client) waitPause(ctx context.Context, endpoint string) (time.Duration, error) {
	clk := c.clock()
	var waited time.Duration
	for {
		c.pauseMu.Lock()
		until := c.paused[""]
		if t := c.paused[endpoint]; t.After(until) {
			until = t
		}
		c.pauseMu.Unlock()
		d := until.Sub(clk.Now())
		if d <= 0 {
			return waited, nil
		}
		if err := clk.Sleep(ctx, d); err != nil {
			return waited, err
		}
		waited += d
	}
}

// waitPace spaces requests MinInterval apart.
func (c *Client) waitPace(ctx context.Context) error {
	if c.MinInterval <= 0 {
		return nil
	}
	var last time.Time
	select {
	case last = <-c.pace:
	case <-ctx.Done():
		return ctx.Err()
	}
	clk := c.clock()
	interval := c.MinInterval
	if clk.Now().UnixNano() < c.nearUntil.Load() {
		interval *= 2 // less than 20% of the budget left: slow down before a 429
	}
	if !last.IsZero() {
		if d := last.Add(interval).Sub(clk.Now()); d > 0 {
			if err := clk.Sleep(ctx, d); err != nil {
				c.pace <- last
				return err
			}
		}
	}
	c.pace <- clk.Now()
	return nil
}

func (c *Client) resolve(pathOrURL string, query url.Values) (*url.URL, error) {
	base, err := url.Parse(c.Base)
	if err != nil {
		return nil, fmt.Errorf("base URL: %w", err)
	}
	var u *url.URL
	if strings.HasPrefix(pathOrURL, "http://") || strings.HasPrefix(pathOrURL, "https://") {
		if u, err = url.Parse(pathOrURL); err != nil {
			return nil, &Error{Kind: KindDecode, Method: "GET", Message: "malformed next link"}
		}
		if u.Scheme != base.Scheme || u.Host != base.Host {
			return nil, &Error{Kind: KindDecode, Method: "GET", Path: u.Path, Message: fmt.Sprintf("a link points to another host (%s); not followed", u.Host)}
		}
	} else {
		u = base.JoinPath(pathOrURL)
		if !strings.HasPrefix(u.Path, "/") {
			u.Path = "/" + u.Path // JoinPath on a base without a path drops it
		}
	}
	if len(query) > 0 {
		q := u.Query()
		for k, vs := range query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

func (c *Client) once(ctx context.Context, method string, u *url.URL, payload []byte) (*Response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "dirgate")
	if c.Auth != nil {
		c.Auth(req)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, redactURL(err)
	}
	defer resp.Body.Close()
	limit := cmpDefault(c.MaxBody, DefaultMaxBody)
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, redactURL(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("response larger than %d bytes", limit)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// redactURL drops the URL from transport errors (it may carry a cursor
// that is as good as a credential for a while, and is long).
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// classify fills e from a non-2xx answer.
func classify(e *Error, r *Response) {
	e.Status, e.err = r.Status, nil
	e.Code, e.Message = apiMessage(r.Body, r.Header.Get("Content-Type"))
	e.retryAfter = 0
	switch {
	case r.Status == http.StatusUnauthorized:
		e.Kind = KindAuth
	case r.Status == http.StatusForbidden:
		e.Kind = KindPermission
	case r.Status == http.StatusNotFound:
		e.Kind = KindNotFound
	case r.Status == http.StatusTooManyRequests:
		e.Kind = KindThrottled
	case r.Status == http.StatusServiceUnavailable:
		e.Kind = KindTransient
		if r.Header.Get("Retry-After") != "" {
			e.Kind = KindThrottled
		}
	case r.Status >= 500:
		e.Kind = KindTransient
	default:
		e.Kind = KindBadRequest
	}
}

// backoff is how long to wait before the next attempt: what the service
// asked (Retry-After, else X-RateLimit-Reset), never less; otherwise the
// exponential backoff with jitter.
func (c *Client) backoff(e *Error, r *Response, attempt int) time.Duration {
	if r != nil {
		now := c.clock().Now()
		if d, ok := RetryAfter(r.Header, now); ok {
			e.retryAfter = d
			// Never early: jitter only lengthens a requested wait.
			return d + time.Duration(float64(d)*0.1*c.jitterUp())
		}
	}
	d := cmpDefault(c.BaseBackoff, DefaultBaseBackoff)
	for i := 1; i < attempt; i++ {
		d *= 2
		if d >= cmpDefault(c.MaxBackoff, DefaultMaxBackoff) {
			break
		}
	}
	d = min(d, cmpDefault(c.MaxBackoff, DefaultMaxBackoff))
	j := 1.0
	if c.Jitter != nil {
		j = c.Jitter()
	} else {
		j = 0.7 + 0.6*rand.Float64()
	}
	return time.Duration(float64(d) * j)
}

func (c *Client) jitterUp() float64 {
	if c.Jitter != nil {
		return max(0, c.Jitter()-0.7) / 0.6
	}
	return rand.Float64()
}

// RetryAfter reads when the service will take the next request: the
// Retry-After header (seconds, possibly fractional, or an HTTP date), else
// X-RateLimit-Reset (an ISO-8601 time, minute precision at Atlassian; a
// second of slack is added for the truncation). ok is false when neither
// says.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	d, ok := retryAfter(h, now)
	// A wait beyond a day is a broken header, not a plan: clamp it, so that
	// arithmetic on it cannot overflow into an early retry.
	return min(max(d, 0), maxRetryAfter), ok
}

// maxRetryAfter bounds what RetryAfter returns.
const maxRetryAfter = 24 * time.Hour

func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && secs < 86400 {
			return time.Duration(secs * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return t.Sub(now), true
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04Z", "2006-01-02T15:04:05Z"} {
			if t, err := time.Parse(layout, v); err == nil {
				d := t.Sub(now) + time.Second
				if d > maxRetryAfter {
					break
				}
				return d, true
			}
		}
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			// Some services send epoch seconds.
			if secs > 1e9 && secs < 1e11 {
				return time.Unix(secs, 0).Sub(now), true
			}
		}
	}
	return 0, false
}

// apiMessage extracts the error code and message from a body in the shapes
// the Atlassian APIs use: Jira's ErrorCollection {"errorMessages":[...],
// "errors":{...}}, the Admin API's {"errors":[{"code","title","detail"}]},
// {"message":...}, or plain text (HTML pages are not quoted).
func apiMessage(body []byte, ctype string) (code, msg string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", ""
	}
	if body[0] == '{' {
		var v struct {
			ErrorMessages []string        `json:"errorMessages"`
			Errors        json.RawMessage `json:"errors"`
			Message       string          `json:"message"`
			Code          any             `json:"code"`
		}
		if json.Unmarshal(body, &v) == nil {
			var parts []string
			parts = append(parts, v.ErrorMessages...)
			var admin []struct {
				Code   string `json:"code"`
				Title  string `json:"title"`
				Detail string `json:"detail"`
			}
			var fields map[string]string
			if json.Unmarshal(v.Errors, &admin) == nil && len(admin) > 0 {
				code = admin[0].Code
				for _, a := range admin {
					parts = append(parts, strings.TrimSpace(a.Title+" "+a.Detail))
				}
			} else if json.Unmarshal(v.Errors, &fields) == nil {
				for k, m := range fields {
					parts = append(parts, k+": "+m)
				}
			}
			if v.Message != "" {
				parts = append(parts, v.Message)
			}
			if code == "" {
				if s, ok := v.Code.(string); ok {
					code = s
				}
			}
			return shorten(code), shorten(strings.Join(parts, "; "))
		}
	}
	if strings.Contains(ctype, "html") || bytes.HasPrefix(body, []byte("<")) {
		return "", ""
	}
	return "", shorten(string(body))
}

// shorten keeps a message to one line of at most 200 characters.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		cut := 200
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
