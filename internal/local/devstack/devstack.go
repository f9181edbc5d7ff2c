package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aistats/edge/internal/local/childproc"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/local/localprovider"
	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/handler/detector"
)

// Config configures the local stack. Zero values take the defaults of
// docs/architecture.md §9.
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
	// DemoHistory loads 30 days of synthetic traffic with a few anomalies
	// into the demo workspace on its first start (demohistory.go). `aistats
	// dev` turns it on unless AISTATS_DEMO_HISTORY=0; tests leave it off.
	DemoHistory bool
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
	dynamoDB         *supervisedDynamoDB
}

// CrashDynamoDB kills the running dynalite as a crash would, for tests of
// the stack's supervision; the stack restarts it.
func (r Running) CrashDynamoDB() { r.dynamoDB.server().Kill() }

// Tables are the local stack's table names.
var Tables = dynamo.TablesWithPrefix("aistats-local-")

// Run starts everything and serves until ctx is done, then stops every
// process it started.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return err
	}
	release, err := claimDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer release()
	// Claim the API port first: failing here leaves nothing to clean up.
	listener, err := claimPorts(cfg)
	if err != nil {
		return err
	}
	defer listener.Close()

	fmt.Fprintf(cfg.Out, "starting dynalite on 127.0.0.1:%d (data in %s)\n", max(cfg.DynamoDBPort, 0), filepath.Join(cfg.DataDir, "dynamodb"))
	db, err := superviseDynamoDB(ctx, dynalite.Config{
		InfraDir: filepath.Join(cfg.RepoRoot, "infra"), Port: max(cfg.DynamoDBPort, 0),
		DataDir: filepath.Join(cfg.DataDir, "dynamodb"), Output: cfg.Out,
	}, cfg.Out)
	if err != nil {
		return err
	}
	defer db.Stop()

	client := dynalite.NewClient(db.Endpoint())
	creds, credsPath, err := prepare(ctx, cfg, client, listener)
	if err != nil {
		return err
	}
	providerURL, stopProvider, err := startLocalProvider()
	if err != nil {
		return err
	}
	defer stopProvider()
	gw, err := newGateway(cfg, Env{Client: client, Tables: Tables, Logger: cfg.Logger, LocalProviderURL: providerURL, Now: cfg.Now, Getenv: cfg.Getenv})
	if err != nil {
		return err
	}
	det, err := LocalDetector(Env{Client: client, Tables: Tables, Logger: cfg.Logger, LocalProviderURL: providerURL, Now: cfg.Now, Getenv: cfg.Getenv})
	if err != nil {
		return err
	}
	go detectEveryMinute(ctx, det, cfg.Logger)
	server := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()

	fmt.Fprintf(cfg.Out, "\nThe gateway is running. Credentials (also in %s):\n\n%s\n", credsPath, creds.Lines())
	fmt.Fprintf(cfg.Out, "Dashboard: %s/dashboard (sign in with AISTATS_MANAGEMENT_KEY)\n", creds.BaseURL)
	fmt.Fprintf(cfg.Out, "Try: source %s && curl -s $AISTATS_BASE_URL/chat/completions -H \"Authorization: Bearer $AISTATS_API_KEY\" -d '{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}'\nCtrl-C stops everything.\n", credsPath)
	if cfg.Ready != nil {
		cfg.Ready(Running{Credentials: creds, DynamoDBEndpoint: db.Endpoint(), dynamoDB: db})
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(cfg.Out, "stopping")
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	return server.Shutdown(shutdownCtx)
}

// DetectorFunctionID is the scheduled function of template.yaml, which the
// local stack runs on its own timer (detectEveryMinute), not behind the API.
const DetectorFunctionID = "DetectorFunction"

// detectEveryMinute runs the detector as AWS's schedule does, but every
// minute, so that a finding shows up while someone watches. A failed run
// is logged by the detector itself and the next one tries again.
func detectEveryMinute(ctx context.Context, det *detector.Handler, log *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			runCtx, cancel := context.WithTimeout(ctx, 50*time.Second)
			if _, err := det.Run(runCtx); err != nil && ctx.Err() == nil {
				log.Error("scheduled detector run", "error", err.Error())
			}
			cancel()
		}
	}
}

// withDefaults fills in what cfg leaves zero (docs/architecture.md §9).
func withDefaults(cfg Config) (Config, error) {
	if cfg.RepoRoot == "" {
		r, err := dynalite.RepoRoot()
		if err != nil {
			return Config{}, err
		}
		cfg.RepoRoot = r
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(cfg.RepoRoot, ".dev")
	}
	cfg.Port = orDefault(cfg.Port, 8080)
	cfg.DynamoDBPort = orDefault(cfg.DynamoDBPort, 8000)
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// claimDataDir makes sure no other local stack uses dataDir: two dynalites
// on one data directory corrupt it, and the second used to die with a bare
// "Database is closed". The lock is released when the process ends, however
// it ends.
func claimDataDir(dataDir string) (release func(), err error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dataDir, err)
	}
	f, err := os.OpenFile(filepath.Join(dataDir, "stack.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the local stack's lock: %w", err)
	}
	locked, err := childproc.TryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	if !locked {
		f.Close()
		return nil, fmt.Errorf("another local stack (make dev) is already running with its data in %s: "+
			"use that one, or stop it (Ctrl-C in its terminal) and start again", dataDir)
	}
	return func() { childproc.Unlock(f); f.Close() }, nil
}

// claimPorts listens on the API port and checks that dynalite's is free,
// naming the variable that picks another.
func claimPorts(cfg Config) (net.Listener, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(max(cfg.Port, 0)))
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:%d (set PORT to use another): %w", cfg.Port, err)
	}
	if cfg.DynamoDBPort > 0 {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(cfg.DynamoDBPort))
		if err != nil {
			listener.Close()
			return nil, fmt.Errorf("DynamoDB port 127.0.0.1:%d is taken (set DYNAMODB_PORT to use another): %w", cfg.DynamoDBPort, err)
		}
		l.Close()
	}
	return listener, nil
}

// prepare creates the tables, seeds the demo workspace (keeping the keys of
// a previous run) and writes credentials.env.
func prepare(ctx context.Context, cfg Config, client *dynamodb.Client, listener net.Listener) (Credentials, string, error) {
	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := dynamo.CreateTables(setupCtx, client, Tables); err != nil {
		return Credentials{}, "", err
	}
	store := dynamo.New(dynamo.Config{Client: client, Tables: Tables})
	credsPath := filepath.Join(cfg.DataDir, "credentials.env")
	previous, _ := ReadCredentials(credsPath) // absent on the first run
	apiKey, mgmtKey, err := Seed(setupCtx, store, previous)
	if err != nil {
		return Credentials{}, "", err
	}
	if cfg.DemoHistory {
		now := time.Now
		if cfg.Now != nil {
			now = cfg.Now
		}
		fmt.Fprintln(cfg.Out, "loading the demo workspace's history (once; AISTATS_DEMO_HISTORY=0 skips it)")
		// Its own deadline: some ten thousand writes take far longer than
		// the tables' setup on a busy machine.
		historyCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := seedDemoHistory(historyCtx, store, now().UTC()); err != nil {
			return Credentials{}, "", err
		}
	}
	creds := Credentials{
		BaseURL:       "http://127.0.0.1:" + strconv.Itoa(listener.Addr().(*net.TCPAddr).Port) + "/v1",
		APIKey:        apiKey,
		ManagementKey: mgmtKey,
	}
	if err := WriteCredentials(credsPath, creds); err != nil {
		return Credentials{}, "", fmt.Errorf("write %s: %w", credsPath, err)
	}
	return creds, credsPath, nil
}

// startLocalProvider serves the offline provider on loopback, a real HTTP
// server as a provider would be.
func startLocalProvider() (baseURL string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen for the local provider: %w", err)
	}
	srv := &http.Server{Handler: localprovider.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return "http://" + l.Addr().String() + "/v1", func() { srv.Close() }, nil
}

// newGateway builds every function of template.yaml and the API Gateway
// emulator in front of them.
func newGateway(cfg Config, env Env) (*apigateway.Server, error) {
	tpl, err := samtemplate.Load(filepath.Join(cfg.RepoRoot, "template.yaml"))
	if err != nil {
		return nil, err
	}
	api, err := tpl.API("Api")
	if err != nil {
		return nil, err
	}
	functions, err := LocalFunctions(env)
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	for _, id := range tpl.OfType("AWS::Serverless::Function") {
		if _, ok := functions[id]; !ok && id != DetectorFunctionID {
			return nil, fmt.Errorf("template.yaml declares %s, which the local stack does not build", id)
		}
	}
	return apigateway.New(apigateway.Config{API: api, Functions: functions, Logger: cfg.Logger})
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
