package synthetic

import (
	"math"
	"time"
)

// shape is how a profile's traffic moves over a day.
type shape int

const (
	// business follows a working day in the key's own time zone: a smooth
	// bump from 07:00 to 19:00 local, little at night, less at weekends.
	business shape = iota
	// flat is a service running around the clock with a mild daily swing.
	flat
	// nightly is a batch job at 02:00–03:59 local, every day, and almost
	// nothing otherwise.
	nightly
)

// profile is a kind of key. Its numbers are what such a client looks like,
// not what the detector finds easy.
type profile struct {
	name  string
	shape shape
	// peak and night are the expected served requests per hour at the top
	// of a weekday and at its quietest (for nightly: during the batch and
	// outside it).
	peak, night float64
	weekend     float64 // weekend traffic as a share of weekdays'
	// noise is the lognormal sigma of each hour's activity beyond Poisson:
	// 0.15 is a steady service, 0.6 a client whose hours swing by 3× often.
	noise float64
	// costMicroUSD is the mean spend per served request.
	costMicroUSD float64
	errorRate    float64 // background share of 5xx among served requests
	// limitedShare is the share of extra requests refused 429 at the
	// daily peak (it falls with the square of traffic below the peak):
	// a key that brushes its limit every busy hour, which is normal.
	limitedShare float64
	models       []modelShare
}

// modelShare is one model a key uses and its share of the key's requests.
type modelShare struct {
	name  string
	share float64
}

// profiles are the established kinds of key; each seed draws several keys
// of each, with their own scale, time zone and price.
var profiles = []profile{
	{name: "busy", shape: business, peak: 400, night: 25, weekend: 0.3, noise: 0.15, costMicroUSD: 1500, errorRate: 0.004, limitedShare: 0.03,
		models: []modelShare{{"openai/gpt-4o-mini", 0.9}, {"openai/gpt-4o", 0.1}}},
	{name: "quiet", shape: business, peak: 8, night: 0.3, weekend: 0.2, noise: 0.3, costMicroUSD: 2500, errorRate: 0.01,
		models: []modelShare{{"openai/gpt-4o-mini", 1}}},
	{name: "bursty", shape: business, peak: 60, night: 6, weekend: 0.5, noise: 0.6, costMicroUSD: 1200, errorRate: 0.006,
		models: []modelShare{{"openai/gpt-4o-mini", 0.8}, {"anthropic/claude-3-5-haiku", 0.2}}},
	{name: "nightly-batch", shape: nightly, peak: 900, night: 1, weekend: 1, noise: 0.15, costMicroUSD: 800, errorRate: 0.003, limitedShare: 0.05,
		models: []modelShare{{"openai/gpt-4o-mini", 1}}},
	{name: "multi-model", shape: business, peak: 150, night: 10, weekend: 0.4, noise: 0.25, costMicroUSD: 4000, errorRate: 0.005,
		models: []modelShare{{"openai/gpt-4o", 0.5}, {"anthropic/claude-sonnet-4", 0.3}, {"openai/gpt-4o-mini", 0.19}, {"openai/o3", 0.01}}},
	{name: "always-on", shape: flat, peak: 200, night: 200, weekend: 0.9, noise: 0.12, costMicroUSD: 600, errorRate: 0.002,
		models: []modelShare{{"openai/gpt-4o-mini", 0.97}, {"openai/text-embedding-3-small", 0.03}}},
}

// key is one generated key's own draw of a profile.
type key struct {
	profile
	tz    time.Duration // its clients' time-zone offset from UTC
	level float64       // its scale relative to the profile
	// staleClient: some forgotten client still sends a revoked secret
	// about once an hour, which is normal background for this key.
	staleClient bool
}

// expected is the key's mean served requests in the hour starting at t.
func (k key) expected(t time.Time) float64 {
	local := t.Add(k.tz)
	h := float64(local.Hour())
	var v float64
	switch k.shape {
	case business:
		bump := 0.0
		if h >= 7 && h < 19 {
			bump = math.Pow(math.Sin(math.Pi*(h-7+0.5)/12), 1.5)
		}
		v = k.night + (k.peak-k.night)*bump
	case flat:
		v = k.peak * (1 + 0.15*math.Sin(2*math.Pi*h/24))
	case nightly:
		v = k.night
		if h == 2 || h == 3 {
			v = k.peak
		}
	}
	if wd := local.Weekday(); wd == time.Saturday || wd == time.Sunday {
		v *= k.weekend
	}
	return v * k.level
}

// expectedPeak is the key's mean at its busiest weekday hour.
func (k key) expectedPeak() float64 { return k.peak * k.level }
