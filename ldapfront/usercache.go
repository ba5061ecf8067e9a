package ldapfront

import (
	"sync"
	"sync/atomic"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/upstream"
)

// derivedCache keeps, per user, what every search of that user needs and
// costs the most to derive: the entry's DN and its memberOf DNs (a nested
// closure, turned into DN strings). It belongs to one store version; the
// first lookup after a change starts a new, empty generation, so nothing
// stale is ever served. The ARCHITECTURE's budget leaves a search little
// more than a map lookup; this is that lookup.
type derivedCache struct {
	cur atomic.Pointer[derivedGen]
	max int // entries per generation; beyond it, values are computed but not kept
	// warm, when set, is started (in a goroutine) for every new generation.
	warm func(*derivedGen)
}

type derivedGen struct {
	version uint64
	shards  [32]derivedShard
}

type derivedShard struct {
	mu sync.RWMutex
	m  map[string]derived // by value: no object per user
}

// derived is the cached part of one user's entry.
type derived struct {
	dn       string
	memberOf []string
}

func newDerivedCache(max int) *derivedCache { return &derivedCache{max: max} }

func (c *derivedCache) gen(version uint64) *derivedGen {
	g := c.cur.Load()
	if g != nil && g.version == version {
		return g
	}
	ng := &derivedGen{version: version}
	for i := range ng.shards {
		ng.shards[i].m = make(map[string]derived)
	}
	if c.cur.CompareAndSwap(g, ng) {
		if c.warm != nil {
			go c.warm(ng)
		}
		return ng
	}
	return c.cur.Load()
}

// current reports whether g is still the generation in use.
func (c *derivedCache) current(g *derivedGen) bool { return c.cur.Load() == g }

func shardOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % 32)
}

// derivedUser returns u's derived values, computing them on a miss.
func (s *Server) derivedUser(u cache.User, key string) derived {
	return s.derivedIn(s.derived.gen(s.store.Version()), u, key)
}

// warmDerived fills a new generation with every user (up to the cache's
// bound) in the background, so that searches after a sync or a start find
// their users ready; it gives up when the generation is replaced.
func (s *Server) warmDerived(g *derivedGen) {
	n := 0
	s.store.Users("", func(u cache.User) bool {
		if n++; n > s.derived.max || !s.derived.current(g) || s.ctx.Err() != nil {
			return false
		}
		s.derivedIn(g, u, upstream.Fold(u.Rec.Username))
		return true
	})
}

func (s *Server) derivedIn(g *derivedGen, u cache.User, key string) derived {
	c := s.derived
	sh := &g.shards[shardOf(key)]
	sh.mu.RLock()
	d, ok := sh.m[key]
	sh.mu.RUnlock()
	if ok {
		return d
	}
	t := s.cfg.Tree
	d = derived{dn: t.UserDN(u.Rec.Username)}
	for _, def := range userAttrs {
		if def.lower == "memberof" {
			d.memberOf = def.values(t, s.store, u)
		}
	}
	sh.mu.Lock()
	if len(sh.m) < c.max/len(g.shards) {
		sh.m[key] = d
	}
	sh.mu.Unlock()
	return d
}
