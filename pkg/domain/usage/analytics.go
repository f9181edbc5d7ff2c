package usage

import (
	"cmp"
	"slices"
	"time"
)

// GroupBy is how an analytics answer splits its series.
type GroupBy string

// The groupings; GroupNone answers one series.
const (
	GroupNone   GroupBy = ""
	GroupKey    GroupBy = "key"
	GroupModel  GroupBy = "model"
	GroupStatus GroupBy = "status"
)

// MaxGroups bounds the groups of an answer: the busiest are kept, and the
// rest are summed into one group named OtherGroup, so that an answer stays
// small whatever a workspace's number of keys or models.
const MaxGroups = 10

// OtherGroup names the sum of the groups beyond MaxGroups.
const OtherGroup = "(other)"

// Series is one group's totals and its buckets, every bucket from the
// query's start to its end present, zeros included, so that a chart needs
// no gap filling.
type Series struct {
	Group   string
	Total   Totals
	Buckets []Bucket
}

// Bucket is one hour's or day's totals.
type Bucket struct {
	Start time.Time
	Totals
}

// Summarize sums rollups into series of buckets of step from from to to
// (exclusive), grouped by by, the busiest MaxGroups kept. The status
// grouping has one series per class with traffic; its totals count that
// class's requests only, since tokens and latency are not kept per class.
func Summarize(rollups []Rollup, by GroupBy, from, to time.Time, step time.Duration) (total Totals, series []Series) {
	n := int(to.Sub(from) / step)
	if to.Sub(from)%step != 0 {
		n++
	}
	groups := map[string]*Series{}
	get := func(name string) *Series {
		s := groups[name]
		if s == nil {
			s = &Series{Group: name, Buckets: make([]Bucket, n)}
			for i := range s.Buckets {
				s.Buckets[i].Start = from.Add(time.Duration(i) * step)
			}
			groups[name] = s
		}
		return s
	}
	for _, r := range rollups {
		i := int(r.Start.Sub(from) / step)
		if r.Start.Before(from) || i >= n {
			continue
		}
		total.Merge(r.Totals)
		switch by {
		case GroupStatus:
			for c, count := range r.Classes {
				if count == 0 {
					continue
				}
				s := get(Class(c).String())
				s.Total.Requests += count
				s.Total.Classes[c] += count
				s.Buckets[i].Requests += count
				s.Buckets[i].Classes[c] += count
			}
			continue
		case GroupKey:
			addTo(get(r.KID), i, r.Totals)
		case GroupModel:
			addTo(get(r.Model), i, r.Totals)
		default:
			addTo(get(""), i, r.Totals)
		}
	}
	for _, s := range groups {
		series = append(series, *s)
	}
	slices.SortFunc(series, func(a, b Series) int {
		return cmp.Or(cmp.Compare(b.Total.Requests, a.Total.Requests), cmp.Compare(a.Group, b.Group))
	})
	if len(series) > MaxGroups {
		other := Series{Group: OtherGroup, Buckets: make([]Bucket, n)}
		for i := range other.Buckets {
			other.Buckets[i].Start = from.Add(time.Duration(i) * step)
		}
		for _, s := range series[MaxGroups-1:] {
			other.Total.Merge(s.Total)
			for i, b := range s.Buckets {
				other.Buckets[i].Merge(b.Totals)
			}
		}
		series = append(series[:MaxGroups-1], other)
	}
	if len(series) == 0 && by == GroupNone {
		series = []Series{*get("")}
	}
	return total, series
}

func addTo(s *Series, i int, t Totals) {
	s.Total.Merge(t)
	s.Buckets[i].Merge(t)
}
