package authorizer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

// FuzzAuthorizationHeader feeds arbitrary Authorization headers to the
// authorizer: it must never panic or fail, and must allow only the one real
// key (with any letter case of "Bearer" and surrounding spaces).
func FuzzAuthorizationHeader(f *testing.F) {
	g, err := keyformat.Generate(&fixedRandom{}, gateway.KindInference)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "Bearer " + g.Text, "bearer  " + g.Text + " ", "Basic " + g.Text, g.Text, "Bearer\t" + g.Text,
		"Bearer " + g.Text + "\r\nX-Injected: 1", "Bearer " + strings.Repeat("a", 1<<16), "Bearer \x00",
		"Bearer " + strings.Replace(g.Text, "_sk_", "_mk_", 1),
	} {
		f.Add(seed)
	}
	store := &memoryAdmitter{
		keys: map[string]gateway.KeyState{g.Token.KID: {KID: g.Token.KID, WorkspaceID: "acme", Kind: gateway.KindInference,
			SecretHash: g.Hash, Status: gateway.KeyActive}},
		ws: gateway.WorkspaceState{ID: "acme", Status: gateway.WorkspaceActive},
	}
	h, err := authorizer.New(authorizer.Config{Store: store})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		ev := benchEvent("")
		ev.Headers = map[string]string{"Authorization": header}
		resp, err := h.Handle(context.Background(), ev)
		if err != nil {
			t.Fatalf("error for header %q: %v", header, err)
		}
		allowed := resp.PolicyDocument.Statement[0].Effect == "Allow"
		fields := strings.Fields(header)
		real := len(fields) == 2 && strings.EqualFold(fields[0], "Bearer") && fields[1] == g.Text
		if allowed && !real {
			t.Fatalf("header %q was allowed", header)
		}
		if !allowed {
			if resp.Context.Code == "" {
				t.Fatalf("deny without a reason for %q", header)
			}
		}
	})
}

// fixedRandom makes the fuzz seed key the same on every run.
type fixedRandom struct{ n byte }

func (r *fixedRandom) Read(p []byte) (int, error) {
	for i := range p {
		r.n = r.n*31 + 7
		p[i] = r.n
	}
	return len(p), nil
}
