package ldapfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/throttle"
	"github.com/dirgate/dirgate/upstream"
)

// Limits bound what one client can ask of the server.
type Limits struct {
	// MaxConnections per listener (default 1024). A connection over the
	// limit gets busy for its first request and is closed.
	MaxConnections int
	// MaxInFlight requests per connection (default 32); more get busy.
	MaxInFlight int
	// IdleTimeout closes a connection that sends nothing for this long
	// (default 5m); FirstRequestTimeout bounds the wait for a new
	// connection's first request (default 30s).
	IdleTimeout         time.Duration
	FirstRequestTimeout time.Duration
	// MaxPDU is the largest LDAP message accepted, in bytes (default 8 MiB).
	// It is a process-wide setting of the BER library.
	MaxPDU int
	// MaxFilterDepth and MaxFilterNodes bound search filters (defaults 32
	// and 512); MaxFilterLength their string form (default 64 KiB).
	MaxFilterDepth, MaxFilterNodes, MaxFilterLength int
	// MaxSizeLimit caps the entries of one search whatever the client asks
	// (default 0: no cap beyond the client's); MaxTimeLimit caps its time
	// (default 60s).
	MaxSizeLimit int
	MaxTimeLimit time.Duration
	// MaxCursors is the number of paged-results cursors one connection may
	// hold (default 8); the oldest is dropped beyond it.
	MaxCursors int
	// CachedUsers bounds the users whose DN and memberOf are kept ready
	// (default 200,000: about 30 MB for typical memberships).
	CachedUsers int
}

func (l Limits) withDefaults() Limits {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&l.MaxConnections, 1024)
	def(&l.MaxInFlight, 32)
	def(&l.MaxPDU, 8<<20)
	def(&l.MaxFilterDepth, 32)
	def(&l.MaxFilterNodes, 512)
	def(&l.MaxFilterLength, 64<<10)
	def(&l.MaxCursors, 8)
	def(&l.CachedUsers, 200_000)
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 5 * time.Minute
	}
	if l.FirstRequestTimeout <= 0 {
		l.FirstRequestTimeout = 30 * time.Second
	}
	if l.MaxTimeLimit <= 0 {
		l.MaxTimeLimit = 60 * time.Second
	}
	return l
}

// ServiceAccount may bind as cn=<Name>,ou=services,<base> to search.
type ServiceAccount struct {
	Name         string
	PasswordHash string
}

// Config configures the LDAP frontend.
type Config struct {
	// Listen is the plain LDAP address (StartTLS when TLS is set); LDAPSListen
	// the LDAPS one. Either may be empty; a port of 0 picks a free one.
	Listen, LDAPSListen string
	// TLS serves StartTLS and LDAPS; nil disables both.
	TLS                  *tls.Config
	Tree                 *Tree
	AllowAnonymousSearch bool
	ServiceAccounts      []ServiceAccount
	// Checkers check users' passwords, by upstream name.
	Checkers map[string]upstream.PasswordChecker
	Limits   Limits
	Logger   *slog.Logger
	Metrics  *Metrics
}

// Server is the LDAP frontend over a store.
type Server struct {
	cfg      Config
	lim      Limits
	store    *cache.Store
	log      *slog.Logger
	metrics  *Metrics
	throttle *throttle.Throttle
	services *serviceAccounts
	dse      *Entry
	schema   *Entry
	base     []*Entry // the naming context and the three containers
	derived  *derivedCache

	listeners []*listener
	// ctx is cancelled when Shutdown starts: background work (warming the
	// user cache) and throttling delays stop. abort is cancelled when
	// Shutdown gives up (its context ends): requests in flight, and the
	// upstream calls they wait for, run until then.
	ctx    context.Context
	cancel context.CancelFunc
	abort  context.Context
	stop   context.CancelFunc
}

// listener is one gldap server (plain or LDAPS) with its connections.
type listener struct {
	s     *Server
	ldaps bool
	g     *gldap.Server
	reg   *registry
	addr  string
	done  chan error
	// closed receives (without blocking) the ID of every connection gldap
	// has finished with: start waits for its readiness probe's.
	closed chan int
}

// New prepares the frontend; Start listens.
func New(cfg Config, store *cache.Store) (*Server, error) {
	if cfg.Tree == nil {
		return nil, errors.New("ldapfront: no tree")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.LDAPSListen != "" && cfg.TLS == nil {
		return nil, errors.New("ldapfront: LDAPS needs a TLS configuration")
	}
	lim := cfg.Limits.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	abort, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, lim: lim, store: store, log: cfg.Logger, metrics: cfg.Metrics,
		throttle: throttle.New(), derived: newDerivedCache(lim.CachedUsers), ctx: ctx, cancel: cancel, abort: abort, stop: stop}
	cfg.Tree.init()
	var err error
	if s.services, err = newServiceAccounts(cfg.ServiceAccounts); err != nil {
		cancel()
		stop()
		return nil, err
	}
	s.dse = s.rootDSE()
	s.schema = subschemaEntry()
	s.base = cfg.Tree.BaseEntries()
	s.derived.warm = s.warmDerived
	// The BER reader's limit is process-wide (the go-ldap client shares it);
	// never lower it below what upstream answers need.
	if ber.MaxPacketLengthBytes > int64(lim.MaxPDU) {
		ber.MaxPacketLengthBytes = int64(lim.MaxPDU)
	}
	return s, nil
}

// Start opens the listeners and returns once they accept connections.
func (s *Server) Start() error {
	s.derived.gen(s.store.Version()) // and warm it
	for _, l := range []struct {
		addr  string
		ldaps bool
	}{{s.cfg.Listen, false}, {s.cfg.LDAPSListen, true}} {
		if l.addr == "" {
			continue
		}
		ln, err := s.listen(l.addr, l.ldaps)
		if err != nil {
			_ = s.Shutdown(context.Background())
			return err
		}
		s.listeners = append(s.listeners, ln)
	}
	return nil
}

// Addrs returns the listening addresses: plain first, then LDAPS ("" for
// a listener that is off).
func (s *Server) Addrs() (plain, ldaps string) {
	for _, l := range s.listeners {
		if l.ldaps {
			ldaps = l.addr
		} else {
			plain = l.addr
		}
	}
	return plain, ldaps
}

func (s *Server) listen(addr string, ldaps bool) (*listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ldap listen %q: %w", addr, err)
	}
	// gldap takes an address, not a listener, and never tells which port it
	// got: pick a free one ourselves for port 0 (retrying if another process
	// takes it first).
	for attempt := 0; ; attempt++ {
		a := addr
		if port == "0" {
			p, err := freePort(host)
			if err != nil {
				return nil, fmt.Errorf("ldap listen %q: %w", addr, err)
			}
			a = net.JoinHostPort(host, strconv.Itoa(p))
		}
		l, err := s.start(a, ldaps)
		if err == nil {
			return l, nil
		}
		if port != "0" || attempt >= 5 {
			return nil, err
		}
	}
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start(addr string, ldaps bool) (*listener, error) {
	l := &listener{s: s, ldaps: ldaps, reg: newRegistry(s.abort, s.lim.IdleTimeout), addr: addr, done: make(chan error, 1), closed: make(chan int, 1)}
	g, err := gldap.NewServer(
		gldap.WithLogger(hclog.NewNullLogger()), // its debug level would log bind passwords
		gldap.WithReadTimeout(s.lim.FirstRequestTimeout),
		gldap.WithOnClose(func(id int) {
			if l.reg.forget(id) {
				s.metrics.connections.Dec()
			}
			select {
			case l.closed <- id:
			default:
			}
		}),
	)
	if err != nil {
		return nil, err
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, err
	}
	_ = mux.Bind(l.wrap("bind", l.bind))
	_ = mux.Search(l.wrap("search", l.search))
	_ = mux.ExtendedOperation(l.wrap("starttls", l.startTLS), gldap.ExtendedOperationStartTLS)
	_ = mux.Modify(l.wrap("modify", l.readOnly))
	_ = mux.Add(l.wrap("add", l.readOnly))
	_ = mux.Delete(l.wrap("delete", l.readOnly))
	_ = mux.DefaultRoute(l.wrap("other", l.other))
	if err := g.Router(mux); err != nil {
		return nil, err
	}
	l.g = g
	var opts []gldap.Option
	if ldaps {
		opts = append(opts, gldap.WithTLSConfig(s.cfg.TLS))
	}
	go func() { l.done <- g.Run(addr, opts...) }()
	// Ready() is true even when Listen failed (libraries.md §1.1): wait for
	// the port to answer or Run to fail.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-l.done:
			return nil, fmt.Errorf("ldap listen %s: %w", addr, err)
		default:
		}
		if g.Ready() {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				// Wait until gldap is done with the probe: its Stop would
				// otherwise race with the probe's accept (a WaitGroup Add
				// after Wait has begun).
				select {
				case <-l.closed:
				case <-time.After(2 * time.Second):
				}
				s.log.Info("LDAP listening", "addr", addr, "ldaps", ldaps, "starttls", !ldaps && s.cfg.TLS != nil)
				return l, nil
			}
		}
		if time.Now().After(deadline) {
			_ = g.Stop()
			return nil, fmt.Errorf("ldap listen %s: not accepting connections", addr)
		}
		time.Sleep(5 * time.Millisecond) // polling readiness: gldap has no signal
	}
}

// Shutdown stops accepting connections, lets requests in flight finish,
// closes idle connections, and returns when every connection is gone or
// ctx ends; then requests still in flight are cancelled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	defer s.stop()
	var wg sync.WaitGroup
	for _, l := range s.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.reg.closeIdle()
			_ = l.g.Stop()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ldap shutdown: %w", ctx.Err())
	}
}

// opName names a request's operation for the default route.
func opName(r *gldap.Request) string {
	if _, err := r.GetSimpleBindMessage(); err == nil {
		return "bind"
	}
	if _, err := r.GetSearchMessage(); err == nil {
		return "search"
	}
	if _, err := r.GetModifyMessage(); err == nil {
		return "modify"
	}
	if _, err := r.GetAddMessage(); err == nil {
		return "add"
	}
	if _, err := r.GetDeleteMessage(); err == nil {
		return "delete"
	}
	return "extended"
}

// reply writes the response of the right type for op with a result code:
// clients wait for the response type they asked for (libraries.md §1.2).
func reply(w *gldap.ResponseWriter, r *gldap.Request, op string, code int, diag string) {
	_ = w.Write(response(r, op, code, diag, ""))
}

// diagnosed is what every gldap response has: gldap's constructors ignore
// the diagnostic and matched-DN options for binds and searches, and default
// them to "Unused" for others (libraries.md §1.4), so we always set both.
type diagnosed interface {
	gldap.Response
	SetDiagnosticMessage(string)
	SetMatchedDN(string)
}

// response builds the result of op.
func response(r *gldap.Request, op string, code int, diag, matched string) diagnosed {
	var resp diagnosed
	switch op {
	case "bind":
		resp = r.NewBindResponse(gldap.WithResponseCode(code))
	case "search":
		resp = r.NewSearchDoneResponse(gldap.WithResponseCode(code))
	case "modify":
		resp = r.NewModifyResponse(gldap.WithResponseCode(code))
	case "add":
		resp = r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationAddResponse), gldap.WithResponseCode(code))
	case "delete":
		resp = r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationDelResponse), gldap.WithResponseCode(code))
	default:
		resp = r.NewExtendedResponse(gldap.WithResponseCode(code))
	}
	resp.SetDiagnosticMessage(diag)
	resp.SetMatchedDN(matched)
	return resp
}

// handler is the shape of our handlers: they get the connection's state
// and return the operation's result code (for metrics and logs).
type handler func(w *gldap.ResponseWriter, r *gldap.Request, st *connState) int

// wrap registers the connection, applies the limits, recovers panics, and
// records metrics around a handler.
func (l *listener) wrap(op string, h handler) gldap.HandlerFunc {
	s := l.s
	return func(w *gldap.ResponseWriter, r *gldap.Request) {
		name := op
		if op == "other" {
			name = opName(r)
		}
		start := time.Now()
		code := gldap.ResultOperationsError
		st, created, count := l.reg.register(r.ConnectionID(), r, l.ldaps)
		if created {
			s.metrics.connections.Inc()
			if count > s.lim.MaxConnections {
				s.log.Warn("connection limit reached: closing a new connection", "limit", s.lim.MaxConnections, "remote", st.remote)
				reply(w, r, name, gldap.ResultBusy, "too many connections")
				if st.netConn != nil {
					_ = st.netConn.Close()
				}
				s.metrics.observe(name, gldap.ResultBusy, start)
				return
			}
		}
		if !st.begin(s.lim.MaxInFlight) {
			reply(w, r, name, gldap.ResultBusy, "too many requests in flight on this connection")
			s.metrics.observe(name, gldap.ResultBusy, start)
			return
		}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in LDAP handler", "op", name, "conn", st.id, "panic", fmt.Sprint(p))
				reply(w, r, name, gldap.ResultOperationsError, "internal error")
				code = gldap.ResultOperationsError
			}
			st.end(s.lim.IdleTimeout)
			s.metrics.observe(name, code, start)
		}()
		code = h(w, r, st)
	}
}

// readOnly answers add, modify and delete: dirgate serves a read-only view.
func (l *listener) readOnly(w *gldap.ResponseWriter, r *gldap.Request, _ *connState) int {
	reply(w, r, opName(r), gldap.ResultUnwillingToPerform, "dirgate is a read-only directory gateway")
	return gldap.ResultUnwillingToPerform
}

// other answers what has no route: unknown extended operations get
// protocolError (RFC 4511 §4.12); anything else is refused in its own
// response type.
func (l *listener) other(w *gldap.ResponseWriter, r *gldap.Request, _ *connState) int {
	op := opName(r)
	if op == "extended" {
		reply(w, r, op, gldap.ResultProtocolError, "unsupported extended operation")
		return gldap.ResultProtocolError
	}
	reply(w, r, op, gldap.ResultUnwillingToPerform, "unsupported operation")
	return gldap.ResultUnwillingToPerform
}

// startTLS upgrades a plain connection (RFC 4511 §4.14). It runs on the
// connection's own goroutine (gldap serves StartTLS inline).
func (l *listener) startTLS(w *gldap.ResponseWriter, r *gldap.Request, st *connState) int {
	s := l.s
	fail := func(code int, diag string) int {
		reply(w, r, "extended", code, diag)
		return code
	}
	if s.cfg.TLS == nil {
		return fail(gldap.ResultProtocolError, "StartTLS is not configured")
	}
	st.mu.Lock()
	tlsOn, inflight := st.tls, st.inflight
	st.mu.Unlock()
	if tlsOn {
		return fail(gldap.ResultOperationsError, "TLS is already established")
	}
	if inflight > 1 {
		return fail(gldap.ResultOperationsError, "StartTLS with other requests outstanding")
	}
	if st.netConn == nil {
		return fail(gldap.ResultUnavailable, "StartTLS is not available")
	}
	_ = w.Write(r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
	_ = st.netConn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := r.StartTLS(s.cfg.TLS); err != nil {
		s.log.Info("StartTLS handshake failed", "conn", st.id, "remote", st.remote, "err", err)
		_ = st.netConn.Close()
		return gldap.ResultOperationsError
	}
	nc := netConnOf(r) // the *tls.Conn gldap now reads from
	_ = st.netConn.SetDeadline(time.Time{})
	st.mu.Lock()
	st.tls, st.netConn = true, nc
	st.mu.Unlock()
	return gldap.ResultSuccess
}
