package main

import (
	"github.com/aistats/edge/pkg/devstack"
	"github.com/aistats/edge/pkg/gatewayemulator"
)

// localFunctions builds the Lambda handlers that the local stack serves,
// keyed by their logical ids in template.yaml. A function not listed here
// is reported at start and its routes answer 502.
func localFunctions(env devstack.Env) (map[string]gatewayemulator.Function, error) {
	return map[string]gatewayemulator.Function{}, nil
}
