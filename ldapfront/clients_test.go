package ldapfront

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/upstream"
	ldapup "github.com/dirgate/dirgate/upstream/ldap"
)

// ldapsearch runs OpenLDAP's client; a missing ldap-utils fails in CI.
func ldapsearch(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("ldapsearch")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ldapsearch not installed: install ldap-utils (make test does)")
		}
		t.Skip("ldapsearch not installed")
	}
	cmd := exec.Command(bin, append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=10"}, args...)...)
	cmd.Env = append(append(os.Environ(), "LDAPCONF=/dev/null", "LDAPRC=/nonexistent"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestLdapsearch(t *testing.T) {
	e := tlsEnv(t)
	e.bulk(t, 10_000)
	bind := []string{"-D", "cn=reader,ou=services," + base, "-w", "reader-pw"}
	trust := []string{"LDAPTLS_CACERT=" + e.caFile, "LDAPTLS_REQCERT=demand"}

	for name, url := range map[string][]string{
		"plain":    {"-H", "ldap://" + e.addr},
		"starttls": {"-H", "ldap://" + e.addr, "-ZZ"},
		"ldaps":    {"-H", "ldaps://" + e.ldaps},
	} {
		args := append(append(url, bind...), "-b", base, "(&(objectClass=inetOrgPerson)(uid=alice))", "uid", "memberOf")
		out, err := ldapsearch(t, trust, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		for _, want := range []string{"dn: uid=alice,ou=users," + base, "uid: alice", "memberOf: cn=all,ou=groups," + base} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", name, want, out)
			}
		}
	}

	// Bind as a user by username, with the wrong password, with an empty one.
	out, err := ldapsearch(t, nil, "-H", "ldap://"+e.addr, "-D", "bob", "-w", "bob-pw", "-b", base, "-s", "base", "(objectClass=*)", "1.1")
	if err != nil || !strings.Contains(out, "dn: "+base) {
		t.Fatalf("bind as bob: %v\n%s", err, out)
	}
	out, err = ldapsearch(t, nil, "-H", "ldap://"+e.addr, "-D", "bob", "-w", "nope", "-b", base, "(uid=bob)")
	if err == nil || !strings.Contains(out, "Invalid credentials (49)") {
		t.Fatalf("wrong password: %v\n%s", err, out)
	}

	// Paging over 10,000 entries: every entry exactly once.
	out, err = ldapsearch(t, nil, append(append([]string{"-H", "ldap://" + e.addr}, bind...),
		"-E", "pr=100/noprompt", "-b", "ou=users,"+base, "-s", "one", "(objectClass=inetOrgPerson)", "1.1")...)
	if err != nil {
		t.Fatalf("paged ldapsearch: %v\n%.2000s", err, out)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if dn, ok := strings.CutPrefix(line, "dn: "); ok {
			if seen[dn] {
				t.Fatalf("%s returned twice", dn)
			}
			seen[dn] = true
		}
	}
	if len(seen) != 10_004 {
		t.Fatalf("paged ldapsearch returned %d entries", len(seen))
	}

	// Size limit.
	out, err = ldapsearch(t, nil, append(append([]string{"-H", "ldap://" + e.addr}, bind...), "-z", "5", "-b", "ou=users,"+base, "(objectClass=*)", "1.1")...)
	if err == nil || !strings.Contains(out, "Size limit exceeded (4)") || strings.Count(out, "dn: ") != 5 {
		t.Fatalf("size limit: %v\n%s", err, out)
	}

	// Root DSE and schema discovery, anonymously.
	out, err = ldapsearch(t, nil, "-H", "ldap://"+e.addr, "-b", "", "-s", "base", "+")
	if err != nil || !strings.Contains(out, "namingContexts: "+base) || !strings.Contains(out, "supportedExtension: 1.3.6.1.4.1.1466.20037") {
		t.Fatalf("root DSE: %v\n%s", err, out)
	}
	out, err = ldapsearch(t, nil, "-H", "ldap://"+e.addr, "-b", "cn=Subschema", "-s", "base", "(objectClass=subschema)", "objectClasses")
	if err != nil || !strings.Contains(out, "NAME 'inetOrgPerson'") {
		t.Fatalf("schema: %v\n%s", err, out)
	}
}

// TestPassThroughBind binds users that live in a real slapd: the password
// goes to slapd; slapd down is "unavailable", not "invalid credentials".
func TestPassThroughBind(t *testing.T) {
	srv := slapdtest.Start(t)
	srv.AddUser(t, "erin")
	srv.AddUser(t, "frank")
	store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"staff"}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	up, err := ldapup.Open("staff", ldapup.Config{URLs: []string{srv.URL()}, BindDN: srv.AdminDN(),
		BindPassword: secret.String(srv.AdminPassword()), UserBase: srv.PeopleDN(), GroupBase: srv.GroupsDN()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	res, err := up.Sync(context.Background(), upstream.SyncRequest{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.ApplySync(context.Background(), "staff", res, cache.SyncOptions{MaxDeletePercent: 100}); err != nil {
		t.Fatal(err)
	}
	fe, err := New(Config{Listen: "127.0.0.1:0", Tree: &Tree{BaseDN: base, TransitiveMemberOf: true},
		Checkers: map[string]upstream.PasswordChecker{"staff": up}}, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := fe.Start(); err != nil {
		t.Fatal(err)
	}
	defer fe.Shutdown(context.Background())
	addr, _ := fe.Addrs()
	bind := func(name, pw string) error {
		c, err := goldap.DialURL("ldap://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetTimeout(20 * time.Second)
		return c.Bind(name, pw)
	}
	if err := bind("erin", slapdtest.UserPassword("erin")); err != nil {
		t.Fatalf("pass-through bind: %v", err)
	}
	if err := bind("uid=frank,ou=users,"+base, slapdtest.UserPassword("frank")); err != nil {
		t.Fatalf("pass-through bind by DN: %v", err)
	}
	if err := bind("erin", slapdtest.UserPassword("frank")); code(err) != goldap.LDAPResultInvalidCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	srv.Stop()
	if err := bind("erin", slapdtest.UserPassword("erin")); code(err) != goldap.LDAPResultUnavailable {
		t.Fatalf("slapd down: %v", err)
	}
	srv.Restart()
	if err := bind("erin", slapdtest.UserPassword("erin")); err != nil {
		t.Fatalf("after slapd restarted: %v", err)
	}
}
