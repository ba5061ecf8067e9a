package restfront

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Application is a client of the API (Jira, Confluence, ...), as the
// configuration describes it.
type Application struct {
	Name            string
	PasswordHash    string
	RemoteAddresses []string
	AllowedGroups   []string
	Aggregate       bool
	Lowercase       bool
	Write           bool
}

// application is an Application with its address patterns compiled.
type application struct {
	name      string
	hash      string
	allowed   []addrPattern
	groups    map[string]bool // folded allowed groups; empty: everybody
	aggregate bool
	lowercase bool
	write     bool
}

// addrPattern is one remote_addresses entry (crowd-rest.md §2): an exact
// address, a CIDR, an IPv4 wildcard (192.168.*), or a host name resolved
// to its addresses when the server starts.
type addrPattern struct {
	prefix netip.Prefix
	any    bool // "*"
}

func (p addrPattern) match(a netip.Addr) bool {
	if p.any {
		return a.Is4()
	}
	// IPv4 and IPv6 never match each other (Crowd compares byte lengths).
	return p.prefix.Addr().Is4() == a.Is4() && p.prefix.Contains(a)
}

// compilePatterns turns remote_addresses into patterns. Host names that do
// not resolve are reported, not fatal: the address may appear later, and
// until then that entry simply matches nothing.
func compilePatterns(ctx context.Context, entries []string) ([]addrPattern, []string) {
	var out []addrPattern
	var warnings []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "*":
			out = append(out, addrPattern{any: true})
		case strings.Contains(e, "*"):
			if p, ok := wildcard(e); ok {
				out = append(out, addrPattern{prefix: p})
			} else {
				warnings = append(warnings, fmt.Sprintf("remote address %q is not a valid wildcard", e))
			}
		case strings.Contains(e, "/"):
			if p, err := netip.ParsePrefix(e); err == nil {
				out = append(out, addrPattern{prefix: p.Masked()})
			} else {
				warnings = append(warnings, fmt.Sprintf("remote address %q: %v", e, err))
			}
		default:
			if a, err := netip.ParseAddr(e); err == nil {
				out = append(out, addrPattern{prefix: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())})
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", e)
			cancel()
			if err != nil || len(addrs) == 0 {
				warnings = append(warnings, fmt.Sprintf("remote address %q does not resolve: %v", e, err))
				continue
			}
			for _, a := range addrs {
				a = a.Unmap()
				out = append(out, addrPattern{prefix: netip.PrefixFrom(a, a.BitLen())})
			}
		}
	}
	return out, warnings
}

// wildcard turns 10.1.* or 10.*.*.* into a prefix: every octet after the
// first * must be * too.
func wildcard(s string) (netip.Prefix, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Prefix{}, false
	}
	var b [4]byte
	bits := 0
	star := false
	for i, p := range parts {
		if p == "*" {
			star = true
			continue
		}
		if star {
			return netip.Prefix{}, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return netip.Prefix{}, false
		}
		b[i] = byte(n)
		bits += 8
	}
	if !star && len(parts) != 4 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(netip.AddrFrom4(b), bits), true
}

func (a *application) allows(addr netip.Addr) bool {
	for _, p := range a.allowed {
		if p.match(addr) {
			return true
		}
	}
	return false
}

// clientAddr is the address a request comes from (crowd-rest.md §2): the
// socket's peer, or the first X-Forwarded-For entry when every hop after it
// (the later entries and the peer itself) is a trusted proxy.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 0 || len(s.trusted) == 0 {
		return peer
	}
	var chain []netip.Addr
	for _, h := range xff {
		for _, f := range strings.FieldsFunc(h, func(r rune) bool { return r == ',' || r == ' ' }) {
			a, err := netip.ParseAddr(strings.Trim(f, "[]"))
			if err != nil {
				return peer // a malformed chain is not believed
			}
			chain = append(chain, a.Unmap())
		}
	}
	if len(chain) == 0 {
		return peer
	}
	hops := append(chain[1:], peer)
	for _, h := range hops {
		if !s.isTrusted(h) {
			return peer
		}
	}
	return chain[0]
}

func (s *Server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
			return a.Unmap()
		}
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// basicAuth parses a preemptive Basic Authorization header.
func basicAuth(r *http.Request) (name, password string, ok bool) {
	h := r.Header.Get("Authorization")
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	enc := strings.TrimSpace(h[len(prefix):])
	var buf [256]byte
	dst := buf[:]
	if base64.StdEncoding.DecodedLen(len(enc)) > len(buf) {
		dst = make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	}
	n, err := base64.StdEncoding.Decode(dst, []byte(enc))
	if err != nil {
		return "", "", false
	}
	name, password, ok = strings.Cut(string(dst[:n]), ":")
	return name, password, ok
}

// authenticateApp runs Crowd's application filter before routing
// (crowd-rest.md §2): 401 with a challenge for missing or wrong
// credentials and unknown applications, 403 for a disallowed address.
func (s *Server) authenticateApp(w http.ResponseWriter, r *http.Request) (*application, bool) {
	name, password, ok := basicAuth(r)
	if !ok {
		s.challenge(w, "Application failed to authenticate")
		s.metrics.appAuth("no_credentials")
		return nil, false
	}
	app := s.apps[name] // application names are case-sensitive (seeds/001)
	if app == nil {
		_ = s.verifier.Check("", "", password) // same time as a real check
		s.challenge(w, "Application failed to authenticate")
		s.metrics.appAuth("unknown_application")
		return nil, false
	}
	addr := s.clientAddr(r)
	if !addr.IsValid() || !app.allows(addr) {
		s.log.Warn("application refused: address not allowed", "application", app.name, "address", addr.String())
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "Client with address %q is forbidden from making requests to the application, %s.", addr.String(), app.name)
		s.metrics.appAuth("forbidden_address")
		return nil, false
	}
	if !s.verifier.Check(app.name, app.hash, password) {
		s.log.Warn("application refused: wrong password", "application", app.name, "address", addr.String())
		s.challenge(w, "Application failed to authenticate")
		s.metrics.appAuth("wrong_password")
		return nil, false
	}
	return app, true
}

func (s *Server) challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `BASIC realm="Crowd REST Service"`)
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, msg)
}
