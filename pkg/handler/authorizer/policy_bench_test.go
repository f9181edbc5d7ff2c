package authorizer

import (
	"testing"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// BenchmarkAllowResponse is policy building alone: the Allow statement for
// every route of the key's kind and the encoded context.
func BenchmarkAllowResponse(b *testing.B) {
	h, err := New(Config{Store: struct{ gateway.Admitter }{}})
	if err != nil {
		b.Fatal(err)
	}
	arn, err := parseMethodARN("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/v1/POST/chat/completions")
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := keyformat.Parse(keyformat.WithChecksum("aistats_v1_sk_AbCdEfGhIjKl_" + "0123456789012345678901234567890123456789"))
	req := &request{arn: arn, token: tok, kid: tok.KID}
	d := decision{outcome: outcomeAllow, context: authcontext.Context{
		KID: tok.KID, WorkspaceID: "acme", Kind: gateway.KindInference, PlanModels: []string{"*"}, PlanProviders: []string{"*"},
		RateLimit: &authcontext.RateLimit{Name: "requests_per_day", Limit: 1000, Remaining: 999, ResetSeconds: 3600},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if r := h.response(d, req, ""); r.PolicyDocument.Statement[0].Effect != "Allow" {
			b.Fatal("not an Allow")
		}
	}
}
