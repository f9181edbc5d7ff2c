package access

import (
	"strings"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
)

// Patterns are "*" (everything), "provider/*" (every model of a provider),
// "provider/model", or a provider id in a provider list.

func providerAllowed(list []string, provider string) bool {
	for _, p := range list {
		if p == "*" || p == provider {
			return true
		}
	}
	return false
}

func modelAllowed(list []string, m providers.Resolved) bool {
	for _, p := range list {
		if p == "*" || p == m.Name || p == m.Provider.ID+"/*" {
			return true
		}
	}
	return false
}

// Grant is what a request may use: the key's own allow-lists (empty means
// the plan's) and the workspace plan's ("*" allows all).
type Grant struct {
	Models, Providers         []string
	PlanModels, PlanProviders []string
}

// Check returns nil when c may use m, or a permission error naming what is
// not allowed: the provider first, then the model.
func Check(c Grant, m providers.Resolved) error {
	keyProviders := c.Providers
	if len(keyProviders) == 0 {
		keyProviders = []string{"*"} // no list of its own: the plan decides
	}
	if !providerAllowed(c.PlanProviders, m.Provider.ID) || !providerAllowed(keyProviders, m.Provider.ID) {
		return &gateway.Error{Code: gateway.CodeProviderNotAllowed, Param: "model",
			Message: "This key may not use the provider " + m.Provider.ID + "."}
	}
	keyModels := c.Models
	if len(keyModels) == 0 {
		keyModels = []string{"*"}
	}
	if !modelAllowed(c.PlanModels, m) || !modelAllowed(keyModels, m) {
		return &gateway.Error{Code: gateway.CodeModelNotAllowed, Param: "model",
			Message: "This key may not use the model " + m.Name + "."}
	}
	return nil
}

// Allowed reports whether c may use m.
func Allowed(c Grant, m providers.Resolved) bool { return Check(c, m) == nil }

// MaxPatternLength bounds a model pattern, so a key record stays small.
const MaxPatternLength = 256

// ValidPattern reports whether s is a well-formed model pattern, for
// validating allow-lists when keys are created or changed: "*",
// "provider/*" or "provider/model". The provider is a registry id
// (lower-case letters, digits and dashes); the model is one or more
// slash-separated segments of letters, digits and . _ : @ + -, none of them
// empty, "." or "..". Patterns are compared as strings and never used as
// paths, but a pattern that no model can match is a mistake worth refusing,
// and "../etc" is what an attacker probing for paths sends.
func ValidPattern(s string) bool {
	if s == "*" {
		return true
	}
	if len(s) > MaxPatternLength {
		return false
	}
	provider, model, ok := strings.Cut(s, "/")
	if !ok || !ValidProviderID(provider) {
		return false
	}
	if model == "*" {
		return true
	}
	for seg := range strings.SplitSeq(model, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.TrimFunc(seg, modelChar) != "" {
			return false
		}
	}
	return true
}

// ValidProviderID reports whether s is shaped like a provider id of the
// registry: 1 to 64 lower-case letters, digits and dashes, not starting
// with a dash.
func ValidProviderID(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func modelChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:@+-", r)
}
