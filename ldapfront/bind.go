package ldapfront

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jimlambrt/gldap"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/ldapfront/filter"
	"github.com/dirgate/dirgate/upstream"
)

// bind authenticates a simple bind (RFC 4513): anonymous (empty name and
// password), a service account, or a user named by DN, username or e-mail
// address, whose password is checked by the upstream the user comes from.
// A failed bind leaves the connection anonymous.
func (l *listener) bind(w *gldap.ResponseWriter, r *gldap.Request, st *connState) int {
	s := l.s
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		reply(w, r, "bind", gldap.ResultProtocolError, "not a simple bind")
		return gldap.ResultProtocolError
	}
	name, password := strings.TrimSpace(m.UserName), string(m.Password)
	res := func(code int, diag string) int {
		if !writeResult(w, appBindResponse, m.GetID(), code, "", diag) {
			_ = w.Write(response(r, "bind", code, diag, ""))
		}
		return code
	}
	st.setIdentity(bindAnonymous, "")
	switch {
	case name == "" && password == "":
		s.log.Debug("bind", "outcome", "anonymous", "conn", st.id, "remote", st.remote)
		s.metrics.bind("anonymous")
		return res(gldap.ResultSuccess, "")
	case password == "":
		// An unauthenticated bind: name without password. It must never
		// authenticate (RFC 4513 §5.1.2).
		s.log.Info("bind refused", "outcome", "unauthenticated", "name", name, "conn", st.id, "remote", st.remote)
		s.metrics.bind("unauthenticated")
		return res(gldap.ResultUnwillingToPerform, "unauthenticated bind (name without password) is not allowed")
	}

	key := throttleKey(name)
	if d := s.throttle.Delay(key, st.remote); d > 0 {
		s.metrics.bindDelays.Inc()
		select {
		case <-time.After(d):
		case <-s.ctx.Done():
			return res(gldap.ResultUnavailable, "server stopping")
		}
	}
	kind, dn, outcome, code, diag := s.authenticate(st.ctx, name, password)
	switch code {
	case gldap.ResultSuccess:
		s.throttle.Success(key, st.remote)
		st.setIdentity(kind, dn)
	case gldap.ResultInvalidCredentials:
		s.throttle.Failure(key, st.remote)
	}
	// Every outcome is logged (never the password): successes and denials
	// at Info, failures to check at Warn.
	level := slog.LevelInfo
	if code != gldap.ResultSuccess && code != gldap.ResultInvalidCredentials {
		level = slog.LevelWarn
	}
	if s.log.Enabled(s.ctx, level) {
		s.logBind(level, code, outcome, name, dn, diag, st)
	}
	s.metrics.bind(outcome)
	return res(code, diag)
}

// logBind logs a bind outcome. It is a function of its own so that the
// bind's own stack frame stays small: gldap runs every request on a new
// goroutine, whose stack grows (a copy) when the frames do not fit.
//
//go:noinline
func (s *Server) logBind(level slog.Level, code int, outcome, name, dn, diag string, st *connState) {
	msg := "bind"
	if code != gldap.ResultSuccess {
		msg = "bind failed"
	}
	s.log.LogAttrs(s.ctx, level, msg, slog.String("outcome", outcome), slog.String("name", name), slog.String("dn", dn),
		slog.Int("conn", st.id), slog.String("remote", st.remote), slog.Bool("tls", st.tls), slog.String("diagnostic", diag))
}

// authenticate checks a name and password. outcome names what happened for
// logs and metrics; the diagnostic sent to the client never says whether a
// name exists.
func (s *Server) authenticate(parent context.Context, name, password string) (kind bindKind, dn, outcome string, code int, diag string) {
	const denied = "invalid credentials"
	tree := s.cfg.Tree
	var u cache.User
	found := false
	if strings.Contains(name, "=") {
		parsed, ok := parseDN(name)
		if !ok {
			return 0, "", "bad_dn", gldap.ResultInvalidDNSyntax, "invalid DN syntax"
		}
		switch {
		case parsed.under(tree.normServ) && parsed.depth() == tree.depthSv+1:
			acct := parsed.rdnValue("cn")
			if acct == "" || !s.services.check(acct, password) {
				return 0, "", "service_denied", gldap.ResultInvalidCredentials, denied
			}
			return bindService, tree.ServiceDN(s.services.name(acct)), "service", gldap.ResultSuccess, ""
		case parsed.under(tree.normUsers) && parsed.depth() == tree.depthUsers+1:
			if uid := parsed.rdnValue("uid"); uid != "" {
				u, found = s.store.User(uid)
			}
		}
	} else if strings.Contains(name, "@") {
		if l := s.store.UsersByEmail(name); len(l) == 1 {
			u, found = l[0], true
		}
		if !found {
			u, found = s.store.User(name) // usernames may contain '@'
		}
	} else {
		u, found = s.store.User(name)
	}
	if !found {
		return 0, "", "unknown_user", gldap.ResultInvalidCredentials, denied
	}
	if !u.Rec.Active {
		return 0, "", "inactive", gldap.ResultInvalidCredentials, denied
	}
	pc := s.cfg.Checkers[u.Upstream]
	if pc == nil {
		// A cloud upstream with auth: none (README): say so; the log names
		// the upstream.
		return 0, "", "no_password_check", gldap.ResultInvalidCredentials, "password logins are not available for this account"
	}
	// Each upstream bounds its own check (the LDAP upstream's timeout, the
	// cloud clients' request timeouts); parent ends it when the client goes.
	// No per-bind context: deriving one costs a twentieth of a bind.
	ok, err := pc.CheckPassword(parent, u.Rec, password)
	switch {
	case err != nil:
		s.log.Warn("password check failed at the upstream", "upstream", u.Upstream, "user", u.Rec.Username, "err", err)
		return 0, "", "upstream_error", gldap.ResultUnavailable, fmt.Sprintf("the directory of %s cannot check passwords now", u.Upstream)
	case !ok:
		return 0, "", "wrong_password", gldap.ResultInvalidCredentials, denied
	}
	return bindUser, tree.UserDN(u.Rec.Username), "user", gldap.ResultSuccess, ""
}

func throttleKey(name string) string { return upstream.Fold(name) }

// serviceAccounts verifies service-account passwords (remembering the
// verified ones: applications bind as their service account on every
// connection).
type serviceAccounts struct {
	hashes   map[string]string // folded name → argon2id hash
	names    map[string]string // folded name → configured spelling
	verifier *secret.Verifier
}

func newServiceAccounts(l []ServiceAccount) (*serviceAccounts, error) {
	sa := &serviceAccounts{hashes: map[string]string{}, names: map[string]string{}, verifier: secret.NewVerifier(10*time.Minute, 1024)}
	for _, a := range l {
		if err := secret.CheckHash(a.PasswordHash); err != nil {
			return nil, fmt.Errorf("service account %s: %w", a.Name, err)
		}
		k := upstream.Fold(a.Name)
		sa.hashes[k], sa.names[k] = a.PasswordHash, a.Name
	}
	return sa, nil
}

func (sa *serviceAccounts) name(acct string) string { return sa.names[upstream.Fold(acct)] }

// check verifies a password; an unknown account costs the same time as a
// known one, so that timing does not tell which accounts exist.
func (sa *serviceAccounts) check(acct, password string) bool {
	k := upstream.Fold(acct)
	return sa.verifier.Check(k, sa.hashes[k], password)
}

// parsedDN is a bind or search DN, normalised for comparison.
type parsedDN struct {
	norm string   // normalised DN
	rdns []string // normalised RDNs, leaf first
}

func parseDN(s string) (parsedDN, bool) {
	n, ok := filter.NormalizeDN(s)
	if !ok {
		return parsedDN{}, false
	}
	return parsedDN{norm: n, rdns: splitRDNs(n)}, true
}

// splitRDNs splits a normalised DN at its unescaped commas.
func splitRDNs(n string) []string {
	if n == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i < len(n); i++ {
		switch n[i] {
		case '\\':
			i++
		case ',':
			out = append(out, n[start:i])
			start = i + 1
		}
	}
	return append(out, n[start:])
}

func (p parsedDN) depth() int { return len(p.rdns) }

// under reports whether p is base or below it (base normalised).
func (p parsedDN) under(base string) bool {
	return p.norm == base || strings.HasSuffix(p.norm, ","+base)
}

// rdnValue returns the unescaped value of the leaf RDN if its type is t.
func (p parsedDN) rdnValue(t string) string {
	if len(p.rdns) == 0 {
		return ""
	}
	typ, val, ok := strings.Cut(p.rdns[0], "=")
	if !ok || typ != t {
		return ""
	}
	return unescapeDNValue(val)
}

// unescapeDNValue undoes RFC 4514 escaping of one attribute value.
func unescapeDNValue(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 >= len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		if i+1 < len(v) && isHex(v[i]) && isHex(v[i+1]) {
			b.WriteByte(unhex(v[i])<<4 | unhex(v[i+1]))
			i++
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
