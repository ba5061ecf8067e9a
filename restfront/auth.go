package restfront

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/upstream"
)

// passwordBody is <password><value>…</value></password> / {"value": …}.
type passwordBody struct {
	XMLName xml.Name `xml:"password" json:"-"`
	Value   *string  `xml:"value" json:"value"`
}

// authOutcome is why an authentication failed (reason "" means success).
type authOutcome struct {
	user    cache.User
	status  int
	reason  string
	message string
	metric  string
}

const passwordCheckTimeout = 15 * time.Second

// checkUser authenticates name/password for app: user exists, is active,
// the password is right at the user's own upstream (a wrong password does
// not fall through to later upstreams), and the user may use the app.
//
// enduser is the address of the person logging in, for the throttle, when
// the application says it (a session's remote_address factor); "" when
// not. The request's own address is the application server's, shared by
// all its users: counting failures against it would let someone guessing
// a password through Jira slow that user's real logins down by up to
// MaxPairDelay, so without an end-user address only the per-name count
// (at most MaxNameDelay) applies.
func (s *Server) checkUser(ctx context.Context, app *application, name, password, enduser string) authOutcome {
	u, ok := s.store.User(name)
	if !ok {
		return authOutcome{status: 400, reason: "USER_NOT_FOUND", message: fmt.Sprintf("User <%s> does not exist", name), metric: "unknown_user"}
	}
	key := upstream.Fold(name)
	if d := s.throttle.Delay(key, enduser); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return authOutcome{status: 500, reason: "OPERATION_FAILED", message: "request cancelled", metric: "cancelled"}
		}
	}
	if !u.Rec.Active {
		return authOutcome{user: u, status: 400, reason: "INACTIVE_ACCOUNT", message: fmt.Sprintf("Account with name <%s> is inactive", u.Rec.Username), metric: "inactive"}
	}
	pc := s.cfg.Checkers[u.Upstream]
	if pc == nil {
		// A cloud upstream with auth: none: its accounts have no password
		// dirgate can check (README, "Password checks for cloud users").
		return authOutcome{user: u, status: 400, reason: "INVALID_USER_AUTHENTICATION",
			message: fmt.Sprintf("Password logins are not available for users of %s: it has no password dirgate can check (auth: none)", u.Upstream),
			metric:  "no_password_check"}
	}
	cctx, cancel := context.WithTimeout(ctx, passwordCheckTimeout)
	good, err := pc.CheckPassword(cctx, u.Rec, password)
	cancel()
	switch {
	case err != nil:
		s.log.Warn("password check failed at the upstream", "upstream", u.Upstream, "user", u.Rec.Username, "err", err)
		return authOutcome{user: u, status: 500, reason: "OPERATION_FAILED", message: fmt.Sprintf("the directory of %s cannot check passwords now", u.Upstream), metric: "upstream_error"}
	case !good:
		s.throttle.Failure(key, enduser)
		return authOutcome{user: u, status: 400, reason: "INVALID_USER_AUTHENTICATION", message: "Failed to authenticate principal, password was invalid", metric: "wrong_password"}
	}
	s.throttle.Success(key, enduser)
	if !s.allowed(app, u) {
		return authOutcome{user: u, status: 400, reason: "INVALID_USER_AUTHENTICATION",
			message: fmt.Sprintf("User <%s> is not allowed to authenticate with the application <%s>", u.Rec.Username, app.name), metric: "not_allowed"}
	}
	return authOutcome{user: u, metric: "success"}
}

// allowed: an application without allowed_groups lets every user in;
// otherwise the user must be in one of them, directly or through nesting.
func (s *Server) allowed(app *application, u cache.User) bool {
	if len(app.groups) == 0 {
		return true
	}
	for _, g := range s.store.UserGroups(u.Rec.Username, true, app.aggregate) {
		if app.groups[upstream.Fold(g)] {
			return true
		}
	}
	return false
}

func (s *Server) authenticate(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	var body passwordBody
	if err := q.decode(&body, &body); err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return
	}
	if body.Value == nil || *body.Value == "" {
		s.metrics.userAuth("empty_password")
		q.fail(http.StatusBadRequest, "INVALID_USER_AUTHENTICATION", "Failed to authenticate principal, password was invalid")
		return
	}
	addr := s.clientAddr(q.r).String()
	o := s.checkUser(q.r.Context(), q.app, name, *body.Value, "")
	s.metrics.userAuth(o.metric)
	s.logAuth(q, name, addr, o)
	if o.reason != "" {
		q.fail(o.status, o.reason, o.message)
		return
	}
	q.reply(http.StatusOK, q.v.user(o.user, false, true, q.expand("attributes")))
}

func (s *Server) logAuth(q *request, name, addr string, o authOutcome) {
	if o.reason == "" {
		s.log.Info("authentication", "outcome", o.metric, "user", o.user.Rec.Username, "application", q.app.name, "address", addr)
	} else {
		s.log.Info("authentication failed", "outcome", o.metric, "user", name, "application", q.app.name, "address", addr)
	}
}

// authenticationNotify is the product telling Crowd a user logged in by
// other means (SSO): answered with the user.
func (s *Server) authenticationNotify(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	u, ok := q.user(name, http.StatusNotFound)
	if !ok {
		return
	}
	q.reply(http.StatusOK, q.v.user(u, false, true, false))
}

// validationFactor is one factor of a session.
type validationFactor struct {
	Name  string `xml:"name" json:"name"`
	Value string `xml:"value" json:"value"`
}

type factorsXML struct {
	Factors []validationFactor `xml:"validation-factor"`
}

// factorsJSON accepts both spellings clients use (crowd-rest.md §12.12).
type factorsJSON struct {
	Factors  []validationFactor `json:"validationFactors"`
	Factors2 []validationFactor `json:"validation-factor"`
}

func (f factorsJSON) all() []validationFactor { return append(f.Factors, f.Factors2...) }

type authContextXML struct {
	XMLName  xml.Name   `xml:"authentication-context"`
	Username string     `xml:"username"`
	Password string     `xml:"password"`
	Factors  factorsXML `xml:"validation-factors"`
}

type authContextJSON struct {
	Username string      `json:"username"`
	Password string      `json:"password"`
	Factors  factorsJSON `json:"validation-factors"`
}

type validationFactorsXML struct {
	XMLName xml.Name           `xml:"validation-factors"`
	Factors []validationFactor `xml:"validation-factor"`
}

// factorMap keeps the factors that identify the client.
func factorMap(l []validationFactor) map[string]string {
	m := map[string]string{}
	for _, f := range l {
		switch f.Name {
		case "remote_address", "X-Forwarded-For":
			m[f.Name] = strings.TrimSpace(f.Value)
		}
	}
	return m
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newToken returns 24 random alphanumerics (Crowd's token shape, about
// 143 bits). Bytes at or above the largest multiple of 62 are drawn again,
// so every character is equally likely.
func newToken() string {
	const n, limit = 24, 256 - 256%len(tokenAlphabet)
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, c := range buf {
			if int(c) < limit && len(out) < n {
				out = append(out, tokenAlphabet[int(c)%len(tokenAlphabet)])
			}
		}
	}
	return string(out)
}

// sessionEntity renders a session with its user.
type sessionEntity struct {
	x sessionXML
	j sessionJSON
}

func (e *sessionEntity) xmlForm() any  { return &e.x }
func (e *sessionEntity) jsonForm() any { return &e.j }

func (q *request) session(se cache.Session, u cache.User) *sessionEntity {
	ue := q.v.user(u, false, false, false)
	l := &link{Href: q.v.base + "/session/" + se.Token, Rel: "self"}
	return &sessionEntity{
		x: sessionXML{Expand: "user", Token: se.Token, User: &ue.x, Link: l, Created: xmlTime(se.Created), Expiry: xmlTime(se.Expires)},
		j: sessionJSON{Expand: "user", Token: se.Token, User: &ue.j, Link: l, Created: jsonTime(se.Created), Expiry: jsonTime(se.Expires)},
	}
}

func (s *Server) createSession(q *request) {
	var x authContextXML
	var j authContextJSON
	if err := q.decode(&x, &j); err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return
	}
	name, password, factors := x.Username, x.Password, x.Factors.Factors
	if j.Username != "" {
		name, password, factors = j.Username, j.Password, j.Factors.all()
	}
	if name == "" {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", "the authentication context has no username")
		return
	}
	validate := !strings.EqualFold(q.param("validate-password"), "false")
	addr := s.clientAddr(q.r).String()
	var u cache.User
	if validate {
		o := s.checkUser(q.r.Context(), q.app, name, password, factorMap(factors)["remote_address"])
		s.metrics.userAuth(o.metric)
		s.logAuth(q, name, addr, o)
		if o.reason == "INVALID_USER_AUTHENTICATION" && o.metric == "not_allowed" {
			q.fail(http.StatusForbidden, "APPLICATION_ACCESS_DENIED", o.message)
			return
		}
		if o.reason != "" {
			q.fail(o.status, o.reason, o.message)
			return
		}
		u = o.user
	} else {
		var ok bool
		if u, ok = q.user(name, http.StatusBadRequest); !ok {
			return
		}
		if !u.Rec.Active {
			q.fail(http.StatusBadRequest, "INACTIVE_ACCOUNT", fmt.Sprintf("Account with name <%s> is inactive", u.Rec.Username))
			return
		}
		if !s.allowed(q.app, u) {
			q.fail(http.StatusForbidden, "APPLICATION_ACCESS_DENIED", fmt.Sprintf("User <%s> is not allowed to use the application <%s>", u.Rec.Username, q.app.name))
			return
		}
	}
	lifetime := s.cfg.SessionTimeout
	if d := q.param("duration"); d != "" {
		// Compare in seconds: n*time.Second overflows for a huge n, and a
		// negative lifetime would make the session unstorable.
		if n, err := strconv.ParseInt(d, 10, 64); err == nil && n > 0 && n < int64(lifetime/time.Second) {
			lifetime = time.Duration(n) * time.Second
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	se := cache.Session{Token: newToken(), Username: u.Rec.Username, Upstream: u.Upstream, UserID: userID(u.Rec),
		Application: q.app.name, Created: now, LastUsed: now,
		Expires: now.Add(lifetime), Idle: lifetime, Factors: factorMap(factors)}
	if err := s.store.PutSession(se); err != nil {
		q.fail(http.StatusInternalServerError, "OPERATION_FAILED", "cannot store the session")
		return
	}
	q.w.Header().Set("Location", q.v.base+"/session/"+se.Token)
	q.reply(http.StatusCreated, q.session(se, u))
}

// liveSession returns a live session whose user still exists, is active
// and may use this application, or answers 404 INVALID_SSO_TOKEN. The
// session may have been created by another application: that is what
// single sign-on is (Jira logs the user in, Confluence validates the same
// crowd.token_key cookie, crowd-rest.md §8).
func (q *request) liveSession(token string) (cache.Session, cache.User, bool) {
	s := q.s
	se, err := s.store.GetSession(token)
	var u cache.User
	ok := err == nil
	if ok {
		u, ok = s.store.User(se.Username)
		ok = ok && u.Upstream == se.Upstream && userID(u.Rec) == se.UserID && u.Rec.Active && s.allowed(q.app, u)
	}
	if !ok {
		if err != nil && !errors.Is(err, cache.ErrNoSession) {
			s.log.Warn("reading a session", "err", err)
		}
		q.fail(http.StatusNotFound, "INVALID_SSO_TOKEN", fmt.Sprintf("Token <%s> does not exist or has expired", token))
	}
	return se, u, ok
}

// userID is what identifies a user across renames: its external ID when
// the upstream has one, else its key.
func userID(u *upstream.User) string {
	if u.ExternalID != "" {
		return u.ExternalID
	}
	return u.Key
}

func (s *Server) getSession(q *request) {
	se, u, ok := q.liveSession(q.r.PathValue("token"))
	if !ok {
		return
	}
	q.reply(http.StatusOK, q.session(se, u))
}

// validateSession checks a token against the client's validation factors
// and extends it.
func (s *Server) validateSession(q *request) {
	token := q.r.PathValue("token")
	var x validationFactorsXML
	var j factorsJSON
	if err := q.decode(&x, &j); err != nil && q.r.ContentLength != 0 {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return
	}
	factors := factorMap(append(x.Factors, j.all()...))
	se, u, ok := q.liveSession(token)
	if !ok {
		return
	}
	for k, v := range se.Factors {
		if got, sent := factors[k]; sent && got != v {
			s.log.Info("session refused: validation factor differs", "factor", k, "application", q.app.name, "user", se.Username)
			q.fail(http.StatusNotFound, "INVALID_SSO_TOKEN", fmt.Sprintf("Token <%s> is not valid for this client", token))
			return
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	se.LastUsed = now
	if se.Idle <= 0 || se.Idle > s.cfg.SessionTimeout {
		se.Idle = s.cfg.SessionTimeout
	}
	if exp := now.Add(se.Idle); exp.After(se.Expires) {
		se.Expires = exp
	}
	if err := s.store.PutSession(se); err != nil {
		q.fail(http.StatusInternalServerError, "OPERATION_FAILED", "cannot store the session")
		return
	}
	q.reply(http.StatusOK, q.session(se, u))
}

// deleteSession is a logout: the token ends for every application (single
// sign-out), whichever one created it; an unknown token is not an error.
func (s *Server) deleteSession(q *request) {
	token := q.r.PathValue("token")
	if err := s.store.DeleteSession(token); err != nil {
		s.log.Warn("deleting a session", "err", err)
	}
	q.empty(http.StatusNoContent)
}

// deleteUserSessions invalidates every session of a user (but exclude).
func (s *Server) deleteUserSessions(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	n, err := s.store.DeleteUserSessions(name, q.param("exclude"))
	if err != nil {
		q.fail(http.StatusInternalServerError, "OPERATION_FAILED", "cannot delete the sessions")
		return
	}
	s.log.Info("sessions invalidated", "user", name, "count", n, "application", q.app.name)
	q.empty(http.StatusNoContent)
}
