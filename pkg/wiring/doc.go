// Package wiring is the one place that turns a function's settings into its
// handler. Settings are read from the environment here and only here
// (FromEnv), and each function's handler is built here and only here
// (Authorizer, Proxy, Management), so a setting added for AWS is the same
// under `make dev`: functions/<name>/main.go and the local stack both call
// these constructors, with AWS clients or with local ones.
//
// A malformed setting stops the function at start with a message naming the
// variable, rather than being ignored: a typo in a deployed timeout should
// fail the deploy's first invocation, not silently run with the default.
package wiring
