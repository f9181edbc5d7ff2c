// Package ddbfault is a DynamoDB endpoint, in front of dynalite, that loses
// what a real DynamoDB can lose: the answer to a counting write it applied,
// or the write itself until after its caller gave up on it. It also goes
// down on demand. The authorizer's tests and `make bench` use it to prove
// that a request answered 503 is never counted (docs/architecture.md §5).
// It is test code: no Lambda links it.
package ddbfault
