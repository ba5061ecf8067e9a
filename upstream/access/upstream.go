package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirgate/dirgate/internal/cloudhttp"
	"github.com/dirgate/dirgate/upstream"
)

// ErrClosed is returned by every call on an Upstream after Close.
var ErrClosed = errors.New("access upstream is closed")

// EventsInterval spaces the requests to the events stream: the Admin API
// allows 10 a minute (cloud-apis.md §3.5); 6.5 s keeps any 60-second
// window at 9 or fewer, whatever the server's window alignment.
const EventsInterval = 6500 * time.Millisecond

// Upstream is an Atlassian organization read through the Admin API. Its
// methods are safe for concurrent use; syncs run one at a time.
type Upstream struct {
	name       string
	cfg        Config
	log        *slog.Logger
	configHash string
	expiry     time.Time // api_key_expires (midnight UTC), zero if unset
	transport  *http.Transport

	// api makes the directory requests; events the events-stream ones,
	// paced at EventsInterval on a client of its own.
	api    *cloudhttp.Client
	events *cloudhttp.Client
	clock  cloudhttp.Clock
	// eventPages bounds the events pages of one incremental sync
	// (maxEventPages; tests lower it).
	eventPages int

	// getMode is set once the POST searches answered 404 or 405: the GET
	// lists are used from then on.
	getMode atomic.Bool

	syncMu sync.Mutex

	mu       sync.Mutex
	closed   bool
	closeCtx context.Context
	cancel   context.CancelFunc
	warnings []string // of the last sync
}

// Open prepares an upstream from cfg (defaults applied, then validated).
// It makes no request: the first Sync (or Check) does, so that dirgate
// starts and serves its cache while the API is unreachable.
func Open(name string, cfg Config, logger *slog.Logger) (*Upstream, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("access upstream %q: %w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	expiry, _, _ := cfg.KeyExpiry()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Concurrency + 1
	hc := &http.Client{Timeout: cfg.Timeout, Transport: tr}
	auth := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+cfg.APIKey.Reveal()) }
	log := logger.With("upstream", name, "type", "access")

	api := cloudhttp.New(cfg.BaseURL, cfg.Concurrency)
	api.Auth, api.HTTP, api.Logger = auth, hc, log
	ev := cloudhttp.New(cfg.BaseURL, 1)
	ev.Auth, ev.HTTP, ev.Logger = auth, hc, log
	ev.MinInterval = EventsInterval

	ctx, cancel := context.WithCancel(context.Background())
	return &Upstream{
		name: name, cfg: cfg, log: log, configHash: configHash(cfg), expiry: expiry, transport: tr,
		api: api, events: ev, clock: cloudhttp.Real, eventPages: maxEventPages, closeCtx: ctx, cancel: cancel,
	}, nil
}

// setClock makes the upstream and its HTTP clients wait by clk (tests).
func (u *Upstream) setClock(clk cloudhttp.Clock) {
	u.clock, u.api.Clock, u.events.Clock = clk, clk, clk
}

// configHash identifies the settings a cursor depends on: after any of
// them changes, the next sync is full.
func configHash(c Config) string {
	h := sha256.Sum256([]byte(c.BaseURL + "\x00" + c.OrgID + "\x00" + c.DirectoryID + "\x00" + c.Username))
	return hex.EncodeToString(h[:8])
}

// Type returns "access".
func (u *Upstream) Type() string { return "access" }

// Close aborts a sync in progress and releases idle connections. Calls
// after Close fail with ErrClosed; closing twice is harmless.
func (u *Upstream) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	u.closed = true
	u.cancel()
	u.transport.CloseIdleConnections()
	return nil
}

func (u *Upstream) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

// errf formats an error of operation op: `access upstream "NAME": op: ...`.
func (u *Upstream) errf(op, format string, args ...any) error {
	return fmt.Errorf("access upstream %q: %s: "+format, append([]any{u.name, op}, args...)...)
}

// CredentialExpiry returns the day api_key_expires names (midnight UTC)
// and whether it is set. The key is taken to work through that day.
func (u *Upstream) CredentialExpiry() (time.Time, bool) {
	return u.expiry, !u.expiry.IsZero()
}

// keyExpired reports whether the configured expiry day has passed.
func (u *Upstream) keyExpired(now time.Time) bool {
	return !u.expiry.IsZero() && !now.Before(u.expiry.Add(24*time.Hour))
}

// Warnings returns the upstream's non-fatal problems for status: an API
// key that expires within 14 days (or has expired), and what the last
// sync skipped or fell back from.
func (u *Upstream) Warnings() []string {
	var out []string
	if !u.expiry.IsZero() {
		now := u.clock.Now()
		day := u.expiry.Format(ExpiresLayout)
		switch end := u.expiry.Add(24 * time.Hour); {
		case !now.Before(end):
			out = append(out, fmt.Sprintf("the API key expired on %s (api_key_expires): create a new key in admin.atlassian.com and update api_key and api_key_expires", day))
		case end.Sub(now) <= ExpiryWarning:
			days := int(end.Sub(now).Hours() / 24)
			out = append(out, fmt.Sprintf("the API key expires on %s (in %d days): create a new key in admin.atlassian.com and update api_key and api_key_expires", day, days))
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return append(out, u.warnings...)
}

func (u *Upstream) setWarnings(w []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.warnings = slices.Clone(w)
}

// orgPath and dirPath are the API paths of the organization and of the
// configured directory.
func (u *Upstream) dirPath() string {
	return "/admin/v2/orgs/" + url.PathEscape(u.cfg.OrgID) + "/directories/" + url.PathEscape(u.cfg.DirectoryID)
}

func (u *Upstream) eventsPath() string {
	return "/admin/v1/orgs/" + url.PathEscape(u.cfg.OrgID) + "/events-stream"
}

// opContext returns ctx, also cancelled by Close.
func (u *Upstream) opContext(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(u.closeCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Check verifies the key, the organization and the directory with one
// request (GET …/directories). `dirgate config check --connect` may run it.
func (u *Upstream) Check(ctx context.Context) error {
	if u.isClosed() {
		return u.errf("check", "%w", ErrClosed)
	}
	if u.keyExpired(u.clock.Now()) {
		return u.errf("check", "%w", u.expiredKeyError())
	}
	ctx, done := u.opContext(ctx)
	defer done()
	var page struct {
		Data []struct {
			DirectoryID string `json:"directoryId"`
			Name        string `json:"name"`
		} `json:"data"`
	}
	_, err := u.api.Get(ctx, "/admin/v2/orgs/"+url.PathEscape(u.cfg.OrgID)+"/directories", nil, &page)
	if err != nil {
		if u.isClosed() {
			return u.errf("check", "%w", ErrClosed)
		}
		return u.errf("check", "%w", explain("directories", err, u.cfg))
	}
	if u.cfg.DirectoryID != "-" && !slices.ContainsFunc(page.Data, func(d struct {
		DirectoryID string `json:"directoryId"`
		Name        string `json:"name"`
	}) bool {
		return d.DirectoryID == u.cfg.DirectoryID
	}) {
		return u.errf("check", "%w: directory_id %s is not a directory of organization %s that this key can manage", upstream.ErrRejected, u.cfg.DirectoryID, u.cfg.OrgID)
	}
	return nil
}

func (u *Upstream) expiredKeyError() error {
	return fmt.Errorf("%w: the API key expired on %s (api_key_expires): create a new key in admin.atlassian.com and update api_key and api_key_expires",
		upstream.ErrCredentials, u.expiry.Format(ExpiresLayout))
}

// explain turns a failed request into an error that says what to do.
// what names the resource ("users", "groups", "events", "directories").
func explain(what string, err error, cfg Config) error {
	var e *cloudhttp.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	switch e.Kind {
	case cloudhttp.KindAuth:
		return fmt.Errorf("API key rejected — it may have expired or been revoked (create a new key in admin.atlassian.com and update api_key and api_key_expires): %w", err)
	case cloudhttp.KindPermission:
		scope := map[string]string{"users": "read:directories:admin", "directories": "read:directories:admin",
			"groups": "read:groups:admin", "members": "read:directories:admin", "events": "read:events:admin"}[what]
		return fmt.Errorf("the API key may not read the organization's %s: it needs the scope %s (or use a key without scopes) and admin rights over directory %q: %w",
			what, scope, cfg.DirectoryID, err)
	case cloudhttp.KindNotFound:
		if e.Code == "ADMIN-404-2" {
			return fmt.Errorf("organization %s not found for this API key (check org_id): %w", cfg.OrgID, err)
		}
		return fmt.Errorf("reading %s: not found (check org_id %s and directory_id %s): %w", what, cfg.OrgID, cfg.DirectoryID, err)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}
