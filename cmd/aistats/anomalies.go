package main

import (
	"context"
	"io"
	"time"

	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/handler/management"
)

const anomaliesUsage = `usage: aistats anomalies <list|resolve> --workspace W [flags]

  anomalies list       [--kid K] [--status open|resolved] [--since RFC3339]
  anomalies resolve    <finding id>

Prints what GET /v1/anomalies answers (every page), or resolves one
finding, as POST /v1/anomalies/{id}/resolve does, by the operator.
`

func runAnomalies(ctx context.Context, args []string, stdout io.Writer) error {
	cmd, err := newSubcommand("anomalies", args, anomaliesUsage)
	if err != nil {
		return err
	}
	fs := cmd.flags
	workspace := fs.String("workspace", "", "workspace id (required)")
	kid := fs.String("kid", "", "one key's findings")
	status := fs.String("status", "", "open or resolved")
	since := fs.String("since", "", "findings created at or after, RFC 3339")
	if err := cmd.parse(); err != nil {
		return err
	}
	if *workspace == "" {
		return usageError{"--workspace is required\n\n" + anomaliesUsage}
	}
	opts := findings.ListOptions{KID: *kid, Status: findings.Status(*status), Limit: management.MaxPageSize}
	if opts.Status != "" && opts.Status != findings.Open && opts.Status != findings.Resolved {
		return usageError{"--status must be open or resolved\n\n" + anomaliesUsage}
	}
	if *since != "" {
		if opts.Since, err = time.Parse(time.RFC3339, *since); err != nil {
			return usageError{"--since must be an RFC 3339 time\n\n" + anomaliesUsage}
		}
	}
	store, err := cmd.conn.store(ctx)
	if err != nil {
		return err
	}
	if _, err := store.GetWorkspace(ctx, *workspace); err != nil {
		return err
	}
	switch cmd.verb {
	case "list":
		views := []findings.View{}
		for {
			page, err := store.List(ctx, *workspace, opts)
			if err != nil {
				return err
			}
			for _, f := range page.Findings {
				views = append(views, findings.NewView(f))
			}
			if page.Cursor == "" {
				return printJSON(stdout, views)
			}
			opts.Cursor = page.Cursor
		}
	case "resolve":
		if fs.NArg() != 1 {
			return usageError{"name exactly one finding id\n\n" + anomaliesUsage}
		}
		f, err := store.Resolve(ctx, *workspace, fs.Arg(0), management.OperatorActor, time.Now().UTC())
		if err != nil {
			return err
		}
		return printJSON(stdout, findings.NewView(f))
	}
	return usageError{"unknown command " + cmd.verb + "\n\n" + anomaliesUsage}
}
