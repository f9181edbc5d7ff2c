// Package authorizer is the API Gateway REQUEST authorizer: it reads the
// bearer key, refuses malformed keys without a database call, and admits or
// refuses the request with one conditional write per request (two, in
// parallel, when the workspace has its own limit), returning an IAM policy
// and the context the integrations read through pkg/handler/authcontext.
//
// Outcomes (docs/architecture.md §1): a refused key is a Deny carrying its reason
// (rendered 401 by the ACCESS_DENIED Gateway Response); a key over a limit is
// an Allow marked rate limited (the integration answers 429 with its
// headers); a failure to reach DynamoDB is an error (503, fail closed).
package authorizer
