package ldapfront

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/upstream"
)

// The per-user cache serves what computing the entry gives: through store
// changes (each starts a new generation), and when it is full (values are
// computed and served but not kept).
func TestDerivedCacheMatchesComputed(t *testing.T) {
	for _, max := range []int{200_000, 32} { // 32: one user per shard
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Limits.CachedUsers = max })
			tree, memberOf := e.srv.cfg.Tree, findDef(userAttrs, "memberof")
			check := func(step string) {
				t.Helper()
				n := 0
				e.store.Users("", func(u cache.User) bool {
					want := memberOf.values(tree, e.store, u)
					for range 2 { // a miss, then a hit where kept
						d := e.srv.derivedUser(u, upstream.Fold(u.Rec.Username))
						if got := d.memberOf.strings(); d.dn != tree.UserDN(u.Rec.Username) || !slices.Equal(got, want) {
							t.Fatalf("%s: %s: dn %q memberOf %q, want %q", step, u.Rec.Username, d.dn, got, want)
						}
						for _, dn := range want {
							if !d.memberOf.contains(dn) {
								t.Fatalf("%s: %s: memberOf lacks %s", step, u.Rec.Username, dn)
							}
						}
						if d.memberOf.contains(groupDN("nope")) || d.memberOf.contains(tree.UserDN(u.Rec.Username)) {
							t.Fatalf("%s: %s: memberOf contains what it does not list", step, u.Rec.Username)
						}
					}
					n++
					return true
				})
				if n == 0 {
					t.Fatal("no users")
				}
			}
			check("start")
			g := e.srv.derived.gen(e.store.Version())
			kept := 0
			for i := range g.shards {
				kept += len(g.shards[i].m)
			}
			if max == 32 && kept > 32 {
				t.Fatalf("%d users kept, bound 32", kept)
			}
			// A group of another upstream lists alice: her memberOf changes.
			res := &upstream.SyncResult{Full: true, Users: []upstream.User{{Key: "ua", Username: "alice", Active: true}},
				Groups: []upstream.Group{{Key: "gx", Name: "extra", Active: true, Members: []string{"ua"}}}}
			if _, err := e.store.ApplySync(context.Background(), "bulk", res, cache.SyncOptions{MaxDeletePercent: 100}); err != nil {
				t.Fatal(err)
			}
			check("after a change")
			if u, _ := e.store.User("alice"); !slices.Contains(memberOf.values(tree, e.store, u), groupDN("extra")) {
				t.Fatal("alice is not in extra")
			}
			if e.srv.derived.gen(e.store.Version()) == g {
				t.Fatal("a change kept the generation")
			}
		})
	}
}
