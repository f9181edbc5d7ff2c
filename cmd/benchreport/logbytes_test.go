package main

import (
	"strings"
	"testing"
)

// TestLogBytesMeasuresBothFunctions: the log figures come from real log
// lines of an admitted, answered request (not refusals, which log more).
func TestLogBytesMeasuresBothFunctions(t *testing.T) {
	figs := logBytes()
	got := map[string]figure{}
	for _, f := range figs {
		got[f.Name] = f
	}
	auth, proxy := got["log bytes per request: authorizer"], got["log bytes per request: proxy"]
	if auth.Value < 100 || proxy.Value < 100 {
		t.Errorf("authorizer %v B, proxy %v B per request: want the lines of an answered request", auth.Value, proxy.Value)
	}
	for name, f := range map[string]figure{"authorizer": auth, "proxy": proxy} {
		if !strings.HasPrefix(f.Note, "1.0 line(s)") {
			t.Errorf("%s note %q, want 1 line per request: the JSON line carries its EMF metrics", name, f.Note)
		}
	}
	if total := got["log bytes per request, total"]; total.Value < auth.Value+proxy.Value+2*platformLineBytes-1 {
		t.Errorf("total %v B, want the sum of the functions' lines and the platform lines", total.Value)
	}
	t.Logf("%+v", figs)
}
