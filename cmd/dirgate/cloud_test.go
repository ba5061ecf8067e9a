package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/restfront/admin"
	"github.com/dirgate/dirgate/upstream/access/accessfake"
	"github.com/dirgate/dirgate/upstream/jiracloud/jirafake"
)

// mergedEnv is an ldap upstream on a real slapd followed by a jiracloud
// upstream on the fake, linked by e-mail.
//
//	slapd:   alice (alice@example.com), bob, frank@example.com (mail
//	         frank@corp.example); devs {alice}, admins {bob}
//	Jira:    alice@example.com, carol@example.com (her own API token),
//	         frank@example.com; jira-software-users {all three},
//	         devs {carol}
type mergedEnv struct {
	srv  *slapdtest.Server
	jira *jirafake.Fake
	dir  string
}

func newMergedEnv(t *testing.T) *mergedEnv {
	t.Helper()
	srv := slapdtest.Start(t)
	srv.AddUser(t, "alice")
	srv.AddUser(t, "bob")
	srv.AddUser(t, "frank@example.com", slapdtest.A("mail", "frank@corp.example"))
	srv.AddGroup(t, "devs", srv.UserDN("alice"))
	srv.AddGroup(t, "admins", srv.UserDN("bob"))
	jira := jirafake.Start(t, jirafake.Dataset{
		Users: []jirafake.User{
			{AccountID: "acc-alice", Email: "alice@example.com", DisplayName: "Alice Cloud"},
			{AccountID: "acc-carol", Email: "carol@example.com", DisplayName: "Carol Cloud", APIToken: "carol-api-token"},
			{AccountID: "acc-frank", Email: "frank@example.com", DisplayName: "Frank Cloud"},
		},
		Groups: []jirafake.Group{
			{ID: "g-users", Name: "jira-software-users", Members: []string{"acc-alice", "acc-carol", "acc-frank"}},
			{ID: "g-devs", Name: "devs", Members: []string{"acc-carol"}},
		},
	}, jirafake.Options{})
	t.Setenv("DIRGATE_TEST_BIND_PASSWORD", srv.AdminPassword())
	t.Setenv("DIRGATE_TEST_JIRA_TOKEN", jira.ServiceToken())
	return &mergedEnv{srv: srv, jira: jira, dir: t.TempDir()}
}

// config writes the configuration with the jiracloud upstream's auth mode
// and returns its path.
func (e *mergedEnv) config(t *testing.T, auth string) string {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: ./data
base_dn: dc=example,dc=com
ldap:
  listen: 127.0.0.1:0
  service_accounts:
    - name: reader
      password_hash: "$argon2id$v=19$m=19456,t=2,p=1$QFf/L0fkNVGMo5N4uiSWFg$YNvL2FxAH1lJqbzWyZL2Ms+k2WyoiUk0PhAkRjJhUWw"
rest:
  listen: 127.0.0.1:0
  applications:
    - name: jira
      password_hash: "$argon2id$v=19$m=19456,t=2,p=1$fwqVA79kHbOuYPFJhv7E5w$OES8TLtZ0+wbzqMtsqBUBc2cQ9uWmsj1wsWxiZ1V72U"
      remote_addresses: [127.0.0.1]
    - name: legacy
      password_hash: "$argon2id$v=19$m=19456,t=2,p=1$fwqVA79kHbOuYPFJhv7E5w$OES8TLtZ0+wbzqMtsqBUBc2cQ9uWmsj1wsWxiZ1V72U"
      remote_addresses: [127.0.0.1]
      aggregate_memberships: false
upstreams:
  - name: staff
    type: ldap
    urls: [%s]
    bind_dn: %s
    bind_password: ${DIRGATE_TEST_BIND_PASSWORD}
    user_base: %s
    group_base: %s
    timeout: 5s
  - name: cloud
    type: jiracloud
    url: %s
    email: %s
    api_token: ${DIRGATE_TEST_JIRA_TOKEN}
    link_by: email
    auth: %s
`, e.srv.URL(), e.srv.AdminDN(), e.srv.PeopleDN(), e.srv.GroupsDN(), e.jira.URL(), e.jira.ServiceEmail(), auth)
	if auth == "local" {
		// The passwords of cloud users, kept by dirgate; after the cloud
		// upstream, so that Jira's record stays the one served.
		cfg += "  - name: keep\n    type: local\n    seed_file: keep.yaml\n"
		seed := "users:\n  - username: carol@example.com\n    email: carol@example.com\n    password: carol-local-password\n"
		if err := os.WriteFile(filepath.Join(e.dir, "keep.yaml"), []byte(seed), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(e.dir, "dirgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// restClient asks the Crowd REST frontend as one application, in JSON.
type restClient struct {
	addr, app string
}

func (c restClient) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, "http://"+c.addr+"/rest/usermanagement/1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(c.app, "jira-password")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if b, _ := io.ReadAll(resp.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, out
}

// names lists the "name" of each entry of out[key].
func names(out map[string]any, key string) []string {
	var l []string
	list, _ := out[key].([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			l = append(l, fmt.Sprint(m["name"]))
		}
	}
	slices.Sort(l)
	return l
}

func (c restClient) groupsOf(t *testing.T, user string) []string {
	t.Helper()
	code, out := c.do(t, "GET", "/user/group/direct?username="+url.QueryEscape(user), nil)
	if code != 200 {
		t.Fatalf("groups of %s as %s: %d %v", user, c.app, code, out)
	}
	return names(out, "groups")
}

func (c restClient) login(t *testing.T, user, password string) (int, map[string]any) {
	t.Helper()
	return c.do(t, "POST", "/authentication?username="+url.QueryEscape(user), map[string]string{"value": password})
}

// allConnected waits until every upstream of serve's status is connected.
func allConnected(t *testing.T, cfg string) {
	t.Helper()
	waitStatus(t, cfg, func(admin.UpstreamStatus) bool {
		var st admin.Status
		if err := json.Unmarshal([]byte(mustCLI(t, "status", "--json", "--config", cfg)), &st); err != nil {
			t.Fatal(err)
		}
		for _, u := range st.Upstreams {
			if u.State != cache.StateConnected || u.LastSuccess.IsZero() {
				return false
			}
		}
		return len(st.Upstreams) == 2
	})
}

// TestMergedViewLDAPAndJiraCloud: an ldap upstream (real slapd) before a
// jiracloud upstream (the fake) with link_by: email, as both frontends
// and the CLI show it — directory order, aggregated memberships, linking
// — and how logins of cloud users behave with auth: none and api_token.
func TestMergedViewLDAPAndJiraCloud(t *testing.T) {
	e := newMergedEnv(t)
	cfg := e.config(t, "none")

	out := mustCLI(t, "sync", "--config", cfg)
	if !strings.Contains(out, "staff") || !strings.Contains(out, "cloud") {
		t.Fatalf("sync output:\n%s", out)
	}
	userDetail := func(name string) admin.UserDetail {
		t.Helper()
		var d admin.UserDetail
		if err := json.Unmarshal([]byte(mustCLI(t, "cache", "user", name, "--json", "--config", cfg)), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Linking: Jira's alice@example.com is LDAP's alice, served from LDAP.
	if a := userDetail("alice"); a.Upstream != "staff" || a.DisplayName != "User alice" || !slices.Contains(a.Shadowed, "cloud") {
		t.Errorf("alice: %+v", a)
	}
	if code, _, _ := runCLI(t, "", "cache", "user", "alice@example.com", "--config", cfg); code == 0 {
		t.Error("the linked Jira account is also served under its own name")
	}
	// Order: frank@example.com is a username in both; LDAP comes first.
	if f := userDetail("frank@example.com"); f.Upstream != "staff" || f.Email != "frank@corp.example" {
		t.Errorf("frank: %+v", f)
	}
	if c := userDetail("carol@example.com"); c.Upstream != "cloud" || c.DisplayName != "Carol Cloud" {
		t.Errorf("carol: %+v", c)
	}

	s := startServe(t, cfg)
	allConnected(t, cfg)
	jira := restClient{addr: s.restAddr(t), app: "jira"}
	legacy := restClient{addr: jira.addr, app: "legacy"}

	// Aggregation (the default) unions the memberships of every upstream
	// where the username exists; legacy counts the winning upstream only.
	for _, tc := range []struct {
		user        string
		agg, winner []string
	}{
		{"alice", []string{"devs", "jira-software-users"}, []string{"devs"}},
		{"frank@example.com", []string{"jira-software-users"}, nil},
		{"carol@example.com", []string{"devs", "jira-software-users"}, []string{"devs", "jira-software-users"}},
		{"bob", []string{"admins"}, []string{"admins"}},
	} {
		if got := jira.groupsOf(t, tc.user); !slices.Equal(got, tc.agg) {
			t.Errorf("groups of %s (aggregated) = %q, want %q", tc.user, got, tc.agg)
		}
		if got := legacy.groupsOf(t, tc.user); !slices.Equal(got, tc.winner) {
			t.Errorf("groups of %s (winning upstream) = %q, want %q", tc.user, got, tc.winner)
		}
	}
	// devs is one group, merged from both upstreams.
	code, body := jira.do(t, "GET", "/group/user/direct?groupname=devs", nil)
	if got := names(body, "users"); code != 200 || !slices.Equal(got, []string{"alice", "carol@example.com"}) {
		t.Errorf("devs members: %d %q", code, got)
	}
	code, body = jira.do(t, "GET", "/user?username=alice", nil)
	if code != 200 || body["display-name"] != "User alice" || body["email"] != "alice@example.com" {
		t.Errorf("alice over REST: %d %v", code, body)
	}
	if code, _ := jira.do(t, "GET", "/user?username=alice@example.com", nil); code != 404 {
		t.Errorf("the linked account by its Jira name: %d, want 404", code)
	}

	// The LDAP frontend agrees: alice's memberOf spans both upstreams.
	conn, err := goldap.DialURL("ldap://" + s.ldapAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind("cn=reader,ou=services,dc=example,dc=com", "reader-password"); err != nil {
		t.Fatal(err)
	}
	res, err := conn.Search(goldap.NewSearchRequest("dc=example,dc=com", goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(uid=alice)", []string{"memberOf", "displayName"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search alice: %v %+v", err, res)
	}
	memberOf := res.Entries[0].GetAttributeValues("memberOf")
	slices.Sort(memberOf)
	if want := []string{"cn=devs,ou=groups,dc=example,dc=com", "cn=jira-software-users,ou=groups,dc=example,dc=com"}; !slices.Equal(memberOf, want) {
		t.Errorf("alice's memberOf = %q, want %q", memberOf, want)
	}

	// Logins: alice is checked at LDAP (her upstream), a wrong password
	// does not fall through to Jira; carol cannot log in with auth: none,
	// and the answer says why.
	if code, body := jira.login(t, "alice", slapdtest.UserPassword("alice")); code != 200 || body["name"] != "alice" {
		t.Errorf("alice's LDAP password: %d %v", code, body)
	}
	if code, body := jira.login(t, "alice", "carol-api-token"); code != 400 || body["reason"] != "INVALID_USER_AUTHENTICATION" {
		t.Errorf("alice, wrong password: %d %v", code, body)
	}
	code, body = jira.login(t, "carol@example.com", "carol-api-token")
	if msg := fmt.Sprint(body["message"]); code != 400 || body["reason"] != "INVALID_USER_AUTHENTICATION" ||
		!strings.Contains(msg, "cloud") || !strings.Contains(msg, "auth: none") {
		t.Errorf("carol with auth: none: %d %v", code, body)
	}
	if err := conn.Bind("carol@example.com", "carol-api-token"); !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) ||
		!strings.Contains(err.Error(), "password logins are not available") {
		t.Errorf("LDAP bind of carol with auth: none: %v", err)
	}
	s.stop(t)

	// auth: api_token: carol's own Atlassian API token is her password,
	// checked against /myself; alice still logs in at LDAP.
	cfg = e.config(t, "api_token")
	s = startServe(t, cfg)
	allConnected(t, cfg)
	jira = restClient{addr: s.restAddr(t), app: "jira"}
	before := e.jira.Requests(jirafake.Myself)
	if code, body := jira.login(t, "carol@example.com", "carol-api-token"); code != 200 || body["name"] != "carol@example.com" {
		t.Errorf("carol's API token: %d %v", code, body)
	}
	if e.jira.Requests(jirafake.Myself) == before {
		t.Error("the token was not checked against /myself")
	}
	if code, body := jira.login(t, "carol@example.com", "not-her-token"); code != 400 || body["reason"] != "INVALID_USER_AUTHENTICATION" {
		t.Errorf("carol, wrong token: %d %v", code, body)
	}
	if code, _ := jira.login(t, "alice", slapdtest.UserPassword("alice")); code != 200 {
		t.Errorf("alice after the switch: %d", code)
	}
	conn2, err := goldap.DialURL("ldap://" + s.ldapAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if err := conn2.Bind("carol@example.com", "carol-api-token"); err != nil {
		t.Errorf("LDAP bind of carol with her API token: %v", err)
	}
	s.stop(t)

	// auth: local: carol's password is the one the local upstream keeps
	// for her name; her record and groups are still Jira's.
	cfg = e.config(t, "local")
	s = startServe(t, cfg)
	waitStatus(t, cfg, func(admin.UpstreamStatus) bool {
		var st admin.Status
		if err := json.Unmarshal([]byte(mustCLI(t, "status", "--json", "--config", cfg)), &st); err != nil {
			t.Fatal(err)
		}
		return len(st.Upstreams) == 3 && !slices.ContainsFunc(st.Upstreams, func(u admin.UpstreamStatus) bool { return u.LastSuccess.IsZero() })
	})
	jira = restClient{addr: s.restAddr(t), app: "jira"}
	if code, body := jira.login(t, "carol@example.com", "carol-local-password"); code != 200 || body["display-name"] != "Carol Cloud" {
		t.Errorf("carol's local password: %d %v", code, body)
	}
	if code, _ := jira.login(t, "carol@example.com", "carol-api-token"); code != 400 {
		t.Errorf("carol's API token with auth: local: %d, want 400", code)
	}
	if code, body := jira.login(t, "alice", slapdtest.UserPassword("alice")); code != 200 || body["name"] != "alice" {
		t.Errorf("alice with auth: local on the cloud upstream: %d %v", code, body)
	}
	if got := jira.groupsOf(t, "carol@example.com"); !slices.Equal(got, []string{"devs", "jira-software-users"}) {
		t.Errorf("carol's groups with auth: local: %q", got)
	}
	s.stop(t)
}

// TestCloudStatus: `dirgate status` for a jiracloud and an access
// upstream, as the seeds' "External Sources" page shows them: type,
// state, counts, last success and next run, the credential's expiry with a
// warning from 14 days before, and an expired credential as an error that
// keeps the last good data.
func TestCloudStatus(t *testing.T) {
	jira := jirafake.Start(t, jirafake.Dataset{
		Users:  []jirafake.User{{AccountID: "acc-carol", Email: "carol@example.com", DisplayName: "Carol Cloud"}},
		Groups: []jirafake.Group{{ID: "g-users", Name: "jira-software-users", Members: []string{"acc-carol"}}},
	}, jirafake.Options{})
	org := accessfake.New(accessfake.Options{Data: accessfake.Small()})
	t.Cleanup(org.Close)
	t.Setenv("DIRGATE_TEST_JIRA_TOKEN", jira.ServiceToken())
	t.Setenv("DIRGATE_TEST_ORG_KEY", org.APIKey)
	dir := t.TempDir()
	day := func(days int) string { return time.Now().UTC().AddDate(0, 0, days).Format("2006-01-02") }
	write := func(jiraExpires, orgExpires string) string {
		cfg := fmt.Sprintf(`data_dir: ./data
base_dn: dc=example,dc=com
ldap: {listen: ""}
rest: {listen: ""}
upstreams:
  - name: jira
    type: jiracloud
    url: %s
    email: %s
    api_token: ${DIRGATE_TEST_JIRA_TOKEN}
    api_token_expires: %s
  - name: org
    type: access
    base_url: %s
    org_id: %s
    api_key: ${DIRGATE_TEST_ORG_KEY}
    api_key_expires: %s
`, jira.URL(), jira.ServiceEmail(), jiraExpires, org.URL, org.OrgID, orgExpires)
		path := filepath.Join(dir, "dirgate.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	status := func(cfg string) map[string]admin.UpstreamStatus {
		t.Helper()
		var st admin.Status
		if err := json.Unmarshal([]byte(mustCLI(t, "status", "--json", "--config", cfg)), &st); err != nil {
			t.Fatal(err)
		}
		m := map[string]admin.UpstreamStatus{}
		for _, u := range st.Upstreams {
			m[u.Upstream] = u
		}
		return m
	}

	// Far from expiry: connected, no warning; the expiry is shown.
	cfg := write(day(200), day(100))
	mustCLI(t, "sync", "--config", cfg)
	st := status(cfg)
	for name, want := range map[string]struct {
		typ           string
		users, groups int
		expires       string
	}{"jira": {"jiracloud", 1, 1, day(200)}, "org": {"access", 3, 4, day(100)}} {
		s := st[name]
		if s.Type != want.typ || s.State != cache.StateConnected || s.Users != want.users || s.Groups != want.groups ||
			s.LastSuccess.IsZero() || s.NextRun.IsZero() || len(s.Warnings) != 0 {
			t.Errorf("%s: %+v", name, s)
		}
		if got := s.CredentialExpires.UTC().Format("2006-01-02"); got != want.expires {
			t.Errorf("%s: credential_expires %s, want %s", name, got, want.expires)
		}
	}
	table := mustCLI(t, "status", "--config", cfg)
	for _, want := range []string{"jiracloud", "access", "connected", "credential:"} {
		if !strings.Contains(table, want) {
			t.Errorf("status table lacks %q:\n%s", want, table)
		}
	}

	// Within 14 days: still connected, with a warning that says what to do.
	cfg = write(day(5), day(3))
	mustCLI(t, "sync", "--config", cfg)
	st = status(cfg)
	if s := st["jira"]; s.State != cache.StateConnected || !slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, "expires") }) {
		t.Errorf("jira, token expiring: %+v", s)
	}
	if s := st["org"]; s.State != cache.StateConnected || !slices.ContainsFunc(s.Warnings, func(w string) bool {
		return strings.Contains(w, "the API key expires on "+day(3))
	}) {
		t.Errorf("org, key expiring: %+v", s)
	}
	if table := mustCLI(t, "status", "--config", cfg); !strings.Contains(table, "warning:") {
		t.Errorf("status table lacks the warnings:\n%s", table)
	}

	t.Logf("status:\n%s", mustCLI(t, "status", "--config", cfg))
	// Expired: an error state naming the date, the last good data served.
	cfg = write(day(-1), day(-1))
	if code, _, _ := runCLI(t, "", "sync", "--config", cfg); code != 1 {
		t.Errorf("sync with expired credentials: exit %d, want 1", code)
	}
	st = status(cfg)
	for name, want := range map[string]string{"jira": "expired on " + day(-1), "org": "the API key expired on " + day(-1)} {
		if s := st[name]; s.State != cache.StateError || !strings.Contains(s.LastError, want) || s.LastSuccess.IsZero() || s.Users == 0 {
			t.Errorf("%s, expired: %+v", name, s)
		}
	}
	if n := userCount(t, cfg); n != 4 {
		t.Errorf("after the failed syncs the cache serves %d users, want the last good 4", n)
	}
	t.Logf("status:\n%s", mustCLI(t, "status", "--config", cfg))
	if table := mustCLI(t, "status", "--config", cfg); !strings.Contains(table, "error:") || !strings.Contains(table, "the last good sync's") {
		t.Errorf("status table:\n%s", table)
	}
}
