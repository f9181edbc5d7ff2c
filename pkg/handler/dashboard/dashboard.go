package dashboard

import (
	"embed"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Resource and AssetResource are the dashboard's API Gateway resources,
// declared in template.yaml without the authorizer. Assets are one path
// segment (hashed names, no folders), so no greedy {proxy+} route is
// needed.
const (
	Resource      = "/dashboard"
	AssetResource = "/dashboard/{asset}"
)

// ContentSecurityPolicy lets the page load only its own script, style and
// icon and call only its own origin (the API): no inline script or style,
// no other origin, no framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dist is cmd/dashbuild's output. A checkout that never ran it holds only
// dist/.keep, so go build and go vet work on a fresh clone, and the page
// says it was not built.
//
//go:embed all:dist
var dist embed.FS

// assets are the built files (a variable so tests can stand in a build).
var assets = func() fs.FS {
	sub, _ := fs.Sub(dist, "dist")
	return sub
}()

// Assets are the built files; tests and make bench read them.
func Assets() fs.FS { return assets }

// Built reports whether this binary holds the page.
func Built() bool {
	_, err := fs.Stat(Assets(), "index.html")
	return err == nil
}

// Serve answers the dashboard's routes; ok is false for any other request.
func Serve(req events.APIGatewayProxyRequest) (resp events.APIGatewayProxyResponse, ok bool) {
	if req.HTTPMethod != "GET" {
		return resp, false
	}
	switch req.Resource {
	case Resource:
		resp = page()
	case AssetResource:
		resp = asset(req.PathParameters["asset"])
	default:
		return resp, false
	}
	resp.Headers["x-request-id"] = req.RequestContext.RequestID
	return resp, true
}

// headers are every answer's. The page itself is revalidated each time (it
// names the current assets); an asset's name holds its content hash, so it
// may be kept for a year.
func headers(contentType, cacheControl string) map[string]string {
	return map[string]string{
		"Content-Type":            contentType,
		"Cache-Control":           cacheControl,
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
}

func page() events.APIGatewayProxyResponse {
	body, err := fs.ReadFile(Assets(), "index.html")
	if err != nil {
		return events.APIGatewayProxyResponse{StatusCode: 503, Headers: headers("text/plain; charset=utf-8", "no-store"),
			Body: "This build has no dashboard: its bundle is made by `make` (cmd/dashbuild) before the management function is built.\n"}
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: headers("text/html; charset=utf-8", "no-cache"), Body: string(body)}
}

func asset(name string) events.APIGatewayProxyResponse {
	ctype := mime.TypeByExtension(path.Ext(name))
	var body []byte
	err := fs.ErrNotExist
	// Only hashed names are assets: index.html is served at /dashboard.
	if strings.Contains(name, "-") && ctype != "" && !strings.Contains(name, "/") {
		body, err = fs.ReadFile(Assets(), name)
	}
	if err != nil {
		return events.APIGatewayProxyResponse{StatusCode: 404, Headers: headers("text/plain; charset=utf-8", "no-store"), Body: "Not found.\n"}
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: headers(ctype, "public, max-age=31536000, immutable"), Body: string(body)}
}
