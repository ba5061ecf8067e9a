package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/certs"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/ldapfront"
	"github.com/dirgate/dirgate/restfront/admin"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/access"
	"github.com/dirgate/dirgate/upstream/jiracloud"
	ldapup "github.com/dirgate/dirgate/upstream/ldap"
	"github.com/dirgate/dirgate/upstream/local"
)

// opener opens one configured upstream. One explicit map from type name to
// opener: no init-time registration.
type opener func(u config.Upstream, store *cache.Store, log *slog.Logger) (upstream.Upstream, error)

var openers = map[string]opener{
	"ldap": func(u config.Upstream, _ *cache.Store, log *slog.Logger) (upstream.Upstream, error) {
		return ldapup.Open(u.Name, *u.LDAP, log)
	},
	"local": func(u config.Upstream, store *cache.Store, log *slog.Logger) (upstream.Upstream, error) {
		return local.Open(u.Name, *u.Local, store, log)
	},
	"jiracloud": func(u config.Upstream, _ *cache.Store, log *slog.Logger) (upstream.Upstream, error) {
		up, err := jiracloud.Open(u.Name, *u.JiraCloud, log)
		if err != nil {
			return nil, err
		}
		return up.AsUpstream(), nil // a PasswordChecker only with auth: api_token
	},
	"access": func(u config.Upstream, _ *cache.Store, log *slog.Logger) (upstream.Upstream, error) {
		up, err := access.Open(u.Name, *u.Access, log)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return up, nil
	},
}

// runtime is what a process opens from a configuration: the store, and
// optionally the upstreams and the refresher.
type runtime struct {
	cfg       *config.Config
	log       *slog.Logger
	store     *cache.Store
	ups       []upstream.Upstream // in configured order; nil without upstreams
	refresher *cache.Refresher
	tree      *ldapfront.Tree
	certs     *certs.Source // serve only
	closers   []func() error
}

// storeDir is where the Badger store lives inside data_dir.
func storeDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "store") }

// certsConfig is the LDAP frontend's TLS material: configured files, or a
// self-signed pair in data_dir/certs naming the listen addresses.
func certsConfig(cfg *config.Config, log *slog.Logger) certs.Config {
	c := certs.Config{CertFile: cfg.LDAP.TLS.CertFile, KeyFile: cfg.LDAP.TLS.KeyFile, Dir: filepath.Join(cfg.DataDir, "certs"), Logger: log}
	for _, a := range []string{listenAddr(cfg.LDAP.Listen), cfg.LDAP.LDAPSListen} {
		if a != "" {
			c.Hosts = append(c.Hosts, a)
		}
	}
	if h, err := os.Hostname(); err == nil {
		c.Hosts = append(c.Hosts, h)
	}
	return c
}

func listenAddr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// checkers returns the password checkers of the opened upstreams.
func (rt *runtime) checkers() map[string]upstream.PasswordChecker {
	m := map[string]upstream.PasswordChecker{}
	var localName string
	var localUp *local.Upstream
	for i, u := range rt.ups {
		if l, ok := u.(*local.Upstream); ok && localUp == nil {
			localName, localUp = rt.cfg.Upstreams[i].Name, l
		}
	}
	for i, u := range rt.ups {
		name := rt.cfg.Upstreams[i].Name
		switch {
		case rt.cfg.Upstreams[i].AuthMode() == "local" && localUp != nil:
			m[name] = localPasswords{store: rt.store, local: localName, l: localUp}
		default:
			if pc, ok := u.(upstream.PasswordChecker); ok {
				m[name] = pc
			}
		}
	}
	return m
}

// localPasswords checks the password of another upstream's user against
// the local upstream's user of the same name (auth: local).
type localPasswords struct {
	store *cache.Store
	local string
	l     *local.Upstream
}

func (p localPasswords) CheckPassword(ctx context.Context, u *upstream.User, password string) (bool, error) {
	rec, ok := p.store.UpstreamUser(p.local, u.Username)
	if !ok {
		return false, nil
	}
	return p.l.CheckPassword(ctx, rec, password)
}

// openRuntime opens the store and, with withUpstreams, every upstream and
// a refresher over them. On failure everything opened so far is closed.
func openRuntime(cfg *config.Config, log *slog.Logger, withUpstreams bool) (_ *runtime, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	rt := &runtime{cfg: cfg, log: log, tree: treeOf(cfg)}
	defer func() {
		if err != nil {
			rt.Close()
		}
	}()
	rt.store, err = cache.Open(cache.Options{Dir: storeDir(cfg), Upstreams: cfg.UpstreamNames(), Logger: log.With("component", "store")})
	if err != nil {
		return nil, err
	}
	if !withUpstreams {
		return rt, nil
	}
	var targets []cache.Target
	for _, u := range cfg.Upstreams {
		open := openers[u.Type]
		if open == nil {
			return nil, fmt.Errorf("upstream %s: type %q is not supported by this build", u.Name, u.Type)
		}
		up, err := open(u, rt.store, log) // each upstream scopes its own logger
		if err != nil {
			return nil, err
		}
		rt.ups = append(rt.ups, up)
		t := cache.Target{Name: u.Name, Type: u.Type, Interval: u.Refresh.Interval, FullEvery: u.Refresh.FullEvery,
			MaxDeletePercent: *u.MaxDeletePercent, LinkByEmail: u.LinkBy == "email"}
		if s, ok := up.(upstream.Syncer); ok {
			t.Syncer = s
		}
		targets = append(targets, t)
	}
	rt.refresher = cache.NewRefresher(rt.store, targets, log.With("component", "refresher"))
	return rt, nil
}

func treeOf(cfg *config.Config) *ldapfront.Tree {
	t := &ldapfront.Tree{BaseDN: cfg.BaseDN, TransitiveMemberOf: cfg.LDAP.MemberOf != "direct"}
	for _, sa := range cfg.LDAP.ServiceAccounts {
		t.ServiceAccounts = append(t.ServiceAccounts, sa.Name)
	}
	return t
}

func (rt *runtime) types() map[string]string {
	m := map[string]string{}
	for _, u := range rt.cfg.Upstreams {
		m[u.Name] = u.Type
	}
	return m
}

func (rt *runtime) admin(live bool) *admin.Local {
	return &admin.Local{Store: rt.store, Refresher: rt.refresher, Tree: rt.tree, Types: rt.types(), Live: live,
		TLS: func() (*certs.Info, error) {
			if rt.certs != nil {
				i := rt.certs.Info()
				return &i, nil
			}
			i, err := certs.ReadInfo(certsConfig(rt.cfg, rt.log))
			if err != nil {
				return nil, err
			}
			return &i, nil
		}}
}

// Close closes the upstreams, then the store.
func (rt *runtime) Close() {
	for _, u := range rt.ups {
		if err := u.Close(); err != nil {
			rt.log.Warn("closing upstream", "err", err)
		}
	}
	if rt.certs != nil {
		_ = rt.certs.Close()
	}
	for _, c := range rt.closers {
		_ = c()
	}
	if rt.store != nil {
		if err := rt.store.Close(); err != nil {
			rt.log.Warn("closing store", "err", err)
		}
	}
}

// service returns the admin service for a command: the running serve
// process's over its socket if there is one, otherwise a store opened
// here (with the upstreams when the command syncs).
func service(ctx context.Context, cfg *config.Config, log *slog.Logger, withUpstreams bool) (admin.Service, func(), error) {
	if c, err := admin.Dial(cfg.DataDir); err == nil {
		log.Debug("using the running serve process", "socket", admin.SocketPath(cfg.DataDir))
		return c, func() {}, nil
	}
	rt, err := openRuntime(cfg, log, withUpstreams)
	if errors.Is(err, cache.ErrInUse) {
		return nil, nil, fmt.Errorf("%w; no serve process answers on %s, so another command holds it: try again when it ends", err, admin.SocketPath(cfg.DataDir))
	}
	if err != nil {
		return nil, nil, err
	}
	return rt.admin(false), rt.Close, nil
}
