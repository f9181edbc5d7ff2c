// Command authorizer is the API Gateway REQUEST authorizer Lambda. It only
// wires: pkg/wiring reads the settings and builds the handler once per
// container, then pkg/handler/authorizer does the work.
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
	settings, deps, err := wiring.LoadAWS(context.Background(), os.Getenv, log, 2)
	if err != nil {
		wiring.Fatal(log, "authorizer", err)
	}
	h, err := wiring.Authorizer(settings, deps)
	if err != nil {
		wiring.Fatal(log, "authorizer", err)
	}
	lambda.Start(h.Handle)
}
