// Package management is the management API Lambda: management keys create,
// list, update, rotate and revoke API keys and read their usage
// (docs/architecture.md §8). Every route first runs authcontext.Check, so a rate-limited request
// is answered 429 before any other work.
//
// Scopes are checked per route, and another workspace's key answers 404,
// exactly like a missing one. Service holds the rules (validation, rotation,
// audit trail) that the operator CLI shares.
package management
