package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/aistats/edge/internal/smoke"
)

const smokeUsage = `usage: aistats smoke [--base-url URL] [--model MODEL]

Checks a running gateway from the outside, as a client would: the refusals
(no key, bad checksum), a throwaway key's whole life (create, call, 429 past
its limit, usage, revoke) and, with --model, a chat completion, plain and
streamed. Run it after "sam deploy" with the stack's ApiBaseUrl output.

The management key comes from AISTATS_MANAGEMENT_KEY, never from a flag, so
it stays out of shell history. --base-url defaults to AISTATS_BASE_URL, so
"set -a; . .dev/credentials.env; set +a" (which exports both) points it at
the local stack.

flags:
  --base-url URL   the API's base URL, ending in /v1
  --model MODEL    also call this model (needs its provider's key deployed)
`

func runSmoke(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("smoke", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	baseURL := fs.String("base-url", os.Getenv("AISTATS_BASE_URL"), "")
	model := fs.String("model", "", "")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error() + "\n\n" + smokeUsage}
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + fs.Arg(0) + "\n\n" + smokeUsage}
	}
	key := os.Getenv("AISTATS_MANAGEMENT_KEY")
	if *baseURL == "" || key == "" {
		return usageError{"set AISTATS_MANAGEMENT_KEY and --base-url (or AISTATS_BASE_URL)\n\n" + smokeUsage}
	}
	return smoke.Run(ctx, smoke.Config{BaseURL: *baseURL, ManagementKey: key, Model: *model}, stdout)
}
