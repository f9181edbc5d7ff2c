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
	if !strings.HasPrefix(proxy.Note, "2.0 lines") {
		t.Errorf("proxy note %q, want 2 lines per request (JSON and EMF)", proxy.Note)
	}
	if total := got["log bytes per request, total"]; total.Value < auth.Value+proxy.Value+2*platformLineBytes-1 {
		t.Errorf("total %v B, want the sum of the functions' lines and the platform lines", total.Value)
	}
	t.Logf("%+v", figs)
}
