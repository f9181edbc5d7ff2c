package gateway

import "time"

// Rotation is the record of a key's latest rotation, kept on the key that
// was rotated. It is written by one conditional write before the successor
// exists, so that two rotations racing each other cannot both make one, and
// a retried rotation finds the successor it made instead of making another.
type Rotation struct {
	// SuccessorKID names the key that replaces this one. It is drawn before
	// the successor is stored, so for a moment it may name no key yet.
	SuccessorKID string
	// ClaimedAt is when the rotation was claimed; zero for a rotation
	// recorded before claims were (only SuccessorKID is known then).
	ClaimedAt time.Time
	// RequestHash identifies the request that claimed the rotation: a
	// digest of its Idempotency-Key and body; empty when it had none.
	RequestHash string
	// EndsAt is when the rotated key stops working.
	EndsAt time.Time
	// SuccessorExpiresAt is the expiry successors inherit: the rotated
	// key's own before its first rotation shortened it; nil for never.
	SuccessorExpiresAt *time.Time
}
