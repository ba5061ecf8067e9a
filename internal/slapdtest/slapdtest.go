// Package slapdtest runs a real OpenLDAP slapd for tests and benchmarks.
//
// Start writes a slapd.conf into a temporary directory (schemas core,
// cosine, inetorgperson and nis; back-mdb with the indexes a directory
// gateway searches by), bulk-loads LDIF with slapadd before the server
// starts, runs slapd on a free loopback port, waits until it answers an
// LDAP bind, and stops it when the test ends. Tests then talk to URL() with
// any LDAP client; the mutators (AddUser, AddGroup, Modify, SetMembers,
// Delete) are online writes through an admin connection.
//
// slapd comes from Debian's slapd package (ldap-utils for the command-line
// tools). When it is missing, Start skips the test, or fails it when the
// environment variable CI is "true", because CI must never silently skip the
// LDAP tests.
//
// This is an ordinary package (not a _test.go file) so that the tests and
// benchmarks of several packages can share it. Production code must not
// import it.
package slapdtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Defaults.
const (
	DefaultSuffix        = "dc=example,dc=com"
	DefaultAdminPassword = "secret"
)

// How long Start and Restart wait for slapd to answer, and how long Stop
// waits for it to exit after SIGTERM before killing it.
const (
	readyTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
	// maxSize is the mdb map size: 8 GiB of address space (the file is
	// sparse), far more than 200,000 generated entries need.
	maxSize = 8 << 30
)

// Where Debian, Fedora/RHEL and source installs put slapd's pieces.
var (
	binDirs    = []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/libexec"}
	schemaDirs = []string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema"}
	moduleDirs = []string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/local/libexec/openldap"}
)

// Option configures Start.
type Option func(*options)

type options struct {
	suffix       string
	password     string
	ldif         []string // inline LDIF, loaded in order after the base entries
	ldifFiles    []string // files, loaded after the inline LDIF
	includesBase bool
	memberOf     bool
	dynlist      bool
	extraConfig  []string
	debug        string
	tls          bool
}

// WithSuffix sets the database suffix (default dc=example,dc=com). The
// admin DN is cn=admin,<suffix>.
func WithSuffix(dn string) Option { return func(o *options) { o.suffix = dn } }

// WithAdminPassword sets the rootpw of cn=admin,<suffix> (default "secret").
func WithAdminPassword(pw string) Option { return func(o *options) { o.password = pw } }

// WithLDIF bulk-loads LDIF text with slapadd before slapd starts. It may be
// given several times. Entries must come after their parents.
func WithLDIF(ldif string) Option { return func(o *options) { o.ldif = append(o.ldif, ldif) } }

// WithLDIFFile bulk-loads an LDIF file (use it for big generated data, see
// GenerateLDIF). It may be given several times.
func WithLDIFFile(path string) Option {
	return func(o *options) { o.ldifFiles = append(o.ldifFiles, path) }
}

// WithLDIFIncludesBase says the LDIF creates the suffix entry, ou=people and
// ou=groups itself (GenerateLDIF does), so Start does not add them.
func WithLDIFIncludesBase() Option { return func(o *options) { o.includesBase = true } }

// WithMemberOf enables the memberof overlay: online writes to a
// groupOfNames' member keep the direct memberOf of its members. Bulk-loaded
// data does not go through overlays; GenerateLDIF writes memberOf itself
// when DataSpec.MemberOf is set.
func WithMemberOf() Option { return func(o *options) { o.memberOf = true } }

// WithDynlist enables the dynlist overlay computing nested memberOf at
// search time (dynlist-attrset groupOfURLs memberURL
// member+memberOf@groupOfNames*). It is slow on big directories.
func WithDynlist() Option { return func(o *options) { o.dynlist = true } }

// WithConfig appends lines to the database section of slapd.conf (access
// rules, limits, more indexes).
func WithConfig(lines ...string) Option {
	return func(o *options) { o.extraConfig = append(o.extraConfig, lines...) }
}

// WithDebug sets slapd's -d debug level (default "none": errors only). For
// example "stats" logs every operation into the output shown on failure.
func WithDebug(level string) Option { return func(o *options) { o.debug = level } }

// Server is a running (or stopped) slapd.
type Server struct {
	t         testing.TB
	opts      options
	slapd     string
	dir       string
	confPath  string
	pidPath   string
	logPath   string
	adminDN   string
	peopleDN  string
	groupsDN  string
	portValue int
	tlsPort   int // LDAPS, with WithTLS

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	logFile *os.File
	admin   *goldap.Conn // cached connection of the mutators
}

// Start configures, loads and starts a slapd, and stops it when the test
// ends. See the package documentation.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{suffix: DefaultSuffix, password: DefaultAdminPassword, debug: "none"}
	for _, opt := range opts {
		opt(&o)
	}
	if _, err := goldap.ParseDN(o.suffix); err != nil || strings.TrimSpace(o.suffix) == "" {
		t.Fatalf("slapdtest: suffix %q is not a DN: %v", o.suffix, err)
	}

	slapd, slapadd, schemaDir, moduleDir := findInstall(t)

	dir := t.TempDir()
	s := &Server{
		t:        t,
		opts:     o,
		slapd:    slapd,
		dir:      dir,
		confPath: filepath.Join(dir, "slapd.conf"),
		pidPath:  filepath.Join(dir, "slapd.pid"),
		logPath:  filepath.Join(dir, "slapd.log"),
		adminDN:  "cn=admin," + o.suffix,
		peopleDN: "ou=people," + o.suffix,
		groupsDN: "ou=groups," + o.suffix,
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	if o.tls {
		if err := writeTLSFiles(dir); err != nil {
			t.Fatalf("slapdtest: making TLS certificates: %v", err)
		}
	}
	if err := os.WriteFile(s.confPath, []byte(s.config(schemaDir, moduleDir)), 0o600); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	s.logFile = logFile
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("slapdtest: slapd output (%s):\n%s", s.logPath, s.logTail(64<<10))
		}
	})
	t.Cleanup(func() {
		s.Stop()
		_ = s.logFile.Close()
	})

	s.load(t, slapadd)

	// A port picked by listening on :0 and closing may be taken by someone
	// else before slapd binds it: try a few ports.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("slapdtest: finding a free port: %v", err)
		}
		s.portValue = port
		if o.tls {
			if s.tlsPort, err = freePort(); err != nil {
				t.Fatalf("slapdtest: finding a free port: %v", err)
			}
		}
		lastErr = s.start()
		if lastErr == nil {
			return s
		}
		if !errors.Is(lastErr, errAddrInUse) {
			break
		}
	}
	t.Fatalf("slapdtest: starting slapd: %v\nslapd output:\n%s", lastErr, s.logTail(16<<10))
	return nil
}

func findInstall(t testing.TB) (slapd, slapadd, schemaDir, moduleDir string) {
	t.Helper()
	missing := func(what string) {
		msg := fmt.Sprintf("slapdtest: %s not found; install OpenLDAP's slapd and ldap-utils "+
			"(`make test` does: DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils)", what)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	slapd = findBinary("slapd")
	if slapd == "" {
		missing("slapd")
	}
	slapadd = findBinary("slapadd")
	if slapadd == "" {
		missing("slapadd")
	}
	for _, d := range schemaDirs {
		if _, err := os.Stat(filepath.Join(d, "core.schema")); err == nil {
			schemaDir = d
			break
		}
	}
	if schemaDir == "" {
		missing("the OpenLDAP schema directory (core.schema)")
	}
	for _, d := range moduleDirs {
		for _, f := range []string{"back_mdb.so", "back_mdb.la"} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				return slapd, slapadd, schemaDir, d
			}
		}
	}
	// No module directory: assume back-mdb and the overlays are built in.
	return slapd, slapadd, schemaDir, ""
}

func findBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range binDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// quote makes a slapd.conf argument of s.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (s *Server) config(schemaDir, moduleDir string) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# written by internal/slapdtest")
	schemas := []string{"core", "cosine", "inetorgperson", "nis"}
	if s.opts.dynlist {
		schemas = append(schemas, "dyngroup")
	}
	for _, name := range schemas {
		line("include %s", quote(filepath.Join(schemaDir, name+".schema")))
	}
	line("pidfile %s", quote(s.pidPath))
	line("argsfile %s", quote(filepath.Join(s.dir, "slapd.args")))
	if moduleDir != "" {
		line("modulepath %s", quote(moduleDir))
		line("moduleload back_mdb")
		if s.opts.memberOf {
			line("moduleload memberof")
		}
		if s.opts.dynlist {
			line("moduleload dynlist")
		}
	}
	if s.opts.tls {
		line("TLSCACertificateFile %s", quote(s.CAFile()))
		line("TLSCertificateFile %s", quote(filepath.Join(s.dir, "server.pem")))
		line("TLSCertificateKeyFile %s", quote(filepath.Join(s.dir, "server.key")))
	}
	line("sizelimit unlimited")
	line("timelimit unlimited")
	line("tool-threads 2")
	line("")
	line("database mdb")
	line("suffix %s", quote(s.opts.suffix))
	line("rootdn %s", quote(s.adminDN))
	line("rootpw %s", quote(s.opts.password))
	line("directory %s", quote(filepath.Join(s.dir, "db")))
	line("maxsize %d", maxSize)
	line("dbnosync")
	line("limits dn.exact=%s size=unlimited time=unlimited", quote(s.adminDN))
	// An eq index on a generalizedTime attribute also serves >= and <=
	// (back-mdb's inequality lookups read the ordered eq keys): a
	// (modifyTimestamp>=...) search is answered from the index.
	for _, attr := range []string{"objectClass", "uid", "cn", "mail", "member", "modifyTimestamp", "entryUUID"} {
		line("index %s eq", attr)
	}
	if s.opts.memberOf {
		line("index memberOf eq")
		line("overlay memberof")
		line("memberof-group-oc groupOfNames")
		line("memberof-member-ad member")
		line("memberof-memberof-ad memberOf")
		line("memberof-refint true")
	}
	if s.opts.dynlist {
		line("overlay dynlist")
		line("dynlist-attrset groupOfURLs memberURL member+memberOf@groupOfNames*")
	}
	for _, l := range s.opts.extraConfig {
		line("%s", l)
	}
	return b.String()
}

// baseLDIF creates the suffix entry, ou=people and ou=groups.
func (s *Server) baseLDIF() string {
	return BaseLDIF(s.opts.suffix)
}

// BaseLDIF returns the LDIF of the suffix entry (a dcObject/organization for
// a dc= suffix, an organization or organizationalUnit otherwise), ou=people
// and ou=groups below it.
func BaseLDIF(suffix string) string {
	var b strings.Builder
	writeBaseEntries(&b, suffix)
	return b.String()
}

func writeBaseEntries(b *strings.Builder, suffix string) {
	dn, _ := goldap.ParseDN(suffix)
	b.WriteString("dn: " + suffix + "\n")
	if dn != nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
		a := dn.RDNs[0].Attributes[0]
		switch strings.ToLower(a.Type) {
		case "dc":
			b.WriteString("objectClass: dcObject\nobjectClass: organization\n")
			b.WriteString("dc: " + a.Value + "\no: " + a.Value + "\n")
		case "o":
			b.WriteString("objectClass: organization\no: " + a.Value + "\n")
		case "ou":
			b.WriteString("objectClass: organizationalUnit\nou: " + a.Value + "\n")
		default:
			b.WriteString("objectClass: extensibleObject\nobjectClass: organization\no: base\n")
		}
	}
	b.WriteString("\ndn: ou=people," + suffix + "\nobjectClass: organizationalUnit\nou: people\n")
	b.WriteString("\ndn: ou=groups," + suffix + "\nobjectClass: organizationalUnit\nou: groups\n\n")
}

// load runs slapadd for the base entries and every LDIF option.
func (s *Server) load(t testing.TB, slapadd string) {
	t.Helper()
	var files []string
	var inline strings.Builder
	if !s.opts.includesBase {
		inline.WriteString(s.baseLDIF())
	}
	for _, l := range s.opts.ldif {
		inline.WriteString(strings.TrimSpace(l))
		inline.WriteString("\n\n")
	}
	if inline.Len() > 0 {
		p := filepath.Join(s.dir, "data.ldif")
		if err := os.WriteFile(p, []byte(inline.String()), 0o600); err != nil {
			t.Fatalf("slapdtest: %v", err)
		}
		files = append(files, p)
	}
	files = append(files, s.opts.ldifFiles...)
	for _, f := range files {
		cmd := exec.Command(slapadd, "-q", "-f", s.confPath, "-l", f)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("slapdtest: slapadd -l %s: %v\n%s", f, err, out)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

var errAddrInUse = errors.New("address already in use")

// start runs slapd on s.port and waits until it answers.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("slapd is running already")
	}
	_ = os.Remove(s.pidPath) // a stale pid file from a killed slapd
	offset := s.logSize()
	fmt.Fprintf(s.logFile, "--- slapdtest: starting slapd on port %d at %s\n", s.portValue, time.Now().Format(time.RFC3339Nano))
	// -d keeps slapd in the foreground so that we own the process; "none"
	// prints errors only.
	urls := s.URL() + "/"
	if s.opts.tls {
		urls += " " + s.LDAPSURL() + "/"
	}
	cmd := exec.Command(s.slapd, "-f", s.confPath, "-h", urls, "-d", s.opts.debug)
	cmd.Stdout = s.logFile
	cmd.Stderr = s.logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	if err := s.waitReady(exited); err != nil {
		s.kill()
		if bytes.Contains(s.logSince(offset), []byte("Address already in use")) {
			return fmt.Errorf("port %d: %w", s.portValue, errAddrInUse)
		}
		return err
	}
	return nil
}

// waitReady polls until slapd has written its pid file and answers an admin
// bind, slapd exits, or readyTimeout passes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-exited:
			return fmt.Errorf("slapd exited during start-up (last check: %v)", lastErr)
		default:
		}
		if _, err := os.Stat(s.pidPath); err != nil {
			lastErr = err
		} else if lastErr = s.ping(); lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slapd not ready after %s: %v", readyTimeout, lastErr)
		}
		select {
		case <-exited:
		case <-tick.C:
		}
	}
}

// ping binds as the admin on a fresh connection.
func (s *Server) ping() error {
	c, err := s.dial(time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Bind(s.adminDN, s.opts.password)
}

func (s *Server) dial(timeout time.Duration) (*goldap.Conn, error) {
	c, err := goldap.DialURL(s.URL(), goldap.DialWithDialer(&net.Dialer{Timeout: timeout}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(timeout)
	return c, nil
}

// kill stops the process: SIGTERM, then SIGKILL after stopTimeout. s.mu is
// held.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.exited:
	case <-timer.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd, s.exited = nil, nil
}

// Stop stops slapd and waits for it to exit. The data stays; Restart starts
// it again. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// Restart starts a stopped server again on the same port with the same data
// and waits until it answers (a running server is stopped first). It fails
// the test that called Start if slapd does not come back; call it from that
// test's goroutine.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("slapdtest: restarting slapd on port %d: %v\nslapd output:\n%s", s.portValue, err, s.logTail(16<<10))
	}
}

// Running reports whether slapd is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// URL is ldap://127.0.0.1:PORT (no trailing slash).
func (s *Server) URL() string { return "ldap://127.0.0.1:" + strconv.Itoa(s.portValue) }

// Port is the TCP port slapd listens on; it stays the same across Restart.
func (s *Server) Port() int { return s.portValue }

// LDAPSURL is ldaps://127.0.0.1:PORT, with WithTLS ("" without).
func (s *Server) LDAPSURL() string {
	if !s.opts.tls {
		return ""
	}
	return "ldaps://127.0.0.1:" + strconv.Itoa(s.tlsPort)
}

// CAFile is the PEM file of the CA that issued slapd's certificate, with
// WithTLS ("" without).
func (s *Server) CAFile() string {
	if !s.opts.tls {
		return ""
	}
	return filepath.Join(s.dir, "ca.pem")
}

// BaseDN is the database suffix.
func (s *Server) BaseDN() string { return s.opts.suffix }

// AdminDN is the rootdn, cn=admin,<suffix>.
func (s *Server) AdminDN() string { return s.adminDN }

// AdminPassword is the rootdn's password.
func (s *Server) AdminPassword() string { return s.opts.password }

// PeopleDN is ou=people,<suffix>, where AddUser puts users.
func (s *Server) PeopleDN() string { return s.peopleDN }

// GroupsDN is ou=groups,<suffix>, where AddGroup puts groups.
func (s *Server) GroupsDN() string { return s.groupsDN }

// UserDN is the DN AddUser gives uid: uid=<uid>,ou=people,<suffix>.
func (s *Server) UserDN(uid string) string {
	return "uid=" + goldap.EscapeDN(uid) + "," + s.peopleDN
}

// GroupDN is the DN AddGroup gives cn: cn=<cn>,ou=groups,<suffix>.
func (s *Server) GroupDN(cn string) string {
	return "cn=" + goldap.EscapeDN(cn) + "," + s.groupsDN
}

// Dir is the server's temporary directory (slapd.conf, db/, slapd.log).
func (s *Server) Dir() string { return s.dir }

// Conn returns a new connection bound as the admin, closed when t ends.
func (s *Server) Conn(t testing.TB) *goldap.Conn {
	t.Helper()
	c, err := s.dial(10 * time.Second)
	if err != nil {
		t.Fatalf("slapdtest: dialling %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(s.adminDN, s.opts.password); err != nil {
		t.Fatalf("slapdtest: binding as %s: %v", s.adminDN, err)
	}
	return c
}

// adminConn returns the mutators' cached admin connection, redialling it
// after a restart.
func (s *Server) adminConn() (*goldap.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin != nil && !s.admin.IsClosing() {
		return s.admin, nil
	}
	if s.cmd == nil {
		return nil, errors.New("slapd is stopped")
	}
	c, err := s.dial(10 * time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(s.adminDN, s.opts.password); err != nil {
		c.Close()
		return nil, err
	}
	s.admin = c
	return c, nil
}

func (s *Server) logSize() int64 {
	fi, err := s.logFile.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (s *Server) logSince(offset int64) []byte {
	b, _ := os.ReadFile(s.logPath)
	if offset < int64(len(b)) {
		return b[offset:]
	}
	return nil
}

func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = append([]byte("...\n"), b[len(b)-n:]...)
	}
	return string(b)
}
