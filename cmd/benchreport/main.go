// Command benchreport measures the figures of docs/architecture.md §11 side by side in
// one run and prints them as a table next to their targets, marking each met
// or not met; it also writes them as JSON. `make bench` runs it.
//
// Timings are medians of repeated runs on a shared, noisy machine; the
// proxy's overhead is measured against calling the same upstream directly,
// interleaved, and reported as a difference and a ratio. The concurrency
// load cases of issue 11 (concurrency.go) run several trials each and pass
// only when every trial holds exactly.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/local/localprovider"
	"github.com/aistats/edge/internal/local/rie"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/authorizer"
	"github.com/aistats/edge/pkg/handler/management"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// figure is one row of the report.
type figure struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target"`
	Met    *bool   `json:"met,omitempty"` // nil: informational
	Note   string  `json:"note,omitempty"`
}

func met(ok bool) *bool { return &ok }

func main() {
	out := flag.String("json", "bench.json", "where to write the figures as JSON")
	runs := flag.Int("runs", 5, "repetitions per timing; the median is reported")
	trials := flag.Int("trials", 5, "trials of each concurrency load case; every one must hold")
	hotSeconds := flag.Int("hot-seconds", 5, "seconds of the hot-key baseline, at five times a partition's rate")
	flag.Parse()
	ctx := context.Background()
	var figs []figure
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}

	db, err := dynalite.Start(ctx, dynalite.Config{})
	if err != nil {
		fail(err)
	}
	defer db.Stop()
	calls, err := countCalls(ctx, db.Endpoint())
	if err != nil {
		fail(err)
	}
	figs = append(figs, calls...)
	itemRows, err := itemSizes(ctx, db.Endpoint())
	if err != nil {
		fail(err)
	}
	figs = append(figs, itemRows...)
	for _, loadCase := range []func(context.Context, string, int) ([]figure, error){
		workspaceSharing, concurrentRotation, lostAnswers,
	} {
		rows, err := loadCase(ctx, db.Endpoint(), *trials)
		if err != nil {
			fail(err)
		}
		figs = append(figs, rows...)
	}
	hot, err := hotKeys(ctx, db.Endpoint(), *hotSeconds)
	if err != nil {
		fail(err)
	}
	figs = append(figs, hot...)
	lostRows, err := usageUnderThrottling(ctx, db.Endpoint(), *hotSeconds)
	if err != nil {
		fail(err)
	}
	figs = append(figs, lostRows...)
	analyticsRows, err := analyticsLatency(ctx, db.Endpoint(), *runs)
	if err != nil {
		fail(err)
	}
	figs = append(figs, analyticsRows...)
	budgetRows, err := budgetFigures(ctx, db.Endpoint(), *runs, *trials)
	if err != nil {
		fail(err)
	}
	figs = append(figs, budgetRows...)
	wsLatency, err := workspaceLimitLatency(ctx, db.Endpoint(), *runs)
	if err != nil {
		fail(err)
	}
	figs = append(figs, wsLatency...)
	figs = append(figs, authorizerCPU(*runs)...)
	figs = append(figs, proxyOverhead(*runs)...)
	figs = append(figs, routeOverhead(*runs)...)
	figs = append(figs, logBytes()...)
	figs = append(figs, anomalyQuality()...)
	sizes, err := binarySizes()
	if err != nil {
		fail(err)
	}
	figs = append(figs, sizes...)
	start, err := coldStart(*runs)
	if err != nil {
		fail(err)
	}
	figs = append(figs, start)
	load, err := loadRun(ctx)
	if err != nil {
		fail(err)
	}
	figs = append(figs, load...)
	figs = append(figs, dashboardFigures(ctx, *runs)...)

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmeasured\ttarget\tmet\tnote")
	for _, f := range figs {
		verdict := "-"
		if f.Met != nil {
			verdict = map[bool]string{true: "met", false: "NOT MET"}[*f.Met]
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\n", f.Name, trim(f.Value), f.Unit, f.Target, verdict, f.Note)
	}
	tw.Flush()
	raw, _ := json.MarshalIndent(figs, "", "  ")
	if err := os.WriteFile(*out, append(raw, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Println("\nwritten to", *out)
}

func trim(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.3g", v)
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

// countCalls counts DynamoDB calls per kind of request against dynalite.
func countCalls(ctx context.Context, endpoint string) ([]figure, error) {
	var n atomic.Int64
	client := dynalite.NewClient(endpoint, dynamo.CountCalls(&n))
	tables := dynamo.TablesWithPrefix("bench-")
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return nil, err
	}
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: "bench", Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
		return nil, err
	}
	svc := management.NewService(store, rand.Reader, nil)
	operator := management.Actor{KID: management.OperatorActor, WorkspaceID: "bench"}
	_, key, err := svc.CreateKey(ctx, operator, gateway.KindInference, management.KeySpec{Name: "bench", Limits: gateway.Limits{RequestsPerDay: 1}})
	if err != nil {
		return nil, err
	}
	newHandler := func() *authorizer.Handler {
		h, _ := authorizer.New(authorizer.Config{Store: store})
		return h
	}
	measure := func(h *authorizer.Handler, header string) int64 {
		before := n.Load()
		_, _ = h.Handle(ctx, event("Bearer "+header))
		return n.Load() - before
	}
	badChecksum := key[:len(key)-1] + map[bool]string{true: "A", false: "B"}[key[len(key)-1] != 'A']
	h := newHandler()
	malformed := measure(h, "not-a-key")
	bad := measure(h, badChecksum)
	cold := measure(h, key)
	limitedKeyHandler := h
	limited := measure(limitedKeyHandler, key) // the limit of 1 per day is spent
	// The same client retrying within RefusalRecheck: refused from memory.
	var retried int64
	const retries = 20
	for range retries {
		retried += measure(limitedKeyHandler, key)
	}
	_, warmKey, err := svc.CreateKey(ctx, operator, gateway.KindInference, management.KeySpec{Name: "warm"})
	if err != nil {
		return nil, err
	}
	measure(h, warmKey)
	warm := measure(h, warmKey)

	before := n.Load()
	if _, _, err := svc.ListKeys(ctx, operator, gateway.KindInference, 50, "", 0); err != nil {
		return nil, err
	}
	list := n.Load() - before
	before = n.Load()
	if _, _, err := svc.CreateKey(ctx, operator, gateway.KindInference, management.KeySpec{Name: "counted"}); err != nil {
		return nil, err
	}
	create := n.Load() - before

	return []figure{
		{Name: "DynamoDB calls, malformed key", Value: float64(malformed), Unit: "calls", Target: "0", Met: met(malformed == 0)},
		{Name: "DynamoDB calls, bad checksum", Value: float64(bad), Unit: "calls", Target: "0", Met: met(bad == 0)},
		{Name: "DynamoDB calls, cold container", Value: float64(cold), Unit: "calls", Target: "<= 2", Met: met(cold <= 2)},
		{Name: "DynamoDB calls, warm admitted request", Value: float64(warm), Unit: "calls", Target: "1", Met: met(warm == 1)},
		{Name: "DynamoDB calls, first rate-limited request", Value: float64(limited), Unit: "calls", Target: "-",
			Note: "the refused write, then a read: dynalite ignores ReturnValuesOnConditionCheckFailure (1 on DynamoDB)"},
		{Name: "DynamoDB calls per refusal, window already full, warm container", Value: float64(retried) / retries, Unit: "calls", Target: "0",
			Met: met(retried == 0), Note: "20 retries right after the first refusal, answered from memory (RefusalRecheck, 1 s)"},
		{Name: "DynamoDB calls, GET /v1/keys", Value: float64(list), Unit: "calls", Target: "-", Note: "query + batch read of last use"},
		{Name: "DynamoDB calls, POST /v1/keys", Value: float64(create), Unit: "calls", Target: "-", Note: "workspace, record, state item, audit"},
	}, nil
}

func event(authorization string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:      "REQUEST",
		MethodArn: "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/v1/POST/chat/completions",
		Headers:   map[string]string{"Authorization": authorization, "Content-Type": "application/json", "User-Agent": "OpenAI/Go 3.0"},
	}
}

// memoryStore answers the authorizer from memory, so the benchmark measures
// the authorizer's CPU alone.
type memoryStore struct {
	gateway.Admitter
	auth gateway.KeyState
	ws   gateway.WorkspaceState
}

func (m *memoryStore) AdmitKey(context.Context, gateway.Admission) (gateway.KeyState, bool, error) {
	return m.auth, true, nil
}

func (m *memoryStore) AdmitWorkspace(context.Context, gateway.WorkspaceAdmission) (gateway.WorkspaceState, bool, error) {
	return m.ws, true, nil
}

func authorizerCPU(runs int) []figure {
	g, _ := keyformat.Generate(rand.Reader, gateway.KindInference)
	// A typical request, not the cheapest: the key has a daily limit (so the
	// context carries the RateLimit standing) and the workspace plan
	// allow-lists, as pkg/handler/authorizer's BenchmarkAuthorizeWarm.
	store := &memoryStore{
		auth: gateway.KeyState{KID: g.Token.KID, WorkspaceID: "w", Kind: gateway.KindInference, SecretHash: g.Hash, Status: gateway.KeyActive,
			Limits: gateway.Limits{RequestsPerDay: 1 << 40}},
		ws: gateway.WorkspaceState{ID: "w", Status: gateway.WorkspaceActive, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}},
	}
	h, _ := authorizer.New(authorizer.Config{Store: store})
	ev := event("Bearer " + g.Text)
	_, _ = h.Handle(context.Background(), ev)
	var ns, allocs []float64
	for range runs {
		r := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = h.Handle(context.Background(), ev)
			}
		})
		ns = append(ns, float64(r.NsPerOp()))
		allocs = append(allocs, float64(r.AllocsPerOp()))
	}
	cpu, alloc := median(ns)/1000, median(allocs)
	return []figure{
		{Name: "authorizer CPU per request, in-process", Value: cpu, Unit: "µs", Target: "< 5 µs", Met: met(cpu < 5),
			Note: "key with a limit, plan with allow-lists; the runtime's JSON decoding of the event excluded"},
		{Name: "authorizer allocations per request", Value: alloc, Unit: "allocs", Target: "< 40", Met: met(alloc < 40)},
	}
}

// proxyOverhead compares calls through the proxy handler with direct calls
// to the same upstream, interleaved.
func proxyOverhead(runs int) []figure {
	upstreamSrv := httptest.NewServer(localprovider.Handler())
	defer upstreamSrv.Close()
	reg, _ := providers.Default()
	h, _ := proxy.New(proxy.Config{
		Registry: reg, Upstream: upstream.New(upstream.Config{}), Credentials: &proxy.EnvCredentials{Getenv: os.Getenv},
		BaseURLs: map[string]string{"local": upstreamSrv.URL + "/v1"}, Usage: discardUsage{},
	})
	ctx := authcontext.Context{KID: "AbCdEfGhIjKl", WorkspaceID: "w", Kind: gateway.KindInference, PlanProviders: []string{"*"}, PlanModels: []string{"*"}}
	authz := ctx.Encode()
	body := `{"model":"local/echo","messages":[{"role":"user","content":"one two three four five"}]}`
	streamBody := strings.Replace(body, `"messages"`, `"stream":true,"messages"`, 1)
	viaProxy := func(b string) (first, total time.Duration) {
		start := time.Now()
		out, _ := h.Handle(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/chat/completions", Body: b,
			RequestContext: events.APIGatewayProxyRequestContext{Authorizer: authz}})
		r := out.(io.Reader)
		buf := make([]byte, 1)
		_, _ = io.ReadFull(r, buf)
		first = time.Since(start)
		_, _ = io.Copy(io.Discard, r)
		return first, time.Since(start)
	}
	direct := func(b string) (first, total time.Duration) {
		start := time.Now()
		resp, err := http.Post(upstreamSrv.URL+"/v1/chat/completions", "application/json", strings.NewReader(strings.Replace(b, "local/echo", "echo", 1)))
		if err != nil {
			return 0, 0
		}
		buf := make([]byte, 1)
		_, _ = io.ReadFull(resp.Body, buf)
		first = time.Since(start)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return first, time.Since(start)
	}
	const perRun = 200
	var added, ratio, firstAdded []float64
	for range runs {
		var p, d, pf, df []float64
		for range perRun {
			_, t := viaProxy(body)
			p = append(p, float64(t.Microseconds()))
			_, t = direct(body)
			d = append(d, float64(t.Microseconds()))
			f, _ := viaProxy(streamBody)
			pf = append(pf, float64(f.Microseconds()))
			f, _ = direct(streamBody)
			df = append(df, float64(f.Microseconds()))
		}
		mp, md := median(p), median(d)
		added = append(added, mp-md)
		ratio = append(ratio, mp/md)
		firstAdded = append(firstAdded, median(pf)-median(df))
	}
	a, r, f := median(added)/1000, median(ratio), median(firstAdded)/1000
	return []figure{
		{Name: "proxy latency added over the upstream (p50)", Value: a, Unit: "ms", Target: "< 1 ms", Met: met(a < 1),
			Note: fmt.Sprintf("ratio proxy/direct %.2f; usage write excluded (in-memory)", r)},
		{Name: "first streamed chunk delay added", Value: f, Unit: "ms", Target: "< 1 ms", Met: met(f < 1)},
	}
}

// countingWriter counts the bytes and lines written to it: a function's
// stdout, which Lambda sends to CloudWatch Logs.
type countingWriter struct {
	mu           sync.Mutex
	bytes, lines int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bytes += int64(len(p))
	w.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// platformLineBytes is what Lambda itself logs per invocation in its text
// format: START, END and REPORT lines with the request id, duration,
// billed duration and memory. Estimated from that format, not measured
// here, since no Lambda runs here.
const platformLineBytes = 280

// logBytes measures what one admitted, successful, non-streamed chat
// completion writes to CloudWatch Logs: the authorizer's and the proxy's
// JSON and EMF lines, written by the handlers as wired in functions/*/main.go
// (JSON log lines and EMF to stdout), plus Lambda's platform lines.
func logBytes() []figure {
	const n = 200
	ctx := context.Background()
	g, _ := keyformat.Generate(rand.Reader, gateway.KindInference)
	store := &memoryStore{
		auth: gateway.KeyState{KID: g.Token.KID, WorkspaceID: "my-team", Kind: gateway.KindInference, SecretHash: g.Hash, Status: gateway.KeyActive,
			Limits: gateway.Limits{RequestsPerDay: 1 << 40}},
		ws: gateway.WorkspaceState{ID: "my-team", Status: gateway.WorkspaceActive, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}},
	}
	authLog := &countingWriter{}
	ah, _ := authorizer.New(authorizer.Config{Store: store, Logger: slog.New(slog.NewJSONHandler(authLog, nil)), Metrics: emf.New(authLog, false)})
	ev := event("Bearer " + g.Text)
	var granted authorizer.Response
	for range n {
		granted, _ = ah.Handle(ctx, ev)
	}

	upstreamSrv := httptest.NewServer(localprovider.Handler())
	defer upstreamSrv.Close()
	reg, _ := providers.Default()
	proxyLog := &countingWriter{}
	ph, _ := proxy.New(proxy.Config{
		Registry: reg, Upstream: upstream.New(upstream.Config{}), Credentials: &proxy.EnvCredentials{Getenv: os.Getenv},
		BaseURLs: map[string]string{"local": upstreamSrv.URL + "/v1"}, Usage: discardUsage{},
		Logger: slog.New(slog.NewJSONHandler(proxyLog, nil)), Metrics: emf.New(proxyLog, false),
	})
	// The proxy sees the context the authorizer granted, as API Gateway
	// passes it on (strings).
	grant := map[string]any{"principalId": granted.PrincipalID}
	for k, v := range granted.Context.Map() {
		grant[k] = fmt.Sprint(v)
	}
	req := events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/chat/completions",
		Body:           `{"model":"local/echo","messages":[{"role":"user","content":"one two three four five"}]}`,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", Authorizer: grant}}
	for range n {
		out, _ := ph.Handle(ctx, req)
		if r, ok := out.(io.Reader); ok {
			_, _ = io.Copy(io.Discard, r)
		}
		if c, ok := out.(io.Closer); ok {
			c.Close()
		}
	}
	a, p := float64(authLog.bytes)/n, float64(proxyLog.bytes)/n
	total := a + p + 2*platformLineBytes
	return []figure{
		{Name: "log bytes per request: authorizer", Value: float64(int(a)), Unit: "B", Target: "-",
			Note: fmt.Sprintf("%.1f line(s): the JSON decision, which carries its EMF metric", float64(authLog.lines)/n)},
		{Name: "log bytes per request: proxy", Value: float64(int(p)), Unit: "B", Target: "-",
			Note: fmt.Sprintf("%.1f line(s): the JSON request line, which carries its EMF metrics (a sampled-out success writes the metrics alone)", float64(proxyLog.lines)/n)},
		{Name: "log bytes per request: Lambda platform lines", Value: 2 * platformLineBytes, Unit: "B", Target: "-",
			Note: "START, END, REPORT per invocation, two invocations; estimated, not measured"},
		{Name: "log bytes per request, total", Value: float64(int(total)), Unit: "B", Target: "-",
			Note: fmt.Sprintf("$%.2f per million requests at $0.50 per GB ingested", total*1e6/1e9*0.50)},
	}
}

type discardUsage struct{}

func (discardUsage) RecordUsage(context.Context, usage.Event) error { return nil }

func repoRoot() string {
	root, err := dynalite.RepoRoot()
	if err != nil {
		return "."
	}
	return root
}

// binarySizes builds the three bootstraps exactly as make build does.
func binarySizes() ([]figure, error) {
	var figs []figure
	dir, err := os.MkdirTemp("", "bench-build")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, name := range []string{"authorizer", "proxy", "management"} {
		out := filepath.Join(dir, name)
		if err := rie.Build(repoRoot(), out, "./functions/"+name, "linux", "arm64"); err != nil {
			return nil, err
		}
		fi, err := os.Stat(out)
		if err != nil {
			return nil, err
		}
		mb := float64(fi.Size()) / 1e6
		figs = append(figs, figure{Name: "bootstrap size, " + name + " (arm64, stripped)", Value: float64(int(mb*10)) / 10, Unit: "MB", Target: "< 12 MB", Met: met(mb < 12)})
	}
	return figs, nil
}

// coldStart times process start to first answer of the authorizer under
// the Lambda Runtime Interface Emulator (host architecture).
func coldStart(runs int) (figure, error) {
	dir, err := os.MkdirTemp("", "bench-rie")
	if err != nil {
		return figure{}, err
	}
	defer os.RemoveAll(dir)
	emulator, bootstrap := filepath.Join(dir, "rie"), filepath.Join(dir, "bootstrap")
	if err := rie.Build(repoRoot(), emulator, rie.EmulatorPackage, "", ""); err != nil {
		return figure{}, err
	}
	if err := rie.Build(repoRoot(), bootstrap, "./functions/authorizer", "", ""); err != nil {
		return figure{}, err
	}
	env := append(os.Environ(), "TABLE_WORKSPACES=w", "TABLE_KEYS=k", "TABLE_COUNTERS=c", "TABLE_USAGE=u", "TABLE_AUDIT=a", "TABLE_FINDINGS=f",
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y")
	var times []float64
	payload := `{"type":"REQUEST","methodArn":"arn:aws:execute-api:eu-west-1:1:api/v1/POST/chat/completions","headers":{"Authorization":"Bearer x"}}`
	for range runs {
		start := time.Now()
		p, err := rie.Start(emulator, bootstrap, env, nil)
		if err != nil {
			return figure{}, err
		}
		var took time.Duration
		for deadline := start.Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			resp, err := http.Post(p.URL+"/2015-03-31/functions/function/invocations", "application/json", strings.NewReader(payload))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					took = time.Since(start)
					break
				}
			}
		}
		p.Stop()
		if took == 0 {
			return figure{}, fmt.Errorf("the authorizer under the emulator never answered")
		}
		times = append(times, float64(took.Microseconds())/1000)
	}
	m := median(times)
	return figure{Name: "process start to first answer under the RIE", Value: m, Unit: "ms", Target: "< 50 ms", Met: met(m < 50),
		Note: "emulator and bootstrap start included"}, nil
}

// loadRun sends a fixed number of requests from a bounded number of
// concurrent clients through the whole local stack (emulator, authorizer,
// proxy, dynalite) and checks that exactly the limit was admitted and that
// usage counted every answered request once.
func loadRun(ctx context.Context) ([]figure, error) {
	const (
		total       = 600
		concurrency = 12
		limit       = 250
	)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan devstack.Running, 1)
	done := make(chan error, 1)
	dataDir, err := os.MkdirTemp("", "bench-load")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)
	// The handlers' clock reads noon UTC, far from a day boundary, so the
	// daily limit cannot reset in the middle of the run.
	shift := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour).Sub(time.Now())
	now := func() time.Time { return time.Now().Add(shift) }
	go func() {
		done <- devstack.Run(runCtx, devstack.Config{RepoRoot: repoRoot(), DataDir: dataDir, Port: -1, DynamoDBPort: -1,
			Ready: func(r devstack.Running) { ready <- r }, Now: now})
	}()
	var running devstack.Running
	select {
	case running = <-ready:
	case err := <-done:
		return nil, fmt.Errorf("local stack: %w", err)
	}
	store := dynamo.New(dynamo.Config{Client: dynalite.NewClient(running.DynamoDBEndpoint), Tables: devstack.Tables})
	k, key, err := management.NewService(store, rand.Reader, now).CreateKey(ctx,
		management.Actor{KID: management.OperatorActor, WorkspaceID: devstack.DemoWorkspace}, gateway.KindInference,
		management.KeySpec{Name: "load", Limits: gateway.Limits{RequestsPerDay: limit}})
	if err != nil {
		return nil, err
	}
	body := `{"model":"local/echo","messages":[{"role":"user","content":"load test"}]}`
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	var ok, limited, other atomic.Int64
	latencies := make([]float64, total)
	var next atomic.Int64
	began := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < total; i = next.Add(1) - 1 {
				req, _ := http.NewRequest("POST", running.Credentials.BaseURL+"/chat/completions", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[i] = float64(time.Since(start).Microseconds()) / 1000
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	day, err := store.KeyTotals(ctx, k.KID, now().Add(-24*time.Hour), now().Add(time.Hour))
	if err != nil {
		return nil, err
	}
	cancel()
	<-done
	sort.Float64s(latencies)
	answered := ok.Load() + limited.Load()
	return []figure{
		{Name: fmt.Sprintf("load: %d requests, %d clients, throughput", total, concurrency), Value: float64(int(float64(total) / elapsed.Seconds())), Unit: "req/s", Target: "-",
			Note: "whole local stack on one machine: emulator, authorizer, proxy, dynalite"},
		{Name: "load: latency p50", Value: latencies[total/2], Unit: "ms", Target: "-"},
		{Name: "load: latency p99", Value: latencies[total*99/100], Unit: "ms", Target: "-"},
		{Name: fmt.Sprintf("load: admitted with a limit of %d", limit), Value: float64(ok.Load()), Unit: "requests", Target: fmt.Sprint(limit),
			Met: met(ok.Load() == limit && other.Load() == 0), Note: fmt.Sprintf("%d answered 429, %d failed otherwise", limited.Load(), other.Load())},
		{Name: "load: requests in the usage rollup", Value: float64(day.Requests), Unit: "requests", Target: fmt.Sprint(answered),
			Met: met(day.Requests == answered), Note: "every answered request counted once, refusals as errors"},
	}, nil
}
