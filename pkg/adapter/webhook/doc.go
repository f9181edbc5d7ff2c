// Package webhook delivers findings to a workspace's own HTTPS endpoint:
// signed (Webhook-Signature, HMAC-SHA256 over the time and the body, so a
// receiver can tell our deliveries from forgeries and replays), retried
// with exponential backoff, and only to public addresses, so that a
// webhook URL cannot make the gateway call the Lambda runtime, the
// instance metadata service or anything else inside AWS (SSRF).
package webhook
