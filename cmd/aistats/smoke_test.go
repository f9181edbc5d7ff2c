package main

import (
	"strings"
	"testing"
)

// TestSmokeCommandLine: the management key comes only from the
// environment, and a wrong command line is a usage error (exit 2). The
// checks themselves are tested in internal/smoke against the local stack.
func TestSmokeCommandLine(t *testing.T) {
	t.Setenv("AISTATS_BASE_URL", "")
	t.Setenv("AISTATS_MANAGEMENT_KEY", "")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no key in the environment", []string{"smoke", "--base-url", "http://127.0.0.1:1/v1"}, nil, "set AISTATS_MANAGEMENT_KEY"},
		{"no base URL", []string{"smoke"}, map[string]string{"AISTATS_MANAGEMENT_KEY": "aistats_v1_mk_x"}, "--base-url"},
		{"a key given as a flag", []string{"smoke", "--management-key", "aistats_v1_mk_x"}, nil, "flag provided but not defined"},
		{"a stray argument", []string{"smoke", "extra"}, map[string]string{"AISTATS_MANAGEMENT_KEY": "k", "AISTATS_BASE_URL": "http://127.0.0.1:1/v1"}, "unexpected argument extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errOut strings.Builder
			if code := run(tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tc.want)
			}
		})
	}
	t.Run("an unreachable gateway fails every check it can make", func(t *testing.T) {
		t.Setenv("AISTATS_MANAGEMENT_KEY", "aistats_v1_mk_x")
		var out, errOut strings.Builder
		code := run([]string{"smoke", "--base-url", "http://127.0.0.1:1/v1"}, &out, &errOut)
		if code != 1 || !strings.Contains(out.String(), "FAIL a request without a key is refused") || !strings.Contains(errOut.String(), "checks failed") {
			t.Errorf("exit %d\nstdout %s\nstderr %s", code, out.String(), errOut.String())
		}
		if strings.Contains(out.String()+errOut.String(), "aistats_v1_mk_x") {
			t.Error("the management key was printed")
		}
	})
}
