// Command proxy is the proxy Lambda. It only wires: pkg/wiring reads the
// settings and builds the handler once per container, then
// pkg/handler/proxy does the work.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/pkg/wiring"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	settings, deps, err := wiring.LoadAWS(context.Background(), os.Getenv, log, 0)
	if err != nil {
		wiring.Fatal(log, "proxy", err)
	}
	h, err := wiring.Proxy(settings, deps)
	if err != nil {
		wiring.Fatal(log, "proxy", err)
	}
	lambda.Start(h.Handle)
}
