package proxy

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// This file translates a chat completions answer into an Anthropic Messages
// answer, and any error body into Anthropic's error shape.

// chatCompletion is the part of a chat completions answer the translation
// reads.
type chatCompletion struct {
	ID      string `json:"id"`
	Choices []struct {
		Message struct {
			Content   *string        `json:"content"`
			ToolCalls []chatToolCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// anthropicUsage is usage in Anthropic's terms: input_tokens leave out the
// prompt tokens read from the cache, which are counted apart.
type anthropicUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
}

func toAnthropicUsage(u usage) anthropicUsage {
	cached := u.PromptTokensDetails.CachedTokens
	return anthropicUsage{InputTokens: u.PromptTokens - cached, OutputTokens: u.CompletionTokens, CacheReadInputTokens: cached}
}

// stopReason maps a chat finish_reason to Anthropic's stop_reason. A stop
// sequence and the natural end are both "stop" in chat completions, so both
// become end_turn.
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// messageID gives a translated answer an id of Anthropic's form.
func messageID(chatID string) string {
	if strings.HasPrefix(chatID, "msg_") {
		return chatID
	}
	return "msg_" + strings.TrimPrefix(chatID, "chatcmpl-")
}

// toAnthropicMessage translates a chat completion into a Message, named
// model as the client asked for it.
func toAnthropicMessage(raw []byte, model string) ([]byte, error) {
	var cc chatCompletion
	if err := json.Unmarshal(raw, &cc); err != nil || len(cc.Choices) == 0 {
		return nil, gateway.Errorf(gateway.CodeUpstreamError, "The provider's answer is not a chat completion.")
	}
	choice := cc.Choices[0]
	content := []any{}
	if t := choice.Message.Content; t != nil && *t != "" {
		content = append(content, map[string]string{"type": "text", "text": *t})
	}
	for _, call := range choice.Message.ToolCalls {
		input := json.RawMessage(call.Function.Arguments)
		if !json.Valid(input) {
			// A model that wrote broken JSON: Anthropic's input is an
			// object, so the text is kept where the client can see it.
			input, _ = json.Marshal(map[string]string{"_raw_arguments": call.Function.Arguments})
		}
		content = append(content, map[string]any{"type": "tool_use", "id": call.ID, "name": call.Function.Name, "input": input})
	}
	var u usage
	if cc.Usage != nil {
		u = *cc.Usage
	}
	return json.Marshal(map[string]any{
		"id": messageID(cc.ID), "type": "message", "role": "assistant", "model": model, "content": content,
		"stop_reason": stopReason(choice.FinishReason), "stop_sequence": nil, "usage": toAnthropicUsage(u),
	})
}

// anthropicErrorType is Anthropic's error type for an HTTP status, which is
// what its SDKs branch on.
func anthropicErrorType(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return "invalid_request_error"
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusPaymentRequired:
		return "billing_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusConflict:
		return "conflict_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusGatewayTimeout:
		return "timeout_error"
	case status == http.StatusServiceUnavailable || status == 529:
		return "overloaded_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

// toAnthropicError rewrites an error body into Anthropic's shape,
// {"type":"error","error":{"type","message"}}, keeping our code and param
// and the request id beside them (Anthropic's SDKs ignore what they do not
// know). The type follows the status, as Anthropic's own does. A body in
// neither shape is wrapped whole as the message.
func toAnthropicError(status int, raw []byte) []byte {
	var in struct {
		Error     json.RawMessage `json:"error"`
		RequestID string          `json:"request_id,omitempty"`
	}
	detail := map[string]any{}
	if json.Unmarshal(raw, &in) == nil && len(in.Error) > 0 {
		if json.Unmarshal(in.Error, &detail) != nil {
			var s string
			_ = json.Unmarshal(in.Error, &s)
			detail = map[string]any{"message": s}
		}
	}
	if _, ok := detail["message"].(string); !ok {
		detail["message"] = clipTo(strings.TrimSpace(string(raw)), 1024)
	}
	detail["type"] = anthropicErrorType(status)
	out := map[string]any{"type": "error", "error": detail}
	if in.RequestID != "" {
		out["request_id"] = in.RequestID
	}
	b, _ := json.Marshal(out)
	return b
}
