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
		s.noPasswordBind(st, "anonymous", name)
		return res(gldap.ResultSuccess, "")
	case password == "":
		// An unauthenticated bind: name without password. It must never
		// authenticate (RFC 4513 §5.1.2).
		s.noPasswordBind(st, "unauthenticated", name)
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
	br := s.authenticate(st.ctx, name, password)
	switch br.code {
	case gldap.ResultSuccess:
		s.throttle.Success(key, st.remote)
		st.setIdentity(br.kind, br.dn)
	case gldap.ResultInvalidCredentials:
		s.throttle.Failure(key, st.remote)
	}
	// Every outcome is logged (never the password): successes and denials
	// at Info, failures to check at Warn.
	level := slog.LevelInfo
	if br.code != gldap.ResultSuccess && br.code != gldap.ResultInvalidCredentials {
		level = slog.LevelWarn
	}
	if s.log.Enabled(s.ctx, level) {
		s.logBind(level, name, &br, st)
	}
	s.metrics.bind(br.outcome)
	return res(br.code, br.diag)
}

// noPasswordBind logs and counts an anonymous or unauthenticated bind.
//
//go:noinline
func (s *Server) noPasswordBind(st *connState, outcome, name string) {
	if outcome == "anonymous" {
		s.log.Debug("bind", "outcome", outcome, "conn", st.id, "remote", st.remote)
	} else {
		s.log.Info("bind refused", "outcome", outcome, "name", name, "conn", st.id, "remote", st.remote)
	}
	s.metrics.bind(outcome)
}

// logBind logs a bind outcome. It is a function of its own so that the
// bind's own stack frame stays small: gldap runs every request on a new
// goroutine, whose stack grows (a copy) when the frames do not fit.
//
//go:noinline
func (s *Server) logBind(level slog.Level, name string, br *bindResult, st *connState) {
	msg := "bind"
	if br.code != gldap.ResultSuccess {
		msg = "bind failed"
	}
	s.log.LogAttrs(s.ctx, level, msg, slog.String("outcome", br.outcome), slog.String("name", name), slog.String("dn", br.dn),
		slog.Int("conn", st.id), slog.String("remote", st.remote), slog.Bool("tls", st.tls), slog.String("diagnostic", br.diag))
}

// bindResult is the outcome of a bind. outcome names what happened for
// logs and metrics; the diagnostic sent to the client never says whether a
// name exists.
type bindResult struct {
	kind    bindKind
	dn      string
	outcome string
	code    int
	diag    string
}

const denied = "invalid credentials"

func refused(outcome string, code int, diag string) bindResult {
	return bindResult{outcome: outcome, code: code, diag: diag}
}

// authenticate checks a name and password.
//
// gldap runs every request on a goroutine of its own, whose stack starts
// small and is copied to a larger one when the frames outgrow it: the
// path to the upstream's socket is kept to small frames (the name is
// resolved, and failures are logged, in functions of their own) so that a
// pass-through bind fits in a new goroutine's stack.
func (s *Server) authenticate(parent context.Context, name, password string) bindResult {
	u, res, done := s.bindTarget(name, password)
	if done {
		return res
	}
	pc := s.cfg.Checkers[u.Upstream]
	if pc == nil {
		// A cloud upstream with auth: none (README): say so; the log names
		// the upstream.
		return refused("no_password_check", gldap.ResultInvalidCredentials, "password logins are not available for this account")
	}
	// Each upstream bounds its own check (the LDAP upstream's timeout, the
	// cloud clients' request timeouts); parent ends it when the client goes.
	// No per-bind context: deriving one costs a twentieth of a bind.
	ok, err := pc.CheckPassword(parent, u.Rec, password)
	switch {
	case err != nil:
		return s.checkFailed(u, err)
	case !ok:
		return refused("wrong_password", gldap.ResultInvalidCredentials, denied)
	}
	return bindResult{kind: bindUser, dn: s.cfg.Tree.UserDN(u.Rec.Username), outcome: "user", code: gldap.ResultSuccess}
}

//go:noinline
func (s *Server) checkFailed(u cache.User, err error) bindResult {
	s.log.Warn("password check failed at the upstream", "upstream", u.Upstream, "user", u.Rec.Username, "err", err)
	return refused("upstream_error", gldap.ResultUnavailable, fmt.Sprintf("the directory of %s cannot check passwords now", u.Upstream))
}

// bindTarget resolves a bind name to the active user whose password the
// upstream is to check; done reports a result already reached: a service
// account (whose password is ours to check), a malformed DN, an unknown
// or inactive user.
//
//go:noinline
func (s *Server) bindTarget(name, password string) (u cache.User, res bindResult, done bool) {
	tree := s.cfg.Tree
	found := false
	if strings.Contains(name, "=") {
		parsed, ok := parseDN(name)
		if !ok {
			return u, refused("bad_dn", gldap.ResultInvalidDNSyntax, "invalid DN syntax"), true
		}
		switch {
		case parsed.under(tree.normServ) && parsed.depth() == tree.depthSv+1:
			acct := parsed.rdnValue("cn")
			if acct == "" || !s.services.check(acct, password) {
				return u, refused("service_denied", gldap.ResultInvalidCredentials, denied), true
			}
			return u, bindResult{kind: bindService, dn: tree.ServiceDN(s.services.name(acct)), outcome: "service", code: gldap.ResultSuccess}, true
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
		return u, refused("unknown_user", gldap.ResultInvalidCredentials, denied), true
	}
	if !u.Rec.Active {
		return u, refused("inactive", gldap.ResultInvalidCredentials, denied), true
	}
	return u, bindResult{}, false
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
