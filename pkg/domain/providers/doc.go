// Package providers is the provider registry: which OpenAI-compatible
// providers exist, where they are, how their credential is sent and where it
// comes from, and which models each serves. The registry is one reviewed file,
// providers.json, embedded in the binary.
//
// Models are named "provider/model" or by a bare model id that the registry
// resolves to the first provider listing it.
package providers
