package main

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
)

// memoryGovernor keeps serve's footprint near its working set. The
// directory is a large, long-lived heap; between garbage collections the
// heap grows by serveGCPercent of it, and on top of that the runtime keeps
// freed pages (after a sync, after the LDAP frontend fills its per-user
// cache) until its background scavenger returns them, slowly. The
// governor sets a soft memory limit (debug.SetMemoryLimit) just above the
// collector's target: the live heap times (1 + serveGCPercent/100) plus
// memoryLimitSlack. Under it the runtime returns freed memory early
// instead of letting transients pile up; the collector's own target being
// below it, collections are not more frequent. A full sync needs room for
// the old and the new directory at once, so the limit is lifted while one
// runs and set again from the new live heap when it is over; the live
// heap is read again every memoryRecheck, since what a sync leaves live at
// first (Badger flushing and compacting what it wrote) shrinks later.
// Setting GOMEMLIMIT or GOGC turns the governor off: the operator's tuning
// wins.
type memoryGovernor struct {
	log     *slog.Logger
	mu      sync.Mutex
	syncing int   // full syncs running
	limit   int64 // the limit set last
}

// memoryRecheck is how often the limit follows the live heap.
const memoryRecheck = 30 * time.Second

// run follows the live heap until ctx ends.
func (g *memoryGovernor) run(ctx context.Context) {
	t := time.NewTicker(memoryRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.mu.Lock()
			if g.syncing == 0 {
				g.setLimit()
			}
			g.mu.Unlock()
		}
	}
}

// memoryLimitSlack is what the limit leaves above the collector's target:
// stacks and the runtime's own structures.
const memoryLimitSlack = 24 << 20

// loginBurst is what a burst of logins holds while it hashes: argon2id
// with the default parameters, as many at once as secret allows. The limit
// always leaves room for it (and 64 MiB more) above the live heap, or a
// burst on a small directory would push the heap over the limit with
// memory the collector cannot free, and it would collect in vain.
var loginBurst = int64(secret.ConcurrentVerifies())*secret.DefaultMemoryKiB<<10 + 64<<20

// minMemoryLimit is the lowest limit the governor sets (small directories
// need no squeezing).
const minMemoryLimit = 128 << 20

// newMemoryGovernor returns nil when the environment tunes the runtime.
func newMemoryGovernor(log *slog.Logger) *memoryGovernor {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return nil
	}
	return &memoryGovernor{log: log}
}

// beforeSync is cache.Refresher.BeforeSync.
func (g *memoryGovernor) beforeSync(_ string, full bool) func() {
	if !full {
		return nil
	}
	g.mu.Lock()
	g.syncing++
	debug.SetMemoryLimit(math.MaxInt64)
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.syncing--; g.syncing == 0 {
			g.setLimit()
		}
	}
}

// onSync is the part of cache.Refresher.OnSync the governor needs: after a
// sync that changed much, give the memory back at once.
func (g *memoryGovernor) onSync(run cache.SyncRun) {
	if bigChange(run) {
		g.settle()
	}
}

// settle returns what a big change left behind to the OS and, unless a
// full sync runs, sets the limit from the live heap that remains.
func (g *memoryGovernor) settle() {
	debug.FreeOSMemory()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.syncing == 0 {
		g.setLimit()
	}
}

// setLimit sets the soft limit from the live heap; g.mu is held.
func (g *memoryGovernor) setLimit() {
	live := liveHeap()
	limit := memoryLimit(live)
	debug.SetMemoryLimit(limit)
	if d := limit - g.limit; d > g.limit/10 || -d > g.limit/10 {
		g.log.Info("memory limit set", "live_heap_mib", live>>20, "limit_mib", limit>>20)
	}
	g.limit = limit
}

// memoryLimit is the limit for a live heap of live bytes.
func memoryLimit(live uint64) int64 {
	return max(int64(float64(live)*(1+serveGCPercent/100.0))+memoryLimitSlack, int64(live)+loginBurst, minMemoryLimit)
}

// liveHeap is the heap the last garbage collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// bigChange reports a sync that changed more than a thousand records: one
// that leaves much garbage behind.
func bigChange(run cache.SyncRun) bool {
	r := run.Result
	return r != nil && r.UsersAdded+r.UsersUpdated+r.UsersDeleted+r.GroupsAdded+r.GroupsUpdated+r.GroupsDeleted > 1000
}
