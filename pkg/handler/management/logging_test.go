package management_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/internal/testing/syncbuf"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/management"
)

// unavailableStore is the real store, except that listing keys fails as a
// throttled DynamoDB would.
type unavailableStore struct{ *dynamo.Store }

func (unavailableStore) ListKeys(context.Context, string, gateway.ListKeysOptions) (gateway.KeyPage, error) {
	return gateway.KeyPage{}, gateway.Unavailable(errors.New("ProvisionedThroughputExceededException"))
}

// A 5xx is logged at Error with the request id, kid and workspace, so that
// an alarm on error lines finds it and says whose request failed.
func TestA5xxIsLoggedAtErrorWithRequestKidAndWorkspace(t *testing.T) {
	e := newEnv(t)
	logs := &syncbuf.Buffer{}
	h, err := management.New(management.Config{Store: unavailableStore{e.store}, Usage: e.store,
		Now: func() time.Time { return e.now }, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	if a := e.call(actor("acme"), "GET", "/keys", "", "", nil); a.status != 503 {
		t.Fatalf("status %d, want 503: %s", a.status, a.raw)
	}
	line := errorLine(logs.String())
	for _, want := range []string{`"request_id":"req"`, `"kid":"` + actorKID("acme") + `"`, `"workspace":"acme"`, `"status":503`} {
		if !strings.Contains(line, want) {
			t.Errorf("error log line %q lacks %s", line, want)
		}
	}

	t.Run("without an authorizer context", func(t *testing.T) {
		resp, err := h.Handle(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: "/keys",
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-noctx"}})
		if err != nil || resp.StatusCode != 500 {
			t.Fatalf("got %d, %v; want 500", resp.StatusCode, err)
		}
		// No context, so no kid or workspace to tell; the fields are there,
		// empty, and the line is an Error.
		line := errorLine(logs.String())
		for _, want := range []string{`"request_id":"req-noctx"`, `"kid":""`, `"workspace":""`, `"status":500`} {
			if !strings.Contains(line, want) {
				t.Errorf("error log line %q lacks %s", line, want)
			}
		}
	})
}

// errorLine is the last log line at level ERROR.
func errorLine(logs string) string {
	line := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			line = l
		}
	}
	return line
}
