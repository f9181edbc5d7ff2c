package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aistats/edge/pkg/domain/providers"
)

// Client is the part of the Secrets Manager API used here.
type Client interface {
	GetSecretValue(ctx context.Context, in *sm.GetSecretValueInput, opts ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
}

// Credentials reads provider credentials from Secrets Manager.
type Credentials struct {
	Client Client
	// Prefix is put before every registry secret name: the stack's name and
	// a slash in AWS, so each stack reads its own secrets.
	Prefix string
	mu     sync.Mutex
	cache  map[string]string
}

// Credential returns p's credential; a provider without a secret, or whose
// secret does not exist, is not configured (empty credential, no error).
func (c *Credentials) Credential(ctx context.Context, p *providers.Provider) (string, error) {
	if p.Credential.Secret == "" {
		return "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cache[p.ID]; ok {
		return v, nil
	}
	name := c.Prefix + p.Credential.Secret
	out, err := c.Client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(name)})
	value := ""
	switch {
	case err == nil:
		value = strings.TrimSpace(aws.ToString(out.SecretString))
	case isNotFound(err):
		// Not configured: remembered, like a found secret, for the container's life.
	default:
		return "", fmt.Errorf("read credential of provider %s from secret %s: %w", p.ID, name, err)
	}
	if c.cache == nil {
		c.cache = map[string]string{}
	}
	c.cache[p.ID] = value
	return value, nil
}

func isNotFound(err error) bool {
	_, ok := errors.AsType[*smtypes.ResourceNotFoundException](err)
	return ok
}
