package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// messagesStream translates a chat completions SSE stream into the event
// stream of Anthropic's Messages API as it is read: message_start, then
// per content block content_block_start, content_block_delta…,
// content_block_stop, then message_delta (stop reason, usage) and
// message_stop. A text delta opens a text block; each tool call opens a
// tool_use block whose argument fragments go out as input_json_delta.
//
// The closing events wait for the provider's [DONE], after its usage
// chunk, so that message_delta carries the real counts. A stream that ends
// without [DONE] or a finish reason broke off: Read returns
// io.ErrUnexpectedEOF and the relay ends the stream with an error event,
// rather than closing it as if the answer were whole.
type messagesStream struct {
	upstream io.ReadCloser
	lines    *bufio.Reader
	model    string
	out      bytes.Buffer
	err      error

	started  bool
	finished bool // the closing events went out
	id       string
	// open is the index of the open content block, or -1.
	open int
	next int
	// toolBlocks maps a chat tool call index to its content block.
	toolBlocks map[int]int
	finish     string
	usage      usage
	sawUsage   bool
}

func newMessagesStream(upstream io.ReadCloser, model string) *messagesStream {
	return &messagesStream{upstream: upstream, lines: bufio.NewReaderSize(upstream, 16<<10), model: model, open: -1, toolBlocks: map[int]int{}}
}

// chatChunk is the part of a chat completions chunk the translation reads.
type chatChunk struct {
	ID      string `json:"id"`
	Choices []struct {
		Delta struct {
			Content   *string `json:"content"`
			ToolCalls []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (m *messagesStream) Read(p []byte) (int, error) {
	for m.out.Len() == 0 {
		if m.err != nil {
			return 0, m.err
		}
		line, err := m.lines.ReadBytes('\n')
		if len(line) > 0 {
			m.line(bytes.TrimSpace(line))
		}
		if err != nil && m.err == nil {
			switch {
			case !errors.Is(err, io.EOF):
				m.err = err
			case m.finished:
				m.err = io.EOF
			case m.finish != "":
				// Finished but without [DONE]: some providers stop there.
				m.end()
				m.err = io.EOF
			default:
				m.err = io.ErrUnexpectedEOF
			}
		}
	}
	return m.out.Read(p)
}

// Close closes the upstream body.
func (m *messagesStream) Close() error { return m.upstream.Close() }

func (m *messagesStream) line(line []byte) {
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok || m.finished {
		return
	}
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("[DONE]")) {
		m.end()
		return
	}
	var c chatChunk
	if json.Unmarshal(data, &c) != nil {
		return
	}
	if len(c.Error) > 0 {
		// The provider failed mid-stream: tell it the Anthropic way and stop.
		m.event("error", json.RawMessage(toAnthropicError(500, data)))
		m.finished = true
		return
	}
	m.start(c.ID)
	if c.Usage != nil {
		m.usage, m.sawUsage = *c.Usage, true
	}
	for _, choice := range c.Choices {
		d := choice.Delta
		if d.Content != nil && *d.Content != "" {
			if m.open < 0 || m.isTool(m.open) {
				m.openBlock(map[string]any{"type": "text", "text": ""})
			}
			m.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": m.open,
				"delta": map[string]string{"type": "text_delta", "text": *d.Content}})
		}
		for _, tc := range d.ToolCalls {
			block, known := m.toolBlocks[tc.Index]
			if !known {
				m.openBlock(map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": map[string]any{}})
				block = m.open
				m.toolBlocks[tc.Index] = block
			}
			if tc.Function.Arguments != "" {
				m.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": block,
					"delta": map[string]string{"type": "input_json_delta", "partial_json": tc.Function.Arguments}})
			}
		}
		if choice.FinishReason != nil && *choice.FinishReason != "" {
			m.finish = *choice.FinishReason
			m.closeBlock()
		}
	}
}

func (m *messagesStream) isTool(block int) bool {
	for _, b := range m.toolBlocks {
		if b == block {
			return true
		}
	}
	return false
}

func (m *messagesStream) start(chatID string) {
	if m.started {
		return
	}
	m.started = true
	m.id = messageID(chatID)
	m.event("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": m.id, "type": "message", "role": "assistant", "model": m.model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": anthropicUsage{}}})
}

func (m *messagesStream) openBlock(block map[string]any) {
	m.closeBlock()
	m.open = m.next
	m.next++
	m.event("content_block_start", map[string]any{"type": "content_block_start", "index": m.open, "content_block": block})
}

func (m *messagesStream) closeBlock() {
	if m.open < 0 {
		return
	}
	m.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": m.open})
	m.open = -1
}

// end sends the closing events, with the usage the provider reported.
func (m *messagesStream) end() {
	if m.finished {
		return
	}
	m.start("")
	m.closeBlock()
	m.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stopReason(m.finish), "stop_sequence": nil}, "usage": toAnthropicUsage(m.usage)})
	m.event("message_stop", map[string]string{"type": "message_stop"})
	m.finished = true
}

func (m *messagesStream) event(name string, v any) {
	data, _ := json.Marshal(v)
	m.out.WriteString("event: ")
	m.out.WriteString(name)
	m.out.WriteString("\ndata: ")
	m.out.Write(data)
	m.out.WriteString("\n\n")
}
