package anomaly_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// monday is the first hour of the tests' histories.
var monday = time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)

const usualModel = "openai/gpt-4o-mini"

// normalHour is a working key's ordinary hour: 200 requests an hour from
// 09:00 to 17:00 on weekdays, 20 at night, a third of that at weekends,
// with a deterministic ±10 % wobble, 0.5 % server errors and $0.0015 a
// request.
func normalHour(i int) anomaly.Hour {
	start := monday.Add(time.Duration(i) * time.Hour)
	level := 20.0
	if h := start.Hour(); h >= 9 && h < 17 {
		level = 200
	}
	if wd := start.Weekday(); wd == time.Saturday || wd == time.Sunday {
		level /= 3
	}
	n := int64(level * (1 + 0.1*math.Sin(float64(i)*1.7)))
	return anomaly.Hour{Start: start, Requests: n, ServerErrors: n / 200, CostMicroUSD: n * 1500, Models: []string{usualModel}}
}

// established is 21 days of normal traffic, then the hour in progress at
// hour index cur (counted from monday) with elapsed of it gone; the hour
// in progress holds its share of a normal hour.
func established(cur int, elapsed time.Duration) anomaly.History {
	var h anomaly.History
	h.KID, h.WorkspaceID = "AbCdEfGhIjKl", "w"
	for i := max(0, cur-28*24+1); i <= cur; i++ {
		h.Hours = append(h.Hours, normalHour(i))
	}
	h.Hours[len(h.Hours)-1] = share(h.Hours[len(h.Hours)-1], elapsed)
	h.Now = h.Hours[len(h.Hours)-1].Start.Add(elapsed)
	h.LastUsedBefore = monday.Add(-time.Hour)
	h.KnownModels = []string{usualModel}
	return h
}

// share is what an hour holds after elapsed of it.
func share(h anomaly.Hour, elapsed time.Duration) anomaly.Hour {
	f := float64(elapsed) / float64(time.Hour)
	part := func(n int64) int64 { return int64(float64(n) * f) }
	h.Requests, h.ServerErrors, h.CostMicroUSD = part(h.Requests), part(h.ServerErrors), part(h.CostMicroUSD)
	h.AuthFailures, h.AccessDenied, h.RateLimited = part(h.AuthFailures), part(h.AccessDenied), part(h.RateLimited)
	if h.Requests == 0 {
		h.Models = nil
	}
	return h
}

// brandNew is a key's very first hour, elapsed of it gone, with nothing
// before it.
func brandNew(elapsed time.Duration, hour anomaly.Hour) anomaly.History {
	hour.Start = monday.Add(22*24*time.Hour + 14*time.Hour)
	return anomaly.History{KID: "NeWkEy000001", WorkspaceID: "w", Hours: []anomaly.Hour{hour}, Now: hour.Start.Add(elapsed)}
}

// wednesday14 is the index of a busy weekday hour in the fourth week.
const wednesday14 = 23*24 + 14

func types(fs []anomaly.Finding) []anomaly.Type {
	var out []anomaly.Type
	for _, f := range fs {
		out = append(out, f.Type)
	}
	return out
}

func find(t *testing.T, fs []anomaly.Finding, typ anomaly.Type) anomaly.Finding {
	t.Helper()
	for _, f := range fs {
		if f.Type == typ {
			return f
		}
	}
	t.Fatalf("no %s finding; got %v", typ, types(fs))
	return anomaly.Finding{}
}

func TestEachTypeFiresOnAClearCase(t *testing.T) {
	last := func(h *anomaly.History) *anomaly.Hour { return &h.Hours[len(h.Hours)-1] }
	closed := func(h *anomaly.History) *anomaly.Hour { return &h.Hours[len(h.Hours)-2] }
	cases := []struct {
		name    string
		history func() anomaly.History
		want    anomaly.Type
		partial bool // the finding's window is the hour in progress
	}{
		{"ten times the traffic, half an hour in", func() anomaly.History {
			h := established(wednesday14, 30*time.Minute)
			last(&h).Requests = 1000
			return h
		}, anomaly.TrafficSpike, true},
		{"a closed busy hour with no traffic", func() anomaly.History {
			h := established(wednesday14, 10*time.Minute)
			*closed(&h) = anomaly.Hour{Start: closed(&h).Start}
			return h
		}, anomaly.TrafficDrop, false},
		{"half the requests fail 5xx", func() anomaly.History {
			h := established(wednesday14, 30*time.Minute)
			last(&h).ServerErrors = last(&h).Requests / 2
			return h
		}, anomaly.ErrorRateSpike, true},
		{"a brand-new key: 50 wrong secrets", func() anomaly.History {
			return brandNew(20*time.Minute, anomaly.Hour{AuthFailures: 50})
		}, anomaly.AuthFailures, true},
		{"a brand-new key: 30 requests for a model it may not use", func() anomaly.History {
			return brandNew(5*time.Minute, anomaly.Hour{Requests: 30, AccessDenied: 30})
		}, anomaly.AccessDeniedBurst, true},
		{"an established key: 500 requests refused 429", func() anomaly.History {
			h := established(wednesday14, 30*time.Minute)
			last(&h).RateLimited += 500
			last(&h).Requests += 500
			return h
		}, anomaly.RateLimitStorm, true},
		{"twenty times the spend on the same requests", func() anomaly.History {
			h := established(wednesday14, 30*time.Minute)
			last(&h).CostMicroUSD *= 20
			return h
		}, anomaly.SpendSpike, true},
		{"a model never used before", func() anomaly.History {
			h := established(wednesday14, 30*time.Minute)
			last(&h).Models = []string{"openai/o3", usualModel}
			return h
		}, anomaly.NewModel, true},
		{"first use in 40 days", func() anomaly.History {
			h := brandNew(15*time.Minute, anomaly.Hour{Requests: 3, Models: []string{usualModel}})
			quiet := make([]anomaly.Hour, 28*24-1)
			for i := range quiet {
				quiet[i].Start = h.Hours[0].Start.Add(-time.Duration(len(quiet)-i) * time.Hour)
			}
			h.Hours = append(quiet, h.Hours...)
			h.LastUsedBefore = h.Now.Add(-40 * 24 * time.Hour)
			return h
		}, anomaly.DormantKeyActive, true},
		{"a burst in the last minutes of the previous hour, seen by the run on the hour", func() anomaly.History {
			h := established(wednesday14, 0)
			closed(&h).AuthFailures = 40
			return h
		}, anomaly.AuthFailures, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.history()
			fs := anomaly.Detect(h)
			f := find(t, fs, c.want)
			if f.KID != h.KID || f.WorkspaceID != h.WorkspaceID {
				t.Errorf("finding is about %s/%s, want %s/%s", f.WorkspaceID, f.KID, h.WorkspaceID, h.KID)
			}
			cur := h.Hours[len(h.Hours)-1].Start
			wantStart, wantEnd := cur, h.Now
			if !c.partial {
				wantStart, wantEnd = cur.Add(-time.Hour), cur
			}
			if !f.WindowStart.Equal(wantStart) || !f.WindowEnd.Equal(wantEnd) {
				t.Errorf("window %v–%v, want %v–%v", f.WindowStart, f.WindowEnd, wantStart, wantEnd)
			}
			if f.Severity != anomaly.SeverityLow && f.Severity != anomaly.SeverityMedium && f.Severity != anomaly.SeverityHigh {
				t.Errorf("severity %q", f.Severity)
			}
			if !strings.HasPrefix(f.Sentence, "Key "+h.KID+" ") || !strings.HasSuffix(f.Sentence, ".") {
				t.Errorf("sentence %q", f.Sentence)
			}
			seen := map[anomaly.Type]bool{}
			for _, f := range fs {
				if seen[f.Type] {
					t.Errorf("two %s findings in one run", f.Type)
				}
				seen[f.Type] = true
			}
		})
	}
}

// A normal week of seasonal traffic, judged every 15 minutes as the
// scheduler would, finds nothing: not the morning ramp, not the weekend.
func TestQuietOnNormalSeasonalTraffic(t *testing.T) {
	for cur := 21 * 24; cur < 28*24; cur++ {
		for _, elapsed := range []time.Duration{0, 15 * time.Minute, 30 * time.Minute, 45 * time.Minute} {
			if fs := anomaly.Detect(established(cur, elapsed)); len(fs) > 0 {
				t.Fatalf("hour %d + %v: %v: %s", cur, elapsed, types(fs), fs[0].Sentence)
			}
		}
	}
}

// A new key's first day of normal use is not an anomaly, whatever its
// traffic, models or spend: it has no baseline yet. Nor is one wrong
// secret, or one request for a model it may not use.
func TestQuietOnANewKeysFirstHours(t *testing.T) {
	var h anomaly.History
	h.KID = "NeWkEy000001"
	for i := range 24 {
		hour := normalHour(wednesday14 + i)
		hour.Models = []string{"anthropic/claude-sonnet-4", usualModel}
		if i == 3 {
			hour.AuthFailures, hour.AccessDenied, hour.Requests = 1, 1, hour.Requests+1
		}
		h.Hours = append(h.Hours, hour)
		for _, elapsed := range []time.Duration{0, 20 * time.Minute, 59 * time.Minute} {
			run := h
			run.Hours = append([]anomaly.Hour(nil), h.Hours...)
			run.Hours[i] = share(hour, elapsed)
			run.Now = hour.Start.Add(elapsed)
			if fs := anomaly.Detect(run); len(fs) > 0 {
				t.Fatalf("hour %d + %v: %v: %s", i, elapsed, types(fs), fs[0].Sentence)
			}
		}
	}
}

func TestQuietCases(t *testing.T) {
	cases := []struct {
		name    string
		history anomaly.History
	}{
		{"a single wrong secret on a new key", brandNew(50*time.Minute, anomaly.Hour{AuthFailures: 1})},
		{"a single 403 on a new key", brandNew(50*time.Minute, anomaly.Hour{Requests: 1, AccessDenied: 1})},
		{"19 wrong secrets: below the floor", brandNew(50*time.Minute, anomaly.Hour{AuthFailures: 19})},
		{"a known model, used again", func() anomaly.History {
			h := established(wednesday14, 30*time.Minute)
			h.KnownModels = append(h.KnownModels, "openai/o3")
			h.Hours[len(h.Hours)-1].Models = []string{"openai/o3", usualModel}
			return h
		}()},
		{"the hour in progress is not a drop, however empty so far", func() anomaly.History {
			h := established(wednesday14, 40*time.Minute)
			h.Hours[len(h.Hours)-1] = anomaly.Hour{Start: h.Hours[len(h.Hours)-1].Start}
			return h
		}()},
		{"use after 20 days is not dormant", func() anomaly.History {
			h := brandNew(15*time.Minute, anomaly.Hour{Requests: 3})
			h.LastUsedBefore = h.Now.Add(-20 * 24 * time.Hour)
			return h
		}()},
		{"no known previous use is not dormant", brandNew(15*time.Minute, anomaly.Hour{Requests: 3})},
		{"an empty history", anomaly.History{KID: "x", Now: monday}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if fs := anomaly.Detect(c.history); len(fs) > 0 {
				t.Errorf("got %v: %s", types(fs), fs[0].Sentence)
			}
		})
	}
}

// The sentence reads as the product promises: numbers with separators, the
// hour in UTC, the expected range.
func TestSentence(t *testing.T) {
	h := established(wednesday14, 0)
	h.Hours[len(h.Hours)-2].Requests = 1240
	f := find(t, anomaly.Detect(h), anomaly.TrafficSpike)
	if !strings.HasPrefix(f.Sentence, "Key AbCdEfGhIjKl received 1,240 requests in the hour from 13:00 UTC, against an expected ") {
		t.Errorf("sentence %q", f.Sentence)
	}
	if f.Observed != 1240 || f.ExpectedHigh >= 1240 || f.ExpectedLow > f.ExpectedHigh {
		t.Errorf("observed %v, expected %v–%v", f.Observed, f.ExpectedLow, f.ExpectedHigh)
	}
}
