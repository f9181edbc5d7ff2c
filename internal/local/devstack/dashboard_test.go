package devstack_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aistats/edge/internal/local/browser"
	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/syncbuf"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/dashboard"
)

// startBrowser starts headless Chromium, or skips the test where none is
// installed, but only outside CI: under CI=true a missing browser fails.
func startBrowser(t *testing.T) *browser.Browser {
	t.Helper()
	if !dashboard.Built() {
		t.Fatal("this test binary has no dashboard: `make dashboard` (make test runs it) bundles web/ first")
	}
	b, err := browser.Start(context.Background())
	if errors.Is(err, browser.ErrNoChromium) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// updateScreenshots is set to write the README's screenshots to docs/.
var updateScreenshots = os.Getenv("UPDATE_SCREENSHOTS") == "1"

// startDemoStack runs the local stack as make dev does on a clock a few
// seconds behind the wall clock (so the browser, which reads the wall
// clock, and the handlers agree on the hour and day). The demo history,
// which takes a while to load on a busy machine, is loaded only for the
// screenshots.
func startDemoStack(t *testing.T) testStack {
	t.Helper()
	now := windowStartClock()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan devstack.Running, 1)
	done := make(chan error, 1)
	out := &syncbuf.Buffer{}
	go func() {
		done <- devstack.Run(ctx, devstack.Config{DataDir: t.TempDir(), Port: -1, DynamoDBPort: -1, Out: out,
			Logger: slog.New(slog.DiscardHandler), Ready: func(r devstack.Running) { ready <- r }, Now: now, DemoHistory: updateScreenshots})
	}()
	select {
	case r := <-ready:
		if line := "Dashboard: " + r.Credentials.BaseURL + "/dashboard"; !strings.Contains(out.String(), line) {
			t.Errorf("the stack does not print %q:\n%s", line, out)
		}
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("local stack: %v", err)
			}
		})
		return testStack{Running: r, Now: now}
	case err := <-done:
		cancel()
		t.Fatalf("local stack ended before it was ready: %v\n%s", err, out)
	case <-time.After(3 * time.Minute):
		cancel()
		t.Fatalf("local stack not ready in 3 minutes\n%s", out)
	}
	panic("unreachable")
}

// do runs browser actions, failing the test with what was being done.
func do(t *testing.T, b *browser.Browser, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v (page problems: %v)", what, err, b.Problems())
	}
}

func eval[T any](t *testing.T, b *browser.Browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitView waits until the page has rendered a view after the last
// navigation (main.js sets data-ready when a view is done).
func waitView(t *testing.T, b *browser.Browser, what string) {
	t.Helper()
	do(t, b, what, chromedp.Poll[chromedp.Void](`document.body.dataset.ready`, chromedp.WithPollingTimeout(20*time.Second)))
}

// screenshot writes the viewport to docs/ when UPDATE_SCREENSHOTS=1 (the
// README shows them), and to the test's temporary folder otherwise.
func screenshot(t *testing.T, b *browser.Browser, name string) {
	t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := t.TempDir()
	if updateScreenshots {
		dir = filepath.Join("..", "..", "..", "docs")
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardInABrowser is issue 13's done-when, as a person would use
// the page, in headless Chromium against the local stack: sign in; see the
// charts of a key whose traffic the test sent, drawn with the API's
// figures; open an anomaly; create a key and call the API with it; revoke
// it and see its next request refused; sign out and find the management
// key nowhere in the browser; and see no console error or blocked
// resource on the way (the CSP holds).
func TestDashboardInABrowser(t *testing.T) {
	b := startBrowser(t)
	stack := startDemoStack(t)
	base, mk := stack.Credentials.BaseURL, stack.Credentials.ManagementKey

	// Traffic the test knows: 3 answered, 2 refused 403 (a model the key
	// may not use), and 50 wrong secrets for its kid, which the detector
	// turns into an auth_failures anomaly.
	status, out := send(t, "POST", base+"/keys", mk, `{"name":"browser test","models":["local/echo"],"limits":{"requests_per_day":1000}}`)
	if status != 201 {
		t.Fatalf("create key: %d %v", status, out)
	}
	created := out["data"].(map[string]any)
	kid, sk := created["kid"].(string), created["key"].(string)
	for range 3 {
		if status, out := send(t, "POST", base+"/chat/completions", sk, `{"model":"local/echo","messages":[{"role":"user","content":"hello dashboard"}]}`); status != 200 {
			t.Fatalf("chat: %d %v", status, out)
		}
	}
	for range 2 {
		if status, _ := send(t, "POST", base+"/chat/completions", sk, `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`); status != 403 {
			t.Fatalf("a model the key may not use answered %d", status)
		}
	}
	other, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		t.Fatal(err)
	}
	wrong := keyformat.WithChecksum(keyformat.Prefix(gateway.KindInference, kid) + "_" + other.Token.Secret()[:keyformat.RandomLength])
	for range 50 {
		send(t, "GET", base+"/models", wrong, "")
	}
	det, err := devstack.LocalDetector(devstack.Env{Client: dynalite.NewClient(stack.DynamoDBEndpoint), Tables: devstack.Tables,
		Logger: slog.New(slog.DiscardHandler), Now: stack.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = det.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, found := send(t, "GET", base+"/anomalies?status=open&kid="+kid, mk, "")
	anomalies, _ := found["data"].([]any)
	if len(anomalies) == 0 {
		t.Fatalf("the detector raised nothing for the test key: %v", found)
	}
	anomaly := anomalies[0].(map[string]any)

	page := strings.TrimSuffix(base, "/") + "/dashboard"
	t.Run("signs in", func(t *testing.T) {
		do(t, b, "open the page", chromedp.Navigate(page), chromedp.WaitVisible(`#mk`))
		do(t, b, "sign in", chromedp.SendKeys(`#mk`, mk), chromedp.Click(`#signin button[type=submit]`))
		waitView(t, b, "the overview")
		do(t, b, "the overview's figures", chromedp.WaitVisible(`[data-figure="requests"]`), chromedp.WaitVisible(`figure[data-chart="workspace-requests"][data-drawn]`))
		screenshot(t, b, "dashboard-overview.png")
	})

	t.Run("opens an anomaly", func(t *testing.T) {
		link := fmt.Sprintf(`a[data-anomaly="%s"]`, anomaly["id"])
		do(t, b, "open the anomaly from the overview", chromedp.WaitVisible(link), chromedp.Click(link))
		waitView(t, b, "the key page")
		sel := fmt.Sprintf(`details[data-anomaly="%s"][open]`, anomaly["id"])
		do(t, b, "the anomaly, open", chromedp.WaitVisible(sel))
		text := eval[string](t, b, fmt.Sprintf(`document.querySelector('%s summary').textContent`, sel))
		if !strings.Contains(text, anomaly["sentence"].(string)) {
			t.Errorf("the anomaly reads %q, want its sentence %q", text, anomaly["sentence"])
		}
		expected := eval[string](t, b, fmt.Sprintf(`document.querySelector('%s [data-expected]').dataset.expected`, sel))
		if want := fmt.Sprintf("%v..%v", anomaly["expected_low"], anomaly["expected_high"]); expected != want {
			t.Errorf("expected range %q, want %q", expected, want)
		}
	})

	t.Run("draws every chart with the key's figures", func(t *testing.T) {
		do(t, b, "charts drawn", chromedp.WaitVisible(`figure[data-chart="latency"][data-drawn]`))
		from := eval[string](t, b, `document.getElementById('charts').dataset.from`)
		gran := eval[string](t, b, `document.getElementById('charts').dataset.granularity`)
		status, api := send(t, "GET", fmt.Sprintf("%s/keys/%s/analytics?granularity=%s&from=%s", base, kid, gran, from), mk, "")
		if status != 200 {
			t.Fatalf("analytics: %d %v", status, api)
		}
		points := api["series"].([]any)[0].(map[string]any)["data"].([]any)
		column := func(get func(p map[string]any) any) []any {
			var out []any
			for _, p := range points {
				out = append(out, get(p.(map[string]any)))
			}
			return out
		}
		field := func(name string) []any {
			return column(func(p map[string]any) any { return p[name] })
		}
		class := func(c string) []any {
			return column(func(p map[string]any) any {
				n, _ := p["by_status"].(map[string]any)[c].(float64)
				return n
			})
		}
		drawn := func(chart string) map[string][]any {
			raw := eval[string](t, b, fmt.Sprintf(`document.querySelector('figure[data-chart="%s"]').dataset.values`, chart))
			var v map[string][]any
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		var sum2xx, sum403 float64
		for _, v := range drawn("requests")["2xx"] {
			sum2xx += v.(float64)
		}
		for _, v := range drawn("requests")["403"] {
			sum403 += v.(float64)
		}
		if sum2xx != 3 || sum403 != 2 {
			t.Errorf("the requests chart shows %v answered and %v refused 403, want 3 and 2", sum2xx, sum403)
		}
		for chart, want := range map[string]map[string][]any{
			"requests": {"2xx": class("2xx"), "403": class("403")},
			"tokens":   {"prompt": field("prompt_tokens"), "completion": field("completion_tokens"), "cached": field("cached_tokens")},
			"cost":     {"cost": field("cost_usd")},
			"latency":  {"p50": field("latency_p50_ms"), "p95": field("latency_p95_ms")},
		} {
			got := drawn(chart)
			for series, values := range want {
				if !sameValues(got[series], values) {
					t.Errorf("chart %s series %s draws %v, the API says %v", chart, series, got[series], values)
				}
			}
		}
		if n := eval[int](t, b, `document.querySelectorAll('figure.chart[data-drawn] canvas').length`); n < 4 {
			t.Errorf("%d canvases drawn, want one per chart", n)
		}
	})

	t.Run("shows a month of a key", func(t *testing.T) {
		// The screenshot shows a demo history key's month; the test's own
		// key has only today, but its month is drawn all the same.
		shown := kid
		_, keys := send(t, "GET", base+"/keys?limit=100", mk, "")
		for _, k := range keys["data"].([]any) {
			if k := k.(map[string]any); strings.HasPrefix(k["name"].(string), "demo history: ") && shown == kid {
				shown = k["kid"].(string)
			}
		}
		do(t, b, "a key's month", chromedp.Navigate(fmt.Sprintf("%s#/keys/%s?range=30d", page, shown)))
		waitView(t, b, "the key's page")
		do(t, b, "its charts", chromedp.WaitVisible(`figure[data-chart="latency"][data-drawn]`))
		if n := eval[int](t, b, `Number(document.querySelector('figure[data-chart="requests"]').dataset.points)`); n != 30 {
			t.Errorf("the 30-day chart has %d points, want 30 days", n)
		}
		eval[bool](t, b, `window.scrollTo(0, 0) || true`)
		screenshot(t, b, "dashboard-key.png")
	})

	t.Run("lists the key's recent failures", func(t *testing.T) {
		do(t, b, "the test key's page", chromedp.Navigate(fmt.Sprintf("%s#/keys/%s", page, kid)))
		waitView(t, b, "the key's page")
		do(t, b, "its failures", chromedp.WaitVisible(`#sample tr[data-status="403"]`))
		// The two 403s the test sent, and the 50 wrong secrets as 401s.
		if n := eval[int](t, b, `document.querySelectorAll('#sample tr[data-status="403"]').length`); n != 2 {
			t.Errorf("%d rows of 403, want the 2 sent", n)
		}
		if n := eval[int](t, b, `document.querySelectorAll('#sample tr[data-status="401"]').length`); n != 50 {
			t.Errorf("%d rows of 401, want the 50 wrong secrets", n)
		}
	})

	t.Run("shows a key's budgets with what is used", func(t *testing.T) {
		status, out := send(t, "POST", base+"/keys", mk, `{"name":"budgeted","models":["local/echo"],"limits":{"cost_per_day_usd":"5","tokens_per_minute":100000}}`)
		if status != 201 {
			t.Fatalf("create a budgeted key: %d %v", status, out)
		}
		d := out["data"].(map[string]any)
		if status, out := send(t, "POST", base+"/chat/completions", d["key"].(string), `{"model":"local/echo","max_tokens":8,"messages":[{"role":"user","content":"spend a little"}]}`); status != 200 {
			t.Fatalf("chat with the budgeted key: %d %v", status, out)
		}
		do(t, b, "the budgeted key's page", chromedp.Navigate(fmt.Sprintf("%s#/keys/%s", page, d["kid"])))
		waitView(t, b, "the key's page")
		do(t, b, "its budgets", chromedp.WaitVisible(`tr[data-budget="cost_per_day_usd"]`))
		_, rec := send(t, "GET", base+"/keys/"+d["kid"].(string), mk, "")
		var used string
		for _, bv := range rec["data"].(map[string]any)["budgets"].([]any) {
			if bv := bv.(map[string]any); bv["name"] == "cost_per_day_usd" {
				if f, ok := bv["used"].(float64); ok {
					used = strconv.FormatFloat(f, 'f', -1, 64) // as JavaScript prints it: 0.000009, not 9e-06
				}
			}
		}
		row := eval[string](t, b, `document.querySelector('tr[data-budget="cost_per_day_usd"]').textContent`)
		if used == "" || used == "0" || !strings.Contains(row, "$"+used) {
			t.Errorf("the page's cost_per_day_usd row %q, want the record's used $%s", row, used)
		}
	})

	var newKey, newKID string
	t.Run("creates a key that works", func(t *testing.T) {
		do(t, b, "the key list", chromedp.Navigate(page+"#/keys"))
		waitView(t, b, "the key list")
		do(t, b, "create", chromedp.Click(`#create-key`), chromedp.WaitVisible(`dialog input[name="name"]`),
			chromedp.SendKeys(`dialog input[name="name"]`, "made in the browser"), chromedp.Click(`dialog button[data-confirm]`),
			chromedp.WaitVisible(`#new-key`))
		var err error
		newKey, err = chromedp.Run(b.Ctx, chromedp.Value(`#new-key`))
		if err != nil || !strings.HasPrefix(newKey, "aistats_v1_sk_") {
			t.Fatalf("the new key shown: %q, %v", newKey, err)
		}
		newKID = strings.Split(newKey, "_")[3]
		do(t, b, "close the key", chromedp.Click(`dialog button:not(.primary)`))
		waitView(t, b, "the new key's page")
		if status, out := send(t, "GET", base+"/models", newKey, ""); status != 200 {
			t.Errorf("the key made in the browser: GET /models answered %d %v", status, out)
		}
	})

	t.Run("revokes it, and its next request is refused", func(t *testing.T) {
		if newKey == "" {
			t.Skip("no key was created")
		}
		do(t, b, "revoke", chromedp.WaitVisible(`#revoke-key`), chromedp.Click(`#revoke-key`),
			chromedp.WaitVisible(`dialog button[data-confirm]`), chromedp.Click(`dialog button[data-confirm]`),
			chromedp.Poll[chromedp.Void](`document.getElementById('key-status')?.textContent === 'revoked'`, chromedp.WithPollingTimeout(10*time.Second)))
		if status, _ := send(t, "GET", base+"/models", newKey, ""); status != 401 {
			t.Errorf("the revoked key answered %d, want 401", status)
		}
		if status, out := send(t, "GET", base+"/keys/"+newKID, mk, ""); status != 200 || out["data"].(map[string]any)["status"] != "revoked" {
			t.Errorf("the key's record: %d %v", status, out)
		}
	})

	t.Run("signs out and leaves no key behind", func(t *testing.T) {
		do(t, b, "sign out", chromedp.Click(`#signout`), chromedp.WaitVisible(`#mk`))
		left := eval[string](t, b, `JSON.stringify([location.href, document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage), document.body.innerHTML])`)
		secret := mk[strings.LastIndex(mk, "_")+1:]
		if strings.Contains(left, secret) || strings.Contains(left, mk) {
			t.Errorf("after sign-out the management key is still in the page, URL or storage: %s", left)
		}
		if n := eval[int](t, b, `localStorage.length + sessionStorage.length`); n != 0 {
			t.Errorf("%d items left in web storage", n)
		}
	})

	t.Run("names the scope a key lacks", func(t *testing.T) {
		status, out := send(t, "POST", base+"/management-keys", mk, `{"name":"reader","scopes":["keys:read"]}`)
		if status != 201 {
			t.Fatalf("create a management key: %d %v", status, out)
		}
		reader := out["data"].(map[string]any)["key"].(string)
		do(t, b, "sign in with keys:read only", chromedp.SendKeys(`#mk`, reader), chromedp.Click(`#signin button[type=submit]`))
		waitView(t, b, "the overview")
		text := eval[string](t, b, `document.querySelector('main .error')?.textContent ?? ''`)
		if !strings.Contains(text, "Missing scope usage:read") {
			t.Errorf("the overview says %q, want it to name the missing scope usage:read", text)
		}
		do(t, b, "sign out", chromedp.Click(`#signout`), chromedp.WaitVisible(`#mk`))
	})

	// The page's own 4xx answers (the scope refusal above) are logged by
	// Chromium as failed loads; everything else must be clean.
	for _, p := range b.Problems() {
		if !strings.Contains(p, "status of 403") {
			t.Errorf("the page reported: %s", p)
		}
	}
}

// sameValues compares the values a chart draws with the API's, numbers
// within a rounding error and nulls as nulls.
func sameValues(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, gok := got[i].(float64)
		w, wok := want[i].(float64)
		if gok != wok || (gok && math.Abs(g-w) > 1e-9) {
			return false
		}
	}
	return true
}
