package apigateway

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aistats/edge/pkg/domain/iampattern"
)

// Decision is the outcome of evaluating an authorizer's policy for one
// method ARN.
type Decision int

// Possible decisions. Both denials are answered with ACCESS_DENIED.
const (
	ImplicitDeny Decision = iota // no statement allows it
	Allow
	ExplicitDeny // a Deny statement matches; it wins over any Allow
)

func (d Decision) String() string {
	return [...]string{"implicit deny", "allow", "explicit deny"}[d]
}

// stringOrList accepts a JSON string or an array of strings, as IAM does for
// Action and Resource.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings")
	}
	*s = many
	return nil
}

// PolicyDocument is the IAM policy an authorizer returns.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement of a PolicyDocument.
type PolicyStatement struct {
	Effect   string       `json:"Effect"`
	Action   stringOrList `json:"Action"`
	Resource stringOrList `json:"Resource"`
}

// Evaluate decides whether policy lets the caller invoke methodARN. An
// explicit Deny wins over any Allow; without a matching Allow the answer is
// an implicit deny. A malformed statement is an error, which API Gateway
// answers as AUTHORIZER_CONFIGURATION_ERROR.
func Evaluate(policy PolicyDocument, methodARN string) (Decision, error) {
	if len(policy.Statement) == 0 {
		return ImplicitDeny, fmt.Errorf("policy has no statements")
	}
	decision := ImplicitDeny
	for i, st := range policy.Statement {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return ImplicitDeny, fmt.Errorf("statement %d: Effect %q is neither Allow nor Deny", i, st.Effect)
		}
		if len(st.Action) == 0 || len(st.Resource) == 0 {
			return ImplicitDeny, fmt.Errorf("statement %d: Action and Resource are required", i)
		}
		if !anyMatch(st.Action, "execute-api:Invoke", true) || !anyMatch(st.Resource, methodARN, false) {
			continue
		}
		if st.Effect == "Deny" {
			return ExplicitDeny, nil
		}
		decision = Allow
	}
	return decision, nil
}

func anyMatch(patterns []string, value string, caseInsensitive bool) bool {
	for _, p := range patterns {
		if caseInsensitive {
			if iampattern.Match(strings.ToLower(p), strings.ToLower(value)) {
				return true
			}
		} else if iampattern.Match(p, value) {
			return true
		}
	}
	return false
}
