// Package testclock is the tests' one settable clock: handlers take their
// time from an injected func, and a test moves it instead of sleeping.
package testclock
