// Package emf writes CloudWatch Embedded Metric Format lines: JSON log lines
// that CloudWatch turns into metrics without a PutMetricData call, so metrics
// cost no request time. Metrics are dimensioned by workspace; per-key
// dimensions are a switch, since every key then becomes billed metrics.
package emf
