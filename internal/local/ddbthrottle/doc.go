// Package ddbthrottle puts DynamoDB's per-partition throughput limit in
// front of dynalite, which has none, so that tests and `make bench` can
// see what a hot key does to the gateway before AWS does (issue 15).
//
// DynamoDB serves each partition key at most about 1,000 write units and
// 3,000 read units a second. The shim is time-scaled: its rates are
// configurable and default to a tenth of those, so that two cores can offer
// five times a partition's rate. It charges what DynamoDB would bill, from
// the capacity dynalite itself reports for the item (ReturnConsumedCapacity,
// added to the request and removed from the answer when the caller did not
// ask), and it refuses past the rate exactly as DynamoDB does, with a 400
// ProvisionedThroughputExceededException, so the AWS SDK's retries and
// errors are the real ones.
package ddbthrottle
