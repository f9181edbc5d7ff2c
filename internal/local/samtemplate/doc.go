// Package samtemplate reads template.yaml, the AWS SAM template that is the
// single source of deployment truth, so that the local stack and the tests use
// the very routes, authorizer, Gateway Responses and tables that get deployed.
//
// CloudFormation's short-form intrinsic tags (!Ref, !GetAtt, !Sub, …) are kept
// as Intrinsic values rather than rejected, since plain YAML decoders do not
// know them.
package samtemplate
