package secretsmanager

import (
	"context"
	"errors"
	"testing"

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
