// Command detector is the scheduled detector Lambda. It only wires:
// pkg/wiring reads the settings and builds the handler once per container,
// then pkg/handler/detector does the work.
package main

import (
	"github.com/aistats/edge/pkg/handler/detector"
	"github.com/aistats/edge/pkg/wiring"
)

func main() {
	wiring.Start("detector", 0, wiring.Detector, func(h *detector.Handler) any { return h.Handle })
}
