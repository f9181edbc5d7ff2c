package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// A request admitted in the last instant of a minute and refused by its
// workspace is given back even when a request of the next minute has
// already removed the old minute's counter: its day and month counts are
// released, not kept as a refused request.
func TestReleaseAcrossAMinuteBoundaryGivesBackTheDayAndMonth(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	admit := func(now time.Time) {
		t.Helper()
		if _, admitted, err := s.AdmitKey(ctx, gateway.Admission{KID: k.KID, Kind: k.Kind, SecretHash: k.SecretHash, Now: now}); err != nil || !admitted {
			t.Fatalf("admit at %s: %v, %v", now, admitted, err)
		}
	}
	late := time.Date(2026, 11, 27, 12, 0, 59, 990_000_000, time.UTC)
	next := time.Date(2026, 11, 27, 12, 1, 0, 10_000_000, time.UTC)
	admit(late)
	admit(next) // removes 12:00's minute counter
	if err := s.ReleaseKey(ctx, k.KID, late); err != nil {
		t.Fatal(err)
	}
	auth, err := s.GetKeyState(ctx, k.KID, next)
	if err != nil {
		t.Fatal(err)
	}
	if auth.Used[0] != 1 || auth.Used[1] != 1 || auth.Used[2] != 1 {
		t.Errorf("minute, day, month = %v, want 1, 1, 1: the released request must leave the day and month", auth.Used)
	}
}
