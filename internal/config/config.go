package config

import (
	"time"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream/access"
	"github.com/dirgate/dirgate/upstream/jiracloud"
	ldapup "github.com/dirgate/dirgate/upstream/ldap"
	"github.com/dirgate/dirgate/upstream/local"
)

// Defaults.
const (
	DefaultDataDir          = "./dirgate-data"
	DefaultLDAPListen       = "127.0.0.1:3389"
	DefaultRESTListen       = "127.0.0.1:8095"
	DefaultRefreshInterval  = 10 * time.Minute
	DefaultRefreshFullEvery = 24 * time.Hour
	DefaultMaxDeletePercent = 20
	DefaultSessionTimeout   = 30 * time.Minute
	DefaultCookieName       = "crowd.token_key"
)

// Config is the whole file.
type Config struct {
	DataDir   string     `yaml:"data_dir"`
	BaseDN    string     `yaml:"base_dn"`
	Log       Log        `yaml:"log"`
	LDAP      LDAP       `yaml:"ldap"`
	REST      REST       `yaml:"rest"`
	Upstreams []Upstream `yaml:"upstreams"`

	// Path is the file the configuration was read from ("" if none). Relative
	// paths inside the file (data_dir, seed_file, cert files) are resolved
	// against its directory.
	Path string `yaml:"-"`
}

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// TLSFiles names a PEM certificate and key.
type TLSFiles struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// LDAP is the LDAP frontend.
type LDAP struct {
	// Listen is the plain LDAP (StartTLS) address; nil means the default,
	// "" disables it.
	Listen               *string          `yaml:"listen"`
	LDAPSListen          string           `yaml:"ldaps_listen"`
	TLS                  TLSFiles         `yaml:"tls"`
	AllowAnonymousSearch bool             `yaml:"allow_anonymous_search"`
	MemberOf             string           `yaml:"memberof"` // transitive (default) or direct
	ServiceAccounts      []ServiceAccount `yaml:"service_accounts"`
}

// ServiceAccount is an identity that may bind to the LDAP frontend to search.
type ServiceAccount struct {
	Name         string        `yaml:"name"`
	PasswordHash secret.String `yaml:"password_hash"`
}

// REST is the Crowd REST frontend.
type REST struct {
	// Listen: nil means the default, "" disables it.
	Listen         *string       `yaml:"listen"`
	TLS            TLSFiles      `yaml:"tls"`
	TrustedProxies []string      `yaml:"trusted_proxies"`
	Applications   []Application `yaml:"applications"`
	// ContextPath is served before /rest/usermanagement/1 (e.g. "/crowd",
	// so that a Crowd URL http://host:8095/crowd works unchanged).
	ContextPath string `yaml:"context_path"`
	// SessionTimeout is how long an SSO session lives without use
	// (default 30m).
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Cookie is what GET /config/cookie tells SSO clients.
	Cookie Cookie `yaml:"cookie"`
}

// Cookie configures the SSO cookie applications set.
type Cookie struct {
	Name   string `yaml:"name"` // default crowd.token_key
	Domain string `yaml:"domain"`
	Secure bool   `yaml:"secure"`
}

// Application is a client of the Crowd REST frontend (Jira, Confluence, ...).
type Application struct {
	Name                 string        `yaml:"name"`
	PasswordHash         secret.String `yaml:"password_hash"`
	RemoteAddresses      []string      `yaml:"remote_addresses"`
	AllowedGroups        []string      `yaml:"allowed_groups"`
	AggregateMemberships *bool         `yaml:"aggregate_memberships"` // default true
	LowercaseOutput      bool          `yaml:"lowercase_output"`
	Permissions          []string      `yaml:"permissions"` // read (default), write
}

// Upstream is one `upstreams[]` entry: the settings every type shares, and
// the settings of its type in exactly one of the type-specific fields.
type Upstream struct {
	Name    string  `yaml:"name"`
	Type    string  `yaml:"type"`
	Refresh Refresh `yaml:"refresh"`
	// MaxDeletePercent: a sync that would delete more than this share of the
	// upstream's users or groups is refused. nil means the default (20);
	// 100 disables the guard.
	MaxDeletePercent *int `yaml:"max_delete_percent"`
	// LinkBy "email" files this upstream's users under the user of an
	// earlier upstream with the same e-mail address (one person, one user;
	// memberships aggregate). "" links nothing.
	LinkBy string `yaml:"link_by"`

	LDAP      *ldapup.Config    `yaml:"-"` // type: ldap
	Local     *local.Config     `yaml:"-"` // type: local
	JiraCloud *jiracloud.Config `yaml:"-"` // type: jiracloud
	Access    *access.Config    `yaml:"-"` // type: access
}

// Refresh schedules an upstream's syncs.
type Refresh struct {
	Interval  time.Duration `yaml:"interval"`   // default 10m
	FullEvery time.Duration `yaml:"full_every"` // default 24h
}

// Types lists the upstream types this build knows, in documentation order.
var Types = []string{"ldap", "local", "jiracloud", "access"}
