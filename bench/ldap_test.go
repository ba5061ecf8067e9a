package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/bench/ldapload"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/restfront/admin"
)

// BenchmarkLDAPSideBySide drives slapd and dirgate with the same load
// generator (bench/ldapload, 16 connections served by one thread around
// epoll, as wrk does) on the same generated directory, one after the other in the same run, and reports
// throughput, the servers' CPU per operation, and the ratios:
//
//   - uid search (&(objectClass=inetOrgPerson)(uid=X)) returning uid cn
//     mail memberOf: slapd (back-mdb, indexed, direct memberOf stored by
//     the memberof overlay) against dirgate (transitive memberOf);
//   - nested membership (&(uid=X)(memberOf=G)), G one of X's groups
//     directly or through nesting: slapd with the dynlist overlay
//     computing nested memberOf against dirgate;
//   - a bind as a user: straight to slapd against through dirgate, which
//     passes the password check on to that slapd.
//
// dirgate runs as its own process (`dirgate serve`), as in production, so
// that its CPU and peak RSS are its own. Every comparison is measured
// DIRGATE_BENCH_ROUNDS times (default 3), the two sides back to back in
// alternating order, each for DIRGATE_BENCH_DURATION (default 6s); binds
// DIRGATE_BENCH_BIND_ROUNDS times (default 9) for
// DIRGATE_BENCH_BIND_DURATION (default half the other). The medians are
// reported, and the worst ratio next to them. Run with -benchtime 1x.
func BenchmarkLDAPSideBySide(b *testing.B) {
	dur := envDuration("DIRGATE_BENCH_DURATION", 6*time.Second)
	warm := dur / 5
	tmp := b.TempDir()
	ldif := filepath.Join(tmp, "data.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		b.Fatal(err)
	}
	spec := slapdtest.DataSpec{Users: nUsers, Groups: nGroups, Memberships: nMemberships, NestEvery: 10, Password: "bench-password", MemberOf: true}
	if err := slapdtest.GenerateLDIF(f, spec); err != nil {
		b.Fatal(err)
	}
	f.Close()
	plain := slapdtest.Start(b, slapdtest.WithLDIFFile(ldif), slapdtest.WithLDIFIncludesBase(), slapdtest.WithMemberOf())
	dynlist := slapdtest.Start(b, slapdtest.WithLDIFFile(ldif), slapdtest.WithLDIFIncludesBase(), slapdtest.WithDynlist())
	dg := startDirgate(b, plain, tmp)

	uids := ldapload.UIDs(nUsers)
	nested, _, err := ldapload.MemberOfFilters(ldif, uids)
	if err != nil {
		b.Fatal(err)
	}
	search := func(filter func(it *ldapload.Iter) string) ldapload.Op {
		return ldapload.Search{Base: "dc=example,dc=com", Scope: goldap.ScopeWholeSubtree, Filter: filter,
			Attributes: []string{"uid", "cn", "mail", "memberOf"}, Expect: 1}
	}
	uidSearch := search(func(it *ldapload.Iter) string {
		return "(&(objectClass=inetOrgPerson)(uid=" + ldapload.Pick(it, uids) + "))"
	})
	memberSearch := search(func(it *ldapload.Iter) string { return ldapload.Pick(it, nested) })
	bindAs := func(container string) ldapload.Op {
		return ldapload.Bind{Creds: func(it *ldapload.Iter) (string, string) {
			return "uid=" + ldapload.Pick(it, uids) + "," + container + ",dc=example,dc=com", "bench-password"
		}}
	}
	// The generator drives its connections from one thread around epoll
	// (DIRGATE_BENCH_LDAP_GENERATOR=go-ldap: a goroutine and a go-ldap
	// client per connection, five times its CPU per operation).
	epollGenerator := os.Getenv("DIRGATE_BENCH_LDAP_GENERATOR") != "go-ldap"
	type target struct {
		url, bindDN, bindPW string
		pid                 int
	}
	slapdT := target{plain.URL(), plain.AdminDN(), plain.AdminPassword(), slapdPID(b, plain)}
	dynT := target{dynlist.URL(), dynlist.AdminDN(), dynlist.AdminPassword(), slapdPID(b, dynlist)}
	dgT := target{"ldap://" + dg.addr, "cn=bench,ou=services,dc=example,dc=com", "bench-service", dg.cmd.Process.Pid}
	// run drives t with op for d and reports what it measured, with the
	// CPU the three processes on the two cores used: the server under
	// test, the plain slapd (dirgate's upstream: its share is part of every
	// pass-through bind) and this process, the load generator.
	run := func(name string, t target, op ldapload.Op, d time.Duration, service bool) (ldapload.Report, cpuUse) {
		cfg := ldapload.Config{URL: t.url, Op: op, Warmup: warm, Duration: d, Seed: 7, Epoll: epollGenerator}
		if service {
			cfg.BindDN, cfg.BindPassword = t.bindDN, t.bindPW
		}
		profiled := func() {}
		if t.pid == dgT.pid {
			// Profiles of dirgate over the run (DIRGATE_BENCH_PROFILE_DIR).
			profiled = serveProfiles(b, filepath.Join(tmp, "data"), warm, d, strings.ReplaceAll(name, " ", "_"))
		}
		up0, gen0 := procCPU(b, slapdT.pid), ownCPU()
		cpu0, t0 := procCPU(b, t.pid), time.Now()
		rep, err := ldapload.Run(context.Background(), cfg)
		profiled()
		cpu1, elapsed := procCPU(b, t.pid), time.Since(t0)
		up1, gen1 := procCPU(b, slapdT.pid), ownCPU()
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		if rep.Errors > 0 {
			b.Fatalf("%s: %d errors, first: %s", name, rep.Errors, rep.FirstError)
		}
		ops := float64(rep.Ops + rep.WarmupOps)
		u := cpuUse{
			server: (cpu1 - cpu0).Seconds() / elapsed.Seconds(), serverPerOp: float64((cpu1 - cpu0).Microseconds()) / ops,
			generator: (gen1 - gen0).Seconds() / elapsed.Seconds(), generatorPerOp: float64((gen1 - gen0).Microseconds()) / ops,
		}
		upstream := ""
		if t.pid == dgT.pid {
			u.upstream, u.upstreamPerOp = (up1-up0).Seconds()/elapsed.Seconds(), float64((up1-up0).Microseconds())/ops
			upstream = fmt.Sprintf("; slapd upstream %.2f cores, %.1f µs/op", u.upstream, u.upstreamPerOp)
		}
		fmt.Fprintf(os.Stderr, "bench: %-34s %9.1f ops/s  p50 %-8s p99 %-8s  server %.2f cores, %.1f µs/op%s; load generator %.2f cores, %.1f µs/op\n",
			name, rep.OpsPerSec, rep.P50, rep.P99, u.server, u.serverPerOp, upstream, u.generator, u.generatorPerOp)
		return rep, u
	}
	syncPeak := vmHWM(b, dg.cmd.Process.Pid)
	if dir := os.Getenv("DIRGATE_BENCH_PROFILE_DIR"); dir != "" {
		profileTo(b, filepath.Join(tmp, "data"), "heap?gc=1", filepath.Join(dir, "dirgate_heap_after_sync.pprof"))
	}
	resetHWM(b, dg.cmd.Process.Pid)
	// dirgate fills its per-user cache in the background after its first
	// search: let that happen before anything is measured.
	run("dirgate warm-up (not measured)", dgT, uidSearch, 2*warm, true)
	rounds := envInt("DIRGATE_BENCH_ROUNDS", 3)
	// Binds get more, shorter rounds than searches (in about the same
	// time): a pass-through bind puts three processes (client, dirgate,
	// slapd) on the two cores, and its ratio moves most with the machine;
	// pairs measured closer together, and more of them, steady the median.
	bindRounds := max(rounds, envInt("DIRGATE_BENCH_BIND_ROUNDS", 9))
	bindDur := envDuration("DIRGATE_BENCH_BIND_DURATION", dur/2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Several rounds, each pair measured back to back with the order
		// alternating, and the median of each ratio reported: the shared
		// two-core machine moves single measurements by ±20%.
		var uidR, memR, memVsUID, bindR, bindLat, sUIDs, dUIDs, dMems, sBinds, dBinds []float64
		// Per bind round: the cores the three processes used together, and
		// the CPU per bind of dirgate, of slapd behind it, and of slapd
		// answering directly.
		var sBindCores, dBindCores, dBindCPU, upBindCPU, sBindCPU []float64
		var sMem ldapload.Report
		for round := range bindRounds {
			pair := func(first, second func()) {
				if round%2 == 0 {
					first()
					second()
				} else {
					second()
					first()
				}
			}
			// All of it, unless DIRGATE_BENCH_LDAP_ONLY=bind (for
			// experiments on the bind path: the other figures are then 1).
			var sUID, dUID, dMem, sBind, dBind ldapload.Report
			sUID.OpsPerSec, dUID.OpsPerSec, dMem.OpsPerSec = 1, 1, 1
			if round == 0 {
				sMem.OpsPerSec = 1
			}
			searches := round < rounds
			if searches && os.Getenv("DIRGATE_BENCH_LDAP_ONLY") != "bind" {
				pair(func() { sUID, _ = run("slapd uid search", slapdT, uidSearch, dur, true) },
					func() { dUID, _ = run("dirgate uid search", dgT, uidSearch, dur, true) })
				dMem, _ = run("dirgate nested memberOf", dgT, memberSearch, dur, true)
				if round == 0 {
					// Slow (about a second a search): once is enough.
					sMem, _ = run("slapd+dynlist nested memberOf", dynT, memberSearch, max(dur, 10*time.Second), true)
				}
			}
			var sCPU, dCPU cpuUse
			pair(func() { sBind, sCPU = run("slapd bind", slapdT, bindAs("ou=people"), bindDur, false) },
				func() { dBind, dCPU = run("dirgate bind (pass-through)", dgT, bindAs("ou=users"), bindDur, false) })
			sBindCores, dBindCores = append(sBindCores, sCPU.total()), append(dBindCores, dCPU.total())
			dBindCPU, upBindCPU, sBindCPU = append(dBindCPU, dCPU.serverPerOp), append(upBindCPU, dCPU.upstreamPerOp), append(sBindCPU, sCPU.serverPerOp)
			sBinds, dBinds = append(sBinds, sBind.OpsPerSec), append(dBinds, dBind.OpsPerSec)
			bindR = append(bindR, sBind.OpsPerSec/dBind.OpsPerSec)
			bindLat = append(bindLat, float64(dBind.P50)/float64(sBind.P50))
			if !searches {
				fmt.Fprintf(os.Stderr, "bench: round %d: bind %.2f× slower\n", round+1, bindR[round])
				continue
			}
			sUIDs, dUIDs, dMems = append(sUIDs, sUID.OpsPerSec), append(dUIDs, dUID.OpsPerSec), append(dMems, dMem.OpsPerSec)
			uidR = append(uidR, dUID.OpsPerSec/sUID.OpsPerSec)
			memR = append(memR, dMem.OpsPerSec/sMem.OpsPerSec)
			memVsUID = append(memVsUID, dMem.OpsPerSec/dUID.OpsPerSec)
			fmt.Fprintf(os.Stderr, "bench: round %d: uid %.2f×, nested vs uid %.2f×, bind %.2f× slower\n",
				round+1, uidR[round], memVsUID[round], bindR[round])
		}
		if dir := os.Getenv("DIRGATE_BENCH_PROFILE_DIR"); dir != "" {
			profileTo(b, filepath.Join(tmp, "data"), "heap?gc=1", filepath.Join(dir, "dirgate_heap.pprof"))
		}
		b.ReportMetric(float64(rounds), "rounds")
		b.ReportMetric(float64(bindRounds), "bind-rounds")
		b.ReportMetric(median(sUIDs), "slapd-uid-ops/s")
		b.ReportMetric(median(dUIDs), "dirgate-uid-ops/s")
		b.ReportMetric(median(uidR), "uid-ratio")
		b.ReportMetric(slices.Min(uidR), "uid-ratio-min")
		b.ReportMetric(sMem.OpsPerSec, "dynlist-member-ops/s")
		b.ReportMetric(median(dMems), "dirgate-member-ops/s")
		b.ReportMetric(median(memR), "member-ratio")
		b.ReportMetric(median(memVsUID), "member-vs-uid")
		b.ReportMetric(slices.Min(memVsUID), "member-vs-uid-min")
		b.ReportMetric(median(sBinds), "slapd-bind-ops/s")
		b.ReportMetric(median(dBinds), "dirgate-bind-ops/s")
		b.ReportMetric(median(bindLat), "bind-latency-ratio")
		b.ReportMetric(median(bindR), "bind-throughput-ratio")
		b.ReportMetric(slices.Max(bindR), "bind-throughput-ratio-max")
		b.ReportMetric(median(sBindCores), "slapd-bind-cores-used")
		b.ReportMetric(median(dBindCores), "dirgate-bind-cores-used")
		b.ReportMetric(median(dBindCPU), "dirgate-bind-cpu-µs")
		b.ReportMetric(median(upBindCPU), "slapd-behind-dirgate-bind-cpu-µs")
		b.ReportMetric(median(sBindCPU), "slapd-bind-cpu-µs")
	}
	b.StopTimer()
	b.ReportMetric(vmHWM(b, dg.cmd.Process.Pid), "dirgate-load-peak-RSS-MiB")
	b.ReportMetric(syncPeak, "dirgate-sync-peak-RSS-MiB")
}

// median is the middle value of l (the mean of the two middle ones when
// l has an even length).
func median(l []float64) float64 {
	s := slices.Sorted(slices.Values(l))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// dirgateProc is a `dirgate serve` child in front of a slapd.
type dirgateProc struct {
	cmd  *exec.Cmd
	addr string
}

// startDirgate builds dirgate, starts it over s, and waits for its first
// full sync.
func startDirgate(b *testing.B, s *slapdtest.Server, dir string) *dirgateProc {
	return startDirgateT(b, s, dir)
}

func startDirgateT(b testing.TB, s *slapdtest.Server, dir string) *dirgateProc {
	addr := freeAddr(b)
	hash, err := secret.Hash("bench-service")
	if err != nil {
		b.Fatal(err)
	}
	cfg := fmt.Sprintf(`data_dir: %s/data
base_dn: dc=example,dc=com
log: {level: warn}
ldap:
  listen: %s
  service_accounts: [{name: bench, password_hash: %q}]
rest: {listen: ""}
upstreams:
%s`, dir, addr, hash, ldapUpstreamConfig(s))
	return runServe(b, dir, cfg, addr)
}

// ldapUpstreamConfig is the configuration of upstream "staff" on s: as
// many bind connections as the load generator has connections (16), or
// DIRGATE_BENCH_BIND_CONNECTIONS.
func ldapUpstreamConfig(s *slapdtest.Server) string {
	return fmt.Sprintf(`  - name: staff
    type: ldap
    urls: [%s]
    bind_dn: %s
    bind_password: %s
    user_base: %s
    group_base: %s
    page_size: 1000
    bind_connections: %d
    refresh: {interval: 24h, full_every: 24h}
`, s.URL(), s.AdminDN(), s.AdminPassword(), s.PeopleDN(), s.GroupsDN(), envInt("DIRGATE_BENCH_BIND_CONNECTIONS", 16))
}

// freeAddr returns a loopback address nothing listens on (for a child's
// configuration; the port is free when asked, which is what a benchmark
// needs).
func freeAddr(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runServe builds dirgate, starts `dirgate serve` with cfg (its data_dir
// is dir/data), and waits until every upstream has synced and the work
// that follows a sync is done.
func runServe(b testing.TB, dir, cfg, addr string) *dirgateProc {
	bin := filepath.Join(dir, "dirgate")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dirgate").CombinedOutput(); err != nil {
		b.Fatalf("building dirgate: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(dir, "dirgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	if cpus := os.Getenv("DIRGATE_BENCH_SERVER_CPUS"); cpus != "" {
		// Pin the server to these CPUs (taskset -c syntax), e.g. to keep
		// it off the load generator's: taskset -c 0 go test ... with
		// DIRGATE_BENCH_SERVER_CPUS=1.
		cmd = exec.Command("taskset", "-c", cpus, bin, "serve", "--config", cfgPath)
	}
	cmd.Stderr = os.Stderr
	cmd.Env = os.Environ()
	if p := os.Getenv("DIRGATE_BENCH_SERVER_GOMAXPROCS"); p != "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+p)
	}
	// More of the server's environment, for experiments: e.g.
	// DIRGATE_BENCH_SERVER_ENV="GOGC=off GODEBUG=gctrace=1".
	cmd.Env = append(cmd.Env, strings.Fields(os.Getenv("DIRGATE_BENCH_SERVER_ENV"))...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	start := time.Now()
	for {
		if time.Since(start) > 5*time.Minute {
			b.Fatal("dirgate did not finish its first sync")
		}
		if c, err := admin.Dial(filepath.Join(dir, "data")); err == nil {
			st, err := c.Status(context.Background())
			ready := err == nil && len(st.Upstreams) > 0
			users, groups := 0, 0
			for _, u := range st.Upstreams {
				ready = ready && u.Synced && u.State == "connected"
				users, groups = users+u.Users, groups+u.Groups
			}
			if ready {
				fmt.Fprintf(os.Stderr, "bench: dirgate synced %d users, %d groups in %s\n", users, groups, time.Since(start).Round(time.Second))
				break
			}
		}
		time.Sleep(200 * time.Millisecond) // polling readiness
	}
	// Wait until the work that follows a sync (compaction, warming the
	// entry cache) is done, so that it does not run during a measurement.
	for i := 0; i < 120; i++ {
		c0 := procCPU(b, cmd.Process.Pid)
		time.Sleep(500 * time.Millisecond) // sampling CPU use
		if procCPU(b, cmd.Process.Pid)-c0 < 25*time.Millisecond {
			break
		}
	}
	return &dirgateProc{cmd: cmd, addr: addr}
}

// resetHWM starts a new peak-RSS measurement of a process.
func resetHWM(b testing.TB, pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS of %d: %v", pid, err)
	}
}

func slapdPID(b *testing.B, s *slapdtest.Server) int {
	raw, err := os.ReadFile(filepath.Join(s.Dir(), "slapd.pid"))
	if err != nil {
		b.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.Fatal(err)
	}
	return pid
}

// procCPU is the user+system CPU time process pid has used.
func procCPU(b testing.TB, pid int) time.Duration {
	d, err := pidCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// pidCPU is the user+system CPU time process pid has used, from /proc.
func pidCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// cpuUse is the CPU a run used, in cores (CPU seconds per second), and
// per operation in µs.
type cpuUse struct {
	server, upstream, generator                float64
	serverPerOp, upstreamPerOp, generatorPerOp float64
}

// total is the cores the three processes used together.
func (u cpuUse) total() float64 { return u.server + u.upstream + u.generator }

// vmHWM is a process's peak resident set size in MiB.
func vmHWM(b testing.TB, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// profileTo saves a profile (a /debug/pprof/ path) of the dirgate serving
// dataDir.
func profileTo(b *testing.B, dataDir, profile, path string) {
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", admin.SocketPath(dataDir))
	}}}
	resp, err := c.Get("http://dirgate/debug/pprof/" + profile)
	if err != nil {
		b.Errorf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Errorf("profile: %v", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.Errorf("profile: %v", err)
	}
}
