package access

import (
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
)

func TestCheck(t *testing.T) {
	reg, err := providers.Default()
	if err != nil {
		t.Fatal(err)
	}
	mini, _ := reg.Resolve("openai/gpt-4o-mini")
	echo, _ := reg.Resolve("local/echo")
	cases := []struct {
		name string
		ctx  Grant
		m    providers.Resolved
		want gateway.Code
	}{
		{"open plan, no key lists", Grant{PlanProviders: []string{"*"}, PlanModels: []string{"*"}}, mini, ""},
		{"empty plan allows nothing", Grant{}, mini, gateway.CodeProviderNotAllowed},
		{"plan lacks provider", Grant{PlanProviders: []string{"local"}, PlanModels: []string{"*"}}, mini, gateway.CodeProviderNotAllowed},
		{"key lacks provider", Grant{PlanProviders: []string{"*"}, PlanModels: []string{"*"}, Providers: []string{"local"}}, mini, gateway.CodeProviderNotAllowed},
		{"key provider wildcard model", Grant{PlanProviders: []string{"*"}, PlanModels: []string{"*"}, Models: []string{"openai/*"}}, mini, ""},
		{"key lacks model", Grant{PlanProviders: []string{"*"}, PlanModels: []string{"*"}, Models: []string{"local/echo"}}, mini, gateway.CodeModelNotAllowed},
		{"plan lacks model", Grant{PlanProviders: []string{"*"}, PlanModels: []string{"openai/gpt-4o"}}, mini, gateway.CodeModelNotAllowed},
		{"exact model", Grant{PlanProviders: []string{"local"}, PlanModels: []string{"local/echo"}, Models: []string{"local/echo"}}, echo, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.ctx, tc.m)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Check = %v, want allowed", err)
				}
				return
			}
			if got := gateway.ErrorCode(err); got != tc.want {
				t.Errorf("Check = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestValidPattern(t *testing.T) {
	for s, want := range map[string]bool{
		"*": true, "openai/*": true, "openai/gpt-4o": true, "openai/gpt-4.1-mini": true,
		"openrouter/openai/gpt-4o-mini": true, "together/meta-llama/Llama-3.3-70B-Instruct-Turbo": true,
		"openrouter/meta-llama/llama-3-8b-instruct:free": true,
		"gpt-4o": false, "/x": false, "a/b,c": false, "": false,
		"../etc": false, "openai/../../etc": false, "./*": false, "openai/./gpt": false, "openai//gpt": false,
		"openai/gpt/": false, "OpenAI/gpt": false, "-x/gpt": false, "openai/gpt\x00": false, "openai/gpt 4": false,
		"openai/gpt\u202e": false, "openrouter/openai/*": false, "*/*": false,
		"openai/" + strings.Repeat("a", MaxPatternLength): false,
	} {
		if got := ValidPattern(s); got != want {
			t.Errorf("ValidPattern(%q) = %v, want %v", s, got, want)
		}
	}
}
