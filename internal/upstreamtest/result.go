package upstreamtest

import (
	"testing"

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
