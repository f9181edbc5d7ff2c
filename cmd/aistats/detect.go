package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/local/dynalite"
)

const detectUsage = `usage: aistats detect --local

Runs the detector once against the local stack (make dev), as its
scheduler does every minute: folds spilled usage in, sums the workspace
rollups, and raises findings for the keys active in the last hours; then
prints what it did. In AWS the DetectorFunction runs every 5 minutes;
invoke it to run it at once.
`

func runDetect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, err := newSubcommand("detect", append([]string{"run"}, args...), detectUsage)
	if err != nil {
		return err
	}
	if err := cmd.parse(); err != nil {
		return err
	}
	if !cmd.conn.local || cmd.conn.endpoint != "" {
		return usageError{"only --local is supported\n\n" + detectUsage}
	}
	det, err := devstack.LocalDetector(devstack.Env{
		Client: dynalite.NewClient("http://127.0.0.1:" + strconv.Itoa(envInt("DYNAMODB_PORT", 8000))),
		Tables: devstack.Tables, Logger: slog.New(slog.NewJSONHandler(stderr, nil)), Getenv: os.Getenv,
	})
	if err != nil {
		return err
	}
	rep, err := det.Run(ctx)
	if perr := printJSON(stdout, rep); perr != nil {
		return perr
	}
	return err
}
