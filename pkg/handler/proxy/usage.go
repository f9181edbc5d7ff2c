package proxy

import "encoding/json"

// UnmarshalJSON reads a usage object in any of the wire formats the proxy
// relays, so that every route records tokens the same way:
//   - chat completions: prompt_tokens, completion_tokens,
//     prompt_tokens_details.cached_tokens;
//   - OpenAI Responses: input_tokens (cached ones included), output_tokens,
//     input_tokens_details.cached_tokens;
//   - Anthropic Messages: input_tokens (cache reads and writes excluded),
//     cache_read_input_tokens, cache_creation_input_tokens, output_tokens.
//
// The prompt is always every input token the provider billed, the cached
// part its cache reads.
func (u *usage) UnmarshalJSON(data []byte) error {
	var w struct {
		PromptTokens        *int64 `json:"prompt_tokens"`
		CompletionTokens    int64  `json:"completion_tokens"`
		PromptTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		InputTokens        int64 `json:"input_tokens"`
		OutputTokens       int64 `json:"output_tokens"`
		InputTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		CacheRead     *int64 `json:"cache_read_input_tokens"`
		CacheCreation *int64 `json:"cache_creation_input_tokens"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*u = usage{}
	switch {
	case w.PromptTokens != nil:
		u.PromptTokens, u.CompletionTokens = *w.PromptTokens, w.CompletionTokens
		u.PromptTokensDetails.CachedTokens = w.PromptTokensDetails.CachedTokens
	case w.CacheRead != nil || w.CacheCreation != nil:
		read, created := deref(w.CacheRead), deref(w.CacheCreation)
		u.PromptTokens, u.CompletionTokens = w.InputTokens+read+created, w.OutputTokens
		u.PromptTokensDetails.CachedTokens = read
	default:
		u.PromptTokens, u.CompletionTokens = w.InputTokens, w.OutputTokens
		u.PromptTokensDetails.CachedTokens = w.InputTokensDetails.CachedTokens
	}
	return nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
