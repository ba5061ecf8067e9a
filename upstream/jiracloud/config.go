package jiracloud

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
)

// Defaults for the settings a Config may leave empty.
const (
	DefaultPageSize    = 1000 // users/search's documented limit
	DefaultConcurrency = 4
	// DefaultRequestsPerSecond paces the sync's requests (cloud-apis.md
	// §2.8: about 10 a second keeps clear of Jira's burst limits).
	DefaultRequestsPerSecond = 10
	DefaultTimeout           = 30 * time.Second
	// ExpiryWarning is how long before api_token_expires Warnings starts
	// saying so.
	ExpiryWarning = 14 * 24 * time.Hour
	// DateLayout is the format of api_token_expires.
	DateLayout = "2006-01-02"
)

// Account types (User.accountType) that account_types may list.
const (
	AccountAtlassian = "atlassian" // people with an Atlassian account
	AccountApp       = "app"       // Connect/Forge/OAuth apps, service and system accounts
	AccountCustomer  = "customer"  // Jira Service Management portal customers
)

// Where usernames come from (username_from).
const (
	UsernameFromEmail     = "email"
	UsernameFromAccountID = "account_id"
)

// Password check modes (auth).
const (
	// AuthNone: no password is checked for this upstream's users; they can
	// be found and listed but not log in through dirgate.
	AuthNone = "none"
	// AuthAPIToken: the password is the user's own Atlassian API token,
	// checked with GET /rest/api/3/myself as the user.
	AuthAPIToken = "api_token"
	// AuthLocal: the password is kept by dirgate's local upstream (set with
	// dirgate's admin tools); this upstream only validates the value, the
	// wiring is outside this package.
	AuthLocal = "local"
)

// Config is the `upstreams[]` entry of type jiracloud.
type Config struct {
	// URL is the site, https://<site>.atlassian.net, or for scoped tokens
	// and service accounts https://api.atlassian.com/ex/jira/{cloudId}.
	URL string `yaml:"url"`
	// Email and APIToken are dirgate's credential (Basic email:api_token).
	// Listing group members needs the Administer Jira global permission.
	Email    string        `yaml:"email"`
	APIToken secret.String `yaml:"api_token"`
	// APITokenExpires is the token's expiry date (2006-01-02), optional.
	// Atlassian API tokens expire after at most a year; with the date set,
	// Warnings says so 14 days ahead, and from that day (UTC) Sync fails
	// at once instead of sending a token Jira will reject.
	APITokenExpires string `yaml:"api_token_expires"`
	// AccountTypes are the account types copied (default [atlassian]).
	AccountTypes []string `yaml:"account_types"`
	// UsernameFrom is email (default) or account_id. A user whose address
	// is hidden by their privacy settings gets the account ID as username
	// under email too; the record carries the attribute emailHidden and
	// Warnings counts them.
	UsernameFrom string `yaml:"username_from"`
	// IncludeInactive copies deactivated accounts with Active false
	// (default true); false leaves them out (and out of group members).
	IncludeInactive *bool `yaml:"include_inactive"`
	// PageSize is the maxResults of users/search (1..1000, default 1000).
	// The server may return fewer; the connector copes.
	PageSize int `yaml:"page_size"`
	// Concurrency bounds the requests in flight (group member listings run
	// in parallel), default 4.
	Concurrency int `yaml:"concurrency"`
	// RequestsPerSecond paces the sync's requests (default 10, halved
	// while Jira says X-RateLimit-NearLimit), 1..1000.
	RequestsPerSecond int `yaml:"requests_per_second"`
	// Timeout bounds one HTTP request (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// Auth is how this upstream's users' passwords are checked: none
	// (default), api_token or local.
	Auth string `yaml:"auth"`
}

// WithDefaults returns c with every empty setting set to its default.
func (c Config) WithDefaults() Config {
	c.URL = strings.TrimRight(strings.TrimSpace(c.URL), "/")
	if len(c.AccountTypes) == 0 {
		c.AccountTypes = []string{AccountAtlassian}
	}
	if c.UsernameFrom == "" {
		c.UsernameFrom = UsernameFromEmail
	}
	if c.IncludeInactive == nil {
		t := true
		c.IncludeInactive = &t
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.RequestsPerSecond == 0 {
		c.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Auth == "" {
		c.Auth = AuthNone
	}
	return c
}

// Validate reports every problem in c (after WithDefaults) with its key path.
func (c Config) Validate() error {
	var p upstream.Problems
	if _, _, err := parseURL(c.URL); err != nil {
		p.Add("url", "%v", err)
	}
	switch {
	case c.Email == "":
		p.Add("email", "required (the account whose API token is api_token)")
	case !strings.Contains(c.Email, "@") || strings.ContainsAny(c.Email, " \t\r\n:"):
		p.Add("email", "not an e-mail address: %q", c.Email)
	}
	if c.APIToken.IsZero() {
		p.Add("api_token", "required")
	}
	if c.APITokenExpires != "" {
		if _, err := time.Parse(DateLayout, c.APITokenExpires); err != nil {
			p.Add("api_token_expires", "expected a date such as 2027-06-30, not %q", c.APITokenExpires)
		}
	}
	if len(c.AccountTypes) == 0 {
		p.Add("account_types", "at least one account type is required")
	}
	for i, t := range c.AccountTypes {
		if !slices.Contains([]string{AccountAtlassian, AccountApp, AccountCustomer}, t) {
			p.Add(fmt.Sprintf("account_types[%d]", i), "must be %s, %s or %s, not %q", AccountAtlassian, AccountApp, AccountCustomer, t)
		} else if slices.Index(c.AccountTypes, t) != i {
			p.Add(fmt.Sprintf("account_types[%d]", i), "%q is listed twice", t)
		}
	}
	if c.UsernameFrom != UsernameFromEmail && c.UsernameFrom != UsernameFromAccountID {
		p.Add("username_from", "must be %s or %s, not %q", UsernameFromEmail, UsernameFromAccountID, c.UsernameFrom)
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		p.Add("page_size", "must be between 1 and 1000 (the API's limit), not %d", c.PageSize)
	}
	if c.Concurrency < 1 || c.Concurrency > 32 {
		p.Add("concurrency", "must be between 1 and 32, not %d", c.Concurrency)
	}
	if c.RequestsPerSecond < 1 || c.RequestsPerSecond > 1000 {
		p.Add("requests_per_second", "must be between 1 and 1000, not %d", c.RequestsPerSecond)
	}
	if c.Timeout < time.Second || c.Timeout > 10*time.Minute {
		p.Add("timeout", "must be between 1s and 10m, not %s", c.Timeout)
	}
	switch c.Auth {
	case AuthNone, AuthAPIToken, AuthLocal:
	default:
		p.Add("auth", "must be %s, %s or %s, not %q", AuthNone, AuthAPIToken, AuthLocal, c.Auth)
	}
	return p.Err()
}

// expiry returns the parsed api_token_expires (midnight UTC of that day).
func (c Config) expiry() (time.Time, bool) {
	if c.APITokenExpires == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(DateLayout, c.APITokenExpires)
	return t, err == nil
}

// parseURL checks the url setting and returns the API base and, for the
// api.atlassian.com form, the cloud ID.
func parseURL(s string) (base, cloudID string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("required (https://<site>.atlassian.net or https://api.atlassian.com/ex/jira/<cloudId>)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("not a valid URL: %v", err)
	}
	switch {
	case u.Host == "":
		return "", "", fmt.Errorf("missing host in %q", s)
	case u.User != nil:
		return "", "", fmt.Errorf("must not carry credentials (use email and api_token)")
	case u.RawQuery != "" || u.Fragment != "":
		return "", "", fmt.Errorf("must not have a query or fragment")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "", "", fmt.Errorf("must be https:// (plain http only to a loopback address): the API token travels in every request")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", "", fmt.Errorf("scheme must be https, not %q", u.Scheme)
	}
	path := strings.TrimRight(u.Path, "/")
	if path != "" {
		rest, ok := strings.CutPrefix(path, "/ex/jira/")
		if !ok || rest == "" || strings.Contains(rest, "/") {
			return "", "", fmt.Errorf("the path must be empty (site URL) or /ex/jira/<cloudId>, not %q", u.Path)
		}
		cloudID = rest
	} else if strings.EqualFold(u.Hostname(), "api.atlassian.com") {
		return "", "", fmt.Errorf("api.atlassian.com needs the path /ex/jira/<cloudId> (GET https://<site>.atlassian.net/_edge/tenant_info tells the cloudId)")
	}
	u.Path, u.RawPath = path, ""
	return u.String(), cloudID, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
