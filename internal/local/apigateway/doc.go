// Package apigateway serves an API locally with the semantics of an API
// Gateway REST API, read from template.yaml: the REQUEST authorizer event, the
// IAM policy it returns evaluated against the method ARN, the authorizer
// context handed to the Lambda proxy integration as strings, and API
// Gateway's own answers rendered from the template's Gateway Responses.
//
// It deliberately offers no more than API Gateway does (docs/architecture.md §9): only
// ACCESS_DENIED sees the authorizer's context, Gateway Response status codes
// are fixed per type, and a request without the identity header never reaches
// the authorizer. Whatever works here therefore works when deployed.
//
// Functions are anything that answers a Lambda invoke with JSON bytes: an
// in-process handler through lambda.NewHandler(h).Invoke, or later a binary
// under the Lambda Runtime Interface Emulator.
package apigateway
