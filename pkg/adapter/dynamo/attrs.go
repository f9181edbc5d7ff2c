package dynamo

// Every attribute name the tables hold, in one place, so that an item's
// encoder, its decoder, the update and condition expressions and the table
// definitions cannot drift apart. An attribute shared by two item kinds (a
// key record and the key's state item both hold rpm) is one constant.

// Keys and indexes.
const (
	attrPK          = "pk"
	attrSK          = "sk"
	attrWorkspaceID = "workspace_id"
	attrKID         = "kid"
	attrCreatedAt   = "created_at"
	// attrTTL is the epoch-seconds attribute DynamoDB's TTL deletes by.
	// Correctness never depends on it: deletion may come days late.
	attrTTL = "ttl"
)

// A key record (Keys table); the first group is also projected onto the
// key's state item in the Counters table, which the authorizer reads.
const (
	attrSecretHash = "secret_hash"
	attrKind       = "kind"
	attrModels     = "models"
	attrProviders  = "providers"
	attrScopes     = "scopes"
	attrRPM        = "rpm"
	attrRPD        = "rpd"
	attrRPMo       = "rpmo"

	attrName      = "name"
	attrPrefix    = "prefix"
	attrStatus    = "status"
	attrUpdatedAt = "updated_at"
	attrExpiresAt = "expires_at"
	attrRevokedAt = "revoked_at"
	attrLastUsed  = "last_used_at"
)

// The latest rotation of a key (gateway.Rotation), on its record;
// rotated_to is also shown as the key's RotatedTo.
const (
	attrRotatedTo          = "rotated_to"
	attrRotationClaimedAt  = "rotation_claimed_at"
	attrRotationRequest    = "rotation_request"
	attrRotationEndsAt     = "rotation_ends_at"
	attrSuccessorExpiresAt = "successor_expires_at"
)

// A workspace record (Workspaces table) and the plan projected onto the
// workspace's state item.
const (
	attrPlanRPM    = "plan_rpm"
	attrPlanModels = "plan_models"
	attrPlanProvs  = "plan_providers"
)

// State items in the Counters table: what the authorizer checks besides the
// projected record and the counters (see counterAttr).
const (
	attrState        = "state"
	attrWorkspaceOff = "workspace_disabled"
	attrExpiresMS    = "expires_ms"
	// attrBudgetExhausted is until when (epoch ms) a budget of the key is
	// spent, and attrBudgetExhaustedName which one: set by the proxy's
	// settle (MarkExhausted), checked by AdmitKey's condition.
	attrBudgetExhausted     = "bx"
	attrBudgetExhaustedName = "bxn"
)

// The token and money limits (budget.Limits) on a key record and its state
// item, and on a workspace's record and state item (plan_ prefixed there).
const (
	attrTPM = "tpm"
	attrTPD = "tpd"
	attrCPD = "cpd"
	attrCPM = "cpmo"
	attrCL  = "cl"
)

// An audit event (Audit table).
const (
	attrActorKID  = "actor_kid"
	attrAction    = "action"
	attrTargetKID = "target_kid"
	attrChanges   = "changes"
)

// A finding (Findings table, findings.go) and the marker that keeps one
// open per key and type.
const (
	attrFindingID  = "finding_id"
	attrType       = "type"
	attrSeverity   = "severity"
	attrWindowFrom = "window_start"
	attrWindowTo   = "window_end"
	attrObserved   = "observed"
	attrExpLow     = "expected_low"
	attrExpHigh    = "expected_high"
	attrSentence   = "sentence"
	attrResolvedAt = "resolved_at"
	attrResolvedBy = "resolved_by"
)

// A workspace's alert settings (gateway.AlertSettings), on its record.
const (
	attrWebhookURL       = "webhook_url"
	attrWebhookSecret    = "webhook_secret"
	attrWebhookCreatedAt = "webhook_created_at"
	attrAutoDisable      = "auto_disable"
	attrDeliveryAt       = "delivery_at"
	attrDeliveryFinding  = "delivery_finding"
	attrDeliveryOK       = "delivery_ok"
	attrDeliveryStatus   = "delivery_status"
	attrDeliveryError    = "delivery_error"
)

// A hot key's sharding (shards.go): the number of shards on the key's own
// state item, which stops counting once it is set; each shard's shard_of;
// and the state version every change of the key's state item increments,
// so that a shard is never overwritten by an older state.
const (
	attrShards  = "shards"
	attrShardOf = "shard_of"
	attrVersion = "v"
	// The key's whole limits, on a shard, whose rpm, rpd and rpmo hold
	// its share: for the rate-limit headers.
	attrKeyRPM  = "key_rpm"
	attrKeyRPD  = "key_rpd"
	attrKeyRPMo = "key_rpmo"
)
