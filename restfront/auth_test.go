package restfront

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/throttle"
	"github.com/dirgate/dirgate/upstream"
)

// Behavioural tests of POST /authentication and the SSO session endpoints
// (crowd-rest.md §3, §5.2, §5.6, §8, §11). Helpers shared with
// writes_test.go carry the prefix aw.

// ---- helpers ----

type awLink struct {
	Href string `xml:"href,attr" json:"href"`
	Rel  string `xml:"rel,attr" json:"rel"`
}

type awAttr struct {
	Name   string   `xml:"name,attr" json:"name"`
	Values []string `xml:"values>value" json:"values"`
}

// awUser decodes a user in either format (the element and key names are
// the same, crowd-rest.md T5).
type awUser struct {
	XMLName     xml.Name `xml:"user" json:"-"`
	Name        string   `xml:"name,attr" json:"name"`
	Link        *awLink  `xml:"link" json:"link"`
	FirstName   string   `xml:"first-name" json:"first-name"`
	LastName    string   `xml:"last-name" json:"last-name"`
	DisplayName string   `xml:"display-name" json:"display-name"`
	Email       string   `xml:"email" json:"email"`
	Key         string   `xml:"key" json:"key"`
	Active      *bool    `xml:"active" json:"active"`
	Password    *struct {
		Link  *awLink `xml:"link" json:"link"`
		Value *string `xml:"value" json:"value"`
	} `xml:"password" json:"password"`
	Attributes *struct {
		Attributes []awAttr `xml:"attribute" json:"attributes"`
	} `xml:"attributes" json:"attributes"`
}

func (u awUser) attr(name string) []string {
	if u.Attributes == nil {
		return nil
	}
	for _, a := range u.Attributes.Attributes {
		if a.Name == name {
			return a.Values
		}
	}
	return nil
}

type awGroup struct {
	XMLName     xml.Name `xml:"group" json:"-"`
	Name        string   `xml:"name,attr" json:"name"`
	Description *string  `xml:"description" json:"description"`
	Type        string   `xml:"type" json:"type"`
	Active      *bool    `xml:"active" json:"active"`
}

type awList struct {
	Users  []awUser  `xml:"user" json:"users"`
	Groups []awGroup `xml:"group" json:"groups"`
}

func (l awList) names() []string {
	var out []string
	for _, u := range l.Users {
		out = append(out, u.Name)
	}
	for _, g := range l.Groups {
		out = append(out, g.Name)
	}
	return out
}

type awAttrList struct {
	XMLName    xml.Name `xml:"attributes" json:"-"`
	Attributes []awAttr `xml:"attribute" json:"attributes"`
}

func (l awAttrList) get(name string) ([]string, bool) {
	for _, a := range l.Attributes {
		if a.Name == name {
			return a.Values, true
		}
	}
	return nil, false
}

// awSession is a session as XML (dates are xsd:dateTime) or JSON (epoch
// milliseconds); created and expires are filled from either.
type awSession struct {
	token            string
	user             awUser
	link             awLink
	created, expires time.Time
}

var xsdDateTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:\d\d)$`)

func awParseSession(t *testing.T, r response, asJSON bool) awSession {
	t.Helper()
	var s awSession
	if asJSON {
		var j struct {
			Expand  string  `json:"expand"`
			Token   string  `json:"token"`
			User    *awUser `json:"user"`
			Link    *awLink `json:"link"`
			Created *int64  `json:"created-date"`
			Expiry  *int64  `json:"expiry-date"`
		}
		awDecode(t, r, true, &j)
		if j.Created == nil || j.Expiry == nil || j.User == nil || j.Link == nil {
			t.Fatalf("session JSON lacks created-date, expiry-date (epoch ms), user or link: %s", r.body)
		}
		s = awSession{token: j.Token, user: *j.User, link: *j.Link, created: time.UnixMilli(*j.Created), expires: time.UnixMilli(*j.Expiry)}
	} else {
		var x struct {
			XMLName xml.Name `xml:"session"`
			Token   string   `xml:"token"`
			User    *awUser  `xml:"user"`
			Link    *awLink  `xml:"link"`
			Created string   `xml:"created-date"`
			Expiry  string   `xml:"expiry-date"`
		}
		awDecode(t, r, false, &x)
		if x.User == nil || x.Link == nil {
			t.Fatalf("session XML lacks user or link: %s", r.body)
		}
		s = awSession{token: x.Token, user: *x.User, link: *x.Link}
		for _, d := range []struct {
			v   string
			dst *time.Time
		}{{x.Created, &s.created}, {x.Expiry, &s.expires}} {
			if !xsdDateTime.MatchString(d.v) {
				t.Fatalf("session date %q is not an xsd:dateTime: %s", d.v, r.body)
			}
			tm, err := time.Parse(time.RFC3339Nano, d.v)
			if err != nil {
				t.Fatalf("session date %q: %v", d.v, err)
			}
			*d.dst = tm
		}
	}
	return s
}

// awDecode decodes a response body, insisting on the negotiated type.
func awDecode(t *testing.T, r response, asJSON bool, v any) {
	t.Helper()
	ct := r.header.Get("Content-Type")
	var err error
	if asJSON {
		if ct != "application/json" {
			t.Fatalf("Content-Type %q, want exactly application/json; body %s", ct, r.body)
		}
		err = json.Unmarshal([]byte(r.body), v)
	} else {
		if !strings.HasPrefix(ct, "application/xml") {
			t.Fatalf("Content-Type %q, want application/xml; body %s", ct, r.body)
		}
		err = xml.Unmarshal([]byte(r.body), v)
	}
	if err != nil {
		t.Fatalf("cannot decode %s: %v", r.body, err)
	}
}

// awReason is the reason of a Crowd error body, in the format of its
// Content-Type ("" when the body is no Crowd error).
func awReason(r response) string {
	var e struct {
		Reason  string `xml:"reason" json:"reason"`
		Message string `xml:"message" json:"message"`
	}
	if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal([]byte(r.body), &e)
	} else if xml.Unmarshal([]byte(r.body), &e) != nil {
		return ""
	}
	return e.Reason
}

// awExpect checks the status and, unless reason is empty, the error reason
// (in the format that was asked for).
func awExpect(t *testing.T, what string, r response, status int, reason string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	if reason == "" {
		return
	}
	if got := awReason(r); got != reason {
		t.Fatalf("%s: reason %q, want %q; body %s", what, got, reason, r.body)
	}
}

func awXMLEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func awPasswordBody(pw string, asJSON bool) string {
	if asJSON {
		b, _ := json.Marshal(map[string]string{"value": pw})
		return string(b)
	}
	return "<password><value>" + awXMLEsc(pw) + "</value></password>"
}

// awAuthContext is POST /session's body, with validation factors as
// name/value pairs.
func awAuthContext(user, pw string, asJSON bool, factors ...string) string {
	if asJSON {
		var fs []map[string]string
		for i := 0; i+1 < len(factors); i += 2 {
			fs = append(fs, map[string]string{"name": factors[i], "value": factors[i+1]})
		}
		b, _ := json.Marshal(map[string]any{"username": user, "password": pw,
			"validation-factors": map[string]any{"validationFactors": fs}})
		return string(b)
	}
	return "<authentication-context><username>" + awXMLEsc(user) + "</username><password>" + awXMLEsc(pw) +
		"</password>" + awFactorsXML(factors...) + "</authentication-context>"
}

func awFactorsXML(factors ...string) string {
	var b strings.Builder
	b.WriteString("<validation-factors>")
	for i := 0; i+1 < len(factors); i += 2 {
		b.WriteString("<validation-factor><name>" + awXMLEsc(factors[i]) + "</name><value>" + awXMLEsc(factors[i+1]) + "</value></validation-factor>")
	}
	b.WriteString("</validation-factors>")
	return b.String()
}

func awFactorsJSON(factors ...string) string {
	fs := []map[string]string{}
	for i := 0; i+1 < len(factors); i += 2 {
		fs = append(fs, map[string]string{"name": factors[i], "value": factors[i+1]})
	}
	b, _ := json.Marshal(map[string]any{"validationFactors": fs})
	return string(b)
}

func awFormat(asJSON bool) string {
	if asJSON {
		return "json"
	}
	return "xml"
}

// awBoth runs f for XML and for JSON.
func awBoth(t *testing.T, f func(t *testing.T, asJSON bool)) {
	for _, asJSON := range []bool{false, true} {
		t.Run(awFormat(asJSON), func(t *testing.T) { f(t, asJSON) })
	}
}

func awSessionTimeout(d time.Duration) envOpt {
	return func(c *Config) { c.SessionTimeout = d }
}

// awChecker replaces the password checker of one upstream.
func awChecker(up string, pc upstream.PasswordChecker) envOpt {
	return func(c *Config) {
		m := map[string]upstream.PasswordChecker{}
		for k, v := range c.Checkers {
			m[k] = v
		}
		m[up] = pc
		c.Checkers = m
	}
}

type awBrokenChecker struct{}

func (awBrokenChecker) CheckPassword(context.Context, *upstream.User, string) (bool, error) {
	return false, fmt.Errorf("ldap down: %w", upstream.ErrUnavailable)
}

// awCreateSession makes a session through the API and returns its token.
func awCreateSession(t *testing.T, e *env, app, user, pw string, factors ...string) string {
	t.Helper()
	r := e.do(t, call{app: app, method: "POST", path: "/session", body: awAuthContext(user, pw, false, factors...)})
	awExpect(t, "POST /session "+user, r, http.StatusCreated, "")
	return awParseSession(t, r, false).token
}

// ---- POST /authentication ----

func TestAuthenticationCanonicalUser(t *testing.T) {
	e := newEnv(t)
	awBoth(t, func(t *testing.T, asJSON bool) {
		for _, c := range []struct {
			name, pw            string
			wantName, wantFirst string
			wantKey             string // prefix
		}{
			// alice is in staff (first) and, as "Alice", in internal:
			// staff's wins.
			{"alice", "alice-pw", "alice", "Alice", "1:ext-ua"},
			{"ALICE", "alice-pw", "alice", "Alice", "1:ext-ua"},
			// carol is only in the local directory.
			{"carol", "carol-pw", "carol", "Carol", "2:"},
			{"Carol", "carol-pw", "carol", "Carol", "2:"},
		} {
			r := e.do(t, call{method: "POST", path: "/authentication?username=" + c.name, body: awPasswordBody(c.pw, asJSON), json: asJSON})
			awExpect(t, "authenticate "+c.name, r, http.StatusOK, "")
			var u awUser
			awDecode(t, r, asJSON, &u)
			if u.Name != c.wantName || u.FirstName != c.wantFirst || !strings.HasPrefix(u.Key, c.wantKey) {
				t.Errorf("%s: got user %q first-name %q key %q, want %q %q %q*", c.name, u.Name, u.FirstName, u.Key, c.wantName, c.wantFirst, c.wantKey)
			}
			if u.Active == nil || !*u.Active {
				t.Errorf("%s: active missing or false: %s", c.name, r.body)
			}
			if strings.Contains(r.body, c.pw) {
				t.Errorf("%s: the response carries the password: %s", c.name, r.body)
			}
			if u.Password == nil || u.Password.Value != nil || u.Password.Link == nil || u.Password.Link.Rel != "edit" {
				t.Errorf("%s: password must be only an edit link: %s", c.name, r.body)
			}
		}
	})
}

func TestAuthenticationFailures(t *testing.T) {
	e := newEnv(t)
	awBoth(t, func(t *testing.T, asJSON bool) {
		for _, c := range []struct {
			what, user, body string
			status           int
			reason           string
		}{
			{"wrong password", "carol", awPasswordBody("nope", asJSON), 400, "INVALID_USER_AUTHENTICATION"},
			// alice's canonical directory (staff) rejects this password;
			// it is the password of the shadowed local "Alice", which must
			// not be tried.
			{"shadowed directory's password", "alice", awPasswordBody("other-pw", asJSON), 400, "INVALID_USER_AUTHENTICATION"},
			{"unknown user", "nobody", awPasswordBody("x", asJSON), 400, "USER_NOT_FOUND"},
			{"inactive user", "Bob", awPasswordBody("Bob-pw", asJSON), 400, "INACTIVE_ACCOUNT"},
			{"inactive user, other case", "bob", awPasswordBody("Bob-pw", asJSON), 400, "INACTIVE_ACCOUNT"},
			{"empty password", "carol", awPasswordBody("", asJSON), 400, "INVALID_USER_AUTHENTICATION"},
			{"no username", "", awPasswordBody("carol-pw", asJSON), 400, "ILLEGAL_ARGUMENT"},
		} {
			path := "/authentication"
			if c.user != "" {
				path += "?username=" + c.user
			}
			r := e.do(t, call{method: "POST", path: path, body: c.body, json: asJSON})
			awExpect(t, c.what, r, c.status, c.reason)
			if asJSON && r.header.Get("Content-Type") != "application/json" || !asJSON && r.header.Get("Content-Type") != "application/xml" {
				t.Errorf("%s: error in %q, want the negotiated format", c.what, r.header.Get("Content-Type"))
			}
		}
	})
	// Bodies that say no password, and bodies that cannot be read.
	for _, c := range []struct {
		what, body, ctype string
		reason            string
	}{
		{"empty element", "<password/>", "", "INVALID_USER_AUTHENTICATION"},
		{"empty JSON object", "{}", "application/json", "INVALID_USER_AUTHENTICATION"},
		{"JSON null value", `{"value":null}`, "application/json", "INVALID_USER_AUTHENTICATION"},
		{"no body", "", "", ""},
		{"malformed XML", "<password><value>carol-pw</value>", "", "ILLEGAL_ARGUMENT"},
		{"malformed JSON", `{"value":`, "application/json", "ILLEGAL_ARGUMENT"},
		{"wrong root element", "<user><value>carol-pw</value></user>", "", "ILLEGAL_ARGUMENT"},
		{"DTD", `<?xml version="1.0"?><!DOCTYPE password [<!ENTITY x "carol-pw">]><password><value>&x;</value></password>`, "", "ILLEGAL_ARGUMENT"},
	} {
		r := e.do(t, call{method: "POST", path: "/authentication?username=carol", body: c.body, ctype: c.ctype})
		awExpect(t, c.what, r, http.StatusBadRequest, c.reason)
		if strings.Contains(r.body, "<user") {
			t.Errorf("%s: authenticated: %s", c.what, r.body)
		}
	}
}

// An application restricted to groups (conf: staff) treats a user outside
// them as a failed authentication (400, never 403: the Java client turns a
// 403 into "directory not functional").
func TestAuthenticationAllowedGroups(t *testing.T) {
	e := newEnv(t)
	awBoth(t, func(t *testing.T, asJSON bool) {
		// erin is in no group.
		r := e.do(t, call{app: "conf:conf-pw", method: "POST", path: "/authentication?username=erin", body: awPasswordBody("erin-pw", asJSON), json: asJSON})
		awExpect(t, "erin on conf", r, http.StatusBadRequest, "INVALID_USER_AUTHENTICATION")
		// The same user may use jira (no allowed_groups).
		r = e.do(t, call{method: "POST", path: "/authentication?username=erin", body: awPasswordBody("erin-pw", asJSON), json: asJSON})
		awExpect(t, "erin on jira", r, http.StatusOK, "")
		// alice is in staff through devs → staff; conf lower-cases names.
		r = e.do(t, call{app: "conf:conf-pw", method: "POST", path: "/authentication?username=ALICE", body: awPasswordBody("alice-pw", asJSON), json: asJSON})
		awExpect(t, "alice on conf", r, http.StatusOK, "")
		var u awUser
		awDecode(t, r, asJSON, &u)
		if u.Name != "alice" || u.FirstName != "Alice" {
			t.Errorf("alice on conf: %s", r.body)
		}
		// A wrong password is still a wrong password.
		r = e.do(t, call{app: "conf:conf-pw", method: "POST", path: "/authentication?username=erin", body: awPasswordBody("bad", asJSON), json: asJSON})
		awExpect(t, "erin on conf, wrong password", r, http.StatusBadRequest, "INVALID_USER_AUTHENTICATION")
	})
}

// A directory that cannot check passwords is an error, not a reason to try
// the shadowed user of a later directory.
func TestAuthenticationUpstreamError(t *testing.T) {
	e := newEnv(t, awChecker("staff", awBrokenChecker{}))
	r := e.do(t, call{method: "POST", path: "/authentication?username=alice", body: awPasswordBody("other-pw", false)})
	awExpect(t, "alice while staff is down", r, http.StatusInternalServerError, "OPERATION_FAILED")
	r = e.do(t, call{method: "POST", path: "/authentication?username=carol", body: awPasswordBody("carol-pw", false)})
	awExpect(t, "carol while staff is down", r, http.StatusOK, "")
}

// The request's address is the application server's (Jira's), shared by
// all its users: /authentication counts failures against the name alone,
// so a guesser going through Jira slows the user down by at most
// MaxNameDelay; /session counts them against the end user's address too
// when the remote_address factor gives it.
func TestAuthenticationThrottle(t *testing.T) {
	e := newEnv(t)
	const jira = "127.0.0.1" // e.do connects from the IPv4 loopback
	if d := e.srv.throttle.Delay("erin", ""); d != 0 {
		t.Fatalf("fresh throttle delays erin by %v", d)
	}
	// A failure (under another spelling of the name) is counted for the
	// user, not for Jira's address.
	r := e.do(t, call{method: "POST", path: "/authentication?username=ERIN", body: awPasswordBody("bad", false)})
	awExpect(t, "wrong password", r, http.StatusBadRequest, "INVALID_USER_AUTHENTICATION")
	if d := e.srv.throttle.Delay("erin", ""); d != throttle.BaseDelay {
		t.Fatalf("after one failure erin waits %v, want %v", d, throttle.BaseDelay)
	}
	if d := e.srv.throttle.Delay("erin", jira); d != 0 {
		t.Fatalf("the failure was counted against Jira's address too (%v)", d)
	}
	for range 4 { // five failures: 100 ms doubled four times is beyond the cap
		e.do(t, call{method: "POST", path: "/authentication?username=erin", body: awPasswordBody("bad", false)})
	}
	if d := e.srv.throttle.Delay("erin", ""); d != throttle.MaxNameDelay {
		t.Fatalf("after many failures through Jira erin waits %v, want at most %v", d, throttle.MaxNameDelay)
	}
	// Unknown users and empty passwords are not counted against anyone.
	e.do(t, call{method: "POST", path: "/authentication?username=nobody", body: awPasswordBody("bad", false)})
	if d := e.srv.throttle.Delay("nobody", ""); d != 0 {
		t.Errorf("an unknown user is throttled (%v)", d)
	}
	// The next attempt waits the delay before it is checked (a lower
	// bound: this measures the server's wait, it synchronises nothing).
	start := time.Now()
	r = e.do(t, call{method: "POST", path: "/authentication?username=erin", body: awPasswordBody("erin-pw", false)})
	awExpect(t, "right password after failures", r, http.StatusOK, "")
	if el := time.Since(start); el < throttle.MaxNameDelay {
		t.Errorf("the attempt after the failures took %v, less than the %v delay", el, throttle.MaxNameDelay)
	}
	// Sessions: the end user's address from the remote_address factor.
	const browser = "192.0.2.44"
	r = e.do(t, call{method: "POST", path: "/session", body: awAuthContext("carol", "bad", false, "remote_address", browser)})
	awExpect(t, "session with a wrong password", r, http.StatusBadRequest, "INVALID_USER_AUTHENTICATION")
	if d := e.srv.throttle.Delay("carol", browser); d != throttle.BaseDelay {
		t.Errorf("a failed session login from %s: delay %v, want %v", browser, d, throttle.BaseDelay)
	}
	if d := e.srv.throttle.Delay("carol", jira); d != 0 {
		t.Errorf("a failed session login was counted against Jira's address (%v)", d)
	}
}

func TestAuthenticationNotify(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, call{method: "POST", path: "/authentication/notify?username=Alice", body: "<password/>"})
	awExpect(t, "notify alice", r, http.StatusOK, "")
	var u awUser
	awDecode(t, r, false, &u)
	if u.Name != "alice" || u.FirstName != "Alice" {
		t.Errorf("notify answered %s", r.body)
	}
	r = e.do(t, call{method: "POST", path: "/authentication/notify?username=nobody", body: "<password/>"})
	awExpect(t, "notify nobody", r, http.StatusNotFound, "USER_NOT_FOUND")
}

// ---- sessions ----

var sessionToken = regexp.MustCompile(`^[A-Za-z0-9]{24}$`)

func TestSessionCreate(t *testing.T) {
	e := newEnv(t)
	awBoth(t, func(t *testing.T, asJSON bool) {
		r := e.do(t, call{method: "POST", path: "/session", body: awAuthContext("Alice", "alice-pw", asJSON, "remote_address", "127.0.0.1"), json: asJSON})
		awExpect(t, "create", r, http.StatusCreated, "")
		s := awParseSession(t, r, asJSON)
		if !sessionToken.MatchString(s.token) {
			t.Errorf("token %q is not 24 alphanumerics", s.token)
		}
		if loc := r.header.Get("Location"); loc != e.base+"/session/"+s.token {
			t.Errorf("Location %q, want %s/session/%s", loc, e.base, s.token)
		}
		if s.link.Href != e.base+"/session/"+s.token {
			t.Errorf("link %q", s.link.Href)
		}
		if s.user.Name != "alice" || s.user.FirstName != "Alice" || s.user.Email != "alice@example.com" {
			t.Errorf("session user: %s", r.body)
		}
		if strings.Contains(r.body, "alice-pw") {
			t.Errorf("the session carries the password: %s", r.body)
		}
		if d := s.expires.Sub(s.created); d != 30*time.Minute {
			t.Errorf("expiry - created = %v, want the default 30m", d)
		}
		if age := time.Since(s.created); age < -time.Second || age > time.Minute {
			t.Errorf("created-date %v is not now", s.created)
		}
		// The session is in the store, with its factors.
		se, err := e.store.GetSession(s.token)
		if err != nil {
			t.Fatalf("the store does not have the session: %v", err)
		}
		if se.Username != "alice" || se.Application != "jira" || se.Factors["remote_address"] != "127.0.0.1" ||
			!se.Expires.Equal(s.expires) {
			t.Errorf("stored session %+v", se)
		}
	})
	// Two logins are two sessions.
	t1 := awCreateSession(t, e, "", "carol", "carol-pw")
	t2 := awCreateSession(t, e, "", "carol", "carol-pw")
	if t1 == t2 {
		t.Errorf("two logins share the token %s", t1)
	}
}

func TestSessionCreateFailures(t *testing.T) {
	e := newEnv(t)
	awBoth(t, func(t *testing.T, asJSON bool) {
		for _, c := range []struct {
			what, app, query, body string
			status                 int
			reasons                []string
		}{
			{"wrong password", "", "", awAuthContext("carol", "bad", asJSON), 400, []string{"INVALID_USER_AUTHENTICATION"}},
			{"shadowed directory's password", "", "", awAuthContext("alice", "other-pw", asJSON), 400, []string{"INVALID_USER_AUTHENTICATION"}},
			{"empty password", "", "", awAuthContext("carol", "", asJSON), 400, []string{"INVALID_USER_AUTHENTICATION"}},
			{"inactive", "", "", awAuthContext("Bob", "Bob-pw", asJSON), 400, []string{"INACTIVE_ACCOUNT"}},
			{"inactive, no password check", "", "?validate-password=false", awAuthContext("Bob", "", asJSON), 400, []string{"INACTIVE_ACCOUNT"}},
			// Crowd's table lists no reason for this case; either is a
			// failed login for every client.
			{"unknown", "", "", awAuthContext("nobody", "x", asJSON), 400, []string{"USER_NOT_FOUND", "INVALID_USER_AUTHENTICATION"}},
			{"unknown, no password check", "", "?validate-password=false", awAuthContext("nobody", "", asJSON), 400, []string{"USER_NOT_FOUND", "INVALID_USER_AUTHENTICATION"}},
			{"no username", "", "", awAuthContext("", "x", asJSON), 400, []string{"ILLEGAL_ARGUMENT"}},
			// A user the application does not admit: 403 on /session.
			{"not allowed", "conf:conf-pw", "", awAuthContext("erin", "erin-pw", asJSON), 403, []string{"APPLICATION_ACCESS_DENIED"}},
			{"not allowed, no password check", "conf:conf-pw", "?validate-password=false", awAuthContext("erin", "", asJSON), 403, []string{"APPLICATION_ACCESS_DENIED"}},
		} {
			r := e.do(t, call{app: c.app, method: "POST", path: "/session" + c.query, body: c.body, json: asJSON})
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.what, r.status, c.status, r.body)
				continue
			}
			got := awReason(r)
			ok := false
			for _, want := range c.reasons {
				ok = ok || got == want
			}
			if !ok {
				t.Errorf("%s: reason %q, want one of %v: %s", c.what, got, c.reasons, r.body)
			}
		}
	})
	for _, c := range []struct{ what, body, ctype string }{
		{"malformed XML", "<authentication-context><username>carol", ""},
		{"malformed JSON", `{"username":`, "application/json"},
		{"wrong root", "<password><value>x</value></password>", ""},
	} {
		r := e.do(t, call{method: "POST", path: "/session", body: c.body, ctype: c.ctype})
		awExpect(t, c.what, r, http.StatusBadRequest, "ILLEGAL_ARGUMENT")
	}
}

func TestSessionValidatePasswordFalse(t *testing.T) {
	e := newEnv(t)
	awBoth(t, func(t *testing.T, asJSON bool) {
		// SSO without a password: the password in the body is ignored.
		r := e.do(t, call{method: "POST", path: "/session?validate-password=false", body: awAuthContext("alice", "", asJSON), json: asJSON})
		awExpect(t, "no password", r, http.StatusCreated, "")
		if s := awParseSession(t, r, asJSON); s.user.Name != "alice" || !sessionToken.MatchString(s.token) {
			t.Errorf("session %+v", s)
		}
		r = e.do(t, call{method: "POST", path: "/session?validate-password=FALSE", body: awAuthContext("carol", "wrong", asJSON), json: asJSON})
		awExpect(t, "wrong password ignored", r, http.StatusCreated, "")
		// validate-password=true (the default, and any other value) checks.
		r = e.do(t, call{method: "POST", path: "/session?validate-password=true", body: awAuthContext("carol", "wrong", asJSON), json: asJSON})
		awExpect(t, "validate-password=true", r, http.StatusBadRequest, "INVALID_USER_AUTHENTICATION")
		// conf admits alice (staff through devs).
		r = e.do(t, call{app: "conf:conf-pw", method: "POST", path: "/session?validate-password=false", body: awAuthContext("ALICE", "", asJSON), json: asJSON})
		awExpect(t, "conf alice", r, http.StatusCreated, "")
		if s := awParseSession(t, r, asJSON); s.user.Name != "alice" {
			t.Errorf("conf session user %q", s.user.Name)
		}
	})
}

func TestSessionDuration(t *testing.T) {
	e := newEnv(t, awSessionTimeout(10*time.Minute))
	for _, c := range []struct {
		query string
		want  time.Duration
	}{
		{"", 10 * time.Minute},
		{"?duration=60", time.Minute},
		{"?duration=599", 599 * time.Second},
		{"?duration=600", 10 * time.Minute},
		{"?duration=86400", 10 * time.Minute},      // capped by the session timeout
		{"?duration=0", 10 * time.Minute},          // ignored
		{"?duration=-5", 10 * time.Minute},         // ignored
		{"?duration=soon", 10 * time.Minute},       // ignored
		{"?duration=9223372037", 10 * time.Minute}, // seconds that overflow a time.Duration
		{"?duration=99999999999999999999", 10 * time.Minute},
	} {
		for _, asJSON := range []bool{false, true} {
			r := e.do(t, call{method: "POST", path: "/session" + c.query, body: awAuthContext("carol", "carol-pw", asJSON), json: asJSON})
			if r.status != http.StatusCreated {
				t.Errorf("%s (%s): status %d: %s", c.query, awFormat(asJSON), r.status, r.body)
				continue
			}
			s := awParseSession(t, r, asJSON)
			if got := s.expires.Sub(s.created); got != c.want {
				t.Errorf("%s (%s): lifetime %v, want %v", c.query, awFormat(asJSON), got, c.want)
			}
		}
	}
}

func TestSessionGet(t *testing.T) {
	e := newEnv(t)
	tok := awCreateSession(t, e, "", "alice", "alice-pw", "remote_address", "127.0.0.1")
	awBoth(t, func(t *testing.T, asJSON bool) {
		for _, q := range []string{"", "?expand=user"} {
			r := e.do(t, call{path: "/session/" + tok + q, json: asJSON})
			awExpect(t, "GET session"+q, r, http.StatusOK, "")
			s := awParseSession(t, r, asJSON)
			// The user is complete with or without expand (N2 and G2 read
			// it without).
			if s.token != tok || s.user.Name != "alice" || s.user.FirstName != "Alice" || s.user.Active == nil || !*s.user.Active {
				t.Errorf("GET session%s: %s", q, r.body)
			}
		}
		for _, bad := range []string{"AAAAAAAAAAAAAAAAAAAAAAAA", "x", strings.ToLower(tok)} {
			if bad == tok {
				continue
			}
			r := e.do(t, call{path: "/session/" + bad, json: asJSON})
			awExpect(t, "GET unknown session "+bad, r, http.StatusNotFound, "INVALID_SSO_TOKEN")
		}
	})
	// A read does not extend the session.
	before, err := e.store.GetSession(tok)
	if err != nil {
		t.Fatal(err)
	}
	e.do(t, call{path: "/session/" + tok})
	after, _ := e.store.GetSession(tok)
	if !after.Expires.Equal(before.Expires) || !after.LastUsed.Equal(before.LastUsed) {
		t.Errorf("GET changed the session: %+v → %+v", before, after)
	}
}

func TestSessionValidate(t *testing.T) {
	e := newEnv(t)
	tok := awCreateSession(t, e, "", "alice", "alice-pw", "remote_address", "127.0.0.1", "X-Forwarded-For", "192.0.2.7")
	awBoth(t, func(t *testing.T, asJSON bool) {
		factors := awFactorsXML
		if asJSON {
			factors = awFactorsJSON
		}
		for _, c := range []struct {
			what, body, ctype string
			status            int
		}{
			{"same factors", factors("remote_address", "127.0.0.1", "X-Forwarded-For", "192.0.2.7"), "", 200},
			{"same remote_address", factors("remote_address", "127.0.0.1"), "", 200},
			{"unrelated factors", factors("remote_host", "elsewhere", "Random-Number", "42"), "", 200},
			{"no factors", factors(), "", 200},
			{"different remote_address", factors("remote_address", "10.1.2.3"), "", 404},
			{"different X-Forwarded-For", factors("remote_address", "127.0.0.1", "X-Forwarded-For", "198.51.100.1"), "", 404},
			{"X-Forwarded-For alone, different", factors("X-Forwarded-For", "198.51.100.1"), "", 404},
		} {
			r := e.do(t, call{method: "POST", path: "/session/" + tok, body: c.body, json: asJSON, ctype: c.ctype})
			if c.status == 200 {
				awExpect(t, c.what, r, http.StatusOK, "")
				if s := awParseSession(t, r, asJSON); s.token != tok || s.user.Name != "alice" {
					t.Errorf("%s: %s", c.what, r.body)
				}
			} else {
				awExpect(t, c.what, r, http.StatusNotFound, "INVALID_SSO_TOKEN")
			}
		}
	})
	// The other JSON spelling of the factor list (crowd-rest.md §12.12).
	r := e.do(t, call{method: "POST", path: "/session/" + tok, json: true,
		body: `{"validation-factor":[{"name":"remote_address","value":"10.9.9.9"}]}`})
	awExpect(t, "validation-factor spelling, different address", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	// An empty body validates without factors.
	r = e.do(t, call{method: "POST", path: "/session/" + tok})
	awExpect(t, "empty body", r, http.StatusOK, "")
	// The session is unharmed by the refused attempts.
	if _, err := e.store.GetSession(tok); err != nil {
		t.Errorf("the session is gone after refused validations: %v", err)
	}
	r = e.do(t, call{method: "POST", path: "/session/AAAAAAAAAAAAAAAAAAAAAAAA", body: awFactorsXML()})
	awExpect(t, "unknown token", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	r = e.do(t, call{method: "POST", path: "/session/" + tok, body: "<validation-factors>"})
	awExpect(t, "malformed body", r, http.StatusBadRequest, "ILLEGAL_ARGUMENT")
}

// The session timeout is idle time: each validation pushes the expiry to
// now + timeout. The server has no clock hook, so the test ages the stored
// session instead of waiting.
func TestSessionIdleExpiry(t *testing.T) {
	e := newEnv(t, awSessionTimeout(time.Minute))
	tok := awCreateSession(t, e, "", "carol", "carol-pw", "remote_address", "127.0.0.1")
	se, err := e.store.GetSession(tok)
	if err != nil {
		t.Fatal(err)
	}
	if d := se.Expires.Sub(se.Created); d != time.Minute {
		t.Fatalf("lifetime %v, want the 1m timeout", d)
	}
	// 55 seconds of idleness later: 5 seconds left.
	now := time.Now()
	se.LastUsed, se.Expires = now.Add(-55*time.Second), now.Add(5*time.Second)
	if err := e.store.PutSession(se); err != nil {
		t.Fatal(err)
	}
	awBoth(t, func(t *testing.T, asJSON bool) {
		before := time.Now().Truncate(time.Millisecond)
		r := e.do(t, call{method: "POST", path: "/session/" + tok, body: awFactorsXML("remote_address", "127.0.0.1"), json: asJSON,
			ctype: "application/xml"})
		after := time.Now()
		awExpect(t, "validate", r, http.StatusOK, "")
		s := awParseSession(t, r, asJSON)
		if s.expires.Before(before.Add(time.Minute)) || s.expires.After(after.Add(time.Minute)) {
			t.Errorf("expiry %v after validation at [%v, %v], want validation time + 1m", s.expires, before, after)
		}
		if !s.created.Equal(se.Created) {
			t.Errorf("validation changed created-date %v → %v", se.Created, s.created)
		}
		got, err := e.store.GetSession(tok)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Expires.Equal(s.expires) || got.LastUsed.Before(before) {
			t.Errorf("stored session not extended: %+v", got)
		}
	})
	// A session past its expiry is gone for every endpoint, and validation
	// does not bring it back.
	se, _ = e.store.GetSession(tok)
	se.Expires = time.Now().Add(-time.Second)
	if err := e.store.PutSession(se); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, call{method: "POST", path: "/session/" + tok, body: awFactorsXML("remote_address", "127.0.0.1")})
	awExpect(t, "validate expired", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	r = e.do(t, call{path: "/session/" + tok})
	awExpect(t, "get expired", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	if _, err := e.store.GetSession(tok); !errors.Is(err, cache.ErrNoSession) {
		t.Errorf("expired session still in the store: %v", err)
	}
}

func TestSessionDelete(t *testing.T) {
	e := newEnv(t)
	tok := awCreateSession(t, e, "", "carol", "carol-pw")
	awBoth(t, func(t *testing.T, asJSON bool) {
		r := e.do(t, call{method: "DELETE", path: "/session/AAAAAAAAAAAAAAAAAAAAAAAA", json: asJSON})
		awExpect(t, "delete unknown", r, http.StatusNoContent, "")
		if r.body != "" {
			t.Errorf("204 with a body: %q", r.body)
		}
	})
	r := e.do(t, call{method: "DELETE", path: "/session/" + tok})
	awExpect(t, "delete", r, http.StatusNoContent, "")
	r = e.do(t, call{path: "/session/" + tok})
	awExpect(t, "get deleted", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	if _, err := e.store.GetSession(tok); !errors.Is(err, cache.ErrNoSession) {
		t.Errorf("deleted session still in the store: %v", err)
	}
	r = e.do(t, call{method: "DELETE", path: "/session/" + tok})
	awExpect(t, "delete again", r, http.StatusNoContent, "")
}

func TestSessionDeleteUserSessions(t *testing.T) {
	e := newEnv(t)
	a1 := awCreateSession(t, e, "", "alice", "alice-pw")
	a2 := awCreateSession(t, e, "", "alice", "alice-pw")
	a3 := awCreateSession(t, e, "conf:conf-pw", "alice", "alice-pw")
	c1 := awCreateSession(t, e, "", "carol", "carol-pw")
	live := func(tok string) bool {
		_, err := e.store.GetSession(tok)
		return err == nil
	}
	r := e.do(t, call{method: "DELETE", path: "/session?username=Alice&exclude=" + a1})
	awExpect(t, "delete alice's but a1", r, http.StatusNoContent, "")
	if !live(a1) || live(a2) || live(a3) || !live(c1) {
		t.Errorf("after DELETE ?username=Alice&exclude=a1: a1 %v a2 %v a3 %v c1 %v, want true false false true", live(a1), live(a2), live(a3), live(c1))
	}
	r = e.do(t, call{path: "/session/" + a2})
	awExpect(t, "get a2", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	r = e.do(t, call{method: "DELETE", path: "/session?username=alice", json: true})
	awExpect(t, "delete all of alice's", r, http.StatusNoContent, "")
	if live(a1) || !live(c1) {
		t.Errorf("after DELETE ?username=alice: a1 %v c1 %v, want false true", live(a1), live(c1))
	}
	r = e.do(t, call{method: "DELETE", path: "/session?username=nobody"})
	awExpect(t, "unknown user", r, http.StatusNoContent, "")
	r = e.do(t, call{method: "DELETE", path: "/session"})
	awExpect(t, "no username", r, http.StatusBadRequest, "ILLEGAL_ARGUMENT")
	if !live(c1) {
		t.Errorf("carol's session went with the others")
	}
}

// Sessions are single sign-on: a token one application created is valid
// for every application that admits its user, and a logout anywhere ends
// it (crowd-rest.md §8).
func TestSessionSingleSignOn(t *testing.T) {
	e := newEnv(t)
	tok := awCreateSession(t, e, "", "alice", "alice-pw", "remote_address", "127.0.0.1")
	r := e.do(t, call{app: "conf:conf-pw", path: "/session/" + tok})
	awExpect(t, "conf reads jira's session", r, http.StatusOK, "")
	if s := awParseSession(t, r, false); s.user.Name != "alice" {
		t.Errorf("conf sees %q", s.user.Name)
	}
	r = e.do(t, call{app: "conf:conf-pw", method: "POST", path: "/session/" + tok, body: awFactorsXML("remote_address", "127.0.0.1")})
	awExpect(t, "conf validates jira's session", r, http.StatusOK, "")
	// erin's jira session is no use to conf, which does not admit erin.
	et := awCreateSession(t, e, "", "erin", "erin-pw")
	r = e.do(t, call{app: "conf:conf-pw", path: "/session/" + et})
	awExpect(t, "conf reads erin's session", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	r = e.do(t, call{app: "conf:conf-pw", method: "POST", path: "/session/" + et, body: awFactorsXML()})
	awExpect(t, "conf validates erin's session", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	r = e.do(t, call{path: "/session/" + et})
	awExpect(t, "jira still reads erin's session", r, http.StatusOK, "")
	// Logging out through conf ends the session for jira too.
	r = e.do(t, call{app: "conf:conf-pw", method: "DELETE", path: "/session/" + tok})
	awExpect(t, "conf logs out", r, http.StatusNoContent, "")
	r = e.do(t, call{path: "/session/" + tok})
	awExpect(t, "jira after conf's logout", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
}

// A session ends when its user can no longer log in: deleted, deactivated.
func TestSessionUserGone(t *testing.T) {
	e := newEnv(t)
	tok := awCreateSession(t, e, "", "carol", "carol-pw")
	r := e.do(t, call{method: "PUT", path: "/user?username=carol",
		body: `<user name="carol"><first-name>Carol</first-name><last-name>Danvers</last-name><email>carol@example.com</email><active>false</active></user>`})
	awExpect(t, "deactivate carol", r, http.StatusNoContent, "")
	r = e.do(t, call{path: "/session/" + tok})
	awExpect(t, "session of an inactive user", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	r = e.do(t, call{method: "PUT", path: "/user?username=carol",
		body: `<user name="carol"><first-name>Carol</first-name><active>true</active></user>`})
	awExpect(t, "reactivate carol", r, http.StatusNoContent, "")
	r = e.do(t, call{path: "/session/" + tok})
	awExpect(t, "session of the reactivated user", r, http.StatusOK, "")
	r = e.do(t, call{method: "DELETE", path: "/user?username=carol"})
	awExpect(t, "delete carol", r, http.StatusNoContent, "")
	r = e.do(t, call{path: "/session/" + tok})
	awExpect(t, "session of a deleted user", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	if _, err := e.store.GetSession(tok); !errors.Is(err, cache.ErrNoSession) {
		t.Errorf("the deleted user's session is still stored: %v", err)
	}
}

// Sessions live in the store, not in the server: another server over the
// same store (a restart) honours them.
func TestSessionSurvivesServer(t *testing.T) {
	e := newEnv(t)
	tok := awCreateSession(t, e, "", "alice", "alice-pw")
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv, err := New(context.Background(), e.srv.cfg, e.store)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	e2 := &env{store: e.store, srv: srv, base: "http://" + srv.Addr() + "/rest/usermanagement/1", local: e.local}
	r := e2.do(t, call{path: "/session/" + tok, json: true})
	awExpect(t, "session after restart", r, http.StatusOK, "")
	if s := awParseSession(t, r, true); s.user.Name != "alice" {
		t.Errorf("session after restart: %s", r.body)
	}
}

func TestSessionCookieConfig(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, call{path: "/config/cookie", json: true})
	awExpect(t, "cookie config", r, http.StatusOK, "")
	var c struct {
		Name   string `json:"name"`
		Secure *bool  `json:"secure"`
	}
	awDecode(t, r, true, &c)
	if c.Name != "crowd.token_key" || c.Secure == nil {
		t.Errorf("cookie config %s", r.body)
	}
}

// A session belongs to the person who logged in: after a rename, a new
// account that takes the old name must not inherit it.
func TestSessionRenamedUser(t *testing.T) {
	e := newEnv(t)
	tok := awCreateSession(t, e, "", "carol", "carol-pw")
	r := e.do(t, call{method: "POST", path: "/user/rename?username=carol", body: `<rename><new-name>caroline</new-name></rename>`})
	awExpect(t, "rename", r, http.StatusOK, "")
	r = e.do(t, call{method: "POST", path: "/user", body: `<user name="carol"><first-name>Impostor</first-name><active>true</active><password><value>x</value></password></user>`})
	awExpect(t, "new carol", r, http.StatusCreated, "")
	r = e.do(t, call{path: "/session/" + tok})
	if r.status == http.StatusOK {
		t.Fatalf("the renamed user's session now logs in the new carol: %s", r.body)
	}
	awExpect(t, "old session", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
	// A change of case is the same name: the session stays.
	tok = awCreateSession(t, e, "", "caroline", "carol-pw")
	r = e.do(t, call{method: "POST", path: "/user/rename?username=caroline", body: `<rename><new-name>Caroline</new-name></rename>`})
	awExpect(t, "case-only rename", r, http.StatusOK, "")
	r = e.do(t, call{path: "/session/" + tok})
	awExpect(t, "session after a case-only rename", r, http.StatusOK, "")
	if s := awParseSession(t, r, false); s.user.Name != "Caroline" {
		t.Errorf("session user after a case-only rename: %q", s.user.Name)
	}
}

// Sessions a vanished user left behind (deleted at its upstream, so the
// API's delete never ran) do not log in a new user of that name.
func TestSessionLeftoverForNewUser(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	stale := cache.Session{Token: "StaleStaleStaleStale0001", Username: "Frank", Application: "jira", Created: now, LastUsed: now,
		Expires: now.Add(time.Hour), Idle: time.Hour}
	if err := e.store.PutSession(stale); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, call{method: "POST", path: "/user", body: awUserXML("frank", "Frank", "true", "pw")})
	awExpect(t, "create frank", r, http.StatusCreated, "")
	r = e.do(t, call{path: "/session/" + stale.Token})
	awExpect(t, "stale session", r, http.StatusNotFound, "INVALID_SSO_TOKEN")
}

// A session belongs to a user, not to a name: when the upstream replaces
// erin by another erin (deleted and re-created: a new external ID), or
// when a user of an earlier upstream takes the name over, the old session
// is invalid; the same user moved to another DN keeps it.
func TestSessionOwnerReplacedUpstream(t *testing.T) {
	e := newEnv(t)
	tok := awCreateSession(t, e, "", "erin", "erin-pw")
	sync := func(mutate func(u *upstream.User)) {
		t.Helper()
		recs := staffRecords()
		for i := range recs.Users {
			if recs.Users[i].Username == "erin" {
				mutate(&recs.Users[i])
			}
		}
		if _, err := e.store.ApplySync(context.Background(), "staff", recs, cache.SyncOptions{MaxDeletePercent: 100}); err != nil {
			t.Fatal(err)
		}
	}
	sync(func(u *upstream.User) { u.Key = "ue-moved" }) // same external ID, new DN
	awExpect(t, "session after a DN move", e.do(t, call{path: "/session/" + tok}), http.StatusOK, "")
	sync(func(u *upstream.User) { u.Key, u.ExternalID = "ue2", "ext-ue2" }) // another erin
	awExpect(t, "session of a replaced user", e.do(t, call{path: "/session/" + tok}), http.StatusNotFound, "INVALID_SSO_TOKEN")
	awExpect(t, "validate the replaced user's session", e.do(t, call{method: "POST", path: "/session/" + tok, body: "<validation-factors/>"}),
		http.StatusNotFound, "INVALID_SSO_TOKEN")
}
