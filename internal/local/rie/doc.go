// Package rie builds Lambda bootstraps the way `make build` and `sam build`
// do, and runs them under the AWS Lambda Runtime Interface Emulator (pinned
// by go.mod's tool directive), so tests and benchmarks exercise the very
// binaries that get deployed.
package rie
