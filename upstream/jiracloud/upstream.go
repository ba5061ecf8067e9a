package jiracloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirgate/dirgate/internal/cloudhttp"
	"github.com/dirgate/dirgate/upstream"
)

// Type is the configured type name.
const Type = "jiracloud"

// ErrClosed is returned by every call on an Upstream after Close.
var ErrClosed = errors.New("jiracloud upstream is closed")

// REST paths (v3; v2 answers the same for users and groups).
const (
	pathMyself      = "/rest/api/3/myself"
	pathUsers       = "/rest/api/3/users/search"
	pathGroupBulk   = "/rest/api/3/group/bulk"
	pathGroupMember = "/rest/api/3/group/member"
)

// Upstream is a Jira Cloud site that dirgate copies users, groups and
// memberships from. It checks no passwords itself: AsUpstream adds that
// capability when auth is api_token. Its methods are safe for concurrent
// use.
type Upstream struct {
	name string
	cfg  Config
	log  *slog.Logger

	api   *cloudhttp.Client // dirgate's credential
	login *cloudhttp.Client // users' own API tokens (password checks)
	tr    *http.Transport
	now   func() time.Time

	requests atomic.Int64 // HTTP requests made with dirgate's credential

	closeCtx context.Context
	closeFn  context.CancelFunc

	syncMu sync.Mutex // one sync at a time

	mu      sync.Mutex
	closed  bool
	checked bool // Check passed since the last credential or permission failure
	last    SyncStats
}

// SyncStats describes the last successful sync.
type SyncStats struct {
	At       time.Time
	Duration time.Duration
	// Requests is the number of HTTP requests the sync made (retries
	// included, the credential check excluded).
	Requests int
	// Accounts is every account users/search returned (duplicates
	// removed); Users the ones copied; Groups and Memberships likewise.
	Accounts, Users, Groups, Memberships int
	// Skipped counts accounts left out, by reason: an account type not in
	// account_types ("app", "customer", "unknown"), "inactive" (with
	// include_inactive false), "no account id".
	Skipped map[string]int
	// EmailHidden counts copied users without a visible e-mail address;
	// with username_from email their username is their account ID.
	EmailHidden int
	// UsernameFallback counts the users whose username fell back to the
	// account ID (username_from email, address hidden).
	UsernameFallback int
	// VanishedGroups are groups listed by group/bulk that were gone (404)
	// when their members were read: deleted mid-sync, left out.
	VanishedGroups []string
	// Duplicates counts records a listing returned twice (offsets shifted
	// by a concurrent change); Restarts counts listings read again because
	// their total changed while they were read.
	Duplicates, Restarts int
}

// Open prepares an upstream from cfg (defaults applied, then validated). It
// makes no request: the credential is checked by the first Sync (or Check),
// so that dirgate starts and serves its cache while Jira is unreachable,
// and a credential problem shows where the refresher reports everything
// else, in the upstream's status.
func Open(name string, cfg Config, logger *slog.Logger) (*Upstream, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("jiracloud upstream %q: %w", name, err)
	}
	base, cloudID, _ := parseURL(cfg.URL)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("upstream", name, "type", Type)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Concurrency + loginConcurrency
	u := &Upstream{name: name, cfg: cfg, log: log, tr: tr, now: time.Now}
	u.closeCtx, u.closeFn = context.WithCancel(context.Background())

	u.api = cloudhttp.New(base, cfg.Concurrency)
	u.api.HTTP = &http.Client{Timeout: cfg.Timeout, Transport: countingTransport{tr, &u.requests}}
	u.api.Logger = log
	u.api.MinInterval = time.Second / time.Duration(cfg.RequestsPerSecond)
	email, token := cfg.Email, cfg.APIToken
	u.api.Auth = func(r *http.Request) { r.SetBasicAuth(email, token.Reveal()) }

	// Password checks wait little: a login does not sit out a long
	// Retry-After, it fails as unavailable.
	u.login = cloudhttp.New(base, loginConcurrency)
	u.login.HTTP = &http.Client{Timeout: cfg.Timeout, Transport: tr}
	u.login.Logger = log
	u.login.Attempts = 3
	u.login.MaxWait = loginMaxWait
	u.login.Auth = func(r *http.Request) {
		if c, ok := r.Context().Value(credKey{}).(credentials); ok {
			r.SetBasicAuth(c.email, c.token)
		}
	}
	if cloudID != "" {
		log.Debug("using the api.atlassian.com form of the API", "cloud_id", cloudID)
	}
	return u, nil
}

// setClock makes the upstream wait and tell time by c (tests).
func (u *Upstream) setClock(c cloudhttp.Clock) {
	u.api.Clock, u.login.Clock, u.now = c, c, c.Now
}

// Type returns "jiracloud".
func (u *Upstream) Type() string { return Type }

// Close ends every request in flight; later calls fail with ErrClosed.
// Closing twice is harmless.
func (u *Upstream) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.mu.Unlock()
	u.closeFn()
	u.tr.CloseIdleConnections()
	return nil
}

func (u *Upstream) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

// bind returns ctx, also cancelled by Close.
func (u *Upstream) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(u.closeCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// AsUpstream returns u in the form the runtime probes for capabilities: with
// auth api_token a PasswordUpstream (u plus CheckPassword, so an
// upstream.PasswordChecker); with auth none or local u itself, which is a
// Syncer only, so that no frontend sends this upstream a password.
func (u *Upstream) AsUpstream() upstream.Upstream {
	if u.cfg.Auth == AuthAPIToken {
		return PasswordUpstream{u}
	}
	return u
}

// PasswordUpstream is an Upstream whose users log in with their own
// Atlassian API token (auth: api_token). See CheckPassword.
type PasswordUpstream struct{ *Upstream }

// CheckPassword reports whether password is the user's own API token: GET
// /rest/api/3/myself with Basic email:password must answer with the
// account ID of the user's record. A rejected token (401), a refused one
// (403: Atlassian asks for a CAPTCHA after failed logins), another account,
// an empty password, an inactive user or one without a visible address is
// ok=false with a nil error; a site that cannot answer is an error wrapping
// upstream.ErrUnavailable.
func (p PasswordUpstream) CheckPassword(ctx context.Context, usr *upstream.User, password string) (bool, error) {
	return p.checkPassword(ctx, usr, password)
}

// CredentialExpiry returns api_token_expires (midnight UTC of that day),
// false when it is not set.
func (u *Upstream) CredentialExpiry() (time.Time, bool) { return u.cfg.expiry() }

// LastSync describes the last successful sync (zero before the first).
func (u *Upstream) LastSync() SyncStats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// Warnings are the non-fatal problems to show on the upstream's status: an
// API token that expires within 14 days (or has expired), users whose
// address is hidden and who are therefore named by account ID, groups that
// vanished during the last sync.
func (u *Upstream) Warnings() []string {
	var w []string
	if exp, ok := u.cfg.expiry(); ok {
		now := u.now()
		switch left := exp.Sub(now); {
		case left <= 0:
			w = append(w, fmt.Sprintf("the API token of %s expired on %s (api_token_expires): syncs fail until a new token is configured",
				u.cfg.Email, u.cfg.APITokenExpires))
		case left <= ExpiryWarning:
			w = append(w, fmt.Sprintf("the API token of %s expires on %s, in %d days: create a new one and update api_token and api_token_expires",
				u.cfg.Email, u.cfg.APITokenExpires, int(math.Ceil(left.Hours()/24))))
		}
	}
	st := u.LastSync()
	if st.UsernameFallback > 0 {
		w = append(w, fmt.Sprintf("%d users have no visible e-mail address (their privacy settings hide it): their usernames are their account IDs",
			st.UsernameFallback))
	}
	if n := len(st.VanishedGroups); n > 0 {
		names := st.VanishedGroups
		more := ""
		if n > 5 {
			names, more = names[:5], fmt.Sprintf(" and %d more", n-5)
		}
		w = append(w, fmt.Sprintf("%d groups were deleted while the last sync read them and were left out: %s%s",
			n, strings.Join(names, ", "), more))
	}
	return w
}

// errf formats an error of operation op: `jiracloud upstream "NAME": op: ...`.
func (u *Upstream) errf(op, format string, args ...any) error {
	return fmt.Errorf("jiracloud upstream %q: %s: "+format, append([]any{u.name, op}, args...)...)
}

// explained is an error with a message of its own that still unwraps to the
// cloudhttp error (and through it to the upstream sentinel).
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// explain turns a failed request into the error status shows: what went
// wrong in the words an administrator needs (an expired token, the missing
// permission), wrapping the request's error.
func (u *Upstream) explain(op string, err error) error {
	var e *cloudhttp.Error
	if !errors.As(err, &e) {
		return u.errf(op, "%w", err)
	}
	req := e.Method + " " + e.Path
	switch e.Kind {
	case cloudhttp.KindAuth:
		hint := ""
		if u.cfg.APITokenExpires != "" {
			hint = " (api_token_expires: " + u.cfg.APITokenExpires + ")"
		}
		return &explained{err: err, msg: fmt.Sprintf(
			"jiracloud upstream %q: %s: API token rejected — it may have expired or been revoked%s: %s answered 401 for %s; create a new API token and update api_token",
			u.name, op, hint, req, u.cfg.Email)}
	case cloudhttp.KindPermission:
		perm := "Browse users and groups"
		what := "listing users and groups"
		if strings.HasSuffix(e.Path, "/group/member") {
			perm, what = "Administer Jira", "listing group members (group/member)"
		}
		return &explained{err: err, msg: fmt.Sprintf(
			"jiracloud upstream %q: %s: the account %s lacks the %q global permission, which %s requires: %s",
			u.name, op, u.cfg.Email, perm, what, err)}
	case cloudhttp.KindNotFound:
		if strings.HasSuffix(e.Path, "/myself") {
			return &explained{err: err, msg: fmt.Sprintf(
				"jiracloud upstream %q: %s: %s does not serve the Jira Cloud REST API (%s)", u.name, op, u.cfg.URL, err)}
		}
	}
	return u.errf(op, "%w", err)
}

// Check verifies the credential and the permissions a sync needs, with one
// small request each: /myself (the token), users/search and group/bulk
// (Browse users and groups), and group/member of the first group
// (Administer Jira). The first Sync runs it, and the next Sync after a
// credential or permission failure; `dirgate config check` may too.
func (u *Upstream) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return u.errf("check", "%w", err)
	}
	if u.isClosed() {
		return u.errf("check", "%w", ErrClosed)
	}
	ctx, cancel := u.bind(ctx)
	defer cancel()
	err := u.check(ctx)
	if err != nil && u.isClosed() {
		return u.errf("check", "%w", ErrClosed)
	}
	return err
}

func (u *Upstream) check(ctx context.Context) error {
	var me struct {
		AccountID string `json:"accountId"`
	}
	if _, err := u.api.Get(ctx, pathMyself, nil, &me); err != nil {
		return u.explain("credential check", err)
	}
	if me.AccountID == "" {
		return u.errf("credential check", "%w: GET %s answered without an accountId: is %s a Jira Cloud site?", upstream.ErrRejected, pathMyself, u.cfg.URL)
	}
	var one []apiUser
	if _, err := u.api.Get(ctx, pathUsers, pageQuery(0, 1), &one); err != nil {
		return u.explain("permission check", err)
	}
	var groups pageBean[apiGroup]
	if _, err := u.api.Get(ctx, pathGroupBulk, pageQuery(0, 1), &groups); err != nil {
		return u.explain("permission check", err)
	}
	if len(groups.Values) > 0 {
		q := groupQuery(groups.Values[0])
		q.Set("maxResults", "1")
		if _, err := u.api.Get(ctx, pathGroupMember, q, nil); err != nil && !cloudhttp.IsKind(err, cloudhttp.KindNotFound) {
			return u.explain("permission check", err)
		}
	}
	u.log.Info("credential and permissions checked", "account_id", me.AccountID)
	return nil
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.rt.RoundTrip(r)
}

// Interface guards.
var (
	_ upstream.Upstream        = (*Upstream)(nil)
	_ upstream.Syncer          = (*Upstream)(nil)
	_ upstream.Upstream        = PasswordUpstream{}
	_ upstream.Syncer          = PasswordUpstream{}
	_ upstream.PasswordChecker = PasswordUpstream{}
)
