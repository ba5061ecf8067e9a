package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/restfront/admin"
)

// upstreamOpts override parts of the ldap upstream ldapConfig writes.
type upstreamOpts struct {
	url, bindDN, bindPassword, extra string
}

// ldapConfig writes a configuration with one ldap upstream "staff" reading
// srv as its admin, and returns its path.
func ldapConfig(t *testing.T, dir string, srv *slapdtest.Server, o upstreamOpts) string {
	t.Helper()
	if o.url == "" {
		o.url = srv.URL()
	}
	if o.bindDN == "" {
		o.bindDN = srv.AdminDN()
	}
	if o.bindPassword == "" {
		o.bindPassword = "${DIRGATE_TEST_BIND_PASSWORD}"
	}
	cfg := fmt.Sprintf(`data_dir: ./data
base_dn: dc=example,dc=com
log: {level: debug}
ldap: {listen: ""}
rest: {listen: ""}
upstreams:
  - name: staff
    type: ldap
    urls: [%s]
    bind_dn: %s
    bind_password: %s
    user_base: %s
    group_base: %s
    timeout: 5s
%s`, o.url, o.bindDN, o.bindPassword, srv.PeopleDN(), srv.GroupsDN(), o.extra)
	path := filepath.Join(dir, "dirgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DIRGATE_TEST_BIND_PASSWORD", srv.AdminPassword())
	return path
}

func statusOf(t *testing.T, cfg string) admin.UpstreamStatus {
	t.Helper()
	var st admin.Status
	if err := json.Unmarshal([]byte(mustCLI(t, "status", "--json", "--config", cfg)), &st); err != nil {
		t.Fatal(err)
	}
	return st.Upstreams[0]
}

func userCount(t *testing.T, cfg string) int {
	t.Helper()
	var l []admin.UserSummary
	if err := json.Unmarshal([]byte(mustCLI(t, "cache", "users", "--json", "--config", cfg)), &l); err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// TestSyncAndDeletionGuard: a one-shot sync from slapd, the deletion guard
// refusing a sync that removes half of the users, --allow-deletes applying
// it, and status telling the truth after each.
func TestSyncAndDeletionGuard(t *testing.T) {
	srv := slapdtest.Start(t)
	for i := range 10 {
		srv.AddUser(t, fmt.Sprintf("u%02d", i))
	}
	srv.AddGroup(t, "devs", srv.UserDN("u00"), srv.UserDN("u01"))
	cfg := ldapConfig(t, t.TempDir(), srv, upstreamOpts{})

	out := mustCLI(t, "sync", "--config", cfg)
	if !strings.Contains(out, "staff") || !strings.Contains(out, "full") || !strings.Contains(out, "10 users, 1 groups") {
		t.Fatalf("sync output:\n%s", out)
	}
	st := statusOf(t, cfg)
	if st.State != cache.StateConnected || st.Users != 10 || st.LastFull == nil || st.LastFull.Result.UsersAdded != 10 {
		t.Fatalf("status after sync %+v", st)
	}
	if !strings.Contains(mustCLI(t, "status", "--config", cfg), "connected") {
		t.Fatal("status table lacks the state")
	}

	for i := range 5 {
		srv.Delete(t, srv.UserDN(fmt.Sprintf("u%02d", i+5)))
	}
	code, out, errOut := runCLI(t, "", "sync", "--full", "--config", cfg)
	if code == 0 || !strings.Contains(out, "would delete 5 of 10 users") || !strings.Contains(out, "--allow-deletes") {
		t.Fatalf("guarded sync: exit %d\n%s%s", code, out, errOut)
	}
	if n := userCount(t, cfg); n != 10 {
		t.Fatalf("the guarded sync changed the cache: %d users", n)
	}
	st = statusOf(t, cfg)
	if st.State != cache.StateError || !strings.Contains(st.LastError, "would delete 5 of 10 users") || st.LastSuccess.IsZero() {
		t.Fatalf("status after the guard %+v", st)
	}
	out = mustCLI(t, "sync", "--full", "--allow-deletes", "--upstream", "staff", "--config", cfg)
	if !strings.Contains(out, "-5") {
		t.Fatalf("allow-deletes output:\n%s", out)
	}
	if n := userCount(t, cfg); n != 5 {
		t.Fatalf("after --allow-deletes: %d users", n)
	}
	if st := statusOf(t, cfg); st.State != cache.StateConnected {
		t.Fatalf("status after --allow-deletes %+v", st)
	}
	if code, _, errOut := runCLI(t, "", "sync", "--upstream", "nope", "--config", cfg); code == 0 || !strings.Contains(errOut, `no upstream "nope"`) {
		t.Fatalf("unknown upstream: %d %s", code, errOut)
	}
}

// TestBadUpstreamsChangeNothing: an unreachable upstream, wrong service
// credentials and a filter the upstream refuses each give a clear error,
// and the cache keeps what it had.
func TestBadUpstreamsChangeNothing(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(`
dn: cn=reader,dc=example,dc=com
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-pw
`), slapdtest.WithConfig(`limits dn.exact="cn=reader,dc=example,dc=com" size.unchecked=5`))
	for i := range 8 {
		srv.AddUser(t, fmt.Sprintf("u%02d", i))
	}
	dir := t.TempDir()
	mustCLI(t, "sync", "--config", ldapConfig(t, dir, srv, upstreamOpts{}))

	dead := slapdtest.Start(t)
	deadURL := dead.URL()
	dead.Stop()
	for _, tc := range []struct {
		name string
		o    upstreamOpts
		want string
	}{
		{"unreachable", upstreamOpts{url: deadURL}, "no LDAP server answered"},
		{"credentials", upstreamOpts{bindPassword: "wrong"}, "rejected dirgate's credentials"},
		{"filter", upstreamOpts{bindDN: "cn=reader,dc=example,dc=com", bindPassword: "reader-pw", extra: "    user_filter: (description=*)\n"}, "(description=*)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ldapConfig(t, dir, srv, tc.o)
			code, out, errOut := runCLI(t, "", "sync", "--full", "--config", cfg)
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want an error naming %q:\n%s%s", code, tc.want, out, errOut)
			}
			if strings.Contains(out+errOut, srv.AdminPassword()) || strings.Contains(out+errOut, "reader-pw") {
				t.Fatal("a password was printed")
			}
			if n := userCount(t, cfg); n != 8 {
				t.Fatalf("a failed sync changed the cache: %d users", n)
			}
			if st := statusOf(t, cfg); st.State != cache.StateError || !strings.Contains(st.LastError, tc.want) {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

// TestServeSurvivesUpstreamOutage: slapd stops while serve runs; the old
// data is still served, status says error and when the last sync
// succeeded; slapd comes back and serve recovers without a restart.
func TestServeSurvivesUpstreamOutage(t *testing.T) {
	srv := slapdtest.Start(t)
	srv.AddUser(t, "alice")
	srv.AddGroup(t, "devs", srv.UserDN("alice"))
	cfg := ldapConfig(t, t.TempDir(), srv, upstreamOpts{extra: "    refresh: {interval: 1s, full_every: 24h}\n"})
	s := startServe(t, cfg)
	waitStatus(t, cfg, func(st admin.UpstreamStatus) bool { return st.State == cache.StateConnected && st.Users == 1 })

	srv.Stop()
	st := waitStatus(t, cfg, func(st admin.UpstreamStatus) bool { return st.State == cache.StateError })
	if !strings.Contains(st.LastError, "no LDAP server answered") || st.LastSuccess.IsZero() || st.NextRun.IsZero() {
		t.Fatalf("status during the outage %+v", st)
	}
	out := mustCLI(t, "status", "--config", cfg)
	if !strings.Contains(out, "error:") || !strings.Contains(out, "the last good sync's") {
		t.Fatalf("status table during the outage:\n%s", out)
	}
	if !strings.Contains(mustCLI(t, "cache", "user", "alice", "--config", cfg), "devs") {
		t.Fatal("alice not served during the outage")
	}

	srv.Restart()
	srv.AddUser(t, "bob")
	waitStatus(t, cfg, func(st admin.UpstreamStatus) bool { return st.State == cache.StateConnected && st.Users == 2 })
	if !strings.Contains(s.stderr.String(), "sync failed; serving the last good data") {
		t.Error("the outage was not logged")
	}
}

// waitStatus polls status through the serve process until ok (at most 60s).
func waitStatus(t *testing.T, cfg string, ok func(admin.UpstreamStatus) bool) admin.UpstreamStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := statusOf(t, cfg)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never reached the expected state; last: %+v", st)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, not synchronising on time
	}
}

// TestKilledSyncLeavesPreviousState kills a `dirgate sync` child part-way
// through writing a big change (and, second case, between committing it
// and cleaning up) and checks that the store is readable and consistent,
// and that the next sync completes.
func TestKilledSyncLeavesPreviousState(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 25,000-user directory")
	}
	ldif := filepath.Join(t.TempDir(), "data.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		t.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, slapdtest.DataSpec{Users: 25000, Groups: 500, Memberships: 50000, NestEvery: 10}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	srv := slapdtest.Start(t, slapdtest.WithLDIFFile(ldif), slapdtest.WithLDIFIncludesBase())
	dir := t.TempDir()
	cfg := ldapConfig(t, dir, srv, upstreamOpts{})
	mustCLI(t, "sync", "--config", cfg)
	before := mustCLI(t, "cache", "export", "--config", cfg)

	// A new display_name mapping changes every user: a big apply.
	remapped := ldapConfig(t, dir, srv, upstreamOpts{extra: "    attributes: {display_name: uid}\n"})
	const remappedName = `"display_name":"user000001"`
	if strings.Contains(before, remappedName) {
		t.Fatal("the fixture already has the remapped display names")
	}
	for _, fp := range []struct {
		name      string
		wantAfter string // "before" or "after": the state the kill must leave
	}{
		{"mid-generation", "before"},
		{"after-flip", "after"},
	} {
		t.Run(fp.name, func(t *testing.T) {
			cmd := exec.Command(binary, "sync", "--config", remapped)
			cmd.Env = append(os.Environ(), "DIRGATE_FAILPOINT="+fp.name)
			lines := newLineBuffer()
			cmd.Stderr = lines
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if !lines.waitFor("FAILPOINT "+fp.name+" reached", done, 120*time.Second) {
				cmd.Process.Kill()
				t.Fatalf("the sync never reached the failpoint:\n%s", lines.String())
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done

			got := mustCLI(t, "cache", "export", "--config", remapped)
			if fp.wantAfter == "before" && got != before {
				t.Fatal("after a kill mid-write the store differs from the previous state")
			}
			if fp.wantAfter == "after" && !strings.Contains(got, remappedName) {
				t.Fatal("after a kill past the commit the store does not hold the new state")
			}
			st := statusOf(t, remapped)
			if st.Users != 25000 {
				t.Fatalf("status after the kill %+v", st)
			}
			if fp.wantAfter == "before" && st.State != cache.StateError {
				t.Fatalf("an interrupted sync must show as an error: %+v", st)
			}
		})
	}
	// The next sync completes.
	mustCLI(t, "sync", "--config", remapped)
	if st := statusOf(t, remapped); st.State != cache.StateConnected || st.Users != 25000 {
		t.Fatalf("status after the next sync %+v", st)
	}
	if !strings.Contains(mustCLI(t, "cache", "export", "--config", remapped), remappedName) {
		t.Fatal("the remapped display names were not applied")
	}
}
