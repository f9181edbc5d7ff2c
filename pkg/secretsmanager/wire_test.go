package secretsmanager

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aistats/edge/pkg/providers"
)

// secretsServer is an HTTP server speaking the Secrets Manager wire protocol
// (AWS JSON 1.1) for GetSecretValue, so the real SDK client, its request
// serialisation and its error decoding, is what the adapter is tested with.
func secretsServer(t *testing.T, secrets map[string]string, throttle *atomic.Bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"__type":"InvalidRequestException","message":"unexpected target ` + got + `"}`))
			return
		}
		if throttle.Load() {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"__type":"ThrottlingException","message":"Rate exceeded"}`))
			return
		}
		var in struct{ SecretId string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(400)
			return
		}
		value, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`))
			return
		}
		out, _ := json.Marshal(map[string]any{"ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:" + in.SecretId + "-AbCdEf",
			"Name": in.SecretId, "SecretString": value, "VersionId": "v1"})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestCredentialsOverTheWire reads provider keys through the real SDK
// client: a found secret is trimmed, a missing one (ResourceNotFoundException
// on the wire) means not configured, and any other failure is an error that
// names the secret but never carries a value.
func TestCredentialsOverTheWire(t *testing.T) {
	throttle := &atomic.Bool{}
	srv, calls := secretsServer(t, map[string]string{"prod/providers/openai": " sk-wire-value\n"}, throttle)
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

	throttle.Store(true)
	_, err := c.Credential(ctx, openai)
	if err == nil || !strings.Contains(err.Error(), "prod/providers/openai") {
		t.Fatalf("throttled read: %v, want an error naming the secret", err)
	}
	throttle.Store(false)
	if v, err := c.Credential(ctx, openai); err != nil || v != "sk-wire-value" {
		t.Fatalf("after the throttling: %q, %v; want the trimmed value (a failure is not remembered)", v, err)
	}
	if v, err := c.Credential(ctx, groq); err != nil || v != "" {
		t.Fatalf("missing secret: %q, %v; want not configured", v, err)
	}
	before := calls.Load()
	for range 3 {
		_, _ = c.Credential(ctx, openai)
		_, _ = c.Credential(ctx, groq)
	}
	if calls.Load() != before {
		t.Errorf("%d more Secrets Manager calls for values already read, want none", calls.Load()-before)
	}
}
