package apigateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// StreamingFunction is a function API Gateway invokes with response
// streaming (InvokeWithResponseStream). Its output is the Lambda streaming
// proxy format: a JSON prelude, eight NUL bytes, then the body as it comes.
type StreamingFunction interface {
	InvokeStream(ctx context.Context, payload []byte) (io.ReadCloser, error)
}

// preludeDelimiter ends the JSON prelude of a streamed response.
var preludeDelimiter = make([]byte, 8)

// maxPrelude bounds the prelude, which holds only status and headers.
const maxPrelude = 64 << 10

type prelude struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
}

// readPrelude reads up to and including the delimiter.
func readPrelude(r *bufio.Reader) (prelude, error) {
	var buf []byte
	for len(buf) <= maxPrelude {
		b, err := r.ReadByte()
		if err != nil {
			return prelude{}, errors.New("stream ended before the prelude delimiter")
		}
		buf = append(buf, b)
		if bytes.HasSuffix(buf, preludeDelimiter) {
			var p prelude
			if err := json.Unmarshal(buf[:len(buf)-len(preludeDelimiter)], &p); err != nil {
				return prelude{}, errors.New("prelude is not JSON")
			}
			if p.StatusCode == 0 {
				p.StatusCode = http.StatusOK
			}
			return p, nil
		}
	}
	return prelude{}, errors.New("prelude is too large")
}

// streamResponse relays a streamed integration response to the client,
// flushing after every read so that nothing is buffered.
func (s *Server) streamResponse(w http.ResponseWriter, out io.ReadCloser, env renderEnv) {
	defer out.Close()
	r := bufio.NewReader(out)
	p, err := readPrelude(r)
	if err != nil {
		s.log.Error("function returned a malformed streaming response", "request_id", env.context["requestId"], "error", err.Error())
		s.gatewayResponse(w, integrationFailure, "", env, nil)
		return
	}
	setIntegrationHeaders(w.Header(), p.Headers, p.MultiValueHeaders, env)
	for _, c := range p.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	w.WriteHeader(p.StatusCode)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client went away; closing out cancels the function's work
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}
