package ldapfront

import (
	"sync"
	"sync/atomic"
	"time"
)

// throttle slows down password guessing. Failed binds are counted per bind
// name and client address, and per bind name alone; the next bind of that
// name waits a delay that doubles with each recent failure. The per-address
// delay grows up to maxPairDelay, so one guessing client slows itself down;
// the per-name delay (whatever the address) stops at maxNameDelay, so that
// an attacker elsewhere can slow a user's logins down a little but never
// lock the user out. Counts are forgotten failureWindow after the last
// failure; a successful bind clears its name-and-address count.
type throttle struct {
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

const (
	baseDelay     = 100 * time.Millisecond
	maxPairDelay  = 5 * time.Second
	maxNameDelay  = time.Second
	failureWindow = 15 * time.Minute
	maxTracked    = 100_000 // entries kept before the oldest are swept
)

func newThrottle() *throttle {
	return &throttle{pairs: map[string]*failures{}, names: map[string]*failures{}, now: time.Now}
}

func backoffFor(n int, limit time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	d := baseDelay
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// delay is how long a bind of name from addr waits before it is checked.
func (t *throttle) delay(name, addr string) time.Duration {
	if t.tracked.Load() == 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var d time.Duration
	if f := t.live(t.pairs, name+"\x00"+addr, now); f != nil {
		d = backoffFor(f.n, maxPairDelay)
	}
	if f := t.live(t.names, name, now); f != nil {
		d = max(d, backoffFor(f.n-1, maxNameDelay)) // the first failure anywhere costs nothing extra
	}
	return d
}

func (t *throttle) live(m map[string]*failures, k string, now time.Time) *failures {
	f := m[k]
	if f != nil && now.Sub(f.last) > failureWindow {
		t.remove(m, k)
		return nil
	}
	return f
}

func (t *throttle) remove(m map[string]*failures, k string) {
	if _, ok := m[k]; ok {
		delete(m, k)
		t.tracked.Add(-1)
	}
}

func (t *throttle) failure(name, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, e := range []struct {
		m map[string]*failures
		k string
	}{{t.pairs, name + "\x00" + addr}, {t.names, name}} {
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

func (t *throttle) success(name, addr string) {
	if t.tracked.Load() == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remove(t.pairs, name+"\x00"+addr)
}

// sweep drops expired entries, and if that is not enough, the oldest half.
func (t *throttle) sweep(m map[string]*failures, now time.Time) {
	var oldest time.Time
	for k, f := range m {
		if now.Sub(f.last) > failureWindow {
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
