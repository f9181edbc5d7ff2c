package devstack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/devstack"
)

// A dynalite that dies does not take the local stack down: while it is down
// requests answer 503 (as in AWS when DynamoDB is unreachable), never a
// refused connection; it is restarted with its data, so the seeded keys
// work again; and the console says what happened.
func TestACrashedDynaliteIsRestartedWithItsData(t *testing.T) {
	running, out, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	models := func() (int, error) {
		req, _ := http.NewRequest("GET", running.Credentials.BaseURL+"/models", nil)
		req.Header.Set("Authorization", "Bearer "+running.Credentials.APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if status, err := models(); err != nil || status != 200 {
		t.Fatalf("before the crash: %d %v, want 200", status, err)
	}
	running.CrashDynamoDB()
	seen := map[int]int{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, err := models()
		if err != nil {
			t.Fatalf("the gateway itself stopped answering: %v", err)
		}
		seen[status]++
		if status == 200 {
			break
		}
		if status != 503 {
			t.Fatalf("while dynalite was down: %d, want 503", status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("dynalite was not back within a minute (answers %v)\n%s", seen, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"dynalite stopped unexpectedly", "dynalite is back on"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
}

// A second local stack on the same data directory is refused at once with
// a sentence saying what to do, instead of dying later on a dynalite whose
// database the first one holds.
func TestASecondStackOnTheSameDataIsRefused(t *testing.T) {
	dataDir := t.TempDir()
	_, _, stop := startStack(t, dataDir, -1)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := devstack.Run(ctx, devstack.Config{DataDir: dataDir, Port: -1, DynamoDBPort: -1})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second stack: %v, want a refusal saying one is already running", err)
	}
}
