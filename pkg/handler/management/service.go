package management

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aistats/edge/pkg/domain/access"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

// Scopes a management key can hold (docs/architecture.md §8).
const (
	ScopeKeysRead            = "keys:read"
	ScopeKeysWrite           = "keys:write"
	ScopeKeysDelete          = "keys:delete"
	ScopeUsageRead           = "usage:read"
	ScopeManagementKeysWrite = "management_keys:write"
	// ScopeWebhooksWrite sets, reads and removes the workspace's webhook:
	// its URL decides where findings about every key are sent.
	ScopeWebhooksWrite = "webhooks:write"
)

// AllScopes lists every scope.
var AllScopes = []string{ScopeKeysRead, ScopeKeysWrite, ScopeKeysDelete, ScopeUsageRead, ScopeManagementKeysWrite, ScopeWebhooksWrite}

// OperatorActor is the actor recorded for changes made with the CLI.
const OperatorActor = "operator"

// Store is what the service needs from storage.
type Store interface {
	gateway.KeyStore
	gateway.WorkspaceStore
	LastUsed(ctx context.Context, kids []string) (map[string]time.Time, error)
	AppendAudit(ctx context.Context, e gateway.AuditEvent) error
	GetRotation(ctx context.Context, kid string) (gateway.Rotation, error)
	ClaimRotation(ctx context.Context, kid string, claim, seen gateway.Rotation) error
	AbandonRotation(ctx context.Context, kid, successor string) error
	ListAudit(ctx context.Context, workspaceID, cursor string, limit int) (gateway.AuditPage, error)
}

// Service holds the key lifecycle rules shared by the management API and
// the operator CLI: validation, workspace isolation, rotation and the audit
// trail.
type Service struct {
	store Store
	rand  io.Reader
	now   func() time.Time
}

// NewService returns a Service; rnd and now may be nil for crypto/rand and
// time.Now.
func NewService(store Store, rnd io.Reader, now func() time.Time) *Service {
	if rnd == nil {
		rnd = rand.Reader
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, rand: rnd, now: now}
}

// Actor is who makes a change: a management key, or the operator.
type Actor struct {
	KID         string
	WorkspaceID string
	Scopes      []string
}

// KeySpec is the settings of a key to create.
type KeySpec struct {
	Name      string
	Models    []string
	Providers []string
	Limits    gateway.Limits
	ExpiresAt *time.Time
	Disabled  bool
	// Scopes of a management key.
	Scopes []string
}

func invalid(param, format string, args ...any) error {
	return &gateway.Error{Code: gateway.CodeValidationError, Param: param, Message: fmt.Sprintf(format, args...)}
}

// validateName checks a key name: 1 to 100 characters, none of them a
// control character or a line or paragraph separator. A name is shown in
// terminals, log lines and the dashboard, where such characters hide or
// forge text.
func validateName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 || !utf8.ValidString(name) {
		return invalid("name", "name must be 1 to 100 characters.")
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return invalid("name", "name must not contain control characters or line breaks.")
		}
	}
	return nil
}

func validateLists(models, providers []string) error {
	for _, m := range models {
		if !access.ValidPattern(m) {
			return invalid("models", "models entries must be \"*\", \"provider/*\" or \"provider/model\" (letters, digits and . _ : @ + - between slashes); %q is not.", truncateForMessage(m))
		}
	}
	for _, p := range providers {
		if p != "*" && !access.ValidProviderID(p) {
			return invalid("providers", "providers entries must be provider ids such as \"openai\" or \"*\"; %q is not.", truncateForMessage(p))
		}
	}
	if len(models) > 100 || len(providers) > 100 {
		return invalid("models", "at most 100 models and 100 providers per key.")
	}
	return nil
}

func validateLimits(l gateway.Limits) error {
	for param, v := range map[string]int64{
		"limits.requests_per_minute": l.RequestsPerMinute, "limits.requests_per_day": l.RequestsPerDay,
		"limits.requests_per_month": l.RequestsPerMonth,
		"limits.tokens_per_minute":  l.TokensPerMinute, "limits.tokens_per_day": l.TokensPerDay,
		"limits.cost_per_day_usd": int64(l.CostPerDay), "limits.cost_per_month_usd": int64(l.CostPerMonth),
		"limits.cost_usd": int64(l.CostLifetime),
	} {
		if v < 0 {
			return invalid(param, "%s must be a non-negative integer (0 means unlimited).", param)
		}
	}
	return nil
}

func (s *Service) validateExpiry(t *time.Time) error {
	if t != nil && !t.After(s.now()) {
		return invalid("expires_at", "expires_at must be in the future.")
	}
	return nil
}

// truncateForMessage shortens a client's string before it is echoed in an
// error message, so a huge value cannot make a huge answer or log line.
func truncateForMessage(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// validateScopes checks scopes exist and that the actor holds each one it
// grants: a key cannot give more than it has.
func validateScopes(actor Actor, scopes []string) error {
	if len(scopes) == 0 {
		return invalid("scopes", "scopes must name at least one of %v.", AllScopes)
	}
	for _, sc := range scopes {
		if !slices.Contains(AllScopes, sc) {
			return invalid("scopes", "unknown scope %q; scopes are %v.", truncateForMessage(sc), AllScopes)
		}
	}
	if missing, ok := lacksScope(actor, scopes); ok {
		return &gateway.Error{Code: gateway.CodeInsufficientScope, Param: "scopes",
			Message: fmt.Sprintf("This key cannot grant the scope %s, which it does not hold.", missing)}
	}
	return nil
}

// lacksScope returns the first of scopes the actor does not hold. The
// operator holds every scope.
func lacksScope(actor Actor, scopes []string) (string, bool) {
	if actor.KID == OperatorActor {
		return "", false
	}
	for _, sc := range scopes {
		if !slices.Contains(actor.Scopes, sc) {
			return sc, true
		}
	}
	return "", false
}

// dedupe returns list without repeats, first occurrences kept in order.
func dedupe(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Require refuses an actor without scope.
func Require(actor Actor, scope string) error {
	if actor.KID == OperatorActor || slices.Contains(actor.Scopes, scope) {
		return nil
	}
	return gateway.Errorf(gateway.CodeInsufficientScope, "This management key lacks the scope %s.", scope)
}

// CreateKey makes a key of kind in the actor's workspace and returns it with
// its full text, which is shown this once and never again.
func (s *Service) CreateKey(ctx context.Context, actor Actor, kind gateway.KeyKind, spec KeySpec) (gateway.Key, string, error) {
	if err := validateName(spec.Name); err != nil {
		return gateway.Key{}, "", err
	}
	if err := errors.Join(validateLists(spec.Models, spec.Providers), validateLimits(spec.Limits), s.validateExpiry(spec.ExpiresAt)); err != nil {
		return gateway.Key{}, "", firstError(err)
	}
	if kind == gateway.KindManagement {
		// A repeated scope grants nothing more; storing it would only make
		// the subset checks and the dashboard show it twice.
		spec.Scopes = dedupe(spec.Scopes)
		if err := validateScopes(actor, spec.Scopes); err != nil {
			return gateway.Key{}, "", err
		}
	} else if len(spec.Scopes) > 0 {
		return gateway.Key{}, "", invalid("scopes", "scopes belong to management keys only.")
	}
	expires, err := s.capExpiry(ctx, actor, spec.ExpiresAt)
	if err != nil {
		return gateway.Key{}, "", err
	}
	status := gateway.KeyActive
	if spec.Disabled {
		status = gateway.KeyDisabled
	}
	k, text, err := InsertKey(ctx, s.store, s.rand, gateway.Key{
		WorkspaceID: actor.WorkspaceID, Kind: kind, Name: spec.Name, Status: status, Models: spec.Models,
		Providers: spec.Providers, Scopes: spec.Scopes, Limits: spec.Limits, ExpiresAt: expires, CreatedAt: s.now(),
	})
	if err != nil {
		return gateway.Key{}, "", err
	}
	s.audit(ctx, actor, "key.created", k.KID, map[string]any{
		"kind": string(kind), "name": k.Name, "models": k.Models, "providers": k.Providers, "scopes": k.Scopes,
		"limits": k.Limits, "expires_at": k.ExpiresAt, "disabled": spec.Disabled,
	})
	return k, text, nil
}

// capExpiry returns the expiry a key the actor creates or changes may have:
// requested (nil: never), but no later than the actor's own key expires. A
// temporary management key must not be able to mint a permanent key, or its
// expiry would bound nothing. The operator has no key and no cap.
func (s *Service) capExpiry(ctx context.Context, actor Actor, requested *time.Time) (*time.Time, error) {
	if actor.KID == OperatorActor {
		return requested, nil
	}
	self, err := s.store.GetKey(ctx, actor.KID)
	if err == nil && self.WorkspaceID != actor.WorkspaceID {
		err = fmt.Errorf("key %s is not in workspace %s", actor.KID, actor.WorkspaceID)
	}
	if err != nil {
		// The authorizer has just admitted this key, so it must be there:
		// fail closed rather than create a key without knowing the cap.
		return nil, gateway.Internal(fmt.Errorf("read the acting key %s for its expiry: %w", actor.KID, err))
	}
	if self.ExpiresAt == nil || (requested != nil && !requested.After(*self.ExpiresAt)) {
		return requested, nil
	}
	capped := self.ExpiresAt.UTC()
	return &capped, nil
}

// InsertKey stores k under a freshly drawn kid and secret, drawing again on
// the rare kid collision, and returns the stored key with its full text.
// k's KID, Prefix and SecretHash are set here; everything else is the
// caller's. It records no audit event: callers that act for someone do.
func InsertKey(ctx context.Context, store gateway.KeyStore, rnd io.Reader, k gateway.Key) (gateway.Key, string, error) {
	for attempt := 0; attempt < 3; attempt++ {
		g, err := keyformat.Generate(rnd, k.Kind)
		if err != nil {
			return gateway.Key{}, "", gateway.Internal(err)
		}
		k.KID, k.Prefix, k.SecretHash = g.Token.KID, g.Token.Prefix(), g.Hash
		err = store.CreateKey(ctx, k)
		if gateway.ErrorCode(err) == gateway.CodeAlreadyExists {
			continue // a kid collision: draw again
		}
		if err != nil {
			return gateway.Key{}, "", err
		}
		return k, g.Text, nil
	}
	return gateway.Key{}, "", gateway.Internal(errors.New("create key: three kid collisions in a row"))
}

func firstError(err error) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if e != nil {
				return e
			}
		}
	}
	return err
}

// audit records a change. A failure is not returned: the change happened,
// and refusing to report it would make the client retry it.
func (s *Service) audit(ctx context.Context, actor Actor, action, target string, changes map[string]any) {
	_ = s.store.AppendAudit(ctx, gateway.AuditEvent{
		Time: s.now(), WorkspaceID: actor.WorkspaceID, ActorKID: actor.KID, Action: action, TargetKID: target, Changes: changes,
	})
}

// GetKey reads a key of kind in the actor's workspace. Another workspace's
// key, a key of the other kind and a missing key all answer the same 404.
func (s *Service) GetKey(ctx context.Context, actor Actor, kind gateway.KeyKind, kid string) (gateway.Key, error) {
	notFound := gateway.Errorf(gateway.CodeKeyNotFound, "No key with id %s.", kid)
	if !keyformat.IsKID(kid) {
		return gateway.Key{}, notFound
	}
	k, err := s.store.GetKey(ctx, kid)
	if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
		return gateway.Key{}, notFound
	}
	if err != nil {
		return gateway.Key{}, err
	}
	if k.WorkspaceID != actor.WorkspaceID || k.Kind != kind {
		return gateway.Key{}, notFound
	}
	return k, nil
}

// LastUsed returns when the keys were last used.
func (s *Service) LastUsed(ctx context.Context, kids []string) (map[string]time.Time, error) {
	return s.store.LastUsed(ctx, kids)
}

// Page sizes of the listings. The management layer validates what a client
// asks for; the store only bounds its queries.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// maxUnusedRounds bounds the pages one unused_for_days listing reads: past
// it the page is returned short, with a cursor, so a large workspace of
// busy keys cannot make one request slow.
const maxUnusedRounds = 5

// ListKeys returns a page of up to limit (1 to MaxPageSize) of the workspace's keys
// of kind. With unusedForDays > 0 only keys not used (or, if never used,
// created) in that many days are kept, so stale keys are easy to find; the
// page is then filled from further keys, reading at most maxUnusedRounds
// pages of them.
func (s *Service) ListKeys(ctx context.Context, actor Actor, kind gateway.KeyKind, limit int, cursor string, unusedForDays int) ([]KeyView, string, error) {
	if limit < 1 || limit > MaxPageSize {
		return nil, "", invalid("limit", "limit must be an integer from 1 to %d.", MaxPageSize)
	}
	now := s.now()
	cutoff := now.AddDate(0, 0, -unusedForDays)
	views := []KeyView{}
	for round := 1; ; round++ {
		// Ask for no more keys than the page has room for, so every key read
		// is either shown or skipped and the store's cursor stays exact.
		page, err := s.store.ListKeys(ctx, actor.WorkspaceID, gateway.ListKeysOptions{Limit: limit - len(views), Cursor: cursor, Kind: kind})
		if err != nil {
			return nil, "", err
		}
		kids := make([]string, len(page.Keys))
		for i, k := range page.Keys {
			kids[i] = k.KID
		}
		used, err := s.store.LastUsed(ctx, kids)
		if err != nil {
			return nil, "", err
		}
		for _, k := range page.Keys {
			var last *time.Time
			if t, ok := used[k.KID]; ok {
				last = &t
			}
			if unusedForDays > 0 {
				seen := k.CreatedAt
				if last != nil {
					seen = *last
				}
				if seen.After(cutoff) {
					continue
				}
			}
			views = append(views, NewKeyView(k, last, now))
		}
		cursor = page.NextCursor
		if len(views) == limit || cursor == "" || round == maxUnusedRounds {
			return views, cursor, nil
		}
	}
}

// KeyChange is a PATCH: nil fields stay as they are.
type KeyChange struct {
	Name      *string
	Models    *[]string
	Providers *[]string
	// Limits changes the limits it names and keeps the others.
	Limits   *LimitsPatch
	Disabled *bool
	// ExpiresAt sets the expiry; ClearExpiry (JSON null) removes it.
	ExpiresAt   *time.Time
	ClearExpiry bool
}

// UpdateKey changes an inference key of the actor's workspace.
func (s *Service) UpdateKey(ctx context.Context, actor Actor, kid string, c KeyChange) (gateway.Key, error) {
	current, err := s.GetKey(ctx, actor, gateway.KindInference, kid)
	if err != nil {
		return gateway.Key{}, err
	}
	changes := map[string]any{}
	if c.Name != nil {
		if err := validateName(*c.Name); err != nil {
			return gateway.Key{}, err
		}
		changes["name"] = *c.Name
	}
	models, providers := []string(nil), []string(nil)
	if c.Models != nil {
		models = *c.Models
		changes["models"] = models
	}
	if c.Providers != nil {
		providers = *c.Providers
		changes["providers"] = providers
	}
	if err := validateLists(models, providers); err != nil {
		return gateway.Key{}, err
	}
	var limits *gateway.Limits
	if c.Limits != nil {
		merged := c.Limits.Apply(current.Limits)
		if err := validateLimits(merged); err != nil {
			return gateway.Key{}, err
		}
		limits = &merged
		changes["limits"] = merged
	}
	if c.ExpiresAt != nil || c.ClearExpiry {
		if err := s.validateExpiry(c.ExpiresAt); err != nil {
			return gateway.Key{}, err
		}
		capped, err := s.capExpiry(ctx, actor, c.ExpiresAt)
		if err != nil {
			return gateway.Key{}, err
		}
		c.ExpiresAt, c.ClearExpiry = capped, capped == nil
		changes["expires_at"] = capped
	}
	if c.Disabled != nil {
		changes["disabled"] = *c.Disabled
	}
	k, err := s.store.UpdateKey(ctx, kid, gateway.KeyUpdate{
		Name: c.Name, Models: c.Models, Providers: c.Providers, Limits: limits, Disabled: c.Disabled,
		ExpiresAt: c.ExpiresAt, ClearExpiry: c.ClearExpiry,
	})
	if err != nil {
		return gateway.Key{}, err
	}
	s.audit(ctx, actor, "key.updated", kid, changes)
	return k, nil
}

// RevokeKey revokes a key of kind; the next request with it is refused. The
// record stays, for audit and usage history.
func (s *Service) RevokeKey(ctx context.Context, actor Actor, kind gateway.KeyKind, kid string) error {
	target, err := s.GetKey(ctx, actor, kind, kid)
	if err != nil {
		return err
	}
	if kind == gateway.KindManagement && kid == actor.KID {
		return invalid("kid", "A management key cannot revoke itself; use another management key.")
	}
	// Revoking is as strong as granting: a key may revoke only a management
	// key that holds nothing it does not hold itself, or a narrow key could
	// lock the workspace out of its wider keys.
	if kind == gateway.KindManagement {
		if missing, ok := lacksScope(actor, target.Scopes); ok {
			return &gateway.Error{Code: gateway.CodeInsufficientScope, Param: "kid",
				Message: fmt.Sprintf("This key cannot revoke management key %s, which holds the scope %s that this key lacks.", kid, missing)}
		}
	}
	if _, err := s.store.RevokeKey(ctx, kid); err != nil {
		return err
	}
	s.audit(ctx, actor, "key.revoked", kid, map[string]any{"kind": string(kind)})
	return nil
}

// Audit returns a page of up to limit (1 to MaxPageSize) events of the
// actor's workspace's audit trail, newest first.
func (s *Service) Audit(ctx context.Context, actor Actor, cursor string, limit int) (gateway.AuditPage, error) {
	if limit < 1 || limit > MaxPageSize {
		return gateway.AuditPage{}, invalid("limit", "limit must be an integer from 1 to %d.", MaxPageSize)
	}
	return s.store.ListAudit(ctx, actor.WorkspaceID, cursor, limit)
}
