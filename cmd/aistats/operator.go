package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aistats/edge/internal/local/dynalite"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/management"
)

// connection flags shared by the operator commands.
type connection struct {
	local    bool
	endpoint string
	prefix   string
}

func (c *connection) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.local, "local", false, "use the local stack's dynalite (127.0.0.1:$DYNAMODB_PORT, default 8000)")
	fs.StringVar(&c.endpoint, "endpoint", "", "DynamoDB endpoint URL (a local server); default: AWS")
	fs.StringVar(&c.prefix, "table-prefix", "", "table name prefix, with --endpoint; default: TABLE_* variables")
}

// store opens the tables: the local stack's, a given endpoint's, or AWS's
// with the names the deployed stack exported into TABLE_* variables.
func (c *connection) store(ctx context.Context) (*dynamo.Store, error) {
	switch {
	case c.local:
		return dynamo.New(dynamo.Config{Client: dynalite.NewClient("http://127.0.0.1:" + strconv.Itoa(envInt("DYNAMODB_PORT", 8000))), Tables: devstack.Tables}), nil
	case c.endpoint != "":
		tables := devstack.Tables
		if c.prefix != "" {
			tables = dynamo.TablesWithPrefix(c.prefix)
		}
		return dynamo.New(dynamo.Config{Client: dynalite.NewClient(c.endpoint), Tables: tables}), nil
	}
	tables, err := dynamo.TablesFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%w (export them from the stack's outputs, or use --local for make dev)", err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return dynamo.New(dynamo.Config{Client: dynamodb.NewFromConfig(cfg), Tables: tables}), nil
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const workspaceUsage = `usage: aistats workspace <create|get|disable|enable> [flags] <id>

  create   --name N --providers p1,p2 --models m1,m2 --rpm N   (plan; "*" allows all)
           ` + budgetFlagsUsage + `   (the workspace's budgets across its keys)
  get      prints the workspace
  disable  refuses every key of the workspace from its next request
  enable   lets them through again
`

// subcommand is what every `aistats <group> <verb> [flags]` starts with: the
// verb, and a flag set that already knows the connection flags.
type subcommand struct {
	verb  string
	flags *flag.FlagSet
	conn  connection
	args  []string
	usage string
}

// newSubcommand reads the verb of args, or answers with the group's usage
// when there is none.
func newSubcommand(group string, args []string, usage string) (*subcommand, error) {
	if len(args) == 0 {
		return nil, usageError{usage}
	}
	c := &subcommand{verb: args[0], args: args[1:], usage: usage}
	c.flags = flag.NewFlagSet(group+" "+c.verb, flag.ContinueOnError)
	c.flags.SetOutput(io.Discard)
	c.conn.register(c.flags)
	return c, nil
}

// parse reads the flags after the verb; a mistake is answered with the
// group's usage.
func (c *subcommand) parse() error {
	if err := c.flags.Parse(c.args); err != nil {
		return usageError{err.Error() + "\n\n" + c.usage}
	}
	return nil
}

func runWorkspace(ctx context.Context, args []string, stdout io.Writer) error {
	cmd, err := newSubcommand("workspace", args, workspaceUsage)
	if err != nil {
		return err
	}
	verb, fs := cmd.verb, cmd.flags
	name := fs.String("name", "", "display name")
	providers := fs.String("providers", "*", "allowed providers, comma-separated")
	models := fs.String("models", "*", "allowed models, comma-separated")
	rpm := fs.Int64("rpm", 0, "the workspace's own requests per minute across its keys (0: none)")
	budgets := budgetFlags(fs)
	if err := cmd.parse(); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"name exactly one workspace id\n\n" + workspaceUsage}
	}
	id := fs.Arg(0)
	store, err := cmd.conn.store(ctx)
	if err != nil {
		return err
	}
	var ws gateway.Workspace
	switch verb {
	case "create":
		if *rpm < 0 {
			return usageError{"--rpm must not be negative"}
		}
		limits, err := budgets()
		if err != nil {
			return err
		}
		ws = gateway.Workspace{ID: id, Name: *name, Plan: gateway.Plan{Providers: splitList(*providers), Models: splitList(*models), RequestsPerMinute: *rpm, Limits: limits}}
		if err := store.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		ws, err = store.GetWorkspace(ctx, id)
	case "get":
		ws, err = store.GetWorkspace(ctx, id)
	case "disable":
		ws, err = store.SetWorkspaceStatus(ctx, id, gateway.WorkspaceDisabled)
	case "enable":
		ws, err = store.SetWorkspaceStatus(ctx, id, gateway.WorkspaceActive)
	default:
		return usageError{"unknown workspace command " + verb + "\n\n" + workspaceUsage}
	}
	if err != nil {
		return err
	}
	return printJSON(stdout, map[string]any{"id": ws.ID, "name": ws.Name, "status": ws.Status, "plan": ws.Plan,
		"created_at": ws.CreatedAt, "updated_at": ws.UpdatedAt})
}

// createKey creates a key to spec, expiring at expires (RFC 3339) unless
// that is empty, and prints it with its full text, which is shown only once.
func createKey(ctx context.Context, svc *management.Service, actor management.Actor, kind gateway.KeyKind, spec management.KeySpec, expires string, stdout io.Writer) error {
	if expires != "" {
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			return usageError{"--expires-at must be an RFC 3339 time"}
		}
		spec.ExpiresAt = &t
	}
	k, text, err := svc.CreateKey(ctx, actor, kind, spec)
	if err != nil {
		return err
	}
	v := management.NewKeyView(k, nil, time.Now())
	v.Key = text
	return printJSON(stdout, v)
}

// listAllKeys reads every page of a workspace's keys of kind, as the
// terminal shows one list, never a page.
func listAllKeys(ctx context.Context, svc *management.Service, actor management.Actor, kind gateway.KeyKind, unusedDays int) ([]management.KeyView, error) {
	all := []management.KeyView{}
	cursor := ""
	for {
		views, next, err := svc.ListKeys(ctx, actor, kind, 100, cursor, unusedDays)
		if err != nil {
			return nil, err
		}
		all = append(all, views...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

const keyUsage = `usage: aistats key <create|list|revoke> --workspace W [flags]
       aistats management-key create --workspace W --name N [--scopes s1,s2]

  key create            --name N [--models m1,m2] [--providers p1,p2] [--rpm N] [--rpd N] [--rpmo N] [--expires-at RFC3339]
                        ` + budgetFlagsUsage + `
  key list              [--unused-for-days N]
  key revoke <kid>
  management-key create  the first management key of a new workspace; scopes default to all

The full key is printed once, on creation; it cannot be shown again.
`

func runKey(ctx context.Context, kind gateway.KeyKind, args []string, stdout io.Writer) error {
	cmd, err := newSubcommand("key", args, keyUsage)
	if err != nil {
		return err
	}
	verb, fs := cmd.verb, cmd.flags
	workspace := fs.String("workspace", "", "workspace id (required)")
	name := fs.String("name", "", "key name")
	models := fs.String("models", "", "allowed models, comma-separated")
	providers := fs.String("providers", "", "allowed providers, comma-separated")
	scopes := fs.String("scopes", strings.Join(management.AllScopes, ","), "management key scopes")
	rpm := fs.Int64("rpm", 0, "requests per minute (0: unlimited)")
	rpd := fs.Int64("rpd", 0, "requests per day (0: unlimited)")
	rpmo := fs.Int64("rpmo", 0, "requests per month (0: unlimited)")
	budgets := budgetFlags(fs)
	expires := fs.String("expires-at", "", "expiry, RFC 3339")
	unused := fs.Int("unused-for-days", 0, "list only keys unused for this many days")
	if err := cmd.parse(); err != nil {
		return err
	}
	if *workspace == "" {
		return usageError{"--workspace is required\n\n" + keyUsage}
	}
	store, err := cmd.conn.store(ctx)
	if err != nil {
		return err
	}
	if _, err := store.GetWorkspace(ctx, *workspace); err != nil {
		return err
	}
	svc := management.NewService(store, nil, nil)
	actor := management.Actor{KID: management.OperatorActor, WorkspaceID: *workspace}
	switch {
	case verb == "create":
		limits, err := budgets()
		if err != nil {
			return err
		}
		spec := management.KeySpec{Name: *name, Limits: gateway.Limits{RequestsPerMinute: *rpm, RequestsPerDay: *rpd, RequestsPerMonth: *rpmo, Limits: limits}}
		if kind == gateway.KindManagement {
			spec.Scopes = splitList(*scopes)
		} else {
			spec.Models, spec.Providers = splitList(*models), splitList(*providers)
		}
		return createKey(ctx, svc, actor, kind, spec, *expires, stdout)
	case verb == "list" && kind == gateway.KindInference:
		all, err := listAllKeys(ctx, svc, actor, kind, *unused)
		if err != nil {
			return err
		}
		return printJSON(stdout, all)
	case verb == "revoke" && kind == gateway.KindInference:
		if fs.NArg() != 1 {
			return usageError{"name exactly one kid to revoke\n\n" + keyUsage}
		}
		if err := svc.RevokeKey(ctx, actor, kind, fs.Arg(0)); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return err
	}
	return usageError{"unknown command " + verb + "\n\n" + keyUsage}
}

// describeError renders an error for the terminal: a gateway error's
// sentence and code, anything else as it is.
func describeError(err error) string {
	if e, ok := errors.AsType[*gateway.Error](err); ok {
		msg := e.Message + " (" + string(e.Code) + ")"
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
		return msg
	}
	return err.Error()
}
