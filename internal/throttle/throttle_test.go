package throttle

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	th := New()
	now := time.Unix(1_000_000, 0)
	th.SetClock(func() time.Time { return now })
	if d := th.Delay("alice", "10.0.0.1"); d != 0 {
		t.Fatalf("first bind delayed %v", d)
	}
	for i := range 10 {
		th.Failure("alice", "10.0.0.1")
		want := min(BaseDelay<<i, MaxPairDelay)
		if d := th.Delay("alice", "10.0.0.1"); d != want {
			t.Fatalf("after %d failures: %v, want %v", i+1, d, want)
		}
	}
	// The same name from elsewhere waits at most MaxNameDelay: no lockout.
	if d := th.Delay("alice", "10.0.0.2"); d != MaxNameDelay {
		t.Fatalf("another address waits %v, want %v", d, MaxNameDelay)
	}
	if d := th.Delay("bob", "10.0.0.1"); d != 0 {
		t.Fatalf("another name waits %v", d)
	}
	// Success clears the pair; time clears everything.
	th.Success("alice", "10.0.0.1")
	if d := th.Delay("alice", "10.0.0.1"); d != MaxNameDelay {
		t.Fatalf("after success: %v", d)
	}
	now = now.Add(FailureWindow + time.Second)
	if d := th.Delay("alice", "10.0.0.2"); d != 0 {
		t.Fatalf("after the window: %v", d)
	}
}

// Without a client address only the name counts, capped at MaxNameDelay.
func TestUnknownAddress(t *testing.T) {
	th := New()
	for range 10 {
		th.Failure("alice", "")
	}
	if d := th.Delay("alice", ""); d != MaxNameDelay {
		t.Fatalf("delay %v, want %v", d, MaxNameDelay)
	}
	if d := th.Delay("alice", "192.0.2.1"); d != MaxNameDelay {
		t.Fatalf("from a known address: %v, want %v", d, MaxNameDelay)
	}
	if len(th.pairs) != 0 {
		t.Fatalf("pairs recorded without an address: %v", th.pairs)
	}
}
