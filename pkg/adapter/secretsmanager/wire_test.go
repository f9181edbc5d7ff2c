package secretsmanager

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aistats/edge/internal/testing/secretsmanagertest"
	"github.com/aistats/edge/pkg/domain/providers"
)

// TestCredentialsOverTheWire reads provider keys through the real SDK
// client: a found secret is trimmed, a missing one (ResourceNotFoundException
// on the wire) means not configured, and any other failure is an error that
// names the secret but is not remembered.
func TestCredentialsOverTheWire(t *testing.T) {
	srv := secretsmanagertest.NewServer(t, map[string]string{"prod/providers/openai": " sk-wire-value\n"})
	client := sm.New(sm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      aws.NopRetryer{},
	})
	c := &Credentials{Client: client, Prefix: "prod/"}
	ctx := context.Background()
	openai := &providers.Provider{ID: "openai", Credential: providers.Credential{Secret: "providers/openai"}}
	groq := &providers.Provider{ID: "groq", Credential: providers.Credential{Secret: "providers/groq"}}

	srv.Throttle(true)
	_, err := c.Credential(ctx, openai)
	if err == nil || !strings.Contains(err.Error(), "prod/providers/openai") {
		t.Fatalf("throttled read: %v, want an error naming the secret", err)
	}
	srv.Throttle(false)
	if v, err := c.Credential(ctx, openai); err != nil || v != "sk-wire-value" {
		t.Fatalf("after the throttling: %q, %v; want the trimmed value (a failure is not remembered)", v, err)
	}
	if v, err := c.Credential(ctx, groq); err != nil || v != "" {
		t.Fatalf("missing secret: %q, %v; want not configured", v, err)
	}
	before := len(srv.Asked())
	for range 3 {
		_, _ = c.Credential(ctx, openai)
		_, _ = c.Credential(ctx, groq)
	}
	if n := len(srv.Asked()) - before; n != 0 {
		t.Errorf("%d more Secrets Manager calls for values already read, want none", n)
	}
}
