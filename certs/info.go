package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Info describes a server certificate, for logs and `dirgate status`.
type Info struct {
	Subject   string    `json:"subject"`    // RFC 2253 form, e.g. "CN=ldap.example.com,O=Example"
	Issuer    string    `json:"issuer"`     // same form
	NotBefore time.Time `json:"not_before"` // validity, as written in the certificate
	NotAfter  time.Time `json:"not_after"`
	DNSNames  []string  `json:"dns_names,omitempty"` // DNS subject alternative names
	IPs       []string  `json:"ips,omitempty"`       // IP subject alternative names
	// SHA256 is the fingerprint of the leaf certificate (DER), upper-case
	// hex bytes separated by colons, as `openssl x509 -fingerprint -sha256`
	// prints it.
	SHA256 string `json:"sha256"`
	// SelfSigned is true for the pair dirgate generated under
	// data_dir/certs (a server certificate signed by dirgate's local CA),
	// false for configured files.
	SelfSigned bool `json:"self_signed"`
	// CAFile is the path of ca.pem, the file clients must trust, when
	// SelfSigned; empty otherwise.
	CAFile string `json:"ca_file,omitempty"`
	// CertFile is the file the certificate was read from: the configured
	// cert_file, or server.pem.
	CertFile string `json:"cert_file"`
}

func newInfo(leaf *x509.Certificate, certFile, caFile string) Info {
	info := Info{
		Subject:    leaf.Subject.String(),
		Issuer:     leaf.Issuer.String(),
		NotBefore:  leaf.NotBefore,
		NotAfter:   leaf.NotAfter,
		DNSNames:   slices.Clone(leaf.DNSNames),
		SHA256:     fingerprint(leaf.Raw),
		SelfSigned: caFile != "",
		CAFile:     caFile,
		CertFile:   certFile,
	}
	for _, ip := range leaf.IPAddresses {
		info.IPs = append(info.IPs, ip.String())
	}
	return info
}

// fingerprint returns the SHA-256 of der as upper-case hex bytes separated
// by colons ("AB:01:..."), the form openssl prints.
func fingerprint(der []byte) string {
	const hexDigits = "0123456789ABCDEF"
	sum := sha256.Sum256(der)
	var b strings.Builder
	b.Grow(len(sum) * 3)
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func (i Info) clone() Info {
	i.DNSNames = slices.Clone(i.DNSNames)
	i.IPs = slices.Clone(i.IPs)
	return i
}

// logAttrs are the fields worth logging about a certificate: public data
// only.
func (i Info) logAttrs() []any {
	return []any{
		"cert_file", i.CertFile,
		"subject", i.Subject,
		"issuer", i.Issuer,
		"dns_names", i.DNSNames,
		"ips", i.IPs,
		"not_after", i.NotAfter,
		"sha256", i.SHA256,
		"self_signed", i.SelfSigned,
	}
}

// warnExpiry warns about a certificate that is expired or close to it. The
// self-signed one is renewed before that happens; configured files are the
// administrator's to replace.
func warnExpiry(logger *slog.Logger, i Info, now time.Time) {
	switch {
	case !now.Before(i.NotAfter):
		logger.Warn("TLS certificate has expired", "cert_file", i.CertFile, "not_after", i.NotAfter)
	case now.Add(renewBefore).After(i.NotAfter):
		logger.Warn("TLS certificate expires soon", "cert_file", i.CertFile, "not_after", i.NotAfter)
	case now.Before(i.NotBefore):
		logger.Warn("TLS certificate is not valid yet", "cert_file", i.CertFile, "not_before", i.NotBefore)
	}
}
