package samtemplate

import (
	"fmt"
)

// Statement is one IAM statement of a function's inline Policies.
type Statement struct {
	Effect  string
	Actions []string
	// Resources as written: ARN strings or intrinsics (!GetAtt, !Sub).
	Resources []any
}

// Statements returns the statements of function fnID's inline Policies,
// which must be a list of {Statement: [...]} documents.
func (t *Template) Statements(fnID string) ([]Statement, error) {
	raw, ok := t.Resources[fnID].Properties["Policies"]
	if !ok {
		return nil, nil
	}
	policies, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: Policies must be a list of inline statements", fnID)
	}
	var out []Statement
	for _, p := range policies {
		sts, _ := Lookup(p, "Statement")
		list, _ := sts.([]any)
		for _, s := range list {
			m, ok := s.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: statement %v is not a mapping", fnID, s)
			}
			st := Statement{Effect: String(m, "Effect"), Resources: asList(m["Resource"])}
			for _, a := range asList(m["Action"]) {
				st.Actions = append(st.Actions, fmt.Sprint(a))
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// asList reads a YAML value that may be one item or a list of them.
func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}
