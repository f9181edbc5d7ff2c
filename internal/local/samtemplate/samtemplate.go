package samtemplate

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Intrinsic is a CloudFormation function such as !Ref or !GetAtt, in short
// or long form. Name is the long name ("Ref", "Fn::GetAtt", …).
type Intrinsic struct {
	Name  string
	Value any
}

// Resource is one entry of the template's Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
}

// Template is a parsed SAM template.
type Template struct {
	Resources map[string]Resource
	// Globals, Parameters and Outputs as parsed, for tests of the template.
	Globals    map[string]any
	Parameters map[string]any
	Outputs    map[string]any
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(data)
}

// Parse parses a template from YAML.
func Parse(data []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("parse template: empty document")
	}
	doc, err := convert(root.Content[0])
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template: top level is not a mapping")
	}
	resources, ok := top["Resources"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template: no Resources mapping")
	}
	t := &Template{Resources: map[string]Resource{}}
	t.Globals, _ = top["Globals"].(map[string]any)
	t.Parameters, _ = top["Parameters"].(map[string]any)
	t.Outputs, _ = top["Outputs"].(map[string]any)
	for id, raw := range resources {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse template: resource %s is not a mapping", id)
		}
		typ, _ := m["Type"].(string)
		props, _ := m["Properties"].(map[string]any)
		meta, _ := m["Metadata"].(map[string]any)
		t.Resources[id] = Resource{Type: typ, Properties: props, Metadata: meta}
	}
	return t, nil
}

// shortTags maps the short-form tags to their long names.
var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!Cidr": "Fn::Cidr", "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue",
}

// convert turns a YAML node into maps, slices, strings, numbers, booleans
// and Intrinsic values.
func convert(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return convert(n.Alias)
	}
	if long, ok := shortTags[n.Tag]; ok {
		inner := *n
		inner.Tag = ""
		v, err := convertUntagged(&inner)
		if err != nil {
			return nil, err
		}
		if long == "Fn::GetAtt" {
			if s, ok := v.(string); ok { // !GetAtt Res.Attr
				res, attr, _ := strings.Cut(s, ".")
				v = []any{res, attr}
			}
		}
		return Intrinsic{Name: long, Value: v}, nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	return convertUntagged(n)
}

func convertUntagged(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			v, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		// Long-form intrinsics: {Ref: X}, {"Fn::GetAtt": [...]}.
		if len(m) == 1 {
			for k, v := range m {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return Intrinsic{Name: k, Value: v}, nil
				}
			}
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			return strconv.ParseInt(n.Value, 0, 64)
		case "!!bool":
			return strconv.ParseBool(n.Value)
		case "!!null":
			return nil, nil
		case "!!float":
			return strconv.ParseFloat(n.Value, 64)
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// RefTarget returns the logical id that v refers to through !Ref or !GetAtt.
func RefTarget(v any) (string, bool) {
	in, ok := v.(Intrinsic)
	if !ok {
		return "", false
	}
	switch in.Name {
	case "Ref":
		s, ok := in.Value.(string)
		return s, ok
	case "Fn::GetAtt":
		if parts, ok := in.Value.([]any); ok && len(parts) == 2 {
			s, ok := parts[0].(string)
			return s, ok
		}
	}
	return "", false
}

// OfType returns the logical ids of the resources of type typ, sorted.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Lookup walks a path of mapping keys from v, e.g. Lookup(props, "Auth",
// "Authorizers").
func Lookup(v any, path ...string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// String returns the string at path, or "".
func String(v any, path ...string) string {
	got, _ := Lookup(v, path...)
	s, _ := got.(string)
	return s
}
