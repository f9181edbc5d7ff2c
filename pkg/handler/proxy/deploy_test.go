package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aistats/edge/internal/testing/syncbuf"
	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/adapter/secretsmanager"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// quickStreams makes the prelude and keep-alives come after milliseconds,
// not seconds, so a test waits on the upstream, not on a clock.
func quickStreams(c *proxy.Config) {
	c.PreludeAfter = 5 * time.Millisecond
	c.KeepAliveInterval = 5 * time.Millisecond
}

// readUntil reads the stream until it has seen want, and returns all read.
func readUntil(t *testing.T, r *bufio.Reader, want string) string {
	t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		line, err := r.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			t.Fatalf("stream ended before %q: %q, %v", want, got.String(), err)
		}
	}
	return got.String()
}

// TestSlowStreamGetsKeepAlivesBeforeItsFirstToken: a provider that takes
// long to answer (no headers yet) and then long for its first token: the
// client gets the 200 prelude and SSE comments meanwhile, then the chunks
// unchanged; usage is the provider's.
func TestSlowStreamGetsKeepAlivesBeforeItsFirstToken(t *testing.T) {
	headers, firstToken := make(chan struct{}), make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-headers:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-firstToken:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, strings.Join(chunks, ""))
	}, chatOK, quickStreams)
	a := f.call("POST", "/chat/completions", streamBody, nil)
	if a.stream == nil || a.status != 200 || a.headers["Content-Type"] != "text/event-stream" {
		t.Fatalf("answer %d %v, want a 200 event stream before the provider answered", a.status, a.headers)
	}
	r := bufio.NewReader(a.stream.Body)
	if got := readUntil(t, r, ": ping\n\n"); got != ": ping\n\n" {
		t.Errorf("first bytes %q, want a keep-alive comment", got)
	}
	close(headers)
	readUntil(t, r, ": ping\n\n") // the provider answered but its first token is still to come
	close(firstToken)
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(rest), ": ping\n\n", ""); got != strings.Join(chunks, "") {
		t.Errorf("stream after the keep-alives %q, want the provider's chunks unchanged", got)
	}
	a.stream.Close()
	if u := f.usage(); u.Requests != 1 || u.Errors() != 0 || u.PromptTokens != 5 || u.CompletionTokens != 2 {
		t.Errorf("usage %+v, want one successful request with the provider's 5+2 tokens", u)
	}
}

// TestKeepAlivesGoOnlyBetweenEvents: a comment inside an event would corrupt
// it, so while an event is half sent no keep-alive goes out.
func TestKeepAlivesGoOnlyBetweenEvents(t *testing.T) {
	rest := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, `data: {"choices":[{"delta":`)
		w.(http.Flusher).Flush()
		select {
		case <-rest:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, `{"content":"x"}}]}`+"\n\n"+"data: [DONE]\n\n")
	}, chatOK, quickStreams)
	a := f.call("POST", "/chat/completions", streamBody, nil)
	defer a.stream.Close() // also when a check fails, or the stream waits out its deadline
	// Keep-alives may come first: the prelude can fire before the
	// provider's first bytes. Read until the half-sent event has arrived.
	var head []byte
	buf := make([]byte, 64)
	for !strings.HasSuffix(string(head), `data: {"choices":[{"delta":`) {
		n, err := a.stream.Body.Read(buf)
		if err != nil {
			t.Fatalf("read %q, then %v", head, err)
		}
		head = append(head, buf[:n]...)
	}
	if before := strings.TrimSuffix(string(head), `data: {"choices":[{"delta":`); strings.ReplaceAll(before, ": ping\n\n", "") != "" {
		t.Fatalf("before the first event %q, want only keep-alives", before)
	}
	time.AfterFunc(50*time.Millisecond, func() { close(rest) }) // ten keep-alive intervals of silence mid-event
	all, _ := io.ReadAll(a.stream.Body)
	if strings.Contains(string(all), ": ping") {
		t.Errorf("a keep-alive went out inside an event: %q", all)
	}
}

// TestProviderRefusalAfterThePreludeIsAnErrorEvent: once the 200 prelude is
// out, a provider's late 4xx reaches the client as an SSE error event with
// the provider's own error object, and usage records a failed request.
func TestProviderRefusalAfterThePreludeIsAnErrorEvent(t *testing.T) {
	answer := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		<-answer
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"error": {"message": "context too long", "type": "invalid_request_error"}}`)
	}, chatOK, quickStreams)
	a := f.call("POST", "/chat/completions", streamBody, nil)
	r := bufio.NewReader(a.stream.Body)
	readUntil(t, r, ": ping\n\n")
	close(answer)
	rest, _ := io.ReadAll(r)
	if !strings.HasSuffix(string(rest), "event: error\ndata: {\"error\":{\"message\":\"context too long\",\"type\":\"invalid_request_error\"}}\n\n") {
		t.Errorf("stream %q, want it to end with the provider's error as an error event", rest)
	}
	a.stream.Close()
	if u := f.usage(); u.Requests != 1 || u.Errors() != 1 {
		t.Errorf("usage %+v, want one failed request", u)
	}
}

// TestQuickRefusalKeepsItsStatus: a provider that refuses before the prelude
// is due gives the client its own status, not a 200 stream.
func TestQuickRefusalKeepsItsStatus(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(422)
		io.WriteString(w, `{"error":{"message":"bad tool schema"}}`)
	}, chatOK, func(c *proxy.Config) { c.PreludeAfter = time.Minute })
	if a := f.call("POST", "/chat/completions", streamBody, nil); a.status != 422 || !strings.Contains(a.text(t), "bad tool schema") {
		t.Errorf("got %d %q, want the provider's 422", a.status, a.text(t))
	}
}

// TestBufferedRouteGivesUpBeforeTheGateway: API Gateway answers 504 at 29 s
// on a buffered route; the proxy's own deadline comes first, it answers 504
// itself, cancels the provider call, records the failure, and starts no retry
// past the deadline.
func TestBufferedRouteGivesUpBeforeTheGateway(t *testing.T) {
	if proxy.DefaultBufferedDeadline >= 29*time.Second {
		t.Fatalf("DefaultBufferedDeadline %s, want it below API Gateway's 29 s", proxy.DefaultBufferedDeadline)
	}
	t.Run("a provider that hangs", func(t *testing.T) {
		cancelled := make(chan struct{}, 1)
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			<-r.Context().Done()
			cancelled <- struct{}{}
		}, chatOK, func(c *proxy.Config) { c.BufferedDeadline = 100 * time.Millisecond })
		a := f.call("POST", "/embeddings", `{"model":"alpha/emb","input":"x"}`, nil)
		if a.status != 504 || a.code(t) != "upstream_timeout" {
			t.Errorf("got %d %s, want 504 upstream_timeout", a.status, a.code(t))
		}
		<-cancelled
		if n := f.alpha.calls.Load(); n != 1 {
			t.Errorf("%d upstream calls, want 1: no retry starts past the deadline", n)
		}
		if u := f.usage(); u.Requests != 1 || u.Errors() != 1 {
			t.Errorf("usage %+v, want one failed request", u)
		}
	})
	t.Run("a provider asking to retry after the deadline", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(503)
		}, chatOK, func(c *proxy.Config) { c.BufferedDeadline = time.Second })
		a := f.call("POST", "/embeddings", `{"model":"alpha/emb","input":"x"}`, nil)
		if a.status != 502 || f.alpha.calls.Load() != 1 {
			t.Errorf("got %d after %d calls, want 502 after 1: the retry would end past the deadline", a.status, f.alpha.calls.Load())
		}
	})
}

// TestBufferedAnswerBeyondTheLambdaCapIsRefused: a buffered Lambda response
// carries at most 6 MB; a larger provider answer would fail in AWS after the
// provider was paid, so the client gets a clear 502 and usage records an
// error, with the tokens the provider billed.
func TestBufferedAnswerBeyondTheLambdaCapIsRefused(t *testing.T) {
	big := `{"object":"list","data":[{"embedding":[` + strings.Repeat("0.123456789,", proxy.MaxBufferedResponseBytes/12) +
		`0]}],"usage":{"prompt_tokens":42,"total_tokens":42}}`
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, big)
	}, chatOK)
	a := f.call("POST", "/embeddings", `{"model":"alpha/emb","input":["x"]}`, nil)
	var body struct {
		Error struct{ Message, Code string }
	}
	_ = json.Unmarshal([]byte(a.body), &body)
	if a.status != 502 || body.Error.Code != "upstream_error" || !strings.Contains(body.Error.Message, "6 MB") {
		t.Errorf("got %d %+v, want 502 upstream_error naming the 6 MB cap", a.status, body.Error)
	}
	if len(a.body) > 1024 {
		t.Errorf("answer of %d bytes, want a short error", len(a.body))
	}
	if u := f.usage(); u.Requests != 1 || u.Errors() != 1 || u.PromptTokens != 42 {
		t.Errorf("usage %+v, want one failed request with the 42 billed prompt tokens", u)
	}
}

// TestAbortedStreamRecordsEstimatedTokens: a client that cuts a stream off
// before the usage chunk still costs the whole prompt and what was relayed;
// usage records an estimate of both, and the log line says it is one.
func TestAbortedStreamRecordsEstimatedTokens(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, chunks[0]+chunks[1])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}, chatOK)
	body := `{"model":"alpha/m1","stream":true,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say one two, please."}]}`
	a := f.call("POST", "/chat/completions", body, nil)
	readUntil(t, bufio.NewReader(a.stream.Body), `" two"`)
	a.stream.Close()
	u := f.usage()
	// 3 to prime the reply, 3 per message, "You are terse." 4 (You, are,
	// terse, .), "Say one two, please." 6 (Say, one, two, ",", please, .).
	if u.Requests != 1 || u.Errors() != 1 || u.PromptTokens != 3+3+4+3+6 || u.CompletionTokens != 2 {
		t.Errorf("usage %+v, want one failed request with 19 estimated prompt and 2 relayed completion tokens", u)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `"tokens_estimated":true`) {
		t.Errorf("log line does not mark the tokens as estimated: %s", logs)
	}
}

// TestModelNamesAreBoundedAndNeverEchoedLong: a 3 MB model name gets a short
// 400, and neither the answer nor the log line carries it.
func TestModelNamesAreBoundedAndNeverEchoedLong(t *testing.T) {
	f := newFixture(t, chatOK, chatOK)
	huge := strings.Repeat("m", 3<<20)
	for _, tc := range []struct {
		name, model string
		status      int
		code        string
	}{
		{"3 MB", huge, 400, "validation_error"},
		{"257 bytes", strings.Repeat("m", 257), 400, "validation_error"},
		{"a space", "gpt 4o", 400, "validation_error"},
		{"a quote", `gpt"4o`, 400, "validation_error"},
		{"a control character", "gpt\u00004o", 400, "validation_error"},
		{"256 bytes, unknown", strings.Repeat("m", 256), 404, "model_not_found"},
		{"every allowed character", "Org/model-1.5_b:free@v2+x", 404, "model_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]any{"model": tc.model, "messages": []any{}})
			a := f.call("POST", "/chat/completions", string(raw), nil)
			if a.status != tc.status || a.code(t) != tc.code {
				t.Errorf("got %d %s, want %d %s", a.status, a.code(t), tc.status, tc.code)
			}
		})
	}
	if f.alpha.calls.Load() != 0 {
		t.Errorf("%d upstream calls for invalid models", f.alpha.calls.Load())
	}
	for _, line := range strings.Split(f.logs.String(), "\n") {
		if len(line) > 2048 {
			t.Errorf("log line of %d bytes: client-supplied strings must be clipped", len(line))
		}
	}
}

// lockedSecrets is a Secrets Manager answering from a map a test may change.
type lockedSecrets struct {
	mu     sync.Mutex
	values map[string]string
}

func (l *lockedSecrets) GetSecretValue(_ context.Context, in *sm.GetSecretValueInput, _ ...func(*sm.Options)) (*sm.GetSecretValueOutput, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{}
	}
	return &sm.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

// TestProviderWhoseSecretAppearsLaterBecomesUsable: in AWS the proxy reads
// provider keys from Secrets Manager; a secret created after the container
// started is picked up within a minute, with no restart.
func TestProviderWhoseSecretAppearsLaterBecomesUsable(t *testing.T) {
	secrets := &lockedSecrets{values: map[string]string{}}
	var clock atomic.Int64 // seconds added to the handler's clock
	var f *fixture
	f = newFixture(t, chatOK, chatOK, func(c *proxy.Config) {
		c.Credentials = &secretsmanager.Credentials{Client: secrets, Prefix: "stack/", Now: func() time.Time {
			return time.Now().Add(time.Duration(clock.Load()) * time.Second)
		}}
	})
	body := `{"model":"alpha/solo","messages":[]}`
	if a := f.call("POST", "/chat/completions", body, nil); a.status != 503 || a.code(t) != "service_unavailable" {
		t.Fatalf("before the secret exists: %d %s, want 503 service_unavailable", a.status, a.code(t))
	}
	secrets.mu.Lock()
	secrets.values["stack/providers/alpha"] = "alpha-secret"
	secrets.mu.Unlock()
	clock.Store(61)
	if a := f.call("POST", "/chat/completions", body, nil); a.status != 200 {
		t.Fatalf("a minute after the secret was created: %d %s, want 200", a.status, a.text(t))
	}
	if got := f.alpha.last.Header.Get("Authorization"); got != "Bearer alpha-secret" {
		t.Errorf("upstream Authorization %q, want the new secret", got)
	}
}

// TestSuccessLogLinesAreSampledFailuresNever: with LogSuccessEvery 3, one
// success in three writes its log line; every failure writes one.
func TestSuccessLogLinesAreSampledFailuresNever(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if strings.Contains(r.Header.Get("User-Agent"), "fail") {
			w.WriteHeader(400)
			return
		}
		chatOK(w, r, n)
	}, chatOK, func(c *proxy.Config) { c.LogSuccessEvery = 3 })
	for range 6 {
		if a := f.call("POST", "/chat/completions", chatBody, nil); a.status != 200 {
			t.Fatalf("status %d", a.status)
		}
	}
	f.call("POST", "/chat/completions", chatBody, map[string]string{"User-Agent": "fail"})
	lines := strings.Count(f.logs.String(), `"msg":"proxy"`)
	if lines != 2+1 {
		t.Errorf("%d log lines for 6 successes and 1 failure, want 2 + 1:\n%s", lines, f.logs.String())
	}
	if u := f.usage(); u.Requests != 7 {
		t.Errorf("usage %+v, want all 7 requests: sampling is for logs only", u)
	}
}

// TestOneLogLinePerRequestCarriesItsMetrics: each request writes one JSON
// line that is also an EMF line (CloudWatch reads the metrics from it); a
// success sampled out of the log still writes its metrics.
func TestOneLogLinePerRequestCarriesItsMetrics(t *testing.T) {
	var out syncbuf.Buffer
	f := newFixture(t, chatOK, chatOK, func(c *proxy.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&out, nil))
		c.Metrics = emf.New(&out, false)
		c.LogSuccessEvery = 2
	})
	for range 2 {
		if a := f.call("POST", "/chat/completions", chatBody, nil); a.status != 200 {
			t.Fatalf("status %d", a.status)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 2 requests, want 2:\n%s", len(lines), out.String())
	}
	for _, want := range []string{`"msg":"proxy"`, `"Requests":1`} {
		if !strings.Contains(lines[0], want) || !strings.Contains(lines[0], `"_aws"`) {
			t.Errorf("line 1 %s lacks %s or its EMF directive", lines[0], want)
		}
	}
	if strings.Contains(lines[1], `"msg":"proxy"`) || !strings.Contains(lines[1], `"Requests":1`) || !strings.Contains(lines[1], `"_aws"`) {
		t.Errorf("the sampled-out success wrote %s; want its metrics only", lines[1])
	}
}

// TestProviderOutageAfterThePreludeReachesTheAlarms: a provider that keeps
// failing after the 200 prelude went out ends the stream with an error
// event, which API Gateway does not see as a 5xx; the proxy's own line is
// then an Error and counts a ServerError, so the alarms still see the outage.
func TestProviderOutageAfterThePreludeReachesTheAlarms(t *testing.T) {
	var out syncbuf.Buffer
	answer := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		<-answer
		w.WriteHeader(503)
	}, func(w http.ResponseWriter, r *http.Request, _ int) { w.WriteHeader(503) }, quickStreams, func(c *proxy.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&out, nil))
		c.Metrics = emf.New(&out, false)
	})
	a := f.call("POST", "/chat/completions", streamBody, nil)
	defer a.stream.Close()
	r := bufio.NewReader(a.stream.Body)
	readUntil(t, r, ": ping\n\n")
	close(answer)
	rest, _ := io.ReadAll(r)
	if !strings.Contains(string(rest), "event: error") {
		t.Fatalf("stream %q, want an error event", rest)
	}
	a.stream.Close()
	line := out.String()
	if !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, `"ServerErrors":1`) {
		t.Errorf("log line %s: want an Error counting one ServerError", line)
	}
}
