package authorizer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// wantRateLimited checks a 429 decision and returns its limit.
func wantRateLimited(t *testing.T, r result) authcontext.RateLimit {
	t.Helper()
	c, err := authcontext.Decode(r.Context)
	if r.Err != nil || r.Effect != "Allow" || err != nil || !c.RateLimited || c.RateLimit == nil {
		t.Fatalf("got %s %+v (err %v, %v), want Allow marked rate limited", r.Effect, c, r.Err, err)
	}
	return *c.RateLimit
}

// A client retrying a key whose window is full is refused from the warm
// container's memory, with exact headers, at no DynamoDB call: until the
// window resets, and for at most a second, so that a raised limit or a
// revocation is seen within that second.
func TestAFullWindowIsRefusedFromMemory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t) // the clock reads 12:00:10 UTC
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 2})
	wantAllow(t, e.authorize("chat_completions.json", key))
	wantAllow(t, e.authorize("chat_completions.json", key))
	first := e.authorize("chat_completions.json", key)
	if rl := wantRateLimited(t, first); rl.ResetSeconds != 50 || rl.Limit != 2 || rl.Remaining != 0 {
		t.Errorf("first refusal: %+v, want limit 2, none left, reset in 50 s", rl)
	}

	t.Run("further refusals cost no call and keep exact headers", func(t *testing.T) {
		for i, elapsed := range []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, 900 * time.Millisecond} {
			e.clock.Set(time.Date(2026, 11, 27, 12, 0, 10, 0, time.UTC).Add(elapsed))
			r := e.authorize("chat_completions.json", key)
			rl := wantRateLimited(t, r)
			if r.Calls != 0 {
				t.Errorf("refusal %d cost %d calls, want 0", i+1, r.Calls)
			}
			if rl.ResetSeconds != 50 || rl.Name != "requests_per_minute" || rl.Limit != 2 {
				t.Errorf("refusal %d: %+v, want requests_per_minute 2 resetting in 50 s", i+1, rl)
			}
		}
	})

	t.Run("a raised limit applies within a second", func(t *testing.T) {
		raised := gateway.Limits{RequestsPerMinute: 10}
		if _, err := e.store.UpdateKey(ctx, kid, gateway.KeyUpdate{Limits: &raised}); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(time.Date(2026, 11, 27, 12, 0, 11, 0, time.UTC))
		wantAllow(t, e.authorize("chat_completions.json", key))
	})

	t.Run("a new window admits at once", func(t *testing.T) {
		for range 8 {
			e.authorize("chat_completions.json", key)
		}
		wantRateLimited(t, e.authorize("chat_completions.json", key))
		e.clock.Set(time.Date(2026, 11, 27, 12, 1, 0, 0, time.UTC))
		wantAllow(t, e.authorize("chat_completions.json", key))
	})

	t.Run("a revoked key is refused 401 within a second", func(t *testing.T) {
		for range 10 {
			e.authorize("chat_completions.json", key)
		}
		wantRateLimited(t, e.authorize("chat_completions.json", key))
		if _, err := e.store.RevokeKey(ctx, kid); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(e.clock.Now().Add(time.Second))
		wantDeny(t, e.authorize("chat_completions.json", key), gateway.CodeKeyRevoked)
	})
}

// Memory never tells a caller without the secret that a key's window is
// full: a wrong secret for that kid is still invalid_key.
func TestAFullWindowIsNotToldToAWrongSecret(t *testing.T) {
	e := newEnv(t)
	key, _ := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 1})
	wantAllow(t, e.authorize("chat_completions.json", key))
	wantRateLimited(t, e.authorize("chat_completions.json", key))
	wantDeny(t, e.authorize("chat_completions.json", forgedSecret(key)), gateway.CodeInvalidKey)
}

// forgedSecret is key with another secret and a valid checksum: a real kid,
// a wrong secret.
func forgedSecret(key string) string {
	return keyformat.WithChecksum(key[:len(key)-keyformat.SecretLength] + strings.Repeat("x", keyformat.RandomLength))
}
