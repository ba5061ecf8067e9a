package restfront

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/throttle"
	"github.com/dirgate/dirgate/upstream"
)

// crowdVersion is what X-Embedded-Crowd-Version says on every response
// under the prefix: the Java client refuses a server without it, and we
// implement the API of Crowd 5.x.
const crowdVersion = "Crowd/5.1.6"

// Header values set on most responses, shared rather than allocated per
// request (net/http copies the map, never these slices).
var (
	hdrVersion = []string{crowdVersion}
	hdrNoCache = []string{"no-cache, no-store"}
	hdrJSON    = []string{"application/json"}
	hdrXML     = []string{"application/xml"}
)

// Limits on what a request may ask.
const (
	maxBody        = 1 << 20 // request bodies
	defaultResults = 1000
)

// Config configures the Crowd frontend.
type Config struct {
	Listen         string
	TLS            *tls.Config
	ContextPath    string
	TrustedProxies []string
	Applications   []Application
	SessionTimeout time.Duration
	Cookie         CookieConfig
	// Checkers check users' passwords, by upstream name; Writer is the
	// first writable upstream (the local directory), nil if none.
	Checkers map[string]upstream.PasswordChecker
	Writer   upstream.Writer
	// WriterUpstream names the upstream Writer writes to.
	WriterUpstream string
	Logger         *slog.Logger
	Metrics        *Metrics
	// MetricsHandler, when set, serves /metrics (Prometheus) on the same
	// listener, outside the API prefix and without application auth.
	MetricsHandler http.Handler
}

// CookieConfig is GET /config/cookie's answer.
type CookieConfig struct {
	Name, Domain string
	Secure       bool
}

// Server is the Crowd REST frontend.
type Server struct {
	cfg      Config
	store    *cache.Store
	log      *slog.Logger
	metrics  *Metrics
	apps     map[string]*application
	trusted  []netip.Prefix
	verifier *secret.Verifier
	throttle *throttle.Throttle
	prefixes []string // /rest/usermanagement/1 and /latest, under the context path
	mux      *http.ServeMux

	http *http.Server
	ln   net.Listener

	lastBase atomic.Pointer[baseCache]
	ctx      context.Context
	stop     context.CancelFunc
}

// New prepares the frontend; Start listens.
func New(ctx context.Context, cfg Config, store *cache.Store) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 30 * time.Minute
	}
	if cfg.Cookie.Name == "" {
		cfg.Cookie.Name = "crowd.token_key"
	}
	sctx, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, store: store, log: cfg.Logger, metrics: cfg.Metrics, apps: map[string]*application{},
		verifier: secret.NewVerifier(10*time.Minute, 1024), throttle: throttle.New(), ctx: sctx, stop: stop}
	for _, p := range cfg.TrustedProxies {
		if pr, err := netip.ParsePrefix(p); err == nil {
			s.trusted = append(s.trusted, pr.Masked())
		} else if a, err := netip.ParseAddr(p); err == nil {
			s.trusted = append(s.trusted, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			stop()
			return nil, fmt.Errorf("rest.trusted_proxies: %q is not an address or CIDR", p)
		}
	}
	for _, a := range cfg.Applications {
		if err := secret.CheckHash(a.PasswordHash); err != nil {
			stop()
			return nil, fmt.Errorf("application %s: %w", a.Name, err)
		}
		patterns, warnings := compilePatterns(ctx, a.RemoteAddresses)
		for _, w := range warnings {
			s.log.Warn("application "+a.Name+": "+w, "application", a.Name)
		}
		app := &application{name: a.Name, hash: a.PasswordHash, allowed: patterns, groups: foldAll(a.AllowedGroups),
			aggregate: a.Aggregate, lowercase: a.Lowercase, write: a.Write}
		s.apps[a.Name] = app
	}
	cp := strings.TrimRight(cfg.ContextPath, "/")
	s.prefixes = []string{cp + "/rest/usermanagement/1", cp + "/rest/usermanagement/latest"}
	s.routes()
	return s, nil
}

// Handler is the whole HTTP handler: the API under its prefixes, and the
// health and metrics endpoints.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// serveHTTP puts the version header on everything under the API prefixes
// before the mux sees the request, so that even the mux's own answers
// (redirects of unclean paths) carry it.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	for _, p := range s.prefixes {
		if strings.HasPrefix(r.URL.Path, p) {
			w.Header()["X-Embedded-Crowd-Version"] = hdrVersion
			break
		}
	}
	s.mux.ServeHTTP(w, r)
}

// Start listens on cfg.Listen (port 0 picks one) and serves.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("rest listen %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.ln = ln
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("REST server", "err", err)
		}
	}()
	s.log.Info("Crowd REST listening", "addr", ln.Addr().String(), "https", s.cfg.TLS != nil, "prefix", s.prefixes[0])
	return nil
}

// Addr is the listening address.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting requests and waits for those in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	if s.http == nil {
		return nil
	}
	return s.http.Shutdown(ctx)
}

// request is one API request with what the handlers need.
type request struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	app  *application
	v    *view
	json bool // respond in JSON
}

// wantsJSON: JSON on Accept: application/json, XML otherwise (crowd-rest.md T4).
func wantsJSON(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		for a != "" {
			var part string
			part, a, _ = strings.Cut(a, ",")
			mt, _, _ := strings.Cut(part, ";") // parameters do not matter
			mt = strings.TrimSpace(mt)
			if strings.EqualFold(mt, "application/json") ||
				len(mt) > 5 && strings.EqualFold(mt[len(mt)-5:], "+json") && strings.HasPrefix(strings.ToLower(mt), "application/") {
				return true
			}
		}
	}
	return false
}

// params calls fn with each value of the query parameter name, in order,
// until fn returns false. It reads the raw query as url.ParseQuery does
// ('+' is a space, pairs with bad escapes or ';' are dropped) without
// building its map: most requests ask for two or three parameters once.
func (q *request) params(name string, fn func(string) bool) {
	raw := q.r.URL.RawQuery
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		if !fn(v) {
			return
		}
	}
}

// param is the first value of a query parameter, "" when absent.
func (q *request) param(name string) string {
	var out string
	q.params(name, func(v string) bool { out = v; return false })
	return out
}

// expand reports whether expand=... names what (repeatable, comma-separated).
func (q *request) expand(what string) bool {
	found := false
	q.params("expand", func(v string) bool {
		for v != "" && !found {
			var p string
			p, v, _ = strings.Cut(v, ",")
			found = strings.EqualFold(strings.TrimSpace(p), what)
		}
		return !found
	})
	return found
}

// page returns start-index and max-results. -1 means all (Jira's full
// sync asks for every user that way, so there is no cap: lists are
// streamed, not built in memory).
func (q *request) page() (start, max int, err error) {
	start, max = 0, defaultResults
	if s := q.param("start-index"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 0 {
			return 0, 0, fmt.Errorf("start-index: %q is not a non-negative number", s)
		}
		start = n
	}
	if s := q.param("max-results"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < -1 {
			return 0, 0, fmt.Errorf("max-results: %q is not a number >= -1", s)
		}
		max = n
	}
	if max == -1 {
		max = math.MaxInt
	}
	return start, max, nil
}

// reply writes an entity with a status.
func (q *request) reply(status int, e entity) {
	b, err := marshal(e, q.json)
	if err != nil {
		q.fail(http.StatusInternalServerError, "OPERATION_FAILED", "cannot encode the response")
		return
	}
	q.contentType()
	q.w.WriteHeader(status)
	_, _ = q.w.Write(b)
}

// contentType sets exactly application/json or application/xml (the node
// client checks the JSON one to the letter, crowd-rest.md T6).
func (q *request) contentType() {
	if q.json {
		q.w.Header()["Content-Type"] = hdrJSON
	} else {
		q.w.Header()["Content-Type"] = hdrXML
	}
}

// empty answers a status without a body (204), or with the negotiated
// content type and no body (201 and others: T7).
func (q *request) empty(status int) {
	if status != http.StatusNoContent {
		q.contentType()
	}
	q.w.WriteHeader(status)
}

// fail writes a Crowd error in the negotiated format.
func (q *request) fail(status int, reason, msg string) {
	b, _ := marshal(plain{&errorEntity{Reason: reason, Message: stripInvalidXML(msg)}}, q.json)
	q.contentType()
	q.w.WriteHeader(status)
	_, _ = q.w.Write(b)
}

// stripInvalidXML drops characters XML 1.0 cannot carry.
func stripInvalidXML(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF {
			return r
		}
		return -1
	}, s)
}

// decode reads a request body as XML or JSON (by Content-Type; XML when
// unsaid), at most maxBody bytes.
func (q *request) decode(x any, j any) error {
	body, err := io.ReadAll(io.LimitReader(q.r.Body, maxBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxBody {
		return fmt.Errorf("request body larger than %d bytes", maxBody)
	}
	mt, _, _ := mime.ParseMediaType(q.r.Header.Get("Content-Type"))
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		if err := json.Unmarshal(body, j); err != nil {
			return fmt.Errorf("malformed JSON: %w", err)
		}
		return nil
	}
	if strings.Contains(string(body[:min(len(body), 512)]), "<!DOCTYPE") {
		return errors.New("document type declarations are not accepted")
	}
	if err := xml.Unmarshal(body, x); err != nil {
		return fmt.Errorf("malformed XML: %w", err)
	}
	return nil
}
