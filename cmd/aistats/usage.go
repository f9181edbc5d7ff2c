package main

import (
	"context"
	"io"
	"time"

	"github.com/aistats/edge/pkg/handler/management"
)

const usageCommandUsage = `usage: aistats usage --workspace W [--kid K] [flags]

  --group-by key|model|status   split the series (default: one series)
  --granularity hour|day        bucket size (default day)
  --from, --to                  RFC 3339 time or YYYY-MM-DD (default the last 7 days)

Prints what GET /v1/analytics (or GET /v1/keys/{kid}/analytics with --kid)
answers, as JSON. A key's figures are exact at once; a workspace's are as
fresh as the rollup job's last run (aistats detect runs it).
`

func runUsage(ctx context.Context, args []string, stdout io.Writer) error {
	cmd, err := newSubcommand("usage", append([]string{"show"}, args...), usageCommandUsage)
	if err != nil {
		return err
	}
	fs := cmd.flags
	workspace := fs.String("workspace", "", "workspace id (required)")
	kid := fs.String("kid", "", "one key of the workspace")
	groupBy := fs.String("group-by", "", "key, model or status")
	granularity := fs.String("granularity", "", "hour or day")
	from := fs.String("from", "", "start")
	to := fs.String("to", "", "end (exclusive)")
	if err := cmd.parse(); err != nil {
		return err
	}
	if *workspace == "" {
		return usageError{"--workspace is required\n\n" + usageCommandUsage}
	}
	q := map[string]string{}
	for name, v := range map[string]string{"group_by": *groupBy, "granularity": *granularity, "from": *from, "to": *to} {
		if v != "" {
			q[name] = v
		}
	}
	store, err := cmd.conn.store(ctx)
	if err != nil {
		return err
	}
	if _, err := store.GetWorkspace(ctx, *workspace); err != nil {
		return err
	}
	svc := management.NewService(store, nil, nil)
	a, err := management.ParseAnalyticsQuery(q, time.Now())
	if err != nil {
		return err
	}
	view, err := svc.Analytics(ctx, management.Actor{KID: management.OperatorActor, WorkspaceID: *workspace}, store, *kid, a)
	if err != nil {
		return err
	}
	return printJSON(stdout, view)
}
