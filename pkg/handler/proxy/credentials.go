package proxy

import (
	"context"
	"sync"

	"github.com/aistats/edge/pkg/domain/providers"
)

// Credentials gives a provider's credential. An empty credential means the
// provider is not configured on this gateway.
type Credentials interface {
	Credential(ctx context.Context, p *providers.Provider) (string, error)
}

// EnvCredentials reads each provider's credential from its environment
// variable, once per container.
type EnvCredentials struct {
	Getenv func(string) string
	once   sync.Map // provider id → string
}

// Credential implements Credentials.
func (e *EnvCredentials) Credential(_ context.Context, p *providers.Provider) (string, error) {
	if v, ok := e.once.Load(p.ID); ok {
		return v.(string), nil
	}
	v := ""
	if p.Credential.Env != "" {
		v = e.Getenv(p.Credential.Env)
	}
	e.once.Store(p.ID, v)
	return v, nil
}
