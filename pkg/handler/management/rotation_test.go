package management_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/management"
)

// Issue 11, defect 4: rotating twice, concurrently, and retrying.

func TestRotatingTwiceKeepsTheChain(t *testing.T) {
	e := newEnv(t)
	kid, _ := e.create(actor("acme"), `{"name":"chained","expires_at":"2027-06-01T00:00:00Z"}`)
	const original = "2027-06-01T00:00:00Z"

	first := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":3600}`, nil)
	if first.status != 201 || first.data()["expires_at"] != original {
		t.Fatalf("first rotation: got %d %s, want 201 with expires_at %s", first.status, first.raw, original)
	}
	s1 := first.data()["kid"].(string)

	again := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":3600}`, nil)
	if got, want := again.status, 409; got != want || again.code() != "already_rotated" {
		t.Fatalf("rotating a key with a live successor: got %d %s, want %d already_rotated", got, again.raw, want)
	}
	if msg := again.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, s1) {
		t.Errorf("409 message %q does not name the successor %s", msg, s1)
	}
	if got := e.call(actor("acme"), "GET", "/keys/{kid}", kid, "", nil).data()["rotated_to"]; got != s1 {
		t.Errorf("after a refused second rotation rotated_to = %v, want %s", got, s1)
	}

	// Once the successor is revoked the key may be rotated again, and the
	// new successor still gets the original expiry, not the overlap's end.
	if a := e.call(actor("acme"), "DELETE", "/keys/{kid}", s1, "", nil); a.status != 204 {
		t.Fatalf("revoke successor: %d %s", a.status, a.raw)
	}
	e.now = e.now.Add(time.Minute)
	second := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":60}`, nil)
	if second.status != 201 {
		t.Fatalf("rotation after the successor was revoked: %d %s", second.status, second.raw)
	}
	if got := second.data()["expires_at"]; got != original {
		t.Errorf("second successor expires_at = %v, want the original %s", got, original)
	}
	old := e.call(actor("acme"), "GET", "/keys/{kid}", kid, "", nil).data()
	if old["rotated_to"] != second.data()["kid"] {
		t.Errorf("old key rotated_to = %v, want %v", old["rotated_to"], second.data()["kid"])
	}
	if want := e.now.Add(time.Minute).Format(time.RFC3339); old["expires_at"] != want {
		t.Errorf("old key expires_at = %v, want the second overlap's end %s", old["expires_at"], want)
	}

	t.Run("a successor rotated in turn keeps the expiry too", func(t *testing.T) {
		s2 := second.data()["kid"].(string)
		third := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", s2, `{"previous_key_expires_in":0}`, nil)
		if third.status != 201 || third.data()["expires_at"] != original {
			t.Errorf("rotating the successor: got %d %v, want 201 with %s", third.status, third.data()["expires_at"], original)
		}
	})
}

// activeSuccessors counts the active keys named name other than kid.
func activeSuccessors(e *env, name, kid string) []string {
	e.t.Helper()
	var out []string
	for _, v := range e.call(actor("acme"), "GET", "/keys", "", "", map[string]string{"limit": "100"}).list() {
		m := v.(map[string]any)
		if m["name"] == name && m["kid"] != kid && m["status"] == "active" {
			out = append(out, m["kid"].(string))
		}
	}
	return out
}

func TestConcurrentRotationsMakeOneSuccessor(t *testing.T) {
	e := newEnv(t)
	kid, _ := e.create(actor("acme"), `{"name":"raced"}`)
	const n = 8
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			answers[i] = e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":600}`, nil)
		})
	}
	wg.Wait()
	var created []string
	for _, a := range answers {
		switch {
		case a.status == 201:
			created = append(created, a.data()["kid"].(string))
		case a.status == 409 && a.code() == "already_rotated":
		default:
			t.Errorf("concurrent rotation answered %d %s, want 201 or 409 already_rotated", a.status, a.raw)
		}
	}
	if got, want := len(created), 1; got != want {
		t.Fatalf("%d concurrent rotations created %d successors %v, want %d", n, got, created, want)
	}
	if got := activeSuccessors(e, "raced", kid); len(got) != 1 || got[0] != created[0] {
		t.Errorf("active successors %v, want only %s", got, created[0])
	}
	for _, a := range answers {
		if a.status == 409 && !strings.Contains(a.raw, created[0]) {
			t.Errorf("409 does not name the successor %s: %s", created[0], a.raw)
		}
	}
}

func TestRotationIsSafeToRetryWithAnIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	kid, _ := e.create(actor("acme"), `{"name":"retried"}`)
	rotate := func(key, body string) answer {
		return e.callWithHeaders(actor("acme"), "POST", "/keys/{kid}/rotate", kid, body, nil, map[string]string{"idempotency-key": key})
	}
	first := rotate("rotate-retried-1", `{"previous_key_expires_in":300}`)
	if first.status != 201 || first.data()["key"] == nil {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	successor := first.data()["kid"]
	e.now = e.now.Add(10 * time.Second)
	retry := rotate("rotate-retried-1", `{"previous_key_expires_in":300}`)
	if retry.status != 200 || retry.data()["kid"] != successor {
		t.Fatalf("retry: got %d %s, want 200 naming %v", retry.status, retry.raw, successor)
	}
	if _, ok := retry.data()["key"]; ok {
		t.Errorf("a replay returned key text: %s", retry.raw)
	}
	if got := retry.headers["Idempotent-Replayed"]; got != "true" {
		t.Errorf("Idempotent-Replayed = %q, want true", got)
	}
	if got := activeSuccessors(e, "retried", kid); len(got) != 1 {
		t.Errorf("active successors after a retry %v, want one", got)
	}
	if a := rotate("rotate-retried-1", `{"previous_key_expires_in":0}`); a.status != 409 || a.code() != "already_rotated" {
		t.Errorf("same Idempotency-Key, different body: got %d %s, want 409 already_rotated", a.status, a.raw)
	}
	if a := rotate("other-key", `{"previous_key_expires_in":300}`); a.status != 409 || a.code() != "already_rotated" {
		t.Errorf("another Idempotency-Key: got %d %s, want 409 already_rotated", a.status, a.raw)
	}
	if a := rotate(strings.Repeat("k", 256), `{}`); a.status != 400 || a.param() != "Idempotency-Key" {
		t.Errorf("oversized Idempotency-Key: got %d %s, want 400 on Idempotency-Key", a.status, a.raw)
	}

	t.Run("concurrent retries", func(t *testing.T) {
		kid, _ := e.create(actor("acme"), `{"name":"stormed"}`)
		const n = 8
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				answers[i] = e.callWithHeaders(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{}`, nil,
					map[string]string{"Idempotency-Key": "storm"})
			})
		}
		wg.Wait()
		texts, kids := 0, map[any]bool{}
		for _, a := range answers {
			if a.status != 201 && a.status != 200 {
				t.Errorf("retry of a rotation of %s answered %d %s, want 201 or 200", kid, a.status, a.raw)
				continue
			}
			kids[a.data()["kid"]] = true
			if a.data()["key"] != nil {
				texts++
			}
		}
		if len(kids) != 1 || texts != 1 {
			t.Errorf("concurrent retries named %d successors and returned %d key texts, want 1 and 1", len(kids), texts)
		}
		if got := activeSuccessors(e, "stormed", kid); len(got) != 1 {
			t.Errorf("active successors %v, want one", got)
		}
	})
}

// flakyCreate fails the next CreateKey calls it is told to, as a DynamoDB
// outage between the claim and the successor's write would.
type flakyCreate struct {
	*dynamo.Store
	failures atomic.Int32
}

func (f *flakyCreate) CreateKey(ctx context.Context, k gateway.Key) error {
	if f.failures.Add(-1) >= 0 {
		return gateway.Unavailable(errors.New("injected: the successor's write failed"))
	}
	return f.Store.CreateKey(ctx, k)
}

func TestRetryCompletesARotationCutOffBeforeItsSuccessor(t *testing.T) {
	e := newEnv(t)
	flaky := &flakyCreate{Store: e.store}
	h, err := management.New(management.Config{Store: flaky, Usage: e.store, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	kid, key := e.create(actor("acme"), `{"name":"cut off"}`)
	e.h, flaky.failures = h, atomic.Int32{}
	flaky.failures.Store(1)
	rotate := func() answer {
		return e.callWithHeaders(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":0}`, nil,
			map[string]string{"Idempotency-Key": "cut-off-1"})
	}
	if a := rotate(); a.status != 503 {
		t.Fatalf("rotation with the successor's write failing: got %d %s, want 503", a.status, a.raw)
	}
	if ok, _ := e.admitted(key); !ok {
		t.Error("the old key stopped though its rotation failed")
	}
	a := rotate()
	if a.status != 201 || a.data()["key"] == nil {
		t.Fatalf("retry after the failure: got %d %s, want 201 with the key text", a.status, a.raw)
	}
	if ok, _ := e.admitted(a.data()["key"].(string)); !ok {
		t.Error("the successor made by the retry is not admitted")
	}
	if ok, code := e.admitted(key); ok || code != "key_revoked" {
		t.Errorf("old key after the completed rotation: admitted %v %s, want key_revoked", ok, code)
	}
	if got := activeSuccessors(e, "cut off", kid); len(got) != 1 {
		t.Errorf("active successors %v, want one", got)
	}
	t.Run("without an Idempotency-Key a failed rotation can be retried at once", func(t *testing.T) {
		kid, _ := e.create(actor("acme"), `{"name":"cut off again"}`)
		flaky.failures.Store(1)
		if a := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{}`, nil); a.status != 503 {
			t.Fatalf("got %d %s, want 503", a.status, a.raw)
		}
		if a := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{}`, nil); a.status != 201 {
			t.Errorf("retry without Idempotency-Key after a failed rotation: got %d %s, want 201", a.status, a.raw)
		}
	})
}

// flakyRevoke fails the next RevokeKey of one key, as a throttled write
// after the successor was stored would.
type flakyRevoke struct {
	*dynamo.Store
	kid      string
	failures atomic.Int32
}

func (f *flakyRevoke) RevokeKey(ctx context.Context, kid string) (gateway.Key, error) {
	if kid == f.kid && f.failures.Add(-1) >= 0 {
		return gateway.Key{}, gateway.Unavailable(errors.New("injected: revoking the old key failed"))
	}
	return f.Store.RevokeKey(ctx, kid)
}

// A rotation that fails after storing its successor must not lock the
// caller out: the successor nobody received is revoked, and the retry with
// the same Idempotency-Key makes a new one and answers its text, instead of
// replaying a successor whose text was never sent (found in review).
func TestARotationFailingAfterItsSuccessorDoesNotLockTheCallerOut(t *testing.T) {
	e := newEnv(t)
	kid, key := e.create(actor("acme"), `{"name":"half rotated"}`)
	flaky := &flakyRevoke{Store: e.store, kid: kid}
	flaky.failures.Store(2) // the attempt to end the old key, and its retry
	h, err := management.New(management.Config{Store: flaky, Usage: e.store, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	rotate := func() answer {
		return e.callWithHeaders(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":0}`, nil,
			map[string]string{"Idempotency-Key": "half-1"})
	}
	if a := rotate(); a.status != 503 {
		t.Fatalf("rotation whose old key could not be ended: got %d %s, want 503", a.status, a.raw)
	}
	if got := activeSuccessors(e, "half rotated", kid); len(got) != 0 {
		t.Errorf("active successors after the failed rotation %v, want none: nobody holds their text", got)
	}
	a := rotate()
	if a.status != 201 || a.data()["key"] == nil {
		t.Fatalf("retry: got %d %s, want 201 with the new key's text", a.status, a.raw)
	}
	if ok, _ := e.admitted(a.data()["key"].(string)); !ok {
		t.Error("the successor the retry answered is not admitted")
	}
	if ok, code := e.admitted(key); ok || code != "key_revoked" {
		t.Errorf("old key: admitted %v %s, want key_revoked", ok, code)
	}
	if got := activeSuccessors(e, "half rotated", kid); len(got) != 1 {
		t.Errorf("active successors %v, want exactly the one answered", got)
	}
}

// revokeThenFail revokes one key, then reports a failure once, as a write
// whose answer was lost would.
type revokeThenFail struct {
	*dynamo.Store
	kid      string
	failures atomic.Int32
}

func (f *revokeThenFail) RevokeKey(ctx context.Context, kid string) (gateway.Key, error) {
	k, err := f.Store.RevokeKey(ctx, kid)
	if err == nil && kid == f.kid && f.failures.Add(-1) >= 0 {
		return gateway.Key{}, gateway.Unavailable(errors.New("injected: the revocation landed, its answer did not"))
	}
	return k, err
}

// A rotation whose old key was ended though the answer of that write was
// lost completes and answers the successor's text: nothing is undone that
// the caller could not get back (found in review).
func TestARotationWhoseOldKeyEndedDespiteAnErrorAnswersItsSuccessor(t *testing.T) {
	e := newEnv(t)
	kid, key := e.create(actor("acme"), `{"name":"lost answer"}`)
	flaky := &revokeThenFail{Store: e.store, kid: kid}
	flaky.failures.Store(1)
	h, err := management.New(management.Config{Store: flaky, Usage: e.store, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	a := e.callWithHeaders(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":0}`, nil,
		map[string]string{"Idempotency-Key": "lost-1"})
	if a.status != 201 || a.data()["key"] == nil {
		t.Fatalf("got %d %s, want 201 with the successor's text", a.status, a.raw)
	}
	if ok, _ := e.admitted(a.data()["key"].(string)); !ok {
		t.Error("the successor is not admitted")
	}
	if ok, code := e.admitted(key); ok || code != "key_revoked" {
		t.Errorf("old key: admitted %v %s, want key_revoked", ok, code)
	}
}
