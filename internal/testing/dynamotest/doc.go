// Package dynamotest gives integration tests a real DynamoDB-compatible
// server. Tests find it through the standard AWS_ENDPOINT_URL_DYNAMODB
// variable; when that is unset, Main starts dynalite on a free loopback port
// for the test binary and stops it afterwards, so the tests run the same in CI
// as on a laptop and are never skipped.
package dynamotest
