package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/authorizer"
	"github.com/aistats/edge/pkg/handler/management"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// LocalFunctions builds the Lambda handlers that the local stack serves,
// keyed by their logical ids in template.yaml, the same way each
// functions/<name>/main.go builds them in AWS. A function not listed here is
// reported at start and its routes answer 502.
func LocalFunctions(env Env) (map[string]apigateway.Function, error) {
	store := dynamo.New(dynamo.Config{Client: env.Client, Tables: env.Tables})
	auth, err := authorizer.New(authorizer.Config{Store: store, Logger: env.Logger, Now: env.Now})
	if err != nil {
		return nil, err
	}
	mgmt, err := management.New(management.Config{Store: store, Usage: store, Logger: env.Logger, Now: env.Now})
	if err != nil {
		return nil, err
	}
	registry, err := providers.Default()
	if err != nil {
		return nil, err
	}
	px, err := proxy.New(proxy.Config{
		Registry: registry,
		Upstream: upstream.New(upstream.Config{HTTP: &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 60 * time.Second}}}),
		// Locally, provider credentials come from the environment
		// (OPENAI_API_KEY, …); without them only the offline provider works.
		Credentials: &proxy.EnvCredentials{Getenv: os.Getenv},
		BaseURLs:    map[string]string{"local": env.LocalProviderURL},
		Usage:       store,
		Logger:      env.Logger,
		Now:         env.Now,
	})
	if err != nil {
		return nil, err
	}
	return map[string]apigateway.Function{
		"AuthorizerFunction": lambda.NewHandler(auth.Handle),
		"ManagementFunction": lambda.NewHandler(mgmt.Handle),
		"ProxyFunction":      streamingHandler(px.Handle),
	}, nil
}

// streamingHandler serves a proxy handler both ways API Gateway invokes a
// Lambda: buffered (Invoke) and with response streaming (InvokeStream).
func streamingHandler(handle func(context.Context, events.APIGatewayProxyRequest) (any, error)) apigateway.Function {
	return &streamingFunction{Handler: lambda.NewHandler(handle), handle: handle}
}

type streamingFunction struct {
	lambda.Handler
	handle func(context.Context, events.APIGatewayProxyRequest) (any, error)
}

// InvokeStream returns the handler's output as the runtime would stream it:
// an io.Reader as is (the streaming proxy format), anything else as JSON.
func (f *streamingFunction) InvokeStream(ctx context.Context, payload []byte) (io.ReadCloser, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	out, err := f.handle(ctx, ev)
	if err != nil {
		return nil, err
	}
	if r, ok := out.(io.Reader); ok {
		if rc, ok := r.(io.ReadCloser); ok {
			return rc, nil
		}
		return io.NopCloser(r), nil
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(raw)), nil
}
