package upstreamtest

import (
	"context"
	"testing"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// CheckResult fails t unless res is what the cache can take: every user
// and group with a key and a name, no key twice, and every member key
// naming a user of the result (or, unless flat, a group of it). Fuzz
// targets of the upstream types run it on whatever a sync made of an
// arbitrary answer.
func CheckResult(t testing.TB, res *upstream.SyncResult, flat bool) {
	t.Helper()
	keys := map[string]bool{}
	for _, u := range res.Users {
		if u.Key == "" || u.Username == "" || keys[u.Key] {
			t.Fatalf("user %+v: empty or repeated key or username", u)
		}
		keys[u.Key] = true
	}
	groupKeys := map[string]bool{}
	for _, g := range res.Groups {
		if g.Key == "" || g.Name == "" || groupKeys[g.Key] {
			t.Fatalf("group %+v: empty or repeated key or name", g)
		}
		groupKeys[g.Key] = true
	}
	for _, g := range res.Groups {
		for _, m := range g.Members {
			if !keys[m] && (flat || !groupKeys[m]) {
				t.Fatalf("group %s lists %q, not a member of the result", g.Name, m)
			}
		}
	}
}

// FuzzSync runs a full sync of s on whatever the fuzzed server answered:
// it must end (within 20 s) and, when it succeeds, give a result the cache
// can take (CheckResult). A failed sync is a fine outcome.
func FuzzSync(t testing.TB, s upstream.Syncer, flat bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := s.Sync(ctx, upstream.SyncRequest{Full: true})
	if ctx.Err() != nil {
		t.Fatal("the sync did not end")
	}
	if err != nil {
		t.Logf("sync failed: %v", err)
		return
	}
	t.Logf("synced %d users, %d groups", len(res.Users), len(res.Groups))
	CheckResult(t, res, flat)
}
