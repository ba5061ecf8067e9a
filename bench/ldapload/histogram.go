package ldapload

import "time"

// Histogram is the generator's latency histogram (log-linear, 1.6%
// resolution, no allocation per value) for other closed-loop generators
// of the bench package, such as the Crowd REST benchmarks. The zero value
// is empty and ready; it is not safe for concurrent use: give each worker
// its own and Merge them at the end.
type Histogram struct{ h histogram }

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) { h.h.record(d) }

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) { h.h.merge(&o.h) }

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.h.n }

// Quantile returns the q-quantile (0 < q <= 1), within 1.6%.
func (h *Histogram) Quantile(q float64) time.Duration { return h.h.quantile(q) }

// Mean is the exact mean of the recorded values.
func (h *Histogram) Mean() time.Duration { return h.h.mean() }

// Max is the exact largest recorded value.
func (h *Histogram) Max() time.Duration { return time.Duration(h.h.max) }
