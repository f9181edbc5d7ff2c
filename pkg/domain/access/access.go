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

// ValidPattern reports whether s is a well-formed model pattern, for
// validating allow-lists when keys are created.
func ValidPattern(s string) bool {
	if s == "*" {
		return true
	}
	provider, model, ok := strings.Cut(s, "/")
	return ok && provider != "" && model != "" && !strings.ContainsAny(s, ", \t\n")
}
