package usage

import "time"

// LatencyBounds are the upper bounds of the latency histogram's buckets; the
// last bucket holds everything slower. Fixed bounds let rollups be added
// together and percentiles be read back from any sum of them. They run from
// an embedding's tens of milliseconds to a long stream's minutes, roughly
// 2–2.5× apart, so a percentile read back is off by at most one bucket's
// width (interpolated linearly within it).
var LatencyBounds = [NumBuckets - 1]time.Duration{
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, 60 * time.Second, 120 * time.Second, 300 * time.Second,
}

// NumBuckets is the number of latency buckets.
const NumBuckets = 14

// Histogram counts requests per latency bucket.
type Histogram [NumBuckets]int64

// LatencyBucket is the index of the histogram bucket d falls in.
func LatencyBucket(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return NumBuckets - 1
}

// Quantile estimates the q-th quantile (0 < q ≤ 1) of the counted
// latencies, interpolating linearly within the bucket it falls in; the open
// last bucket answers its lower bound. ok is false for an empty histogram.
func (h Histogram) Quantile(q float64) (d time.Duration, ok bool) {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var seen int64
	for i, n := range h {
		if n == 0 || float64(seen+n) < rank {
			seen += n
			continue
		}
		lower := time.Duration(0)
		if i > 0 {
			lower = LatencyBounds[i-1]
		}
		if i == NumBuckets-1 {
			return lower, true
		}
		frac := (rank - float64(seen)) / float64(n)
		return lower + time.Duration(frac*float64(LatencyBounds[i]-lower)), true
	}
	return LatencyBounds[NumBuckets-2], true
}
