// Package httpcall is the tests' one way to make an HTTP call to the
// gateway and read its JSON answer.
package httpcall
