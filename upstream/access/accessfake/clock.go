package accessfake

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake time source for tests: it stands still until someone
// sleeps on it or calls Advance. Sleep returns at once, having moved the
// clock to the end of the requested wait (never earlier), so a client that
// backs off for a minute takes microseconds of real time while the fake
// server, reading the same clock, sees a minute pass. It satisfies
// cloudhttp.Clock and is safe for concurrent use.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep moves the clock to at least Now()+d and returns; it fails only if
// ctx is done. Concurrent sleepers each wake no earlier than they asked.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.mu.Unlock()
	return ctx.Err()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Slept is the total of every Sleep so far.
func (c *Clock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// wallClock is the real time.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
