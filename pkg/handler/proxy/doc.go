// Package proxy is the proxy Lambda: it forwards OpenAI-compatible calls to
// providers. Every route first runs authcontext.Check (429 at once when the
// authorizer marked the request rate limited), then resolves the model,
// enforces the plan ∩ key allow-lists, forwards with the provider's
// credential (retrying before the first byte, then a registry fallback),
// streams SSE through chunk by chunk, and records per-key usage once per
// completed request.
package proxy
