package ldapload

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	check := func(v int64) {
		b := bucketOf(v)
		if b < 0 || b >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, b)
		}
		lo, w := bucketRange(b)
		if end := uint64(lo) + uint64(w); v < lo || uint64(v) >= end { // the last bucket ends at 2^63
			t.Fatalf("%d in bucket %d = [%d, %d)", v, b, lo, end)
		}
		if v >= subCount && float64(w)/float64(lo) > 1.0/halfCount+1e-12 {
			t.Fatalf("bucket %d = [%d, %d) is wider than 1/%d", b, lo, lo+w, halfCount)
		}
	}
	for v := int64(0); v < 1<<16; v++ {
		check(v)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 100_000 {
		check(r.Int64N(math.MaxInt64))
	}
	check(math.MaxInt64)
	// Buckets are contiguous and increasing.
	for b := 1; b < numBuckets; b++ {
		plo, pw := bucketRange(b - 1)
		if lo, _ := bucketRange(b); lo != plo+pw || lo <= plo {
			t.Fatalf("bucket %d starts at %d, bucket %d ends at %d", b, lo, b-1, plo+pw)
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 || h.mean() != 0 {
		t.Fatal("empty histogram")
	}
	r := rand.New(rand.NewPCG(2, 3))
	vals := make([]time.Duration, 50_000)
	for i := range vals {
		// Log-uniform between 10 µs and 100 ms.
		vals[i] = time.Duration(10e3 * math.Pow(10, 4*r.Float64()))
	}
	// Split over two histograms to exercise merge.
	var h2 histogram
	for i, v := range vals {
		if i%2 == 0 {
			h.record(v)
		} else {
			h2.record(v)
		}
	}
	h.merge(&h2)
	slices.Sort(vals)
	if h.n != int64(len(vals)) || time.Duration(h.max) != vals[len(vals)-1] {
		t.Fatalf("n %d, max %d", h.n, h.max)
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.quantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 1.0/halfCount {
			t.Errorf("q%.3f = %s, exact %s (%.2f%% off)", q, got, exact, 100*rel)
		}
	}
	var sum time.Duration
	for _, v := range vals {
		sum += v
	}
	if m := h.mean(); m != sum/time.Duration(len(vals)) {
		t.Errorf("mean %s, want %s", m, sum/time.Duration(len(vals)))
	}

	var one histogram
	one.record(1234 * time.Microsecond)
	if one.quantile(0.5) > 1234*time.Microsecond || one.quantile(0.99) < 1200*time.Microsecond {
		t.Errorf("single value: p50 %s", one.quantile(0.5))
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h histogram
	if n := testing.AllocsPerRun(1000, func() { h.record(1500 * time.Microsecond) }); n != 0 {
		t.Errorf("record allocates %v times", n)
	}
}
