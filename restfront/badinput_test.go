package restfront

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/cache"
)

// unchanged asserts that nothing in the directory moved: neither the
// store's version nor the change journal.
func unchanged(t *testing.T, store *cache.Store) func() {
	t.Helper()
	v, head := store.Version(), store.Head()
	return func() {
		t.Helper()
		if store.Version() != v || store.Head() != head {
			t.Fatalf("the directory changed: version %d → %d, journal %s → %s", v, store.Version(), head, store.Head())
		}
	}
}

// crowdError asserts a Crowd error body with status and reason, in the
// format asked for.
func crowdError(t *testing.T, r response, c call, status int, reason string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", c.method, c.path, r.status, status, r.body)
	}
	if c.json {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
		if !strings.HasPrefix(r.body, `{"reason":"`+reason+`","message":"`) {
			t.Fatalf("%s %s: body %s, want reason %s", c.method, c.path, r.body, reason)
		}
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/xml" {
		t.Fatalf("%s %s: Content-Type %q", c.method, c.path, ct)
	}
	if !strings.Contains(r.body, "<error><reason>"+reason+"</reason><message>") {
		t.Fatalf("%s %s: body %s, want reason %s", c.method, c.path, r.body, reason)
	}
}

func TestApplicationAccess(t *testing.T) {
	e := newEnv(t)
	defer unchanged(t, e.store)()
	challenge := func(c call) {
		t.Helper()
		r := e.do(t, c)
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != `BASIC realm="Crowd REST Service"` ||
			r.header.Get("Content-Type") != "text/plain;charset=UTF-8" || r.body != "Application failed to authenticate" {
			t.Fatalf("%s %q: %d %v %q", c.path, c.app, r.status, r.header, r.body)
		}
	}
	challenge(call{app: "-", path: "/user?username=alice"})
	challenge(call{app: "jira:wrong", path: "/user?username=alice"})
	challenge(call{app: "JIRA:jira-pw", path: "/user?username=alice"}) // names are case-sensitive
	challenge(call{app: "nobody:jira-pw", path: "/user?username=alice"})
	challenge(call{app: "jira", path: "/user?username=alice"}) // no colon
	challenge(call{app: "-", path: "/no/such/place", header: map[string]string{"Authorization": "Basic !!!notbase64"}})
	challenge(call{app: "-", path: "/no/such/place", header: map[string]string{"Authorization": "Bearer abc"}})
	// Unknown paths: 401 without credentials, 404 with (python-crowd's auth_ping).
	challenge(call{app: "jira:wrong", path: "/non-existent/location"})
	if r := e.do(t, call{path: "/non-existent/location"}); r.status != http.StatusNotFound {
		t.Fatalf("authenticated unknown path: %d", r.status)
	}

	forbidden := func(c call) {
		t.Helper()
		r := e.do(t, c)
		if r.status != http.StatusForbidden || r.header.Get("WWW-Authenticate") != "" || !strings.Contains(r.body, "forbidden") {
			t.Fatalf("%s %q %v: %d %q", c.path, c.app, c.header, r.status, r.body)
		}
	}
	// far is allowed from 10.0.0.0/8 only; a forged X-Forwarded-For from
	// an untrusted peer changes nothing (no proxy is trusted here).
	forbidden(call{app: "far:far-pw", path: "/user?username=alice"})
	forbidden(call{app: "far:far-pw", path: "/user?username=alice", header: map[string]string{"X-Forwarded-For": "10.1.2.3"}})
	// The address check comes before the password (Crowd's order): a
	// wrong password from a forbidden address is still 403.
	forbidden(call{app: "far:wrong", path: "/user?username=alice"})

	// The latest alias.
	req, _ := http.NewRequest("GET", "http://"+e.srv.Addr()+"/rest/usermanagement/latest/user?username=alice", nil)
	req.SetBasicAuth("jira", "jira-pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Embedded-Crowd-Version") != "Crowd/5.1.6" {
		t.Fatalf("latest: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestTrustedProxies(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TrustedProxies = []string{"127.0.0.1", "192.0.2.0/24"} })
	for _, tc := range []struct {
		app, xff string
		status   int
	}{
		{"far:far-pw", "10.1.2.3", http.StatusOK},                                           // the proxy vouches for 10.1.2.3
		{"far:far-pw", "10.1.2.3, 192.0.2.7", http.StatusOK},                                // through two trusted proxies
		{"far:far-pw", "10.1.2.3,198.51.100.1", http.StatusForbidden},                       // an untrusted hop: the peer counts
		{"far:far-pw", "10.1.2.3 junk", http.StatusForbidden},                               // malformed chain: not believed
		{"jira:jira-pw", "10.1.2.3", http.StatusForbidden},                                  // jira is allowed from 127.0.0.1 only
		{"jira:jira-pw", "", http.StatusOK},                                                 // no header: the peer
		{"far:far-pw", "[2001:db8::1]", http.StatusForbidden},                               // IPv6 never matches IPv4 patterns
		{"far:far-pw", strings.Repeat("10.0.0.1,", 100) + "10.0.0.1", http.StatusForbidden}, // 10.0.0.1 is not a trusted proxy
	} {
		c := call{app: tc.app, path: "/user?username=alice"}
		if tc.xff != "" {
			c.header = map[string]string{"X-Forwarded-For": tc.xff}
		}
		if r := e.do(t, c); r.status != tc.status {
			t.Errorf("%s XFF %q: %d, want %d: %s", tc.app, tc.xff, r.status, tc.status, r.body)
		}
	}
}

func TestAddressPatterns(t *testing.T) {
	pats, warnings := compilePatterns(context.Background(), []string{"192.168.*", "10.0.0.0/8", "2001:db8::/32", "::1", "localhost", "*", "300.1.1.1", "no-such-host.invalid"})
	if len(warnings) != 2 {
		t.Fatalf("warnings %q", warnings)
	}
	app := &application{allowed: pats[:5]} // without "*"
	for addr, want := range map[string]bool{
		"192.168.4.5": true, "192.169.0.1": false, "10.9.9.9": true, "11.0.0.1": false,
		"2001:db8:1::5": true, "2001:db9::1": false, "::1": true, "127.0.0.1": true, "172.16.0.1": false,
	} {
		if got := app.allows(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: allowed=%v", addr, got)
		}
	}
	star := &application{allowed: pats[5:6]}
	if !star.allows(netip.MustParseAddr("203.0.113.9")) || star.allows(netip.MustParseAddr("2001:db8::1")) {
		t.Error(`"*" must match every IPv4 address and no IPv6 one`)
	}
}

func TestContextPath(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ContextPath = "/crowd/" })
	for path, status := range map[string]int{
		"/crowd/rest/usermanagement/1/user?username=alice":      http.StatusOK,
		"/crowd/rest/usermanagement/latest/user?username=alice": http.StatusOK,
		"/rest/usermanagement/1/user?username=alice":            http.StatusNotFound,
	} {
		req, _ := http.NewRequest("GET", "http://"+e.srv.Addr()+path, nil)
		req.SetBasicAuth("jira", "jira-pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, status)
		}
	}
}

// TestBadInput: every malformed or impossible request gets its Crowd
// status and reason in the format asked for, and nothing changes.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	defer unchanged(t, e.store)()
	deep := strings.Repeat(`<boolean-search-restriction boolean-logic="and"><restrictions>`, 40) + "<null-search-restriction/>" +
		strings.Repeat("</restrictions></boolean-search-restriction>", 40)
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><password><value>&lol2;</value></password>`
	huge := "<password><value>" + strings.Repeat("x", 2<<20) + "</value></password>"
	cases := []struct {
		c      call
		status int
		reason string
	}{
		// Missing or unknown entities.
		{call{path: "/user"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/user?username=nobody"}, 404, "USER_NOT_FOUND"},
		{call{path: "/user?key=9:nothing"}, 404, "USER_NOT_FOUND"},
		{call{path: "/user?key=garbage"}, 404, "USER_NOT_FOUND"},
		{call{path: "/user/attribute?username=nobody"}, 404, "USER_NOT_FOUND"},
		{call{path: "/group?groupname=nope"}, 404, "GROUP_NOT_FOUND"},
		{call{path: "/group"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/user/group/direct?username=nobody"}, 404, "USER_NOT_FOUND"},
		{call{path: "/user/group/nested?username=nobody&groupname=devs"}, 404, "USER_NOT_FOUND"},
		{call{path: "/user/group/direct?username=alice&groupname=ops"}, 404, "MEMBERSHIP_NOT_FOUND"},
		{call{path: "/group/user/direct?groupname=nope"}, 404, "GROUP_NOT_FOUND"},
		{call{path: "/group/child-group/nested?groupname=nope"}, 404, "GROUP_NOT_FOUND"},
		{call{path: "/group/parent-group/direct?groupname=nope"}, 404, "GROUP_NOT_FOUND"},
		{call{path: "/session/nonexistenttoken00000000"}, 404, "INVALID_SSO_TOKEN"},
		// Search: entity types, restrictions, CQL, paging.
		{call{method: "POST", path: "/search?max-results=1", body: "<null-search-restriction/>"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=widget", body: "<null-search-restriction/>"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: "<property-search-restriction><property>"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: "<unknown-restriction/>"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: `<property-search-restriction><property><name>name</name><type>STRING</type></property><match-mode>SOUNDS_LIKE</match-mode><value>x</value></property-search-restriction>`}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: `<property-search-restriction><property><name>active</name><type>BOOLEAN</type></property><match-mode>EXACTLY_MATCHES</match-mode><value>maybe</value></property-search-restriction>`}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: `<property-search-restriction><property><name>createdDate</name><type>DATE</type></property><match-mode>LESS_THAN</match-mode><value>yesterday</value></property-search-restriction>`}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: deep}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: `<!DOCTYPE x [<!ENTITY a "b">]><null-search-restriction/>`}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: `{"restriction-type":"property-search-restriction"`, json: true}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: `{"restriction-type":"telepathy"}`, json: true}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/search?entity-type=user", body: `[1,2,3]`, json: true}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&restriction=name+!%3D+alice"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&restriction=name%3D", json: true}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&restriction=(name%3Dalice"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&restriction=name%3Dalice+and"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&restriction=" + strings.Repeat("(", 100) + "name%3Da" + strings.Repeat(")", 100)}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&restriction=active%3Dperhaps"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&max-results=abc"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&max-results=-2"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&max-results=99999999999999999999999"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/search?entity-type=user&start-index=-1"}, 400, "ILLEGAL_ARGUMENT"},
		{call{path: "/user/group/nested?username=alice&start-index=x"}, 400, "ILLEGAL_ARGUMENT"},
		// Authentication bodies.
		{call{method: "POST", path: "/authentication?username=alice", body: "<password><value>alice-pw"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/authentication?username=alice", body: `{"value":`, json: true}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/authentication?username=alice", body: laughs}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/authentication?username=alice", body: huge}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/authentication", body: "<password><value>x</value></password>"}, 400, "ILLEGAL_ARGUMENT"},
		// Writes with bad bodies change nothing.
		{call{method: "POST", path: "/user", body: "<user name=\"x\"><password><value>"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/user", body: `{"name":12}`, json: true}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/group", body: "<<<"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "PUT", path: "/user?username=carol", body: "not xml at all"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/user/group/direct?username=carol", body: "<group"}, 400, "ILLEGAL_ARGUMENT"},
		{call{method: "POST", path: "/user/attribute?username=carol", body: `{"attributes":{}}`, json: true}, 400, "ILLEGAL_ARGUMENT"},
		// Writes by an application without the permission.
		{call{app: "conf:conf-pw", method: "POST", path: "/user", body: `<user name="mallory"><active>true</active><password><value>pw</value></password></user>`}, 403, "APPLICATION_PERMISSION_DENIED"},
		{call{app: "conf:conf-pw", method: "DELETE", path: "/user?username=carol", json: true}, 403, "APPLICATION_PERMISSION_DENIED"},
		{call{app: "conf:conf-pw", method: "PUT", path: "/user/password?username=carol", body: `{"value":"x"}`, json: true}, 403, "APPLICATION_PERMISSION_DENIED"},
	}
	for _, tc := range cases {
		for _, asJSON := range []bool{tc.c.json, true} {
			c := tc.c
			if asJSON && !c.json {
				// Ask for JSON: the error comes back in JSON; the body keeps
				// its own format (T4).
				if c.body != "" && c.ctype == "" {
					c.ctype = "application/xml"
				}
			}
			c.json = asJSON
			r := e.do(t, c)
			crowdError(t, r, c, tc.status, tc.reason)
		}
	}

	// Huge max-results is just "all"; events from a bad token expire.
	if r := e.do(t, call{method: "POST", path: "/search?entity-type=user&max-results=2147483647", body: "<null-search-restriction/>"}); r.status != 200 || strings.Count(r.body, "<user ") != 4 {
		t.Fatalf("huge max-results: %d %s", r.status, r.body)
	}
	if r := e.do(t, call{path: "/event/not-a-token"}); r.status != http.StatusGone || !strings.Contains(r.body, "EVENT_TOKEN_EXPIRED") {
		t.Fatalf("bad event token: %d %s", r.status, r.body)
	}

	// A request whose body is cut off mid-way does not crash the server.
	req, _ := http.NewRequest("POST", e.base+"/authentication?username=alice", io.MultiReader(strings.NewReader("<password><val"), errReader{}))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("jira:jira-pw")))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if r := e.do(t, call{path: "/user?username=alice"}); r.status != 200 {
		t.Fatalf("after a broken request: %d", r.status)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
