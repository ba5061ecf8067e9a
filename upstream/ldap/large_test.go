package ldap_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/slapdtest"
	"github.com/dirgate/dirgate/upstream"
)

// TestSyncLarge syncs the directory size the performance budget names:
// 100,000 users, 10,000 groups, 500,000 memberships. It takes about a
// minute (most of it slapadd), so it runs only with DIRGATE_LARGE_TESTS=1.
// It reports time and memory; it asserts only correctness.
func TestSyncLarge(t *testing.T) {
	if os.Getenv("DIRGATE_LARGE_TESTS") != "1" {
		t.Skip("set DIRGATE_LARGE_TESTS=1 to sync 100,000 users from slapd")
	}
	spec := slapdtest.DataSpec{Users: 100_000, Groups: 10_000, Memberships: 500_000, NestEvery: 10}
	path := filepath.Join(t.TempDir(), "large.ldif")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, spec); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	srv := slapdtest.Start(t, slapdtest.WithLDIFFile(path), slapdtest.WithLDIFIncludesBase())
	t.Logf("slapadd and start: %s", time.Since(start).Round(time.Millisecond))

	u := open(t, testConfig(srv))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start = time.Now()
	res, err := u.Sync(t.Context(), upstream.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.GC()
	var live runtime.MemStats
	runtime.ReadMemStats(&live)

	members := 0
	for _, g := range res.Groups {
		members += len(g.Members)
	}
	if len(res.Users) != spec.Users || len(res.Groups) != spec.Groups || members != spec.Memberships+spec.Groups/spec.NestEvery {
		t.Errorf("got %d users, %d groups, %d members", len(res.Users), len(res.Groups), members)
	}
	t.Logf("sync: %s; heap in use after the sync %d MB, of which the result %d MB; allocated during the sync %d MB; from the OS %d MB",
		elapsed.Round(time.Millisecond), after.HeapInuse>>20, (live.HeapInuse-before.HeapInuse)>>20,
		(after.TotalAlloc-before.TotalAlloc)>>20, after.Sys>>20)
	runtime.KeepAlive(res)

	start = time.Now()
	inc, err := u.Sync(t.Context(), upstream.SyncRequest{Cursor: res.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("incremental sync after a bulk load (re-reads the newest second): %s, full=%v, %d users", time.Since(start).Round(time.Millisecond), inc.Full, len(inc.Users))
}
