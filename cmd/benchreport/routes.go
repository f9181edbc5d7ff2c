package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/internal/local/localprovider"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// routeCase is one route of issue 16 timed through the proxy and against
// the same upstream called directly. The direct bodies are what the proxy
// itself sends upstream, so that the upstream does the same work on both
// sides and the difference is the proxy's own: for /messages on local/echo
// that is the translation to chat completions and back, since the provider
// speaks only chat completions.
type routeCase struct {
	name       string
	resource   string // the proxy's route
	body       string // to the proxy
	directPath string // on the upstream, under /v1
	direct     string // to the upstream
	// want is in every answer, streamed or not, of both sides: an error
	// answered fast must not pass for a fast proxy.
	want string
}

// routeOverhead measures, for POST /v1/messages (translated) and POST
// /v1/responses, the proxy's added latency at p50 and its added delay to
// the first streamed byte, against the local provider called directly,
// interleaved call by call, as proxyOverhead does for chat completions
// (DESIGN.md §8). The first streamed byte through the proxy is the first
// byte of the body after the Lambda streaming prelude: for /messages that
// is message_start, which the translation writes on the provider's first
// chunk, so the figure includes waiting for that chunk, as a client does.
func routeOverhead(runs int) []figure {
	upstreamSrv := httptest.NewServer(localprovider.Handler())
	defer upstreamSrv.Close()
	reg, _ := providers.Default()
	h, err := proxy.New(proxy.Config{
		Registry: reg, Upstream: upstream.New(upstream.Config{}), Credentials: &proxy.EnvCredentials{Getenv: os.Getenv},
		BaseURLs: map[string]string{"local": upstreamSrv.URL + "/v1"}, Usage: discardUsage{},
	})
	if err != nil {
		return []figure{{Name: "proxy on /v1/messages and /v1/responses", Target: "< 1 ms", Met: met(false), Note: err.Error()}}
	}
	authz := authcontext.Context{KID: "AbCdEfGhIjKl", WorkspaceID: "w", Kind: gateway.KindInference,
		PlanProviders: []string{"*"}, PlanModels: []string{"*"}}.Encode()
	const words = "one two three four five"
	cases := []routeCase{{
		name:     "/v1/messages (translated to chat completions)",
		resource: "/messages",
		body:     `{"model":"local/echo","max_tokens":64,"system":"Echo.","messages":[{"role":"user","content":"` + words + `"}]}`,
		// As messages_request.go translates it.
		directPath: "/chat/completions",
		direct:     `{"model":"echo","max_tokens":64,"messages":[{"role":"system","content":"Echo."},{"role":"user","content":"` + words + `"}]}`,
		want:       "five",
	}, {
		name:       "/v1/responses",
		resource:   "/responses",
		body:       `{"model":"local/echo","input":"` + words + `"}`,
		directPath: "/responses",
		direct:     `{"model":"echo","input":"` + words + `"}`,
		want:       "five",
	}}

	var figs []figure
	for _, rc := range cases {
		figs = append(figs, rc.measure(runs, h, authz, upstreamSrv.URL+"/v1")...)
	}
	return figs
}

// streamed adds "stream":true (and, to the upstream of the translated
// route, the usage chunk the translation asks for) to a JSON body.
func streamed(body string, includeUsage bool) string {
	extra := `"stream":true,`
	if includeUsage {
		extra += `"stream_options":{"include_usage":true},`
	}
	return "{" + extra + strings.TrimPrefix(body, "{")
}

func (rc routeCase) measure(runs int, h *proxy.Handler, authz map[string]any, upstreamURL string) []figure {
	viaProxy := func(body string) (first, total time.Duration, answer []byte, err error) {
		start := time.Now()
		out, _ := h.Handle(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: rc.resource, Body: body,
			RequestContext: events.APIGatewayProxyRequestContext{Authorizer: authz}})
		switch r := out.(type) {
		case *events.APIGatewayProxyStreamingResponse:
			defer r.Close()
			if r.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(r.Body)
				return 0, 0, nil, fmt.Errorf("proxy answered %d: %s", r.StatusCode, b)
			}
			// The prelude (status and headers) comes out of one Read whole;
			// the next Read is the body's first bytes.
			prelude := make([]byte, 64<<10)
			n, _ := r.Read(prelude)
			if !bytes.HasSuffix(prelude[:n], make([]byte, 8)) {
				return 0, 0, nil, fmt.Errorf("no whole streaming prelude in the first read: %q", prelude[:n])
			}
			head := make([]byte, 1)
			if _, err := io.ReadFull(r, head); err != nil {
				return 0, 0, nil, err
			}
			first = time.Since(start)
			rest, err := io.ReadAll(r)
			return first, time.Since(start), append(head, rest...), err
		case events.APIGatewayProxyResponse:
			if r.StatusCode != http.StatusOK {
				return 0, 0, nil, fmt.Errorf("proxy answered %d: %s", r.StatusCode, r.Body)
			}
			t := time.Since(start)
			return t, t, []byte(r.Body), nil
		default:
			return 0, 0, nil, fmt.Errorf("proxy answered a %T", out)
		}
	}
	direct := func(body string) (first, total time.Duration, answer []byte, err error) {
		start := time.Now()
		resp, err := http.Post(upstreamURL+rc.directPath, "application/json", strings.NewReader(body))
		if err != nil {
			return 0, 0, nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return 0, 0, nil, fmt.Errorf("upstream answered %d: %s", resp.StatusCode, b)
		}
		head := make([]byte, 1)
		if _, err := io.ReadFull(resp.Body, head); err != nil {
			return 0, 0, nil, err
		}
		first = time.Since(start)
		rest, err := io.ReadAll(resp.Body)
		return first, time.Since(start), append(head, rest...), err
	}
	proxyStream := streamed(rc.body, false)
	directStream := streamed(rc.direct, rc.directPath == "/chat/completions" && rc.resource == "/messages")
	failed := func(err error) []figure {
		return []figure{{Name: "proxy latency added on " + rc.name, Target: "< 1 ms", Met: met(false), Note: "not measured: " + err.Error()}}
	}
	type call func(body string) (first, total time.Duration, answer []byte, err error)
	// sample times one call into samples, the whole answer's time or the
	// first byte's, after checking the answer, so that an error answered
	// quickly can never pass for a fast proxy.
	sample := func(c call, body string, firstByte bool, samples *[]float64) error {
		first, total, answer, err := c(body)
		if err == nil && !bytes.Contains(answer, []byte(rc.want)) {
			err = fmt.Errorf("answer %.200q lacks %q", answer, rc.want)
		}
		if firstByte {
			total = first
		}
		*samples = append(*samples, float64(total.Microseconds()))
		return err
	}

	const perRun = 200
	var added, ratio, firstAdded []float64
	for range runs {
		var p, d, pf, df []float64
		for range perRun {
			for _, err := range []error{
				sample(viaProxy, rc.body, false, &p),
				sample(direct, rc.direct, false, &d),
				sample(viaProxy, proxyStream, true, &pf),
				sample(direct, directStream, true, &df),
			} {
				if err != nil {
					return failed(err)
				}
			}
		}
		mp, md := median(p), median(d)
		added = append(added, mp-md)
		ratio = append(ratio, mp/md)
		firstAdded = append(firstAdded, median(pf)-median(df))
	}
	a, r, f := median(added)/1000, median(ratio), median(firstAdded)/1000
	return []figure{
		{Name: "proxy latency added on " + rc.name + " (p50)", Value: a, Unit: "ms", Target: "< 1 ms", Met: met(a < 1),
			Note: fmt.Sprintf("ratio proxy/direct %.2f; usage write excluded (in-memory)", r)},
		{Name: "first streamed chunk delay added on " + rc.name, Value: f, Unit: "ms", Target: "< 1 ms", Met: met(f < 1),
			Note: "first body byte after the streaming prelude"},
	}
}
