package devstack

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/pkg/authorizer"
	"github.com/aistats/edge/pkg/dynamo"
	"github.com/aistats/edge/pkg/gatewayemulator"
	"github.com/aistats/edge/pkg/management"
)

// LocalFunctions builds the Lambda handlers that the local stack serves,
// keyed by their logical ids in template.yaml, the same way each
// functions/<name>/main.go builds them in AWS. A function not listed here is
// reported at start and its routes answer 502.
func LocalFunctions(env Env) (map[string]gatewayemulator.Function, error) {
	store := dynamo.New(dynamo.Config{Client: env.Client, Tables: env.Tables})
	auth, err := authorizer.New(authorizer.Config{Store: store, Logger: env.Logger})
	if err != nil {
		return nil, err
	}
	mgmt, err := management.New(management.Config{Keys: store, Logger: env.Logger})
	if err != nil {
		return nil, err
	}
	return map[string]gatewayemulator.Function{
		"AuthorizerFunction": lambda.NewHandler(auth.Handle),
		"ManagementFunction": lambda.NewHandler(mgmt.Handle),
	}, nil
}
