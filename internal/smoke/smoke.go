package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aistats/edge/pkg/handler/authorizer"
)

// Config says which gateway to check and with what.
type Config struct {
	// BaseURL is the API's base URL, ending in the stage: …/v1.
	BaseURL string
	// ManagementKey needs the scopes keys:read, keys:write, keys:delete and
	// usage:read. It is sent to BaseURL only and never printed.
	ManagementKey string
	// Model, if set, is called for a chat completion, plain and streamed; it
	// must be served by a provider the deployment has a key for.
	Model string
	// HTTP is the client; nil means one with a 60 s timeout.
	HTTP *http.Client
	// Now names the throwaway key; nil means time.Now.
	Now func() time.Time
	// UsageWait bounds how long to wait for usage to show (streamed calls
	// are recorded when the stream ends); 0 means 10 s.
	UsageWait time.Duration
}

// Run performs every check in order, writing one line per check to out,
// and returns an error naming the checks that failed. The key it creates is
// revoked before it returns, whatever happened.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	if cfg.BaseURL == "" || cfg.ManagementKey == "" {
		return errors.New("smoke: the base URL and a management key are required")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UsageWait == 0 {
		cfg.UsageWait = 10 * time.Second
	}
	r := &runner{cfg: cfg, ctx: ctx, out: out, base: strings.TrimSuffix(cfg.BaseURL, "/")}
	r.run()
	if len(r.failed) > 0 {
		return fmt.Errorf("smoke: %d of %d checks failed: %s", len(r.failed), r.checks, strings.Join(r.failed, "; "))
	}
	fmt.Fprintf(out, "all %d checks passed\n", r.checks)
	return nil
}

type runner struct {
	cfg    Config
	ctx    context.Context
	out    io.Writer
	base   string
	checks int
	failed []string
}

// answer is one HTTP response, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorCode returns the code of an error body of docs/architecture.md §4, or "".
func (a answer) errorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(a.body, &e)
	return e.Error.Code
}

func (a answer) String() string {
	body := string(a.body)
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return fmt.Sprintf("%d %s", a.status, body)
}

func (r *runner) call(method, path, key string, body any) (answer, error) {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(r.ctx, method, r.base+path, reader)
	if err != nil {
		return answer{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.cfg.HTTP.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// streamed is a streamed answer with its timing: when its first byte came
// (any byte: a keep-alive comment counts, since it is what keeps idle
// timeouts from firing) and when its first data event came.
type streamed struct {
	answer
	firstByte, firstData time.Duration
}

// stream calls path and reads the answer as it comes, timing it.
func (r *runner) stream(path, key string, body any) (streamed, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return streamed{}, err
	}
	req, err := http.NewRequestWithContext(r.ctx, "POST", r.base+path, bytes.NewReader(raw))
	if err != nil {
		return streamed{}, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	start := r.cfg.Now()
	resp, err := r.cfg.HTTP.Do(req)
	if err != nil {
		return streamed{}, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	s := streamed{answer: answer{status: resp.StatusCode, header: resp.Header}}
	buf := make([]byte, 4<<10)
	for len(s.body) < 1<<20 {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if s.firstByte == 0 {
				s.firstByte = r.cfg.Now().Sub(start)
			}
			s.body = append(s.body, buf[:n]...)
			if s.firstData == 0 && bytes.Contains(s.body, []byte("data:")) {
				s.firstData = r.cfg.Now().Sub(start)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, fmt.Errorf("POST %s: read the stream: %w", path, err)
		}
	}
	return s, nil
}

// check records one named check: fn returns why it failed, or nil.
func (r *runner) check(name string, fn func() error) bool {
	return r.report(name, func() (string, error) { return "", fn() })
}

// report records one named check whose success has something to say (a
// measurement), printed after its name.
func (r *runner) report(name string, fn func() (string, error)) bool {
	r.checks++
	detail, err := fn()
	if err != nil {
		r.failed = append(r.failed, name)
		fmt.Fprintf(r.out, "FAIL %s: %v\n", name, err)
		return false
	}
	if detail != "" {
		name += " (" + detail + ")"
	}
	fmt.Fprintf(r.out, "ok   %s\n", name)
	return true
}

// expect returns an error unless a has the status and, when code is set,
// that error code.
func expect(a answer, err error, status int, code string) error {
	if err != nil {
		return err
	}
	if a.status != status || (code != "" && a.errorCode() != code) {
		want := fmt.Sprint(status)
		if code != "" {
			want += " " + code
		}
		return fmt.Errorf("got %s, want %s", a, want)
	}
	return nil
}

// run performs the checks in order. A check that later ones depend on ends
// the run when it fails; the throwaway key is revoked whatever happens.
func (r *runner) run() {
	r.checkRefusals()
	r.checkEndpoint()
	if !r.checkManagementKey() {
		return // nothing below can work without it
	}
	// The throwaway key may make exactly the calls below before its limit.
	calls := 1 // GET /models
	if r.cfg.Model != "" {
		calls += 2 // a chat completion, plain and streamed
	}
	kid, key, ok := r.createKey(calls)
	if !ok {
		return
	}
	revoked := false
	defer func() {
		if !revoked { // leave no usable key behind
			_, _ = r.call("DELETE", "/keys/"+kid, r.cfg.ManagementKey, nil)
		}
	}()
	r.checkModels(key)
	if r.cfg.Model != "" {
		r.checkChat(key)
	}
	r.checkLimit(key)
	r.checkUsage(kid, calls)
	revoked = r.checkRevocation(kid, key)
}

// checkRefusals checks that requests without a usable key are refused by
// the gateway itself.
func (r *runner) checkRefusals() {
	r.check("a request without a key is refused: 401 missing_authorization with x-request-id", func() error {
		a, err := r.call("GET", "/models", "", nil)
		if err := expect(a, err, 401, "missing_authorization"); err != nil {
			return err
		}
		if a.header.Get("x-request-id") == "" {
			return errors.New("no x-request-id header")
		}
		return nil
	})
	r.check("a key with a bad checksum is refused: 401 invalid_key_format", func() error {
		bad := "aistats_v1_sk_AAAAAAAAAAAA_" + strings.Repeat("A", 46)
		a, err := r.call("GET", "/models", bad, nil)
		return expect(a, err, 401, "invalid_key_format")
	})
}

// checkEndpoint checks how the API is deployed: Regional, and on one stage.
func (r *runner) checkEndpoint() {
	// An edge-optimized API drops a stream after 30 s without a byte; the
	// template makes it Regional. Edge-optimized endpoints answer through
	// CloudFront, whose headers show; behind a custom domain the check
	// cannot tell, and says so.
	// (https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html)
	r.report("the endpoint is Regional, not edge-optimized", func() (string, error) {
		a, err := r.call("GET", "/models", "", nil)
		if err != nil {
			return "", err
		}
		u, err := url.Parse(r.base)
		if err != nil {
			return "", err
		}
		cloudFront := a.header.Get("X-Amz-Cf-Id") != "" || strings.Contains(a.header.Get("Via"), "CloudFront")
		switch {
		case !strings.Contains(u.Hostname(), ".execute-api."):
			return "a custom domain: not checked", nil
		case cloudFront:
			return "", errors.New("the answer came through CloudFront: the API is edge-optimized, and streams idle for 30 s are cut")
		}
		return "", nil
	})
	// SAM deploys a second stage named Stage unless the template sets
	// OpenApiVersion; its routes would answer where no alarm looks.
	r.check("no stage but this one serves the API (no stray /Stage)", func() error {
		root := r.base[:max(strings.LastIndex(r.base, "/"), 0)]
		req, err := http.NewRequestWithContext(r.ctx, "GET", root+"/Stage/models", nil)
		if err != nil {
			return err
		}
		resp, err := r.cfg.HTTP.Do(req)
		if err != nil {
			return fmt.Errorf("GET /Stage/models: %w", err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		a := answer{status: resp.StatusCode, header: resp.Header, body: raw}
		if a.status == 401 || a.status < 400 {
			return fmt.Errorf("GET /Stage/models answered %s: a stage named Stage serves the routes", a)
		}
		return nil
	})
}

// checkManagementKey checks that the operator's management key works.
func (r *runner) checkManagementKey() bool {
	return r.check("the management key lists keys", func() error {
		a, err := r.call("GET", "/keys?limit=1", r.cfg.ManagementKey, nil)
		return expect(a, err, 200, "")
	})
}

// createKey creates the throwaway inference key, limited to calls requests
// a day.
func (r *runner) createKey(calls int) (kid, key string, ok bool) {
	ok = r.check("a management key creates an inference key", func() error {
		a, err := r.call("POST", "/keys", r.cfg.ManagementKey, map[string]any{
			"name":   "aistats smoke " + r.cfg.Now().UTC().Format(time.RFC3339),
			"limits": map[string]int{"requests_per_day": calls},
		})
		if err := expect(a, err, 201, ""); err != nil {
			return err
		}
		var created struct {
			Data struct{ KID, Key string }
		}
		if err := json.Unmarshal(a.body, &created); err != nil || created.Data.Key == "" {
			return fmt.Errorf("no key in the answer (%v)", err)
		}
		kid, key = created.Data.KID, created.Data.Key
		return nil
	})
	return kid, key, ok
}

// checkModels checks that the new key lists its models, the configured one
// among them.
func (r *runner) checkModels(key string) {
	r.check("the new key lists its models", func() error {
		a, err := r.call("GET", "/models", key, nil)
		if err := expect(a, err, 200, ""); err != nil {
			return err
		}
		var list struct {
			Object string
			Data   []struct{ ID string }
		}
		if err := json.Unmarshal(a.body, &list); err != nil || list.Object != "list" {
			return fmt.Errorf("not an OpenAI model list: %s", a)
		}
		if r.cfg.Model != "" && !strings.Contains(string(a.body), `"`+r.cfg.Model+`"`) {
			return fmt.Errorf("%s is not among the key's models", r.cfg.Model)
		}
		return nil
	})
}

// checkChat calls the configured model, plain and streamed.
func (r *runner) checkChat(key string) {
	chat := map[string]any{"model": r.cfg.Model, "max_tokens": 16,
		"messages": []map[string]string{{"role": "user", "content": "Reply with the word ok."}}}
	r.check("a chat completion through "+r.cfg.Model, func() error {
		a, err := r.call("POST", "/chat/completions", key, chat)
		if err := expect(a, err, 200, ""); err != nil {
			return err
		}
		if !bytes.Contains(a.body, []byte(`"choices"`)) {
			return fmt.Errorf("no choices: %s", a)
		}
		return nil
	})
	chat["stream"] = true
	// Time to first byte is what idle timeouts see: on a deployed stack
	// it stays near the proxy's prelude delay however slow the model,
	// since keep-alives come before the first token.
	r.report("a streamed chat completion through "+r.cfg.Model, func() (string, error) {
		s, err := r.stream("/chat/completions", key, chat)
		if err := expect(s.answer, err, 200, ""); err != nil {
			return "", err
		}
		if !strings.HasPrefix(s.header.Get("Content-Type"), "text/event-stream") || !bytes.Contains(s.body, []byte("data: [DONE]")) {
			return "", fmt.Errorf("not a finished SSE stream: %s", s.answer)
		}
		return fmt.Sprintf("first byte after %s, first token after %s",
			s.firstByte.Round(time.Millisecond), s.firstData.Round(time.Millisecond)), nil
	})
}

// checkLimit checks that the key, having used its day's requests, is
// refused with 429.
func (r *runner) checkLimit(key string) {
	r.check("past its limit the key gets 429 with Retry-After", func() error {
		a, err := r.call("GET", "/models", key, nil)
		if err := expect(a, err, 429, "rate_limit_exceeded"); err != nil {
			return err
		}
		if a.header.Get("Retry-After") == "" {
			return errors.New("no Retry-After header")
		}
		return nil
	})
}

// checkUsage checks that usage counts every request the key made, the
// refused one too; streamed calls show once their stream has ended.
func (r *runner) checkUsage(kid string, calls int) {
	r.check("usage shows the key's requests", func() error {
		deadline := time.Now().Add(r.cfg.UsageWait)
		for {
			a, err := r.call("GET", "/keys/"+kid+"/usage?granularity=day", r.cfg.ManagementKey, nil)
			if err := expect(a, err, 200, ""); err != nil {
				return err
			}
			var usage struct {
				Data []struct{ Requests int64 }
			}
			if err := json.Unmarshal(a.body, &usage); err != nil {
				return fmt.Errorf("usage: %s", a)
			}
			var requests int64
			for _, b := range usage.Data {
				requests += b.Requests
			}
			// Every answered request counts, the refused one too.
			if requests >= int64(calls)+1 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d requests in usage, want %d", requests, calls+1)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

// checkRevocation revokes the key and checks that it is refused. It
// reports whether the key was revoked.
func (r *runner) checkRevocation(kid, key string) (revoked bool) {
	r.check("a revoked key is refused: 401 key_revoked", func() error {
		a, err := r.call("DELETE", "/keys/"+kid, r.cfg.ManagementKey, nil)
		if err := expect(a, err, 204, ""); err != nil {
			return err
		}
		revoked = true
		// This key was just refused for its full window, which a warm
		// authorizer answers from memory (429, no call) for up to
		// RefusalRecheck; past it, the revocation shows.
		time.Sleep(authorizer.RefusalRecheck + 100*time.Millisecond)
		a, err = r.call("GET", "/models", key, nil)
		return expect(a, err, 401, "key_revoked")
	})
	return revoked
}
