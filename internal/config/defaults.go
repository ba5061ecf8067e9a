package config

import (
	"path/filepath"
	"slices"
	"strings"
)

// Values of the enumerated settings; the first of each is the default.
var (
	memberOfModes = []string{"transitive", "direct"}
	logLevels     = []string{"info", "debug", "warn", "error"}
	logFormats    = []string{"text", "json"}
	permissions   = []string{"read", "write"}
)

// applyDefaults fills in every setting the file left out and makes the
// relative paths in it relative to the directory of c.Path.
func (c *Config) applyDefaults() {
	dir := configDir(c.Path)

	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	c.DataDir = resolvePath(dir, c.DataDir)

	if c.Log.Level == "" {
		c.Log.Level = logLevels[0]
	}
	if c.Log.Format == "" {
		c.Log.Format = logFormats[0]
	}

	if c.LDAP.Listen == nil {
		c.LDAP.Listen = ptr(DefaultLDAPListen)
	}
	if c.LDAP.MemberOf == "" {
		c.LDAP.MemberOf = memberOfModes[0]
	}
	c.LDAP.TLS.resolve(dir)

	if c.REST.Listen == nil {
		c.REST.Listen = ptr(DefaultRESTListen)
	}
	c.REST.TLS.resolve(dir)
	if c.REST.SessionTimeout == 0 {
		c.REST.SessionTimeout = DefaultSessionTimeout
	}
	if c.REST.Cookie.Name == "" {
		c.REST.Cookie.Name = DefaultCookieName
	}
	c.REST.ContextPath = strings.TrimRight(c.REST.ContextPath, "/")
	for i := range c.REST.Applications {
		a := &c.REST.Applications[i]
		if a.AggregateMemberships == nil {
			a.AggregateMemberships = ptr(true)
		}
		if len(a.Permissions) == 0 {
			a.Permissions = []string{"read"}
		}
	}

	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		if u.Refresh.Interval == 0 {
			u.Refresh.Interval = DefaultRefreshInterval
		}
		if u.Refresh.FullEvery == 0 {
			u.Refresh.FullEvery = DefaultRefreshFullEvery
		}
		if u.MaxDeletePercent == nil {
			u.MaxDeletePercent = ptr(DefaultMaxDeletePercent)
		}
		if k, ok := upstreamTypes[u.Type]; ok && k.config(u) != nil {
			k.defaults(u, dir)
		}
	}
}

func (t *TLSFiles) resolve(dir string) {
	t.CertFile = resolvePath(dir, t.CertFile)
	t.KeyFile = resolvePath(dir, t.KeyFile)
}

// configDir returns the absolute directory of the configuration file at
// path, against which relative paths in it are resolved; "" when there is no
// file, which leaves them relative to the working directory.
func configDir(path string) string {
	if path == "" {
		return ""
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// resolvePath makes p relative to dir. Empty and absolute paths are kept.
func resolvePath(dir, p string) string {
	if p == "" || dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func ptr[T any](v T) *T { return &v }

// oneOf reports whether s is in list.
func oneOf(s string, list []string) bool { return slices.Contains(list, s) }
