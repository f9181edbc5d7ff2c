// Package alerts raises findings: it stores one (deduplicated while it is
// open), and for a new one disables its key where the workspace opted in to
// auto_disable, then tells people: the stack's SNS topic and the
// workspace's webhook. The scheduled detector, budgets and the leaked-key
// report all raise through Raiser.Raise, so each finding is alerted on
// exactly once, however it was found.
package alerts
