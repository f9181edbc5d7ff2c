// Package smoke checks a running gateway from the outside, as a client sees
// it: the refusals of API Gateway and the authorizer, a key's whole life
// (create, use, rate limit, usage, revoke) through the management API, and,
// given a model, a chat completion and a streamed one. It is what an operator
// runs right after `sam deploy` (`aistats smoke`), and what the tests run
// against the local stack, so the check itself is tested.
package smoke
