// Package authcontext is the contract between the authorizer and the
// integrations: the authorizer encodes what it decided into API Gateway's
// authorizer context (string values only), and every integration decodes it
// with Check before doing any other work.
//
// Check is the one shared piece of code that answers a rate-limited request
// with 429 and its headers (docs/architecture.md §1, §4): API Gateway cannot, because a
// Gateway Response sees the authorizer context only for a Deny.
package authcontext
