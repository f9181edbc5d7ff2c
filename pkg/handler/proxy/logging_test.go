package proxy_test

import (
	"net/http"
	"strings"
	"testing"
)

// A 5xx is logged at Error with the request id, kid and workspace, so that
// an alarm on error lines finds it and says whose request failed.
func TestA5xxIsLoggedAtErrorWithRequestKidAndWorkspace(t *testing.T) {
	for name, resource := range map[string]string{"buffered": "/embeddings", "streaming route": "/chat/completions"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(502) }, nil)
			a := f.call("POST", resource, `{"model":"alpha/solo","messages":[],"input":"x"}`, nil)
			if a.status != 502 {
				t.Fatalf("status %d, want 502", a.status)
			}
			line := errorLine(f.logs.String(), `"msg":"proxy"`)
			for _, want := range []string{`"request_id":"req-1"`, `"kid":"AbCdEfGhIjKl"`, `"workspace":"acme"`, `"status":502`} {
				if !strings.Contains(line, want) {
					t.Errorf("error log line %q lacks %s", line, want)
				}
			}
		})
	}
}

// A refusal the client caused is not an Error.
func TestA4xxIsNotLoggedAtError(t *testing.T) {
	f := newFixture(t, chatOK, chatOK)
	if a := f.call("POST", "/embeddings", `{"model":"nope/x","input":"x"}`, nil); a.status < 400 || a.status >= 500 {
		t.Fatalf("status %d, want a 4xx", a.status)
	}
	if line := errorLine(f.logs.String(), ""); line != "" {
		t.Errorf("a 4xx was logged at Error: %s", line)
	}
}

// errorLine is the last log line at level ERROR that contains marker.
func errorLine(logs, marker string) string {
	line := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) && strings.Contains(l, marker) {
			line = l
		}
	}
	return line
}
