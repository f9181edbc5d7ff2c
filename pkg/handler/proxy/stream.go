package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// usage is the token counts an upstream reports.
type usage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails struct {
		// CachedTokens is the part of the prompt the provider served from
		// its prompt cache, which it bills at a lower price.
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// pingComment is an SSE comment: clients ignore it, but its bytes keep every
// idle timer between the client and the proxy from firing.
var pingComment = []byte(": ping\n\n")

// upstreamAnswer is the outcome of calling the provider: the response to
// relay, or the error to answer with.
type upstreamAnswer struct {
	resp *http.Response
	err  error
	// provider and attempts say who was asked and how often, for the log.
	provider string
	attempts int
	// translated marks an answer in another wire format than the client's
	// (chat completions for an Anthropic Messages request), which adapt
	// turns into the client's.
	translated bool
}

// streamOutcome is what a finished stream reports, for its log line and usage.
type streamOutcome struct {
	provider string
	attempts int
	usage    usage
	// sawUsage is set once the provider's usage chunk passed.
	sawUsage bool
	// answered is set when the provider answered 200 and its stream began:
	// from then on it bills the prompt, whatever happens to the stream.
	answered bool
	// relayedTokens estimates the completion tokens the client was sent, for
	// a stream that ends without its usage chunk.
	relayedTokens int64
	failed        bool
	err           error
}

// sseRelay is the body of a streamed answer. It passes the upstream SSE body
// through unchanged, as it arrives, while watching for the usage chunk and
// counting the content relayed. While the upstream is silent (its answer not
// yet there, or its first token slow) it sends an SSE comment every
// keepAlive, but only between events, never inside one. When the upstream
// fails it ends the stream with an SSE error event. finish runs exactly once,
// when the stream ends or is closed (the client went away).
//
// Read runs on one goroutine; Close may run on another while Read waits.
type sseRelay struct {
	keepAlive time.Duration
	dialect   sseDialect
	reqID     string
	// cancel ends the upstream call's context: the call is over when the
	// stream is.
	cancel context.CancelFunc
	finish func(streamOutcome)
	// closed is closed when the stream ends, for whoever still waits on it.
	closed    chan struct{}
	closeOnce sync.Once
	endOnce   sync.Once
	timer     *time.Timer

	mu sync.Mutex // guards what follows
	// wait delivers the provider's answer when the prelude went out before
	// it came; nil once it came.
	wait <-chan upstreamAnswer
	// chunks carries the upstream body as it is read; nil until it begins.
	chunks  chan []byte
	pumpErr error // set before chunks is closed
	body    io.ReadCloser
	pending []byte // bytes to give the client before anything else
	line    []byte
	// betweenEvents is true where a comment may go: nothing sent yet, or
	// what was sent ends with a blank line.
	betweenEvents bool
	tail          [2]byte
	// sawDone is set once the upstream's "data: [DONE]" has passed: the
	// answer is complete even if the client hangs up before the upstream's
	// EOF reaches us, as SDKs do as soon as they read the sentinel.
	sawDone bool
	done    bool
	out     streamOutcome
}

func newRelay(keepAlive time.Duration, reqID string, cancel context.CancelFunc, finish func(streamOutcome), dialect sseDialect) *sseRelay {
	return &sseRelay{keepAlive: keepAlive, reqID: reqID, cancel: cancel, finish: finish, dialect: dialect,
		closed: make(chan struct{}), betweenEvents: true}
}

// begin starts relaying the provider's answer. Called with mu held.
func (s *sseRelay) begin(a upstreamAnswer) {
	select {
	case <-s.closed: // the client left while the provider was still thinking
		if a.resp != nil {
			a.resp.Body.Close()
		}
		return
	default:
	}
	s.out.provider, s.out.attempts = a.provider, a.attempts
	switch {
	case a.err != nil:
		s.fail(a.err)
	case a.resp.StatusCode != http.StatusOK:
		// The 200 prelude is already sent, so the provider's refusal goes
		// out as an error event: its own error object when it sent one.
		raw, _ := io.ReadAll(io.LimitReader(a.resp.Body, 64<<10))
		a.resp.Body.Close()
		err := gateway.Errorf(gateway.CodeUpstreamError, "The provider answered %d.", a.resp.StatusCode)
		var compact bytes.Buffer
		var probe struct {
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(raw, &probe) == nil && len(probe.Error) > 0 && json.Compact(&compact, raw) == nil {
			s.out.failed, s.out.err, s.done = true, err, true
			s.pending = errorEvent(compact.Bytes())
			return
		}
		s.fail(err)
	default:
		s.body = a.resp.Body
		s.out.answered = true
		s.chunks = make(chan []byte)
		go s.pump(a.resp.Body, s.chunks)
	}
}

// fail ends the stream with an error event for err. Called with mu held.
func (s *sseRelay) fail(err error) {
	s.out.failed, s.out.err, s.done = true, err, true
	s.pending = errorEvent(s.dialect.errorBody(err, s.reqID))
}

func errorEvent(data []byte) []byte {
	return append(append([]byte("event: error\ndata: "), data...), '\n', '\n')
}

// pump reads the upstream body into chunks until it ends or the stream is
// closed.
func (s *sseRelay) pump(body io.Reader, chunks chan<- []byte) {
	buf := make([]byte, 8<<10) // SSE chunks are small; a larger read just waits less often
	for {
		n, err := body.Read(buf)
		if n > 0 {
			select {
			case chunks <- bytes.Clone(buf[:n]):
			case <-s.closed:
				return
			}
		}
		if err != nil {
			s.mu.Lock()
			s.pumpErr = err
			s.mu.Unlock()
			close(chunks)
			return
		}
	}
}

func (s *sseRelay) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		if len(s.pending) > 0 {
			n := copy(p, s.pending)
			s.note(s.pending[:n])
			s.pending = s.pending[n:]
			s.mu.Unlock()
			return n, nil
		}
		if s.done {
			s.mu.Unlock()
			s.end()
			return 0, io.EOF
		}
		wait, chunks := s.wait, s.chunks
		var tick <-chan time.Time
		if s.betweenEvents && s.keepAlive > 0 {
			if s.timer == nil {
				s.timer = time.NewTimer(s.keepAlive)
			} else {
				s.timer.Reset(s.keepAlive)
			}
			tick = s.timer.C
		}
		s.mu.Unlock()

		select {
		case a := <-wait:
			s.mu.Lock()
			s.wait = nil
			s.begin(a)
			s.mu.Unlock()
		case chunk, ok := <-chunks:
			s.mu.Lock()
			if !ok {
				s.done = true
				// After the upstream's [DONE] the answer is whole: a read
				// error then (the client hung up and the upstream was cut)
				// is no failure.
				if !errors.Is(s.pumpErr, io.EOF) && !s.sawDone {
					if errors.Is(s.pumpErr, context.DeadlineExceeded) {
						s.fail(&gateway.Error{Code: gateway.CodeUpstreamTimeout, Message: "The answer took longer than this route allows; it is incomplete.", Err: s.pumpErr})
					} else {
						s.fail(&gateway.Error{Code: gateway.CodeUpstreamError, Message: "The provider's stream broke off; the answer is incomplete.", Err: s.pumpErr})
					}
				}
			} else {
				s.scan(chunk)
				s.pending = chunk
			}
			s.mu.Unlock()
		case <-tick:
			s.mu.Lock()
			s.pending = pingComment
			s.mu.Unlock()
		case <-s.closed:
		}
		if s.timer != nil {
			s.timer.Stop()
		}
	}
}

// note remembers where the bytes given to the client end. Called with mu held.
func (s *sseRelay) note(b []byte) {
	if len(b) >= 2 {
		s.tail = [2]byte{b[len(b)-2], b[len(b)-1]}
	} else if len(b) == 1 {
		s.tail = [2]byte{s.tail[1], b[0]}
	}
	s.betweenEvents = s.tail == [2]byte{'\n', '\n'}
}

// scan looks at complete lines for the usage object, the end of the answer
// and the content relayed, as the route's dialect reads them. Called with mu
// held.
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
		data = bytes.TrimSpace(data)
		if ok && s.dialect.scan(data, &s.out) {
			s.sawDone = true
		}
		s.line = s.line[:0]
	}
}

func (s *sseRelay) end() {
	s.endOnce.Do(func() {
		s.closeOnce.Do(func() { close(s.closed) })
		s.mu.Lock()
		body, out := s.body, s.out
		s.mu.Unlock()
		if body != nil {
			body.Close()
		}
		s.cancel()
		s.finish(out)
	})
}

// Close ends the stream early: the upstream call is cancelled by closing its
// body, and usage is still recorded once. A stream closed before its [DONE]
// counts as failed.
func (s *sseRelay) Close() error {
	s.mu.Lock()
	if !s.done && !s.sawDone {
		s.out.failed = true
	}
	s.done = true
	s.mu.Unlock()
	s.closeOnce.Do(func() { close(s.closed) })
	s.end()
	return nil
}

// sseDialect is how a route's event stream is read and how it tells an
// error: chat completions, Anthropic Messages or OpenAI Responses.
type sseDialect struct {
	// scan reads one event's data for usage and relayed text, and reports
	// whether it completes the answer.
	scan func(data []byte, out *streamOutcome) (complete bool)
	// errorBody renders err as an error event's data.
	errorBody func(err error, requestID string) []byte
}

// chatDialect reads chat completions chunks; the answer is complete at the
// [DONE] sentinel.
var chatDialect = sseDialect{scan: scanChat, errorBody: gateway.MarshalErrorBody}

func scanChat(data []byte, out *streamOutcome) bool {
	if bytes.Equal(data, []byte("[DONE]")) {
		return true
	}
	// Only a chunk that carries a usage object is decoded: OpenAI sends
	// "usage":null in every other one when asked for usage.
	if hasUsageObject(data) {
		var chunk struct {
			Usage *usage `json:"usage"`
		}
		if json.Unmarshal(data, &chunk) == nil && chunk.Usage != nil {
			out.usage, out.sawUsage = *chunk.Usage, true
		}
	}
	out.relayedTokens += estimateTokens(deltaContent(data))
	return false
}

var usageKey = []byte(`"usage"`)

// hasUsageObject reports whether an SSE data line holds "usage": {…}.
func hasUsageObject(data []byte) bool {
	for {
		i := bytes.Index(data, usageKey)
		if i < 0 {
			return false
		}
		data = bytes.TrimLeft(data[i+len(usageKey):], " \t")
		if rest, ok := bytes.CutPrefix(data, []byte(":")); ok {
			if rest = bytes.TrimLeft(rest, " \t"); len(rest) > 0 && rest[0] == '{' {
				return true
			}
		}
	}
}

var contentKey = []byte(`"content"`)

// deltaContent returns the text of the first "content" string of a chunk,
// still JSON-escaped, without decoding the chunk: it runs on every chunk,
// and the count it feeds is an estimate anyway.
func deltaContent(data []byte) []byte {
	i := bytes.Index(data, contentKey)
	if i < 0 {
		return nil
	}
	rest, ok := bytes.CutPrefix(bytes.TrimLeft(data[i+len(contentKey):], " \t"), []byte(":"))
	if !ok {
		return nil
	}
	rest, ok = bytes.CutPrefix(bytes.TrimLeft(rest, " \t"), []byte(`"`))
	if !ok {
		return nil // null, or not a string
	}
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '"':
			return rest[:j]
		}
	}
	return nil
}
