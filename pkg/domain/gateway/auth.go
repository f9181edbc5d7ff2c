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
	// Ticket names this counting write, so that it can be withdrawn
	// (Admitter.WithdrawKey). The zero Ticket counts without one.
	Ticket Ticket
	// Free marks a route that spends no budget (a key reading itself,
	// listing models): a spent budget does not refuse it, so a key can
	// still see its own budget once it is used up.
	Free bool
}

// Ticket names one counting write, so that its outcome can be known even
// when its answer was lost (a timeout; the client got 503) and DynamoDB
// applies it later: the write records its ticket on the item it counts on,
// and a withdrawal of the ticket either takes its counts back or makes sure
// the write can never apply (docs/architecture.md §5).
//
// Writer names one writer whose writes never overlap: in the authorizer,
// one invocation slot of one container. Seq grows with each of its writes;
// it is the write's time in Unix milliseconds, or a little past it.
type Ticket struct {
	Writer string
	Seq    int64
}

// TicketHorizon is how long a ticket stays on an item after its write. A
// withdrawal must reach DynamoDB within it to be exact: after it, a later
// counting write may clean the ticket off, and a lost write that applied
// would then stay counted. It is short because an item keeps the ticket of
// every container that wrote it within the horizon (docs/architecture.md
// §5): a withdrawal normally runs within the store deadline of its write.
const TicketHorizon = 30 * time.Second

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
// returns admitted=false and the item as it was; a zero KID (or ID) means
// there is no such item (a key's own item missing is CodeKeyNotFound). A
// refused write that finds its own ticket on the item was applied by an
// earlier attempt whose answer was lost, and is reported admitted.
type Admitter interface {
	AdmitKey(ctx context.Context, a Admission) (auth KeyState, admitted bool, err error)
	GetKeyState(ctx context.Context, kid string, now time.Time) (KeyState, error)
	// WithdrawKey takes back the counting write of a, which carries a
	// ticket: if it was applied, its counts of the windows still current at
	// at come off; if not, it never will be. counted says which. It is
	// exact and safe to repeat, so it undoes both a request its workspace
	// refused after its key counted it and a write whose answer was lost.
	WithdrawKey(ctx context.Context, a Admission, at time.Time) (counted bool, err error)
	AdmitWorkspace(ctx context.Context, a WorkspaceAdmission) (auth WorkspaceState, admitted bool, err error)
	GetWorkspaceState(ctx context.Context, id string, now time.Time) (WorkspaceState, error)
}
