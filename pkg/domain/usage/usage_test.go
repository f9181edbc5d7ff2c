package usage

import (
	"testing"
	"time"
)

func TestClassOf(t *testing.T) {
	for _, c := range []struct {
		status   int
		upstream bool
		want     Class
	}{
		{200, false, Class2xx}, {204, false, Class2xx}, {400, false, Class400}, {401, false, Class401},
		{403, false, Class403}, {404, false, Class404}, {429, false, Class429}, {413, false, Class4xx},
		{499, false, Class4xx}, {503, false, Class5xx}, {502, true, ClassUpstream5xx},
	} {
		if got := ClassOf(c.status, c.upstream); got != c.want {
			t.Errorf("ClassOf(%d, %v) = %s, want %s", c.status, c.upstream, got, c.want)
		}
	}
	for c := range NumClasses {
		if back, ok := ParseClass(c.String()); !ok || back != c {
			t.Errorf("ParseClass(%s) = %v, %v", c, back, ok)
		}
	}
}

func TestQuantileReadsBackWithinABucket(t *testing.T) {
	var h Histogram
	if _, ok := h.Quantile(0.5); ok {
		t.Error("an empty histogram has a median")
	}
	// 90 requests at 80 ms and 10 at 3 s: p50 lies in (50, 100] ms and
	// p95 in (2.5, 5] s.
	for range 90 {
		h[LatencyBucket(80*time.Millisecond)]++
	}
	for range 10 {
		h[LatencyBucket(3*time.Second)]++
	}
	if p50, _ := h.Quantile(0.5); p50 <= 50*time.Millisecond || p50 > 100*time.Millisecond {
		t.Errorf("p50 = %v", p50)
	}
	if p95, _ := h.Quantile(0.95); p95 <= 2500*time.Millisecond || p95 > 5*time.Second {
		t.Errorf("p95 = %v", p95)
	}
	var slow Histogram
	slow[LatencyBucket(time.Hour)]++
	if p, _ := slow.Quantile(0.5); p != 300*time.Second {
		t.Errorf("the open last bucket answers %v, want its lower bound", p)
	}
}

func TestSummarizeFillsBucketsAndBoundsGroups(t *testing.T) {
	from := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var rollups []Rollup
	for i := range 15 { // 15 models, model i with i+1 requests at hour i
		var tot Totals
		for range i + 1 {
			tot.Add(Event{Class: Class2xx, Latency: time.Second})
		}
		rollups = append(rollups, Rollup{Start: from.Add(time.Duration(i) * time.Hour), Model: string(rune('a' + i)), Totals: tot})
	}
	total, series := Summarize(rollups, GroupModel, from, from.Add(24*time.Hour), time.Hour)
	if total.Requests != 120 {
		t.Errorf("total %d requests, want 120", total.Requests)
	}
	if len(series) != MaxGroups || series[0].Group != "o" || series[MaxGroups-1].Group != OtherGroup {
		t.Fatalf("groups %d, first %q, last %q", len(series), series[0].Group, series[len(series)-1].Group)
	}
	if other := series[MaxGroups-1].Total.Requests; other != 1+2+3+4+5+6 {
		t.Errorf("(other) holds %d requests, want the six quietest models' 21", other)
	}
	for _, s := range series {
		if len(s.Buckets) != 24 {
			t.Errorf("%s has %d buckets, want 24", s.Group, len(s.Buckets))
		}
	}
	_, days := Summarize(rollups, GroupStatus, from, from.Add(48*time.Hour), 24*time.Hour)
	if len(days) != 1 || days[0].Group != "2xx" || days[0].Buckets[0].Requests != 120 || days[0].Buckets[1].Requests != 0 {
		t.Errorf("by status per day %+v", days)
	}
}
