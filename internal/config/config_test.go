package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream/access"
	"github.com/dirgate/dirgate/upstream/jiracloud"
	ldapup "github.com/dirgate/dirgate/upstream/ldap"
	"github.com/dirgate/dirgate/upstream/local"
)

// testHash is a real argon2id hash, made once: each costs 19 MiB and some
// tens of milliseconds.
var testHash = sync.OnceValue(func() string {
	h, err := secret.Hash("correct horse battery staple")
	if err != nil {
		panic(err)
	}
	return h
})

// withHash puts the test hash wherever the YAML says HASH.
func withHash(yaml string) string { return strings.ReplaceAll(yaml, "HASH", testHash()) }

// env returns a lookup function over m.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// parse parses yaml as the file dir/dirgate.yaml.
func parse(t *testing.T, dir, yaml string, vars map[string]string) (*Config, error) {
	t.Helper()
	return Parse([]byte(yaml), filepath.Join(dir, "dirgate.yaml"), env(vars))
}

func mustParse(t *testing.T, dir, yaml string, vars map[string]string) *Config {
	t.Helper()
	c, err := parse(t, dir, yaml, vars)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// problems parses yaml, which must be invalid, and returns its problems.
func problems(t *testing.T, dir, yaml string, vars map[string]string) []Problem {
	t.Helper()
	c, err := parse(t, dir, yaml, vars)
	if err == nil {
		t.Fatalf("Parse succeeded, want an error; config: %+v", c)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(err, ErrInvalid) = false for %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is %T, want *Error", err)
	}
	if c != nil {
		t.Errorf("Parse returned a config with its error")
	}
	return e.Problems
}

// fullExample mirrors the example of ARCHITECTURE.md.
const fullExample = `
data_dir: ./dirgate-data            # Badger store, generated certs, admin socket
base_dn: dc=example,dc=com
log: { level: debug, format: json }
ldap:
  listen: 127.0.0.1:3389            # plain LDAP with StartTLS; "" disables
  ldaps_listen: ""                  # LDAPS, e.g. 127.0.0.1:6636
  tls: { cert_file: "", key_file: "" }   # empty: a self-signed pair is made under data_dir/certs
  allow_anonymous_search: false
  memberof: transitive              # or direct
  service_accounts:                 # identities that may bind to search
    - name: reader                  # binds as cn=reader,ou=services,<base_dn>
      password_hash: "HASH"
rest:
  listen: 127.0.0.1:8095            # Crowd's usual port; "" disables
  tls: { cert_file: "", key_file: "" }   # optional HTTPS
  trusted_proxies: []
  applications:
    - name: jira
      password_hash: "HASH"
      remote_addresses: [127.0.0.1, 10.0.0.0/8]   # IPs, CIDRs; empty: nobody
      allowed_groups: []            # empty: every user may authenticate
      aggregate_memberships: true
      lowercase_output: false
      permissions: [read]           # add "write" to allow user/group changes in the local upstream
upstreams:                          # ORDER MATTERS: earlier wins
  - name: staff
    type: ldap
    urls: [ldap://127.0.0.1:3890]   # several: failover in order
    start_tls: false
    bind_dn: cn=admin,dc=example,dc=com
    bind_password: ${STAFF_LDAP_PASSWORD}   # ${VAR} is read from the environment
    user_base: ou=people,dc=example,dc=com
    user_filter: (objectClass=inetOrgPerson)
    group_base: ou=groups,dc=example,dc=com
    group_filter: (objectClass=groupOfNames)
    attributes: { username: uid, email: mail, first_name: givenName, last_name: sn,
                  display_name: displayName, member: member }
    page_size: 500
    refresh: { interval: 10m, full_every: 24h }
    max_delete_percent: 20
  - name: internal
    type: local                     # dirgate's own writable directory, stored in the cache
    seed_file: examples/users.yaml  # optional: loaded on first start only
  - name: cloud
    type: jiracloud
    url: https://example.atlassian.net
    email: admin@example.com
    api_token: ${JIRA_API_TOKEN}
  - name: org
    type: access
    base_url: https://api.atlassian.com    # overridable for tests
    org_id: 1a2b3c
    api_key: ${ATLASSIAN_ADMIN_KEY}
    api_key_expires: 2027-06-30     # status warns 14 days before
`

// minimal is the smallest valid configuration.
const minimal = `
base_dn: dc=example,dc=com
upstreams:
  - name: internal
    type: local
`

func TestParseFullExample(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, dir, withHash(fullExample), map[string]string{"STAFF_LDAP_PASSWORD": "s3cret",
		"JIRA_API_TOKEN": "jira-token", "ATLASSIAN_ADMIN_KEY": "org-key"})
	defaultRefresh := Refresh{Interval: DefaultRefreshInterval, FullEvery: DefaultRefreshFullEvery}
	jira := jiracloud.Config{URL: "https://example.atlassian.net", Email: "admin@example.com", APIToken: "jira-token"}.WithDefaults()
	org := access.Config{BaseURL: "https://api.atlassian.com", OrgID: "1a2b3c", APIKey: "org-key", APIKeyExpires: "2027-06-30"}.WithDefaults()

	want := &Config{
		DataDir: filepath.Join(dir, "dirgate-data"),
		BaseDN:  "dc=example,dc=com",
		Log:     Log{Level: "debug", Format: "json"},
		LDAP: LDAP{
			Listen:          ptr("127.0.0.1:3389"),
			MemberOf:        "transitive",
			ServiceAccounts: []ServiceAccount{{Name: "reader", PasswordHash: secret.String(testHash())}},
		},
		REST: REST{
			Listen:         ptr("127.0.0.1:8095"),
			TrustedProxies: []string{},
			Applications: []Application{{
				Name:                 "jira",
				PasswordHash:         secret.String(testHash()),
				RemoteAddresses:      []string{"127.0.0.1", "10.0.0.0/8"},
				AllowedGroups:        []string{},
				AggregateMemberships: ptr(true),
				Permissions:          []string{"read"},
			}},
			SessionTimeout: DefaultSessionTimeout,
			Cookie:         Cookie{Name: DefaultCookieName},
		},
		Upstreams: []Upstream{
			{
				Name:             "staff",
				Type:             "ldap",
				Refresh:          Refresh{Interval: 10 * time.Minute, FullEvery: 24 * time.Hour},
				MaxDeletePercent: ptr(20),
				LDAP: &ldapup.Config{
					URLs:         []string{"ldap://127.0.0.1:3890"},
					BindDN:       "cn=admin,dc=example,dc=com",
					BindPassword: "s3cret",
					UserBase:     "ou=people,dc=example,dc=com",
					UserFilter:   "(objectClass=inetOrgPerson)",
					GroupBase:    "ou=groups,dc=example,dc=com",
					GroupFilter:  "(objectClass=groupOfNames)",
					Attributes: ldapup.Attributes{
						Username: "uid", Email: "mail", FirstName: "givenName", LastName: "sn",
						DisplayName: "displayName", Member: "member",
						// Defaults of the ldap package:
						ExternalID: "entryUUID", GroupName: "cn", Description: "description",
					},
					PageSize:        500,
					Timeout:         ldapup.DefaultTimeout,
					Incremental:     ldapup.IncrementalModifyTimestamp,
					BindConnections: ldapup.DefaultBindConnections,
				},
			},
			{
				Name:             "internal",
				Type:             "local",
				Refresh:          Refresh{Interval: DefaultRefreshInterval, FullEvery: DefaultRefreshFullEvery},
				MaxDeletePercent: ptr(DefaultMaxDeletePercent),
				Local:            &local.Config{SeedFile: filepath.Join(dir, "examples", "users.yaml")},
			},
			{Name: "cloud", Type: "jiracloud", Refresh: defaultRefresh, MaxDeletePercent: ptr(DefaultMaxDeletePercent), JiraCloud: &jira},
			{Name: "org", Type: "access", Refresh: defaultRefresh, MaxDeletePercent: ptr(DefaultMaxDeletePercent), Access: &org},
		},
		Path: filepath.Join(dir, "dirgate.yaml"),
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse:\n got %s\nwant %s", dump(c), dump(want))
	}
	if got := c.UpstreamNames(); !slices.Equal(got, []string{"staff", "internal", "cloud", "org"}) {
		t.Errorf("UpstreamNames = %q", got)
	}
}

// dump prints a Config with its pointers followed (secrets stay redacted).
func dump(c *Config) string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(fmt.Sprintf("%+v", *c), "0x", "&"))
	for _, s := range []*string{c.LDAP.Listen, c.REST.Listen} {
		if s != nil {
			b.WriteString(fmt.Sprintf(" listen=%q", *s))
		}
	}
	for _, u := range c.Upstreams {
		if u.LDAP != nil {
			b.WriteString(fmt.Sprintf("\n  ldap %s: %+v", u.Name, *u.LDAP))
		}
		if u.Local != nil {
			b.WriteString(fmt.Sprintf("\n  local %s: %+v", u.Name, *u.Local))
		}
		if u.MaxDeletePercent != nil {
			b.WriteString(fmt.Sprintf(" max_delete=%d", *u.MaxDeletePercent))
		}
	}
	return b.String()
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, dir, withHash(minimal+`
rest:
  applications:
    - name: confluence
      password_hash: "HASH"
ldap:
  listen: ""       # explicitly disabled: stays empty
`), nil)

	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir", c.DataDir, filepath.Join(dir, "dirgate-data")},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"ldap.listen", *c.LDAP.Listen, ""},
		{"ldap.memberof", c.LDAP.MemberOf, "transitive"},
		{"rest.listen", *c.REST.Listen, DefaultRESTListen},
		{"aggregate_memberships", *c.REST.Applications[0].AggregateMemberships, true},
		{"permissions", c.REST.Applications[0].Permissions, []string{"read"}},
		{"refresh.interval", c.Upstreams[0].Refresh.Interval, DefaultRefreshInterval},
		{"refresh.full_every", c.Upstreams[0].Refresh.FullEvery, DefaultRefreshFullEvery},
		{"max_delete_percent", *c.Upstreams[0].MaxDeletePercent, DefaultMaxDeletePercent},
		{"local", c.Upstreams[0].Local, &local.Config{}},
		{"ldap config", c.Upstreams[0].LDAP, (*ldapup.Config)(nil)},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}

	// With nothing said about the LDAP listener, it gets the default; an
	// explicit false is kept.
	c = mustParse(t, dir, withHash(minimal+`
rest:
  applications:
    - name: confluence
      password_hash: "HASH"
      aggregate_memberships: false
      permissions: [read, write]
`), nil)
	if *c.LDAP.Listen != DefaultLDAPListen {
		t.Errorf("ldap.listen = %q, want the default", *c.LDAP.Listen)
	}
	if a := c.REST.Applications[0]; *a.AggregateMemberships || !slices.Equal(a.Permissions, []string{"read", "write"}) {
		t.Errorf("application = %+v, explicit settings lost", a)
	}
}

func TestEnvExpansion(t *testing.T) {
	vars := map[string]string{
		"BASE": "dc=example,dc=com", "USER": "admin", "PW": "p$w{d}", "PAGE": "250",
		"TLS": "true", "EVERY": "48h", "DOLLAR": "${BASE}",
	}
	dir := t.TempDir()
	c := mustParse(t, dir, `
base_dn: ${BASE}
upstreams:
  - name: staff
    type: ldap
    urls: ["ldap://${USER}.example.com:389"]
    start_tls: ${TLS}
    bind_dn: cn=${USER},${BASE}
    bind_password: ${PW}
    user_base: ou=people,${BASE}
    group_base: ou=groups,${BASE}
    user_filter: "(description=$${literal})"
    group_filter: "(description=${DOLLAR})"
    page_size: ${PAGE}
    refresh: { full_every: "${EVERY}" }
`, vars)
	l := c.Upstreams[0].LDAP
	checks := []struct {
		name      string
		got, want any
	}{
		{"base_dn", c.BaseDN, "dc=example,dc=com"},
		{"urls", l.URLs, []string{"ldap://admin.example.com:389"}},
		{"start_tls", l.StartTLS, true},
		{"bind_dn (two variables)", l.BindDN, "cn=admin,dc=example,dc=com"},
		{"bind_password", l.BindPassword.Reveal(), "p$w{d}"},
		{"user_filter ($${ is a literal)", l.UserFilter, "(description=${literal})"},
		{"group_filter (values are not expanded again)", l.GroupFilter, "(description=${BASE})"},
		{"page_size", l.PageSize, 250},
		{"full_every", c.Upstreams[0].Refresh.FullEvery, 48 * time.Hour},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestEnvExpansionErrors(t *testing.T) {
	const secretValue = "hunter2-do-not-print"
	vars := map[string]string{"SECRET": secretValue, "BASE": "dc=example,dc=com"}
	tests := []struct {
		name, yaml string
		want       []string // "path: message fragment", each exactly once
	}{
		{
			name: "unset variable",
			yaml: `
base_dn: ${BASE}
upstreams:
  - name: staff
    type: ldap
    urls: [ldap://a]
    bind_dn: cn=x,${BASE}
    bind_password: ${STAFF_PW}
    user_base: ${BASE}
    group_base: ${BASE}
`,
			// bind_password is not also "required with bind_dn".
			want: []string{"upstreams[0].bind_password: environment variable STAFF_PW is not set"},
		},
		{
			name: "unset variable in a list and in a number",
			yaml: minimal + `
rest:
  trusted_proxies: [10.0.0.1, "${PROXY}"]
ldap:
  allow_anonymous_search: ${ANON}
`,
			want: []string{
				"rest.trusted_proxies[1]: environment variable PROXY is not set",
				"ldap.allow_anonymous_search: environment variable ANON is not set",
			},
		},
		{
			name: "unterminated and invalid names",
			yaml: minimal + `
ldap:
  memberof: ${BROKEN
  ldaps_listen: ${1X}
`,
			want: []string{"ldap.memberof: unterminated", "ldap.ldaps_listen: invalid environment variable name"},
		},
		{
			name: "secret values stay out of messages",
			yaml: `
base_dn: ${BASE}
ldap:
  memberof: ${SECRET}
  listen: ${SECRET}
  service_accounts:
    - name: reader
      password_hash: ${SECRET}
upstreams:
  - name: staff
    type: ldap
    urls: [ldap://a]
    user_base: ${BASE}
    group_base: ${BASE}
    page_size: ${SECRET}
    start_tls: ${SECRET}
    timeout: ${SECRET}
    bind_password: ${MISSING}
    bind_dn: ${SECRET}
`,
			want: []string{
				"ldap.memberof: must be transitive or direct",
				"ldap.listen: not a host:port address",
				"ldap.service_accounts[0].password_hash: not a valid argon2id hash",
				"upstreams[0].page_size: expected an integer",
				"upstreams[0].start_tls: expected true or false",
				"upstreams[0].timeout: expected a duration",
				"upstreams[0].bind_password: environment variable MISSING is not set",
				"upstreams[0].bind_dn: not a valid DN",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problems(t, t.TempDir(), tt.yaml, vars)
			assertProblems(t, ps, tt.want, true)
			c, err := parse(t, t.TempDir(), tt.yaml, vars)
			if c != nil || strings.Contains(err.Error(), secretValue) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("a secret leaked into the error:\n%v", err)
			}
		})
	}
}

// assertProblems checks that each of want ("path: message fragment")
// matches exactly one problem; with exact, that no other problem exists.
func assertProblems(t *testing.T, ps []Problem, want []string, exact bool) {
	t.Helper()
	matched := make([]bool, len(ps))
	for _, w := range want {
		path, frag, _ := strings.Cut(w, ": ")
		n := 0
		for i, p := range ps {
			if p.Path == path && strings.Contains(p.Message, frag) {
				n++
				matched[i] = true
			}
		}
		if n != 1 {
			t.Errorf("%d problems match %q, want 1", n, w)
		}
	}
	if exact {
		for i, p := range ps {
			if !matched[i] {
				t.Errorf("unexpected problem: %s", p)
			}
		}
	}
	if t.Failed() {
		t.Logf("problems:\n%s", (&Error{Problems: ps}).Error())
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "secrets", "bind"), "from a file\n\n")
	mustWrite(t, filepath.Join(dir, "secrets", "reader.hash"), withHash("HASH\n"))
	abs := filepath.Join(t.TempDir(), "app.hash")
	mustWrite(t, abs, withHash("HASH \r\n\t\n"))

	c := mustParse(t, dir, withHash(`
base_dn: dc=example,dc=com
ldap:
  service_accounts:
    - name: reader
      password_hash_file: secrets/reader.hash
rest:
  applications:
    - name: jira
      password_hash_file: `+abs+`
upstreams:
  - name: staff
    type: ldap
    urls: [ldap://a]
    bind_dn: cn=admin,dc=example,dc=com
    bind_password_file: ${SECRETS}/bind
    user_base: ou=people,dc=example,dc=com
    group_base: ou=groups,dc=example,dc=com
`), map[string]string{"SECRETS": "secrets"})
	if got := c.Upstreams[0].LDAP.BindPassword.Reveal(); got != "from a file" {
		t.Errorf("bind_password = %q", got)
	}
	if got := c.LDAP.ServiceAccounts[0].PasswordHash.Reveal(); got != testHash() {
		t.Errorf("service account hash = %q", got)
	}
	if got := c.REST.Applications[0].PasswordHash.Reveal(); got != testHash() {
		t.Errorf("application hash = %q", got)
	}
}

func TestSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	const content = "the-secret-content"
	mustWrite(t, filepath.Join(dir, "pw"), content)
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	upstream := func(extra string) string {
		return `
base_dn: dc=example,dc=com
upstreams:
  - name: staff
    type: ldap
    urls: [ldap://a]
    bind_dn: cn=admin,dc=example,dc=com
    user_base: ou=people,dc=example,dc=com
    group_base: ou=groups,dc=example,dc=com
` + extra
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "both set",
			yaml: upstream("    bind_password: x\n    bind_password_file: pw\n"),
			want: []string{"upstreams[0].bind_password_file: cannot be combined with bind_password"},
		},
		{
			name: "missing file",
			yaml: upstream("    bind_password_file: nope/pw\n"),
			want: []string{"upstreams[0].bind_password_file: cannot read " + filepath.Join(dir, "nope", "pw") + ": "},
		},
		{
			name: "not a regular file",
			yaml: upstream("    bind_password_file: adir\n"),
			want: []string{"upstreams[0].bind_password_file: cannot read " + filepath.Join(dir, "adir") + ": not a regular file"},
		},
		{
			name: "empty name",
			yaml: upstream("    bind_password_file: \"\"\n"),
			want: []string{"upstreams[0].bind_password_file: expected a file name"},
		},
		{
			name: "a bad hash read from a file is reported at the secret",
			yaml: minimal + "ldap:\n  service_accounts:\n    - name: r\n      password_hash_file: pw\n",
			want: []string{"ldap.service_accounts[0].password_hash: not a valid argon2id hash"},
		},
		{
			name: "no twin for a field that is not a secret",
			yaml: upstream("    bind_password: x\n    bind_dn_file: pw\n"),
			want: []string{"upstreams[0].bind_dn_file: unknown key for type ldap"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problems(t, dir, tt.yaml, nil)
			assertProblems(t, ps, tt.want, true)
			for _, p := range ps {
				if strings.Contains(p.Message, content) {
					t.Errorf("file content in message: %s", p)
				}
			}
		})
	}
}

func mustWrite(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// badConfig has many problems of every kind; badConfigWant lists each one
// once.
const badConfig = `
data_dir: /var/lib/dirgate
base_dn: "not a dn"
log: { level: loud, format: xml }
ldap:
  listen: localhost
  ldaps_listen: 127.0.0.1:99999
  tls: { cert_file: a.pem }
  memberof: sometimes
  service_accounts:
    - name: "bad,name"
      password_hash: plain
    - name: Reader
      password_hash: HASH
    - name: reader
      password_hash: HASH
    - password_hash: HASH
rest:
  listen: ":http"
  tls: { key_file: k.pem }
  trusted_proxies: [10.0.0.0/8, nonsense, "fe80::1"]
  applications:
    - name: jira
      remote_addresses: [127.0.0.1, "10.*.1.*", 192.168.*, 300.1.1.1, host.example.com, "*"]
      permissions: [read, admin, read]
    - name: JIRA
      password_hash: HASH
      lowercase_output: maybe
      allowed_groups: [""]
upstreams:
  - name: Staff
    type: ldap
    urls: [http://x]
    bind_dn: cn=admin,dc=example,dc=com
    bind_password: ${NOPE}
    user_base: "bad dn"
    group_base: ou=groups,dc=example,dc=com
    refresh: { interval: 500ms, full_every: 1s }
    max_delete_percent: 101
    link_by: email
  - name: staff2
    type: ldap
    urls: [ldap://x]
    user_base: ou=people,dc=example,dc=com
    group_base: ou=groups,dc=example,dc=com
    page_sise: 10
    timeout: 1ms
    refresh: { interval: 1h, full_every: 30m }
  - name: staff2
    type: local
    link_by: username
  - name: cloud
    type: jiracloud
    url: https://example.atlassian.net
  - name: nothing
`

var badConfigWant = []string{
	"base_dn: not a valid DN",
	"log.level: must be one of",
	"log.format: must be text or json",
	"ldap.listen: not a host:port address",
	"ldap.ldaps_listen: port must be a number from 0 to 65535",
	"ldap.tls.key_file: required with cert_file",
	"ldap.memberof: must be transitive or direct",
	"ldap.service_accounts[0].name: may contain only",
	"ldap.service_accounts[0].password_hash: not a valid argon2id hash",
	"ldap.service_accounts[2].name: duplicate service account name (also service_accounts[1])",
	"ldap.service_accounts[3].name: required",
	"rest.listen: port must be a number",
	"rest.tls.cert_file: required with key_file",
	"rest.trusted_proxies[1]: not an IP address or CIDR",
	"rest.applications[0].password_hash: required",
	"rest.applications[0].remote_addresses[1]: not an IP address, CIDR, wildcard",
	"rest.applications[0].remote_addresses[3]: not an IP address, CIDR, wildcard",
	"rest.applications[0].permissions[1]: must be read or write",
	"rest.applications[0].permissions[2]: listed twice",
	"rest.applications[1].name: duplicate application name (also applications[0])",
	"rest.applications[1].lowercase_output: expected true or false",
	"rest.applications[1].allowed_groups[0]: empty group name",
	"upstreams[0].name: not a valid upstream name",
	"upstreams[0].urls[0]: scheme must be ldap or ldaps",
	"upstreams[0].bind_password: environment variable NOPE is not set",
	"upstreams[0].user_base: not a valid DN",
	"upstreams[0].refresh.interval: must be at least 1s",
	"upstreams[0].max_delete_percent: must be between 0 and 100",
	"upstreams[0].link_by: the first upstream has no earlier upstream to link its users to",
	"upstreams[2].link_by: must be email (or left out)",
	"upstreams[1].page_sise: unknown key for type ldap (did you mean page_size?)",
	"upstreams[1].timeout: must be between",
	"upstreams[1].refresh.full_every: must not be shorter than refresh.interval",
	"upstreams[2].name: duplicate upstream name (also upstreams[1])",
	"upstreams[3].api_token: required",
	"upstreams[3].email: required (the account whose API token is api_token)",
	"upstreams[4].type: required (one of " + strings.Join(Types, ", ") + ")",
}

func TestManyProblemsAtOnce(t *testing.T) {
	dir := t.TempDir()
	yaml := withHash(badConfig)
	ps := problems(t, dir, yaml, nil)
	assertProblems(t, ps, badConfigWant, true)
	seen := make(map[string]bool)
	for _, p := range ps {
		if seen[p.Path] {
			t.Errorf("path %s reported more than once", p.Path)
		}
		seen[p.Path] = true
	}

	for i, p := range ps {
		if p.Line == 0 {
			t.Errorf("problem without a line: %s", p)
		}
		if i > 0 && p.Line < ps[i-1].Line {
			t.Errorf("problems out of document order: %s after %s", p, ps[i-1])
		}
	}
	// Lines point at the value: the upstream missing its type is reported
	// at its mapping, the last line of the file.
	if last := ps[len(ps)-1]; last.Path != "upstreams[4].type" || last.Line != strings.Count(badConfig, "\n") {
		t.Errorf("last problem = %s, want upstreams[4].type at line %d", last, strings.Count(badConfig, "\n"))
	}

	_, err := parse(t, dir, yaml, nil)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(ps) {
		t.Errorf("Error() has %d lines for %d problems", len(lines), len(ps))
	}
	wantPrefix := filepath.Join(dir, "dirgate.yaml") + ":3: base_dn: not a valid DN: "
	if !strings.HasPrefix(lines[0], wantPrefix) {
		t.Errorf("first line = %q, want prefix %q", lines[0], wantPrefix)
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"top level", minimal + "bsae_dn: x\n", "bsae_dn: unknown key (did you mean base_dn?)"},
		{"top level, no suggestion", minimal + "frobnicate: x\n", "frobnicate: unknown key"},
		{"nested", minimal + "ldap: { lisen: x }\n", "ldap.lisen: unknown key (did you mean listen?)"},
		{"twice nested", minimal + "rest: { tls: { cert: x } }\n", "rest.tls.cert: unknown key (did you mean cert_file?)"},
		{"prefix of two keys", `
base_dn: dc=x
upstreams:
  - name: b
    type: ldap
    urls: [ldap://h]
    user_base: ou=people,dc=x
    group_base: ou=groups,dc=x
    bind: x
`, "upstreams[0].bind: unknown key for type ldap"},
		{"in a list", minimal + "rest:\n  applications:\n    - name: a\n      remote_adresses: []\n", "rest.applications[0].remote_adresses: unknown key (did you mean remote_addresses?)"},
		{"odd key", minimal + "\"a.b c\": 1\n", `"a.b c": unknown key`},
		{"upstream common", `
base_dn: dc=x
upstreams:
  - name: a
    type: local
    refesh: { interval: 1m }
`, "upstreams[0].refesh: unknown key for type local (did you mean refresh?)"},
		{"upstream common, nested", `
base_dn: dc=x
upstreams:
  - name: a
    type: local
    refresh: { intervall: 1m }
`, "upstreams[0].refresh.intervall: unknown key (did you mean interval?)"},
		{"upstream type-specific", `
base_dn: dc=x
upstreams:
  - name: a
    type: local
  - name: b
    type: ldap
    urls: [ldap://h]
    user_bse: ou=people,dc=x
    group_base: ou=groups,dc=x
`, "upstreams[1].user_bse: unknown key for type ldap (did you mean user_base?)"},
		{"upstream type-specific, nested", `
base_dn: dc=x
upstreams:
  - name: b
    type: ldap
    urls: [ldap://h]
    user_base: ou=people,dc=x
    group_base: ou=groups,dc=x
    attributes: { usrname: uid }
`, "upstreams[0].attributes.usrname: unknown key (did you mean username?)"},
		{"key of another type", `
base_dn: dc=x
upstreams:
  - name: a
    type: local
    urls: [ldap://h]
`, "upstreams[0].urls: unknown key for type local"},
		{"unknown type: only keys no type knows", `
base_dn: dc=x
upstreams:
  - name: a
    type: ldapp
    urls: [ldap://h]
    seed_fil: x
`, "upstreams[0].seed_fil: unknown key (did you mean seed_file?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problems(t, t.TempDir(), tt.yaml, nil)
			path, frag, _ := strings.Cut(tt.want, ": ")
			found := false
			for _, p := range ps {
				if p.Path == path {
					found = true
					if p.Message != frag {
						t.Errorf("message = %q, want %q", p.Message, frag)
					}
				}
			}
			if !found {
				t.Errorf("no problem at %s in:\n%s", path, (&Error{Problems: ps}).Error())
			}
		})
	}
}

func TestTypeMismatch(t *testing.T) {
	upstream := func(extra string) string {
		return "base_dn: dc=x\nupstreams:\n  - name: a\n    type: local\n" + extra
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"string given a list", minimal + "ldap: { listen: [a] }\n", "ldap.listen: expected a string"},
		{"string given a mapping", minimal + "data_dir: { a: b }\n", "data_dir: expected a string"},
		{"bool given yes", minimal + "ldap: { allow_anonymous_search: yes }\n", "ldap.allow_anonymous_search: expected true or false"},
		{"bool given a quoted string", minimal + "ldap: { allow_anonymous_search: \"true\" }\n", "ldap.allow_anonymous_search: expected true or false"},
		{"int given a word", upstream("    max_delete_percent: lots\n"), "upstreams[0].max_delete_percent: expected an integer"},
		{"int given a float", upstream("    max_delete_percent: 1.5\n"), "upstreams[0].max_delete_percent: expected an integer"},
		{"int out of range", upstream("    max_delete_percent: 18446744073709551615\n"), "upstreams[0].max_delete_percent: integer out of range"},
		{"int out of range from the environment", upstream("    max_delete_percent: ${BIG}\n"), "upstreams[0].max_delete_percent: integer out of range"},
		{"duration without unit", upstream("    refresh: { interval: 10 }\n"), "upstreams[0].refresh.interval: expected a duration such as 90s, 10m or 24h"},
		{"negative duration", upstream("    refresh: { interval: -5m }\n"), "upstreams[0].refresh.interval: must not be negative"},
		{"mapping given a list", minimal + "ldap: [a]\n", "ldap: expected a mapping"},
		{"list given a mapping", "base_dn: dc=x\nupstreams: { name: a }\n", "upstreams: expected a list"},
		{"list given a scalar", minimal + "rest: { trusted_proxies: 10.0.0.1 }\n", "rest.trusted_proxies: expected a list"},
		{"upstream given a scalar", "base_dn: dc=x\nupstreams: [local]\n", "upstreams[0]: expected a mapping"},
		{"type given a list", "base_dn: dc=x\nupstreams: [{ name: a, type: [ldap] }]\n", "upstreams[0].type: expected a string"},
		{"binary tag", minimal + "data_dir: !!binary aGVsbG8=\n", "data_dir: unsupported tag !!binary"},
		{"top level not a mapping", "- a\n- b\n", ": expected a mapping of settings at the top level"},
		{"not a key", minimal + "? [a]\n: b\n", ": mapping keys must be strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problems(t, t.TempDir(), tt.yaml, map[string]string{"BIG": "99999999999999999999"})
			assertProblems(t, ps, []string{tt.want}, true)
		})
	}
}

func TestKeyProblems(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"top level", minimal + "base_dn: dc=y\n", []string{"base_dn: duplicate key"}},
		{"nested", minimal + "ldap: { listen: a, listen: b }\n", []string{"ldap.listen: duplicate key"}},
		{"upstream", "base_dn: dc=x\nupstreams:\n  - name: a\n    type: local\n    name: b\n", []string{"upstreams[0].name: duplicate key"}},
		// Not a duplicate, but another problem with keys: validation goes on.
		{"key that is not a string", "? [a]\n: b\nbase_dn: dc=x\n", []string{": mapping keys must be strings", "upstreams: at least one upstream is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertProblems(t, problems(t, t.TempDir(), tt.yaml, nil), tt.want, true)
		})
	}
}

func TestUpstreamTypes(t *testing.T) {
	if got := slices.Sorted(maps.Keys(upstreamTypes)); !slices.Equal(got, slices.Sorted(slices.Values(Types))) {
		t.Errorf("upstreamTypes has %q, Types lists %q", got, Types)
	}
	ps := problems(t, t.TempDir(), "base_dn: dc=x\nupstreams:\n  - name: a\n  - name: b\n    type: LDAP\n", nil)
	assertProblems(t, ps, []string{
		"upstreams[0].type: required (one of " + strings.Join(Types, ", ") + ")",
		"upstreams[1].type: unknown upstream type (this build knows " + strings.Join(Types, ", ") + ")",
	}, true)

	ps = problems(t, t.TempDir(), "base_dn: dc=x\n", nil)
	assertProblems(t, ps, []string{"upstreams: at least one upstream is required"}, true)
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	yaml := `
data_dir: data
base_dn: dc=x
ldap:
  tls: { cert_file: certs/ldap.pem, key_file: /etc/dirgate/ldap.key }
rest:
  tls: { cert_file: ../rest.pem, key_file: ./rest.key }
upstreams:
  - name: a
    type: ldap
    urls: [ldaps://h]
    user_base: ou=people,dc=x
    group_base: ou=groups,dc=x
    tls: { ca_file: ca.pem }
  - name: b
    type: local
    seed_file: seed/users.yaml
`
	c := mustParse(t, dir, yaml, nil)
	checks := []struct{ name, got, want string }{
		{"data_dir", c.DataDir, filepath.Join(dir, "data")},
		{"ldap cert", c.LDAP.TLS.CertFile, filepath.Join(dir, "certs", "ldap.pem")},
		{"ldap key (absolute)", c.LDAP.TLS.KeyFile, "/etc/dirgate/ldap.key"},
		{"rest cert", c.REST.TLS.CertFile, filepath.Join(filepath.Dir(dir), "rest.pem")},
		{"rest key", c.REST.TLS.KeyFile, filepath.Join(dir, "rest.key")},
		{"ca_file", c.Upstreams[0].LDAP.TLS.CAFile, filepath.Join(dir, "ca.pem")},
		{"seed_file", c.Upstreams[1].Local.SeedFile, filepath.Join(dir, "seed", "users.yaml")},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}

	// A relative config path is made absolute against the working directory.
	t.Chdir(dir)
	c, err := Parse([]byte(yaml), filepath.Join("sub", "dirgate.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "sub", "data"); c.DataDir != want {
		t.Errorf("data_dir = %q, want %q", c.DataDir, want)
	}
	// Without a file, paths stay as written.
	c, err = Parse([]byte(yaml), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "data" || c.Upstreams[1].Local.SeedFile != "seed/users.yaml" {
		t.Errorf("without a path: data_dir = %q, seed_file = %q", c.DataDir, c.Upstreams[1].Local.SeedFile)
	}
}

func TestAliasesAndMergeKeys(t *testing.T) {
	c := mustParse(t, t.TempDir(), `
base_dn: &base dc=example,dc=com
upstreams:
  - &staff
    name: staff
    type: ldap
    urls: [ldap://a]
    user_base: ou=people,dc=example,dc=com
    group_base: ou=groups,dc=example,dc=com
    refresh: &refresh { interval: 5m }
  - <<: *staff
    name: staff2
    urls: [ldap://b]
    refresh: *refresh
  - &self { name: selfish, type: local, <<: [*self, *self] }   # a cycle, ignored
`, nil)
	if got := c.UpstreamNames(); !slices.Equal(got, []string{"staff", "staff2", "selfish"}) {
		t.Fatalf("names = %q", got)
	}
	u := c.Upstreams[1]
	if u.Type != "ldap" || u.LDAP.UserBase != "ou=people,dc=example,dc=com" || !slices.Equal(u.LDAP.URLs, []string{"ldap://b"}) || u.Refresh.Interval != 5*time.Minute {
		t.Errorf("merged upstream = %+v, ldap %+v", u, u.LDAP)
	}

	// A billion laughs must stop, with a problem, rather than run away.
	var b strings.Builder
	b.WriteString("base_dn: dc=x\nupstreams: [{name: a, type: local}]\n")
	b.WriteString("rest:\n  trusted_proxies: &ips [10.0.0.1" + strings.Repeat(", 10.0.0.1", 999) + "]\n")
	b.WriteString("  applications:\n    - &app { name: a, remote_addresses: *ips, allowed_groups: *ips }\n")
	b.WriteString("    - *app" + strings.Repeat("\n    - *app", 100000) + "\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()), "", nil)
	if err == nil || !strings.HasSuffix(err.Error(), "the document is too large or its aliases expand too far") {
		t.Errorf("billion laughs: %.200v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("billion laughs took %v", d)
	}

	// So must a document with a problem on every line.
	b.Reset()
	b.WriteString(minimal)
	for i := range 1000 {
		fmt.Fprintf(&b, "unknown%d: x\n", i)
	}
	var e *Error
	if _, err := Parse([]byte(b.String()), "", nil); !errors.As(err, &e) || len(e.Problems) != maxProblems+1 || e.Problems[maxProblems].Message != "too many problems; stopping here" {
		t.Errorf("too many problems: %.200v", err)
	}
}

func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		frag       string
	}{
		{"syntax", "base_dn: dc=x\nldap:\n  listen: [a\n", 0, "invalid YAML"},
		{"tab indentation", "base_dn: dc=x\nldap:\n\tlisten: a\n", 3, "invalid YAML"},
		{"two documents", minimal + "---\nbase_dn: dc=y\n", 6, "only one YAML document is allowed"},
		{"unknown anchor", "base_dn: *nope\n", 0, "invalid YAML: unknown anchor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problems(t, t.TempDir(), tt.yaml, nil)
			if len(ps) != 1 || !strings.Contains(ps[0].Message, tt.frag) || (tt.line != 0 && ps[0].Line != tt.line) {
				t.Errorf("problems = %v, want one at line %d containing %q", ps, tt.line, tt.frag)
			}
		})
	}
	// An empty file is not a syntax error: it lacks the required settings.
	assertProblems(t, problems(t, t.TempDir(), "# nothing\n", nil), []string{
		"base_dn: required",
		"upstreams: at least one upstream is required",
	}, true)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "dirgate.yaml")
	mustWrite(t, name, minimal+"data_dir: state\n")
	t.Setenv("DIRGATE_TEST_BASE", "dc=from,dc=env")
	c, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != name || c.DataDir != filepath.Join(dir, "state") {
		t.Errorf("Path = %q, DataDir = %q", c.Path, c.DataDir)
	}

	// The process environment is used.
	mustWrite(t, name, strings.Replace(minimal, "dc=example,dc=com", "${DIRGATE_TEST_BASE}", 1))
	if c, err = Load(name); err != nil || c.BaseDN != "dc=from,dc=env" {
		t.Errorf("Load with env: %v, base_dn %q", err, c.BaseDN)
	}

	missing := filepath.Join(dir, "missing.yaml")
	_, err = Load(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) || errors.Is(err, ErrInvalid) {
		t.Errorf("Load(missing) = %v", err)
	}

	big := filepath.Join(dir, "big.yaml")
	mustWrite(t, big, minimal+strings.Repeat("# padding\n", MaxFileSize/10+1))
	_, err = Load(big)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), big+": file is larger than 4 MiB") {
		t.Errorf("Load(big) = %v", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	mustWrite(t, bad, minimal+"ldap: { memberof: all }\n")
	_, err = Load(bad)
	if want := bad + ":6: ldap.memberof: must be transitive or direct"; err == nil || err.Error() != want {
		t.Errorf("Load(bad) = %v, want %s", err, want)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "d.yaml", Problems: []Problem{
		{Path: "base_dn", Message: "required"},
		{Path: "ldap.listen", Line: 7, Message: "bad"},
		{Line: 2, Message: "invalid YAML: x"},
	}}
	want := "d.yaml: base_dn: required\nd.yaml:7: ldap.listen: bad\nd.yaml:2: invalid YAML: x"
	if e.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", e.Error(), want)
	}
	e.File = ""
	want = "base_dn: required\n7: ldap.listen: bad\n2: invalid YAML: x"
	if e.Error() != want {
		t.Errorf("Error() without file =\n%s\nwant\n%s", e.Error(), want)
	}
	if !errors.Is(e, ErrInvalid) {
		t.Error("not ErrInvalid")
	}
}

func TestValidators(t *testing.T) {
	for _, tt := range []struct {
		fn   func(string) bool
		name string
		ok   []string
		bad  []string
	}{
		{validRemoteAddress, "remote address",
			[]string{"127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8", "192.168.*", "10.*.*.*", "*", "jira.example.com", "localhost"},
			[]string{"", "10.*.1.*", "300.1.1.1", "1.2.3.4.*", "10.0.0.0/33", "host name", "-bad.example.com", "256.*", "a..b"}},
		{validAccountName, "service account name",
			[]string{"reader", "jira-sync", "svc.reader_2", "Ämter"},
			[]string{"", "a,b", "a=b", "a+b", "a b", "a\\b", "a\"b"}},
		{validIPOrPrefix, "trusted proxy",
			[]string{"10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"},
			[]string{"", "proxy.example.com", "10.*"}},
	} {
		for _, s := range tt.ok {
			if !tt.fn(s) {
				t.Errorf("%s %q rejected", tt.name, s)
			}
		}
		for _, s := range tt.bad {
			if tt.fn(s) {
				t.Errorf("%s %q accepted", tt.name, s)
			}
		}
	}

	var p checker
	for _, addr := range []string{"", ":389", "127.0.0.1:0", "[::1]:636", "ldap.example.com:389", "localhost:65535"} {
		checkListen(&p, addr, addr)
	}
	for _, addr := range []string{"localhost", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+5", ":ldap", "bad host:1", "::1:80"} {
		checkListen(&p, "bad "+addr, addr)
	}
	for _, pr := range p.problems {
		if !strings.HasPrefix(pr.Path, "bad ") {
			t.Errorf("listen %q rejected: %s", pr.Path, pr.Message)
		}
	}
	if len(p.problems) != 7 {
		t.Errorf("%d listen addresses rejected, want 7: %v", len(p.problems), p.problems)
	}
}

func TestExpand(t *testing.T) {
	lookup := env(map[string]string{"A": "x", "B": "${A}", "EMPTY": ""})
	for in, want := range map[string]string{
		"":              "",
		"plain $ text":  "plain $ text",
		"${A}":          "x",
		"${A}${A}-${A}": "xx-x",
		"$${A}":         "${A}",
		"$$${A}":        "$${A}",
		"${B}":          "${A}",
		"a${EMPTY}b":    "ab",
		"$":             "$",
		"$$":            "$$",
		"{A}":           "{A}",
	} {
		got, err := expand(in, lookup)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"${", "${A", "${}", "${A B}", "${9}", "x${UNSET}"} {
		if _, err := expand(in, lookup); err == nil {
			t.Errorf("expand(%q) succeeded", in)
		}
	}
}

// typeConfigs returns the names of the type-specific Configs set in u.
func typeConfigs(u *Upstream) (names []string) {
	for _, name := range Types {
		if upstreamTypes[name].config(u) != nil {
			names = append(names, name)
		}
	}
	return names
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		withHash(fullExample),
		minimal,
		withHash(badConfig),
		"",
		"base_dn: &a [*a]\n",
		"upstreams: [&u {name: a, type: local, <<: *u}]\n",
		"upstreams:\n  - name: a\n    type: ldap\n    bind_password_file: pw\n    urls: [ldap://${HOST}]\n",
		"ldap: {listen: \"$${x}\", service_accounts: [{name: a, password_hash: ${SECRET}}]}\n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("fuzz-secret\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	lookup := env(map[string]string{"HOST": "example.com", "SECRET": "fuzz-secret", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, filepath.Join(dir, "dirgate.yaml"), lookup)
		switch {
		case err == nil && c == nil:
			t.Fatal("nil config without an error")
		case err != nil && c != nil:
			t.Fatal("config with an error")
		case err != nil:
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error %T without problems: %v", err, err)
			}
			_ = err.Error()
		default:
			// A valid configuration has what the rest of dirgate relies on.
			if c.DataDir == "" || c.LDAP.Listen == nil || c.REST.Listen == nil || len(c.Upstreams) == 0 {
				t.Fatalf("valid config lacks defaults: %+v", c)
			}
			for _, u := range c.Upstreams {
				if u.MaxDeletePercent == nil || !slices.Equal(typeConfigs(&u), []string{u.Type}) {
					t.Fatalf("upstream %q incomplete: %+v", u.Name, u)
				}
			}
		}
	})
}

// Inline is embedded in generic to test ",inline".
type Inline struct {
	A string `yaml:"a"`
}

// generic has the field shapes no Config type uses today.
type generic struct {
	Inline   `yaml:",inline"`
	Untagged string
	Skipped  string         `yaml:"-"`
	Labels   map[string]int `yaml:"labels"`
	Token    secret.String  `yaml:"token"`
	Count    uint           `yaml:"count"`
	P        *int           `yaml:"p"`
	Q        *bool          `yaml:"q"`
}

func TestDecodeGeneric(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "tok"), "tok-value\n")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(`
a: x
untagged: y
labels: { one: 1, two: 2 }
token_file: tok
count: 3
skipped: z
p: 7
`), &doc); err != nil {
		t.Fatal(err)
	}
	d := newDecoder(env(nil), dir)
	var g generic
	d.decode(doc.Content[0], reflect.ValueOf(&g).Elem(), "")
	want := generic{Inline: Inline{A: "x"}, Untagged: "y", Labels: map[string]int{"one": 1, "two": 2}, Token: "tok-value", P: ptr(7)}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("decoded %+v, want %+v", g, want)
	}
	assertProblems(t, d.problems, []string{
		"count: internal error: cannot decode a uint",
		"skipped: unknown key",
	}, true)
}

func TestCloudUpstreams(t *testing.T) {
	yaml := `
base_dn: dc=x
upstreams:
  - name: corp
    type: local
  - name: jira
    type: jiracloud
    url: https://example.atlassian.net
    email: svc@example.com
    api_token: ${JIRA_TOKEN}
    api_token_expires: 2027-06-30
    auth: local
    link_by: email
  - name: org
    type: access
    org_id: 0a1b2c3d-org
    api_key: ${ORG_KEY}
    api_key_expires: 2027-01-31
`
	c := mustParse(t, t.TempDir(), yaml, map[string]string{"JIRA_TOKEN": "tok-1", "ORG_KEY": "key-1"})
	j, a := c.Upstreams[1], c.Upstreams[2]
	if j.JiraCloud == nil || j.JiraCloud.APIToken.Reveal() != "tok-1" || j.AuthMode() != "local" || j.LinkBy != "email" {
		t.Errorf("jiracloud upstream: %+v", j)
	}
	if a.Access == nil || a.Access.APIKey.Reveal() != "key-1" || a.AuthMode() != "none" || a.Access.BaseURL != "https://api.atlassian.com" {
		t.Errorf("access upstream: %+v", a)
	}
	if c.Upstreams[0].AuthMode() != "" {
		t.Errorf("local upstream auth mode %q", c.Upstreams[0].AuthMode())
	}

	// Every problem at its key path; auth: local without a local upstream.
	bad := `
base_dn: dc=x
upstreams:
  - name: org
    type: access
    base_url: http://api.example.com
    api_key_expires: next week
    page_size: 500
    auth: api_token
    org: typo
  - name: jira
    type: jiracloud
    url: https://example.atlassian.net
    email: svc@example.com
    api_token: t
    auth: local
`
	assertProblems(t, problems(t, t.TempDir(), bad, nil), []string{
		"upstreams[0].org: unknown key for type access (did you mean org_id?)",
		"upstreams[0].base_url: must be https",
		"upstreams[0].api_key: required",
		"upstreams[0].api_key_expires: must be a date",
		"upstreams[0].page_size: must be between 1 and 100",
		"upstreams[0].auth: must be none or local",
		"upstreams[1].auth: local needs an upstream of type local",
	}, false)
}
