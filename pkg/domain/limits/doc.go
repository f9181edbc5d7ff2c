// Package limits knows the request-limit windows of docs/architecture.md §5: UTC
// calendar minutes, days and months. It names each window so that a counter
// can be keyed by it, tells when a window resets, and picks the tightest of
// several limits for the RateLimit headers.
package limits
