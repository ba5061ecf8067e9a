// Package bench holds dirgate's benchmarks against a real slapd on a
// generated directory (100,000 users, 10,000 groups, 500,000 memberships,
// one level of nesting by default; DIRGATE_BENCH_USERS, _GROUPS and
// _MEMBERSHIPS change the size). They are not part of `make test`; run
// them with ./bench/run.sh, which prints the README's table.
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/ldapfront"
	"github.com/dirgate/dirgate/restfront/admin"
	"github.com/dirgate/dirgate/upstream"
	ldapup "github.com/dirgate/dirgate/upstream/ldap"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var (
	nUsers       = envInt("DIRGATE_BENCH_USERS", 100_000)
	nGroups      = envInt("DIRGATE_BENCH_GROUPS", 10_000)
	nMemberships = envInt("DIRGATE_BENCH_MEMBERSHIPS", 500_000)
)

// directory is the slapd every benchmark of the process shares.
var (
	dirOnce sync.Once
	dir     *slapdtest.Server
)

// directory starts (once per process) the slapd the benchmarks share.
func directory(b *testing.B) *slapdtest.Server {
	dirOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "dirgate-bench")
		if err != nil {
			b.Fatal(err)
		}
		ldif := filepath.Join(tmp, "data.ldif")
		f, err := os.Create(ldif)
		if err != nil {
			b.Fatal(err)
		}
		err = slapdtest.GenerateLDIF(f, slapdtest.DataSpec{Users: nUsers, Groups: nGroups, Memberships: nMemberships,
			NestEvery: 10, Password: "bench-password", MemberOf: true})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		dir = slapdtest.Start(persistent{b}, slapdtest.WithLDIFFile(ldif), slapdtest.WithLDIFIncludesBase(), slapdtest.WithMemberOf())
		fmt.Fprintf(os.Stderr, "bench: slapd with %d users, %d groups, %d memberships loaded in %s\n",
			nUsers, nGroups, nMemberships, time.Since(start).Round(time.Second))
	})
	return dir
}

// persistent keeps slapd running across benchmarks: its cleanups run when
// the benchmark binary exits (TestMain), not when the first benchmark ends.
type persistent struct{ testing.TB }

var (
	cleanupsMu sync.Mutex
	cleanups   []func()
)

func (p persistent) Cleanup(f func()) {
	cleanupsMu.Lock()
	defer cleanupsMu.Unlock()
	cleanups = append(cleanups, f)
}

func (p persistent) TempDir() string {
	d, err := os.MkdirTemp("", "dirgate-bench-slapd")
	if err != nil {
		p.Fatal(err)
	}
	p.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupsMu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanupsMu.Unlock()
	os.Exit(code)
}

func openUpstream(b *testing.B, s *slapdtest.Server) *ldapup.Upstream {
	up, err := ldapup.Open("staff", ldapup.Config{URLs: []string{s.URL()}, BindDN: s.AdminDN(),
		BindPassword: secret.String(s.AdminPassword()), UserBase: s.PeopleDN(), GroupBase: s.GroupsDN(), PageSize: 1000}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return up
}

type synced struct {
	store *cache.Store
	up    *ldapup.Upstream
	r     *cache.Refresher
}

func newSynced(b *testing.B, s *slapdtest.Server, path string) *synced {
	store, err := cache.Open(cache.Options{Dir: path, Upstreams: []string{"staff"}})
	if err != nil {
		b.Fatal(err)
	}
	up := openUpstream(b, s)
	r := cache.NewRefresher(store, []cache.Target{{Name: "staff", Type: "ldap", Syncer: up, Interval: time.Hour,
		FullEvery: 24 * time.Hour, MaxDeletePercent: 100}}, nil)
	return &synced{store: store, up: up, r: r}
}

// fullySynced returns the shared slapd and a store that has synced all
// of it, closed when b ends.
func fullySynced(b *testing.B) (*slapdtest.Server, *synced) {
	s := directory(b)
	sy := newSynced(b, s, b.TempDir())
	b.Cleanup(sy.close)
	if _, err := sy.r.SyncNow(context.Background(), "staff", cache.SyncRequest{Full: true}); err != nil {
		b.Fatal(err)
	}
	return s, sy
}

func (s *synced) close() {
	s.up.Close()
	s.store.Close()
}

// resetPeak starts a new peak-RSS measurement (see peakRSSMiB).
func resetPeak() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMiB is the process's peak resident set size since resetPeak.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkFullSync: a first full sync of the whole directory into an empty
// store. Reports seconds per sync and the peak RSS of the process while it
// ran, with the collector's target `dirgate serve` uses (the default's
// larger heap headroom made the peak 300-580 MiB, depending on whether
// Badger's compactions overlapped the sync).
func BenchmarkFullSync(b *testing.B) {
	defer productionGC()()
	s := directory(b)
	var peakMiB, liveMiB float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sy := newSynced(b, s, b.TempDir())
		resetPeak()
		b.StartTimer()
		run, err := sy.r.SyncNow(context.Background(), "staff", cache.SyncRequest{Full: true})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if run.Result.Users != nUsers || run.Result.Groups != nGroups {
			b.Fatalf("synced %d users, %d groups", run.Result.Users, run.Result.Groups)
		}
		peakMiB = max(peakMiB, peakRSSMiB())
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		liveMiB = float64(ms.HeapAlloc) / (1 << 20)
		if p := os.Getenv("DIRGATE_BENCH_HEAPPROFILE"); p != "" {
			writeHeapProfile(b, p)
		}
		sy.close()
		b.StartTimer()
	}
	b.ReportMetric(peakMiB, "peak-RSS-MiB")
	b.ReportMetric(liveMiB, "live-heap-MiB")
	b.ReportMetric(float64(nUsers+nGroups)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkIncrementalSync: n users change their e-mail upstream, then one
// incremental sync. The time should follow n, not the directory's size.
func BenchmarkIncrementalSync(b *testing.B) {
	s, sy := fullySynced(b)
	conn := s.Conn(b)
	round := 0
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("changes=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				round++
				for j := range n {
					uid := slapdtest.GenUID((round*7919 + j*104729) % nUsers)
					req := goldap.NewModifyRequest(s.UserDN(uid), nil)
					req.Replace("mail", []string{fmt.Sprintf("%s.r%d@example.com", uid, round)})
					if err := conn.Modify(req); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				run, err := sy.r.SyncNow(context.Background(), "staff", cache.SyncRequest{})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if run.Full || run.Result.UsersUpdated != n {
					b.Fatalf("incremental sync: full=%v, %d users updated, want %d", run.Full, run.Result.UsersUpdated, n)
				}
				b.StartTimer()
			}
		})
	}
}

// lookupsPerOp: the lookup benchmarks time batches, so that `-benchtime
// 3x` (which the sync benchmarks need) still measures many lookups.
const lookupsPerOp = 20_000

func randomUsers(n int) []string {
	names := make([]string, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range names {
		names[i] = slapdtest.GenUID(rng.IntN(nUsers))
	}
	return names
}

// reportLatency reports the mean and the 99th percentile of per-lookup times.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), "ns/lookup")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns/lookup")
}

// BenchmarkUserLookup is `dirgate cache user NAME`: the record, its direct
// groups and every group reached through nesting, for random users.
func BenchmarkUserLookup(b *testing.B) {
	_, sy := fullySynced(b)
	svc := &admin.Local{Store: sy.store, Tree: &ldapfront.Tree{BaseDN: "dc=example,dc=com", TransitiveMemberOf: true}}
	names := randomUsers(lookupsPerOp)
	ctx := context.Background()
	nested := 0
	lat := make([]time.Duration, 0, lookupsPerOp*b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, n := range names {
			t0 := time.Now()
			d, err := svc.User(ctx, n)
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			nested += len(d.NestedGroups)
		}
	}
	b.StopTimer()
	if nested == 0 {
		b.Fatal("no nested groups found")
	}
	reportLatency(b, lat)
	b.ReportMetric(float64(nested)/float64(len(lat)), "groups/user")
}

// BenchmarkSlapdUserLookup is the same question asked of slapd, for
// comparison: the user's entry with its memberOf (direct only: slapd's
// memberof overlay does not follow nesting), over one connection.
func BenchmarkSlapdUserLookup(b *testing.B) {
	s := directory(b)
	conn := s.Conn(b)
	names := randomUsers(lookupsPerOp / 4)
	lat := make([]time.Duration, 0, len(names)*b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, n := range names {
			t0 := time.Now()
			req := goldap.NewSearchRequest(s.PeopleDN(), goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
				"(uid="+n+")", []string{"uid", "cn", "mail", "memberOf"}, nil)
			r, err := conn.Search(req)
			lat = append(lat, time.Since(t0))
			if err != nil || len(r.Entries) != 1 {
				b.Fatalf("search: %v", err)
			}
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
}

var _ upstream.Syncer = (*ldapup.Upstream)(nil)
