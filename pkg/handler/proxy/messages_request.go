package proxy

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// This file translates an Anthropic Messages request into a chat
// completions request, for providers that speak only the OpenAI wire format
// (docs/architecture.md §7, "Anthropic Messages"). What chat completions
// cannot express (server tools, documents) is refused 400 naming the part,
// never dropped in silence; what only tunes Anthropic's own serving
// (top_k, thinking budgets, cache_control) is left out.

// anthropicBlock is one content block of a message or a system prompt.
type anthropicBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
	// tool_use
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
	// tool_result
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
	// image
	Source *struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
	} `json:"source"`
}

// anthropicRequest is the part of a Messages request the translation reads.
type anthropicRequest struct {
	MaxTokens *int64          `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	StopSequences []string        `json:"stop_sequences"`
	Temperature   json.RawMessage `json:"temperature"`
	TopP          json.RawMessage `json:"top_p"`
	Stream        bool            `json:"stream"`
	Metadata      struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
	Tools []struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	ToolChoice *struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	} `json:"tool_choice"`
}

// chatMessage is one message of a chat completions request.
type chatMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func invalidMessages(param, format string, args ...any) error {
	e := gateway.Errorf(gateway.CodeValidationError, format, args...)
	e.Param = param
	return e
}

// blocks reads content that is a string or a list of blocks.
func blocks(raw json.RawMessage, param string) ([]anthropicBlock, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anthropicBlock{{Type: "text", Text: s}}, nil
	}
	var out []anthropicBlock
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, invalidMessages(param, "%s must be a string or a list of content blocks.", param)
	}
	return out, nil
}

// toChatRequest translates a Messages request body into a chat completions
// body for model. A stream asks for usage in its last chunk.
func toChatRequest(raw map[string]json.RawMessage, model string) ([]byte, error) {
	full, _ := json.Marshal(raw)
	var req anthropicRequest
	if err := json.Unmarshal(full, &req); err != nil {
		return nil, invalidMessages("messages", "The request does not follow the Messages API: %s", clipTo(err.Error(), 200))
	}
	if req.MaxTokens == nil {
		return nil, invalidMessages("max_tokens", "max_tokens is required.")
	}
	if len(req.Messages) == 0 {
		return nil, invalidMessages("messages", "messages must hold at least one message.")
	}
	var messages []chatMessage
	system, err := blocks(req.System, "system")
	if err != nil {
		return nil, err
	}
	if text := joinText(system); text != "" {
		messages = append(messages, chatMessage{Role: "system", Content: text})
	}
	for i, m := range req.Messages {
		param := "messages." + strconv.Itoa(i) + ".content"
		bs, err := blocks(m.Content, param)
		if err != nil {
			return nil, err
		}
		switch m.Role {
		case "user":
			translated, err := userMessages(bs, param)
			if err != nil {
				return nil, err
			}
			messages = append(messages, translated...)
		case "assistant":
			msg, err := assistantMessage(bs, param)
			if err != nil {
				return nil, err
			}
			messages = append(messages, msg)
		default:
			return nil, invalidMessages("messages."+strconv.Itoa(i)+".role", "A message's role is user or assistant.")
		}
	}

	out := map[string]any{"model": model, "messages": messages, "max_tokens": *req.MaxTokens}
	if len(req.StopSequences) > 0 {
		out["stop"] = req.StopSequences
	}
	if len(req.Temperature) > 0 {
		out["temperature"] = req.Temperature
	}
	if len(req.TopP) > 0 {
		out["top_p"] = req.TopP
	}
	if req.Metadata.UserID != "" {
		out["user"] = req.Metadata.UserID
	}
	if req.Stream {
		out["stream"] = true
		out["stream_options"] = map[string]bool{"include_usage": true}
	}
	if len(req.Tools) > 0 {
		tools := make([]any, 0, len(req.Tools))
		for i, t := range req.Tools {
			if t.Type != "" && t.Type != "custom" {
				return nil, invalidMessages("tools."+strconv.Itoa(i), "The tool type %s runs on Anthropic's servers; this model's provider cannot run it.", clip(t.Type))
			}
			fn := map[string]any{"name": t.Name, "parameters": t.InputSchema}
			if t.Description != "" {
				fn["description"] = t.Description
			}
			tools = append(tools, map[string]any{"type": "function", "function": fn})
		}
		out["tools"] = tools
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto", "":
			out["tool_choice"] = "auto"
		case "any":
			out["tool_choice"] = "required"
		case "none":
			out["tool_choice"] = "none"
		case "tool":
			out["tool_choice"] = map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}}
		default:
			return nil, invalidMessages("tool_choice", "tool_choice type %s is not one of auto, any, tool, none.", clip(tc.Type))
		}
		if tc.DisableParallelToolUse && len(req.Tools) > 0 {
			out["parallel_tool_calls"] = false
		}
	}
	return json.Marshal(out)
}

// userMessages translates a user turn. Its tool results become tool
// messages, which chat completions wants right after the assistant's tool
// calls, so they come first; the rest stays one user message.
func userMessages(bs []anthropicBlock, param string) ([]chatMessage, error) {
	var out []chatMessage
	var parts []map[string]any
	for _, b := range bs {
		switch b.Type {
		case "text":
			parts = append(parts, map[string]any{"type": "text", "text": b.Text})
		case "image":
			if b.Source == nil {
				return nil, invalidMessages(param, "An image block needs a source.")
			}
			url := b.Source.URL
			if b.Source.Type == "base64" {
				url = "data:" + b.Source.MediaType + ";base64," + b.Source.Data
			}
			parts = append(parts, map[string]any{"type": "image_url", "image_url": map[string]string{"url": url}})
		case "tool_result":
			inner, err := blocks(b.Content, param)
			if err != nil {
				return nil, err
			}
			text := joinText(inner)
			if b.IsError {
				text = "Error: " + text
			}
			out = append(out, chatMessage{Role: "tool", ToolCallID: b.ToolUseID, Content: text})
		default:
			return nil, invalidMessages(param, "A %s block cannot be sent to this model's provider.", clip(b.Type))
		}
	}
	switch {
	case len(parts) == 0:
	case len(parts) == 1 && parts[0]["type"] == "text":
		out = append(out, chatMessage{Role: "user", Content: parts[0]["text"]})
	default:
		out = append(out, chatMessage{Role: "user", Content: parts})
	}
	return out, nil
}

// assistantMessage translates an assistant turn: its text, and its tool
// uses as tool calls. Thinking blocks are Anthropic's own and are left out.
func assistantMessage(bs []anthropicBlock, param string) (chatMessage, error) {
	msg := chatMessage{Role: "assistant"}
	var text strings.Builder
	for _, b := range bs {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			call := chatToolCall{ID: b.ID, Type: "function"}
			call.Function.Name = b.Name
			call.Function.Arguments = string(b.Input)
			if call.Function.Arguments == "" {
				call.Function.Arguments = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, call)
		case "thinking", "redacted_thinking":
		default:
			return chatMessage{}, invalidMessages(param, "A %s block cannot be sent to this model's provider.", clip(b.Type))
		}
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		msg.Content = text.String()
	}
	return msg, nil
}

// joinText is the text of a list of blocks.
func joinText(bs []anthropicBlock) string {
	var b strings.Builder
	for _, x := range bs {
		if x.Type == "text" {
			b.WriteString(x.Text)
		}
	}
	return b.String()
}
