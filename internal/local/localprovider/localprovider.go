package localprovider

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultSlowFirstToken is how long the model slow thinks before its first
// token: longer than the 30 s after which an edge-optimized API Gateway
// drops a silent stream, so the local stack shows what keeps a stream alive.
const DefaultSlowFirstToken = 35 * time.Second

// Config configures the provider.
type Config struct {
	// SlowFirstToken is the silence of model slow before its first token
	// (after its headers, when streaming); zero means DefaultSlowFirstToken.
	SlowFirstToken time.Duration
}

// Handler returns the provider's HTTP handler, rooted at /v1, with the
// default Config.
func Handler() http.Handler { return New(Config{}) }

// New returns the provider's HTTP handler, rooted at /v1. Its models: echo
// answers at once; slow answers the same after SlowFirstToken of silence,
// like a reasoning model.
func New(cfg Config) http.Handler {
	if cfg.SlowFirstToken <= 0 {
		cfg.SlowFirstToken = DefaultSlowFirstToken
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { chat(w, r, cfg) })
	mux.HandleFunc("POST /v1/embeddings", embeddings)
	store := &responseStore{byID: map[string]map[string]any{}}
	mux.HandleFunc("POST /v1/responses", func(w http.ResponseWriter, r *http.Request) { store.create(w, r) })
	mux.HandleFunc("GET /v1/responses/{id}", func(w http.ResponseWriter, r *http.Request) { store.get(w, r) })
	mux.HandleFunc("POST /v1/moderations", moderations)
	mux.HandleFunc("POST /v1/images/generations", images)
	mux.HandleFunc("POST /v1/audio/speech", speech)
	mux.HandleFunc("POST /v1/audio/transcriptions", transcriptions)
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": "echo", "object": "model", "owned_by": "local"},
			map[string]any{"id": "slow", "object": "model", "owned_by": "local"}}})
	})
	return mux
}

type chatRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools         []tool `json:"tools"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int `json:"max_tokens"`
	MaxCompletionTokens int `json:"max_completion_tokens"`
}

// maxEchoWords is echo's largest answer, in words (its tokens): the
// registry's max_output_tokens for local/echo, so that the gateway's worst
// case for a request without max_tokens is a true bound here too.
const maxEchoWords = 256

// capWords cuts an answer at the request's max_tokens (each word is one
// token here), and at maxEchoWords, as a model stops at its limit.
func capWords(s string, req chatRequest) string {
	limit := maxEchoWords
	for _, m := range []int{req.MaxTokens, req.MaxCompletionTokens} {
		if m > 0 && m < limit {
			limit = m
		}
	}
	words := strings.Fields(s)
	if len(words) <= limit {
		return s
	}
	return strings.Join(words[:limit], " ")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, 400, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "code": nil, "param": nil}})
}

// text reads a message content: a string or a list of text parts.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

func tokens(s string) int64 { return int64(len(strings.Fields(s))) }

func chat(w http.ResponseWriter, r *http.Request, cfg Config) {
	var req chatRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if !knownModel(w, req.Model, "echo", "slow") {
		return
	}
	var prompt, last, lastRole string
	for _, m := range req.Messages {
		t := text(m.Content)
		prompt += t + " "
		if m.Role == "user" || m.Role == "tool" {
			last = t
		}
		lastRole = m.Role
	}
	last = capWords(last, req)
	// With tools, a user's turn is answered with a call to the first tool,
	// and the tool's result is echoed back: a deterministic tool-use round
	// trip.
	var calls []toolCall
	if len(req.Tools) > 0 && lastRole == "user" {
		calls = []toolCall{req.Tools[0].call(last)}
	}
	id := fmt.Sprintf("chatcmpl-local-%d", time.Now().UnixNano())
	created := time.Now().Unix()
	usage := map[string]any{"prompt_tokens": tokens(prompt), "completion_tokens": tokens(last), "total_tokens": tokens(prompt) + tokens(last)}
	// think is the silence before the first token of model slow; false when
	// the client went away meanwhile.
	think := func() bool {
		if req.Model != "slow" {
			return true
		}
		t := time.NewTimer(cfg.SlowFirstToken)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-r.Context().Done():
			return false
		}
	}
	if !req.Stream {
		if !think() {
			return
		}
		message := map[string]any{"role": "assistant", "content": last}
		finish := "stop"
		if calls != nil {
			message = map[string]any{"role": "assistant", "content": nil, "tool_calls": calls}
			finish = "tool_calls"
		}
		writeJSON(w, 200, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "message": message, "finish_reason": finish}},
			"usage":   usage,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush() // the headers at once, as providers send them, then silence
	}
	if !think() {
		return
	}
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	if calls != nil {
		// The call's name first, then its arguments in two fragments, as
		// providers stream them.
		c := calls[0]
		args := c.Function.Arguments
		send(chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": c.ID, "type": "function",
			"function": map[string]any{"name": c.Function.Name, "arguments": ""}}}}, nil))
		for _, piece := range []string{args[:len(args)/2], args[len(args)/2:]} {
			send(chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": piece}}}}, nil))
		}
		send(chunk(map[string]any{}, "tool_calls"))
	} else {
		for _, piece := range splitWords(last) {
			send(chunk(map[string]any{"content": piece}, nil))
		}
		send(chunk(map[string]any{}, "stop"))
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model, "choices": []any{}, "usage": usage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

// splitWords cuts s into word-sized pieces that join back to s exactly.
func splitWords(s string) []string {
	var out []string
	start := 0
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' {
			out = append(out, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func embeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	inputs, ok := stringOrList(req.Input)
	if !ok {
		badRequest(w, "input must be a string or a list of strings")
		return
	}
	var data []any
	var total int64
	for i, in := range inputs {
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": vector(in)})
		total += tokens(in)
	}
	writeJSON(w, 200, map[string]any{"object": "list", "data": data, "model": "echo",
		"usage": map[string]any{"prompt_tokens": total, "total_tokens": total}})
}

// vector is a deterministic unit-free 8-dimensional embedding of s.
func vector(s string) []float64 {
	sum := sha256.Sum256([]byte(s))
	v := make([]float64, 8)
	for i := range v {
		v[i] = float64(binary.BigEndian.Uint32(sum[i*4:]))/float64(1<<32)*2 - 1
	}
	return v
}

// stringOrList reads an input that is a string or a list of strings.
func stringOrList(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var list []string
	return list, json.Unmarshal(raw, &list) == nil
}
