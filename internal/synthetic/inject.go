package synthetic

import (
	"math"
	"slices"
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// injector puts one anomaly of its type into a key from hour start, and
// returns its label; ok is false when that hour does not suit the type.
type injector func(s *KeySeries, r *randSource, start int) (Label, bool)

var injectors = map[anomaly.Type]injector{
	anomaly.TrafficSpike:      injectTrafficSpike,
	anomaly.TrafficDrop:       injectTrafficDrop,
	anomaly.ErrorRateSpike:    injectErrorRateSpike,
	anomaly.AuthFailures:      ok(injectAuthFailures),
	anomaly.AccessDeniedBurst: ok(injectAccessDenied),
	anomaly.RateLimitStorm:    injectRateLimitStorm,
	anomaly.SpendSpike:        injectSpendSpike,
	anomaly.NewModel:          injectNewModel,
}

func ok(f func(*KeySeries, *randSource, int) Label) injector {
	return func(s *KeySeries, r *randSource, start int) (Label, bool) {
		if start+3 > len(s.Hours) {
			return Label{}, false
		}
		return f(s, r, start), true
	}
}

// inject spreads c.InjectionsPerType anomalies of each type over the
// established keys, after their warm-up, apart from each other.
func (g generation) inject(keys []KeySeries, r *randSource) {
	if len(keys) == 0 {
		return
	}
	types := g.c.Types
	if types == nil {
		types = anomaly.Types
	}
	for _, t := range types {
		inj, found := injectors[t]
		if !found {
			continue // dormant_key_active is a kind of key, not an injection
		}
		for range g.c.InjectionsPerType {
			for attempt := 0; attempt < 500; attempt++ {
				s := &keys[r.IntN(len(keys))]
				start := between(r, warmUpDays*24, g.hours-12)
				if s.busyAround(g.at(start)) {
					continue
				}
				if l, ok := inj(s, r, start); ok {
					s.Labels = append(s.Labels, l)
					break
				}
			}
		}
	}
}

// busyAround reports whether the key already has an anomaly within
// minDaysApart of t.
func (s *KeySeries) busyAround(t time.Time) bool {
	margin := minDaysApart * 24 * time.Hour
	for _, l := range s.Labels {
		if t.After(l.Start.Add(-margin)) && t.Before(l.End.Add(margin)) {
			return true
		}
	}
	return false
}

// span returns the hours [start, start+n) clipped to the series, and the label over them.
func (s *KeySeries) span(t anomaly.Type, start, n int) ([]anomaly.Hour, Label) {
	end := min(start+n, len(s.Hours))
	hours := s.Hours[start:end]
	return hours, Label{Type: t, Start: hours[0].Start, End: hours[len(hours)-1].Start.Add(time.Hour)}
}

func injectTrafficSpike(s *KeySeries, r *randSource, start int) (Label, bool) {
	mult, extra := uniform(r, spikeMinMult, spikeMaxMult), uniform(r, spikeMinExtra, spikeMaxExtra)
	hours, l := s.span(anomaly.TrafficSpike, start, between(r, spikeMinHours, spikeMaxHours))
	for i := range hours {
		h := &hours[i]
		added := poisson(r, math.Max((mult-1)*s.key.expected(h.Start), extra))
		h.Requests += added
		h.ServerErrors += poisson(r, float64(added)*s.key.errorRate)
		h.CostMicroUSD += int64(float64(added) * s.key.costMicroUSD * lognormal(r, 0.25))
		h.Models = withModel(h.Models, s.key.models[0].name)
	}
	l.Also = []anomaly.Type{anomaly.SpendSpike}
	return l, true
}

func injectTrafficDrop(s *KeySeries, r *randSource, start int) (Label, bool) {
	if s.key.expected(s.Hours[start].Start) < dropMinExpected {
		return Label{}, false
	}
	share := uniform(r, 0, dropMaxShare)
	hours, l := s.span(anomaly.TrafficDrop, start, between(r, dropMinHours, dropMaxHours))
	for i := range hours {
		h := &hours[i]
		served := h.Served()
		kept := scale(served, share)
		h.Requests -= served - kept
		h.ServerErrors = min(kept, scale(h.ServerErrors, share))
		h.CostMicroUSD = scale(h.CostMicroUSD, share)
		if kept == 0 {
			h.Models = nil
		}
	}
	return l, true
}

func injectErrorRateSpike(s *KeySeries, r *randSource, start int) (Label, bool) {
	if s.key.expected(s.Hours[start].Start) < errorMinExpected {
		return Label{}, false
	}
	rate := uniform(r, errorMinRate, errorMaxRate)
	hours, l := s.span(anomaly.ErrorRateSpike, start, between(r, errorMinHours, errorMaxHours))
	for i := range hours {
		hours[i].ServerErrors = scale(hours[i].Served(), rate)
	}
	return l, true
}

func injectAuthFailures(s *KeySeries, r *randSource, start int) Label {
	level := float64(between(r, authMin, authMax))
	hours, l := s.span(anomaly.AuthFailures, start, between(r, authMinHours, authMaxHours))
	for i := range hours {
		hours[i].AuthFailures += poisson(r, level)
	}
	return l
}

func injectAccessDenied(s *KeySeries, r *randSource, start int) Label {
	level := float64(between(r, deniedMin, deniedMax))
	hours, l := s.span(anomaly.AccessDeniedBurst, start, between(r, deniedMinHours, deniedMaxHours))
	for i := range hours {
		n := poisson(r, level)
		hours[i].AccessDenied += n
		hours[i].Requests += n
	}
	return l
}

func injectRateLimitStorm(s *KeySeries, r *randSource, start int) (Label, bool) {
	level := float64(between(r, stormMin, stormMax))
	hours, l := s.span(anomaly.RateLimitStorm, start, between(r, stormMinHours, stormMaxHours))
	for i := range hours {
		n := poisson(r, level)
		hours[i].RateLimited += n
		hours[i].Requests += n
	}
	return l, true
}

func injectSpendSpike(s *KeySeries, r *randSource, start int) (Label, bool) {
	mult, extra := uniform(r, spendMinMult, spendMaxMult), uniform(r, spendMinExtraUSD, spendMaxExtraUSD)*1e6
	hours, l := s.span(anomaly.SpendSpike, start, between(r, spendMinHours, spendMaxHours))
	for i := range hours {
		h := &hours[i]
		expected := s.key.expected(h.Start) * s.key.costMicroUSD
		h.CostMicroUSD += int64(math.Max((mult-1)*expected, extra) * lognormal(r, 0.1))
	}
	return l, true
}

func injectNewModel(s *KeySeries, r *randSource, start int) (Label, bool) {
	if s.Hours[start].Served() == 0 {
		return Label{}, false
	}
	var model string
	for _, m := range newModels {
		if !s.key.uses(m) && !s.adopted(m) {
			model = m
			break
		}
	}
	if model == "" {
		return Label{}, false
	}
	share := uniform(r, newModelMinShare, newModelMaxShare)
	s.Hours[start].Models = withModel(s.Hours[start].Models, model)
	for i := start + 1; i < len(s.Hours); i++ {
		if poisson(r, float64(s.Hours[i].Served())*share) > 0 {
			s.Hours[i].Models = withModel(s.Hours[i].Models, model)
		}
	}
	_, l := s.span(anomaly.NewModel, start, 1)
	return l, true
}

func (k key) uses(model string) bool {
	return slices.ContainsFunc(k.models, func(m modelShare) bool { return m.name == model })
}

// adopted reports whether an earlier injection already gave the key model.
func (s *KeySeries) adopted(model string) bool {
	return slices.ContainsFunc(s.Hours, func(h anomaly.Hour) bool { return slices.Contains(h.Models, model) })
}

// withModel adds a model to a sorted list, once.
func withModel(models []string, model string) []string {
	if i, found := slices.BinarySearch(models, model); !found {
		models = slices.Insert(slices.Clone(models), i, model)
	}
	return models
}
