package devstack_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/pkg/adapter/webhook"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

// TestTheDetectorFindsAGuessedKidAndAProbingKey is issue 12's done-when,
// through the local stack: 50 requests with a real kid and a wrong secret,
// and 30 for a model the key may not use, then one detector run (what
// `aistats detect --local` does) open an auth_failures and an
// access_denied_burst finding, which GET /v1/anomalies lists and a webhook
// receiver gets with a signature that verifies. A second run raises
// nothing new: an open finding is not raised twice.
func TestTheDetectorFindsAGuessedKidAndAProbingKey(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	base, mk := running.Credentials.BaseURL, running.Credentials.ManagementKey

	var mu sync.Mutex
	delivered := map[findings.Type]string{} // type → kid, of deliveries that verify
	secret := ""
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		var ev findings.Event
		if webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute) == nil &&
			json.Unmarshal(body, &ev) == nil {
			delivered[ev.Data.Type] = ev.Data.KID
		}
	}))
	defer rcv.Close()
	status, out := send(t, "PUT", base+"/webhook", mk, `{"url":"`+rcv.URL+`/hook"}`)
	data, _ := out["data"].(map[string]any)
	mu.Lock()
	secret, _ = data["secret"].(string)
	mu.Unlock()
	if status != 200 || secret == "" {
		t.Fatalf("PUT /webhook: %d %v", status, out)
	}

	create := func(body string) (kid, key string) {
		t.Helper()
		status, out := send(t, "POST", base+"/keys", mk, body)
		d, _ := out["data"].(map[string]any)
		if status != 201 {
			t.Fatalf("create key: %d %v", status, out)
		}
		return d["kid"].(string), d["key"].(string)
	}
	guessedKID, _ := create(`{"name":"guessed"}`)
	other, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		t.Fatal(err)
	}
	wrong := keyformat.WithChecksum(keyformat.Prefix(gateway.KindInference, guessedKID) + "_" + other.Token.Secret()[:keyformat.RandomLength])
	for range 50 {
		if status, _ := send(t, "GET", base+"/models", wrong, ""); status != 401 {
			t.Fatalf("a wrong secret answered %d", status)
		}
	}
	probingKID, probing := create(`{"name":"probing","models":["local/echo"]}`)
	for range 30 {
		if status, _ := send(t, "POST", base+"/chat/completions", probing, `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`); status != 403 {
			t.Fatalf("a model the key may not use answered %d", status)
		}
	}

	det, err := devstack.LocalDetector(devstack.Env{Client: dynalite.NewClient(running.DynamoDBEndpoint), Tables: devstack.Tables,
		Logger: slog.New(slog.DiscardHandler), Now: running.Now})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := det.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.New < 2 {
		t.Errorf("the run raised %d new findings: %+v", rep.New, rep.Findings)
	}
	listed := func(kid string) []any {
		t.Helper()
		status, out := send(t, "GET", base+"/anomalies?status=open&kid="+kid, mk, "")
		if status != 200 {
			t.Fatalf("GET /anomalies: %d %v", status, out)
		}
		list, _ := out["data"].([]any)
		return list
	}
	for kid, want := range map[string]findings.Type{guessedKID: findings.AuthFailures, probingKID: findings.AccessDenied} {
		found := false
		for _, f := range listed(kid) {
			if f.(map[string]any)["type"] == string(want) {
				found = true
			}
		}
		if !found {
			t.Errorf("GET /anomalies?kid=%s lists no open %s: %v", kid, want, listed(kid))
		}
		mu.Lock()
		if delivered[want] != kid {
			t.Errorf("the webhook got no verified %s finding for %s (got %v)", want, kid, delivered)
		}
		mu.Unlock()
	}
	again, err := det.Run(t.Context())
	if err != nil || again.New != 0 {
		t.Errorf("a second run: %d new, %v; want the open findings not raised again", again.New, err)
	}
}
