package management

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

// MaxOverlap bounds how long a rotated key keeps working.
const MaxOverlap = 30 * 24 * time.Hour

// claimTimeout is how long a claimed rotation whose successor is not stored
// yet counts as in progress. It is the longest a Lambda invocation can run,
// so past it the claiming request has certainly ended, and another rotation
// may take the key over without ever making a second live successor.
const claimTimeout = 15 * time.Minute

// MaxIdempotencyKeyLength bounds the Idempotency-Key header.
const MaxIdempotencyKeyLength = 255

// Rotated is the outcome of RotateKey.
type Rotated struct {
	// Successor is the new key's record.
	Successor gateway.Key
	// Text is the successor's full key text: set only in the answer that
	// stored the successor. The text is never stored, so a replay cannot
	// return it.
	Text string
	// Replayed is true when the rotation had been made already by a request
	// with the same Idempotency-Key and body, and this one changed nothing.
	Replayed bool
}

// RotateKey replaces an inference key with a new one of the same settings.
// The old key keeps working for overlap (0: refused from the next request),
// so clients can switch without downtime.
//
// A key has at most one live successor: rotating a key whose successor is
// neither revoked nor expired answers 409 already_rotated naming it, and of
// concurrent rotations exactly one wins, because each must first claim the
// key with one conditional write (gateway.Rotation). Every successor keeps
// the expiry the original key had before its first rotation (capped at the
// actor's own, see capExpiry), never the overlap deadline.
//
// With an idempotencyKey, a retry of the same request (same key, same
// overlap) answers with the successor it made, Replayed and without its
// text; a request cut off before storing the successor is completed by its
// retry, which then returns the text.
func (s *Service) RotateKey(ctx context.Context, actor Actor, kid string, overlap time.Duration, idempotencyKey string) (Rotated, error) {
	if overlap < 0 || overlap > MaxOverlap {
		return Rotated{}, invalid("previous_key_expires_in", "previous_key_expires_in must be between 0 and %d seconds.", int(MaxOverlap.Seconds()))
	}
	requestHash, err := rotationRequestHash(idempotencyKey, overlap)
	if err != nil {
		return Rotated{}, err
	}
	old, err := s.GetKey(ctx, actor, gateway.KindInference, kid)
	if err != nil {
		return Rotated{}, err
	}
	rot, err := s.store.GetRotation(ctx, kid)
	if err != nil {
		return Rotated{}, err
	}
	if requestHash != "" && rot.RequestHash == requestHash {
		return s.resumeRotation(ctx, actor, old, rot)
	}
	if err := s.refuseSecondSuccessor(ctx, old, rot); err != nil {
		return Rotated{}, err
	}
	if old.Status == gateway.KeyRevoked {
		return Rotated{}, gateway.Errorf(gateway.CodeKeyNotActive, "Key %s is revoked; create a new key instead.", kid)
	}
	claim, err := s.newClaim(old, rot, overlap, requestHash)
	if err != nil {
		return Rotated{}, err
	}
	if err := s.store.ClaimRotation(ctx, kid, claim, rot); err != nil {
		if gateway.ErrorCode(err) != gateway.CodeAlreadyRotated {
			return Rotated{}, err
		}
		return s.afterLostClaim(ctx, actor, old, rot.SuccessorKID, requestHash)
	}
	out, err := s.storeSuccessor(ctx, actor, old, claim)
	if gateway.ErrorCode(err) == gateway.CodeAlreadyExists && requestHash != "" {
		return s.resumeRotation(ctx, actor, old, claim) // a concurrent retry stored it first
	}
	if err != nil {
		return Rotated{}, s.undoRotation(old.KID, claim.SuccessorKID, err)
	}
	return out, nil
}

// undoRotation backs out a rotation that failed after its claim: the
// successor, if it was stored after all (a write that failed on its way
// back), is revoked, since no answer carried its text; and the claim is
// abandoned and forgets its request, so that a retry, with the same
// Idempotency-Key or none, starts afresh and gets a text. Leaving either
// would lock the caller out: a live successor nobody holds blocks every
// later rotation with 409, and a retry would resume it and answer without
// the text. It runs with its own deadline: the request's may be spent.
func (s *Service) undoRotation(kid, successor string, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs := []error{cause}
	// A kid that exists already was never this rotation's to store.
	if gateway.ErrorCode(cause) != gateway.CodeAlreadyExists {
		if _, err := s.store.RevokeKey(ctx, successor); err != nil && gateway.ErrorCode(err) != gateway.CodeKeyNotFound {
			errs = append(errs, fmt.Errorf("revoke the unanswered successor %s: %w", successor, err))
		}
	}
	if err := s.store.AbandonRotation(ctx, kid, successor); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// rotationRequestHash identifies a rotation request for replays: the
// Idempotency-Key together with the body's one field, so that the same key
// sent with a different overlap is a different request (and gets 409). Only
// the digest is stored.
func rotationRequestHash(idempotencyKey string, overlap time.Duration) (string, error) {
	if idempotencyKey == "" {
		return "", nil
	}
	if len(idempotencyKey) > MaxIdempotencyKeyLength {
		return "", invalid("Idempotency-Key", "Idempotency-Key must be 1 to %d characters.", MaxIdempotencyKeyLength)
	}
	for _, r := range idempotencyKey {
		if r < 0x20 || r > 0x7e {
			return "", invalid("Idempotency-Key", "Idempotency-Key must be printable ASCII.")
		}
	}
	sum := sha256.Sum256([]byte(idempotencyKey + "\x00" + strconv.FormatInt(int64(overlap/time.Second), 10)))
	return hex.EncodeToString(sum[:]), nil
}

// refuseSecondSuccessor answers 409 already_rotated while the key's latest
// successor is live: stored and neither revoked nor expired, or claimed so
// recently that it may be being stored right now.
func (s *Service) refuseSecondSuccessor(ctx context.Context, old gateway.Key, rot gateway.Rotation) error {
	if rot.SuccessorKID == "" {
		return nil
	}
	successor, err := s.store.GetKey(ctx, rot.SuccessorKID)
	switch {
	case gateway.ErrorCode(err) == gateway.CodeKeyNotFound:
		if rot.ClaimedAt.IsZero() || s.now().Sub(rot.ClaimedAt) >= claimTimeout {
			return nil // abandoned before its successor was stored
		}
	case err != nil:
		return err
	case successor.Status == gateway.KeyRevoked || successor.ExpiredAt(s.now()):
		return nil
	}
	return alreadyRotated(old.KID, rot.SuccessorKID)
}

func alreadyRotated(kid, successor string) error {
	return gateway.Errorf(gateway.CodeAlreadyRotated,
		"Key %s has already been rotated to %s; use that key, or revoke it before rotating %s again.", kid, successor, kid)
}

// newClaim draws the successor's kid and works out the rotation's dates:
// the old key ends after overlap, but never later than it would have; the
// successors inherit the expiry the old key had before its first rotation.
func (s *Service) newClaim(old gateway.Key, rot gateway.Rotation, overlap time.Duration, requestHash string) (gateway.Rotation, error) {
	now := s.now()
	g, err := keyformat.Generate(s.rand, gateway.KindInference)
	if err != nil {
		return gateway.Rotation{}, gateway.Internal(err)
	}
	endsAt := now.Add(overlap)
	if old.ExpiresAt != nil && old.ExpiresAt.Before(endsAt) {
		endsAt = *old.ExpiresAt
	}
	inherited := old.ExpiresAt
	if !rot.ClaimedAt.IsZero() {
		// Rotated before: old.ExpiresAt is that rotation's deadline now.
		inherited = rot.SuccessorExpiresAt
	}
	return gateway.Rotation{SuccessorKID: g.Token.KID, ClaimedAt: now, RequestHash: requestHash, EndsAt: endsAt,
		SuccessorExpiresAt: inherited}, nil
}

// afterLostClaim answers a rotation whose claim failed because another
// request changed the key between its read and its write.
func (s *Service) afterLostClaim(ctx context.Context, actor Actor, old gateway.Key, previous, requestHash string) (Rotated, error) {
	rot, err := s.store.GetRotation(ctx, old.KID)
	if err != nil {
		return Rotated{}, err
	}
	if requestHash != "" && rot.RequestHash == requestHash {
		return s.resumeRotation(ctx, actor, old, rot) // a concurrent retry of this very request won
	}
	if rot.SuccessorKID != "" && rot.SuccessorKID != previous {
		return Rotated{}, alreadyRotated(old.KID, rot.SuccessorKID)
	}
	return Rotated{}, gateway.Errorf(gateway.CodeKeyNotActive, "Key %s was revoked while it was being rotated.", old.KID)
}

// storeSuccessor stores the successor a claim names, ends the old key and
// records the rotation. The successor's text is drawn here: the claim holds
// only its kid.
func (s *Service) storeSuccessor(ctx context.Context, actor Actor, old gateway.Key, claim gateway.Rotation) (Rotated, error) {
	expires := claim.SuccessorExpiresAt
	if expires != nil && !expires.After(s.now()) {
		expires = nil // an expired key's successor starts without the past expiry
	}
	expires, err := s.capExpiry(ctx, actor, expires)
	if err != nil {
		return Rotated{}, err
	}
	g, err := generateWithKID(s.rand, claim.SuccessorKID)
	if err != nil {
		return Rotated{}, gateway.Internal(err)
	}
	successor := gateway.Key{
		KID: g.Token.KID, Prefix: g.Token.Prefix(), SecretHash: g.Hash,
		WorkspaceID: old.WorkspaceID, Kind: gateway.KindInference, Name: old.Name, Status: old.Status,
		Models: old.Models, Providers: old.Providers, Limits: old.Limits, ExpiresAt: expires, CreatedAt: s.now(),
	}
	if err := s.store.CreateKey(ctx, successor); err != nil {
		return Rotated{}, err
	}
	if err := s.endRotatedKey(ctx, old, claim.EndsAt); err != nil {
		// The successor is stored and only this answer can carry its text,
		// so try once more, with a deadline of its own, before the caller
		// undoes the rotation: the first attempt's writes may have landed
		// with only their answer lost.
		again, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.endRotatedKey(again, old, claim.EndsAt); err != nil {
			return Rotated{}, err
		}
	}
	// The rotation's audit event covers the successor's creation.
	s.audit(ctx, actor, "key.rotated", old.KID, map[string]any{"new_kid": successor.KID,
		"previous_key_expires_in": int64(claim.EndsAt.Sub(claim.ClaimedAt).Seconds()),
		"previous_key_expires_at": claim.EndsAt, "expires_at": successor.ExpiresAt})
	return Rotated{Successor: successor, Text: g.Text}, nil
}

// resumeRotation answers a retry of the request that claimed rot: with the
// successor if it is stored (after making sure the old key ends as the
// first answer said), or by storing it now if the first request was cut off
// before it could.
func (s *Service) resumeRotation(ctx context.Context, actor Actor, old gateway.Key, rot gateway.Rotation) (Rotated, error) {
	successor, err := s.store.GetKey(ctx, rot.SuccessorKID)
	if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
		if old.Status == gateway.KeyRevoked {
			return Rotated{}, gateway.Errorf(gateway.CodeKeyNotActive, "Key %s was revoked before its rotation completed; create a new key instead.", old.KID)
		}
		// Claim the key again before storing: the claim may be old enough
		// for another rotation to take the key over, and of the two only
		// the one whose claim lands may store a successor.
		refreshed := rot
		refreshed.ClaimedAt = s.now()
		if err := s.store.ClaimRotation(ctx, old.KID, refreshed, rot); err != nil {
			if gateway.ErrorCode(err) != gateway.CodeAlreadyRotated {
				return Rotated{}, err
			}
			return s.afterLostClaim(ctx, actor, old, rot.SuccessorKID, rot.RequestHash)
		}
		out, storeErr := s.storeSuccessor(ctx, actor, old, refreshed)
		if storeErr != nil && gateway.ErrorCode(storeErr) != gateway.CodeAlreadyExists {
			return Rotated{}, s.undoRotation(old.KID, rot.SuccessorKID, storeErr)
		}
		if storeErr == nil {
			return out, nil
		}
		// The first request stored it meanwhile: answer as a replay.
		successor, err = s.store.GetKey(ctx, rot.SuccessorKID)
	}
	if err != nil {
		return Rotated{}, err
	}
	if successor.WorkspaceID != old.WorkspaceID {
		return Rotated{}, gateway.Internal(fmt.Errorf("rotation of %s names %s, a key of another workspace", old.KID, successor.KID))
	}
	if err := s.endRotatedKey(ctx, old, rot.EndsAt); err != nil {
		return Rotated{}, err
	}
	return Rotated{Successor: successor, Replayed: true}, nil
}

// endRotatedKey makes the old key stop at endsAt: revoked when that is now,
// otherwise expiring then. It is safe to repeat, and never lengthens the
// key's life.
func (s *Service) endRotatedKey(ctx context.Context, old gateway.Key, endsAt time.Time) error {
	current, err := s.store.GetKey(ctx, old.KID)
	if err != nil {
		return err
	}
	// Revoking a revoked key, or setting the expiry it has, writes again
	// rather than returning early: each is two writes (the record, then the
	// authorizer's state item), and repeating one completes an earlier
	// attempt whose second write did not land.
	switch {
	case current.Status == gateway.KeyRevoked || !endsAt.After(s.now()):
		_, err = s.store.RevokeKey(ctx, old.KID)
	case current.ExpiresAt != nil && current.ExpiresAt.Before(endsAt):
		return nil // ends earlier already
	default:
		_, err = s.store.UpdateKey(ctx, old.KID, gateway.KeyUpdate{ExpiresAt: &endsAt})
	}
	return err
}

// generateWithKID draws a key text for a kid chosen beforehand (the one a
// rotation claimed): fresh randomness, the given kid, a valid checksum.
func generateWithKID(rnd io.Reader, kid string) (keyformat.Generated, error) {
	g, err := keyformat.Generate(rnd, gateway.KindInference)
	if err != nil {
		return keyformat.Generated{}, err
	}
	random := g.Token.Secret()[:keyformat.RandomLength]
	text := keyformat.WithChecksum(keyformat.Prefix(gateway.KindInference, kid) + "_" + random)
	tok, err := keyformat.Parse(text)
	if err != nil {
		return keyformat.Generated{}, fmt.Errorf("generate key for kid %s: %w", kid, err)
	}
	return keyformat.Generated{Token: tok, Text: text, Hash: keyformat.Hash(tok.Secret())}, nil
}
