package authorizer_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

// memoryAdmitter answers the authorizer from memory, so a benchmark measures
// the authorizer's own CPU and allocations, not DynamoDB. It admits every
// request of a known active key; the limit logic it skips is tested against
// dynalite.
type memoryAdmitter struct {
	mu   sync.Mutex
	keys map[string]gateway.KeyState
	ws   gateway.WorkspaceState
}

func (m *memoryAdmitter) AdmitKey(_ context.Context, a gateway.Admission) (gateway.KeyState, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[a.KID]
	if !ok || k.Kind != a.Kind || string(k.SecretHash) != string(a.SecretHash) || k.Status != gateway.KeyActive {
		return k, false, nil
	}
	k.Used[0]++
	m.keys[a.KID] = k
	return k, true, nil
}

func (m *memoryAdmitter) GetKeyState(_ context.Context, kid string, _ time.Time) (gateway.KeyState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[kid]
	if !ok {
		return k, gateway.Errorf(gateway.CodeKeyNotFound, "no key")
	}
	return k, nil
}

// WithdrawKey: the benchmarks never lose an answer nor have a workspace
// refuse, so a call is a mistake, said loudly.
func (m *memoryAdmitter) WithdrawKey(context.Context, gateway.Admission, time.Time) (bool, error) {
	return false, errors.New("memoryAdmitter: no withdrawals")
}

func (m *memoryAdmitter) AdmitWorkspace(context.Context, gateway.WorkspaceAdmission) (gateway.WorkspaceState, bool, error) {
	return m.ws, true, nil
}

func (m *memoryAdmitter) GetWorkspaceState(context.Context, string, time.Time) (gateway.WorkspaceState, error) {
	return m.ws, nil
}

func benchEvent(key string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:           "REQUEST",
		MethodArn:      "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/v1/POST/chat/completions",
		Headers:        map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"},
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{RequestID: "bench"},
	}
}

// BenchmarkAuthorizeWarm is docs/architecture.md §11's "authorizer CPU per request
// in-process (store answered in memory)": target < 5 µs, < 40 allocations.
func BenchmarkAuthorizeWarm(b *testing.B) {
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		b.Fatal(err)
	}
	store := &memoryAdmitter{
		keys: map[string]gateway.KeyState{g.Token.KID: {KID: g.Token.KID, WorkspaceID: "acme", Kind: gateway.KindInference,
			SecretHash: g.Hash, Status: gateway.KeyActive, Limits: gateway.Limits{RequestsPerDay: 1 << 40}}},
		ws: gateway.WorkspaceState{ID: "acme", Status: gateway.WorkspaceActive, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}},
	}
	h, err := authorizer.New(authorizer.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent(g.Text)
	ctx := context.Background()
	if resp, err := h.Handle(ctx, ev); err != nil || resp.PolicyDocument.Statement[0].Effect != "Allow" {
		b.Fatalf("warm-up: %v %+v", err, resp)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefuseMalformed is a malformed key: no store call at all.
func BenchmarkRefuseMalformed(b *testing.B) {
	h, err := authorizer.New(authorizer.Config{Store: &memoryAdmitter{}})
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent("aistats_v1_sk_AbCdEfGhIjKl_" + "x")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
