package proxy

import (
	"encoding/json"
	"testing"
)

func TestUsageOfEveryWireFormat(t *testing.T) {
	for name, tc := range map[string]struct {
		raw                    string
		prompt, output, cached int64
	}{
		"chat completions":     {`{"prompt_tokens":10,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":6}}`, 10, 4, 6},
		"chat without details": {`{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}`, 10, 4, 0},
		"openai responses":     {`{"input_tokens":10,"output_tokens":4,"input_tokens_details":{"cached_tokens":6},"total_tokens":14}`, 10, 4, 6},
		// Anthropic's input_tokens leave out what was read from or
		// written to the cache; all of it was billed as prompt.
		"anthropic messages":      {`{"input_tokens":3,"cache_read_input_tokens":6,"cache_creation_input_tokens":1,"output_tokens":4}`, 10, 4, 6},
		"anthropic without cache": {`{"input_tokens":10,"output_tokens":4}`, 10, 4, 0},
	} {
		t.Run(name, func(t *testing.T) {
			var u usage
			if err := json.Unmarshal([]byte(tc.raw), &u); err != nil {
				t.Fatal(err)
			}
			if u.PromptTokens != tc.prompt || u.CompletionTokens != tc.output || u.PromptTokensDetails.CachedTokens != tc.cached {
				t.Errorf("got %+v, want prompt %d, output %d, cached %d", u, tc.prompt, tc.output, tc.cached)
			}
		})
	}
}
