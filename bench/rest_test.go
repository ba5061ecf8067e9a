package bench

// Benchmarks of the Crowd REST frontend (restfront) on the generated
// directory (the same generator and sync as the other benchmarks, so the
// numbers compare). The server is `dirgate serve` in its own process (its
// own heap and garbage collector, GOGC 60, an application with a
// production argon2id hash, aggregated memberships), the load generator
// this process, on the same cores: request rates include the client's
// share of the CPU, and CPU per request counts both processes. With
// DIRGATE_BENCH_REST_INPROCESS=1 the server runs in this process instead
// (for DIRGATE_BENCH_CPUPROFILE, which then profiles both sides). Results are
// metrics, never asserted. Run with -benchtime 1x:
//
//	go test -run '^$' -bench REST -benchtime 1x ./bench/

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/bench/ldapload"
)

// authConcurrency are the client concurrencies of the login benchmark.
var authConcurrency = []int{1, 8, 64}

// authRequests is the number of logins of one measurement at concurrency
// c: enough for every client to log in a few times.
func authRequests(c int) int { return max(envInt("DIRGATE_BENCH_AUTH_REQUESTS", 64), 4*c) }

const authBody = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><password><value>` + restUserPW + `</value></password>`

// reportLoad reports a closed-loop run: ns/op is wall time per request
// (the inverse of the rate; at concurrency 1 the mean latency).
func reportLoad(b *testing.B, r loadResult) {
	if r.errs > 0 {
		b.Fatalf("%d requests failed, first: %v", r.errs, r.firstErr)
	}
	if r.ok == 0 {
		b.Fatal("no request completed in the window")
	}
	b.ReportMetric(float64(r.elapsed.Nanoseconds())/float64(r.ok), "ns/op")
	b.ReportMetric(r.rps(), "req/s")
	b.ReportMetric(ms(r.hist.Quantile(0.50)), "p50-ms")
	b.ReportMetric(ms(r.hist.Quantile(0.99)), "p99-ms")
	b.ReportMetric(ms(r.hist.Mean()), "mean-ms")
	b.ReportMetric(r.cpuPerReq(), "cpu-µs/req")
	b.ReportMetric(r.otherCores(), "other-procs-cores")
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// BenchmarkRESTAuthentication: POST /authentication?username=U with the
// right password, for users of the local directory whose hashes have the
// production argon2id parameters (secret.Hash: 19 MiB, 2 passes), at
// concurrency 1, 8 and 64:
//
//   - cold: every request is a user's first login since the server
//     started (distinct users, none seen before);
//   - warm: at concurrency c, c users log in again and again, each of
//     them logged in once before the measurement: where a server that
//     remembers verified passwords would be faster. (restfront remembers
//     the application's password only; a user's is checked by its
//     upstream every time, so warm costs what cold does.)
//
// Reports ns/op (wall time per login), req/s, p50/p99/mean latency, the
// process's CPU per login and its peak RSS growth while the logins ran.
func BenchmarkRESTAuthentication(b *testing.B) {
	cold := 0
	for _, c := range authConcurrency {
		cold += authRequests(c)
	}
	maxConc := authConcurrency[len(authConcurrency)-1]
	e := newRESTEnv(b, cold, maxConc)
	login := func(c *restClient, user string) (int64, error) {
		return c.do("POST", "/authentication?username="+user, []byte(authBody), io.Discard)
	}
	run := func(b *testing.B, conc int, users func(n int) []string) {
		c := newRESTClient(e.base, conc)
		defer c.close()
		n := authRequests(conc)
		var all loadResult
		var growth, alloc float64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			us := users(n)
			w := watchRSS()
			stopProfile := profileWindow(b)
			b.StartTimer()
			r := runCount(conc, n, func(i int) (int64, error) { return login(c, us[i]) })
			b.StopTimer()
			stopProfile()
			g, a := w.done()
			growth, alloc = max(growth, g), alloc+a
			if i == 0 {
				all = r
			} else {
				all.ok, all.errs, all.elapsed, all.cpu, all.machine = all.ok+r.ok, all.errs+r.errs, all.elapsed+r.elapsed, all.cpu+r.cpu, all.machine+r.machine
				all.hist.Merge(&r.hist)
			}
			b.StartTimer()
		}
		b.StopTimer()
		fmt.Fprintf(os.Stderr, "bench: REST login %s: %s, peak RSS +%.0f MiB\n", strings.TrimPrefix(b.Name(), "BenchmarkRESTAuthentication/"), &all, growth)
		reportLoad(b, all)
		b.ReportMetric(growth, "peak-RSS-growth-MiB")
		if servePID == 0 { // the Go heap of the process measured
			b.ReportMetric(alloc/float64(all.ok), "alloc-MiB/req")
		}
	}
	b.Run("cold", func(b *testing.B) {
		for _, conc := range authConcurrency {
			b.Run(fmt.Sprintf("c=%d", conc), func(b *testing.B) {
				run(b, conc, func(n int) []string { return e.takeCold(b, n) })
			})
		}
	})
	// Log every warm user in once; then, at concurrency c, the first c
	// warm users log in again and again, in turn.
	c := newRESTClient(e.base, maxConc)
	if r := runCount(maxConc, len(e.warm), func(i int) (int64, error) { return login(c, e.warm[i]) }); r.errs > 0 {
		b.Fatalf("first logins of the warm users: %v", r.firstErr)
	}
	c.close()
	b.Run("warm", func(b *testing.B) {
		for _, conc := range authConcurrency {
			b.Run(fmt.Sprintf("c=%d", conc), func(b *testing.B) {
				run(b, conc, func(n int) []string {
					us := make([]string, n)
					for i := range us {
						us[i] = e.warm[i%conc]
					}
					return us
				})
			})
		}
	})
}

// BenchmarkRESTNestedGroups: GET /user/group/nested?username=U&max-results=-1
// for random users of the directory, by 64 clients over keep-alive
// connections (runEpoll), for DIRGATE_BENCH_DURATION after a warm-up of a
// fifth of it:
//
//   - names (what Jira asks) and expand=group: closed loop, every client
//     sending its next request as soon as it has the answer (the rate is
//     what the two cores can serve; mean latency is 64 / rate);
//   - names-at-R/s: the names requests offered at R per second in all
//     (open loop, DIRGATE_BENCH_REST_RATES), latency counted from when
//     each request was due;
//   - net-http-floor (and -at-R/s): the same loads on nethttpfloor, a
//     net/http server answering with a prepared body of the names'
//     mean size: the latency net/http and the machine give any handler,
//     measured in the same run;
//   - names-vs-floor: the closed-loop names load on dirgate and on the
//     floor, back to back in alternating order, in DIRGATE_BENCH_REST_ROUNDS
//     rounds (5) of DIRGATE_BENCH_REST_ROUND_DURATION (3 s): the medians
//     of both p99s and of their ratio, since this machine's speed drifts
//     from one window to the next by more than the difference measured.
//
// Reports req/s and p50/p99/mean latency, response size and CPU per
// request (server and load generator).
func BenchmarkRESTNestedGroups(b *testing.B) {
	e := newRESTEnv(b, 0, 0)
	uids := ldapload.UIDs(nUsers)
	dur := restDuration()
	const conc = restMaxConns
	var namesSize int64 // mean response size of "names", for the floor
	ac := newRESTClient(e.base, 1)
	auth := ac.auth
	ac.close()
	var namesPaths []string
	for _, v := range []struct{ name, query string }{
		{"names", "&max-results=-1"},
		{"expand=group", "&max-results=-1&expand=group"},
	} {
		paths := ldapload.Table(nUsers, func(i int) string { return "/user/group/nested?username=" + uids[i] + v.query })
		if v.name == "names" {
			namesPaths = paths
		}
		b.Run(v.name, func(b *testing.B) {
			c := newRESTClient(e.base, conc)
			defer c.close()
			// Every user of the generated directory is in a group.
			t := newTally("<group ")
			if _, err := c.do("GET", paths[0], nil, t); err != nil || t.counts[0] == 0 {
				b.Fatalf("%s: %d groups, error %v", paths[0], t.counts[0], err)
			}
			// The load itself comes from runEpoll (one thread, like wrk):
			// net/http's client, or a goroutine per connection, would cost
			// more CPU per request than the server, on the same two cores.
			var r loadResult
			var err error
			b.ResetTimer()
			stopProfile := profileWindow(b)
			profiled := serveProfiles(b, e.dataDir, dur/5, dur, "nested_"+v.name)
			for i := 0; i < b.N; i++ {
				if r, err = runEpoll(e.base, c.auth, conc, paths, dur/5, dur, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			stopProfile()
			profiled()
			fmt.Fprintf(os.Stderr, "bench: REST nested groups %s, %d clients: %s\n", v.name, conc, &r)
			reportLoad(b, r)
			b.ReportMetric(float64(r.bytes)/float64(r.ok), "B/resp")
			if v.name == "names" {
				namesSize = r.bytes / max(r.ok, 1)
			}
		})
		if v.name != "names" {
			continue
		}
		// The same requests offered at fixed rates (open loop): the
		// latency at a load below what the two cores can serve.
		for _, rate := range restRates() {
			b.Run(fmt.Sprintf("names-at-%d/s", rate), func(b *testing.B) {
				var r loadResult
				var err error
				profiled := serveProfiles(b, e.dataDir, dur/5, dur, fmt.Sprintf("nested_names_at_%d", rate))
				defer profiled()
				for i := 0; i < b.N; i++ {
					if r, err = runEpoll(e.base, auth, conc, paths, dur/5, dur, float64(rate)); err != nil {
						b.Fatal(err)
					}
				}
				fmt.Fprintf(os.Stderr, "bench: REST nested groups names offered at %d/s, %d clients: %s\n", rate, conc, &r)
				reportLoad(b, r)
			})
		}
	}
	// The same load on a net/http server that answers every request with
	// a prepared body of the size of the names' responses (nethttpfloor):
	// what net/http and this machine cost any handler, in the same run.
	if namesSize == 0 {
		return // the names benchmark did not run
	}
	dgPID := servePID
	floor := startFloor(b, namesSize, auth)
	for _, rate := range append([]int{0}, restRates()...) {
		name := "net-http-floor"
		if rate > 0 {
			name = fmt.Sprintf("net-http-floor-at-%d/s", rate)
		}
		b.Run(name, func(b *testing.B) {
			var r loadResult
			var err error
			for i := 0; i < b.N; i++ {
				if r, err = runEpoll(floor, auth, conc, []string{"/user/group/nested?username=u"}, dur/5, dur, float64(rate)); err != nil {
					b.Fatal(err)
				}
			}
			fmt.Fprintf(os.Stderr, "bench: REST nested groups net/http floor (%d-byte body) %s, %d clients: %s\n", namesSize, name, conc, &r)
			reportLoad(b, r)
		})
	}
	b.Run("names-vs-floor", func(b *testing.B) {
		floorPID := servePID
		defer func() { servePID = floorPID }()
		run := func(base string, pid int, paths []string) loadResult {
			servePID = pid
			d := restRoundDuration()
			r, err := runEpoll(base, auth, conc, paths, d/5, d, 0)
			if err != nil {
				b.Fatal(err)
			}
			if r.errs > 0 || r.ok == 0 {
				b.Fatalf("%d requests failed (first: %v), %d answered", r.errs, r.firstErr, r.ok)
			}
			return r
		}
		var dP99, fP99, ratio, dRate, fRate []float64
		for i := 0; i < b.N; i++ {
			for round := range envInt("DIRGATE_BENCH_REST_ROUNDS", 5) {
				var dr, fr loadResult
				if round%2 == 0 {
					dr, fr = run(e.base, dgPID, namesPaths), run(floor, floorPID, []string{"/user/group/nested?username=u"})
				} else {
					fr, dr = run(floor, floorPID, []string{"/user/group/nested?username=u"}), run(e.base, dgPID, namesPaths)
				}
				d, f := ms(dr.hist.Quantile(0.99)), ms(fr.hist.Quantile(0.99))
				fmt.Fprintf(os.Stderr, "bench: REST nested names round %d: dirgate p99 %.2f ms at %.0f req/s, floor p99 %.2f ms at %.0f req/s\n",
					round+1, d, dr.rps(), f, fr.rps())
				dP99, fP99, ratio = append(dP99, d), append(fP99, f), append(ratio, d/f)
				dRate, fRate = append(dRate, dr.rps()), append(fRate, fr.rps())
			}
		}
		b.ReportMetric(float64(len(dP99)), "rounds")
		b.ReportMetric(median(dP99), "p99-ms")
		b.ReportMetric(slices.Max(dP99), "p99-ms-max")
		b.ReportMetric(slices.Min(dP99), "p99-ms-min")
		b.ReportMetric(median(fP99), "floor-p99-ms")
		b.ReportMetric(median(ratio), "p99-ratio")
		b.ReportMetric(median(dRate), "req/s")
		b.ReportMetric(median(fRate), "floor-req/s")
	})
}

// restRoundDuration is the window of each round of names-vs-floor
// (DIRGATE_BENCH_REST_ROUND_DURATION, 3 s; a fifth of it more to warm up).
func restRoundDuration() time.Duration {
	return envDuration("DIRGATE_BENCH_REST_ROUND_DURATION", min(3*time.Second, restDuration()))
}

// restRates are the offered rates (requests/s) of the open-loop runs of
// BenchmarkRESTNestedGroups: DIRGATE_BENCH_REST_RATES, comma-separated.
func restRates() []int {
	var rates []int
	for _, f := range strings.Split(cmp.Or(os.Getenv("DIRGATE_BENCH_REST_RATES"), "5000,10000"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			rates = append(rates, n)
		}
	}
	return rates
}

// startFloor builds and starts bench/nethttpfloor answering with bodies
// of size bytes to requests carrying auth, and returns its base URL.
func startFloor(b *testing.B, size int64, auth string) string {
	dir := b.TempDir()
	bin := filepath.Join(dir, "nethttpfloor")
	if out, err := exec.Command("go", "build", "-o", bin, "./nethttpfloor").CombinedOutput(); err != nil {
		b.Fatalf("building nethttpfloor: %v\n%s", err, out)
	}
	addr := freeAddr(b)
	cmd := exec.Command(bin, addr, strconv.FormatInt(size, 10), auth)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// CPU figures count the floor server as the server.
	prev := servePID
	servePID = cmd.Process.Pid
	b.Cleanup(func() { servePID = prev })
	for start := time.Now(); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("nethttpfloor does not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener
	}
	return "http://" + addr + restPrefix
}

// BenchmarkRESTGroupMembership:
//
//   - membership: GET /group/membership, every group with its direct
//     users and child groups, the client reading the stream and throwing
//     it away. Reports the wall time (ns/op), the response size, and the
//     process's peak RSS growth and Go allocations during the request.
//     One unmeasured request comes first.
//   - full-sync: what Jira's full synchronisation of a Crowd directory
//     asks, one after the other: every user expanded (POST /search
//     entity-type=user, <null-search-restriction/>, max-results=-1,
//     expand=user), every group (the same with entity-type=group), then
//     /group/membership. Reports the total time (ns/op), each step's time
//     and size, the entities returned, and the peak RSS growth of the
//     whole sequence.
func BenchmarkRESTGroupMembership(b *testing.B) {
	e := newRESTEnv(b, 0, 0)
	users, groups := e.users, e.groups
	c := newRESTClient(e.base, 1)
	defer c.close()
	get := func(b *testing.B, method, path string, body []byte, t *tally) time.Duration {
		t0 := time.Now()
		if _, err := c.do(method, path, body, t); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}

	b.Run("membership", func(b *testing.B) {
		first := get(b, "GET", "/group/membership", nil, newTally())
		var growth, alloc, others float64
		var t *tally
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			t = newTally("<membership ", "<user ", "<group ")
			w := watchRSS()
			o := startOthers()
			stopProfile := profileWindow(b)
			b.StartTimer()
			get(b, "GET", "/group/membership", nil, t)
			b.StopTimer()
			stopProfile()
			others = max(others, o.cores())
			g, a := w.done()
			growth, alloc = max(growth, g), max(alloc, a)
			b.StartTimer()
		}
		b.StopTimer()
		if int(t.counts[0]) != groups {
			b.Logf("/group/membership listed %d groups, the store has %d", t.counts[0], groups)
		}
		perOp := b.Elapsed() / time.Duration(b.N)
		fmt.Fprintf(os.Stderr, "bench: REST /group/membership: %s (first %s), %.1f MB, %d groups, %d user and %d group memberships, peak RSS +%.0f MiB, %.0f MiB allocated, other processes %.2f cores\n",
			perOp.Round(time.Millisecond), first.Round(time.Millisecond), float64(t.n)/1e6, t.counts[0], t.counts[1], t.counts[2], growth, alloc, others)
		b.ReportMetric(float64(t.n), "resp-bytes")
		b.ReportMetric(float64(t.counts[1]+t.counts[2]), "memberships")
		b.ReportMetric(growth, "peak-RSS-growth-MiB")
		if servePID == 0 { // the Go heap of the process measured
			b.ReportMetric(alloc, "alloc-MiB")
		}
		b.ReportMetric(others, "other-procs-cores")
	})

	b.Run("full-sync", func(b *testing.B) {
		search := func(kind string) (string, []byte) {
			return "/search?entity-type=" + kind + "&start-index=0&max-results=-1&expand=" + kind,
				[]byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><null-search-restriction/>`)
		}
		userPath, body := search("user")
		groupPath, _ := search("group")
		var growth, alloc, others float64
		var tu, tg, tm *tally
		var du, dg, dm time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			tu, tg, tm = newTally("<user "), newTally("<group "), newTally("<membership ")
			w := watchRSS()
			o := startOthers()
			stopProfile := profileWindow(b)
			b.StartTimer()
			du = get(b, "POST", userPath, body, tu)
			dg = get(b, "POST", groupPath, body, tg)
			dm = get(b, "GET", "/group/membership", nil, tm)
			b.StopTimer()
			stopProfile()
			others = max(others, o.cores())
			g, a := w.done()
			growth, alloc = max(growth, g), max(alloc, a)
			b.StartTimer()
		}
		b.StopTimer()
		if int(tu.counts[0]) != users {
			// Not a timing: a full sync that misses users is wrong.
			b.Logf("the user search returned %d users, the store has %d", tu.counts[0], users)
		}
		if int(tg.counts[0]) != groups {
			b.Logf("the group search returned %d groups, the store has %d", tg.counts[0], groups)
		}
		fmt.Fprintf(os.Stderr, "bench: REST full sync: users %s (%.1f MB, %d of %d), groups %s (%.1f MB, %d of %d), memberships %s (%.1f MB); peak RSS +%.0f MiB, %.0f MiB allocated, other processes %.2f cores\n",
			du.Round(time.Millisecond), float64(tu.n)/1e6, tu.counts[0], users, dg.Round(time.Millisecond), float64(tg.n)/1e6, tg.counts[0], groups,
			dm.Round(time.Millisecond), float64(tm.n)/1e6, growth, alloc, others)
		b.ReportMetric(du.Seconds(), "users-s")
		b.ReportMetric(dg.Seconds(), "groups-s")
		b.ReportMetric(dm.Seconds(), "membership-s")
		b.ReportMetric(float64(tu.n+tg.n+tm.n), "resp-bytes")
		b.ReportMetric(float64(tu.counts[0]), "users")
		b.ReportMetric(float64(tg.counts[0]), "groups")
		b.ReportMetric(growth, "peak-RSS-growth-MiB")
		if servePID == 0 { // the Go heap of the process measured
			b.ReportMetric(alloc, "alloc-MiB")
		}
		b.ReportMetric(others, "other-procs-cores")
	})
}
