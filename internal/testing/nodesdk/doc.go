// Package nodesdk runs the official Anthropic and OpenAI Node SDKs
// (@anthropic-ai/sdk, openai; pinned in package-lock.json) against the local
// stack, offline, from sdk.mjs: the Go SDK tests prove the wire format, but
// users of Claude Code's ecosystem and of OpenAI's Responses API mostly call
// the gateway from TypeScript, whose clients parse errors and events on their
// own. It has no code of its own and ships nothing; `make deps` installs its
// node_modules with npm ci, as it does infra's.
package nodesdk
