// Package dynamo adapts DynamoDB to the gateway's stores: workspaces, key
// records and the per-key state items that the authorizer's single
// conditional write reads.
//
// Every table is defined once, in tables.go; the local stack, the tests and
// (checked by a test) template.yaml all use those definitions. Writes are
// single-item and conditional, never transactions, so the same code runs on
// DynamoDB and on dynalite.
package dynamo
