package synthetic

import (
	"slices"
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// hour draws one normal hour of the key's traffic, with its background
// nuisances: a few 5xx, an upstream hiccup now and then, 429s at peak for
// keys near their limit, stray 401s and 403s.
func (k key) hour(r *randSource, t time.Time) anomaly.Hour {
	lambda := k.expected(t)
	served := poisson(r, lambda*lognormal(r, k.noise))
	h := anomaly.Hour{Start: t}
	errorRate := k.errorRate
	if r.Float64() < upstreamHiccupChance {
		errorRate *= uniform(r, 2, 5)
	}
	h.ServerErrors = min(served, poisson(r, float64(served)*errorRate))
	if k.limitedShare > 0 {
		nearPeak := lambda / k.expectedPeak()
		h.RateLimited = poisson(r, float64(served)*k.limitedShare*nearPeak*nearPeak)
	}
	if served > 0 && r.Float64() < strayRefusalChance {
		h.AccessDenied = 1 + poisson(r, 1)
	}
	if r.Float64() < strayRefusalChance {
		h.AuthFailures = 1 + poisson(r, 1.5)
	}
	if k.staleClient {
		h.AuthFailures += poisson(r, 1)
	}
	h.Requests = served + h.RateLimited + h.AccessDenied
	h.CostMicroUSD = int64(float64(served) * k.costMicroUSD * lognormal(r, 0.25))
	for _, m := range k.models {
		if poisson(r, float64(served)*m.share) > 0 {
			h.Models = append(h.Models, m.name)
		}
	}
	slices.Sort(h.Models)
	return h
}
