// Package throttle slows down password guessing, for every frontend that
// checks passwords (LDAP binds, Crowd authentications and sessions).
package throttle

import (
	"sync"
	"sync/atomic"
	"time"
)

// Throttle slows down password guessing. Failed binds are counted per bind
// name and client address, and per bind name alone; the next bind of that
// name waits a delay that doubles with each recent failure. The per-address
// delay grows up to MaxPairDelay, so one guessing client slows itself down;
// the per-name delay (whatever the address) stops at MaxNameDelay, so that
// an attacker elsewhere can slow a user's logins down a little but never
// lock the user out. Counts are forgotten FailureWindow after the last
// failure; a successful bind clears its name-and-address count.
type Throttle struct {
	// tracked counts the entries of both maps: with none, delay and
	// success need no lock (the common case: nobody is guessing).
	tracked atomic.Int64
	mu      sync.Mutex
	pairs   map[string]*failures // name + "\x00" + address
	names   map[string]*failures
	now     func() time.Time
}

type failures struct {
	n    int
	last time.Time
}

// SetClock replaces the clock (tests).
func (t *Throttle) SetClock(now func() time.Time) { t.now = now }

// Delays and windows.
const (
	BaseDelay     = 100 * time.Millisecond
	MaxPairDelay  = 5 * time.Second
	MaxNameDelay  = time.Second
	FailureWindow = 15 * time.Minute
	maxTracked    = 100_000 // entries kept before the oldest are swept
)

// New returns an empty throttle.
func New() *Throttle {
	return &Throttle{pairs: map[string]*failures{}, names: map[string]*failures{}, now: time.Now}
}

func backoffFor(n int, limit time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	d := BaseDelay
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Delay is how long an attempt for name from addr waits before it is
// checked. An empty addr (the client is not known: a Crowd application
// asking on behalf of its users) counts toward the name alone, so it is
// never delayed more than MaxNameDelay.
func (t *Throttle) Delay(name, addr string) time.Duration {
	if t.tracked.Load() == 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var d time.Duration
	if addr == "" {
		if f := t.live(t.names, name, now); f != nil {
			return backoffFor(f.n, MaxNameDelay)
		}
		return 0
	}
	if f := t.live(t.pairs, name+"\x00"+addr, now); f != nil {
		d = backoffFor(f.n, MaxPairDelay)
	}
	if f := t.live(t.names, name, now); f != nil {
		d = max(d, backoffFor(f.n-1, MaxNameDelay)) // the first failure anywhere costs nothing extra
	}
	return d
}

func (t *Throttle) live(m map[string]*failures, k string, now time.Time) *failures {
	f := m[k]
	if f != nil && now.Sub(f.last) > FailureWindow {
		t.remove(m, k)
		return nil
	}
	return f
}

func (t *Throttle) remove(m map[string]*failures, k string) {
	if _, ok := m[k]; ok {
		delete(m, k)
		t.tracked.Add(-1)
	}
}

// Failure records a wrong password.
func (t *Throttle) Failure(name, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, e := range []struct {
		m    map[string]*failures
		k    string
		skip bool
	}{{t.pairs, name + "\x00" + addr, addr == ""}, {t.names, name, false}} {
		if e.skip {
			continue // no client address: the name's count only
		}
		f := t.live(e.m, e.k, now)
		if f == nil {
			if len(e.m) >= maxTracked {
				t.sweep(e.m, now)
			}
			f = &failures{}
			e.m[e.k] = f
			t.tracked.Add(1)
		}
		f.n++
		f.last = now
	}
}

// Success clears the name-and-address count.
func (t *Throttle) Success(name, addr string) {
	if t.tracked.Load() == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remove(t.pairs, name+"\x00"+addr)
}

// sweep drops expired entries, and if that is not enough, the oldest half.
func (t *Throttle) sweep(m map[string]*failures, now time.Time) {
	var oldest time.Time
	for k, f := range m {
		if now.Sub(f.last) > FailureWindow {
			t.remove(m, k)
		} else if oldest.IsZero() || f.last.Before(oldest) {
			oldest = f.last
		}
	}
	if len(m) < maxTracked {
		return
	}
	cut := oldest.Add(now.Sub(oldest) / 2)
	for k, f := range m {
		if f.last.Before(cut) {
			t.remove(m, k)
		}
	}
}
