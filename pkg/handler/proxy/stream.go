package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// usage is the token counts an upstream reports.
type usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// sseRelay passes an upstream SSE body through unchanged, as it arrives,
// while watching for the usage chunk. When the upstream fails mid-stream it
// ends the stream with an SSE error event. finish runs exactly once, when the
// stream ends or is closed (the client went away).
type sseRelay struct {
	upstream io.ReadCloser
	line     []byte
	usage    usage
	failed   bool
	// sawDone is set once the upstream's "data: [DONE]" has passed: the
	// answer is complete even if the client hangs up before the upstream's
	// EOF reaches us, as SDKs do as soon as they read the sentinel.
	sawDone bool
	pending []byte // an error event still to send
	done    bool
	once    sync.Once
	finish  func(u usage, failed bool)
	reqID   string
}

func (s *sseRelay) Read(p []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	if s.done {
		s.end()
		return 0, io.EOF
	}
	n, err := s.upstream.Read(p)
	if n > 0 {
		s.scan(p[:n])
	}
	if err != nil {
		s.done = true
		if !errors.Is(err, io.EOF) {
			s.failed = true
			body := gateway.MarshalErrorBody(gateway.Errorf(gateway.CodeUpstreamError, "The provider's stream broke off; the answer is incomplete."), s.reqID)
			s.pending = append(append([]byte("event: error\ndata: "), body...), '\n', '\n')
		}
		if n == 0 && len(s.pending) == 0 {
			s.end()
			return 0, io.EOF
		}
	}
	return n, nil
}

// scan looks at complete lines for a usage object.
func (s *sseRelay) scan(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(s.line) < 1<<20 { // a line longer than 1 MiB carries no usage worth parsing
				s.line = append(s.line, b...)
			}
			return
		}
		s.line = append(s.line, b[:i]...)
		b = b[i+1:]
		line := bytes.TrimSpace(s.line)
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if ok && bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
			s.sawDone = true
		} else if ok && bytes.Contains(data, []byte(`"usage"`)) {
			var chunk struct {
				Usage *usage `json:"usage"`
			}
			if json.Unmarshal(bytes.TrimSpace(data), &chunk) == nil && chunk.Usage != nil {
				s.usage = *chunk.Usage
			}
		}
		s.line = s.line[:0]
	}
}

func (s *sseRelay) end() {
	s.once.Do(func() {
		s.upstream.Close()
		s.finish(s.usage, s.failed)
	})
}

// Close ends the stream early: the upstream call is cancelled by closing its
// body, and usage is still recorded once. A stream closed before its [DONE]
// counts as failed.
func (s *sseRelay) Close() error {
	if !s.done && !s.sawDone {
		s.failed = true
	}
	s.done = true
	s.end()
	return nil
}
