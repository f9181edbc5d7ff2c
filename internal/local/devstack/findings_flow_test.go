package devstack_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/localstack"
	"github.com/aistats/edge/pkg/adapter/webhook"
	"github.com/aistats/edge/pkg/domain/findings"
)

func send(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// Through the local stack, as a person would: a webhook receiver on this
// machine is set, a key is reported leaked on the route with no
// authorizer, its next request is refused 401, and the receiver gets the
// leaked_key finding with a signature that verifies.
func TestLeakedKeyReportThroughTheLocalStack(t *testing.T) {
	stack := localstack.StartAtNoon(t, t.TempDir())
	base, mk := stack.Credentials.BaseURL, stack.Credentials.ManagementKey

	var mu sync.Mutex
	var got []findings.Event
	verified := 0
	secret := ""
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute) == nil {
			verified++
		}
		var ev findings.Event
		_ = json.Unmarshal(body, &ev)
		got = append(got, ev)
	}))
	defer rcv.Close()

	status, out := send(t, "PUT", base+"/webhook", mk, `{"url":"`+rcv.URL+`/aistats"}`)
	data, _ := out["data"].(map[string]any)
	mu.Lock()
	secret, _ = data["secret"].(string)
	mu.Unlock()
	if status != 200 || secret == "" {
		t.Fatalf("PUT /webhook: %d %v", status, out)
	}
	status, out = send(t, "POST", base+"/keys", mk, `{"name":"about to leak"}`)
	data, _ = out["data"].(map[string]any)
	key, _ := data["key"].(string)
	if status != 201 {
		t.Fatalf("create key: %d %v", status, out)
	}
	if status, _ := send(t, "GET", base+"/models", key, ""); status != 200 {
		t.Fatalf("the new key: %d", status)
	}

	if status, out := send(t, "POST", base+"/security/report-leaked-key", "", `{"key":"`+key+`"}`); status != 202 {
		t.Fatalf("report: %d %v", status, out)
	}
	status, out = send(t, "GET", base+"/models", key, "")
	if e, _ := out["error"].(map[string]any); status != 401 || e["code"] != "key_revoked" {
		t.Errorf("the reported key's next request: %d %v; want 401 key_revoked", status, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || verified != 1 || got[0].Data.Type != findings.LeakedKey || got[0].Data.KID != data["kid"] {
		t.Errorf("receiver got %d deliveries, %d verified: %+v", len(got), verified, got)
	}
}
