package anomaly

import (
	"slices"
	"time"
)

// dormantAfter is how long a key must have been unused for its next use
// to be reported (docs/architecture.md §10: 30 days or more).
const dormantAfter = 30 * 24 * time.Hour

// newModel reports a model in the hour in progress (or the last closed
// one) that the key never used before: not in KnownModels nor in any
// earlier hour. Only for established keys: every model is new to a new
// key, and reporting that would be noise on every key ever created.
func newModel(v *view) (Finding, bool) {
	if !v.established {
		return Finding{}, false
	}
	for _, w := range v.windows() {
		for _, m := range w.hour.Models {
			if v.usedBefore(m, w.index) {
				continue
			}
			return Finding{
				Type: NewModel, Severity: SeverityLow, WindowStart: w.start, WindowEnd: w.end,
				Observed: 1, ExpectedLow: 0, ExpectedHigh: 0,
				Sentence: v.say("used the model %s for the first time %s.", m, w.phrase()),
			}, true
		}
	}
	return Finding{}, false
}

// usedBefore searches backwards: a model in use now was most likely in use
// an hour ago, so the search is short for every model but a new one.
func (v *view) usedBefore(model string, i int) bool {
	for j := i - 1; j >= 0; j-- {
		if slices.Contains(v.h.Hours[j].Models, model) {
			return true
		}
	}
	return slices.Contains(v.h.KnownModels, model)
}

// dormantKeyActive reports the first answered request in the history when
// the key's previous use (LastUsedBefore) was 30 days or more before it.
// A refused wrong secret is not use: that is auth_failures. A key with no
// known previous use says nothing: it may simply be new.
func dormantKeyActive(v *view) (Finding, bool) {
	if v.h.LastUsedBefore.IsZero() || v.firstRequest < 0 {
		return Finding{}, false
	}
	for _, w := range v.windows() {
		if w.index != v.firstRequest || w.hour.Requests == 0 {
			continue
		}
		gap := w.start.Sub(v.h.LastUsedBefore)
		if gap < dormantAfter {
			return Finding{}, false
		}
		days := float64(gap / (24 * time.Hour))
		return Finding{
			Type: DormantKeyActive, Severity: SeverityMedium, WindowStart: w.start, WindowEnd: w.end,
			Observed: days, ExpectedLow: 0, ExpectedHigh: dormantAfter.Hours() / 24,
			Sentence: v.say("was used %s for the first time in %s days.", w.phrase(), count(days)),
		}, true
	}
	return Finding{}, false
}
