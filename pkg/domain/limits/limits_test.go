package limits

import (
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 59, 30, 5, time.FixedZone("CET", 3600))
	// In UTC that is 2026-12-31 22:59:30.
	cases := []struct {
		w          Window
		id, prev   string
		start, end time.Time
	}{
		{Minute, "202612312259", "202612312258", time.Date(2026, 12, 31, 22, 59, 0, 0, time.UTC), time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)},
		{Day, "20261231", "20261230", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Month, "202612", "202611", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.w.Name(), func(t *testing.T) {
			if got := tc.w.ID(at); got != tc.id {
				t.Errorf("ID = %s, want %s", got, tc.id)
			}
			if got := tc.w.PreviousID(at); got != tc.prev {
				t.Errorf("PreviousID = %s, want %s", got, tc.prev)
			}
			if got := tc.w.Start(at); !got.Equal(tc.start) {
				t.Errorf("Start = %s, want %s", got, tc.start)
			}
			if got := tc.w.End(at); !got.Equal(tc.end) {
				t.Errorf("End = %s, want %s", got, tc.end)
			}
		})
	}
	if got := Month.PreviousID(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)); got != "202512" {
		t.Errorf("month before January = %s, want 202512", got)
	}
}

func TestTightestAndReset(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	minute := Status{Window: Minute, Limit: 10, Used: 9, Reset: now.Add(30 * time.Second)}
	day := Status{Window: Day, Limit: 100, Used: 99, Reset: now.Add(14 * time.Hour)}
	month := Status{Window: Month, Limit: 1000, Used: 10, Reset: now.Add(100 * time.Hour)}
	got, ok := Tightest([]Status{month, minute, day})
	if !ok || got.Window != Day {
		t.Errorf("Tightest = %v, want the day limit (1 left, resets last)", got.Window)
	}
	if _, ok := Tightest(nil); ok {
		t.Error("Tightest(nil) found something")
	}
	if got := (Status{Reset: now.Add(1500 * time.Millisecond)}).ResetSeconds(now); got != 2 {
		t.Errorf("ResetSeconds(1.5 s) = %d, want 2 (rounded up)", got)
	}
	if got := (Status{Reset: now}).ResetSeconds(now); got != 1 {
		t.Errorf("ResetSeconds(0) = %d, want at least 1", got)
	}
	if s := (Status{Limit: 3, Used: 5}); s.Remaining() != 0 || !s.Exhausted() {
		t.Errorf("over-used status: remaining %d, exhausted %v", s.Remaining(), s.Exhausted())
	}
}
