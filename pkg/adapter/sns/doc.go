// Package sns publishes findings to the stack's SNS topic, so that anyone
// subscribed (email, a pager, a queue) hears of each new one.
package sns
