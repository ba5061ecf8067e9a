package config

import (
	"reflect"

	"github.com/dirgate/dirgate/upstream/access"
	"github.com/dirgate/dirgate/upstream/jiracloud"
	ldapup "github.com/dirgate/dirgate/upstream/ldap"
	"github.com/dirgate/dirgate/upstream/local"
)

// upstreamKind is what the loader needs to know about one upstream type. A
// new type is one entry in upstreamTypes, its name in Types, and a field in
// Upstream.
type upstreamKind struct {
	// configType is the type's Config struct, for its keys.
	configType reflect.Type
	// newConfig stores a fresh Config in u and returns it, addressable, for
	// the decoder to fill.
	newConfig func(u *Upstream) reflect.Value
	// config returns u's Config of this type, nil if it has none.
	config func(u *Upstream) any
	// defaults applies the type's defaults to its Config in u (which is
	// present) and resolves its relative paths against dir.
	defaults func(u *Upstream, dir string)
	// validate runs the type's own Validate on its Config in u (present).
	validate func(u *Upstream) error
}

var upstreamTypes = map[string]upstreamKind{
	"ldap": {
		configType: reflect.TypeFor[ldapup.Config](),
		newConfig: func(u *Upstream) reflect.Value {
			u.LDAP = new(ldapup.Config)
			return reflect.ValueOf(u.LDAP).Elem()
		},
		config: func(u *Upstream) any { return nilIfNil(u.LDAP) },
		defaults: func(u *Upstream, dir string) {
			c := u.LDAP.WithDefaults()
			c.TLS.CAFile = resolvePath(dir, c.TLS.CAFile)
			u.LDAP = &c
		},
		validate: func(u *Upstream) error { return u.LDAP.Validate() },
	},
	"local": {
		configType: reflect.TypeFor[local.Config](),
		newConfig: func(u *Upstream) reflect.Value {
			u.Local = new(local.Config)
			return reflect.ValueOf(u.Local).Elem()
		},
		config: func(u *Upstream) any { return nilIfNil(u.Local) },
		defaults: func(u *Upstream, dir string) {
			c := u.Local.WithDefaults()
			c.SeedFile = resolvePath(dir, c.SeedFile)
			u.Local = &c
		},
		validate: func(u *Upstream) error { return u.Local.Validate() },
	},
	"jiracloud": {
		configType: reflect.TypeFor[jiracloud.Config](),
		newConfig: func(u *Upstream) reflect.Value {
			u.JiraCloud = new(jiracloud.Config)
			return reflect.ValueOf(u.JiraCloud).Elem()
		},
		config: func(u *Upstream) any { return nilIfNil(u.JiraCloud) },
		defaults: func(u *Upstream, _ string) {
			c := u.JiraCloud.WithDefaults()
			u.JiraCloud = &c
		},
		validate: func(u *Upstream) error { return u.JiraCloud.Validate() },
	},
	"access": {
		configType: reflect.TypeFor[access.Config](),
		newConfig: func(u *Upstream) reflect.Value {
			u.Access = new(access.Config)
			return reflect.ValueOf(u.Access).Elem()
		},
		config: func(u *Upstream) any { return nilIfNil(u.Access) },
		defaults: func(u *Upstream, _ string) {
			c := u.Access.WithDefaults()
			u.Access = &c
		},
		validate: func(u *Upstream) error { return u.Access.Validate() },
	},
}

// nilIfNil turns a nil *T into a nil interface, so that callers can compare
// the result of upstreamKind.config with nil.
func nilIfNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return p
}

// UpstreamNames returns the names of the upstreams in configuration order.
func (c *Config) UpstreamNames() []string {
	names := make([]string, len(c.Upstreams))
	for i, u := range c.Upstreams {
		names[i] = u.Name
	}
	return names
}
