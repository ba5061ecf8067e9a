package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/restfront/admin"
)

// binary is a dirgate built with -tags failpoints for the tests that need
// a separate process (serve, and syncs killed part-way).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dirgate-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dirgate")
	out, err := exec.Command("go", "build", "-tags", "failpoints", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building dirgate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs a command in-process and returns its exit code and outputs.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"dirgate"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("dirgate %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// quickstart copies the bundled example into a temporary directory and
// returns the config path.
func quickstart(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"quickstart.yaml", "users.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		// Tests never use fixed ports: let the frontends pick free ones.
		b = []byte(strings.NewReplacer("127.0.0.1:3389", "127.0.0.1:0", "127.0.0.1:8095", "127.0.0.1:0").Replace(string(b)))
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "quickstart.yaml")
}

// server is a `dirgate serve` child process.
type server struct {
	cmd    *exec.Cmd
	stderr *lineBuffer
	done   chan error
}

// startServe starts `dirgate serve` and waits until its admin socket answers.
func startServe(t *testing.T, cfg string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), env...)
	s := &server{cmd: cmd, stderr: newLineBuffer(), done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("serve output:\n%s", s.stderr.String())
		}
	})
	if !s.stderr.waitFor(`msg="dirgate serving"`, s.done, 30*time.Second) {
		t.Fatalf("serve did not start:\n%s", s.stderr.String())
	}
	return s
}

// ldapAddr returns the plain LDAP address serve logged.
func (s *server) ldapAddr(t *testing.T) string {
	t.Helper()
	return s.loggedAddr(t, `msg="LDAP listening"`, "ldaps=false")
}

// restAddr returns the Crowd REST address serve logged.
func (s *server) restAddr(t *testing.T) string {
	t.Helper()
	return s.loggedAddr(t, `msg="Crowd REST listening"`, "https=false")
}

func (s *server) loggedAddr(t *testing.T, msg, marker string) string {
	t.Helper()
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, msg) && strings.Contains(line, marker) {
			for _, f := range strings.Fields(line) {
				if a, ok := strings.CutPrefix(f, "addr="); ok {
					return a
				}
			}
		}
	}
	t.Fatalf("serve did not log %s:\n%s", msg, s.stderr.String())
	return ""
}

// crowd does a Crowd REST request as the quick start's jira application.
func crowd(t *testing.T, addr, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+"/rest/usermanagement/1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("jira", "jira-password")
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// get fetches a path from the admin socket.
func (s *server) get(t *testing.T, dataDir, path string) string {
	t.Helper()
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", admin.SocketPath(dataDir))
	}}}
	resp, err := c.Get("http://dirgate" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// lineBuffer collects a child's output and lets a test wait for a line.
type lineBuffer struct {
	ch  chan string
	buf bytes.Buffer
	w   *io.PipeWriter
}

func newLineBuffer() *lineBuffer {
	r, w := io.Pipe()
	b := &lineBuffer{ch: make(chan string, 10000), w: w}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			b.ch <- sc.Text()
		}
		close(b.ch)
	}()
	return b
}

func (b *lineBuffer) Write(p []byte) (int, error) { return b.w.Write(p) }

// waitFor reads lines until one contains s, the process ends, or the
// deadline passes. Lines read are kept for String.
func (b *lineBuffer) waitFor(s string, done chan error, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case line, ok := <-b.ch:
			if !ok {
				return false
			}
			b.buf.WriteString(line + "\n")
			if strings.Contains(line, s) {
				return true
			}
		case err := <-done:
			done <- err
			b.drain()
			return strings.Contains(b.buf.String(), s)
		case <-timeout:
			return false
		}
	}
}

func (b *lineBuffer) drain() {
	for {
		select {
		case line, ok := <-b.ch:
			if !ok {
				return
			}
			b.buf.WriteString(line + "\n")
		default:
			return
		}
	}
}

func (b *lineBuffer) String() string {
	b.drain()
	return b.buf.String()
}

func TestConfigCheck(t *testing.T) {
	cfg := quickstart(t)
	out := mustCLI(t, "config", "check", "--config", cfg)
	if !strings.Contains(out, "configuration OK") || !strings.Contains(out, "internal (local)") {
		t.Fatalf("config check output:\n%s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(`data_dir: x
base_dn: "not a dn"
ldap:
  lisen: 1
upstreams:
  - name: staff
    type: ldap
    urls: [ftp://x]
    bind_dn: cn=admin,dc=example,dc=com
    bind_password: ${DIRGATE_TEST_UNSET}
    user_base: ou=people,dc=example,dc=com
    group_base: nonsense
  - name: staff
    type: local
`), 0o600)
	code, out, errOut := runCLI(t, "", "config", "check", "--config", bad)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"base_dn", "ldap.lisen", "upstreams[0].urls[0]", "upstreams[0].bind_password", "DIRGATE_TEST_UNSET",
		"upstreams[0].group_base", "upstreams[1].name"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("config check does not report %s:\n%s", want, errOut)
		}
	}
	code, _, errOut = runCLI(t, "", "status", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 2 || !strings.Contains(errOut, "missing.yaml") {
		t.Fatalf("missing config: exit %d: %s", code, errOut)
	}
}

func TestHashPassword(t *testing.T) {
	code, out, errOut := runCLI(t, "s3cret\n", "hash-password")
	if code != 0 {
		t.Fatal(errOut)
	}
	h := strings.TrimSpace(out)
	if ok, err := secret.Verify(h, "s3cret"); !ok || err != nil {
		t.Fatalf("hash %q does not verify: %v", h, err)
	}
	if strings.Contains(out+errOut, "s3cret") {
		t.Fatal("the password was printed")
	}
	if code, _, _ := runCLI(t, "", "hash-password"); code == 0 {
		t.Fatal("an empty password was hashed")
	}
}

func TestReorderArgs(t *testing.T) {
	app := newApp(nil, io.Discard, io.Discard)
	for in, want := range map[string]string{
		"dirgate cache user alice --json -c x.yaml": "dirgate cache user --json -c x.yaml alice",
		"dirgate sync --upstream staff --full":      "dirgate sync --upstream staff --full",
		"dirgate cache group -- --odd":              "dirgate cache group -- --odd",
		"dirgate status":                            "dirgate status",
	} {
		if got := strings.Join(reorderArgs(app, strings.Fields(in)), " "); got != want {
			t.Errorf("reorderArgs(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestQuickstart runs the README's first command's configuration: serve
// on the bundled example, the inspection commands through its socket, and
// the same commands without it, which must print the same.
func TestQuickstart(t *testing.T) {
	cfg := quickstart(t)
	srv := startServe(t, cfg)
	dataDir := filepath.Join(filepath.Dir(cfg), "dirgate-data")
	if fi, err := os.Stat(admin.SocketPath(dataDir)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v %v", fi, err)
	}
	commands := [][]string{
		{"cache", "users", "--json"},
		{"cache", "groups", "--json"},
		{"cache", "user", "alice", "--json"},
		{"cache", "group", "engineering", "--json"},
		{"cache", "export", "--format", "ldif"},
		{"cache", "export", "--format", "json"},
	}
	live := map[string]string{}
	for _, c := range commands {
		live[strings.Join(c, " ")] = mustCLI(t, append(c, "--config", cfg)...)
	}
	var status admin.Status
	if err := json.Unmarshal([]byte(mustCLI(t, "status", "--json", "--config", cfg)), &status); err != nil {
		t.Fatal(err)
	}
	st := status.Upstreams
	if len(st) != 1 || st[0].Upstream != "internal" || st[0].Type != "local" || st[0].Users != 4 || !st[0].Synced {
		t.Fatalf("status %+v", st)
	}
	var alice admin.UserDetail
	json.Unmarshal([]byte(live["cache user alice --json"]), &alice)
	if strings.Join(alice.NestedGroups, ",") != "developers,engineering,jira-software-users" || alice.DN != "uid=alice,ou=users,dc=example,dc=com" {
		t.Fatalf("alice %+v", alice)
	}
	ldif := live["cache export --format ldif"]
	for _, want := range []string{
		"dn: uid=alice,ou=users,dc=example,dc=com\n",
		"memberOf: cn=jira-software-users,ou=groups,dc=example,dc=com\n",
		"dn: cn=engineering,ou=groups,dc=example,dc=com\n",
		"member: cn=developers,ou=groups,dc=example,dc=com\n",
		"dn: cn=reader,ou=services,dc=example,dc=com\n",
	} {
		if !strings.Contains(ldif, want) {
			t.Errorf("LDIF export lacks %q", want)
		}
	}
	// The LDAP frontend: its address is in the log; bind as the service
	// account and as a user, read nested memberOf.
	addr := srv.ldapAddr(t)
	lc, err := goldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if err := lc.Bind("cn=reader,ou=services,dc=example,dc=com", "reader-password"); err != nil {
		t.Fatal(err)
	}
	r, err := lc.Search(goldap.NewSearchRequest("dc=example,dc=com", goldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(&(objectClass=inetOrgPerson)(memberOf=cn=jira-software-users,ou=groups,dc=example,dc=com))", []string{"uid"}, nil))
	if err != nil || len(r.Entries) != 4 {
		t.Fatalf("nested memberOf search: %v, %d entries", err, len(r.Entries))
	}
	if err := lc.Bind("alice", "alice-password"); err != nil {
		t.Fatalf("user bind: %v", err)
	}
	if status.LDAPTLS == nil || !strings.Contains(status.LDAPTLS.SHA256, ":") || !status.LDAPTLS.SelfSigned {
		t.Fatalf("status lacks the TLS certificate: %+v", status.LDAPTLS)
	}
	if out := mustCLI(t, "status", "--config", cfg); !strings.Contains(out, "LDAP TLS certificate:") || !strings.Contains(out, status.LDAPTLS.SHA256) {
		t.Fatalf("status table lacks the fingerprint:\n%s", out)
	}
	metrics := srv.get(t, dataDir, "/metrics")
	for _, want := range []string{`dirgate_ldap_binds_total{outcome="service"} 1`, `dirgate_ldap_binds_total{outcome="user"} 1`, `dirgate_ldap_operations_total{op="search",result="0"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The Crowd frontend: read, log in, write through the local directory.
	ra := srv.restAddr(t)
	if st, body := crowd(t, ra, "GET", "/user/group/nested?username=alice", ""); st != 200 ||
		!strings.Contains(body, `<group name="jira-software-users">`) {
		t.Fatalf("nested groups over REST: %d %s", st, body)
	}
	if st, body := crowd(t, ra, "POST", "/authentication?username=alice", "<password><value>alice-password</value></password>"); st != 200 || !strings.Contains(body, `<user name="alice"`) {
		t.Fatalf("authentication over REST: %d %s", st, body)
	}
	if st, body := crowd(t, ra, "POST", "/authentication?username=dave", "<password><value>dave-password</value></password>"); st != 400 || !strings.Contains(body, "INACTIVE_ACCOUNT") {
		t.Fatalf("inactive dave over REST: %d %s", st, body)
	}
	if st, body := crowd(t, ra, "POST", "/user", `<user name="erin"><first-name>Erin</first-name><last-name>E</last-name><email>erin@example.com</email><active>true</active><password><value>erin-password</value></password></user>`); st != 201 {
		t.Fatalf("create user over REST: %d %s", st, body)
	}
	if out := mustCLI(t, "cache", "user", "erin", "--config", cfg); !strings.Contains(out, "erin@example.com") {
		t.Fatalf("the user created over REST is not in the cache:\n%s", out)
	}
	if st, body := crowd(t, ra, "DELETE", "/user?username=erin", ""); st != 204 {
		t.Fatalf("delete user over REST: %d %s", st, body)
	}
	if st, _ := getURL(t, "http://"+ra+"/readyz"); st != 200 {
		t.Fatalf("readyz: %d", st)
	}
	if st, body := getURL(t, "http://"+ra+"/metrics"); st != 200 || !strings.Contains(body, `dirgate_rest_requests_total{route="/rest/usermanagement/1/authentication",status="200"} 1`) ||
		!strings.Contains(body, `dirgate_upstream_users{upstream="internal"} 4`) {
		t.Fatalf("metrics on the REST listener: %d\n%s", st, body)
	}

	if code, _, errOut := runCLI(t, "", "cache", "user", "nobody", "--config", cfg); code == 0 || !strings.Contains(errOut, `no user "nobody"`) {
		t.Fatalf("unknown user: %d %s", code, errOut)
	}
	if out := mustCLI(t, "sync", "--config", cfg); !strings.Contains(out, "internal") || !strings.Contains(out, "ok") {
		t.Fatalf("sync through serve:\n%s", out)
	}
	srv.stop(t)
	if _, err := os.Stat(admin.SocketPath(dataDir)); !os.IsNotExist(err) {
		t.Fatalf("socket left after shutdown: %v", err)
	}
	// The same commands against the store itself print the same.
	for _, c := range commands {
		k := strings.Join(c, " ")
		if got := mustCLI(t, append(c, "--config", cfg)...); got != live[k] {
			t.Errorf("%s differs without serve:\n--- with serve\n%s\n--- without\n%s", k, live[k], got)
		}
	}
}

func TestProgressOnTerminalOnly(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf) // a buffer is not a terminal
	p.report(admin.Progress{Upstream: "staff", Fetched: 500})
	p.done()
	if buf.Len() != 0 {
		t.Fatalf("progress written to a non-terminal: %q", buf.String())
	}
	p = &progress{w: &buf, tty: true, started: map[string]time.Time{}}
	p.report(admin.Progress{Upstream: "staff", Fetched: 500})
	p.report(admin.Progress{Upstream: "staff", Fetched: 1000})
	p.done()
	out := buf.String()
	if !strings.Contains(out, "syncing staff: 1000 entries fetched (") || !strings.Contains(out, "/s)") || !strings.HasSuffix(out, "\r\033[K") {
		t.Fatalf("progress output %q", out)
	}
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestExamplesCheck: every bundled example passes `config check` once its
// secrets are in the environment.
func TestExamplesCheck(t *testing.T) {
	for _, v := range []string{"STAFF_LDAP_PASSWORD", "JIRA_API_TOKEN", "ATLASSIAN_ORG_API_KEY"} {
		t.Setenv(v, "example-secret")
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		if filepath.Base(f) == "users.yaml" {
			continue // a seed file, not a configuration
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			if code, out, errOut := runCLI(t, "", "config", "check", "--config", f); code != 0 {
				t.Errorf("config check %s: exit %d\n%s%s", f, code, out, errOut)
			}
		})
	}
}
