package devstack_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

// newInferenceKey creates an inference key of the demo workspace straight
// in the store, with the given allow-list and limits, and returns its text.
func newInferenceKey(t *testing.T, store *dynamo.Store, name string, models []string, limits gateway.Limits) string {
	t.Helper()
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		t.Fatal(err)
	}
	err = store.CreateKey(context.Background(), gateway.Key{KID: g.Token.KID, WorkspaceID: devstack.DemoWorkspace, Kind: gateway.KindInference,
		Name: name, Prefix: g.Token.Prefix(), SecretHash: g.Hash, Models: models, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	return g.Text
}
