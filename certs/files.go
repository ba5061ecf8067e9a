package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loadPair loads a configured certificate chain and key. Errors name both
// files; they come from os and crypto/tls and never contain key bytes.
func loadPair(certFile, keyFile string) (*material, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certs: read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: read key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: certificate %s with key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil { // set by X509KeyPair since Go 1.23, unless GODEBUG says otherwise
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certs: certificate %s: %w", certFile, err)
		}
	}
	return &material{cert: &cert, info: newInfo(cert.Leaf, certFile, "")}, nil
}

// readCertFile reads the certificates of a PEM file, leaf first. strict is
// for the files dirgate writes itself: anything but CERTIFICATE blocks, or
// bytes after the last block (a truncated file), makes it corrupt. A
// missing file wraps both ErrNoCertificate and fs.ErrNotExist.
func readCertFile(path string, strict bool) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("certs: %w: %w", ErrNoCertificate, err)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	blocks, err := decodePEM(data, strict)
	if err != nil {
		return nil, fmt.Errorf("certs: %s is corrupt: %w", path, err)
	}
	var chain []*x509.Certificate
	for _, b := range blocks {
		if b.Type != "CERTIFICATE" {
			if strict {
				return nil, fmt.Errorf("certs: %s is corrupt: unexpected PEM block %q", path, b.Type)
			}
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certs: %s is corrupt: %w", path, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("certs: %s is corrupt: no certificate in it", path)
	}
	return chain, nil
}

// readKeyFile reads the one private key of a PEM file dirgate wrote.
// Errors name the file and never quote its content.
func readKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	blocks, err := decodePEM(data, true)
	if err != nil {
		return nil, fmt.Errorf("certs: %s is corrupt: %w", path, err)
	}
	if len(blocks) != 1 {
		return nil, fmt.Errorf("certs: %s is corrupt: %d PEM blocks, want one private key", path, len(blocks))
	}
	key, err := parsePrivateKey(blocks[0].Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: %s is corrupt: %w", path, err)
	}
	return key, nil
}

// decodePEM returns the PEM blocks of data. With strict, data must be
// nothing but PEM blocks and white space.
func decodePEM(data []byte, strict bool) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		return nil, errors.New("no complete PEM block (empty, truncated or not PEM?)")
	}
	if strict && len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("data after the last PEM block (truncated or edited file?)")
	}
	return blocks, nil
}

// parsePrivateKey accepts PKCS #8 (what dirgate writes), SEC 1 and PKCS #1.
// Its errors are crypto/x509's, which do not quote the key.
func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *ecdsa.PrivateKey:
			return k, nil
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS #8, EC or RSA private key")
}

// keyMatches reports whether key is the private half of pub.
func keyMatches(key crypto.Signer, pub crypto.PublicKey) bool {
	k, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(pub)
}

func encodeCert(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to memory cannot fail
	}
	return b.Bytes()
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFileAtomic replaces path with data: it writes a temporary file in
// the same directory, syncs it, renames it over path and syncs the
// directory, so that after a crash path holds the old content or the new,
// never a part of either.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*") // created with mode 0600
	if err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			err = fmt.Errorf("certs: write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable. Not every platform can sync a
	// directory; the rename is still atomic there.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
