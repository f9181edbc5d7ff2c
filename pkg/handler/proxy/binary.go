package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// binary answers a route whose answer is bytes (speech audio): they are
// relayed as they come, on the streaming integration, which carries binary
// bodies without base64 or binaryMediaTypes. A refusal is answered whole,
// as JSON. The call is logged and recorded once, when the bytes end or the
// client goes away.
func (h *Handler) binary(c *call, do func() upstreamAnswer, cancel context.CancelFunc) (any, error) {
	a := do()
	c.provider, c.attempts = a.provider, a.attempts
	if a.err != nil {
		cancel()
		return nil, a.err
	}
	if a.resp.StatusCode != http.StatusOK {
		defer cancel()
		return h.whole(c, a.resp, true)
	}
	headers := c.ctx.Headers(c.requestID)
	headers["Content-Type"] = a.resp.Header.Get("Content-Type")
	if headers["Content-Type"] == "" {
		headers["Content-Type"] = "application/octet-stream"
	}
	c.status, c.streamed = http.StatusOK, true
	body := &binaryBody{upstream: a.resp.Body, finish: func(failed bool) {
		cancel()
		c.failed = failed
		h.logCall(c, nil)
		h.record(c, nil) // c.failed classes a cut-off relay
	}}
	return &events.APIGatewayProxyStreamingResponse{StatusCode: http.StatusOK, Headers: headers, Body: body}, nil
}

// binaryBody relays an upstream body and reports, once, how it ended: whole
// (EOF) or not (a read error, or closed before the end).
type binaryBody struct {
	upstream io.ReadCloser
	finish   func(failed bool)
	once     sync.Once
}

func (b *binaryBody) Read(p []byte) (int, error) {
	n, err := b.upstream.Read(p)
	if err != nil {
		b.end(!errors.Is(err, io.EOF))
	}
	return n, err
}

// Close ends the relay early: the client went away.
func (b *binaryBody) Close() error {
	b.end(true)
	return nil
}

func (b *binaryBody) end(failed bool) {
	b.once.Do(func() {
		b.upstream.Close()
		b.finish(failed)
	})
}
