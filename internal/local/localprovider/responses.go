package localprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// responseStore serves OpenAI's Responses API for model echo: the output is
// the last user input, and a stored response can be read back by id, as
// from a provider that keeps state. It holds what it served for the life of
// the process: the local stack is short-lived.
type responseStore struct {
	mu   sync.Mutex
	n    int
	byID map[string]map[string]any
}

type responsesRequest struct {
	Model        string          `json:"model"`
	Input        json.RawMessage `json:"input"`
	Instructions string          `json:"instructions"`
	Stream       bool            `json:"stream"`
	Store        *bool           `json:"store"`
}

// lastInput is the text of the last user input: a string, or the last user
// message among the input items.
func lastInput(raw json.RawMessage) (last, all string) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s
	}
	var items []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(raw, &items)
	for _, it := range items {
		t := text(it.Content)
		all += t + " "
		if it.Role == "user" {
			last = t
		}
	}
	return last, all
}

func (st *responseStore) create(w http.ResponseWriter, r *http.Request) {
	var req responsesRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if !knownModel(w, req.Model, "echo") {
		return
	}
	last, all := lastInput(req.Input)
	st.mu.Lock()
	st.n++
	id := fmt.Sprintf("resp_local_%d_%d", time.Now().UnixNano(), st.n)
	st.mu.Unlock()
	msgID := "msg_" + strings.TrimPrefix(id, "resp_")
	in, out := tokens(req.Instructions+" "+all), tokens(last)
	part := map[string]any{"type": "output_text", "text": last, "annotations": []any{}}
	item := map[string]any{"type": "message", "id": msgID, "status": "completed", "role": "assistant", "content": []any{part}}
	resp := map[string]any{
		"id": id, "object": "response", "created_at": time.Now().Unix(), "status": "completed", "model": req.Model,
		"output": []any{item}, "parallel_tool_calls": true, "tool_choice": "auto", "tools": []any{},
		"usage": map[string]any{"input_tokens": in, "output_tokens": out, "total_tokens": in + out,
			"input_tokens_details": map[string]any{"cached_tokens": 0}, "output_tokens_details": map[string]any{"reasoning_tokens": 0}},
	}
	if req.Store == nil || *req.Store {
		st.mu.Lock()
		st.byID[id] = resp
		st.mu.Unlock()
	}
	if !req.Stream {
		writeJSON(w, 200, resp)
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	flusher, _ := w.(http.Flusher)
	seq := 0
	send := func(typ string, fields map[string]any) {
		fields["type"], fields["sequence_number"] = typ, seq
		seq++
		b, _ := json.Marshal(fields)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	pending := map[string]any{}
	for k, v := range resp {
		pending[k] = v
	}
	pending["status"], pending["output"], pending["usage"] = "in_progress", []any{}, nil
	send("response.created", map[string]any{"response": pending})
	send("response.in_progress", map[string]any{"response": pending})
	send("response.output_item.added", map[string]any{"output_index": 0,
		"item": map[string]any{"type": "message", "id": msgID, "status": "in_progress", "role": "assistant", "content": []any{}}})
	send("response.content_part.added", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0,
		"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}})
	for _, piece := range splitWords(last) {
		send("response.output_text.delta", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []any{}})
	}
	send("response.output_text.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "text": last, "logprobs": []any{}})
	send("response.content_part.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": part})
	send("response.output_item.done", map[string]any{"output_index": 0, "item": item})
	send("response.completed", map[string]any{"response": resp})
}

func (st *responseStore) get(w http.ResponseWriter, r *http.Request) {
	st.mu.Lock()
	resp, ok := st.byID[r.PathValue("id")]
	st.mu.Unlock()
	if !ok {
		writeJSON(w, 404, map[string]any{"error": map[string]any{"message": "No response with that id.", "type": "invalid_request_error", "code": nil, "param": nil}})
		return
	}
	writeJSON(w, 200, resp)
}
