package proxy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEstimateTokensCountsLikeABPETokenizer(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int64
	}{
		{"", 0},
		{"Hello, world!", 4}, // Hello , world !
		{"The quick brown fox jumps over the lazy dog.", 10}, // nine words and the period
		{"internationalization", 4},                          // 20 letters: one token, then one per five more
		{"1234567", 3},                                       // digits in groups of three
		{"日本語のテキスト", 8},                                      // a token per character
		{`line one\nline two`, 5},                            // escaped text as relayed: \ is a token, n joins the next word
	} {
		if got := estimateTokens([]byte(tc.text)); got != tc.want {
			t.Errorf("estimateTokens(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
}

func TestDeltaContentReadsTheChunkWithoutDecodingIt(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{`{"choices":[{"delta":{"content":"one"}}]}`, "one"},
		{`{"choices":[{"delta":{"content" : "say \"hi\""}}]}`, `say \"hi\"`},
		{`{"choices":[{"delta":{"role":"assistant","content":null}}]}`, ""},
		{`{"choices":[],"usage":{"prompt_tokens":5}}`, ""},
	} {
		if got := string(deltaContent([]byte(tc.data))); got != tc.want {
			t.Errorf("deltaContent(%s) = %q, want %q", tc.data, got, tc.want)
		}
	}
	for data, want := range map[string]bool{
		`{"usage":{"prompt_tokens":5}}`: true, `{"usage" : {}}`: true, `{"usage":null}`: false, `{"x":"usage"}`: false,
	} {
		if got := hasUsageObject([]byte(data)); got != want {
			t.Errorf("hasUsageObject(%s) = %v, want %v", data, got, want)
		}
	}
}

// A body of many small content parts is estimated in linear time: 150,000
// parts, about 4 MiB, took seconds when each part copied the text so far.
func BenchmarkEstimateManyParts(b *testing.B) {
	parts := strings.Repeat(`{"type":"text","text":"a"},`, 150_000)
	body := `{"messages":[{"role":"user","content":[` + parts[:len(parts)-1] + `]}]}`
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &fields); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if n := estimatePromptTokens(fields); n < 150_000/4 {
			b.Fatalf("estimated %d tokens for 150,000 parts", n)
		}
	}
}
