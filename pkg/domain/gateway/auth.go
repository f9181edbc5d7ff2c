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
	// Shard, when nonzero, counts on the key's shard Shard-1 instead of its
	// own item: a hot key's requests are spread over its shards (KeySharder).
	Shard int
}

// KeySharder spreads a hot key over several items, so that one key can take
// more requests a second than one DynamoDB item (docs/architecture.md §5).
// Each shard holds the key's state and a share of each limit; together the
// shares are the limit, so admissions stay exact.
type KeySharder interface {
	// ShardKey splits an active key over n shards. Its own item stops
	// counting from that write on, and the shards take over what was left
	// of each current window. Sharding a sharded key changes nothing.
	ShardKey(ctx context.Context, kid string, n int, now time.Time) (KeyState, error)
	// GetKeyShardState reads shard i of a key (0 ≤ i < Shards), creating it
	// from the key's own item if it is missing.
	GetKeyShardState(ctx context.Context, kid string, shard int, now time.Time) (KeyState, error)
	// ReleaseKeyShard undoes a request counted on shard i.
	ReleaseKeyShard(ctx context.Context, kid string, shard int, now time.Time) error
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
	// Shards is how many shards a hot key is spread over (0: not sharded).
	// Shard is i+1 on the state of shard i, 0 on the key's own item; on a
	// shard, Limits and Used are the shard's share and KeyLimits the key's.
	Shards, Shard int
	KeyLimits     Limits
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
	// Shard, when nonzero, counts on the workspace's shard Shard-1.
	Shard int
}

// WorkspaceSharder spreads a hot workspace's own limit over several items,
// as KeySharder does a key's.
type WorkspaceSharder interface {
	ShardWorkspace(ctx context.Context, id string, n int, now time.Time) (WorkspaceState, error)
	GetWorkspaceShardState(ctx context.Context, id string, shard int, now time.Time) (WorkspaceState, error)
}

// WorkspaceState is the authorizer's view of a workspace.
type WorkspaceState struct {
	ID     string
	Status WorkspaceStatus
	Plan   Plan
	// UsedMinute counts the workspace's requests this minute.
	UsedMinute int64
	Stale      []string
	// Shards is how many shards a hot workspace's limit is spread over.
	// Shard is i+1 on the state of shard i: UsedMinute is then the
	// shard's count, Share its part of Plan.RequestsPerMinute (the whole).
	Shards, Shard int
	Share         int64
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
