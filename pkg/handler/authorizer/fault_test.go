package authorizer_test

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/testclock"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/syncbuf"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

// seedKey creates a workspace and an inference key in fresh tables.
func seedKey(t *testing.T, store *dynamo.Store) string {
	t.Helper()
	ctx := context.Background()
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: "acme", Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateKey(ctx, gateway.Key{KID: g.Token.KID, WorkspaceID: "acme", Kind: gateway.KindInference, Name: "k",
		Prefix: g.Token.Prefix(), SecretHash: g.Hash}); err != nil {
		t.Fatal(err)
	}
	return g.Text
}

// faultEnv is an authorizer whose DynamoDB the test can break.
func faultEnv(t *testing.T, endpoint string, tables dynamo.Tables) *env {
	t.Helper()
	store := dynamo.New(dynamo.Config{Client: dynalite.NewClient(endpoint), Tables: tables})
	h, err := authorizer.New(authorizer.Config{Store: store, StoreTimeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: store, tables: tables, handler: h, invoke: lambda.NewHandler(h.Handle), calls: new(atomic.Int64),
		clock: testclock.At(time.Now()), logs: &syncbuf.Buffer{}}
}

// TestDynamoDBStoppedMidRun: while DynamoDB is down every request fails
// closed (503, never Allow) within the store deadline, and once it is back
// requests succeed with no manual step.
func TestDynamoDBStoppedMidRun(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dataDir := t.TempDir()
	start := func() *dynalite.Server {
		srv, err := dynalite.Start(ctx, dynalite.Config{Port: port, DataDir: dataDir})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	tables := dynamo.TablesWithPrefix("fault-")
	if err := dynamo.CreateTables(ctx, dynalite.NewClient(srv.Endpoint()), tables); err != nil {
		t.Fatal(err)
	}
	e := faultEnv(t, srv.Endpoint(), tables)
	key := seedKey(t, e.store)
	wantAllow(t, e.authorize("chat_completions.json", key))

	srv.Stop()
	for i := range 5 {
		began := time.Now()
		r := e.authorize("chat_completions.json", key)
		if r.Err == nil {
			t.Fatalf("request %d with DynamoDB down: %s, want an error (503)", i, r.Effect)
		}
		if took := time.Since(began); took > 3*time.Second {
			t.Errorf("request %d took %s with DynamoDB down", i, took)
		}
	}

	srv = start()
	defer srv.Stop()
	var last result
	for i := 0; i < 3; i++ {
		if last = e.authorize("chat_completions.json", key); last.Err == nil && last.Effect == "Allow" {
			return
		}
	}
	t.Fatalf("after DynamoDB came back: %s %v, want Allow", last.Effect, last.Err)
}

// TestSlowDynamoDBIsBounded: a DynamoDB slower than the deadline gives a
// prompt error, not a hang until the Lambda timeout.
func TestSlowDynamoDBIsBounded(t *testing.T) {
	e := newEnv(t)
	key, _ := e.key("acme", gateway.KindInference, gateway.Limits{})
	// A DynamoDB that never answers in time. It reads the request first, so
	// it notices the client leaving, and it never forwards anything: a
	// request cut off on its way to dynalite could take dynalite down.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(3 * time.Second):
			http.Error(w, "too late", http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	slowEnv := faultEnv(t, slow.URL, e.tables)
	wantErrorWithin(t, slowEnv, key, 1500*time.Millisecond)
}
