// Package localprovider is the offline provider "local" of the local stack:
// a real HTTP server speaking the OpenAI wire format, so that everything,
// streaming included, works without a network or a provider account.
//
// Its model echo answers chat completions with the last user message
// (streamed in several chunks when asked, with usage in the last chunk when
// stream_options.include_usage is set) and embeddings with a deterministic
// vector. Given tools, echo answers a user's turn with a call to the first
// tool (its required parameters set to the user's text) and the tool's
// result with that result, so a tool-use round trip runs offline. It also
// serves OpenAI's Responses API (POST /v1/responses, streamed too, and GET
// /v1/responses/{id}), with the same echo, and moderations (flagging the
// word "harm"), image generation (a one-pixel PNG), speech (a WAV whose
// samples are the input's bytes, streamed) and transcription (which gives
// such a WAV's text back). Its model slow answers the same after a long silence before its
// first token (DefaultSlowFirstToken, longer than an edge-optimized API
// Gateway lets a stream idle), like a reasoning model: with it the local
// stack shows the proxy's keep-alives reaching the client.
package localprovider
