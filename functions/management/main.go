// Command management is the management Lambda. It only wires: pkg/wiring reads the
// settings and builds the handler once per container, then
// pkg/handler/management does the work.
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
		wiring.Fatal(log, "management", err)
	}
	h, err := wiring.Management(settings, deps)
	if err != nil {
		wiring.Fatal(log, "management", err)
	}
	lambda.Start(h.Handle)
}
