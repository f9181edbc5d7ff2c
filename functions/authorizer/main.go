// Command authorizer is the API Gateway REQUEST authorizer Lambda. It only
// wires: pkg/wiring reads the settings and builds the handler once per
// container, then pkg/handler/authorizer does the work.
package main

import (
	"github.com/aistats/edge/pkg/handler/authorizer"
	"github.com/aistats/edge/pkg/wiring"
)

func main() {
	// Two attempts per DynamoDB call: the whole answer must fit the
	// authorizer's store deadline (AUTH_STORE_TIMEOUT_SECONDS).
	wiring.Start("authorizer", 2, wiring.Authorizer, func(h *authorizer.Handler) any { return h.Handle })
}
