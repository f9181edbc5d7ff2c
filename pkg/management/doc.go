// Package management is the management API Lambda: management keys create,
// list, update, rotate and revoke API keys and read their usage (DESIGN.md
// §7). Every route first runs authcontext.Check, so a rate-limited request
// is answered 429 before any other work.
//
// So far it serves GET /v1/key (a key reads its own record); every other
// management route answers 501 not_implemented until it is built, rather
// than pretending to succeed.
package management
