package providers

import "testing"

func TestDefaultRegistry(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"openai", "groq", "mistral", "together", "deepseek", "openrouter", "anthropic", "gemini", "local"} {
		if _, ok := r.Provider(id); !ok {
			t.Errorf("registry lacks provider %s", id)
		}
	}
	cases := []struct{ name, want string }{
		{"openai/gpt-4o", "openai/gpt-4o"},
		{"gpt-4o", "openai/gpt-4o"},
		{"openrouter/openai/gpt-4o-mini", "openrouter/openai/gpt-4o-mini"},
		{"local/echo", "local/echo"},
		{"echo", "local/echo"},
	}
	for _, tc := range cases {
		got, ok := r.Resolve(tc.name)
		if !ok || got.Name != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.name, got.Name, ok, tc.want)
		}
	}
	for _, unknown := range []string{"", "nope", "openai/nope", "nope/gpt-4o"} {
		if _, ok := r.Resolve(unknown); ok {
			t.Errorf("Resolve(%q) succeeded, want not found", unknown)
		}
	}
	if m, _ := r.Resolve("gpt-4o-mini"); m.Fallback != "openrouter/openai/gpt-4o-mini" {
		t.Errorf("gpt-4o-mini fallback = %q", m.Fallback)
	}
}

func TestParseRejectsBadRegistries(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":          `{`,
		"http base url":     `{"providers":[{"id":"x","base_url":"http://x","auth":"bearer","models":[]}]}`,
		"duplicate":         `{"providers":[{"id":"x","base_url":"https://x","auth":"bearer"},{"id":"x","base_url":"https://x","auth":"bearer"}]}`,
		"unknown auth":      `{"providers":[{"id":"x","base_url":"https://x","auth":"magic"}]}`,
		"unknown api":       `{"providers":[{"id":"x","base_url":"https://x","auth":"bearer","apis":["soap"]}]}`,
		"dangling fallback": `{"providers":[{"id":"x","base_url":"https://x","auth":"bearer","models":[{"id":"m","fallback":"y/z"}]}]}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestWhoSpeaksWhat: the registry marks which providers serve the Anthropic
// Messages API natively and which the OpenAI Responses API (issue 16).
func TestWhoSpeaksWhat(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		provider string
		api      API
		want     bool
	}{
		{"openai", APIChat, true}, {"openai", APIResponses, true}, {"openai", APIMessages, false},
		{"openrouter", APIResponses, true}, {"groq", APIResponses, false}, {"groq", APIChat, true},
		{"anthropic", APIMessages, true}, {"anthropic", APIResponses, false},
		{"gemini", APIChat, true}, {"gemini", APIMessages, false},
		{"local", APIResponses, true}, {"local", APIMessages, false},
	} {
		p, _ := r.Provider(tc.provider)
		if got := p.Speaks(tc.api); got != tc.want {
			t.Errorf("%s speaks %s = %v, want %v", tc.provider, tc.api, got, tc.want)
		}
	}
	if p, _ := r.Provider("anthropic"); p.Auth != AuthXAPIKey || p.Headers["anthropic-version"] == "" {
		t.Errorf("anthropic sends its key as %s with headers %v, want x-api-key and anthropic-version", p.Auth, p.Headers)
	}
}
