package dashboard

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-lambda-go/events"
)

func get(resource, asset string) (events.APIGatewayProxyResponse, bool) {
	req := events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: resource}
	req.RequestContext.RequestID = "req-1"
	if asset != "" {
		req.PathParameters = map[string]string{"asset": asset}
	}
	return Serve(req)
}

// withAssets replaces the embedded build for one test.
func withAssets(t *testing.T, files fstest.MapFS) {
	t.Helper()
	saved := assets
	assets = files
	t.Cleanup(func() { assets = saved })
}

func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	withAssets(t, fstest.MapFS{
		"index.html":        {Data: []byte("<!doctype html>")},
		"main-ABCD1234.js":  {Data: []byte("1")},
		"main-ABCD1234.css": {Data: []byte("b{}")},
	})
	for _, tc := range []struct {
		name, resource, asset string
		status                int
		contentType, cache    string
	}{
		{"page_revalidated", Resource, "", 200, "text/html", "no-cache"},
		{"script_cached_a_year", AssetResource, "main-ABCD1234.js", 200, "text/javascript", "immutable"},
		{"style_cached_a_year", AssetResource, "main-ABCD1234.css", 200, "text/css", "immutable"},
		{"unknown_asset", AssetResource, "main-FFFF0000.js", 404, "text/plain", "no-store"},
		{"page_not_as_asset", AssetResource, "index.html", 404, "text/plain", "no-store"},
		{"path_escape", AssetResource, "../dashboard.go", 404, "text/plain", "no-store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, ok := get(tc.resource, tc.asset)
			if !ok || resp.StatusCode != tc.status {
				t.Fatalf("got %d (served %v), want %d", resp.StatusCode, ok, tc.status)
			}
			h := resp.Headers
			if !strings.HasPrefix(h["Content-Type"], tc.contentType) || !strings.Contains(h["Cache-Control"], tc.cache) {
				t.Errorf("Content-Type %q, Cache-Control %q; want %s, %s", h["Content-Type"], h["Cache-Control"], tc.contentType, tc.cache)
			}
			if h["Content-Security-Policy"] != ContentSecurityPolicy || h["X-Content-Type-Options"] != "nosniff" ||
				h["Referrer-Policy"] != "no-referrer" || h["x-request-id"] != "req-1" {
				t.Errorf("headers %v", h)
			}
		})
	}
}

// TestTheCSPAllowsOnlyThePagesOwnOrigin: no inline script or style, no
// other origin, the API on the same origin.
func TestTheCSPAllowsOnlyThePagesOwnOrigin(t *testing.T) {
	for _, forbidden := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*", "data:"} {
		if strings.Contains(ContentSecurityPolicy, forbidden) {
			t.Errorf("the CSP allows %s", forbidden)
		}
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("the CSP lacks %s", want)
		}
	}
}

func TestAnUnbuiltBinarySaysSo(t *testing.T) {
	withAssets(t, fstest.MapFS{".keep": {}})
	resp, ok := get(Resource, "")
	if !ok || resp.StatusCode != 503 || !strings.Contains(resp.Body, "make") {
		t.Errorf("got %d %q, want 503 naming make", resp.StatusCode, resp.Body)
	}
}

func TestOtherRoutesAreNotServed(t *testing.T) {
	if _, ok := Serve(events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: "/keys"}); ok {
		t.Error("served GET /keys")
	}
	if _, ok := Serve(events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: Resource}); ok {
		t.Error("served POST /dashboard")
	}
}
