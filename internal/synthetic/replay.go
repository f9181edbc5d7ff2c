package synthetic

import (
	"slices"
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// Tick is how often the replay runs Detect: at each hour boundary and every
// 15 simulated minutes in between. Production runs every 5 minutes; 15
// keeps a five-week replay of a few hundred keys within seconds, still
// exercises the partial hour three times an hour, and makes each delay
// measured here at most 10 minutes longer than production's.
const Tick = 15 * time.Minute

// historyHours is how much history a run reads: 28 days, the hour in
// progress included.
const historyHours = 28 * 24

// reopenAfter models storage's deduplication: a (key, type) finding stays
// open while runs keep reporting it, and one not reported for an hour is
// taken as resolved, so that the next report of that type is a new
// finding. (In the product an open finding stays open until resolved; the
// benchmark resolves it for the operator.)
const reopenAfter = time.Hour

// reported is one stored finding: the first report of an open episode.
type reported struct {
	typ        anomaly.Type
	at         time.Time // the run that reported it
	start, end time.Time // the window that triggered it
}

// replay runs Detect over a key's series as the scheduler would, tick by
// tick, and returns the findings storage would have kept.
func replay(s KeySeries) []reported {
	buf := slices.Clone(s.Hours)
	known := slices.Clone(s.KnownModels)
	slices.Sort(known)
	lastUsed := s.LastUsedBefore
	lastReported := map[anomaly.Type]time.Time{}
	var out []reported
	from := 0
	const ticksPerHour = int(time.Hour / Tick)
	for i := range s.Hours {
		// Hours leaving the window become what History says about the
		// time before it.
		for ; from < i-historyHours+1; from++ {
			h := s.Hours[from]
			if h.Requests > 0 {
				lastUsed = h.Start.Add(time.Hour)
			}
			for _, m := range h.Models {
				known = withModel(known, m)
			}
		}
		for step := range ticksPerHour {
			elapsed := time.Duration(step) * Tick
			buf[i] = partial(s.Hours[i], float64(elapsed)/float64(time.Hour))
			now := s.Hours[i].Start.Add(elapsed)
			for _, f := range anomaly.Detect(anomaly.History{
				KID: s.KID, WorkspaceID: s.WorkspaceID, Hours: buf[from : i+1], Now: now,
				LastUsedBefore: lastUsed, KnownModels: known,
			}) {
				last, open := lastReported[f.Type]
				lastReported[f.Type] = now
				if open && now.Sub(last) <= reopenAfter {
					continue
				}
				out = append(out, reported{typ: f.Type, at: now, start: f.WindowStart, end: f.WindowEnd})
			}
		}
		buf[i] = s.Hours[i]
	}
	return out
}

// partial is what the rollup holds a fraction of the way into the hour.
// The series is hourly, so requests are taken to arrive evenly through the
// hour; a model counts once the hour has any request.
func partial(h anomaly.Hour, fraction float64) anomaly.Hour {
	part := func(n int64) int64 { return int64(float64(n) * fraction) }
	p := anomaly.Hour{
		Start: h.Start, Requests: part(h.Requests), ServerErrors: part(h.ServerErrors),
		AuthFailures: part(h.AuthFailures), AccessDenied: part(h.AccessDenied),
		RateLimited: part(h.RateLimited), CostMicroUSD: part(h.CostMicroUSD),
	}
	if p.Requests > 0 {
		p.Models = h.Models
	}
	return p
}
