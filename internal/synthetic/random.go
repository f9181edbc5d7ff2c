package synthetic

import (
	"math"
	"math/rand/v2"
)

// randSource is the generator's random source.
type randSource = rand.Rand

// newRand is the one source of randomness of a generation: seeded, so the
// same seed always gives the same series.
func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// poisson draws a Poisson count: arrivals of independent requests.
func poisson(r *rand.Rand, lambda float64) int64 {
	switch {
	case lambda <= 0:
		return 0
	case lambda < 30:
		limit, k, p := math.Exp(-lambda), int64(0), r.Float64()
		for p > limit {
			k++
			p *= r.Float64()
		}
		return k
	default: // the normal approximation is close enough from 30 on
		return max(0, int64(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
}

// lognormal draws a multiplier with median about 1 and mean exactly 1: the
// hour-to-hour swing of a client's activity beyond Poisson noise.
func lognormal(r *rand.Rand, sigma float64) float64 {
	return math.Exp(sigma*r.NormFloat64() - sigma*sigma/2)
}

// uniform draws from [lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// between draws an integer from [lo, hi].
func between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// scale multiplies a count, rounding half up.
func scale(n int64, f float64) int64 { return int64(math.Floor(float64(n)*f + 0.5)) }
