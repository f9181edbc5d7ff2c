// Package upstream calls OpenAI-compatible providers over HTTP, retrying what
// is worth retrying before the first byte reaches the client: connection
// errors, timeouts waiting for response headers, 5xx and 429. It backs off
// exponentially with full jitter, honours an upstream Retry-After, and never
// sleeps past the caller's deadline. Other 4xx answers are returned at once.
package upstream
