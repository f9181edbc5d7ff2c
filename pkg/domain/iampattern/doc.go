// Package iampattern matches strings against IAM-style wildcard patterns, as
// IAM matches the Resource of a policy statement: the authorizer's route
// check, the local API Gateway's evaluation of the policy it returns, and the
// template tests that check a function's IAM grants all need the same
// answer, so they share this one matcher.
//
// Semantics, from "IAM JSON policy elements: Resource"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html):
// * matches any combination of characters, slashes and colons included, and
// ? matches any single character; a pattern may hold several of each.
// IAM's page adds that a * ending an ARN segment may match across the colons
// that separate segments; this matcher lets every * do so, which differs only
// for a * in the middle of a segment followed by a colon, a pattern none of
// the callers write. Matching is case-sensitive; a caller that compares case-insensitively (IAM
// actions) folds both sides first.
package iampattern
