package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/access"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
)

// This file is the OpenAI Responses route (POST /v1/responses, GET
// /v1/responses/{id}): passed through, never translated, to the providers
// the registry marks as serving it; any other answers 400
// unsupported_route naming its provider.

// responsesDialect reads the Responses API's typed events: text arrives in
// response.output_text.delta, usage in the response object of the final
// event (response.completed, or response.incomplete or response.failed).
var responsesDialect = sseDialect{scan: scanResponses, errorBody: gateway.MarshalErrorBody}

func scanResponses(data []byte, out *streamOutcome) bool {
	var ev struct {
		Type     string `json:"type"`
		Delta    string `json:"delta"`
		Response struct {
			Usage *usage `json:"usage"`
		} `json:"response"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return false
	}
	switch ev.Type {
	case "response.output_text.delta", "response.function_call_arguments.delta", "response.reasoning_summary_text.delta":
		out.relayedTokens += estimateTokens([]byte(ev.Delta))
	case "response.completed", "response.incomplete", "response.failed":
		if ev.Response.Usage != nil {
			out.usage, out.sawUsage = *ev.Response.Usage, true
		}
		return true
	}
	return false
}

// getResponse reads a stored response from the provider that keeps it. A
// response id does not name its provider, so the client may name it
// (?provider=openai); without, it is the first provider in the registry
// that serves the Responses API, is configured and that the key may use.
func (h *Handler) getResponse(ctx context.Context, c *call, req events.APIGatewayProxyRequest) (any, error) {
	id := req.PathParameters["id"]
	if id == "" || !validModel(id) {
		return nil, &gateway.Error{Code: gateway.CodeValidationError, Param: "id", Message: "A response id is letters, digits and . _ - : @ +."}
	}
	p, err := h.responsesProvider(ctx, c, req.QueryStringParameters["provider"])
	if err != nil {
		return nil, err
	}
	c.provider = p.ID
	ctx, cancel := h.withDeadline(ctx, false)
	defer cancel()
	hdr := http.Header{"Accept": {"application/json"}}
	h.authorizeUpstream(ctx, p, hdr)
	r := h.upstream.Do(ctx, upstream.Request{Method: http.MethodGet, URL: h.baseURL(p) + "/responses/" + url.PathEscape(id), Header: hdr})
	c.attempts = r.Attempts
	if r.Response == nil || upstream.Retryable(r.Response.StatusCode) {
		if r.Response != nil {
			r.Response.Body.Close()
		}
		if r.TimedOut {
			return nil, &gateway.Error{Code: gateway.CodeUpstreamTimeout, Message: "The provider did not answer in time.", Err: r.Err}
		}
		return nil, &gateway.Error{Code: gateway.CodeUpstreamError, Message: "The provider failed to answer; try again.", Err: r.Err}
	}
	// Reading a stored response bills no tokens: its usage was recorded
	// when it was created.
	c.readOnly = true
	return h.whole(c, r.Response, false)
}

// responsesProvider picks the provider a GET /responses/{id} asks.
func (h *Handler) responsesProvider(ctx context.Context, c *call, named string) (*providers.Provider, error) {
	x := exchanges["POST /responses"]
	for _, m := range h.registry.All() {
		p := m.Provider
		if named != "" && p.ID != named {
			continue
		}
		if !x.serves(p) {
			if named != "" {
				return nil, &gateway.Error{Code: gateway.CodeUnsupportedRoute, Param: "provider",
					Message: "The provider " + p.ID + " does not serve /responses."}
			}
			continue
		}
		if !access.Allowed(c.ctx.Grant(), m) {
			continue // another model of the provider may be allowed
		}
		if !h.configured(ctx, p) {
			if named != "" {
				return nil, gateway.Errorf(gateway.CodeServiceUnavailable, "The provider %s is not configured on this gateway.", p.ID)
			}
			continue
		}
		return p, nil
	}
	if named != "" {
		if _, known := h.registry.Provider(named); known {
			return nil, &gateway.Error{Code: gateway.CodeProviderNotAllowed, Param: "provider", Message: "This key may not use the provider " + clip(named) + "."}
		}
		return nil, &gateway.Error{Code: gateway.CodeNotFound, Param: "provider", Message: "No provider " + clip(named) + " on this gateway."}
	}
	return nil, gateway.Errorf(gateway.CodeUnsupportedRoute, "No provider this key may use serves /responses.")
}
