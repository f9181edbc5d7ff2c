// Package localstack starts the whole local gateway (dynalite, the API
// Gateway emulator, the handlers, the offline provider) for a test that
// calls it from the outside, as a person or a program would.
package localstack
