package dynamo_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// TestClaimRotationAdmitsOneOfManyRacers is the single conditional write
// that keeps a key to one successor (issue 11 defect 4), raced for real.
func TestClaimRotationAdmitsOneOfManyRacers(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	expires := clock.Now().Add(24 * time.Hour)

	const n = 10
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			claim := gateway.Rotation{SuccessorKID: string(rune('A'+i)) + "bcdefghijk1", ClaimedAt: clock.Now(),
				EndsAt: clock.Now().Add(time.Minute), SuccessorExpiresAt: &expires, RequestHash: "h"}
			switch err := s.ClaimRotation(ctx, k.KID, claim, gateway.Rotation{}); {
			case err == nil:
				wins.Add(1)
			case gateway.ErrorCode(err) == gateway.CodeAlreadyRotated:
			default:
				t.Errorf("ClaimRotation: %v, want success or %s", err, gateway.CodeAlreadyRotated)
			}
		})
	}
	wg.Wait()
	if got, want := wins.Load(), int32(1); got != want {
		t.Fatalf("%d concurrent claims won %d times, want %d", n, got, want)
	}
	rot, err := s.GetRotation(ctx, k.KID)
	if err != nil {
		t.Fatal(err)
	}
	if rot.SuccessorKID == "" || rot.RequestHash != "h" || rot.SuccessorExpiresAt == nil || !rot.SuccessorExpiresAt.Equal(expires) ||
		!rot.ClaimedAt.Equal(clock.Now()) {
		t.Errorf("GetRotation = %+v, want the winning claim", rot)
	}
	if got, err := s.GetKey(ctx, k.KID); err != nil || got.RotatedTo != rot.SuccessorKID {
		t.Errorf("key RotatedTo = %q (%v), want %s", got.RotatedTo, err, rot.SuccessorKID)
	}

	t.Run("a claim must name the successor it replaces", func(t *testing.T) {
		next := gateway.Rotation{SuccessorKID: "Zbcdefghijk1", ClaimedAt: clock.Now(), EndsAt: clock.Now()}
		if err := s.ClaimRotation(ctx, k.KID, next, gateway.Rotation{SuccessorKID: "Wrongkid0001", ClaimedAt: rot.ClaimedAt}); gateway.ErrorCode(err) != gateway.CodeAlreadyRotated {
			t.Errorf("claim over a successor it did not see: %v, want %s", err, gateway.CodeAlreadyRotated)
		}
		if err := s.ClaimRotation(ctx, k.KID, next, rot); err != nil {
			t.Errorf("claim over the successor it saw: %v", err)
		}
	})
	t.Run("abandoning marks the claim stale, only for its own successor", func(t *testing.T) {
		if err := s.AbandonRotation(ctx, k.KID, "Wrongkid0001"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetRotation(ctx, k.KID); got.ClaimedAt.Before(clock.Now()) {
			t.Errorf("another rotation's abandon changed the claim: %+v", got)
		}
		if err := s.AbandonRotation(ctx, k.KID, "Zbcdefghijk1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetRotation(ctx, k.KID); got.ClaimedAt.Unix() != 0 || got.SuccessorKID != "Zbcdefghijk1" {
			t.Errorf("after abandon: %+v, want the epoch as claim time and the successor kept", got)
		}
	})
	t.Run("a revoked key cannot be claimed", func(t *testing.T) {
		if _, err := s.RevokeKey(ctx, k.KID); err != nil {
			t.Fatal(err)
		}
		claim := gateway.Rotation{SuccessorKID: "Ybcdefghijk1", ClaimedAt: clock.Now(), EndsAt: clock.Now()}
		if err := s.ClaimRotation(ctx, k.KID, claim, gateway.Rotation{SuccessorKID: "Zbcdefghijk1"}); gateway.ErrorCode(err) != gateway.CodeAlreadyRotated {
			t.Errorf("claiming a revoked key: %v, want %s", err, gateway.CodeAlreadyRotated)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		_, err := s.GetRotation(ctx, "AAAAAAAAAAAA")
		wantCode(t, err, gateway.CodeKeyNotFound)
	})
}

// A retry that refreshes its claim wins over a takeover that read the claim
// before: the takeover's condition names the claim time it saw, which the
// refresh changed, so two successors can never both be stored.
func TestARefreshedClaimDefeatsATakeoverThatReadItBefore(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	createWorkspace(t, s, "acme")
	k := createKey(t, s, "acme")
	first := gateway.Rotation{SuccessorKID: "Abcdefghijk1", ClaimedAt: clock.Now(), EndsAt: clock.Now()}
	if err := s.ClaimRotation(ctx, k.KID, first, gateway.Rotation{}); err != nil {
		t.Fatal(err)
	}
	seen, err := s.GetRotation(ctx, k.KID)
	if err != nil {
		t.Fatal(err)
	}
	refreshed := seen
	refreshed.ClaimedAt = clock.Now().Add(time.Minute)
	if err := s.ClaimRotation(ctx, k.KID, refreshed, seen); err != nil {
		t.Fatalf("the retry's refresh: %v", err)
	}
	takeover := gateway.Rotation{SuccessorKID: "Cbcdefghijk1", ClaimedAt: clock.Now().Add(time.Hour), EndsAt: clock.Now()}
	if err := s.ClaimRotation(ctx, k.KID, takeover, seen); gateway.ErrorCode(err) != gateway.CodeAlreadyRotated {
		t.Errorf("a takeover on the stale claim: %v, want %s", err, gateway.CodeAlreadyRotated)
	}
}
