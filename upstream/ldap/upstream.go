package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/upstream"
)

// ErrClosed is returned by every call on an Upstream after Close.
var ErrClosed = errors.New("ldap upstream is closed")

// Upstream is an LDAP directory (OpenLDAP, Active Directory, 389-ds, ...)
// that dirgate copies users and groups from and checks passwords against.
// Its methods are safe for concurrent use.
type Upstream struct {
	name       string
	cfg        Config
	log        *slog.Logger
	tls        *tls.Config // base TLS settings; ServerName is set per URL
	configHash string

	// syncMu serialises Syncs: they share one connection.
	syncMu sync.Mutex

	mu       sync.Mutex
	closed   bool
	syncConn *goldap.Conn // nil until the first sync, and after a failure
	syncURL  string
	idle     []*bindConn   // password-check connections not in use
	bindSem  chan struct{} // one token per bind connection in use
}

// Open prepares an upstream from cfg (defaults applied, then validated). It
// does not connect: the first Sync, Check or CheckPassword does, so that
// dirgate starts and serves its cache while an upstream is down.
func Open(name string, cfg Config, logger *slog.Logger) (*Upstream, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ldap upstream %q: %w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tlsCfg, err := buildTLS(cfg.TLS)
	if err != nil {
		var p upstream.Problems
		p.Add("tls.ca_file", "%v", err)
		return nil, fmt.Errorf("ldap upstream %q: %w", name, p.Err())
	}
	log := logger.With("upstream", name, "type", "ldap")
	if cfg.TLS.InsecureSkipVerify {
		log.Warn("TLS certificate verification is disabled (tls.insecure_skip_verify)")
	}
	return &Upstream{
		name:       name,
		cfg:        cfg,
		log:        log,
		tls:        tlsCfg,
		configHash: configHash(cfg),
		bindSem:    make(chan struct{}, cfg.BindConnections),
	}, nil
}

func buildTLS(c TLSConfig) (*tls.Config, error) {
	t := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, // the administrator asked for it; Open warns
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", c.CAFile)
		}
		t.RootCAs = pool
	}
	return t, nil
}

// Type returns "ldap".
func (u *Upstream) Type() string { return "ldap" }

// Close closes every connection. Calls after Close fail with ErrClosed;
// a sync in progress fails. Closing twice is harmless.
func (u *Upstream) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	idle, sc := u.idle, u.syncConn
	u.idle, u.syncConn = nil, nil
	u.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
	if sc != nil {
		sc.Close()
	}
	return nil
}

func (u *Upstream) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

// errf formats an error of operation op: "ldap upstream NAME: op: ...".
func (u *Upstream) errf(op, format string, args ...any) error {
	return fmt.Errorf("ldap upstream %q: %s: "+format, append([]any{u.name, op}, args...)...)
}

// Check connects and binds with the service credentials, and makes sure
// both bases exist. `dirgate config check --connect` runs it.
func (u *Upstream) Check(ctx context.Context) error {
	if u.isClosed() {
		return u.errf("check", "%w", ErrClosed)
	}
	c, _, err := u.dial(ctx, true)
	if err != nil {
		return u.errf("check", "%w", err)
	}
	defer c.Close()
	for _, b := range []struct{ what, base string }{{"user_base", u.cfg.UserBase}, {"group_base", u.cfg.GroupBase}} {
		req := goldap.NewSearchRequest(b.base, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"1.1"}, nil)
		err := guard(ctx, c, func() error { _, err := c.Search(req); return err })
		if err != nil {
			if ctx.Err() != nil {
				return u.errf("check", "%w", ctx.Err())
			}
			return u.errf("check", "reading %s %q: %w: %w", b.what, b.base, classify(err), err)
		}
	}
	return nil
}

// dial connects to the first URL that answers, in order, and binds as the
// service account when bind is set (an empty bind_dn stays anonymous).
func (u *Upstream) dial(ctx context.Context, bind bool) (*goldap.Conn, string, error) {
	var errs []error
	for i, raw := range u.cfg.URLs {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		c, err := u.dialURL(ctx, raw)
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			if i < len(u.cfg.URLs)-1 {
				u.log.Warn("cannot use LDAP server, trying the next URL", "url", raw, "err", err)
			}
			errs = append(errs, fmt.Errorf("%s: %w", raw, err))
			continue
		}
		if bind && u.cfg.BindDN != "" {
			err := guard(ctx, c, func() error { return c.Bind(u.cfg.BindDN, u.cfg.BindPassword.Reveal()) })
			if err != nil {
				c.Close()
				switch {
				case ctx.Err() != nil:
					return nil, "", ctx.Err()
				case goldap.IsErrorAnyOf(err, goldap.LDAPResultInvalidCredentials, goldap.LDAPResultInappropriateAuthentication):
					// The password is wrong at every replica: no failover.
					return nil, "", fmt.Errorf("binding as %q at %s: %w: %w", u.cfg.BindDN, raw, upstream.ErrCredentials, err)
				case errors.Is(classify(err), upstream.ErrUnavailable):
					errs = append(errs, fmt.Errorf("%s: binding as %q: %w", raw, u.cfg.BindDN, err))
					continue
				default:
					return nil, "", fmt.Errorf("binding as %q at %s: %w: %w", u.cfg.BindDN, raw, upstream.ErrRejected, err)
				}
			}
		}
		return c, raw, nil
	}
	return nil, "", fmt.Errorf("%w: no LDAP server answered: %w", upstream.ErrUnavailable, errors.Join(errs...))
}

// dialURL opens one connection: TCP (TLS for ldaps://), then StartTLS when
// configured. Every step is bounded by cfg.Timeout and by ctx.
func (u *Upstream) dialURL(ctx context.Context, raw string) (*goldap.Conn, error) {
	pu, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	host, port := pu.Hostname(), pu.Port()
	secure := pu.Scheme == "ldaps"
	if port == "" {
		port = "389"
		if secure {
			port = "636"
		}
	}
	d := net.Dialer{Timeout: u.cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	if secure {
		tc := tls.Client(nc, u.tlsFor(host))
		hctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	c := goldap.NewConn(nc, secure)
	c.Start()
	c.SetTimeout(u.cfg.Timeout)
	if u.cfg.StartTLS {
		// go-ldap's StartTLS handshake has no timeout of its own: bound it
		// with a deadline on the socket, lifted once TLS is up.
		_ = nc.SetDeadline(time.Now().Add(u.cfg.Timeout))
		err := guard(ctx, c, func() error { return c.StartTLS(u.tlsFor(host)) })
		if err != nil {
			// A refused StartTLS leaves the go-ldap connection without a
			// reader: close it.
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
		_ = nc.SetDeadline(time.Time{})
	}
	return c, nil
}

func (u *Upstream) tlsFor(host string) *tls.Config {
	t := u.tls.Clone()
	if t.ServerName == "" {
		t.ServerName = host
	}
	return t
}

// guard runs op, a request on c, and closes c if ctx ends first so that the
// request returns at once. It then returns ctx's error.
func guard(ctx context.Context, c *goldap.Conn, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := op()
	if !stop() {
		return ctx.Err()
	}
	return err
}

// classify returns the sentinel an LDAP or network error means.
func classify(err error) error {
	var le *goldap.Error
	if !errors.As(err, &le) {
		return upstream.ErrUnavailable // net.Error, io.EOF, TLS failures
	}
	switch le.ResultCode {
	case goldap.ErrorNetwork, goldap.ErrorUnexpectedMessage, goldap.ErrorUnexpectedResponse, goldap.ErrorMalformedPacket,
		goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultTimeLimitExceeded,
		goldap.LDAPResultOther, goldap.LDAPResultServerDown, goldap.LDAPResultTimeout, goldap.LDAPResultConnectError,
		goldap.LDAPResultLoopDetect:
		return upstream.ErrUnavailable
	}
	return upstream.ErrRejected
}

// syncConnection returns the sync connection, dialling it when there is
// none or it broke. Only Sync calls it, holding syncMu.
func (u *Upstream) syncConnection(ctx context.Context) (c *goldap.Conn, url string, reused bool, err error) {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil, "", false, ErrClosed
	}
	if u.syncConn != nil && !u.syncConn.IsClosing() {
		c, url = u.syncConn, u.syncURL
		u.mu.Unlock()
		return c, url, true, nil
	}
	old := u.syncConn
	u.syncConn = nil
	u.mu.Unlock()
	if old != nil {
		old.Close()
	}

	c, url, err = u.dial(ctx, true)
	if err != nil {
		return nil, "", false, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		c.Close()
		return nil, "", false, ErrClosed
	}
	u.syncConn, u.syncURL = c, url
	u.log.Info("connected for sync", "url", url)
	return c, url, false, nil
}

// dropSyncConn closes the sync connection c after an error so that the
// next sync dials again.
func (u *Upstream) dropSyncConn(c *goldap.Conn) {
	u.mu.Lock()
	if u.syncConn == c {
		u.syncConn = nil
	}
	u.mu.Unlock()
	c.Close()
}

// Interface guards.
var (
	_ upstream.Upstream        = (*Upstream)(nil)
	_ upstream.Syncer          = (*Upstream)(nil)
	_ upstream.PasswordChecker = (*Upstream)(nil)
)
