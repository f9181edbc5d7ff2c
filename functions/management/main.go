// Command management is the management API Lambda. It only wires:
// pkg/wiring reads the settings and builds the handler once per container,
// then pkg/handler/management does the work.
package main

import (
	"github.com/aistats/edge/pkg/handler/management"
	"github.com/aistats/edge/pkg/wiring"
)

func main() {
	wiring.Start("management", 0, wiring.Management, func(h *management.Handler) any { return h.Handle })
}
