package gateway

import (
	"context"
	"time"
)

// Admission asks to count one request against a key. The store admits it
// only if, in one conditional write, the key exists with this kind and secret
// digest, is active, not expired, its workspace is not disabled, and every
// limit of the key has room in the current window.
type Admission struct {
	KID        string
	Kind       KeyKind
	SecretHash []byte
	Now        time.Time
	// Stale names counter attributes of past windows seen on the item, to
	// remove in the same write so the item stays small.
	Stale []string
}

// KeyState is the authorizer's view of a key: the state item that its one
// write per request reads and counts on.
type KeyState struct {
	KID               string
	WorkspaceID       string
	Kind              KeyKind
	SecretHash        []byte
	Status            KeyStatus
	WorkspaceDisabled bool
	ExpiresAt         *time.Time
	Models, Providers []string
	Scopes            []string
	Limits            Limits
	// Used counts the requests in the current minute, day and month
	// (limits.Minute, limits.Day, limits.Month), this one included.
	Used [3]int64
	// Stale lists counter attributes of past windows still on the item.
	Stale []string
	// BudgetSpentUntil is until when the budget named BudgetSpent is used
	// up (zero if none is); AdmitKey refuses the key until then.
	BudgetSpentUntil time.Time
	BudgetSpent      string
}

// WorkspaceAdmission asks to count one request against a workspace's own
// per-minute limit.
type WorkspaceAdmission struct {
	WorkspaceID string
	Now         time.Time
	Stale       []string
}

// WorkspaceState is the authorizer's view of a workspace.
type WorkspaceState struct {
	ID     string
	Status WorkspaceStatus
	Plan   Plan
	// UsedMinute counts the workspace's requests this minute.
	UsedMinute int64
	Stale      []string
}

// Admitter is the store side of the authorizer. An admit that is refused
// returns admitted=false and, where the store could return it in the same
// call, the item as it was; a zero KID means the caller must read it.
type Admitter interface {
	AdmitKey(ctx context.Context, a Admission) (auth KeyState, admitted bool, err error)
	GetKeyState(ctx context.Context, kid string, now time.Time) (KeyState, error)
	// ReleaseKey undoes a counted request whose workspace refused it. The
	// workspace is counted only after its key, so it never needs undoing.
	ReleaseKey(ctx context.Context, kid string, now time.Time) error
	AdmitWorkspace(ctx context.Context, a WorkspaceAdmission) (auth WorkspaceState, admitted bool, err error)
	GetWorkspaceState(ctx context.Context, id string, now time.Time) (WorkspaceState, error)
}
