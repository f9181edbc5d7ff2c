// Command proxy is the proxy Lambda. It only wires: pkg/wiring reads the
// settings and builds the handler once per container, then
// pkg/handler/proxy does the work.
package main

import (
	"github.com/aistats/edge/pkg/handler/proxy"
	"github.com/aistats/edge/pkg/wiring"
)

func main() {
	wiring.Start("proxy", 0, wiring.Proxy, func(h *proxy.Handler) any { return h.Handle })
}
