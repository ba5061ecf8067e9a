package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/ldapfront"
)

// BenchmarkGCMark measures what one garbage collection costs serve once the
// directory is synced and the LDAP frontend's per-user cache is full: the
// CPU a full collection takes, the live heap, the part of it the collector
// must scan, and the objects it must mark. Under load, the collector runs
// once per (live heap × GOGC/100) bytes allocated, so
//
//	GC CPU per KiB allocated = CPU per collection / (live × GOGC/100)
//
// which is reported as gc-µs/KiB at serve's GOGC of 60: a pass-through bind
// allocates about 6 KiB (most of it gldap's request decoding), so this
// figure times six is the collector's share of every bind. Unlike the
// side-by-side benchmarks, these figures hardly move with the machine's
// load, so they show what a change to the heap's layout is worth.
func BenchmarkGCMark(b *testing.B) {
	_, sy := fullySynced(b)
	tree := &ldapfront.Tree{BaseDN: "dc=example,dc=com", TransitiveMemberOf: true}
	srv, err := ldapfront.New(ldapfront.Config{Listen: "127.0.0.1:0", Tree: tree, AllowAnonymousSearch: true}, sy.store)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	addr, _ := srv.Addrs()
	// Every user searched once: the per-user cache holds them all, as it
	// does in serve after its background warm-up.
	uids := make(chan string, 1024)
	var wg sync.WaitGroup
	var failed error
	var failOnce sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := goldap.DialURL("ldap://" + addr)
			if err != nil {
				failOnce.Do(func() { failed = err })
				for range uids {
				}
				return
			}
			defer c.Close()
			for uid := range uids {
				r, err := c.Search(goldap.NewSearchRequest("dc=example,dc=com", goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
					0, 0, false, "(uid="+uid+")", []string{"memberOf"}, nil))
				if err == nil && len(r.Entries) != 1 {
					err = fmt.Errorf("uid %s: %d entries", uid, len(r.Entries))
				}
				if err != nil {
					failOnce.Do(func() { failed = err })
				}
			}
		}()
	}
	for i := range nUsers {
		uids <- slapdtest.GenUID(i)
	}
	close(uids)
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	runtime.GC()
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/heap:bytes"}, {Name: "/gc/heap/objects:objects"}}
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		c0 := ownCPU()
		runtime.GC()
		cpu += ownCPU() - c0
	}
	b.StopTimer()
	metrics.Read(samples)
	if p := os.Getenv("DIRGATE_BENCH_HEAPPROFILE"); p != "" {
		writeHeapProfile(b, p)
	}
	live, scan, objects := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64()
	perGC := float64(cpu.Microseconds()) / float64(b.N)
	b.ReportMetric(perGC/1000, "cpu-ms/GC")
	b.ReportMetric(float64(live)/(1<<20), "live-MiB")
	b.ReportMetric(float64(scan)/(1<<20), "scan-MiB")
	b.ReportMetric(float64(objects), "objects")
	const serveGOGC = 0.6 // cmd/dirgate's serveGCPercent
	b.ReportMetric(perGC/(float64(live)*serveGOGC/1024), "gc-µs/KiB")
}

// writeHeapProfile saves the heap profile to path (DIRGATE_BENCH_HEAPPROFILE).
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}
