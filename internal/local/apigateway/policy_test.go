package apigateway

import "testing"

const arn = "arn:aws:execute-api:us-east-1:123456789012:local/v1/POST/chat/completions"

func statement(effect string, resources ...string) PolicyStatement {
	return PolicyStatement{Effect: effect, Action: stringOrList{"execute-api:Invoke"}, Resource: resources}
}

func TestEvaluate(t *testing.T) {
	cases := []struct {
		name   string
		policy PolicyDocument
		want   Decision
	}{
		{"exact allow", PolicyDocument{Statement: []PolicyStatement{statement("Allow", arn)}}, Allow},
		{"wildcard method and path", PolicyDocument{Statement: []PolicyStatement{
			statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v1/*/*")}}, Allow},
		{"star spans slashes", PolicyDocument{Statement: []PolicyStatement{
			statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v1/*")}}, Allow},
		{"question mark is one character", PolicyDocument{Statement: []PolicyStatement{
			statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v?/POST/chat/completions")}}, Allow},
		{"other stage", PolicyDocument{Statement: []PolicyStatement{
			statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v2/*")}}, ImplicitDeny},
		{"other route", PolicyDocument{Statement: []PolicyStatement{
			statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v1/GET/keys")}}, ImplicitDeny},
		{"explicit deny wins over allow", PolicyDocument{Statement: []PolicyStatement{
			statement("Allow", "*"), statement("Deny", arn)}}, ExplicitDeny},
		{"deny listed first still wins", PolicyDocument{Statement: []PolicyStatement{
			statement("Deny", "arn:aws:execute-api:*:*:*/v1/POST/*"), statement("Allow", arn)}}, ExplicitDeny},
		{"deny elsewhere does not matter", PolicyDocument{Statement: []PolicyStatement{
			statement("Deny", "arn:aws:execute-api:*:*:*/v1/GET/*"), statement("Allow", arn)}}, Allow},
		{"other action", PolicyDocument{Statement: []PolicyStatement{
			{Effect: "Allow", Action: stringOrList{"execute-api:ManageConnections"}, Resource: stringOrList{"*"}}}}, ImplicitDeny},
		{"action wildcard", PolicyDocument{Statement: []PolicyStatement{
			{Effect: "Allow", Action: stringOrList{"execute-api:*"}, Resource: stringOrList{arn}}}}, Allow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Evaluate(tc.policy, arn)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Evaluate = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestEvaluateRejectsMalformedPolicies(t *testing.T) {
	for name, p := range map[string]PolicyDocument{
		"no statements":    {},
		"lowercase effect": {Statement: []PolicyStatement{statement("allow", arn)}},
		"no resource":      {Statement: []PolicyStatement{{Effect: "Allow", Action: stringOrList{"execute-api:Invoke"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Evaluate(p, arn); err == nil {
				t.Error("Evaluate accepted a malformed policy")
			}
		})
	}
}
