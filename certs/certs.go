package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Names of the files kept in Config.Dir when no certificate is configured.
const (
	CAFileName        = "ca.pem"
	CAKeyFileName     = "ca-key.pem"
	ServerFileName    = "server.pem"
	ServerKeyFileName = "server-key.pem"
)

// DefaultCheckInterval is how often, at most, a Source looks at its files
// (configured mode) or at the expiry of its certificate (self-signed mode).
// The check runs inside GetCertificate, so an idle server does no work.
const DefaultCheckInterval = time.Second

// renewRetry is how long a running self-signed Source waits after a failed
// in-place renewal before it tries again, so that a read-only or broken
// data directory is reported every few minutes rather than every second.
const renewRetry = 10 * time.Minute

var (
	// ErrNoCertificate is returned (wrapped) by ReadInfo when no certificate
	// exists yet: the server has never started with this data directory.
	ErrNoCertificate = errors.New("no TLS certificate")
	// ErrInvalidConfig is returned (wrapped) by Validate, Open and ReadInfo
	// for a Config that cannot work.
	ErrInvalidConfig = errors.New("invalid TLS configuration")
)

// Config says where a Source gets its certificate. It mirrors the
// `ldap.tls` and `rest.tls` sections of the configuration, plus what the
// caller derives from the rest of it.
type Config struct {
	// CertFile and KeyFile are PEM files: the certificate chain (leaf
	// first) and its private key. Set both, or neither for a self-signed
	// pair under Dir.
	CertFile, KeyFile string
	// Dir holds the self-signed CA and server certificate (data_dir/certs).
	// Used only when CertFile and KeyFile are empty.
	Dir string
	// Hosts are the names and IP addresses clients use to reach the
	// server; each becomes a DNS or IP subject alternative name of the
	// self-signed server certificate, next to localhost, 127.0.0.1 and ::1.
	// A "host:port" or "[v6]:port" entry counts as its host; unspecified
	// addresses (0.0.0.0, ::) are skipped. Ignored with CertFile/KeyFile.
	Hosts []string
	// Logger receives loads, renewals and reload failures. Nil discards.
	Logger *slog.Logger
}

// selfSigned reports whether cfg asks for the generated pair under Dir.
func (c Config) selfSigned() bool { return c.CertFile == "" && c.KeyFile == "" }

// Validate reports every problem with c at once, each wrapping
// ErrInvalidConfig. It touches no file.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		errs = append(errs, fmt.Errorf("%w: cert_file is set but key_file is not", ErrInvalidConfig))
	case c.CertFile == "" && c.KeyFile != "":
		errs = append(errs, fmt.Errorf("%w: key_file is set but cert_file is not", ErrInvalidConfig))
	case c.selfSigned():
		if c.Dir == "" {
			errs = append(errs, fmt.Errorf("%w: no certificate directory for the self-signed pair", ErrInvalidConfig))
		}
		if _, err := parseHosts(c.Hosts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Source serves the current certificate to TLS handshakes. Its methods are
// safe for concurrent use.
type Source struct {
	logger     *slog.Logger
	selfSigned bool
	// Configured mode.
	certFile, keyFile string
	// Self-signed mode.
	dir   string
	hosts hostSet

	now      func() time.Time
	interval time.Duration
	epoch    time.Time // nextCheck counts from here, on the monotonic clock

	cur       atomic.Pointer[material]
	nextCheck atomic.Int64 // nanoseconds after epoch; the fast path reads it without mu
	closed    atomic.Bool

	mu sync.Mutex // serialises checks and guards the fields below
	// Stats of the files behind cur (configured mode).
	certStat, keyStat fs.FileInfo
	// The last failed reload, so that a persisting failure is logged at
	// Warn once and at Debug afterwards.
	failCert, failKey fs.FileInfo
	failMsg           string
	// No in-place renewal before this time (self-signed mode).
	retryAt time.Time
}

// material is one certificate with its description, swapped as a whole.
type material struct {
	cert *tls.Certificate
	info Info
}

// options are the knobs tests turn; Open uses the defaults.
type options struct {
	now           func() time.Time
	checkInterval time.Duration
}

// Open loads or creates the certificate cfg describes. In configured mode
// a missing, unreadable or mismatched pair is an error. In self-signed mode
// the CA and server certificate are created on first start, reused after,
// and the server certificate is renewed from the same CA when needed.
func Open(cfg Config) (*Source, error) {
	return open(cfg, options{now: time.Now, checkInterval: DefaultCheckInterval})
}

func open(cfg Config, opt options) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opt.now()
	s := &Source{
		logger:     logger,
		selfSigned: cfg.selfSigned(),
		certFile:   cfg.CertFile,
		keyFile:    cfg.KeyFile,
		dir:        cfg.Dir,
		now:        opt.now,
		interval:   opt.checkInterval,
		epoch:      now,
	}
	if s.selfSigned {
		hosts, err := parseHosts(cfg.Hosts)
		if err != nil { // unreachable after Validate; kept for clarity
			return nil, fmt.Errorf("certs: %w", err)
		}
		s.hosts = hosts
		m, err := ensureSelfSigned(s.dir, s.hosts, now, logger)
		if err != nil {
			return nil, err
		}
		s.cur.Store(m)
	} else {
		// Stat before reading: if the files change in between, the next
		// check sees newer stats than the ones recorded and loads again.
		cst, kst, err := statPair(s.certFile, s.keyFile)
		if err != nil {
			return nil, fmt.Errorf("certs: %w", err)
		}
		m, err := loadPair(s.certFile, s.keyFile)
		if err != nil {
			return nil, err
		}
		s.certStat, s.keyStat = cst, kst
		s.cur.Store(m)
	}
	s.nextCheck.Store(int64(s.interval))
	m := s.cur.Load()
	logger.Info("TLS certificate ready", m.info.logAttrs()...)
	warnExpiry(logger, m.info, now)
	return s, nil
}

// TLSConfig returns a new server configuration (TLS 1.2 or later) whose
// GetCertificate serves the Source's current certificate. Callers may set
// more fields on it; each call returns a fresh value.
func (s *Source) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.getCertificate,
	}
}

// Info describes the certificate the Source serves now.
func (s *Source) Info() Info { return s.cur.Load().info.clone() }

// Close stops reloading and renewing: later handshakes keep getting the
// last certificate, so listeners may be shut down in any order. There is no
// goroutine to stop. Close always returns nil and may be called repeatedly.
func (s *Source) Close() error {
	s.closed.Store(true)
	return nil
}

func (s *Source) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.maybeCheck()
	return s.cur.Load().cert, nil
}

// maybeCheck runs check if the interval has passed since the last one. The
// common case is one clock read and one atomic load; a handshake that finds
// a check due waits for it (a stat of two files, rarely a reload), so that
// it gets the newest certificate.
func (s *Source) maybeCheck() {
	if s.closed.Load() {
		return
	}
	now := s.now()
	if int64(now.Sub(s.epoch)) < s.nextCheck.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if int64(now.Sub(s.epoch)) < s.nextCheck.Load() {
		return // another handshake checked meanwhile
	}
	s.nextCheck.Store(int64(now.Sub(s.epoch) + s.interval))
	if s.selfSigned {
		s.checkRenewal(now)
	} else {
		s.checkFiles()
	}
}

// checkFiles reloads the configured pair if either file changed. s.mu held.
func (s *Source) checkFiles() {
	cst, kst, err := statPair(s.certFile, s.keyFile)
	if err != nil {
		s.reloadFailed(cst, kst, err)
		return
	}
	if sameStat(cst, s.certStat) && sameStat(kst, s.keyStat) {
		return
	}
	m, err := loadPair(s.certFile, s.keyFile)
	if err != nil {
		s.reloadFailed(cst, kst, err)
		return
	}
	s.certStat, s.keyStat = cst, kst
	s.failCert, s.failKey, s.failMsg = nil, nil, ""
	old := s.cur.Swap(m)
	if old.info.SHA256 == m.info.SHA256 {
		s.logger.Debug("TLS certificate files touched, certificate unchanged", "cert_file", s.certFile)
		return
	}
	s.logger.Info("TLS certificate reloaded", m.info.logAttrs()...)
	warnExpiry(s.logger, m.info, s.now())
}

// reloadFailed logs a failed reload: at Warn the first time, at Debug while
// the same failure repeats on the same files. The old certificate stays.
func (s *Source) reloadFailed(cst, kst fs.FileInfo, err error) {
	msg := err.Error() // names files and says what is wrong; never key bytes
	repeat := msg == s.failMsg && sameStat(cst, s.failCert) && sameStat(kst, s.failKey)
	s.failCert, s.failKey, s.failMsg = cst, kst, msg
	level := slog.LevelWarn
	if repeat {
		level = slog.LevelDebug
	}
	s.logger.Log(context.Background(), level, "TLS certificate reload failed; still serving the previous certificate",
		"cert_file", s.certFile, "key_file", s.keyFile, "error", msg)
}

// checkRenewal renews the self-signed server certificate in place when it
// comes within RenewBefore of expiry. s.mu held.
func (s *Source) checkRenewal(now time.Time) {
	leaf := s.cur.Load().cert.Leaf
	if now.Before(leaf.NotAfter.Add(-renewBefore)) || now.Before(s.retryAt) {
		return
	}
	m, err := ensureSelfSigned(s.dir, s.hosts, now, s.logger)
	if err != nil {
		s.retryAt = now.Add(renewRetry)
		s.logger.Warn("renewing the self-signed TLS certificate failed; still serving the current one",
			"dir", s.dir, "not_after", leaf.NotAfter, "retry_in", renewRetry, "error", err.Error())
		return
	}
	s.cur.Store(m)
}

// ReadInfo describes the certificate cfg points at without creating or
// changing anything. In self-signed mode, if the server has not created
// one yet, the error wraps ErrNoCertificate; so does a missing CertFile.
func ReadInfo(cfg Config) (Info, error) {
	if err := cfg.Validate(); err != nil {
		return Info{}, fmt.Errorf("certs: %w", err)
	}
	if !cfg.selfSigned() {
		chain, err := readCertFile(cfg.CertFile, false)
		if err != nil {
			return Info{}, err
		}
		return newInfo(chain[0], cfg.CertFile, ""), nil
	}
	path := filepath.Join(cfg.Dir, ServerFileName)
	chain, err := readCertFile(path, true)
	if err != nil {
		return Info{}, err
	}
	return newInfo(chain[0], path, filepath.Join(cfg.Dir, CAFileName)), nil
}

// statPair stats both files; either may be missing mid-rotation.
func statPair(certFile, keyFile string) (cst, kst fs.FileInfo, err error) {
	cst, cerr := os.Stat(certFile)
	kst, kerr := os.Stat(keyFile)
	return cst, kst, errors.Join(cerr, kerr)
}

// sameStat reports whether a and b describe the same file (device and
// inode) with the same size and modification time. A nil never matches.
func sameStat(a, b fs.FileInfo) bool {
	return a != nil && b != nil &&
		a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}
