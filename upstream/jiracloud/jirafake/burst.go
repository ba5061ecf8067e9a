package jirafake

import (
	"net/http"
	"strconv"
	"time"
)

// Jira's burst limits (cloud-apis.md §2.8): a token bucket per credential,
// endpoint and method. An empty bucket answers 429 with Retry-After 1 and
// RateLimit-Reason jira-burst-based; a successful answer says how much is
// left (X-RateLimit-Remaining) and, below 20%, X-RateLimit-NearLimit: true.

type bucket struct {
	tokens float64
	at     time.Time
}

// SetBurstLimit turns on burst limits of perSecond requests a second with
// bursts of burst, per credential, endpoint and method; perSecond 0 turns
// them off.
func (f *Fake) SetBurstLimit(perSecond, burst int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.burstRate, f.burstSize = perSecond, max(burst, 1)
	f.buckets = map[string]*bucket{}
}

// Throttled429 counts the 429 answers since the last ResetCounts.
func (f *Fake) Throttled429() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.log {
		if r.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

func burstKey(token string, ep Endpoint, r *http.Request) string {
	return token + "|" + string(ep) + "|" + r.Method
}

// refill returns key's bucket filled up to now; f.mu is held.
func (f *Fake) refill(key string, now time.Time) *bucket {
	b := f.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(f.burstSize), at: now}
		f.buckets[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(f.burstSize), b.tokens+d.Seconds()*float64(f.burstRate))
		b.at = now
	}
	return b
}

// takeBurst spends a token of key's bucket; false when it is empty. f.mu
// is held.
func (f *Fake) takeBurst(key string, now time.Time) bool {
	b := f.refill(key, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// burstHeaders adds the rate-limit headers of key's bucket to a successful
// answer; f.mu is held.
func (f *Fake) burstHeaders(a answer, key string, now time.Time) answer {
	b := f.refill(key, now)
	h := a.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(f.burstSize))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(int(b.tokens)))
	if b.tokens < 0.2*float64(f.burstSize) {
		h.Set("X-RateLimit-NearLimit", "true")
	}
	a.header = h
	return a
}
