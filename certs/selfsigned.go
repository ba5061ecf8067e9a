package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	caValidityYears = 10
	// serverValidity is about two years: under the 825 days Apple
	// platforms accept for any TLS server certificate, private CAs
	// included.
	serverValidity = 730 * 24 * time.Hour
	// renewBefore is how close to its expiry a certificate is renewed
	// (self-signed) or warned about (configured).
	renewBefore = 30 * 24 * time.Hour
	// backdate sets NotBefore a little in the past, for clients whose
	// clock runs behind.
	backdate = time.Hour
)

// genMu serialises creation and renewal inside one process: the LDAP and
// REST listeners may share Dir. Two processes never serve one data_dir
// (Badger locks it), so no file lock is taken.
var genMu sync.Mutex

// defaultHosts are in every self-signed server certificate.
var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// ensureSelfSigned loads the CA and server certificate under dir, creating
// or renewing what is missing or due, and returns the server certificate.
func ensureSelfSigned(dir string, hosts hostSet, now time.Time, logger *slog.Logger) (*material, error) {
	genMu.Lock()
	defer genMu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	ca, caKey, err := loadOrCreateCA(dir, now, logger)
	if err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, ServerFileName), filepath.Join(dir, ServerKeyFileName)
	leaf, key, reason, err := loadServer(certPath, keyPath, ca, hosts, now)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		want := hosts
		if leaf != nil {
			// Keep the names the old certificate had: the LDAP and REST
			// listeners may share this directory with different hosts,
			// and must not take turns dropping each other's.
			want = hosts.union(leaf)
		}
		var newKey *ecdsa.PrivateKey
		leaf, newKey, err = issueServer(ca, caKey, want, now.Add(-backdate), now.Add(serverValidity))
		if err != nil {
			return nil, fmt.Errorf("certs: issue server certificate: %w", err)
		}
		key = newKey
		keyPEM, err := encodeKey(newKey)
		if err != nil {
			return nil, fmt.Errorf("certs: encode server key: %w", err)
		}
		// The key first: a crash between the two renames leaves a
		// certificate that does not match its key, which the next start
		// recognises and replaces.
		if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(certPath, encodeCert(leaf, ca), 0o644); err != nil {
			return nil, err
		}
		info := newInfo(leaf, certPath, "")
		logger.Info("issued a new self-signed TLS server certificate", "reason", reason,
			"cert_file", certPath, "dns_names", info.DNSNames, "ips", info.IPs,
			"not_after", leaf.NotAfter, "sha256", info.SHA256, "ca", ca.Subject.String())
	}
	cert := &tls.Certificate{
		Certificate: [][]byte{leaf.Raw, ca.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}
	return &material{cert: cert, info: newInfo(leaf, certPath, filepath.Join(dir, CAFileName))}, nil
}

// loadOrCreateCA returns the CA under dir, creating one when there is none.
// A CA that exists but cannot be used is an error, never replaced: clients
// may trust it. Only a CA within renewBefore of its expiry is replaced,
// loudly.
func loadOrCreateCA(dir string, now time.Time, logger *slog.Logger) (*x509.Certificate, crypto.Signer, error) {
	caPath, keyPath := filepath.Join(dir, CAFileName), filepath.Join(dir, CAKeyFileName)
	caExists, err := exists(caPath)
	if err != nil {
		return nil, nil, err
	}
	keyExists, err := exists(keyPath)
	if err != nil {
		return nil, nil, err
	}
	remedy := fmt.Sprintf("restore it from a backup, or remove %s and %s to create a new CA (clients will then have to trust the new ca.pem)", caPath, keyPath)
	switch {
	case !caExists:
		if keyExists {
			// ca.pem is written last, so nobody can trust this key yet.
			logger.Warn("found a CA key without its certificate (interrupted first start?); creating a new CA", "key_file", keyPath)
		}
		return createCA(dir, now, logger)
	case !keyExists:
		return nil, nil, fmt.Errorf("certs: %s exists but its key %s does not; restore the key, or remove %s to create a new CA (clients will then have to trust the new ca.pem)", caPath, keyPath, caPath)
	}
	chain, err := readCertFile(caPath, true)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; %s", err, remedy)
	}
	if len(chain) != 1 {
		return nil, nil, fmt.Errorf("certs: %s is corrupt: %d certificates, want one; %s", caPath, len(chain), remedy)
	}
	ca := chain[0]
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("certs: %s is corrupt: not a CA certificate; %s", caPath, remedy)
	}
	key, err := readKeyFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; %s", err, remedy)
	}
	if !keyMatches(key, ca.PublicKey) {
		return nil, nil, fmt.Errorf("certs: %s is not the key of %s; %s", keyPath, caPath, remedy)
	}
	if !now.Before(ca.NotAfter.Add(-renewBefore)) {
		logger.Warn("the local CA expires within 30 days; creating a new one: clients must trust the new ca.pem",
			"ca_file", caPath, "old_subject", ca.Subject.String(), "old_not_after", ca.NotAfter)
		return createCA(dir, now, logger)
	}
	return ca, key, nil
}

// createCA makes a new CA and writes it under dir.
func createCA(dir string, now time.Time, logger *slog.Logger) (*x509.Certificate, crypto.Signer, error) {
	caPath, keyPath := filepath.Join(dir, CAFileName), filepath.Join(dir, CAKeyFileName)
	ca, key, err := newCA(now)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: create CA: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: encode CA key: %w", err)
	}
	// ca.pem marks the CA as existing, so it goes last; an old one goes
	// first, so that a crash never pairs an old ca.pem with a new key.
	if err := os.Remove(caPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("certs: %w", err)
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(caPath, encodeCert(ca), 0o644); err != nil {
		return nil, nil, err
	}
	logger.Info("created a local CA for the self-signed TLS certificate; clients must trust its certificate",
		"ca_file", caPath, "subject", ca.Subject.String(), "not_after", ca.NotAfter, "sha256", fingerprint(ca.Raw))
	return ca, key, nil
}

// loadServer reads the server certificate and key and says why they must
// be replaced (reason), if they must. Files that exist but cannot be
// parsed are an error.
func loadServer(certPath, keyPath string, ca *x509.Certificate, hosts hostSet, now time.Time) (leaf *x509.Certificate, key crypto.Signer, reason string, err error) {
	remedy := fmt.Sprintf("remove %s and %s to have a new pair issued by the same CA", certPath, keyPath)
	chain, err := readCertFile(certPath, true)
	if errors.Is(err, ErrNoCertificate) {
		return nil, nil, "no server certificate yet", nil
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w; %s", err, remedy)
	}
	leaf = chain[0]
	key, err = readKeyFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return leaf, nil, "server key is missing", nil
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w; %s", err, remedy)
	}
	switch {
	case !keyMatches(key, leaf.PublicKey):
		reason = "server key does not match the certificate (interrupted renewal?)"
	case leaf.CheckSignatureFrom(ca) != nil:
		reason = "server certificate was not issued by the CA in " + CAFileName
	case !now.Before(leaf.NotAfter):
		reason = "server certificate has expired"
	case !now.Before(leaf.NotAfter.Add(-renewBefore)):
		reason = "server certificate expires within 30 days"
	default:
		if missing := hosts.missingFrom(leaf); len(missing) > 0 {
			reason = "server certificate lacks " + strings.Join(missing, ", ")
		}
	}
	return leaf, key, reason, nil
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			// The suffix tells apart the CAs of several dirgate
			// installations in one trust store.
			CommonName:   "dirgate local CA " + hex.EncodeToString(suffix[:]),
			Organization: []string{"dirgate"},
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs server certificates, never another CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// issueServer signs a new server certificate for hosts with a new key. Its
// validity never outlasts the CA's.
func issueServer(ca *x509.Certificate, caKey crypto.Signer, hosts hostSet, notBefore, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	cn := "localhost"
	if len(hosts.dns) > 0 {
		cn = hosts.dns[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"dirgate"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              hosts.dns,
	}
	for _, a := range hosts.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return leaf, key, nil
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("certs: %w", err)
	}
}

// hostSet is the subject alternative names a self-signed server
// certificate must carry: lower-case DNS names and IP addresses, in the
// order given, without duplicates.
type hostSet struct {
	dns []string
	ips []netip.Addr
}

// parseHosts normalises cfg.Hosts and appends defaultHosts. Entries may be
// names, IP addresses, "host:port" or "[v6]:port"; empty entries and
// unspecified addresses are skipped.
func parseHosts(hosts []string) (hostSet, error) {
	var h hostSet
	var errs []error
	for _, raw := range append(append([]string(nil), hosts...), defaultHosts...) {
		s := strings.TrimSpace(raw)
		if host, _, err := net.SplitHostPort(s); err == nil {
			s = host
		}
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if s == "" {
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			if a = a.Unmap().WithZone(""); !a.IsUnspecified() {
				h.addIP(a)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(s, "."))
		if !validDNSName(name) {
			errs = append(errs, fmt.Errorf("%w: host %q is neither an IP address nor a DNS name", ErrInvalidConfig, raw))
			continue
		}
		h.addDNS(name)
	}
	return h, errors.Join(errs...)
}

func (h *hostSet) addDNS(name string) {
	for _, d := range h.dns {
		if d == name {
			return
		}
	}
	h.dns = append(h.dns, name)
}

func (h *hostSet) addIP(a netip.Addr) {
	for _, b := range h.ips {
		if a == b {
			return
		}
	}
	h.ips = append(h.ips, a)
}

// missingFrom lists the hosts c does not cover.
func (h hostSet) missingFrom(c *x509.Certificate) []string {
	var missing []string
	for _, d := range h.dns {
		found := false
		for _, n := range c.DNSNames {
			found = found || strings.EqualFold(n, d)
		}
		if !found {
			missing = append(missing, d)
		}
	}
	for _, a := range h.ips {
		found := false
		for _, ip := range c.IPAddresses {
			b, ok := netip.AddrFromSlice(ip)
			found = found || (ok && b.Unmap() == a)
		}
		if !found {
			missing = append(missing, a.String())
		}
	}
	return missing
}

// union returns h plus the names and addresses c already has.
func (h hostSet) union(c *x509.Certificate) hostSet {
	u := hostSet{dns: append([]string(nil), h.dns...), ips: append([]netip.Addr(nil), h.ips...)}
	for _, n := range c.DNSNames {
		if n = strings.ToLower(n); validDNSName(n) {
			u.addDNS(n)
		}
	}
	for _, ip := range c.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			u.addIP(a.Unmap())
		}
	}
	return u
}

// validDNSName accepts host names as certificates carry them: labels of
// letters, digits, '-' and '_', a leading "*" label for a wildcard.
func validDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for i, label := range strings.Split(name, ".") {
		if label == "*" && i == 0 && strings.Contains(name, ".") {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
