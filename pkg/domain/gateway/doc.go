// Package gateway holds the domain of the AI-gateway edge: workspaces, API key
// records, their limits and states, and the one error type whose codes every
// layer answers with (DESIGN.md §3).
//
// It imports no infrastructure. Adapters such as pkg/adapter/dynamo implement the
// interfaces declared here; the Lambda handlers depend only on those interfaces.
package gateway
