package proxy

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
)

// exchange is what differs between the routes that forward a request to a
// provider: the wire format the client speaks, the upstream path, whether
// the route streams, and so how a request is sent, an answer read back and
// an error told. Everything else (authorization, limits, access checks,
// retries, fallback, keep-alives, usage) is the same code for every route.
type exchange struct {
	api         providers.API
	path        string
	streamRoute bool
	// multipart marks a route whose body is multipart/form-data (an audio
	// upload) rather than JSON.
	multipart bool
	// binary marks a route whose answer is not JSON but bytes (audio),
	// relayed as they come.
	binary bool
}

// exchanges are the forwarding routes, by "METHOD /resource" as API Gateway
// names them. The streaming ones have the streaming integration in
// template.yaml.
var exchanges = map[string]*exchange{
	"POST /chat/completions": {api: providers.APIChat, path: "/chat/completions", streamRoute: true},
	"POST /embeddings":       {api: providers.APIChat, path: "/embeddings"},
	"POST /messages":         {api: providers.APIMessages, path: "/messages", streamRoute: true},
	"POST /responses":        {api: providers.APIResponses, path: "/responses", streamRoute: true},
	"POST /moderations":      {api: providers.APIModerations, path: "/moderations"},
	// Images and audio take the streaming integration for its 300 s: an
	// image or a long recording takes longer than a buffered route's 29 s.
	"POST /images/generations":   {api: providers.APIImages, path: "/images/generations", streamRoute: true},
	"POST /audio/speech":         {api: providers.APIAudio, path: "/audio/speech", streamRoute: true, binary: true},
	"POST /audio/transcriptions": {api: providers.APIAudio, path: "/audio/transcriptions", streamRoute: true, multipart: true},
}

// routeOrder lists the forwarding routes in the order GET /models names them.
var routeOrder = []string{"POST /chat/completions", "POST /embeddings", "POST /messages", "POST /responses",
	"POST /moderations", "POST /images/generations", "POST /audio/speech", "POST /audio/transcriptions"}

// routesServed lists the paths of the routes p can answer, for GET /models.
func routesServed(p *providers.Provider) []string {
	out := make([]string, 0, len(routeOrder))
	for _, r := range routeOrder {
		if x := exchanges[r]; x.serves(p) {
			out = append(out, x.path)
		}
	}
	return out
}

// serves reports whether p can answer this route: natively, or for the
// Messages API through translation to chat completions.
func (x exchange) serves(p *providers.Provider) bool {
	return p.Speaks(x.api) || (x.api == providers.APIMessages && p.Speaks(providers.APIChat))
}

// native reports whether p takes the client's request as it is.
func (x exchange) native(p *providers.Provider) bool { return p.Speaks(x.api) }

// check refuses, before anything is sent, a model whose provider cannot
// serve the route and a Messages request that cannot be translated.
func (x exchange) check(m providers.Resolved, body requestBody) error {
	if !x.serves(m.Provider) {
		return &gateway.Error{Code: gateway.CodeUnsupportedRoute, Param: "model",
			Message: "The model " + m.Name + " does not serve " + x.path + ": its provider " + m.Provider.ID + " does not offer that API."}
	}
	if x.api == providers.APIMessages && !x.native(m.Provider) {
		_, err := toChatRequest(body.fields, m.Model)
		return err
	}
	return nil
}

// anthropicHeaders are the client headers a native Anthropic upstream also
// gets: the API version and beta features the client asked for.
var anthropicHeaders = []string{"Anthropic-Version", "Anthropic-Beta"}

// forwarded lists the client headers sent upstream on this route.
func (x exchange) forwarded() []string {
	if x.api == providers.APIMessages {
		return append(append([]string{}, forwardedHeaders...), anthropicHeaders...)
	}
	return forwardedHeaders
}

// upstreamRequest is the path and body sent to candidate m, and whether its
// answer needs translating back. hdr loses the headers only a native
// upstream should see.
func (x exchange) upstreamRequest(m providers.Resolved, body requestBody, hdr http.Header) (path string, payload []byte, translated bool) {
	switch {
	case x.api == providers.APIChat:
		return x.path, body.upstreamBody(m.Model), false
	case x.multipart:
		payload, contentType := body.form.withModel(m.Model)
		hdr.Set("Content-Type", contentType)
		return x.path, payload, false
	case x.native(m.Provider):
		return x.path, body.withModel(m.Model), false
	}
	for _, name := range anthropicHeaders {
		hdr.Del(name)
	}
	payload, _ = toChatRequest(body.fields, m.Model) // check found any error before the first attempt
	return "/chat/completions", payload, true
}

// parse reads the request body the route takes.
func (x exchange) parse(req events.APIGatewayProxyRequest) (requestBody, error) {
	if x.multipart {
		return parseMultipart(req)
	}
	return parseBody(req)
}

// withModel is the body as the client sent it, naming the provider's own
// model id.
func (b requestBody) withModel(model string) []byte {
	fields := make(map[string]json.RawMessage, len(b.fields))
	for k, v := range b.fields {
		fields[k] = v
	}
	fields["model"], _ = json.Marshal(model)
	out, _ := json.Marshal(fields)
	return out
}

// sse is how a stream on this route is read.
func (x *exchange) sse() sseDialect {
	switch {
	case x == nil:
		return chatDialect
	case x.api == providers.APIMessages:
		return messagesDialect
	case x.api == providers.APIResponses:
		return responsesDialect
	}
	return chatDialect
}

// errorShape renders an error answer in the route's shape: Anthropic's on
// the Messages route, so that its SDKs raise their typed errors; OpenAI's
// everywhere else.
func (x *exchange) errorShape(r events.APIGatewayProxyResponse) events.APIGatewayProxyResponse {
	if x == nil || x.api != providers.APIMessages {
		return r
	}
	r.Body = string(toAnthropicError(r.StatusCode, []byte(r.Body)))
	return r
}

// authorizeUpstream puts p's credential on a request, the way p wants it,
// and p's own headers where the client sent none.
func (h *Handler) authorizeUpstream(ctx context.Context, p *providers.Provider, hdr http.Header) {
	switch p.Auth {
	case providers.AuthBearer:
		cred, _ := h.creds.Credential(ctx, p)
		hdr.Set("Authorization", "Bearer "+cred)
	case providers.AuthXAPIKey:
		cred, _ := h.creds.Credential(ctx, p)
		hdr.Set("X-Api-Key", cred)
	}
	for name, value := range p.Headers {
		if hdr.Get(name) == "" {
			hdr.Set(name, value)
		}
	}
}

// adapt turns a translated answer into the client's wire format; any other
// passes as it is.
func (h *Handler) adapt(c *call, body requestBody, a upstreamAnswer) upstreamAnswer {
	if a.err != nil || a.resp == nil || !a.translated || c.x == nil || c.x.api != providers.APIMessages {
		return a
	}
	return adaptToMessages(a, body, c.model)
}
