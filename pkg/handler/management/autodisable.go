package management

import (
	"context"
	"fmt"

	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// AutoDisableActor is the actor audited when auto_disable disables a key.
const AutoDisableActor = "auto-disable"

// AutoDisable disables the key of a new finding when its workspace opted in
// to auto_disable and the finding's type is one that means abuse
// (findings.AutoDisables: auth_failures, spend_spike). It uses the same
// write as PATCH {"disabled": true}, so the authorizer refuses the key from
// its next request, and PATCH /v1/keys/{kid} {"disabled": false} undoes it.
// The change is audited with the finding's id. It reports whether it
// disabled the key; a key that is revoked, already disabled or gone is left
// alone.
func (s *Service) AutoDisable(ctx context.Context, f findings.Finding) (bool, error) {
	if !findings.AutoDisables(f.Type) {
		return false, nil
	}
	ws, err := s.store.GetWorkspace(ctx, f.WorkspaceID)
	if err != nil {
		return false, fmt.Errorf("read workspace %s for auto_disable: %w", f.WorkspaceID, err)
	}
	if !ws.Alerts.AutoDisable {
		return false, nil
	}
	k, err := s.store.GetKey(ctx, f.KID)
	if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if k.WorkspaceID != f.WorkspaceID || k.Status != gateway.KeyActive {
		return false, nil
	}
	disabled := true
	if _, err := s.store.UpdateKey(ctx, f.KID, gateway.KeyUpdate{Disabled: &disabled}); err != nil {
		if gateway.ErrorCode(err) == gateway.CodeKeyNotActive {
			return false, nil // revoked meanwhile
		}
		return false, err
	}
	s.audit(ctx, Actor{KID: AutoDisableActor, WorkspaceID: f.WorkspaceID}, "key.updated", f.KID,
		map[string]any{"disabled": true, "finding_id": f.ID, "finding_type": string(f.Type)})
	return true, nil
}
