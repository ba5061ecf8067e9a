package access

import (
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
)

// Defaults for the settings a Config may leave empty.
const (
	DefaultBaseURL     = "https://api.atlassian.com"
	DefaultDirectoryID = "-" // every directory the key can manage
	DefaultPageSize    = 100 // the API's largest page (cloud-apis.md §3.3)
	DefaultConcurrency = 4
	DefaultTimeout     = 30 * time.Second
	// ExpiryWarning is how long before api_key_expires Warnings starts to
	// say so.
	ExpiryWarning = 14 * 24 * time.Hour
	// ExpiresLayout is the format of api_key_expires.
	ExpiresLayout = "2006-01-02"
)

// Values of auth.
const (
	AuthNone  = "none"  // users of this upstream cannot log in through dirgate
	AuthLocal = "local" // passwords are checked by dirgate's local directory (wired outside this package)
)

// Values of username: which field of an account becomes the username.
const (
	UsernameNickname  = "nickname"   // the Atlassian public name (default)
	UsernameEmail     = "email"      // the e-mail address
	UsernameAccountID = "account_id" // the accountId itself
)

// Config is the `upstreams[]` entry of type access: an Atlassian
// organization read through the Admin API with an org API key.
type Config struct {
	// BaseURL is the API root (default https://api.atlassian.com); tests
	// point it at a fake. It must be https, except on a loopback address.
	BaseURL string `yaml:"base_url"`
	// OrgID is the organization's ID, as admin.atlassian.com shows it.
	OrgID string `yaml:"org_id"`
	// DirectoryID limits the sync to one directory; "-" (the default)
	// reads every directory the key can manage.
	DirectoryID string `yaml:"directory_id"`
	// APIKey is the org API key (with the scopes read:directories:admin,
	// read:groups:admin and read:events:admin, or a key without scopes).
	APIKey secret.String `yaml:"api_key"`
	// APIKeyExpires is the key's expiry date (2006-01-02), which the API
	// does not tell: status warns 14 days ahead, and syncs stop once the
	// day has passed. Empty: unknown.
	APIKeyExpires string `yaml:"api_key_expires"`
	// Username is the account field used as the username: nickname
	// (default), email or account_id.
	Username string `yaml:"username"`
	// PageSize is the limit asked of list requests (1-100, default 100).
	PageSize int `yaml:"page_size"`
	// Concurrency bounds the requests in flight (default 4).
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds each HTTP request (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// Events turns on incremental syncs from the org's audit events
	// stream (default true). Off, every sync is full.
	Events *bool `yaml:"events"`
	// Auth is how users of this upstream log in: none (default; the Admin
	// API cannot check passwords) or local.
	Auth string `yaml:"auth"`
}

// WithDefaults returns c with every empty setting set to its default.
func (c Config) WithDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.DirectoryID == "" {
		c.DirectoryID = DefaultDirectoryID
	}
	if c.Username == "" {
		c.Username = UsernameNickname
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Events == nil {
		on := true
		c.Events = &on
	}
	if c.Auth == "" {
		c.Auth = AuthNone
	}
	return c
}

// EventsEnabled reports whether incremental syncs read the events stream
// (true unless events: false).
func (c Config) EventsEnabled() bool { return c.Events == nil || *c.Events }

// KeyExpiry parses APIKeyExpires: the day (midnight UTC) and whether one
// is set.
func (c Config) KeyExpiry() (time.Time, bool, error) {
	if c.APIKeyExpires == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(ExpiresLayout, strings.TrimSpace(c.APIKeyExpires))
	if err != nil {
		return time.Time{}, false, err
	}
	return t, true, nil
}

// idRE is what org_id and directory_id may contain: they go into URL
// paths unescaped by the API's own documentation.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_:.-]{0,127}$`)

// Validate reports every problem in c (after WithDefaults) with its key path.
func (c Config) Validate() error {
	var p upstream.Problems
	if u, err := url.Parse(c.BaseURL); err != nil {
		p.Add("base_url", "not a valid URL: %v", err)
	} else {
		switch {
		case u.Host == "":
			p.Add("base_url", "must be an absolute URL such as %s", DefaultBaseURL)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			p.Add("base_url", "must not carry a query, fragment or credentials")
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
			// A local fake or proxy: the key does not leave the machine.
		case u.Scheme == "http":
			p.Add("base_url", "must be https (the API key would travel in clear); http is accepted for loopback addresses only")
		default:
			p.Add("base_url", "scheme must be https, not %q", u.Scheme)
		}
	}
	switch {
	case c.OrgID == "":
		p.Add("org_id", "required (admin.atlassian.com → Settings → API keys shows it)")
	case !idRE.MatchString(c.OrgID):
		p.Add("org_id", "%q is not an organization ID (letters, digits, '-', '_', ':', '.')", c.OrgID)
	}
	if c.DirectoryID != "-" && !idRE.MatchString(c.DirectoryID) {
		p.Add("directory_id", "%q is not a directory ID (or \"-\" for every directory)", c.DirectoryID)
	}
	if c.APIKey.IsZero() {
		p.Add("api_key", "required: an organization API key")
	} else if strings.ContainsAny(c.APIKey.Reveal(), " \t\r\n") {
		p.Add("api_key", "contains white space (a stray newline from a file?)")
	}
	if _, _, err := c.KeyExpiry(); err != nil {
		p.Add("api_key_expires", "must be a date such as 2027-06-30, not %q", c.APIKeyExpires)
	}
	switch c.Username {
	case UsernameNickname, UsernameEmail, UsernameAccountID:
	default:
		p.Add("username", "must be %s, %s or %s, not %q", UsernameNickname, UsernameEmail, UsernameAccountID, c.Username)
	}
	if c.PageSize < 1 || c.PageSize > 100 {
		p.Add("page_size", "must be between 1 and 100 (the API's largest page), not %d", c.PageSize)
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		p.Add("concurrency", "must be between 1 and 64, not %d", c.Concurrency)
	}
	if c.Timeout < time.Second || c.Timeout > 10*time.Minute {
		p.Add("timeout", "must be between 1s and 10m, not %s", c.Timeout)
	}
	switch c.Auth {
	case AuthNone, AuthLocal:
	default:
		p.Add("auth", "must be %s or %s, not %q (the Admin API cannot check passwords)", AuthNone, AuthLocal, c.Auth)
	}
	return p.Err()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
