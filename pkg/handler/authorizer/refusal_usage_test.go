package authorizer_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/domain/usage"
)

// withWrongSecret keeps a key's kid but changes its secret, with a valid
// checksum: what a leaked or guessed kid looks like.
func withWrongSecret(t *testing.T, kid string) string {
	t.Helper()
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		t.Fatal(err)
	}
	return keyformat.WithChecksum(keyformat.Prefix(gateway.KindInference, kid) + "_" + g.Token.Secret()[:keyformat.RandomLength])
}

// TestRefusalsOfARealKeyAreCountedInItsUsage: the auth_failures anomaly
// reads them. A kid that does not exist is counted nowhere, and an admitted
// request pays no usage write here (the proxy records it).
func TestRefusalsOfARealKeyAreCountedInItsUsage(t *testing.T) {
	e := newEnv(t)
	text, kid := e.key("acme", gateway.KindInference, gateway.Limits{})
	wrong := withWrongSecret(t, kid)
	for range 3 { // the first is refused after a read, the rest from memory
		if r := e.authorize("chat_completions.json", wrong); r.code() != string(gateway.CodeInvalidKey) {
			t.Fatalf("wrong secret: %+v", r)
		}
	}
	if r := e.authorize("chat_completions.json", text); r.Effect != "Allow" {
		t.Fatalf("right secret: %+v", r)
	}
	revoked, revokedKID := e.key("acme", gateway.KindInference, gateway.Limits{})
	if _, err := e.store.RevokeKey(context.Background(), revokedKID); err != nil {
		t.Fatal(err)
	}
	e.authorize("chat_completions.json", revoked)

	day := e.clock.Now().Truncate(24 * time.Hour)
	got, err := e.usage.KeyTotals(context.Background(), kid, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 3 || got.Classes[usage.Class401] != 3 || got.Refusals[usage.RefusedWrongSecret] != 3 {
		t.Errorf("usage of the attacked key %+v, want 3 wrong-secret refusals and nothing for the admitted request", got)
	}
	got, _ = e.usage.KeyTotals(context.Background(), revokedKID, day, day.Add(24*time.Hour))
	if got.Refusals[usage.RefusedRevoked] != 1 {
		t.Errorf("usage of the revoked key %+v, want its refusal counted as revoked", got)
	}
}
