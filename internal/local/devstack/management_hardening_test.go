package devstack_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestManagementHardeningThroughTheLocalStack replays issue 11's attacks on
// the management API over HTTP through the API Gateway emulator, every
// exchange checked against api/openapi.yaml: retried and repeated
// rotations, forged cursors, a non-object body, and GET /v1/key counted in
// usage.
func TestManagementHardeningThroughTheLocalStack(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	c, _, _ := validatingClient(t, running.Credentials.BaseURL)
	mk := running.Credentials.ManagementKey

	// do sends a request with extra headers.
	do := func(method, path, body string, headers map[string]string) (int, map[string]any, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+mk)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m, resp.Header
	}
	code := func(body map[string]any) any {
		e, _ := body["error"].(map[string]any)
		return e["code"]
	}

	status, created, _ := c.do("POST", "/keys", mk, `{"name":"hardened"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, created)
	}
	kid := created["data"].(map[string]any)["kid"].(string)

	t.Run("rotation retried with an Idempotency-Key", func(t *testing.T) {
		idem := map[string]string{"Idempotency-Key": "e2e-rotation-1"}
		status, first, _ := do("POST", "/keys/"+kid+"/rotate", `{"previous_key_expires_in":600}`, idem)
		if status != 201 {
			t.Fatalf("rotate: %d %v", status, first)
		}
		successor := first["data"].(map[string]any)
		status, replay, h := do("POST", "/keys/"+kid+"/rotate", `{"previous_key_expires_in":600}`, idem)
		if status != 200 || replay["data"].(map[string]any)["kid"] != successor["kid"] || h.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: got %d %v (Idempotent-Replayed %q), want 200 naming %v", status, replay, h.Get("Idempotent-Replayed"), successor["kid"])
		}
		if _, ok := replay["data"].(map[string]any)["key"]; ok {
			t.Error("a replay returned key text")
		}
		status, again, _ := do("POST", "/keys/"+kid+"/rotate", `{}`, nil)
		if status != 409 || code(again) != "already_rotated" || !strings.Contains(toJSON(again), successor["kid"].(string)) {
			t.Errorf("second rotation: got %d %v, want 409 already_rotated naming %v", status, again, successor["kid"])
		}

		// GET /v1/key counts in the successor's usage, as it counts in its limits.
		newKey := successor["key"].(string)
		for range 2 {
			if status, body, _ := c.do("GET", "/key", newKey, ""); status != 200 {
				t.Fatalf("GET /key: %d %v", status, body)
			}
		}
		_, usage, _ := c.do("GET", "/keys/"+successor["kid"].(string)+"/usage?granularity=hour", mk, "")
		var requests float64
		for _, b := range usage["data"].([]any) {
			requests += b.(map[string]any)["requests"].(float64)
		}
		if requests != 2 {
			t.Errorf("usage after 2 × GET /v1/key: %v requests, want 2", requests)
		}
	})

	t.Run("forged cursors", func(t *testing.T) {
		forged := base64.RawURLEncoding.EncodeToString([]byte(`{"w":"demo","c":"` + strings.Repeat("9", 400) + `","k":"AAAAAAAAAAAA"}`))
		for _, path := range []string{"/keys", "/management-keys", "/audit-events"} {
			if status, body, _ := c.do("GET", path+"?cursor="+url.QueryEscape(forged), mk, ""); status != 400 || code(body) != "invalid_cursor" {
				t.Errorf("GET %s with a forged cursor: got %d %v, want 400 invalid_cursor", path, status, body)
			}
		}
	})

	t.Run("a body that is not an object", func(t *testing.T) {
		if status, body, _ := c.do("POST", "/keys", mk, `[]`); status != 400 || code(body) != "invalid_json" {
			t.Errorf("POST /keys []: got %d %v, want 400 invalid_json", status, body)
		}
	})
}
