package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
)

// Validation runs on a decoded Config with its defaults applied and reports
// every problem by key path; Parse adds the line numbers. Messages do not
// repeat the offending value: it may have come from an environment
// variable, and the path and line point at it anyway.

// checker collects problems.
type checker struct{ problems []Problem }

func (p *checker) add(path, format string, args ...any) {
	p.problems = append(p.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// validate returns every problem in c, without line numbers.
func (c *Config) validate() []Problem {
	var p checker

	switch {
	case c.BaseDN == "":
		p.add("base_dn", "required")
	default:
		if _, err := goldap.ParseDN(c.BaseDN); err != nil {
			p.add("base_dn", "not a valid DN: %v", err)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		p.add("data_dir", "required")
	}
	if !oneOf(c.Log.Level, logLevels) {
		p.add("log.level", "must be one of debug, info, warn, error")
	}
	if !oneOf(c.Log.Format, logFormats) {
		p.add("log.format", "must be text or json")
	}

	c.validateLDAP(&p)
	c.validateREST(&p)
	c.validateListeners(&p)
	c.validateUpstreams(&p)
	return p.problems
}

func (c *Config) validateLDAP(p *checker) {
	l := &c.LDAP
	if l.Listen != nil {
		checkListen(p, "ldap.listen", *l.Listen)
	}
	checkListen(p, "ldap.ldaps_listen", l.LDAPSListen)
	checkTLSFiles(p, "ldap.tls", l.TLS)
	if !oneOf(l.MemberOf, memberOfModes) {
		p.add("ldap.memberof", "must be transitive or direct")
	}
	seen := make(map[string]int)
	for i, sa := range l.ServiceAccounts {
		path := indexPath("ldap.service_accounts", i)
		switch {
		case sa.Name == "":
			p.add(path+".name", "required")
		case !validAccountName(sa.Name):
			p.add(path+".name", "may contain only letters, digits, '.', '-' and '_'")
		default:
			if j, dup := seen[upstream.Fold(sa.Name)]; dup {
				p.add(path+".name", "duplicate service account name (also service_accounts[%d])", j)
			} else {
				seen[upstream.Fold(sa.Name)] = i
			}
		}
		checkPasswordHash(p, path+".password_hash", sa.PasswordHash)
	}
}

func (c *Config) validateREST(p *checker) {
	r := &c.REST
	if r.Listen != nil {
		checkListen(p, "rest.listen", *r.Listen)
	}
	checkTLSFiles(p, "rest.tls", r.TLS)
	if r.ContextPath != "" && (!strings.HasPrefix(r.ContextPath, "/") || strings.ContainsAny(r.ContextPath, " ?#%") || strings.Contains(r.ContextPath, "//")) {
		p.add("rest.context_path", "must be a path such as /crowd")
	}
	if r.SessionTimeout < time.Minute || r.SessionTimeout > 30*24*time.Hour {
		p.add("rest.session_timeout", "must be between 1m and 720h")
	}
	if strings.ContainsAny(r.Cookie.Name, " ;,=\t") {
		p.add("rest.cookie.name", "not a valid cookie name")
	}
	for i, s := range r.TrustedProxies {
		if !validIPOrPrefix(s) {
			p.add(indexPath("rest.trusted_proxies", i), "not an IP address or CIDR")
		}
	}
	seen := make(map[string]int)
	for i, a := range r.Applications {
		path := indexPath("rest.applications", i)
		switch {
		case a.Name == "":
			p.add(path+".name", "required")
		case strings.TrimSpace(a.Name) != a.Name || strings.IndexFunc(a.Name, unicode.IsControl) >= 0:
			p.add(path+".name", "must not have leading or trailing white space or control characters")
		default:
			if j, dup := seen[upstream.Fold(a.Name)]; dup {
				p.add(path+".name", "duplicate application name (also applications[%d])", j)
			} else {
				seen[upstream.Fold(a.Name)] = i
			}
		}
		checkPasswordHash(p, path+".password_hash", a.PasswordHash)
		for j, s := range a.RemoteAddresses {
			if !validRemoteAddress(s) {
				p.add(indexPath(path+".remote_addresses", j), "not an IP address, CIDR, wildcard (such as 10.*.*.*) or host name")
			}
		}
		for j, g := range a.AllowedGroups {
			if strings.TrimSpace(g) == "" {
				p.add(indexPath(path+".allowed_groups", j), "empty group name")
			}
		}
		for j, perm := range a.Permissions {
			switch {
			case !oneOf(perm, permissions):
				p.add(indexPath(path+".permissions", j), "must be read or write")
			case slices.Index(a.Permissions, perm) < j:
				p.add(indexPath(path+".permissions", j), "listed twice")
			}
		}
	}
}

// validateListeners refuses two frontends on one address.
func (c *Config) validateListeners(p *checker) {
	type listener struct{ path, addr string }
	var ls []listener
	if c.LDAP.Listen != nil {
		ls = append(ls, listener{"ldap.listen", *c.LDAP.Listen})
	}
	ls = append(ls, listener{"ldap.ldaps_listen", c.LDAP.LDAPSListen})
	if c.REST.Listen != nil {
		ls = append(ls, listener{"rest.listen", *c.REST.Listen})
	}
	for i, l := range ls {
		if l.addr == "" || strings.HasSuffix(l.addr, ":0") {
			continue // disabled, or a port the system picks
		}
		for _, prev := range ls[:i] {
			if prev.addr == l.addr {
				p.add(l.path, "same address as %s", prev.path)
				break
			}
		}
	}
}

func (c *Config) validateUpstreams(p *checker) {
	if len(c.Upstreams) == 0 {
		p.add("upstreams", "at least one upstream is required")
	}
	seen := make(map[string]int)
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		path := indexPath("upstreams", i)
		switch {
		case u.Name == "":
			p.add(path+".name", "required")
		case !upstream.ValidName(u.Name):
			p.add(path+".name", "not a valid upstream name: lower-case letters, digits, '-' and '_', starting with a letter, at most 63 characters")
		default:
			if j, dup := seen[u.Name]; dup {
				p.add(path+".name", "duplicate upstream name (also upstreams[%d])", j)
			} else {
				seen[u.Name] = i
			}
		}

		kind, known := upstreamTypes[u.Type]
		switch {
		case u.Type == "":
			p.add(path+".type", "required (one of %s)", strings.Join(Types, ", "))
		case !known:
			p.add(path+".type", "unknown upstream type (this build knows %s)", strings.Join(Types, ", "))
		}

		if u.Refresh.Interval < time.Second {
			p.add(path+".refresh.interval", "must be at least 1s")
		}
		if u.Refresh.FullEvery < u.Refresh.Interval {
			p.add(path+".refresh.full_every", "must not be shorter than refresh.interval")
		}
		if m := u.MaxDeletePercent; m != nil && (*m < 0 || *m > 100) {
			p.add(path+".max_delete_percent", "must be between 0 and 100")
		}
		switch {
		case u.LinkBy != "" && u.LinkBy != "email":
			p.add(path+".link_by", "must be email (or left out)")
		case u.LinkBy != "" && i == 0:
			p.add(path+".link_by", "the first upstream has no earlier upstream to link its users to")
		}

		// The decoder gave every upstream of a known type its Config.
		if known && kind.config(u) != nil {
			addTypeProblems(p, path, kind.validate(u))
		}
		if u.AuthMode() == "local" && !slices.ContainsFunc(c.Upstreams, func(o Upstream) bool { return o.Type == "local" }) {
			p.add(path+".auth", "local needs an upstream of type local to keep the passwords")
		}
	}
}

// AuthMode is a cloud upstream's auth setting (none, api_token or local),
// "" for the types that check their own passwords.
func (u *Upstream) AuthMode() string {
	switch {
	case u.JiraCloud != nil:
		return u.JiraCloud.Auth
	case u.Access != nil:
		return u.Access.Auth
	}
	return ""
}

// addTypeProblems adds the problems an upstream type's Validate returned,
// with "upstreams[i]." before each path. Validate joins *upstream.FieldError
// values; anything else it returns is reported at the upstream itself.
func addTypeProblems(p *checker, prefix string, err error) {
	if err == nil {
		return
	}
	var fes []*upstream.FieldError
	var others []error
	collectFieldErrors(err, &fes, &others)
	if len(fes) == 0 && len(others) == 0 {
		others = append(others, err) // nothing but the sentinel: say so
	}
	// Validate may build its list from a map; sort for stable output.
	slices.SortStableFunc(fes, func(a, b *upstream.FieldError) int { return strings.Compare(a.Path, b.Path) })
	for _, fe := range fes {
		path := prefix
		if fe.Path != "" {
			path += "." + fe.Path
		}
		p.add(path, "%v", fe.Err)
	}
	for _, e := range others {
		p.add(prefix, "%v", e)
	}
}

// collectFieldErrors walks the tree of err, collecting its FieldErrors and
// the other leaves (except the ErrInvalidConfig sentinel).
func collectFieldErrors(err error, fes *[]*upstream.FieldError, others *[]error) {
	var fe *upstream.FieldError
	switch e := err.(type) {
	case *upstream.FieldError:
		*fes = append(*fes, e)
	case interface{ Unwrap() []error }:
		for _, e := range e.Unwrap() {
			collectFieldErrors(e, fes, others)
		}
	case interface{ Unwrap() error }:
		if errors.As(err, &fe) {
			collectFieldErrors(e.Unwrap(), fes, others)
		} else {
			*others = append(*others, err) // keep its own message
		}
	default:
		if err != upstream.ErrInvalidConfig {
			*others = append(*others, err)
		}
	}
}

func checkPasswordHash(p *checker, path string, h secret.String) {
	switch {
	case h.IsZero():
		p.add(path, "required")
	case secret.CheckHash(h.Reveal()) != nil:
		// CheckHash's detail can quote pieces of its input; if a plain
		// password was put here by mistake, that would print it.
		p.add(path, "not a valid argon2id hash (make one with `dirgate hash-password`)")
	}
}

func checkTLSFiles(p *checker, path string, t TLSFiles) {
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		p.add(path+".key_file", "required with cert_file")
	case t.CertFile == "" && t.KeyFile != "":
		p.add(path+".cert_file", "required with key_file")
	}
}

// checkListen accepts "" (disabled) or host:port with a numeric port; the
// host may be empty (every interface), an IP address or a host name.
func checkListen(p *checker, path, addr string) {
	if addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(path, "not a host:port address")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port[0] == '+' || port[0] == '-' {
		p.add(path, "port must be a number from 0 to 65535")
		return
	}
	if host != "" && !validHost(host) {
		p.add(path, "not a valid host name or IP address")
	}
}

func validHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	return validHostname(s)
}

// validHostname accepts a DNS name: dot-separated labels of letters,
// digits, '-' and '_' (found in the wild, and accepted by the resolver),
// not starting or ending with '-'. A name whose last label is all digits is
// a mistyped IP address, not a host name.
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

func validIPOrPrefix(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// validRemoteAddress accepts what an application's remote_addresses may
// hold: an IP address, a CIDR, an IPv4 wildcard or a host name.
func validRemoteAddress(s string) bool {
	if validIPOrPrefix(s) {
		return true
	}
	if strings.Contains(s, "*") {
		return validWildcard(s)
	}
	return validHostname(s)
}

// validWildcard accepts an IPv4 pattern whose trailing octets are '*':
// "192.168.*", "10.*.*.*", "*". A '*' may not precede a number.
func validWildcard(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return false
	}
	star := false
	for _, part := range parts {
		if part == "*" {
			star = true
			continue
		}
		if star || part == "" || len(part) > 3 || strings.Trim(part, "0123456789") != "" {
			return false
		}
		if n, _ := strconv.Atoi(part); n > 255 {
			return false
		}
	}
	return star
}

// validAccountName accepts a service account name that can stand as an RDN
// value (cn=NAME,ou=services,...) without escaping: letters, digits, '.',
// '-' and '_'.
func validAccountName(s string) bool {
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}
