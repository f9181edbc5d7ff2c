// Package loopback finds free ports on 127.0.0.1, for the processes the
// local stack starts and for tests that start it. Only loopback: nothing
// local is ever served beyond this machine.
package loopback
