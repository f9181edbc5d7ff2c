package providers

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aistats/edge/pkg/domain/budget"
)

//go:embed providers.json
var registryJSON []byte

// Auth is how a provider's credential is sent.
type Auth string

// Ways to send a credential.
const (
	AuthBearer Auth = "bearer" // Authorization: Bearer <credential>
	// AuthXAPIKey sends the credential in x-api-key, as Anthropic's API
	// wants it.
	AuthXAPIKey Auth = "x-api-key"
	AuthNone    Auth = "none"
)

// API is a wire format a provider speaks.
type API string

// The wire formats. A provider that lists none speaks APIChat only.
const (
	// APIChat is OpenAI's chat completions, embeddings and models: every
	// OpenAI-compatible provider. The gateway translates the Anthropic
	// Messages API to it for providers that lack APIMessages.
	APIChat API = "chat"
	// APIMessages is Anthropic's Messages API, passed through natively.
	APIMessages API = "messages"
	// APIResponses is OpenAI's Responses API, which only some providers
	// serve; the gateway does not translate it.
	APIResponses API = "responses"
	// APIModerations, APIImages and APIAudio are OpenAI's moderations,
	// image generation, and speech and transcription routes, passed through
	// to the providers that serve them.
	APIModerations API = "moderations"
	APIImages      API = "images"
	APIAudio       API = "audio"
)

// Credential says where a provider's credential comes from.
type Credential struct {
	// Env is the environment variable read locally.
	Env string `json:"env"`
	// Secret is the AWS Secrets Manager secret name read in AWS, relative to
	// the stack: the proxy prefixes it with PROVIDER_SECRET_PREFIX (the
	// stack name and a slash), so two stacks in one account never share a
	// provider key.
	Secret string `json:"secret"`
}

// Model is one model a provider serves.
type Model struct {
	ID string `json:"id"`
	// Fallback names the model ("provider/model") to try when every
	// attempt at this one failed.
	Fallback string `json:"fallback,omitempty"`
	// Price is what the model costs per million tokens (README, "Prices");
	// nil for a model priced by something else (images, audio seconds),
	// which costs 0 in usage and is not reserved against budgets.
	Price *budget.Price `json:"price,omitempty"`
	// MaxOutput is the most output tokens one answer can hold: the worst
	// case reserved for a request that sets no max_tokens.
	MaxOutput int64 `json:"max_output_tokens,omitempty"`
}

// Provider is one registry entry.
type Provider struct {
	ID         string     `json:"id"`
	BaseURL    string     `json:"base_url"`
	Auth       Auth       `json:"auth"`
	Credential Credential `json:"credential"`
	// LocalOnly marks the offline provider of the local stack: its base
	// URL is given at run time.
	LocalOnly bool    `json:"local_only"`
	Models    []Model `json:"models"`
	// APIs lists the wire formats the provider speaks; empty means
	// [APIChat].
	APIs []API `json:"apis,omitempty"`
	// Headers are sent upstream with every request, such as the
	// anthropic-version Anthropic's API requires.
	Headers map[string]string `json:"headers,omitempty"`
}

// Speaks reports whether p serves api.
func (p *Provider) Speaks(api API) bool {
	if len(p.APIs) == 0 {
		return api == APIChat
	}
	for _, a := range p.APIs {
		if a == api {
			return true
		}
	}
	return false
}

// Registry is the parsed registry.
type Registry struct {
	Providers []Provider `json:"providers"`
	byID      map[string]*Provider
	// bare maps a bare model id to the first provider serving it.
	bare map[string]string
}

// Resolved is a model resolved to its provider.
type Resolved struct {
	Provider *Provider
	// Model is the provider's own id for it (what goes upstream).
	Model string
	// Name is the canonical "provider/model".
	Name     string
	Fallback string
	// Price is the model's price; nil when it has none.
	Price *budget.Price
	// MaxOutput is the model's most output tokens per answer; 0 if unknown.
	MaxOutput int64
}

// Default parses the embedded registry.
func Default() (*Registry, error) { return Parse(registryJSON) }

// Parse reads and checks a registry.
func Parse(data []byte) (*Registry, error) {
	var r Registry
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse provider registry: %w", err)
	}
	r.byID = map[string]*Provider{}
	r.bare = map[string]string{}
	for i := range r.Providers {
		p := &r.Providers[i]
		if p.ID == "" || strings.ContainsAny(p.ID, "/,") {
			return nil, fmt.Errorf("provider registry: bad provider id %q", p.ID)
		}
		if _, dup := r.byID[p.ID]; dup {
			return nil, fmt.Errorf("provider registry: provider %s listed twice", p.ID)
		}
		if p.Auth != AuthBearer && p.Auth != AuthXAPIKey && p.Auth != AuthNone {
			return nil, fmt.Errorf("provider registry: provider %s: unknown auth %q", p.ID, p.Auth)
		}
		if !p.LocalOnly {
			u, err := url.Parse(p.BaseURL)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				return nil, fmt.Errorf("provider registry: provider %s: base URL %q must be https", p.ID, p.BaseURL)
			}
		}
		for _, a := range p.APIs {
			switch a {
			case APIChat, APIMessages, APIResponses, APIModerations, APIImages, APIAudio:
			default:
				return nil, fmt.Errorf("provider registry: provider %s: unknown api %q", p.ID, a)
			}
		}
		r.byID[p.ID] = p
		for _, m := range p.Models {
			if m.ID == "" || strings.Contains(m.ID, ",") {
				return nil, fmt.Errorf("provider registry: provider %s: bad model id %q", p.ID, m.ID)
			}
			if err := checkPrice(m.Price); err != nil {
				return nil, fmt.Errorf("provider registry: %s/%s: %w", p.ID, m.ID, err)
			}
			if _, taken := r.bare[m.ID]; !taken {
				r.bare[m.ID] = p.ID
			}
		}
	}
	for _, p := range r.Providers {
		for _, m := range p.Models {
			if m.Fallback == "" {
				continue
			}
			if _, ok := r.Resolve(m.Fallback); !ok {
				return nil, fmt.Errorf("provider registry: %s/%s: fallback %s is not in the registry", p.ID, m.ID, m.Fallback)
			}
		}
	}
	return &r, nil
}

// Provider returns the provider with id.
func (r *Registry) Provider(id string) (*Provider, bool) {
	p, ok := r.byID[id]
	return p, ok
}

// Resolve finds a model by "provider/model" or by bare id.
func (r *Registry) Resolve(name string) (Resolved, bool) {
	if providerID, model, ok := strings.Cut(name, "/"); ok {
		if p, known := r.byID[providerID]; known {
			for _, m := range p.Models {
				if m.ID == model {
					return resolved(p, m), true
				}
			}
			return Resolved{}, false
		}
	}
	providerID, ok := r.bare[name]
	if !ok {
		return Resolved{}, false
	}
	return r.Resolve(providerID + "/" + name)
}

// All lists every model as resolved, in registry order.
func (r *Registry) All() []Resolved {
	var out []Resolved
	for i := range r.Providers {
		p := &r.Providers[i]
		for _, m := range p.Models {
			out = append(out, resolved(p, m))
		}
	}
	return out
}

func resolved(p *Provider, m Model) Resolved {
	return Resolved{Provider: p, Model: m.ID, Name: p.ID + "/" + m.ID, Fallback: m.Fallback, Price: m.Price, MaxOutput: m.MaxOutput}
}

// checkPrice refuses a price without the date it was checked: a price
// nobody can date cannot be trusted to bill a budget.
func checkPrice(p *budget.Price) error {
	if p == nil {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, p.Checked); err != nil {
		return fmt.Errorf("price checked %q is not a date (YYYY-MM-DD)", p.Checked)
	}
	return nil
}
