package ldap

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
)

// Defaults for the settings a Config may leave empty.
const (
	DefaultPageSize        = 500
	DefaultTimeout         = 10 * time.Second
	DefaultBindConnections = 16
	DefaultUserFilter      = "(objectClass=inetOrgPerson)"
	DefaultGroupFilter     = "(objectClass=groupOfNames)"
)

// Incremental modes: how an incremental sync finds what changed.
const (
	IncrementalModifyTimestamp = "modifyTimestamp" // OpenLDAP and most servers (default)
	IncrementalUSNChanged      = "uSNChanged"      // Active Directory
	IncrementalNone            = "none"            // every sync is full
)

// Config is the `upstreams[]` entry of type ldap.
type Config struct {
	// URLs are tried in order; the first that answers is used.
	URLs     []string  `yaml:"urls"`
	StartTLS bool      `yaml:"start_tls"`
	TLS      TLSConfig `yaml:"tls"`
	// BindDN and BindPassword are dirgate's own service identity for syncing.
	// An empty BindDN syncs anonymously.
	BindDN       string        `yaml:"bind_dn"`
	BindPassword secret.String `yaml:"bind_password"`
	UserBase     string        `yaml:"user_base"`
	UserFilter   string        `yaml:"user_filter"`
	GroupBase    string        `yaml:"group_base"`
	GroupFilter  string        `yaml:"group_filter"`
	Attributes   Attributes    `yaml:"attributes"`
	// PageSize is the RFC 2696 page size of sync searches.
	PageSize int `yaml:"page_size"`
	// Timeout bounds every dial and every request.
	Timeout time.Duration `yaml:"timeout"`
	// Incremental is modifyTimestamp (default), uSNChanged or none.
	Incremental string `yaml:"incremental"`
	// BindConnections is the number of connections kept for user password
	// checks, separate from the sync connection.
	BindConnections int `yaml:"bind_connections"`
}

// TLSConfig configures ldaps:// and StartTLS.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Attributes maps the model's fields to LDAP attribute names.
type Attributes struct {
	Username    string `yaml:"username"`     // uid
	Email       string `yaml:"email"`        // mail
	FirstName   string `yaml:"first_name"`   // givenName
	LastName    string `yaml:"last_name"`    // sn
	DisplayName string `yaml:"display_name"` // displayName, falling back to cn
	ExternalID  string `yaml:"external_id"`  // entryUUID (objectGUID with incremental: uSNChanged)
	GroupName   string `yaml:"group_name"`   // cn
	Description string `yaml:"description"`  // description
	Member      string `yaml:"member"`       // member
}

// WithDefaults returns c with every empty setting set to its default.
func (c Config) WithDefaults() Config {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.UserFilter, DefaultUserFilter)
	def(&c.GroupFilter, DefaultGroupFilter)
	def(&c.Incremental, IncrementalModifyTimestamp)
	a := &c.Attributes
	def(&a.Username, "uid")
	def(&a.Email, "mail")
	def(&a.FirstName, "givenName")
	def(&a.LastName, "sn")
	def(&a.DisplayName, "displayName")
	if c.Incremental == IncrementalUSNChanged {
		// Active Directory has no entryUUID.
		def(&a.ExternalID, "objectGUID")
	}
	def(&a.ExternalID, "entryUUID")
	def(&a.GroupName, "cn")
	def(&a.Description, "description")
	def(&a.Member, "member")
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BindConnections == 0 {
		c.BindConnections = DefaultBindConnections
	}
	return c
}

// Validate reports every problem in c (after WithDefaults) with its key path.
func (c Config) Validate() error {
	var p upstream.Problems
	if len(c.URLs) == 0 {
		p.Add("urls", "at least one URL is required")
	}
	for i, s := range c.URLs {
		u, err := url.Parse(s)
		switch {
		case err != nil:
			p.Add(fmt.Sprintf("urls[%d]", i), "not a valid URL: %v", err)
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			p.Add(fmt.Sprintf("urls[%d]", i), "scheme must be ldap or ldaps, not %q", u.Scheme)
		case u.Host == "":
			p.Add(fmt.Sprintf("urls[%d]", i), "missing host")
		case c.StartTLS && u.Scheme == "ldaps":
			p.Add(fmt.Sprintf("urls[%d]", i), "start_tls cannot be used with ldaps://")
		}
	}
	checkDN := func(path, dn string, required bool) {
		if dn == "" {
			if required {
				p.Add(path, "required")
			}
			return
		}
		if _, err := goldap.ParseDN(dn); err != nil {
			p.Add(path, "not a valid DN: %v", err)
		}
	}
	checkDN("bind_dn", c.BindDN, false)
	checkDN("user_base", c.UserBase, true)
	checkDN("group_base", c.GroupBase, true)
	if c.BindDN != "" && c.BindPassword.IsZero() {
		p.Add("bind_password", "required with bind_dn")
	}
	// Slices, not maps: problems are reported in a stable order.
	for _, f := range []struct{ path, filter string }{
		{"user_filter", c.UserFilter}, {"group_filter", c.GroupFilter},
	} {
		if _, err := goldap.CompileFilter(f.filter); err != nil {
			p.Add(f.path, "not a valid LDAP filter: %v", err)
		}
	}
	for _, a := range []struct{ path, name string }{
		{"attributes.username", c.Attributes.Username}, {"attributes.email", c.Attributes.Email},
		{"attributes.first_name", c.Attributes.FirstName}, {"attributes.last_name", c.Attributes.LastName},
		{"attributes.display_name", c.Attributes.DisplayName}, {"attributes.external_id", c.Attributes.ExternalID},
		{"attributes.group_name", c.Attributes.GroupName}, {"attributes.description", c.Attributes.Description},
		{"attributes.member", c.Attributes.Member},
	} {
		if !validAttrName(a.name) {
			p.Add(a.path, "not a valid attribute name: %q", a.name)
		}
	}
	if c.PageSize < 1 || c.PageSize > 100000 {
		p.Add("page_size", "must be between 1 and 100000, not %d", c.PageSize)
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute {
		p.Add("timeout", "must be between 100ms and 10m, not %s", c.Timeout)
	}
	switch c.Incremental {
	case IncrementalModifyTimestamp, IncrementalUSNChanged, IncrementalNone:
	default:
		p.Add("incremental", "must be %s, %s or %s, not %q", IncrementalModifyTimestamp, IncrementalUSNChanged, IncrementalNone, c.Incremental)
	}
	if c.BindConnections < 1 || c.BindConnections > 256 {
		p.Add("bind_connections", "must be between 1 and 256, not %d", c.BindConnections)
	}
	return p.Err()
}

// validAttrName accepts an attribute description: a descriptor or an OID,
// optionally with options such as ;binary or ;lang-de (member;range=0-1499
// is not accepted: ranges are the connector's business).
func validAttrName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	name, opts, _ := strings.Cut(s, ";")
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9', r == '-', r == '.':
			if i == 0 && (r == '-' || r == '.') {
				return false
			}
		default:
			return false
		}
	}
	if name == "" || strings.HasSuffix(name, ".") {
		return false
	}
	if strings.Contains(s, ";") {
		for _, o := range strings.Split(opts, ";") {
			if o == "" {
				return false
			}
			for _, r := range o {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
					return false
				}
			}
		}
	}
	return true
}
