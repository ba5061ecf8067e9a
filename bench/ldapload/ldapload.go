// Package ldapload is a closed-loop LDAP load generator for dirgate's
// side-by-side benchmarks (slapd, slapd with dynlist, dirgate).
//
// Run opens Config.Conns connections to an ldap:// URL, optionally binds
// each one as a service account, and then runs one Op back to back on every
// connection, each in its own goroutine, for Config.Warmup (not measured)
// plus Config.Duration (measured). It returns a Report of the measured
// window: successful operations, errors, throughput and latency
// percentiles.
//
// An Op is a Search, a Bind or any OpFunc. Its request is built per
// iteration from an Iter, which carries a per-connection, deterministic PCG
// random source (Config.Seed and the connection's index), so that a run
// draws the same users on the same connection every time:
//
//	uids := ldapload.UIDs(100_000) // slapdtest.GenUID(0..99999), built once
//	op := ldapload.Search{
//		Base:   "ou=people,dc=example,dc=com",
//		Scope:  goldap.ScopeWholeSubtree,
//		Filter: func(it *ldapload.Iter) string {
//			return "(&(objectClass=inetOrgPerson)(uid=" + ldapload.Pick(it, uids) + "))"
//		},
//		Attributes: []string{"uid", "cn", "mail", "memberOf"},
//		Expect:     1,
//	}
//	rep, err := ldapload.Run(ctx, ldapload.Config{URL: url, BindDN: admin, BindPassword: pw, Op: op})
//
// The generator itself takes no lock per operation and allocates only the
// SearchRequest (plus whatever the caller's builders do); latencies go into
// a fixed log-linear histogram per connection (1.6% resolution), merged at
// the end. go-ldap's own cost per request is much larger (goroutine
// hand-offs, a timer per request, dozens of allocations): on the 2-core
// machine about 80–100 µs of CPU per uid search, nearly as much as slapd
// spends answering it, so the generator takes a large, server-independent
// share of the machine. TestMeasure (DIRGATE_LDAPLOAD_MEASURE=1) measures
// it. Config.Epoll runs Binds and Searches without go-ldap instead, every
// connection from one thread around epoll, at a third to a half of that
// CPU; the side-by-side benchmarks use it.
package ldapload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/internal/slapdtest"
)

// Defaults of Config.
const (
	DefaultConns    = 16
	DefaultDuration = 10 * time.Second
	DefaultTimeout  = 30 * time.Second
)

// Config describes a run.
type Config struct {
	// URL is the server, ldap://host:port.
	URL string
	// Conns is the number of connections, each driven by its own goroutine
	// (default 16).
	Conns int
	// Warmup runs the op for this long before the measured window; its
	// operations are counted in Report.WarmupOps and WarmupErrors only.
	Warmup time.Duration
	// Duration is the measured window (default 10s). An operation belongs
	// to the window in which it completes.
	Duration time.Duration
	// Timeout is go-ldap's per-request timeout (Conn.SetTimeout) and the
	// dial timeout (default 30s). A negative value disables the request
	// timeout; go-ldap then skips the timer goroutine it starts per request.
	Timeout time.Duration
	// BindDN and BindPassword, when BindDN is set, bind every connection
	// once before the loop (a service account). A failure fails Run.
	BindDN       string
	BindPassword string
	// Op is run back to back on every connection.
	Op Op
	// Seed seeds the per-connection random sources: connection i uses
	// rand.NewPCG(Seed, i).
	Seed uint64
	// Epoll drives every connection from one OS thread around epoll
	// (Linux), with requests encoded and answers read by this package
	// instead of go-ldap, as wrk does for HTTP. Op must then be a Bind or a
	// Search without Check. On a machine whose cores the servers share
	// with the generator, this keeps the generator's share small: on the
	// two-core machine 25–45 µs of CPU per uid search and about 30 per
	// bind, where go-ldap's client takes 80 and 45–60. A latency is the
	// time from writing a request to the moment epoll reported its answer
	// complete. A negative Timeout still leaves DefaultTimeout as the
	// longest wait for an answer.
	Epoll bool
}

// Report is the outcome of the measured window.
type Report struct {
	// Ops is the number of operations that completed successfully (as
	// their Op defines success) in the window; Errors the number that
	// failed. Only successful operations are in OpsPerSec and the
	// latencies.
	Ops, Errors int64
	// WarmupOps and WarmupErrors are the same counts for the warm-up.
	WarmupOps, WarmupErrors int64
	// Duration is the measured window: Config.Duration, or less when the
	// context was cancelled or every connection was lost.
	Duration  time.Duration
	OpsPerSec float64
	// Latency of the successful operations: mean, percentiles (within
	// 1.6%) and the exact maximum.
	Mean, P50, P90, P99, Max time.Duration
	// FirstError is the message of the run's first error, warm-up
	// included (so it may be set while Errors is 0); "" when there was
	// none.
	FirstError string
	// ConnsLost counts connections that closed after an error (a
	// network error or a server disconnect); their goroutines stop.
	ConnsLost int
	// ProcessCPU is the user+system CPU time the whole process used during
	// the window (0 where unsupported). It is the generator's own cost
	// only when the server runs in another process (slapd); with an
	// in-process server it includes the server.
	ProcessCPU time.Duration
}

// CPUCores is ProcessCPU over Duration: how many cores the process kept
// busy on average during the window.
func (r Report) CPUCores() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return r.ProcessCPU.Seconds() / r.Duration.Seconds()
}

func (r Report) String() string {
	s := fmt.Sprintf("%d ops in %s: %.0f ops/s, %d errors, latency mean %s p50 %s p90 %s p99 %s max %s, process CPU %.2f cores",
		r.Ops, r.Duration.Round(time.Millisecond), r.OpsPerSec, r.Errors,
		roundDur(r.Mean), roundDur(r.P50), roundDur(r.P90), roundDur(r.P99), roundDur(r.Max), r.CPUCores())
	if r.ConnsLost > 0 {
		s += fmt.Sprintf(", %d connections lost", r.ConnsLost)
	}
	if r.FirstError != "" {
		s += ", first error: " + r.FirstError
	}
	return s
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}

// Iter is what an Op sees of one iteration. The generator reuses one Iter
// per connection; an Op must not keep it.
type Iter struct {
	// Conn is the connection's index, 0..Conns-1.
	Conn int
	// N counts the iterations before this one on this connection, warm-up
	// included.
	N int
	// Rand is the connection's random source: rand.NewPCG(Config.Seed,
	// Conn). It is not safe for use by other goroutines.
	Rand *rand.Rand
}

// IntN returns a pseudo-random number in [0, n).
func (it *Iter) IntN(n int) int { return it.Rand.IntN(n) }

// UID returns slapdtest.GenUID of a random user among users. It formats the
// uid (one small allocation); Pick from a UIDs table avoids that.
func (it *Iter) UID(users int) string { return slapdtest.GenUID(it.Rand.IntN(users)) }

// Pick returns a random element of s, which must not be empty.
func Pick[T any](it *Iter, s []T) T { return s[it.Rand.IntN(len(s))] }

// UIDs returns slapdtest.GenUID(i) for i in [0, users), to Pick from.
func UIDs(users int) []string { return Table(users, slapdtest.GenUID) }

// Table returns f(0), ..., f(n-1): precomputed per-user strings (uids,
// DNs, whole filters) that an Op can Pick without formatting anything per
// iteration.
func Table(n int, f func(i int) string) []string {
	t := make([]string, n)
	for i := range t {
		t[i] = f(i)
	}
	return t
}

// Op is one operation kind. Do runs one iteration on c and returns an
// error when the operation failed or its result was not the expected one.
// Do is called concurrently from every connection's goroutine, each with
// its own c and it.
type Op interface {
	Do(c *goldap.Conn, it *Iter) error
}

// OpFunc adapts a function to Op (for other operations, or a mix: pick one
// of several Ops with it.IntN).
type OpFunc func(c *goldap.Conn, it *Iter) error

// Do calls f.
func (f OpFunc) Do(c *goldap.Conn, it *Iter) error { return f(c, it) }

// AnyCount as Search.Expect accepts any number of entries.
const AnyCount = -1

// Search is a search whose filter (and optionally base) is built per
// iteration.
type Search struct {
	// Base is the search base; BaseFunc, when set, builds it per iteration
	// instead.
	Base     string
	BaseFunc func(it *Iter) string
	// Scope is goldap.ScopeBaseObject (the zero value),
	// ScopeSingleLevel or ScopeWholeSubtree.
	Scope int
	// Filter builds the filter; nil means (objectClass=*).
	Filter func(it *Iter) string
	// Attributes are the requested attributes (nil: all user attributes).
	Attributes []string
	// Expect is the number of entries a correct answer has (0 included);
	// AnyCount accepts any number.
	Expect int
	// SizeLimit is sent with the request (0: none).
	SizeLimit int
	// Controls are sent with the request.
	Controls []goldap.Control
	// Check, when set, also validates the result (for example that
	// memberOf holds a nested group).
	Check func(res *goldap.SearchResult) error
}

// request builds this iteration's base and filter.
func (s Search) request(it *Iter) (base, filter string) {
	base, filter = s.Base, "(objectClass=*)"
	if s.BaseFunc != nil {
		base = s.BaseFunc(it)
	}
	if s.Filter != nil {
		filter = s.Filter(it)
	}
	return base, filter
}

// count judges the number of entries of an answer.
func (s Search) count(base, filter string, n int) error {
	if s.Expect >= 0 && n != s.Expect {
		return fmt.Errorf("search %q %s: got %d entries, want %d", base, filter, n, s.Expect)
	}
	return nil
}

// Do implements Op.
func (s Search) Do(c *goldap.Conn, it *Iter) error {
	base, filter := s.request(it)
	res, err := c.Search(&goldap.SearchRequest{
		BaseDN:       base,
		Scope:        s.Scope,
		DerefAliases: goldap.NeverDerefAliases,
		SizeLimit:    s.SizeLimit,
		Filter:       filter,
		Attributes:   s.Attributes,
		Controls:     s.Controls,
	})
	if err != nil {
		return fmt.Errorf("search %q %s: %w", base, filter, err)
	}
	if err := s.count(base, filter, len(res.Entries)); err != nil {
		return err
	}
	if s.Check != nil {
		if err := s.Check(res); err != nil {
			return fmt.Errorf("search %q %s: %w", base, filter, err)
		}
	}
	return nil
}

// Bind is a simple bind on the loop's connection (a re-bind: the
// connection stays bound as the last successful DN, or anonymous after a
// failed bind).
type Bind struct {
	// Creds builds the DN and password per iteration. The password must
	// not be empty (go-ldap refuses unauthenticated binds).
	Creds func(it *Iter) (dn, password string)
	// Expect is the expected result code: 0 (goldap.LDAPResultSuccess) or
	// an error code such as goldap.LDAPResultInvalidCredentials.
	Expect uint16
}

// Do implements Op.
func (b Bind) Do(c *goldap.Conn, it *Iter) error {
	dn, password := b.Creds(it)
	err := c.Bind(dn, password)
	if err == nil {
		return bindOutcome(dn, b.Expect, goldap.LDAPResultSuccess, "")
	}
	var le *goldap.Error
	if !errors.As(err, &le) || le.ResultCode == goldap.ErrorNetwork {
		return fmt.Errorf("bind as %s: %w", dn, err)
	}
	diag := ""
	if le.Err != nil {
		diag = le.Err.Error()
	}
	return bindOutcome(dn, b.Expect, int(le.ResultCode), diag)
}

// worker is one connection's loop and its private counters.
type worker struct {
	c          *goldap.Conn
	op         Op
	it         Iter
	start, end time.Time
	stop       *atomic.Bool

	hist         histogram
	ops, errs    int64
	warmOps      int64
	warmErrs     int64
	firstErr     error
	firstErrTime time.Time
	lost         bool
}

func (w *worker) run() {
	for {
		t0 := time.Now()
		err := w.op.Do(w.c, &w.it)
		t1 := time.Now()
		w.it.N++
		if w.stop.Load() || !t1.Before(w.end) {
			return
		}
		if err != nil {
			if w.firstErr == nil {
				w.firstErr, w.firstErrTime = err, t1
			}
			if t1.Before(w.start) {
				w.warmErrs++
			} else {
				w.errs++
			}
			if w.c.IsClosing() {
				w.lost = true
				return
			}
			continue
		}
		if t1.Before(w.start) {
			w.warmOps++
			continue
		}
		w.ops++
		w.hist.record(t1.Sub(t0))
	}
}

func dial(cfg *Config) (*goldap.Conn, error) {
	dialTimeout := cfg.Timeout
	if dialTimeout <= 0 {
		dialTimeout = DefaultTimeout
	}
	c, err := goldap.DialURL(cfg.URL, goldap.DialWithDialer(&net.Dialer{Timeout: dialTimeout}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(max(cfg.Timeout, 0))
	if cfg.BindDN != "" {
		if err := c.Bind(cfg.BindDN, cfg.BindPassword); err != nil {
			c.Close()
			return nil, fmt.Errorf("initial bind as %s: %w", cfg.BindDN, err)
		}
	}
	return c, nil
}

// Run opens the connections, runs the warm-up and the measured window, and
// reports on the window. A failed dial or initial bind fails Run before
// any load is sent. Failed operations do not stop the run. When ctx is
// cancelled, Run closes the connections and returns the report of the
// window so far with ctx's error.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.URL == "" {
		return Report{}, errors.New("ldapload: no URL")
	}
	if cfg.Op == nil {
		return Report{}, errors.New("ldapload: no Op")
	}
	if cfg.Conns <= 0 {
		cfg.Conns = DefaultConns
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.Warmup = max(cfg.Warmup, 0)
	if cfg.Epoll {
		op, ok := cfg.Op.(rawOp)
		if !ok {
			return Report{}, fmt.Errorf("ldapload: Epoll runs a Bind or a Search, not a %T", cfg.Op)
		}
		if err := op.rawReady(); err != nil {
			return Report{}, fmt.Errorf("ldapload: %w", err)
		}
		return runEpoll(ctx, cfg, op)
	}

	conns := make([]*goldap.Conn, 0, cfg.Conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range cfg.Conns {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		c, err := dial(&cfg)
		if err != nil {
			return Report{}, fmt.Errorf("ldapload: connection %d to %s: %w", i, cfg.URL, err)
		}
		conns = append(conns, c)
	}

	start := time.Now().Add(cfg.Warmup)
	end := start.Add(cfg.Duration)
	var stop atomic.Bool
	workers := make([]*worker, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		w := &worker{c: c, op: cfg.Op, start: start, end: end, stop: &stop,
			it: Iter{Conn: i, Rand: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}}
		workers[i] = w
		wg.Go(w.run)
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	// Sample the process's CPU time at the window's edges; this goroutine
	// is otherwise idle.
	var (
		runErr           error
		stopTime         = end
		measuring        bool
		cpuStart, cpuEnd time.Duration
	)
	timer := time.NewTimer(time.Until(start))
	defer timer.Stop()
wait:
	for {
		select {
		case <-timer.C:
			if !measuring {
				measuring = true
				cpuStart, _ = processCPU()
				timer.Reset(time.Until(end))
				continue
			}
			cpuEnd, _ = processCPU()
			break wait
		case <-ctx.Done():
			runErr = ctx.Err()
			stopTime = time.Now()
			cpuEnd, _ = processCPU()
			stop.Store(true)
			for _, c := range conns {
				c.Close() // interrupt in-flight operations
			}
			break wait
		case <-done: // past the end, or every connection was lost
			if now := time.Now(); now.Before(end) {
				stopTime = now
			}
			cpuEnd, _ = processCPU()
			break wait
		}
	}
	<-done

	var (
		rep       Report
		hist      histogram
		firstTime time.Time
	)
	for _, w := range workers {
		rep.Ops += w.ops
		rep.Errors += w.errs
		rep.WarmupOps += w.warmOps
		rep.WarmupErrors += w.warmErrs
		if w.lost {
			rep.ConnsLost++
		}
		if w.firstErr != nil && (firstTime.IsZero() || w.firstErrTime.Before(firstTime)) {
			rep.FirstError, firstTime = w.firstErr.Error(), w.firstErrTime
		}
		hist.merge(&w.hist)
	}
	var cpu time.Duration
	if measuring {
		cpu = cpuEnd - cpuStart
	}
	rep.finish(&hist, start, stopTime, cpu)
	return rep, runErr
}

// finish fills in what r derives from its window [start, stop), the
// process's CPU over it and the latencies.
func (r *Report) finish(h *histogram, start, stop time.Time, cpu time.Duration) {
	r.Duration = max(stop.Sub(start), 0)
	if r.Duration > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Duration.Seconds()
	}
	r.ProcessCPU = cpu
	r.Mean = h.mean()
	r.P50 = h.quantile(0.50)
	r.P90 = h.quantile(0.90)
	r.P99 = h.quantile(0.99)
	r.Max = time.Duration(h.max)
}
