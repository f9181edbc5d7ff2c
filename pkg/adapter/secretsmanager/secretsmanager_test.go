package secretsmanager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aistats/edge/pkg/domain/providers"
)

type fakeSecrets struct {
	values map[string]string
	calls  int
	err    error
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *sm.GetSecretValueInput, _ ...func(*sm.Options)) (*sm.GetSecretValueOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{}
	}
	return &sm.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func TestCredentialsAreReadOncePerContainer(t *testing.T) {
	fake := &fakeSecrets{values: map[string]string{
		"prod/providers/openai":    "sk-upstream\n",
		"staging/providers/openai": "sk-other-stack",
		"providers/groq":           "sk-unprefixed",
	}}
	c := &Credentials{Client: fake, Prefix: "prod/"}
	openai := &providers.Provider{ID: "openai", Credential: providers.Credential{Secret: "providers/openai"}}
	groq := &providers.Provider{ID: "groq", Credential: providers.Credential{Secret: "providers/groq"}}
	for range 3 {
		if v, err := c.Credential(context.Background(), openai); err != nil || v != "sk-upstream" {
			t.Fatalf("Credential = %q, %v", v, err)
		}
		if v, err := c.Credential(context.Background(), groq); err != nil || v != "" {
			t.Fatalf("secret missing under the prefix = %q, %v; want not configured", v, err)
		}
	}
	if fake.calls != 2 {
		t.Errorf("%d Secrets Manager calls, want 2 (one per provider)", fake.calls)
	}
	broken := &Credentials{Client: &fakeSecrets{err: errors.New("throttled")}}
	if _, err := broken.Credential(context.Background(), openai); err == nil {
		t.Error("a Secrets Manager failure was taken for a missing secret")
	}
}

// TestMissingSecretIsAskedForAgainAfterAMinute: a provider whose secret is
// created after the container started becomes usable without a restart,
// once the minute a missing secret is believed missing has passed; within
// it, no further call is made.
func TestMissingSecretIsAskedForAgainAfterAMinute(t *testing.T) {
	fake := &fakeSecrets{values: map[string]string{}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &Credentials{Client: fake, Prefix: "prod/", Now: func() time.Time { return now }}
	groq := &providers.Provider{ID: "groq", Credential: providers.Credential{Secret: "providers/groq"}}
	ctx := context.Background()
	if v, err := c.Credential(ctx, groq); err != nil || v != "" {
		t.Fatalf("missing secret = %q, %v; want not configured", v, err)
	}
	fake.values["prod/providers/groq"] = "sk-added-later"
	now = now.Add(59 * time.Second)
	if v, _ := c.Credential(ctx, groq); v != "" || fake.calls != 1 {
		t.Errorf("59 s later: %q after %d calls, want still missing after 1 call", v, fake.calls)
	}
	now = now.Add(time.Second)
	if v, _ := c.Credential(ctx, groq); v != "sk-added-later" || fake.calls != 2 {
		t.Errorf("60 s later: %q after %d calls, want the new secret after 2 calls", v, fake.calls)
	}
	now = now.Add(time.Hour)
	if v, _ := c.Credential(ctx, groq); v != "sk-added-later" || fake.calls != 2 {
		t.Errorf("a found secret: %q after %d calls, want it kept without another call", v, fake.calls)
	}
}
