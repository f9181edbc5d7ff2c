package readme_test

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/localstack"

	"github.com/aistats/edge/internal/testing/dynamotest"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

// block is one fenced code block of the README.
type block struct {
	line int    // where its fence opens, 1-based
	lang string // the fence's info string
	// marker is the HTML comment on the line before the fence:
	// "runnable", "not runnable: <why>", or "" for none.
	marker string
	text   string
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readBlocks returns the README's fenced blocks in order.
func readBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks   []block
		current  *block
		previous string
		body     strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case current == nil && strings.HasPrefix(line, "```"):
			marker := ""
			if m, ok := strings.CutPrefix(strings.TrimSpace(previous), "<!--"); ok {
				marker = strings.TrimSpace(strings.TrimSuffix(m, "-->"))
			}
			current = &block{line: n, lang: strings.TrimPrefix(line, "```"), marker: marker}
			body.Reset()
		case current != nil && line == "```":
			current.text = body.String()
			blocks = append(blocks, *current)
			current = nil
		case current != nil:
			body.WriteString(line + "\n")
		}
		previous = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if current != nil {
		t.Fatalf("README.md:%d: a code block is never closed", current.line)
	}
	return blocks
}

// Every shell and Go block says whether it runs here, so that a new one
// cannot be skipped by accident.
func TestEveryShellAndGoBlockIsMarked(t *testing.T) {
	for _, b := range readBlocks(t, filepath.Join(repoRoot(t), "README.md")) {
		if b.lang != "sh" && b.lang != "go" {
			continue
		}
		if b.marker != "runnable" && !strings.HasPrefix(b.marker, "not runnable: ") {
			t.Errorf("README.md:%d: a ```%s block must follow <!-- runnable --> or <!-- not runnable: why -->", b.line, b.lang)
		}
	}
}

// TestReadmeRunsAsWritten starts a local stack as `make dev` does and runs
// every runnable shell block, in order, from the repository's root, each
// in `bash -euo pipefail`: a command that fails, or a jq capture that finds
// nothing, fails the test. Two paths are pointed at this test's own stack
// rather than a developer's: .dev/credentials.env and bin/aistats. Then it
// runs the Go snippet as a program of this module.
func TestReadmeRunsAsWritten(t *testing.T) {
	root := repoRoot(t)
	blocks := readBlocks(t, filepath.Join(root, "README.md"))
	dataDir := filepath.Join(t.TempDir(), ".dev")
	running := localstack.StartOnTheWallClock(t, dataDir)
	endpoint, err := url.Parse(running.DynamoDBEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "aistats")
	env := append(os.Environ(), "DYNAMODB_PORT="+endpoint.Port())
	ran := 0
	for _, b := range blocks {
		if b.marker != "runnable" {
			continue
		}
		switch b.lang {
		case "sh":
			script := strings.ReplaceAll(b.text, ".dev/credentials.env", filepath.Join(dataDir, "credentials.env"))
			script = strings.ReplaceAll(script, "bin/aistats", bin)
			out, err := run(root, env, 3*time.Minute, "bash", "-euo", "pipefail", "-c", script)
			if err != nil {
				t.Errorf("README.md:%d: the block failed: %v\n%s", b.line, err, out)
			} else if want, got := statedStatuses(b.text), printedStatuses(out); !slices.Equal(got, want) {
				t.Errorf("README.md:%d: the block printed statuses %v; its comments state %v\n%s", b.line, got, want, out)
			}
		case "go":
			out, err := runGoSnippet(t, root, b.text, append(env, strings.Fields(running.Credentials.Lines())...))
			if err != nil {
				t.Errorf("README.md:%d: the Go snippet failed: %v\n%s", b.line, err, out)
			} else if !strings.Contains(out, "hello") {
				t.Errorf("README.md:%d: the Go snippet printed %q; want the echoed %q", b.line, out, "hello")
			}
		default:
			t.Errorf("README.md:%d: a runnable block in %q, which this test cannot run", b.line, b.lang)
		}
		ran++
	}
	if ran < 4 {
		t.Errorf("ran %d README blocks; the README has at least 4 runnable ones", ran)
	}
}

// statedStatuses reads, in order, the status each command that prints one
// (curl -w '  → %{http_code}') states in its comment, "# 401 …": so a
// README whose answers drift fails, not only one whose commands break.
func statedStatuses(block string) []string {
	var out []string
	for _, command := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
		if !strings.Contains(command, "%{http_code}") {
			continue
		}
		m := statedStatus.FindStringSubmatch(command)
		if m == nil {
			out = append(out, "(no # NNN comment)")
			continue
		}
		out = append(out, m[1])
	}
	return out
}

// printedStatuses reads the statuses curl printed, in order.
func printedStatuses(output string) []string {
	var out []string
	for _, m := range printedStatus.FindAllStringSubmatch(output, -1) {
		out = append(out, m[1])
	}
	return out
}

var (
	statedStatus  = regexp.MustCompile(`# (\d{3})\b`)
	printedStatus = regexp.MustCompile(`(?m)→ (\d{3})\s*$`)
)

// runGoSnippet writes the snippet as a main package inside this module (in
// testdata, which ./... skips) and runs it.
func runGoSnippet(t *testing.T, root, src string, env []string) (string, error) {
	t.Helper()
	dir := filepath.Join(root, "internal", "testing", "readme", "testdata", "snippet")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return run(root, env, 3*time.Minute, "go", "run", "./internal/testing/readme/testdata/snippet")
}

func run(dir string, env []string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}
