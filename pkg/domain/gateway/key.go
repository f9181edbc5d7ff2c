package gateway

import (
	"context"
	"time"

	"github.com/aistats/edge/pkg/domain/budget"
)

// KeyKind tells an inference key from a management key. Its value is the
// kind segment of the key text (aistats_v1_<kind>_…).
type KeyKind string

// The two kinds of key (docs/architecture.md §3).
const (
	KindInference  KeyKind = "sk"
	KindManagement KeyKind = "mk"
)

// KeyStatus is the lifecycle state a key was put in by an operator. Expiry is
// not a status: it follows from ExpiresAt and the clock.
type KeyStatus string

// Key states (docs/architecture.md §3).
const (
	KeyActive   KeyStatus = "active"
	KeyDisabled KeyStatus = "disabled"
	KeyRevoked  KeyStatus = "revoked"
)

// Limits are a key's request limits per UTC calendar window and its token
// and money budgets. Zero means unlimited (docs/architecture.md §5).
type Limits struct {
	RequestsPerMinute int64 `json:"requests_per_minute"`
	RequestsPerDay    int64 `json:"requests_per_day"`
	RequestsPerMonth  int64 `json:"requests_per_month"`
	// Budgets sits beside the request limits in the same JSON object.
	budget.Limits
}

// Key is the stored record of an API key. It never holds the plaintext
// secret, only its SHA-256 digest.
type Key struct {
	KID         string
	WorkspaceID string
	Kind        KeyKind
	Name        string
	// Prefix is the public display form of the key: no secret material.
	Prefix     string
	SecretHash []byte
	Status     KeyStatus
	// Models and Providers restrict an inference key; empty means whatever
	// the workspace plan allows.
	Models    []string
	Providers []string
	// Scopes are what a management key may do (docs/architecture.md §8).
	Scopes    []string
	Limits    Limits
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
	// RotatedTo names the key that replaced this one, if any.
	RotatedTo string
}

// ExpiredAt reports whether the key has expired at now.
func (k Key) ExpiredAt(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// KeyUpdate lists the fields an update changes; nil fields stay as they are.
type KeyUpdate struct {
	Name      *string
	Models    *[]string
	Providers *[]string
	Scopes    *[]string
	Limits    *Limits
	// Disabled switches between active and disabled. A revoked key cannot
	// be re-enabled.
	Disabled *bool
	// ExpiresAt sets the expiry; ClearExpiry removes it.
	ExpiresAt   *time.Time
	ClearExpiry bool
	RotatedTo   *string
}

// KeyPage is one page of a key listing.
type KeyPage struct {
	Keys []Key
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// ListKeysOptions selects a page of a workspace's keys.
type ListKeysOptions struct {
	// Limit caps the page size; 0 means the store's default.
	Limit  int
	Cursor string
	// Kind, when set, lists only keys of that kind.
	Kind KeyKind
}

// KeyStore keeps key records. Implementations return *Error values with
// CodeKeyNotFound for a missing key and CodeAlreadyExists for a kid that is
// taken.
type KeyStore interface {
	CreateKey(ctx context.Context, key Key) error
	GetKey(ctx context.Context, kid string) (Key, error)
	ListKeys(ctx context.Context, workspaceID string, opts ListKeysOptions) (KeyPage, error)
	UpdateKey(ctx context.Context, kid string, update KeyUpdate) (Key, error)
	RevokeKey(ctx context.Context, kid string) (Key, error)
}
