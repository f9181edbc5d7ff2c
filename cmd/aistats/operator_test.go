package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/handler/management"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

// cli runs the command in-process against fresh dynalite tables.
type cli struct {
	t    *testing.T
	conn []string
}

func newCLI(t *testing.T) *cli {
	client := dynamotest.NewClient(t)
	tables := dynamotest.NewTables(t, client)
	prefix := strings.TrimSuffix(tables.Keys, "keys")
	return &cli{t: t, conn: []string{"--endpoint", dynamotest.Endpoint(t), "--table-prefix", prefix}}
}

func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errOut strings.Builder
	// Connection flags go after the verb, where each command parses them.
	full := append([]string{args[0], args[1]}, c.conn...)
	full = append(full, args[2:]...)
	code = run(full, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestOperatorBootstrapsAWorkspace(t *testing.T) {
	c := newCLI(t)
	if code, out, errOut := c.run("workspace", "create", "--name", "Acme", "--rpm", "100", "acme"); code != 0 || !strings.Contains(out, `"status": "active"`) {
		t.Fatalf("workspace create: %d %s %s", code, out, errOut)
	}
	code, out, errOut := c.run("management-key", "create", "--workspace", "acme", "--name", "bootstrap")
	if code != 0 {
		t.Fatalf("management-key create: %d %s", code, errOut)
	}
	var mk struct {
		Key    string
		Scopes []string
	}
	if err := json.Unmarshal([]byte(out), &mk); err != nil || !strings.HasPrefix(mk.Key, "aistats_v1_mk_") || len(mk.Scopes) != len(management.AllScopes) {
		t.Fatalf("management key output %s: %v", out, err)
	}
	code, out, _ = c.run("key", "create", "--workspace", "acme", "--name", "app", "--rpd", "3", "--models", "local/echo")
	var key struct {
		KID, Key string
	}
	if err := json.Unmarshal([]byte(out), &key); code != 0 || err != nil {
		t.Fatalf("key create: %d %s", code, out)
	}
	if _, err := keyformat.Parse(key.Key); err != nil {
		t.Fatalf("created key does not parse: %v", err)
	}
	if code, out, _ := c.run("key", "list", "--workspace", "acme"); code != 0 || !strings.Contains(out, key.KID) || strings.Contains(out, key.Key) {
		t.Errorf("key list: %d %s (must list the kid, never the key)", code, out)
	}
	if code, out, _ := c.run("key", "revoke", "--workspace", "acme", key.KID); code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("key revoke: %d %s", code, out)
	}
	if code, out, _ := c.run("workspace", "disable", "acme"); code != 0 || !strings.Contains(out, `"status": "disabled"`) {
		t.Errorf("workspace disable: %d %s", code, out)
	}
	if code, out, _ := c.run("workspace", "get", "acme"); code != 0 || !strings.Contains(out, `"requests_per_minute": 100`) {
		t.Errorf("workspace get: %d %s", code, out)
	}
}

func TestOperatorErrorsGoToStderr(t *testing.T) {
	c := newCLI(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"workspace", "get", "ghost"}, 1, "workspace_not_found"},
		{[]string{"key", "create", "--name", "x"}, 2, "--workspace is required"},
		{[]string{"key", "create", "--workspace", "ghost", "--name", "x"}, 1, "workspace_not_found"},
		{[]string{"workspace", "frobnicate", "x"}, 2, "unknown workspace command"},
		{[]string{"key", "revoke", "--workspace", "ghost"}, 1, "workspace_not_found"},
	}
	for _, tc := range cases {
		code, out, errOut := c.run(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q on stderr", tc.args, code, out, errOut, tc.code, tc.msg)
		}
	}
	c.run("workspace", "create", "acme")
	if code, _, errOut := c.run("key", "create", "--workspace", "acme", "--name", ""); code != 1 || !strings.Contains(errOut, "name must be 1 to 100 characters") {
		t.Errorf("empty name: %d %s", code, errOut)
	}
}
