package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// This file is the Anthropic Messages route (POST /v1/messages): passed
// through to a provider that speaks it (anthropic), translated to and from
// chat completions for every other (messages_request.go,
// messages_response.go, messages_stream.go). Errors on this route come in
// Anthropic's shape, so that Anthropic's SDKs raise their typed errors.

// adaptToMessages turns a chat completions answer into a Messages answer: a
// stream as it is read, a whole answer at once, an error body into
// Anthropic's shape.
func adaptToMessages(a upstreamAnswer, body requestBody, model string) upstreamAnswer {
	resp := a.resp
	if resp.StatusCode == http.StatusOK && body.stream {
		resp.Body = newMessagesStream(resp.Body, model)
		resp.Header.Set("Content-Type", "text/event-stream")
		return a
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody+1))
	resp.Body.Close()
	if err != nil {
		a.resp, a.err = nil, &gateway.Error{Code: gateway.CodeUpstreamError, Message: "The provider's answer broke off.", Err: err}
		return a
	}
	if resp.StatusCode == http.StatusOK {
		raw, err = toAnthropicMessage(raw, model)
		if err != nil {
			a.resp, a.err = nil, err
			return a
		}
	} else {
		raw = toAnthropicError(resp.StatusCode, raw)
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	resp.Header.Set("Content-Type", "application/json")
	resp.ContentLength = int64(len(raw))
	return a
}

// messagesDialect reads Anthropic's event stream, native or translated:
// prompt tokens come in message_start (and may be restated in
// message_delta), output tokens in message_delta, and message_stop ends the
// answer.
var messagesDialect = sseDialect{scan: scanMessages, errorBody: func(err error, requestID string) []byte {
	return toAnthropicError(gateway.HTTPStatus(gateway.ErrorCode(err)), gateway.MarshalErrorBody(err, requestID))
}}

// anthropicEventUsage is a usage object of a stream event, whose absent
// counts must not overwrite earlier ones.
type anthropicEventUsage struct {
	InputTokens   *int64 `json:"input_tokens"`
	OutputTokens  *int64 `json:"output_tokens"`
	CacheRead     *int64 `json:"cache_read_input_tokens"`
	CacheCreation *int64 `json:"cache_creation_input_tokens"`
}

func (e anthropicEventUsage) into(out *streamOutcome) {
	if e.InputTokens != nil || e.CacheRead != nil || e.CacheCreation != nil {
		read := deref(e.CacheRead)
		out.usage.PromptTokens = deref(e.InputTokens) + read + deref(e.CacheCreation)
		out.usage.PromptTokensDetails.CachedTokens = read
	}
	if e.OutputTokens != nil {
		out.usage.CompletionTokens = *e.OutputTokens
	}
}

func scanMessages(data []byte, out *streamOutcome) bool {
	var ev struct {
		Type    string `json:"type"`
		Message struct {
			Usage *anthropicEventUsage `json:"usage"`
		} `json:"message"`
		Usage *anthropicEventUsage `json:"usage"`
		Delta struct {
			Text        string `json:"text"`
			PartialJSON string `json:"partial_json"`
			Thinking    string `json:"thinking"`
		} `json:"delta"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return false
	}
	switch ev.Type {
	case "message_start":
		if ev.Message.Usage != nil {
			ev.Message.Usage.into(out)
		}
	case "message_delta":
		if ev.Usage != nil {
			ev.Usage.into(out)
			out.sawUsage = true
		}
	case "content_block_delta":
		out.relayedTokens += estimateTokens([]byte(ev.Delta.Text)) + estimateTokens([]byte(ev.Delta.PartialJSON)) + estimateTokens([]byte(ev.Delta.Thinking))
	case "message_stop":
		return true
	}
	return false
}
