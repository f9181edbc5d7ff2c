package devstack_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/domain/keyformat"
)

// TestNoSecretReachesTheLogs runs the local stack's flows (inference,
// streaming, management, refusals) and checks that no key secret appears in
// any log line, and that a key's text appears in no answer but the one
// that created it.
func TestNoSecretReachesTheLogs(t *testing.T) {
	running, _, logs, stop := startStackWithLogs(t, t.TempDir(), -1)
	defer stop()
	c := &apiClient{t: t, base: running.Credentials.BaseURL, http: http.DefaultClient}
	mk, sk := running.Credentials.ManagementKey, running.Credentials.APIKey
	var answers []string
	record := func(status int, body map[string]any, _ http.Header) {
		answers = append(answers, strings.TrimSpace(toJSON(body)))
	}

	status, created, _ := c.do("POST", "/keys", mk, `{"name":"secret test"}`)
	if status != 201 {
		t.Fatalf("create: %d", status)
	}
	newKey := created["data"].(map[string]any)["key"].(string)
	kid := created["data"].(map[string]any)["kid"].(string)
	chat := `{"model":"local/echo","messages":[{"role":"user","content":"hi"}]}`
	for _, key := range []string{sk, newKey} {
		record(c.do("POST", "/chat/completions", key, chat))
		record(c.do("POST", "/chat/completions", key, strings.Replace(chat, `"messages"`, `"stream":true,"messages"`, 1)))
		record(c.do("GET", "/key", key, ""))
		record(c.do("GET", "/keys", key, ""))                    // wrong kind
		record(c.do("POST", "/chat/completions", key+"x", chat)) // malformed
		record(c.do("POST", "/chat/completions", key[:len(key)-1]+"!", chat))
	}
	record(c.do("GET", "/keys/"+kid, mk, ""))
	record(c.do("GET", "/keys", mk, ""))
	record(c.do("GET", "/audit-events", mk, ""))
	record(c.do("POST", "/keys/"+kid+"/rotate", mk, `{"previous_key_expires_in":0}`))
	rotatedAnswer := answers[len(answers)-1]
	answers = answers[:len(answers)-1]
	record(c.do("POST", "/chat/completions", newKey, chat)) // revoked by the rotation

	for _, key := range []string{sk, mk, newKey} {
		tok, err := keyformat.Parse(key)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), tok.Secret()) {
			t.Errorf("the secret of %s is in the logs", tok.Prefix())
		}
		for _, a := range answers {
			if strings.Contains(a, tok.Secret()) {
				t.Errorf("the secret of %s came back in %s", tok.Prefix(), a)
			}
		}
	}
	if !strings.Contains(rotatedAnswer, "aistats_v1_sk_") {
		t.Error("the rotation's answer lacks the new key")
	}
	if n := strings.Count(logs.String(), `"msg":"authorize"`); n < len(answers) {
		t.Errorf("%d authorizer log lines for %d requests", n, len(answers))
	}
}
