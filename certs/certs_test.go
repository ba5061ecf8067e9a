package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// --- helpers ---------------------------------------------------------------

// logBuffer collects log output; handshakes log from server goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// fakeClock is the injectable clock; safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// checkEveryTime makes a Source look at its files on every handshake, so
// that tests need no sleeps.
var checkEveryTime = options{now: time.Now, checkInterval: 0}

// serveEcho runs a TLS echo server on a free loopback port until the test
// ends and returns its address.
func serveEcho(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tl := tls.NewListener(ln, cfg)
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c) // the handshake happens on the first read
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dial opens a TLS connection and completes the handshake.
func dial(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c, nil
}

func mustDial(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := dial(t, addr, cfg)
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	return c
}

// echo sends msg over c and checks that it comes back.
func echo(t *testing.T, c *tls.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

func peerFingerprint(c *tls.Conn) string {
	return fingerprint(c.ConnectionState().PeerCertificates[0].Raw)
}

func poolFromFile(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("no certificate in %s", path)
	}
	return pool
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustOpen(t *testing.T, cfg Config, opt options) *Source {
	t.Helper()
	s, err := open(cfg, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testCA is a CA made for configured-file tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	cert, key, err := newCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert, key}
}

func (ca testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// testPair is a server certificate and key as PEM.
type testPair struct {
	leaf            *x509.Certificate
	certPEM, keyPEM []byte
}

func (ca testCA) issue(t *testing.T, notBefore, notAfter time.Time, hosts ...string) testPair {
	t.Helper()
	hs, err := parseHosts(hosts)
	if err != nil {
		t.Fatal(err)
	}
	leaf, key, err := issueServer(ca.cert, ca.key, hs, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testPair{leaf: leaf, certPEM: encodeCert(leaf, ca.cert), keyPEM: keyPEM}
}

func (ca testCA) issueNow(t *testing.T) testPair {
	return ca.issue(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
}

func (p testPair) fingerprint() string { return fingerprint(p.leaf.Raw) }

// writeKey and writeCert replace a file the way deployment tools do: a new
// file renamed into place (a new inode).
func (p testPair) writeKey(t *testing.T, path string) {
	t.Helper()
	if err := writeFileAtomic(path, p.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (p testPair) writeCert(t *testing.T, path string) {
	t.Helper()
	if err := writeFileAtomic(path, p.certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p testPair) write(t *testing.T, certPath, keyPath string) {
	p.writeKey(t, keyPath)
	p.writeCert(t, certPath)
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %o, want %o", filepath.Base(path), got, want)
	}
}

// --- self-signed -----------------------------------------------------------

func TestSelfSignedCreatedThenReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs") // Open creates it
	cfg := Config{Dir: dir, Hosts: []string{"ldap.example.test", "192.0.2.10:636", "0.0.0.0"}}

	if _, err := ReadInfo(cfg); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("ReadInfo before the first start: err = %v, want ErrNoCertificate", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadInfo created %s", dir)
	}

	logger, logs := testLogger()
	cfg.Logger = logger
	s1 := mustOpen(t, cfg, options{now: time.Now, checkInterval: DefaultCheckInterval})
	info := s1.Info()

	// The files, their modes, and nothing else (no temporary files left).
	checkMode(t, dir, 0o700)
	checkMode(t, filepath.Join(dir, CAFileName), 0o644)
	checkMode(t, filepath.Join(dir, CAKeyFileName), 0o600)
	checkMode(t, filepath.Join(dir, ServerFileName), 0o644)
	checkMode(t, filepath.Join(dir, ServerKeyFileName), 0o600)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{CAKeyFileName, CAFileName, ServerKeyFileName, ServerFileName}; !slices.Equal(names, want) {
		t.Errorf("files in %s = %v, want %v", dir, names, want)
	}

	// The CA.
	caChain, err := readCertFile(filepath.Join(dir, CAFileName), true)
	if err != nil {
		t.Fatal(err)
	}
	ca := caChain[0]
	if !regexp.MustCompile(`^dirgate local CA [0-9a-f]{8}$`).MatchString(ca.Subject.CommonName) {
		t.Errorf("CA common name = %q", ca.Subject.CommonName)
	}
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("ca.pem is not a CA certificate")
	}
	if pub, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if years := ca.NotAfter.Sub(time.Now()).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("CA valid for %.2f years, want 10", years)
	}

	// The server certificate: leaf then CA in server.pem, described by Info.
	chain, err := readCertFile(filepath.Join(dir, ServerFileName), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[1].Equal(ca) {
		t.Fatalf("server.pem holds %d certificates, want the leaf and the CA", len(chain))
	}
	leaf := chain[0]
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("server key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	if days := leaf.NotAfter.Sub(time.Now()).Hours() / 24; days < 700 || days > 825 {
		t.Errorf("server certificate valid for %.0f days, want about two years", days)
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("server certificate lacks the serverAuth extended key usage")
	}
	if want := fingerprint(leaf.Raw); info.SHA256 != want {
		t.Errorf("Info.SHA256 = %s, want %s", info.SHA256, want)
	}
	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(info.SHA256) {
		t.Errorf("Info.SHA256 = %q, not in openssl's form", info.SHA256)
	}
	if !info.SelfSigned || info.CAFile != filepath.Join(dir, CAFileName) || info.CertFile != filepath.Join(dir, ServerFileName) {
		t.Errorf("Info = %+v, want self-signed with the files under %s", info, dir)
	}
	if info.Issuer != ca.Subject.String() || !strings.HasPrefix(info.Issuer, "CN=dirgate local CA ") {
		t.Errorf("Info.Issuer = %q, want the CA's subject %q", info.Issuer, ca.Subject)
	}
	for _, d := range []string{"ldap.example.test", "localhost"} {
		if !slices.Contains(info.DNSNames, d) {
			t.Errorf("Info.DNSNames = %v, lacks %s", info.DNSNames, d)
		}
	}
	if want := []string{"192.0.2.10", "127.0.0.1", "::1"}; !slices.Equal(info.IPs, want) {
		t.Errorf("Info.IPs = %v, want %v (0.0.0.0 skipped)", info.IPs, want)
	}
	if !strings.Contains(logs.String(), "created a local CA") {
		t.Errorf("creating the CA was not logged:\n%s", logs)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	// A second start, with a subset of the hosts, reuses everything.
	before := map[string][]byte{}
	for _, n := range names {
		before[n] = readFile(t, filepath.Join(dir, n))
	}
	cfg.Hosts = []string{"ldap.example.test"}
	s2 := mustOpen(t, cfg, options{now: time.Now, checkInterval: DefaultCheckInterval})
	if got := s2.Info().SHA256; got != info.SHA256 {
		t.Errorf("second start serves %s, want the same certificate %s", got, info.SHA256)
	}
	for _, n := range names {
		if !bytes.Equal(readFile(t, filepath.Join(dir, n)), before[n]) {
			t.Errorf("second start rewrote %s", n)
		}
	}

	// ReadInfo reads the same without the server.
	got, err := ReadInfo(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.SHA256 != info.SHA256 || got.CAFile != info.CAFile || !got.SelfSigned || !got.NotAfter.Equal(info.NotAfter) {
		t.Errorf("ReadInfo = %+v, want %+v", got, info)
	}
}

func TestSelfSignedHandshake(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, Config{Dir: dir}, options{now: time.Now, checkInterval: DefaultCheckInterval})
	if s.TLSConfig().MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", s.TLSConfig().MinVersion)
	}
	addr := serveEcho(t, s.TLSConfig())
	roots := poolFromFile(t, filepath.Join(dir, CAFileName))

	// tls.Dial takes the server name from the address: 127.0.0.1.
	for _, name := range []string{"", "localhost"} {
		c := mustDial(t, addr, &tls.Config{RootCAs: roots, ServerName: name})
		echo(t, c, "hello "+name)
		if got := peerFingerprint(c); got != s.Info().SHA256 {
			t.Errorf("server %q presented %s, want %s", name, got, s.Info().SHA256)
		}
		if v := c.ConnectionState().Version; v < tls.VersionTLS12 {
			t.Errorf("negotiated version %x", v)
		}
	}
	if _, err := dial(t, addr, &tls.Config{RootCAs: roots, ServerName: "other.example.test"}); err == nil {
		t.Error("handshake for a name the certificate lacks succeeded")
	}
	leaf := s.cur.Load().cert.Leaf
	if err := leaf.VerifyHostname("::1"); err != nil {
		t.Errorf("certificate not valid for ::1: %v", err)
	}
}

func TestTLS11Refused(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, Config{Dir: dir}, options{now: time.Now, checkInterval: DefaultCheckInterval})
	addr := serveEcho(t, s.TLSConfig())
	roots := poolFromFile(t, filepath.Join(dir, CAFileName))

	_, err := dial(t, addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Fatal("a TLS 1.1 client completed a handshake")
	}
	c := mustDial(t, addr, &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12})
	echo(t, c, "TLS 1.2 still works")
}

func TestSelfSignedRenewalKeepsCA(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		hosts  []string // second start
		tamper func(t *testing.T, ca testCA, certPath, keyPath string)
		reason string // in the log
	}{
		{
			name: "expires within 30 days",
			tamper: func(t *testing.T, ca testCA, certPath, keyPath string) {
				ca.issue(t, now.Add(-700*24*time.Hour), now.Add(10*24*time.Hour), "old.example.test").write(t, certPath, keyPath)
			},
			reason: "expires within 30 days",
		},
		{
			name: "expired",
			tamper: func(t *testing.T, ca testCA, certPath, keyPath string) {
				ca.issue(t, now.Add(-800*24*time.Hour), now.Add(-time.Hour), "old.example.test").write(t, certPath, keyPath)
			},
			reason: "has expired",
		},
		{
			name:   "lacks a requested host",
			hosts:  []string{"new.example.test", "198.51.100.7"},
			reason: "lacks new.example.test, 198.51.100.7",
		},
		{
			name: "key replaced but not the certificate (interrupted renewal)",
			tamper: func(t *testing.T, ca testCA, certPath, keyPath string) {
				ca.issueNow(t).writeKey(t, keyPath)
			},
			reason: "does not match",
		},
		{
			name: "key missing",
			tamper: func(t *testing.T, ca testCA, certPath, keyPath string) {
				if err := os.Remove(keyPath); err != nil {
					t.Fatal(err)
				}
			},
			reason: "server key is missing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			caPath := filepath.Join(dir, CAFileName)
			certPath, keyPath := filepath.Join(dir, ServerFileName), filepath.Join(dir, ServerKeyFileName)
			cfg := Config{Dir: dir, Hosts: []string{"old.example.test"}}
			first := mustOpen(t, cfg, checkEveryTime).Info()
			caPEM := readFile(t, caPath)
			caChain, err := readCertFile(caPath, true)
			if err != nil {
				t.Fatal(err)
			}
			caKey, err := readKeyFile(filepath.Join(dir, CAKeyFileName))
			if err != nil {
				t.Fatal(err)
			}
			if tt.tamper != nil {
				tt.tamper(t, testCA{caChain[0], caKey}, certPath, keyPath)
			}

			logger, logs := testLogger()
			cfg.Logger = logger
			cfg.Hosts = append(cfg.Hosts, tt.hosts...)
			s := mustOpen(t, cfg, checkEveryTime)
			info := s.Info()
			if info.SHA256 == first.SHA256 {
				t.Fatal("the server certificate was not replaced")
			}
			if !bytes.Equal(readFile(t, caPath), caPEM) {
				t.Fatal("ca.pem changed: clients trusting it would break")
			}
			if !strings.Contains(logs.String(), tt.reason) || !strings.Contains(logs.String(), "issued a new self-signed TLS server certificate") {
				t.Errorf("log lacks the renewal and %q:\n%s", tt.reason, logs)
			}
			if days := info.NotAfter.Sub(now).Hours() / 24; days < 700 {
				t.Errorf("renewed certificate valid for %.0f days", days)
			}
			if disk, err := ReadInfo(cfg); err != nil || disk.SHA256 != info.SHA256 {
				t.Errorf("ReadInfo = %v, %v; want the renewed certificate %s", disk.SHA256, err, info.SHA256)
			}

			// Clients that trust the old ca.pem accept it, for old and new
			// names; the old names were kept.
			addr := serveEcho(t, s.TLSConfig())
			roots := poolFromFile(t, caPath)
			for _, name := range append([]string{"old.example.test", "localhost", "127.0.0.1"}, tt.hosts...) {
				c := mustDial(t, addr, &tls.Config{RootCAs: roots, ServerName: name})
				if got := peerFingerprint(c); got != info.SHA256 {
					t.Errorf("%s: presented %s, want %s", name, got, info.SHA256)
				}
			}

			// And the start after that reuses the renewed pair.
			if again := mustOpen(t, cfg, checkEveryTime).Info().SHA256; again != info.SHA256 {
				t.Errorf("third start issued yet another certificate")
			}
		})
	}
}

func TestSelfSignedRenewsWhileRunning(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(time.Now())
	logger, logs := testLogger()
	s := mustOpen(t, Config{Dir: dir, Logger: logger}, options{now: clock.Now, checkInterval: time.Second})
	first := s.Info()
	caPEM := readFile(t, filepath.Join(dir, CAFileName))
	get := func() *tls.Certificate {
		c, err := s.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	clock.Advance(600 * 24 * time.Hour)
	if fp := fingerprint(get().Leaf.Raw); fp != first.SHA256 {
		t.Fatal("renewed a certificate that has months left")
	}
	clock.Advance(first.NotAfter.Sub(clock.Now()) - 29*24*time.Hour) // 29 days left
	renewed := get()
	if fp := fingerprint(renewed.Leaf.Raw); fp == first.SHA256 {
		t.Fatalf("certificate 29 days from expiry was not renewed; log:\n%s", logs)
	}
	if s.Info().SHA256 != fingerprint(renewed.Leaf.Raw) {
		t.Error("Info does not describe the renewed certificate")
	}
	if disk, err := ReadInfo(Config{Dir: dir}); err != nil || disk.SHA256 != s.Info().SHA256 {
		t.Errorf("server.pem on disk = %s, %v; want the renewed certificate", disk.SHA256, err)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, CAFileName)), caPEM) {
		t.Error("ca.pem changed")
	}
	clock.Advance(time.Minute)
	if get() != renewed {
		t.Error("renewed again")
	}
}

func TestSelfSignedCANearExpiryIsReplacedLoudly(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(time.Now())
	logger, logs := testLogger()
	s := mustOpen(t, Config{Dir: dir, Logger: logger}, options{now: clock.Now, checkInterval: 0})
	oldCA := readFile(t, filepath.Join(dir, CAFileName))
	caChain, err := readCertFile(filepath.Join(dir, CAFileName), true)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(caChain[0].NotAfter.Sub(clock.Now()) - 20*24*time.Hour)

	c, err := s.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(readFile(t, filepath.Join(dir, CAFileName)), oldCA) {
		t.Fatal("a CA 20 days from expiry was kept")
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"the local CA expires within 30 days") {
		t.Errorf("replacing the CA was not a warning:\n%s", logs)
	}
	roots := poolFromFile(t, filepath.Join(dir, CAFileName))
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", CurrentTime: clock.Now()}); err != nil {
		t.Errorf("new certificate does not verify against the new CA: %v", err)
	}
	again, _ := s.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
	if again != c {
		t.Error("renewed again on the next handshake")
	}
}

func TestSelfSignedCorruptFiles(t *testing.T) {
	tests := []struct {
		file    string
		corrupt func(data []byte) []byte
	}{
		{CAFileName, func([]byte) []byte { return []byte("not a certificate\n") }},
		{CAFileName, func(b []byte) []byte { return b[:len(b)/2] }}, // truncated
		{CAFileName, func(b []byte) []byte { // a valid PEM block holding junk
			return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})
		}},
		{CAKeyFileName, func([]byte) []byte { return []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }},
		{ServerFileName, func(b []byte) []byte { return b[:len(b)-40] }},
		{ServerKeyFileName, func([]byte) []byte { return []byte{} }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			mustOpen(t, Config{Dir: dir}, checkEveryTime)
			path := filepath.Join(dir, tt.file)
			bad := tt.corrupt(readFile(t, path))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			caPEM := readFile(t, filepath.Join(dir, CAFileName))

			_, err := Open(Config{Dir: dir})
			if err == nil {
				t.Fatalf("Open with a corrupt %s succeeded", tt.file)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name %s: %v", path, err)
			}
			t.Log(err)
			if !bytes.Equal(readFile(t, path), bad) {
				t.Errorf("%s was overwritten", tt.file)
			}
			if !bytes.Equal(readFile(t, filepath.Join(dir, CAFileName)), caPEM) {
				t.Errorf("ca.pem was overwritten")
			}
		})
	}

	t.Run("CA key missing", func(t *testing.T) {
		dir := t.TempDir()
		mustOpen(t, Config{Dir: dir}, checkEveryTime)
		keyPath := filepath.Join(dir, CAKeyFileName)
		if err := os.Remove(keyPath); err != nil {
			t.Fatal(err)
		}
		_, err := Open(Config{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), keyPath) {
			t.Fatalf("Open without ca-key.pem: err = %v, want one naming %s", err, keyPath)
		}
	})

	t.Run("ReadInfo", func(t *testing.T) {
		dir := t.TempDir()
		mustOpen(t, Config{Dir: dir}, checkEveryTime)
		path := filepath.Join(dir, ServerFileName)
		if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadInfo(Config{Dir: dir})
		if err == nil || errors.Is(err, ErrNoCertificate) || !strings.Contains(err.Error(), path) {
			t.Fatalf("ReadInfo of a corrupt server.pem: err = %v", err)
		}
	})
}

func TestCAKeyWithoutCertificateStartsOver(t *testing.T) {
	// What a crash during the very first start can leave: ca-key.pem is
	// written before ca.pem, so no client can trust that key yet.
	dir := t.TempDir()
	ca := newTestCA(t)
	keyPEM, err := encodeKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CAKeyFileName), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, Config{Dir: dir}, checkEveryTime)
	if s.Info().Issuer == ca.cert.Subject.String() {
		t.Error("reused the orphaned CA key")
	}
}

// --- configured files ------------------------------------------------------

func TestConfiguredFilesReloadKeepsConnections(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := newTestCA(t)
	a, b := ca.issueNow(t), ca.issueNow(t)
	a.write(t, certPath, keyPath)

	logger, logs := testLogger()
	s := mustOpen(t, Config{CertFile: certPath, KeyFile: keyPath, Dir: "ignored", Logger: logger}, checkEveryTime)
	info := s.Info()
	if info.SHA256 != a.fingerprint() || info.SelfSigned || info.CAFile != "" || info.CertFile != certPath {
		t.Fatalf("Info = %+v, want certificate A from %s", info, certPath)
	}
	addr := serveEcho(t, s.TLSConfig())
	client := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"}

	old := mustDial(t, addr, client)
	if peerFingerprint(old) != a.fingerprint() {
		t.Fatal("first handshake did not present A")
	}
	echo(t, old, "before the swap")

	b.write(t, certPath, keyPath)

	fresh := mustDial(t, addr, client)
	if peerFingerprint(fresh) != b.fingerprint() {
		t.Fatal("handshake after the swap did not present B")
	}
	echo(t, fresh, "new connection")
	echo(t, old, "old connection after the swap")
	if peerFingerprint(old) != a.fingerprint() {
		t.Error("the established connection changed certificate")
	}
	if s.Info().SHA256 != b.fingerprint() {
		t.Error("Info does not describe the reloaded certificate")
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("reload not logged:\n%s", logs)
	}
}

func TestConfiguredBrokenReplacementKeepsOld(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := newTestCA(t)
	a, b := ca.issueNow(t), ca.issueNow(t)
	a.write(t, certPath, keyPath)

	logger, logs := testLogger()
	s := mustOpen(t, Config{CertFile: certPath, KeyFile: keyPath, Logger: logger}, checkEveryTime)
	addr := serveEcho(t, s.TLSConfig())
	client := &tls.Config{RootCAs: ca.pool(), ServerName: "127.0.0.1"}
	presents := func(want testPair, what string) {
		t.Helper()
		c := mustDial(t, addr, client)
		if got := peerFingerprint(c); got != want.fingerprint() {
			t.Fatalf("%s: presented %s, want %s", what, got, want.fingerprint())
		}
		echo(t, c, what)
	}

	// The key is replaced first: B's key with A's certificate.
	b.writeKey(t, keyPath)
	presents(a, "key replaced, certificate not yet")
	presents(a, "still mismatched")
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one persisting failure, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "reload failed") || !strings.Contains(out, certPath) || !strings.Contains(out, keyPath) {
		t.Errorf("warning does not name the files:\n%s", out)
	}
	keyDER, _ := pem.Decode(b.keyPEM)
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, base64.StdEncoding.EncodeToString(keyDER.Bytes)[:16]) {
		t.Errorf("log shows key material:\n%s", out)
	}

	// Then the certificate: retried on the next check, and it works.
	b.writeCert(t, certPath)
	presents(b, "both replaced")

	// A certificate file that is not one, and a missing key file.
	if err := writeFileAtomic(certPath, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	presents(b, "garbage certificate")
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	presents(b, "key file missing")
	a.write(t, certPath, keyPath)
	presents(a, "repaired")
}

func TestConfiguredCheckIsRateLimited(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := newTestCA(t)
	a, b := ca.issueNow(t), ca.issueNow(t)
	a.write(t, certPath, keyPath)
	clock := newFakeClock(time.Now())
	s := mustOpen(t, Config{CertFile: certPath, KeyFile: keyPath}, options{now: clock.Now, checkInterval: time.Second})
	get := func() string {
		c, err := s.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return fingerprint(c.Leaf.Raw)
	}

	b.write(t, certPath, keyPath)
	clock.Advance(999 * time.Millisecond)
	if get() != a.fingerprint() {
		t.Error("files checked before a second had passed")
	}
	clock.Advance(time.Millisecond)
	if get() != b.fingerprint() {
		t.Error("files not checked after a second")
	}

	// After Close, no more reloads; the last certificate is still served.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	a.write(t, certPath, keyPath)
	clock.Advance(time.Hour)
	if get() != b.fingerprint() {
		t.Error("reloaded after Close")
	}
}

func TestConfiguredFilesErrors(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")

	if _, err := Open(Config{CertFile: certPath}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("cert without key: err = %v, want ErrInvalidConfig", err)
	}
	if _, err := Open(Config{KeyFile: keyPath}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("key without cert: err = %v, want ErrInvalidConfig", err)
	}
	if _, err := Open(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no files and no directory: err = %v, want ErrInvalidConfig", err)
	}
	if _, err := Open(Config{Dir: dir, Hosts: []string{"not a host"}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad host: err = %v, want ErrInvalidConfig", err)
	}

	cfg := Config{CertFile: certPath, KeyFile: keyPath}
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), certPath) {
		t.Errorf("missing files: err = %v, want one naming %s", err, certPath)
	}
	if _, err := ReadInfo(cfg); !errors.Is(err, ErrNoCertificate) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadInfo of a missing cert_file: err = %v, want ErrNoCertificate", err)
	}

	ca := newTestCA(t)
	a, b := ca.issueNow(t), ca.issueNow(t)
	a.writeCert(t, certPath)
	b.writeKey(t, keyPath)
	_, err := Open(cfg)
	if err == nil || !strings.Contains(err.Error(), certPath) || !strings.Contains(err.Error(), keyPath) {
		t.Errorf("mismatched pair: err = %v, want one naming both files", err)
	}
	info, err := ReadInfo(cfg)
	if err != nil || info.SHA256 != a.fingerprint() || info.SelfSigned || info.CertFile != certPath {
		t.Errorf("ReadInfo = %+v, %v; want certificate A", info, err)
	}
}

// --- hosts -------------------------------------------------------------

func TestParseHosts(t *testing.T) {
	tests := []struct {
		in      []string
		dns     []string
		ips     []string
		wantErr bool
	}{
		{in: nil, dns: []string{"localhost"}, ips: []string{"127.0.0.1", "::1"}},
		{
			in:  []string{"LDAP.Example.com.", "ldap.example.com:636", " *.svc.example.com ", "", "dirgate_1"},
			dns: []string{"ldap.example.com", "*.svc.example.com", "dirgate_1", "localhost"},
			ips: []string{"127.0.0.1", "::1"},
		},
		{
			in:  []string{"[2001:db8::1]:636", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0", "0.0.0.0", "[::]:389", "127.0.0.1:3389"},
			dns: []string{"localhost"},
			ips: []string{"2001:db8::1", "192.0.2.1", "fe80::1", "127.0.0.1", "::1"},
		},
		{in: []string{"not a host"}, wantErr: true},
		{in: []string{"-bad.example"}, wantErr: true},
		{in: []string{"a.*.example"}, wantErr: true},
		{in: []string{"bücher.example"}, wantErr: true}, // IDNs go in as punycode
	}
	for _, tt := range tests {
		h, err := parseHosts(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("parseHosts(%q): err = %v, want ErrInvalidConfig", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseHosts(%q): %v", tt.in, err)
			continue
		}
		var ips []string
		for _, a := range h.ips {
			ips = append(ips, a.String())
		}
		if !slices.Equal(h.dns, tt.dns) || !slices.Equal(ips, tt.ips) {
			t.Errorf("parseHosts(%q) = %v %v, want %v %v", tt.in, h.dns, ips, tt.dns, tt.ips)
		}
	}
}
