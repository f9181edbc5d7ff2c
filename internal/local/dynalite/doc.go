// Package dynalite runs dynalite, the DynamoDB-compatible server from npm that
// the local stack and the integration tests use instead of AWS.
//
// The server is pinned by infra/package-lock.json and installed with npm ci;
// Start installs it on first use, so a fresh clone needs nothing by hand.
// dynalite has no transactions, no TTL deletion and ignores
// ReturnValuesOnConditionCheckFailure, which is why the gateway uses
// single-item conditional writes only.
package dynalite
