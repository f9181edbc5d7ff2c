package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/local/localprovider"
	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/pkg/adapter/dynamo"
)

// Config configures the local stack. Zero values take the defaults of
// DESIGN.md §6.
type Config struct {
	// RepoRoot holds template.yaml and infra/; empty means found from the
	// working directory.
	RepoRoot string
	// DataDir keeps dynalite's data and credentials.env; default RepoRoot/.dev.
	DataDir string
	// Port serves the API on 127.0.0.1 (default 8080); DynamoDBPort is
	// dynalite's (default 8000). A negative port picks a free one, for tests.
	Port         int
	DynamoDBPort int
	// Out receives the credentials and status lines; Logger the JSON logs.
	Out    io.Writer
	Logger *slog.Logger
	// Ready, if set, is called once the API answers.
	Ready func(Running)
	// Now is the handlers' clock; nil means time.Now. Tests set it so a
	// rate-limit window cannot roll over between two of their requests.
	Now func() time.Time
	// Getenv reads the functions' settings and provider credentials; nil
	// means os.Getenv.
	Getenv func(string) string
}

// Env is what the handlers are built from.
type Env struct {
	Client dynamo.Client
	Tables dynamo.Tables
	Logger *slog.Logger
	// LocalProviderURL is the base URL of the offline provider "local".
	LocalProviderURL string
	// Now is the clock of every handler; nil means time.Now.
	Now func() time.Time
	// Getenv reads settings and provider credentials; nil means os.Getenv.
	Getenv func(string) string
}

// Running describes a started stack.
type Running struct {
	Credentials      Credentials
	DynamoDBEndpoint string
}

// Tables are the local stack's table names.
var Tables = dynamo.TablesWithPrefix("aistats-local-")

// Run starts everything and serves until ctx is done, then stops every
// process it started.
func Run(ctx context.Context, cfg Config) error {
	root := cfg.RepoRoot
	if root == "" {
		r, err := dynalite.RepoRoot()
		if err != nil {
			return err
		}
		root = r
	}
	dataDir := cfg.DataDir
	if dataDir == "" {
		dataDir = filepath.Join(root, ".dev")
	}
	port := orDefault(cfg.Port, 8080)
	dynamoPort := orDefault(cfg.DynamoDBPort, 8000)
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	// Claim the API port first: failing here leaves nothing to clean up.
	listener, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(max(port, 0)))
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d (set PORT to use another): %w", port, err)
	}
	defer listener.Close()
	if dynamoPort > 0 {
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(dynamoPort)); err != nil {
			return fmt.Errorf("DynamoDB port 127.0.0.1:%d is taken (set DYNAMODB_PORT to use another): %w", dynamoPort, err)
		} else {
			l.Close()
		}
	}

	fmt.Fprintf(out, "starting dynalite on 127.0.0.1:%d (data in %s)\n", max(dynamoPort, 0), filepath.Join(dataDir, "dynamodb"))
	db, err := dynalite.Start(ctx, dynalite.Config{
		InfraDir: filepath.Join(root, "infra"), Port: max(dynamoPort, 0),
		DataDir: filepath.Join(dataDir, "dynamodb"), Output: out,
	})
	if err != nil {
		return err
	}
	defer db.Stop()

	client := dynalite.NewClient(db.Endpoint())
	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := dynamo.CreateTables(setupCtx, client, Tables); err != nil {
		return err
	}
	store := dynamo.New(dynamo.Config{Client: client, Tables: Tables})
	credsPath := filepath.Join(dataDir, "credentials.env")
	previous, _ := ReadCredentials(credsPath) // absent on the first run
	apiKey, mgmtKey, err := Seed(setupCtx, store, previous)
	if err != nil {
		return err
	}
	creds := Credentials{
		BaseURL:       "http://127.0.0.1:" + strconv.Itoa(listener.Addr().(*net.TCPAddr).Port) + "/v1",
		APIKey:        apiKey,
		ManagementKey: mgmtKey,
	}
	if err := WriteCredentials(credsPath, creds); err != nil {
		return fmt.Errorf("write %s: %w", credsPath, err)
	}

	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	api, err := tpl.API("Api")
	if err != nil {
		return err
	}
	// The offline provider: a real HTTP server on loopback.
	providerListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the local provider: %w", err)
	}
	providerServer := &http.Server{Handler: localprovider.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go providerServer.Serve(providerListener)
	defer providerServer.Close()
	localProviderURL := "http://" + providerListener.Addr().String() + "/v1"

	functions, err := LocalFunctions(Env{Client: client, Tables: Tables, Logger: log, LocalProviderURL: localProviderURL, Now: cfg.Now, Getenv: cfg.Getenv})
	if err != nil {
		return fmt.Errorf("build functions: %w", err)
	}
	for _, id := range tpl.OfType("AWS::Serverless::Function") {
		if _, ok := functions[id]; !ok {
			return fmt.Errorf("template.yaml declares %s, which the local stack does not build", id)
		}
	}
	gw, err := apigateway.New(apigateway.Config{API: api, Functions: functions, Logger: log})
	if err != nil {
		return err
	}
	server := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()

	fmt.Fprintf(out, "\nThe gateway is running. Credentials (also in %s):\n\n%s\n", credsPath, creds.Lines())
	fmt.Fprintf(out, "Try: source %s && curl -s $AISTATS_BASE_URL/chat/completions -H \"Authorization: Bearer $AISTATS_API_KEY\" -d '{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}'\nCtrl-C stops everything.\n", credsPath)
	if cfg.Ready != nil {
		cfg.Ready(Running{Credentials: creds, DynamoDBEndpoint: db.Endpoint()})
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-db.Exited():
		return errors.New("dynalite stopped unexpectedly")
	}
	fmt.Fprintln(out, "stopping")
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	return server.Shutdown(shutdownCtx)
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
