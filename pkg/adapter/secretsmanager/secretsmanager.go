package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aistats/edge/pkg/domain/providers"
)

// Client is the part of the Secrets Manager API used here.
type Client interface {
	GetSecretValue(ctx context.Context, in *sm.GetSecretValueInput, opts ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
}

// DefaultRecheckMissing is how long a missing secret is believed missing.
const DefaultRecheckMissing = 60 * time.Second

// Credentials reads provider credentials from Secrets Manager. A found
// secret is kept for the container's life; a missing one is asked for again
// after RecheckMissingAfter, so a provider whose secret is added after the
// container started becomes usable within a minute, without a redeploy,
// while an unconfigured provider costs at most one call a minute.
type Credentials struct {
	Client Client
	// Prefix is put before every registry secret name: the stack's name and
	// a slash in AWS, so each stack reads its own secrets.
	Prefix string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RecheckMissingAfter is how long a missing secret stays missing before
	// it is asked for again; zero means DefaultRecheckMissing.
	RecheckMissingAfter time.Duration
	mu                  sync.Mutex
	cache               map[string]cachedSecret
}

type cachedSecret struct {
	value string
	// checked is when the secret was found missing (zero for a found one).
	checked time.Time
}

// Credential returns p's credential; a provider without a secret, or whose
// secret does not exist, is not configured (empty credential, no error).
func (c *Credentials) Credential(ctx context.Context, p *providers.Provider) (string, error) {
	if p.Credential.Secret == "" {
		return "", nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	recheck := c.RecheckMissingAfter
	if recheck <= 0 {
		recheck = DefaultRecheckMissing
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cache[p.ID]; ok && (v.value != "" || now().Sub(v.checked) < recheck) {
		return v.value, nil
	}
	name := c.Prefix + p.Credential.Secret
	out, err := c.Client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(name)})
	entry := cachedSecret{}
	switch {
	case err == nil:
		entry.value = strings.TrimSpace(aws.ToString(out.SecretString))
	case isNotFound(err):
		// Not configured, for now: asked again after RecheckMissingAfter.
	default:
		return "", fmt.Errorf("read credential of provider %s from secret %s: %w", p.ID, name, err)
	}
	if entry.value == "" {
		entry.checked = now()
	}
	if c.cache == nil {
		c.cache = map[string]cachedSecret{}
	}
	c.cache[p.ID] = entry
	return entry.value, nil
}

func isNotFound(err error) bool {
	_, ok := errors.AsType[*smtypes.ResourceNotFoundException](err)
	return ok
}
