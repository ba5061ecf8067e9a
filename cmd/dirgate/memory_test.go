package main

import (
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/dirgate/dirgate/cache"
)

func TestMemoryLimit(t *testing.T) {
	if got := memoryLimit(0); got != minMemoryLimit {
		t.Errorf("limit for an empty heap = %d, want the floor %d", got, minMemoryLimit)
	}
	live := uint64(200 << 20)
	want := int64(float64(live)*(1+serveGCPercent/100.0)) + memoryLimitSlack
	if got := memoryLimit(live); got != max(want, int64(live)+loginBurst) || got <= int64(live) {
		t.Errorf("limit for %d live = %d, want %d", live, got, want)
	}
	// A login burst always fits above the live heap, however small.
	for _, live := range []uint64{0, 10 << 20, 60 << 20, 1 << 30} {
		if got := memoryLimit(live); got < int64(live)+loginBurst {
			t.Errorf("limit for %d live = %d: no room for a login burst of %d", live, got, loginBurst)
		}
	}
}

// TestMemoryGovernor: a full sync lifts the limit while it runs (old and
// new directory are live at once); when the last one ends the limit is set
// again from the live heap; incremental syncs leave it alone.
func TestMemoryGovernor(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	g := &memoryGovernor{log: slog.New(slog.DiscardHandler)}
	g.settle()
	if got := debug.SetMemoryLimit(-1); got == math.MaxInt64 || got < minMemoryLimit {
		t.Fatalf("after settle the limit is %d", got)
	}
	if after := g.beforeSync("a", false); after != nil {
		t.Error("an incremental sync changed the limit")
	}
	afterA := g.beforeSync("a", true)
	afterB := g.beforeSync("b", true)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("during a full sync the limit is %d", got)
	}
	g.onSync(cache.SyncRun{Full: true, Result: &cache.ApplyResult{UsersAdded: 5000}}) // frees memory; b still runs
	afterA()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("with a full sync still running the limit is %d", got)
	}
	afterB()
	if got := debug.SetMemoryLimit(-1); got == math.MaxInt64 || got < minMemoryLimit {
		t.Fatalf("after the syncs the limit is %d", got)
	}
}
