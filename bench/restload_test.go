package bench

// The pieces the Crowd REST benchmarks (rest_test.go) share: the server
// over the generated directory, an HTTP client, closed-loop load runners,
// a streaming body counter and peak-RSS measurement of this process.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dirgate/dirgate/bench/ldapload"
	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/restfront"
	"github.com/dirgate/dirgate/restfront/admin"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/local"
)

const (
	restApp      = "jira"
	restAppPW    = "bench-jira-password"
	restUserPW   = "bench-password"
	restPrefix   = "/rest/usermanagement/1"
	restGCPerc   = 60 // what `dirgate serve` sets (cmd/dirgate serveGCPercent)
	localUpName  = "internal"
	staffUpName  = "staff"
	restMaxConns = 64
)

// restEnv is a Crowd frontend, as `dirgate serve` configures it, over a
// store holding the generated directory (synced from the shared slapd,
// upstream "staff") and a local directory ("internal") whose users have
// argon2id hashes with the production parameters (secret.Hash).
type restEnv struct {
	base          string // http://addr/rest/usermanagement/1
	users, groups int    // in the directory
	dataDir       string // of the `dirgate serve` process; "" in process

	// cold are local users no request has authenticated yet; coldNext is
	// the next one to hand out. warm are local users for repeated logins.
	cold     []string
	coldNext atomic.Int64
	warm     []string
}

// newRESTEnv builds the environment for one benchmark (closed when it
// ends, so that the store's memory does not weigh on the next one's RSS)
// with coldUsers + warmUsers local users.
func newRESTEnv(b *testing.B, coldUsers, warmUsers int) *restEnv {
	s := directory(b)
	tmp := b.TempDir()
	e := &restEnv{}
	var seed strings.Builder
	seed.WriteString("users:\n")
	names := make([]string, 0, coldUsers+warmUsers)
	for i := range coldUsers {
		e.cold = append(e.cold, fmt.Sprintf("cold-%05d", i))
	}
	for i := range warmUsers {
		e.warm = append(e.warm, fmt.Sprintf("warm-%05d", i))
	}
	names = append(append(names, e.cold...), e.warm...)
	t0 := time.Now()
	hashes := hashAll(b, len(names))
	for i, n := range names {
		fmt.Fprintf(&seed, "  - {username: %s, first_name: Bench, last_name: %s, email: %s@example.com, password_hash: %q}\n", n, n, n, hashes[i])
	}
	seedFile := filepath.Join(tmp, "seed.yaml")
	if err := os.WriteFile(seedFile, []byte(seed.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	if len(names) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d local users with production argon2id hashes made in %s\n", len(names), time.Since(t0).Round(100*time.Millisecond))
	}
	appHash, err := secret.Hash(restAppPW)
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("DIRGATE_BENCH_REST_INPROCESS") != "" {
		e.startInProcess(b, s, tmp, seedFile, appHash)
	} else {
		e.startServe(b, s, tmp, seedFile, appHash)
	}
	// The application's own password is checked once (argon2id) and then
	// remembered: pay that before anything is measured.
	c := newRESTClient(e.base, 1)
	if _, err := c.do("GET", "/config/cookie", nil, io.Discard); err != nil {
		b.Fatal(err)
	}
	c.close()
	return e
}

// servePID is the `dirgate serve` process the REST benchmarks measure; 0
// when the server runs in this process (DIRGATE_BENCH_REST_INPROCESS).
var servePID int

// startServe runs the server as production does: `dirgate serve` in its
// own process (its own heap and garbage collector, GOGC 60), syncing the
// directory from slapd itself. CPU and RSS figures then cover that process
// (plus this one's, the load generator's, for CPU per request).
func (e *restEnv) startServe(b *testing.B, s *slapdtest.Server, dir, seedFile, appHash string) {
	addr := freeAddr(b)
	cfg := fmt.Sprintf(`data_dir: %s/data
base_dn: dc=example,dc=com
log: {level: warn}
ldap: {listen: ""}
rest:
  listen: %s
  applications:
    - name: %s
      password_hash: %q
      remote_addresses: [127.0.0.1]
      permissions: [read, write]
upstreams:
%s  - name: %s
    type: local
    seed_file: %s
`, dir, addr, restApp, appHash, ldapUpstreamConfig(s), localUpName, seedFile)
	p := runServe(b, dir, cfg, addr)
	servePID = p.cmd.Process.Pid
	b.Cleanup(func() { servePID = 0 })
	c, err := admin.Dial(filepath.Join(dir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := c.Status(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, u := range st.Upstreams {
		e.users, e.groups = e.users+u.Users, e.groups+u.Groups
	}
	e.base = "http://" + addr + restPrefix
	e.dataDir = filepath.Join(dir, "data")
}

// startInProcess runs the server in this process (for CPU profiles of
// both sides: DIRGATE_BENCH_CPUPROFILE).
func (e *restEnv) startInProcess(b *testing.B, s *slapdtest.Server, tmp, seedFile, appHash string) {
	b.Cleanup(productionGC())
	store, err := cache.Open(cache.Options{Dir: filepath.Join(tmp, "store"), Upstreams: []string{staffUpName, localUpName}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	up := openUpstream(b, s)
	r := cache.NewRefresher(store, []cache.Target{{Name: staffUpName, Type: "ldap", Syncer: up, Interval: time.Hour,
		FullEvery: 24 * time.Hour, MaxDeletePercent: 100}}, nil)
	t0 := time.Now()
	run, err := r.SyncNow(context.Background(), staffUpName, cache.SyncRequest{Full: true})
	up.Close()
	if err != nil {
		b.Fatal(err)
	}
	if run.Result.Users != nUsers || run.Result.Groups != nGroups {
		b.Fatalf("synced %d users, %d groups", run.Result.Users, run.Result.Groups)
	}
	fmt.Fprintf(os.Stderr, "bench: REST store synced %d users, %d groups in %s\n", nUsers, nGroups, time.Since(t0).Round(100*time.Millisecond))
	lu, err := local.Open(localUpName, local.Config{SeedFile: seedFile}, store, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := restfront.New(context.Background(), restfront.Config{
		Listen: "127.0.0.1:0",
		Applications: []restfront.Application{{Name: restApp, PasswordHash: appHash, RemoteAddresses: []string{"127.0.0.1"},
			Aggregate: true, Write: true}},
		Checkers: map[string]upstream.PasswordChecker{localUpName: lu},
		Writer:   lu, WriterUpstream: localUpName,
	}, store)
	if err != nil {
		b.Fatal(err)
	}
	// The server's goroutines inherit the label: CPU profiles tell them
	// from the load generator's (side=client) and the runtime's (none).
	pprof.Do(context.Background(), pprof.Labels("side", "server"), func(context.Context) { err = srv.Start() })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	e.users, e.groups = store.Counts()
	e.base = "http://" + srv.Addr() + restPrefix
}

// hashAll makes n production-cost argon2id hashes of restUserPW (each
// with its own salt) on every core.
func hashAll(b *testing.B, n int) []string {
	out := make([]string, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				h, err := secret.Hash(restUserPW)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				out[i] = h
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return out
}

// takeCold hands out n local users never authenticated before.
func (e *restEnv) takeCold(b *testing.B, n int) []string {
	end := e.coldNext.Add(int64(n))
	if int(end) > len(e.cold) {
		b.Fatalf("out of never-authenticated users (%d made): run with -benchtime 1x", len(e.cold))
	}
	return e.cold[int(end)-n : end]
}

// restClient is an application's HTTP client with keep-alive connections.
type restClient struct {
	base string
	hc   *http.Client
	tr   *http.Transport
	auth string
}

func newRESTClient(base string, conns int) *restClient {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}
	req, _ := http.NewRequest("GET", base, nil)
	req.SetBasicAuth(restApp, restAppPW)
	return &restClient{base: base, tr: tr, hc: &http.Client{Transport: tr}, auth: req.Header.Get("Authorization")}
}

func (c *restClient) close() { c.tr.CloseIdleConnections() }

// do sends one request (an XML body when body is not nil) and streams the
// response body into w. A status other than 200 is an error.
func (c *restClient) do(method, path string, body []byte, w io.Writer) (int64, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/xml")
	if body != nil {
		req.Header.Set("Content-Type", "application/xml; charset=UTF-8")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	return io.Copy(w, resp.Body)
}

// loadResult is a closed-loop run's outcome.
type loadResult struct {
	ok, errs int64
	firstErr error
	elapsed  time.Duration // the measured window
	cpu      time.Duration // this process's CPU (server and client) in the window
	server   time.Duration // of that, the `dirgate serve` process's (0 in process)
	machine  time.Duration // the whole machine's busy CPU time in the window
	bytes    int64         // response bytes of the successful requests
	hist     ldapload.Histogram
}

func (r *loadResult) rps() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r *loadResult) String() string {
	q := func(f float64) time.Duration { return r.hist.Quantile(f).Round(time.Microsecond) }
	server := ""
	if r.server > 0 && r.ok > 0 {
		server = fmt.Sprintf(" (server %.0f)", float64(r.server.Microseconds())/float64(r.ok))
	}
	return fmt.Sprintf("%d requests in %s: %.1f req/s, latency mean %s p50 %s p90 %s p99 %s p99.9 %s max %s, %.0f µs CPU/req (client+server)%s, other processes %.2f cores, %d errors",
		r.ok, r.elapsed.Round(time.Millisecond), r.rps(), r.hist.Mean().Round(time.Microsecond),
		q(0.5), q(0.9), q(0.99), q(0.999), r.hist.Max().Round(time.Microsecond), r.cpuPerReq(), server, r.otherCores(), r.errs)
}

// otherCores is how many cores other processes kept busy on average
// during the window: the machine is shared, and their load slows the
// benchmark down.
func (r *loadResult) otherCores() float64 {
	return max(r.machine-r.cpu, 0).Seconds() / r.elapsed.Seconds()
}

func (r *loadResult) cpuPerReq() float64 {
	if r.ok == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.ok)
}

// clientLabels mark the load generator's goroutines (and the HTTP
// transport's, which they start) in CPU profiles.
var clientLabels = pprof.WithLabels(context.Background(), pprof.Labels("side", "client"))

// profileWindow writes a CPU profile of the measured span only (not of
// the sync and the setup that go test -cpuprofile would include) when
// DIRGATE_BENCH_CPUPROFILE names a file prefix: PREFIX.<benchmark>.pprof.
// Samples carry side=server or side=client (none: the runtime, GC).
func profileWindow(b *testing.B) func() {
	prefix := os.Getenv("DIRGATE_BENCH_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	name := strings.NewReplacer("/", "_", "=", "").Replace(strings.TrimPrefix(b.Name(), "Benchmark"))
	f, err := os.Create(prefix + "." + name + ".pprof")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// restOp is request i of a run: it returns the response's size.
type restOp func(i int) (int64, error)

// loadWorker is what one worker of a run measured.
type loadWorker struct {
	hist      ldapload.Histogram
	ok, errs  int64
	bytes     int64
	firstErr  error
	firstTime time.Time
}

// record counts a successful request of n response bytes that took d.
func (w *loadWorker) record(n int64, d time.Duration) {
	w.ok++
	w.bytes += n
	w.hist.Record(d)
}

func (w *loadWorker) fail(err error, t time.Time) {
	w.errs++
	if w.firstErr == nil {
		w.firstErr, w.firstTime = err, t
	}
}

func collect(workers []*loadWorker) loadResult {
	var r loadResult
	var first time.Time
	for _, w := range workers {
		r.ok += w.ok
		r.errs += w.errs
		r.bytes += w.bytes
		r.hist.Merge(&w.hist)
		if w.firstErr != nil && (first.IsZero() || w.firstTime.Before(first)) {
			r.firstErr, first = w.firstErr, w.firstTime
		}
	}
	return r
}

// runCount runs total requests on conc workers (request i is the i-th
// handed out) and measures from the first to the last.
func runCount(conc, total int, op restOp) loadResult {
	workers := make([]*loadWorker, conc)
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0, m0, start := selfCPU(), machineBusy(), time.Now()
	for k := range workers {
		w := &loadWorker{}
		workers[k] = w
		wg.Go(func() {
			pprof.SetGoroutineLabels(clientLabels)
			for i := int(next.Add(1) - 1); i < total; i = int(next.Add(1) - 1) {
				t0 := time.Now()
				n, err := op(i)
				t1 := time.Now()
				if err != nil {
					w.fail(err, t1)
					continue
				}
				w.record(n, t1.Sub(t0))
			}
		})
	}
	wg.Wait()
	r := collect(workers)
	r.elapsed, r.cpu, r.machine = time.Since(start), selfCPU()-cpu0, machineBusy()-m0
	return r
}

// tally is an io.Writer that counts bytes and the occurrences of a few
// patterns (elements such as `<user `), across write boundaries, without
// keeping what it is given.
type tally struct {
	n      int64
	pats   [][]byte
	counts []int64
	tail   []byte // the last bytes seen, fewer than the longest pattern
	buf    []byte
}

func newTally(patterns ...string) *tally {
	t := &tally{counts: make([]int64, len(patterns))}
	for _, p := range patterns {
		t.pats = append(t.pats, []byte(p))
	}
	return t
}

func (t *tally) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	keep := 0
	for i, pat := range t.pats {
		keep = max(keep, len(pat)-1)
		// Matches that start in the tail and end in p: the tail is
		// shorter than pat, and p[:len(pat)-1] too.
		if k := min(len(pat)-1, len(t.tail)); k > 0 {
			t.buf = append(append(t.buf[:0], t.tail[len(t.tail)-k:]...), p[:min(len(pat)-1, len(p))]...)
			t.counts[i] += int64(bytes.Count(t.buf, pat))
		}
		t.counts[i] += int64(bytes.Count(p, pat))
	}
	if len(p) >= keep {
		t.tail = append(t.tail[:0], p[len(p)-keep:]...)
	} else {
		t.tail = append(t.tail, p...)
		t.tail = append(t.tail[:0], t.tail[max(0, len(t.tail)-keep):]...)
	}
	return len(p), nil
}

// rssWatch measures this process's peak RSS growth over a span: from a
// collected, returned-to-the-OS heap (the baseline) to the high-water
// mark, which the kernel resets on "5" into /proc/self/clear_refs. Where
// that is refused, a goroutine samples VmRSS instead.
type rssWatch struct {
	base   float64
	hwm    bool
	stop   chan struct{}
	peak   chan float64
	alloc0 uint64
}

func watchRSS() *rssWatch {
	if servePID == 0 {
		runtime.GC()
		debug.FreeOSMemory()
	}
	w := &rssWatch{}
	w.hwm = os.WriteFile(procPath("clear_refs"), []byte("5"), 0) == nil
	w.base = procStatusMiB("VmRSS")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.alloc0 = ms.TotalAlloc
	if !w.hwm {
		w.stop, w.peak = make(chan struct{}), make(chan float64)
		go func() {
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			peak := w.base
			for {
				select {
				case <-w.stop:
					w.peak <- max(peak, procStatusMiB("VmRSS"))
					return
				case <-t.C:
					peak = max(peak, procStatusMiB("VmRSS"))
				}
			}
		}()
	}
	return w
}

// done returns the peak RSS growth in MiB and the bytes allocated on the
// Go heap (by client and server) since watchRSS.
func (w *rssWatch) done() (growthMiB, allocMiB float64) {
	var peak float64
	if w.hwm {
		peak = procStatusMiB("VmHWM")
	} else {
		close(w.stop)
		peak = <-w.peak
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return max(peak-w.base, 0), float64(ms.TotalAlloc-w.alloc0) / (1 << 20)
}

// procPath is a /proc file of the measured server: this process, or the
// `dirgate serve` child.
func procPath(name string) string {
	if servePID != 0 {
		return fmt.Sprintf("/proc/%d/%s", servePID, name)
	}
	return "/proc/self/" + name
}

// procStatusMiB reads a kB field of the server's /proc status, in MiB.
func procStatusMiB(field string) float64 {
	raw, err := os.ReadFile(procPath("status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// restDuration is the measured window of the throughput benchmarks:
// DIRGATE_BENCH_DURATION, by default 5 s on the full directory and 1 s on
// the small ones of a smoke run.
func restDuration() time.Duration {
	def := 5 * time.Second
	if nUsers < 50_000 {
		def = time.Second
	}
	return envDuration("DIRGATE_BENCH_DURATION", def)
}

// productionGC sets the garbage collector's target `dirgate serve` uses
// (unless GOGC is set); the returned function restores the previous one.
func productionGC() func() {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(restGCPerc)
	return func() { debug.SetGCPercent(old) }
}

// othersWatch measures the CPU other processes use over a span.
type othersWatch struct {
	self, machine time.Duration
	start         time.Time
}

func startOthers() othersWatch { return othersWatch{selfCPU(), machineBusy(), time.Now()} }

// cores is the average number of cores other processes kept busy since
// startOthers.
func (o othersWatch) cores() float64 {
	others := (machineBusy() - o.machine) - (selfCPU() - o.self)
	return max(others, 0).Seconds() / time.Since(o.start).Seconds()
}

// machineBusy is the CPU time every core of the machine has spent busy
// (not idle, not waiting for I/O), from /proc/stat.
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // idle and iowait; guest time is in user already
			busy += n
		}
	}
	const clkTck = 100
	return time.Duration(busy) * time.Second / clkTck
}

// selfCPU is the user+system CPU time this process (the load generator,
// and the server when it runs here) and the `dirgate serve` child have
// used.
func selfCPU() time.Duration { return ownCPU() + serveCPU() }

// ownCPU is the user+system CPU time this process has used.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serveCPU is the user+system CPU time the `dirgate serve` child has used
// (0 when the server runs in this process).
func serveCPU() time.Duration {
	if servePID == 0 {
		return 0
	}
	d, _ := pidCPU(servePID)
	return d
}

// serveProfiles saves a CPU profile of the `dirgate serve` process whose
// data_dir is dataDir over the next warm+d, and of the d after warm an
// execution trace of its first second, an allocation profile and the live
// heap, when DIRGATE_BENCH_PROFILE_DIR names a directory: DIR/NAME.pprof,
// NAME.trace, NAME.allocs.pprof and NAME.heap.pprof (go tool pprof, go
// tool trace). The returned function waits for all of them.
func serveProfiles(b *testing.B, dataDir string, warm, d time.Duration, name string) (wait func()) {
	dir := os.Getenv("DIRGATE_BENCH_PROFILE_DIR")
	if dir == "" || dataDir == "" {
		return func() {}
	}
	var wg sync.WaitGroup
	for _, p := range []struct {
		after     time.Duration
		path, ext string
	}{
		{0, fmt.Sprintf("profile?seconds=%d", max(1, int((warm+d).Seconds()))), ".pprof"},
		// A trace of the measured window's first second: scheduling
		// latency, GC pauses and assists behind the tail.
		{warm, "trace?seconds=1", ".trace"},
		// What the measured window allocated (go tool pprof -sample_index=alloc_space).
		{warm, fmt.Sprintf("allocs?seconds=%d", max(1, int(d.Seconds()))), ".allocs.pprof"},
		// The live heap the collector marks (-sample_index=inuse_objects).
		{warm, "heap?gc=1", ".heap.pprof"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(p.after) // positions a sampling window, synchronises nothing
			profileTo(b, dataDir, p.path, filepath.Join(dir, name+p.ext))
		}()
	}
	return wg.Wait
}
