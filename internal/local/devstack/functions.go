package devstack

import (
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/pkg/handler/detector"
	"github.com/aistats/edge/pkg/wiring"
)

// LocalFunctions builds the Lambda handlers that the local stack serves,
// keyed by their logical ids in template.yaml, with the very constructors
// and settings reader that functions/<name>/main.go use in AWS
// (pkg/wiring). Only what differs locally is set here: the local tables,
// provider credentials from the environment, the offline provider's URL.
// Every other setting (AUTH_STORE_TIMEOUT_SECONDS, PER_KEY_METRICS, …) is
// read from this process's environment, so it means the same under
// `make dev` as deployed, and a malformed one stops `make dev` too.
func LocalFunctions(env Env) (map[string]apigateway.Function, error) {
	settings, deps, err := localWiring(env)
	if err != nil {
		return nil, err
	}
	auth, err := wiring.Authorizer(settings, deps)
	if err != nil {
		return nil, err
	}
	mgmt, err := wiring.Management(settings, deps)
	if err != nil {
		return nil, err
	}
	px, err := wiring.Proxy(settings, deps)
	if err != nil {
		return nil, err
	}
	return map[string]apigateway.Function{
		"AuthorizerFunction": lambda.NewHandler(auth.Handle),
		"ManagementFunction": lambda.NewHandler(mgmt.Handle),
		"ProxyFunction":      apigateway.StreamingHandler(px.Handle),
	}, nil
}

// LocalDetector builds the scheduled detector as LocalFunctions builds the
// API's functions: the local stack runs it every minute, `aistats detect
// --local` once.
func LocalDetector(env Env) (*detector.Handler, error) {
	settings, deps, err := localWiring(env)
	if err != nil {
		return nil, err
	}
	return wiring.Detector(settings, deps)
}

// localWiring is the settings and dependencies of every local function.
func localWiring(env Env) (wiring.Settings, wiring.Deps, error) {
	local := map[string]string{
		"TABLE_WORKSPACES":     env.Tables.Workspaces,
		"TABLE_KEYS":           env.Tables.Keys,
		"TABLE_COUNTERS":       env.Tables.Counters,
		"TABLE_USAGE":          env.Tables.Usage,
		"TABLE_AUDIT":          env.Tables.Audit,
		"TABLE_FINDINGS":       env.Tables.Findings,
		"PROVIDER_CREDENTIALS": wiring.CredentialsFromEnv,
		"LOCAL_PROVIDER_URL":   env.LocalProviderURL,
		// Webhook receivers on this machine are http on loopback; in AWS a
		// webhook must be https to a public address.
		"WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
	}
	getenv := env.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	settings, err := wiring.FromEnv(func(name string) string {
		if v, ok := local[name]; ok {
			return v
		}
		return getenv(name)
	})
	if err != nil {
		return wiring.Settings{}, wiring.Deps{}, err
	}
	// Metrics are built as in AWS: they ride in each request's log line. The
	// EMF-only line of a proxy success sampled out of the log is dropped:
	// locally there is no CloudWatch to read it.
	return settings, wiring.Deps{DynamoDB: env.Client, Getenv: getenv, Logger: env.Logger, Metrics: io.Discard, Now: env.Now}, nil
}
