package synthetic

import (
	"fmt"
	"slices"
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// Config says what to generate. The traffic and anomaly parameters are
// fixed (params.go); a Config only picks the seed and how many of what.
type Config struct {
	Seed  int64
	Start time.Time // the first hour, UTC
	Days  int
	// Established keys are used from the first hour, profiles taken in
	// turn; anomalies of every type go into them after warmUpDays.
	Established int
	// NewKeys start at a random hour; one in three gets an auth_failures
	// burst and one in three an access_denied_burst in its first day, the
	// acceptance cases of a brand-new key.
	NewKeys int
	// DormantKeys come back after 31–45 days unused (dormant_key_active);
	// ReturningKeys come back after 10–25 days, which is not an anomaly.
	DormantKeys, ReturningKeys int
	// InjectionsPerType is how many anomalies of each type go into the
	// established keys.
	InjectionsPerType int
	// Types limits the injected types; nil means all.
	Types []anomaly.Type
}

// benchmarkStart is a Monday, so that weeks in reports line up.
var benchmarkStart = time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)

// BenchmarkConfig is one seed of the benchmark: five weeks, so that the
// last week is judged against a full 28-day history, and enough keys that
// each type is injected several times per seed.
func BenchmarkConfig(seed int64) Config {
	return Config{Seed: seed, Start: benchmarkStart, Days: 35, Established: 30, NewKeys: 6, DormantKeys: 3, ReturningKeys: 2, InjectionsPerType: 5}
}

// Generate builds every key's series and labels. The same Config always
// gives the same result.
func Generate(c Config) []KeySeries {
	g := generation{c: c, hours: c.Days * 24, workspace: fmt.Sprintf("synthetic-%d", c.Seed)}
	var out []KeySeries
	stream := uint64(1)
	next := func() int64 { stream++; return int64(stream) }
	for i := range c.Established {
		out = append(out, g.established(profiles[i%len(profiles)], next()))
	}
	for i := range c.NewKeys {
		out = append(out, g.newKey(i, next()))
	}
	for range c.DormantKeys {
		out = append(out, g.dormant(next()))
	}
	for range c.ReturningKeys {
		out = append(out, g.returning(next()))
	}
	g.inject(out[:c.Established], newRand(c.Seed, 1))
	return out
}

type generation struct {
	c         Config
	hours     int
	workspace string
}

func (g generation) at(i int) time.Time { return g.c.Start.Add(time.Duration(i) * time.Hour) }

// draw gives a key its own scale, time zone and price within its profile.
func (g generation) draw(p profile, r *randSource) key {
	timeZones := []time.Duration{-8, -5, 0, 1, 2, 5, 8, 9}
	p.costMicroUSD *= uniform(r, 0.5, 2)
	return key{profile: p, tz: timeZones[r.IntN(len(timeZones))] * time.Hour, level: uniform(r, 0.6, 1.6), staleClient: r.Float64() < 0.1}
}

// series fills hours [from, to) with the key's normal traffic.
func (g generation) series(k key, r *randSource, from, to int) []anomaly.Hour {
	hours := make([]anomaly.Hour, g.hours)
	for i := range hours {
		hours[i].Start = g.at(i)
		if i >= from && i < to {
			hours[i] = k.hour(r, hours[i].Start)
		}
	}
	return hours
}

func (g generation) established(p profile, stream int64) KeySeries {
	r := newRand(g.c.Seed, uint64(stream))
	k := g.draw(p, r)
	return KeySeries{
		KID: kid(r), WorkspaceID: g.workspace, Profile: p.name, key: k,
		Hours:          g.series(k, r, 0, g.hours),
		LastUsedBefore: g.c.Start.Add(-time.Duration(between(r, 1, 48)) * time.Hour),
		KnownModels:    k.modelNames(),
	}
}

// newKeyProfiles are what a new key turns out to be.
var newKeyProfiles = []string{"quiet", "busy", "bursty", "multi-model"}

func (g generation) newKey(i int, stream int64) KeySeries {
	r := newRand(g.c.Seed, uint64(stream))
	k := g.draw(profileNamed(newKeyProfiles[r.IntN(len(newKeyProfiles))]), r)
	first := between(r, 3*24, g.hours-3*24)
	s := KeySeries{KID: kid(r), WorkspaceID: g.workspace, Profile: "new-" + k.name, key: k, Hours: g.series(k, r, first, g.hours)}
	start := first + r.IntN(24)
	switch i % 3 {
	case 0:
		s.Labels = append(s.Labels, injectAuthFailures(&s, r, start))
	case 1:
		s.Labels = append(s.Labels, injectAccessDenied(&s, r, start))
	}
	return s
}

// dormant is a key last used 31–45 days before it is used again at a
// working hour, within the series: dormant_key_active.
func (g generation) dormant(stream int64) KeySeries {
	r := newRand(g.c.Seed, uint64(stream))
	k := g.draw(profileNamed([]string{"quiet", "busy"}[r.IntN(2)]), r)
	resume := between(r, 8, g.c.Days-2)*24 + between(r, 8, 16)
	silence := time.Duration(between(r, dormantMinDays, dormantMaxDays)) * 24 * time.Hour
	s := KeySeries{
		KID: kid(r), WorkspaceID: g.workspace, Profile: "dormant", key: k,
		Hours:          g.series(k, r, resume, g.hours),
		LastUsedBefore: g.at(resume).Add(-silence),
		KnownModels:    k.modelNames(),
	}
	s.ensureUsed(resume)
	s.Labels = append(s.Labels, Label{Type: anomaly.DormantKeyActive, Start: g.at(resume), End: g.at(resume + 1)})
	return s
}

// returning is a key used for the first 2–6 days, silent for 10–25 days,
// then used again: normal, never labelled.
func (g generation) returning(stream int64) KeySeries {
	r := newRand(g.c.Seed, uint64(stream))
	k := g.draw(profileNamed([]string{"quiet", "busy"}[r.IntN(2)]), r)
	stop := between(r, 2, 6) * 24
	resume := min(stop+between(r, returningMinDays, returningMaxDays)*24+between(r, 8, 16), g.hours-24)
	s := KeySeries{
		KID: kid(r), WorkspaceID: g.workspace, Profile: "returning", key: k,
		Hours:          g.series(k, r, 0, g.hours),
		LastUsedBefore: g.c.Start.Add(-time.Duration(between(r, 1, 48)) * time.Hour),
		KnownModels:    k.modelNames(),
	}
	for i := stop; i < resume; i++ {
		s.Hours[i] = anomaly.Hour{Start: s.Hours[i].Start}
	}
	s.ensureUsed(resume)
	return s
}

// ensureUsed makes sure the hour a key comes back carries traffic,
// whatever its profile expects at that hour.
func (s *KeySeries) ensureUsed(i int) {
	if s.Hours[i].Served() == 0 {
		s.Hours[i].Requests += 3
		s.Hours[i].Models = []string{s.key.models[0].name}
	}
}

func profileNamed(name string) profile {
	for _, p := range profiles {
		if p.name == name {
			return p
		}
	}
	panic("synthetic: no profile " + name)
}

func (k key) modelNames() []string {
	var names []string
	for _, m := range k.models {
		names = append(names, m.name)
	}
	slices.Sort(names)
	return names
}

// kid draws a key id shaped as the gateway's: 12 base62 characters.
func kid(r *randSource) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 12)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}
