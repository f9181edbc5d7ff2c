package management

import (
	"context"
	"time"

	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

// listAnomalies is GET /v1/anomalies?kid=&since=&status=&limit=&cursor=:
// the workspace's findings, newest first. A kid of another workspace finds
// nothing, as findings are kept per workspace.
func (h *Handler) listAnomalies(ctx context.Context, actor Actor, q map[string]string) (result, error) {
	if err := Require(actor, ScopeUsageRead); err != nil {
		return result{}, err
	}
	if h.findings == nil {
		return result{}, gateway.Internal(errNotConfigured("findings store"))
	}
	opts := findings.ListOptions{KID: q["kid"], Cursor: q["cursor"]}
	if opts.KID != "" && !keyformat.IsKID(opts.KID) {
		return result{}, invalid("kid", "kid must be a key id: 12 letters and digits.")
	}
	switch s := findings.Status(q["status"]); s {
	case "", findings.Open, findings.Resolved:
		opts.Status = s
	default:
		return result{}, invalid("status", "status must be open or resolved.")
	}
	var err error
	if opts.Since, err = parseTimeParam(q, "since", time.Time{}); err != nil {
		return result{}, err
	}
	if opts.Limit, err = queryInt(q, "limit", DefaultPageSize, 1, MaxPageSize); err != nil {
		return result{}, err
	}
	page, err := h.findings.List(ctx, actor.WorkspaceID, opts)
	if err != nil {
		return result{}, err
	}
	views := make([]findings.View, 0, len(page.Findings))
	for _, f := range page.Findings {
		views = append(views, findings.NewView(f))
	}
	var cursor any
	if page.Cursor != "" {
		cursor = page.Cursor
	}
	return result{status: 200, body: map[string]any{"data": views, "next_cursor": cursor}}, nil
}

// resolveAnomaly is POST /v1/anomalies/{id}/resolve. It takes keys:write:
// resolving re-arms deduplication, so the next detection of the same
// problem alerts again, and it belongs with whoever acts on the key
// (disables, rotates or revokes it), who already holds keys:write. A new
// scope would have left every existing management key unable to close the
// findings it can act on.
func (h *Handler) resolveAnomaly(ctx context.Context, actor Actor, id string) (result, error) {
	if err := Require(actor, ScopeKeysWrite); err != nil {
		return result{}, err
	}
	if h.findings == nil {
		return result{}, gateway.Internal(errNotConfigured("findings store"))
	}
	f, err := h.findings.Resolve(ctx, actor.WorkspaceID, id, actor.KID, h.now().UTC())
	if gateway.ErrorCode(err) == gateway.CodeNotFound {
		return result{}, &gateway.Error{Code: gateway.CodeNotFound, Param: "id", Message: "No finding with id " + truncateForMessage(id) + "."}
	}
	if err != nil {
		return result{}, err
	}
	if f.ResolvedBy == actor.KID && f.ResolvedAt.Equal(h.now().UTC()) {
		h.svc.audit(ctx, actor, "finding.resolved", f.KID, map[string]any{"finding_id": f.ID, "finding_type": string(f.Type)})
	}
	return result{status: 200, body: map[string]any{"data": findings.NewView(f)}}, nil
}

type notConfigured string

func (e notConfigured) Error() string { return "management: no " + string(e) + " configured" }

func errNotConfigured(what string) error { return notConfigured(what) }
