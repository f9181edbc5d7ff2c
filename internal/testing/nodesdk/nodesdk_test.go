package nodesdk_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/localstack"
)

// TestNodeSDKsAgainstTheLocalStack starts the local stack and runs sdk.mjs
// with its credentials, as a developer would after `make dev`: the Anthropic
// client's messages.create and messages.stream, its AuthenticationError,
// PermissionDeniedError and RateLimitError, and the OpenAI client's
// responses.create, plain and streamed. The script checks every answer and
// exits non-zero on the first failed expectation of each check.
func TestNodeSDKsAgainstTheLocalStack(t *testing.T) {
	node, npm := lookPath(t, "node"), lookPath(t, "npm")
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if err := install(npm, dir); err != nil {
		t.Fatal(err)
	}
	running := localstack.StartAtNoon(t, filepath.Join(t.TempDir(), ".dev"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "sdk.mjs")
	cmd.Dir = dir
	cmd.Env = append(sdkFreeEnv(), strings.Fields(running.Credentials.Lines())...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node sdk.mjs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "all checks passed") {
		t.Fatalf("node sdk.mjs exited 0 without finishing its checks:\n%s", out)
	}
	t.Logf("node sdk.mjs:\n%s", out)
}

// lookPath finds a program the test needs. Without it the test skips on a
// developer's machine, but fails in CI (CI=true), where a missing node would
// otherwise silently drop the only check of the TypeScript SDKs.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not on PATH: the Node SDK test needs node and npm (%v)", name, err)
	}
	t.Skipf("%s is not on PATH; skipping the Node SDK test (it fails instead under CI=true)", name)
	return ""
}

// install runs npm ci unless node_modules was installed from the current
// lockfile, with the same stamp `make deps` writes, so that `go test` alone
// works on a fresh checkout too. This is the only package that uses it, and
// go test runs a package's tests in one process, so no lock is needed.
func install(npm, dir string) error {
	stamp := filepath.Join(dir, "node_modules", ".installed-from-lock")
	if s, err := os.Stat(stamp); err == nil {
		if l, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil && !s.ModTime().Before(l.ModTime()) {
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	return os.WriteFile(stamp, nil, 0o644)
}

// sdkFreeEnv is this process's environment without the variables the SDKs
// read on their own (ANTHROPIC_BASE_URL, OPENAI_API_KEY, ANTHROPIC_CUSTOM_HEADERS,
// …), so that a developer's real settings cannot change what the script sends.
func sdkFreeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ANTHROPIC_") || strings.HasPrefix(kv, "OPENAI_") || strings.HasPrefix(kv, "AISTATS_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
