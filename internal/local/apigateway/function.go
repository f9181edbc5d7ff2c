package apigateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// StreamingHandler serves a proxy handler both ways API Gateway invokes a
// Lambda: buffered (Invoke) and with response streaming (InvokeStream), as
// the proxy function is deployed. The local stack and the emulator's tests
// both serve the proxy through it.
func StreamingHandler(handle func(context.Context, events.APIGatewayProxyRequest) (any, error)) Function {
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
