package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/sync/errgroup"

	"github.com/aistats/edge/internal/local/browser"
	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/dashboard"
	"github.com/aistats/edge/pkg/handler/management"
)

// dashboardFigures measures the dashboard (DESIGN.md §11, issue 13): its
// weight as the browser downloads it, and, in headless Chromium against the
// local stack with its demo history, the first paint of the page and the
// time a key page with 90 days of hourly traffic takes to draw its charts.
// A figure that cannot be measured (no chromium) says why instead.
func dashboardFigures(ctx context.Context, runs int) []figure {
	figs := []figure{pageWeight()}
	timings, err := dashboardTimings(ctx, runs)
	if err != nil {
		note := "not measured: " + err.Error()
		return append(figs, figure{Name: "dashboard first paint (headless Chromium, local stack)", Unit: "ms", Target: "< 1000", Note: note},
			figure{Name: "dashboard key page, 90 days of hourly data, charts drawn", Unit: "ms", Target: "< 1000", Note: note})
	}
	return append(figs, timings...)
}

// pageWeight is every file the page loads (page, script, style, icon),
// gzipped as a CDN or API Gateway compression would send them.
func pageWeight() figure {
	var raw, zipped int
	_ = fs.WalkDir(dashboard.Assets(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == ".keep" {
			return err
		}
		data, err := fs.ReadFile(dashboard.Assets(), name)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = w.Write(data)
		_ = w.Close()
		raw += len(data)
		zipped += buf.Len()
		return nil
	})
	kb := float64(zipped) / 1024
	return figure{Name: "dashboard page weight, gzipped (page, script, style, icon)", Value: kb, Unit: "KB", Target: "< 300",
		Met: met(dashboard.Built() && kb < 300), Note: fmt.Sprintf("%d bytes uncompressed; uPlot included; built: %v", raw, dashboard.Built())}
}

func dashboardTimings(ctx context.Context, runs int) ([]figure, error) {
	if !dashboard.Built() {
		return nil, fmt.Errorf("this binary has no dashboard (make dashboard)")
	}
	b, err := browser.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	dataDir, err := os.MkdirTemp("", "bench-dashboard")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)
	ready := make(chan devstack.Running, 1)
	done := make(chan error, 1)
	// The wall clock, as the browser's: the page asks for "the last 90 days".
	go func() {
		done <- devstack.Run(runCtx, devstack.Config{RepoRoot: repoRoot(), DataDir: dataDir, Port: -1, DynamoDBPort: -1,
			Ready: func(r devstack.Running) { ready <- r }, DemoHistory: true})
	}()
	var running devstack.Running
	select {
	case running = <-ready:
	case err := <-done:
		return nil, fmt.Errorf("local stack: %w", err)
	}
	kid, err := ninetyDaysOfHours(ctx, running)
	if err != nil {
		return nil, err
	}
	page := running.Credentials.BaseURL + "/dashboard"

	var paints, keyPages []float64
	for range max(runs, 3) {
		// A fresh load each time: first (contentful) paint of the page.
		if err := chromedp.Do(b.Ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(page), chromedp.WaitVisible(`#mk`)); err != nil {
			return nil, err
		}
		fcp, err := chromedp.Run(b.Ctx, chromedp.Evaluate[float64](`new Promise((ok) => { const f = () => { const e = performance.getEntriesByName('first-contentful-paint')[0]; e ? ok(e.startTime) : setTimeout(f, 10); }; f(); })`, chromedp.EvalAwaitPromise))
		if err != nil {
			return nil, err
		}
		paints = append(paints, fcp)
		err = chromedp.Do(b.Ctx, chromedp.SendKeys(`#mk`, running.Credentials.ManagementKey), chromedp.Click(`#signin button[type=submit]`),
			chromedp.Poll[chromedp.Void](`document.body.dataset.ready`))
		if err != nil {
			return nil, err
		}
		// From the click on a key to its charts drawn: the API's answer
		// over 90 days of hour items, and uPlot drawing four charts.
		ms, err := chromedp.Run(b.Ctx, chromedp.Evaluate[float64](fmt.Sprintf(`new Promise((ok) => {
			document.body.removeAttribute('data-ready');
			const t0 = performance.now();
			location.hash = '#/keys/%s?range=90d';
			const f = () => document.body.dataset.ready && document.querySelectorAll('figure.chart[data-drawn]').length === 4 ? ok(performance.now() - t0) : requestAnimationFrame(f);
			f();
		})`, kid), chromedp.EvalAwaitPromise))
		if err != nil {
			return nil, err
		}
		keyPages = append(keyPages, ms)
		if problems := b.Problems(); len(problems) > 0 {
			return nil, fmt.Errorf("the page reported %v", problems)
		}
	}
	p, k := medianOf(paints), medianOf(keyPages)
	return []figure{
		{Name: "dashboard first paint (headless Chromium, local stack)", Value: p, Unit: "ms", Target: "< 1000", Met: met(p < 1000),
			Note: fmt.Sprintf("first-contentful-paint of a fresh load, median of %d", len(paints))},
		{Name: "dashboard key page, 90 days of hourly data, charts drawn", Value: k, Unit: "ms", Target: "< 1000", Met: met(k < 1000),
			Note: fmt.Sprintf("hash change to four charts drawn (90d view: the API sums %d hour items into day buckets), median of %d", 90*24, len(keyPages))},
	}, nil
}

// ninetyDaysOfHours makes a key with traffic in every hour of the last 90
// days, the most a key page reads.
func ninetyDaysOfHours(ctx context.Context, running devstack.Running) (string, error) {
	store := dynamo.New(dynamo.Config{Client: dynalite.NewClient(running.DynamoDBEndpoint), Tables: devstack.Tables})
	k, _, err := management.NewService(store, rand.Reader, nil).CreateKey(ctx,
		management.Actor{KID: management.OperatorActor, WorkspaceID: devstack.DemoWorkspace}, gateway.KindInference,
		management.KeySpec{Name: "bench: 90 days of hours"})
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for h := range 90 * 24 {
		g.Go(func() error {
			return store.RecordUsage(gctx, usage.Event{Time: now.Add(-time.Duration(h) * time.Hour), KID: k.KID, WorkspaceID: devstack.DemoWorkspace,
				Model: "local/echo", Status: 200, Class: usage.Class2xx, PromptTokens: 10, CompletionTokens: 5, Latency: time.Duration(50+h%7*10) * time.Millisecond})
		})
	}
	return k.KID, g.Wait()
}

func medianOf(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}
