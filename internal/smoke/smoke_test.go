package smoke_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aistats/edge/internal/testing/localstack"

	"github.com/aistats/edge/internal/smoke"
)

func TestSmokeAgainstTheLocalStack(t *testing.T) {
	creds := localstack.StartAtNoon(t, t.TempDir()).Credentials
	ctx := context.Background()

	t.Run("every check passes, with a model", func(t *testing.T) {
		var out strings.Builder
		err := smoke.Run(ctx, smoke.Config{BaseURL: creds.BaseURL, ManagementKey: creds.ManagementKey, Model: "local/echo"}, &out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		for _, want := range []string{"ok   a chat completion through local/echo", "ok   a streamed chat completion through local/echo (first byte after ", ", first token after ", "ok   no stage but this one serves the API", "ok   the endpoint is Regional", "ok   past its limit the key gets 429", "ok   usage shows", "ok   a revoked key is refused", "all 12 checks passed"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
		if strings.Contains(out.String(), creds.ManagementKey) || strings.Contains(out.String(), "aistats_v1_sk_") {
			t.Errorf("a key reached the output:\n%s", out.String())
		}
	})
	t.Run("without a model the model calls are left out", func(t *testing.T) {
		var out strings.Builder
		if err := smoke.Run(ctx, smoke.Config{BaseURL: creds.BaseURL + "/", ManagementKey: creds.ManagementKey}, &out); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if strings.Contains(out.String(), "chat completion") || !strings.Contains(out.String(), "all 10 checks passed") {
			t.Errorf("output:\n%s", out.String())
		}
	})
	t.Run("an inference key in place of a management key fails loudly", func(t *testing.T) {
		var out strings.Builder
		err := smoke.Run(ctx, smoke.Config{BaseURL: creds.BaseURL, ManagementKey: creds.APIKey}, &out)
		if err == nil || !strings.Contains(err.Error(), "the management key lists keys") {
			t.Fatalf("Run = %v, want the failed check named\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "FAIL the management key lists keys: got 401") || strings.Contains(out.String(), creds.APIKey) {
			t.Errorf("output:\n%s", out.String())
		}
	})
	t.Run("a model the key may not use fails its checks", func(t *testing.T) {
		var out strings.Builder
		err := smoke.Run(ctx, smoke.Config{BaseURL: creds.BaseURL, ManagementKey: creds.ManagementKey, Model: "local/no-such-model"}, &out)
		if err == nil || !strings.Contains(out.String(), "FAIL a chat completion through local/no-such-model: got 404") {
			t.Errorf("Run = %v\n%s", err, out.String())
		}
	})
	t.Run("nothing to check against", func(t *testing.T) {
		if err := smoke.Run(ctx, smoke.Config{}, io.Discard); err == nil {
			t.Error("Run without a base URL succeeded")
		}
	})
}

// TestAnEdgeOptimizedEndpointFails: an API answering through CloudFront on
// its execute-api host is edge-optimized, and the check says so.
func TestAnEdgeOptimizedEndpointFails(t *testing.T) {
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Via", "1.1 0123456789abcdef.cloudfront.net (CloudFront)")
		w.Header().Set("X-Amz-Cf-Id", "abc")
		w.WriteHeader(401)
	}))
	t.Cleanup(edge.Close)
	// Every host resolves to the test server, as the API's would to CloudFront.
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, edge.Listener.Addr().String())
	}}}
	var out strings.Builder
	err := smoke.Run(context.Background(), smoke.Config{BaseURL: "http://abc123.execute-api.us-east-1.amazonaws.com/v1", ManagementKey: "k", HTTP: client}, &out)
	if err == nil || !strings.Contains(out.String(), "FAIL the endpoint is Regional, not edge-optimized: the answer came through CloudFront") {
		t.Errorf("Run = %v\n%s", err, out.String())
	}
}
