package ldapload

import (
	"math/bits"
	"time"
)

// histogram is a fixed log-linear latency histogram in nanoseconds, in the
// spirit of HdrHistogram: values below 2^subBits are counted exactly, larger
// ones in 2^(subBits-1) equal buckets per power of two, so a reported
// percentile is within 1/64 (1.6%) of the true value. Recording is a few
// integer instructions and never allocates; each worker owns one and they
// are merged when the run ends.
type histogram struct {
	counts [numBuckets]int64
	n      int64
	sum    int64 // ns
	max    int64 // ns, exact
}

const (
	subBits    = 7
	subCount   = 1 << subBits                      // 128 exact values, then
	halfCount  = subCount / 2                      // 64 buckets per power of two
	numBuckets = subCount + (63-subBits)*halfCount // int64 values: at most 63 bits
)

// bucketOf returns the bucket of v >= 0.
func bucketOf(v int64) int {
	u := uint64(v)
	if u < subCount {
		return int(u)
	}
	shift := bits.Len64(u) - subBits // >= 1
	top := int(u >> uint(shift))     // in [halfCount, subCount)
	return subCount + (shift-1)*halfCount + (top - halfCount)
}

// bucketRange returns the smallest value of bucket b and its width.
func bucketRange(b int) (lo, width int64) {
	if b < subCount {
		return int64(b), 1
	}
	b -= subCount
	shift := b/halfCount + 1
	top := int64(b%halfCount + halfCount)
	return top << uint(shift), 1 << uint(shift)
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	if v > h.max {
		h.max = v
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1): the middle of the bucket
// holding the ceil(q*n)-th smallest value, never more than the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	var seen int64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := bucketRange(b)
			return time.Duration(min(lo+(w-1)/2, h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}
