// Package syncbuf is a buffer that several goroutines may write at once:
// tests collect into it the logs of handlers serving concurrent requests.
package syncbuf
