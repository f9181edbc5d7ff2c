// Package readme holds the test that keeps README.md true: it runs the
// README's shell blocks marked runnable, in order, against a local stack,
// and compiles and runs its Go snippet, so a README that drifts from the
// code fails CI. It has no code of its own.
package readme
