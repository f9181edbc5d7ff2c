package devstack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/loopback"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/testing/syncbuf"
)

// startStack runs the stack until the returned stop is called, which waits
// for Run to return.
func startStack(t *testing.T, dataDir string, dynamoPort int) (testStack, *syncbuf.Buffer, func()) {
	t.Helper()
	running, out, _, stop := startStackWithLogs(t, dataDir, dynamoPort)
	return running, out, stop
}

// testStack is a started stack and the clock its handlers read.
type testStack struct {
	devstack.Running
	Now func() time.Time
}

// windowStartClock runs the wall clock shifted back so that it reads one
// second past a whole UTC minute now: a test has 59 s before any rate-limit
// window (minute, day, month) can roll over between two of its requests.
func windowStartClock() func() time.Time {
	start := time.Now()
	shift := start.Sub(start.Truncate(time.Minute)) - time.Second
	return func() time.Time { return time.Now().Add(-shift) }
}

// startStackWithLogs also returns every JSON log line the stack writes.
func startStackWithLogs(t *testing.T, dataDir string, dynamoPort int) (testStack, *syncbuf.Buffer, *syncbuf.Buffer, func()) {
	t.Helper()
	now := windowStartClock()
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan devstack.Running, 1)
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- devstack.Run(ctx, devstack.Config{
			DataDir: dataDir, Port: -1, DynamoDBPort: dynamoPort, Out: out,
			Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			Ready:  func(r devstack.Running) { ready <- r },
			Now:    now,
		})
	}()
	select {
	case c := <-ready:
		return testStack{Running: c, Now: now}, out, logs, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("Run ended before it was ready: %v\n%s", err, out)
	case <-time.After(3 * time.Minute):
		cancel()
		t.Fatalf("stack not ready in time\n%s", out)
	}
	panic("unreachable")
}

func TestDevStack(t *testing.T) {
	dataDir := t.TempDir()
	dynamoPort := loopback.TestPort(t)
	running, out, stop := startStack(t, dataDir, dynamoPort)
	creds := running.Credentials

	t.Run("credentials file is exactly the three lines", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(dataDir, "credentials.env"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "AISTATS_BASE_URL=http://127.0.0.1:") ||
			!strings.HasSuffix(lines[0], "/v1") || !strings.HasPrefix(lines[1], "AISTATS_API_KEY=aistats_v1_sk_") ||
			!strings.HasPrefix(lines[2], "AISTATS_MANAGEMENT_KEY=aistats_v1_mk_") {
			t.Errorf("credentials.env = %q", raw)
		}
		if fi, _ := os.Stat(filepath.Join(dataDir, "credentials.env")); fi.Mode().Perm() != 0o600 {
			t.Errorf("credentials.env mode %v, want 0600: it holds keys", fi.Mode().Perm())
		}
		if !strings.Contains(out.String(), creds.Lines()) {
			t.Error("the credentials were not printed")
		}
	})

	t.Run("no key is a 401 in the shape of docs/architecture.md §4", func(t *testing.T) {
		resp, err := http.Get(creds.BaseURL + "/models")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error struct {
				Type, Code, Message string
				Param               *string
			}
			RequestID string `json:"request_id"`
		}
		raw, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("body %s: %v", raw, err)
		}
		if resp.StatusCode != 401 || body.Error.Code != "missing_authorization" || body.Error.Type != "authentication_error" ||
			body.RequestID == "" || resp.Header.Get("x-request-id") != body.RequestID {
			t.Errorf("answer %d %s", resp.StatusCode, raw)
		}
	})

	stop()
	if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(dynamoPort)); err == nil {
		conn.Close()
		t.Fatal("dynalite still listens after the stack stopped")
	}

	again, _, stopAgain := startStack(t, dataDir, dynamoPort)
	defer stopAgain()
	if again.Credentials.APIKey != creds.APIKey || again.Credentials.ManagementKey != creds.ManagementKey {
		t.Error("a restart issued new keys; the old ones must stay valid")
	}
}
