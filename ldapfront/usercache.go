package ldapfront

import (
	"slices"
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

// The collector visits every pointer the cache holds on every cycle, so a
// user's memberOf is not kept as DN strings (a list per user, a pointer per
// membership: half a million for 100,000 users) but as slots of the
// generation's group DNs, in one block per shard that holds no pointers.
type derivedGen struct {
	version uint64
	shards  [32]derivedShard

	dnMu  sync.RWMutex
	dnIDs map[string]int32 // group DN → slot in dns
	dns   []string
}

type derivedShard struct {
	mu  sync.RWMutex
	m   map[string]derivedRef // by value: no object per user
	ids []int32               // the memberOf slots of every user in m, appended
}

// derivedRef is what a shard keeps of a user: the DN, and where the
// memberOf slots are in the shard's ids (never rewritten once appended).
type derivedRef struct {
	dn     string
	off, n uint32
}

// derived is the cached part of one user's entry.
type derived struct {
	dn       string
	memberOf groupDNs
}

// groupDNs is a user's memberOf: slots of a generation's group DNs.
type groupDNs struct {
	g   *derivedGen
	ids []int32
}

// strings returns the DNs, in a new slice.
func (d groupDNs) strings() []string {
	if len(d.ids) == 0 {
		return nil
	}
	out := make([]string, len(d.ids))
	d.g.dnMu.RLock()
	for i, id := range d.ids {
		out[i] = d.g.dns[id]
	}
	d.g.dnMu.RUnlock()
	return out
}

// contains reports whether dn, as groupDN spells it, is among them.
func (d groupDNs) contains(dn string) bool {
	if len(d.ids) == 0 {
		return false
	}
	d.g.dnMu.RLock()
	id, ok := d.g.dnIDs[dn]
	d.g.dnMu.RUnlock()
	return ok && slices.Contains(d.ids, id)
}

// intern returns the slots of dns, appended to ids.
func (g *derivedGen) intern(ids []int32, dns []string) []int32 {
	g.dnMu.Lock()
	defer g.dnMu.Unlock()
	for _, dn := range dns {
		id, ok := g.dnIDs[dn]
		if !ok {
			id = int32(len(g.dns))
			g.dns = append(g.dns, dn)
			g.dnIDs[dn] = id
		}
		ids = append(ids, id)
	}
	return ids
}

func newDerivedCache(max int) *derivedCache { return &derivedCache{max: max} }

func (c *derivedCache) gen(version uint64) *derivedGen {
	g := c.cur.Load()
	if g != nil && g.version == version {
		return g
	}
	ng := &derivedGen{version: version, dnIDs: make(map[string]int32)}
	for i := range ng.shards {
		ng.shards[i].m = make(map[string]derivedRef)
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
	r, ok := sh.m[key]
	var ids []int32
	if ok {
		ids = sh.ids[r.off : r.off+r.n : r.off+r.n]
	}
	sh.mu.RUnlock()
	if ok {
		return derived{dn: r.dn, memberOf: groupDNs{g: g, ids: ids}}
	}
	t := s.cfg.Tree
	dn := t.UserDN(u.Rec.Username)
	var dns []string
	for _, def := range userAttrs {
		if def.lower == "memberof" {
			dns = def.values(t, s.store, u)
		}
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r, ok := sh.m[key]; ok {
		// Another search computed it meanwhile: keep one copy in ids.
		return derived{dn: r.dn, memberOf: groupDNs{g: g, ids: sh.ids[r.off : r.off+r.n : r.off+r.n]}}
	}
	if len(sh.m) >= c.max/len(g.shards) {
		// Full: computed, not kept.
		return derived{dn: dn, memberOf: groupDNs{g: g, ids: g.intern(nil, dns)}}
	}
	off := len(sh.ids)
	sh.ids = g.intern(sh.ids, dns)
	r = derivedRef{dn: dn, off: uint32(off), n: uint32(len(dns))}
	sh.m[key] = r
	return derived{dn: dn, memberOf: groupDNs{g: g, ids: sh.ids[off:len(sh.ids):len(sh.ids)]}}
}
