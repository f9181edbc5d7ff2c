package apigateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// RemoteFunction is a Lambda function reached over the Lambda invoke API,
// as the AWS Lambda Runtime Interface Emulator serves it
// (POST {URL}/2015-03-31/functions/function/invocations). With it the
// emulator fronts the real bootstrap binaries instead of in-process handlers.
type RemoteFunction struct {
	// URL is the invoke API's base, e.g. http://127.0.0.1:9000.
	URL    string
	Client *http.Client
}

func (f *RemoteFunction) post(ctx context.Context, payload []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", f.URL+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", f.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("invoke %s: status %d: %s", f.URL, resp.StatusCode, body)
	}
	return resp, nil
}

// functionError is the body the Lambda runtime reports a handler error with.
type functionError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// Invoke implements Function. A handler error comes back as an error whose
// text is the handler's message, as API Gateway sees it.
func (f *RemoteFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	resp, err := f.post(ctx, payload)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var fe functionError
	if json.Unmarshal(out, &fe) == nil && fe.ErrorType != "" && fe.ErrorMessage != "" {
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(out, &fields)
		if _, hasStatus := fields["statusCode"]; !hasStatus {
			return nil, fmt.Errorf("%s", fe.ErrorMessage)
		}
	}
	return out, nil
}

// InvokeStream implements StreamingFunction: the response body is the
// function's streamed output, as it arrives.
func (f *RemoteFunction) InvokeStream(ctx context.Context, payload []byte) (io.ReadCloser, error) {
	resp, err := f.post(ctx, payload)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
