// Command aistats is the operator CLI of the gateway. `aistats dev` runs the
// whole gateway on this machine (what `make dev` calls).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/pkg/domain/gateway"
)

const usage = `usage: aistats <command> [flags]

commands:
  dev                    run the whole gateway locally (dynalite, seeded demo workspace, API on 127.0.0.1)
  workspace              create, get, disable or enable a workspace
  management-key create  issue a management key (the first one of a new workspace)
  key                    create, list or revoke inference keys
  usage                  a workspace's or a key's analytics: requests by status, tokens, cost, latency
  detect --local         run the anomaly detector once against the local stack
  anomalies              list or resolve a workspace's findings
  webhook                set, show or delete the workspace's alert webhook (through the API)
  workspace-settings     show the workspace, turn auto_disable on or off (through the API)
  smoke                  check a running gateway from the outside (after a deploy)

Operator commands reach DynamoDB with your AWS credentials and the TABLE_*
variables of the deployed stack, or the local stack's with --local.
Run "aistats <command>" without arguments for its usage.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx := context.Background()
	var err error
	switch args[0] {
	case "dev":
		return runDev(args[1:], stdout, stderr)
	case "workspace":
		err = runWorkspace(ctx, args[1:], stdout)
	case "key":
		err = runKey(ctx, gateway.KindInference, args[1:], stdout)
	case "management-key":
		err = runKey(ctx, gateway.KindManagement, args[1:], stdout)
	case "usage":
		err = runUsage(ctx, args[1:], stdout)
	case "detect":
		err = runDetect(ctx, args[1:], stdout, stderr)
	case "anomalies":
		err = runAnomalies(ctx, args[1:], stdout)
	case "webhook", "workspace-settings":
		err = runAPI(ctx, args[0], args[1:], stdout)
	case "smoke":
		err = runSmoke(ctx, args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "aistats: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if u, ok := errors.AsType[usageError](err); ok {
		fmt.Fprintf(stderr, "aistats: %s\n", u.msg)
		return 2
	}
	fmt.Fprintf(stderr, "aistats: %s\n", describeError(err))
	return 1
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", envInt("PORT", 8080), "port of the API on 127.0.0.1 (env PORT)")
	dynamoPort := fs.Int("dynamodb-port", envInt("DYNAMODB_PORT", 8000), "port of dynalite on 127.0.0.1 (env DYNAMODB_PORT)")
	dataDir := fs.String("data", "", "directory for dynalite's data and credentials.env (default <repo>/.dev)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopWithParent()
	err := devstack.Run(ctx, devstack.Config{
		DataDir: *dataDir, Port: *port, DynamoDBPort: *dynamoPort,
		Out:    stdout,
		Logger: slog.New(slog.NewJSONHandler(stderr, nil)),
		// On unless turned off: a first look shows a living workspace.
		DemoHistory: os.Getenv("AISTATS_DEMO_HISTORY") != "0",
	})
	if err != nil {
		fmt.Fprintf(stderr, "aistats dev: %v\n", err)
		return 1
	}
	return 0
}
