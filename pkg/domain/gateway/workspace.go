package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/aistats/edge/pkg/domain/budget"
)

// WorkspaceStatus says whether a workspace's keys may be used.
type WorkspaceStatus string

// Workspace states. A disabled workspace's keys are refused with
// CodeWorkspaceDisabled on their next request.
const (
	WorkspaceActive   WorkspaceStatus = "active"
	WorkspaceDisabled WorkspaceStatus = "disabled"
)

// Plan is what a workspace may use: which providers and models, and its own
// request rate across all of its keys.
type Plan struct {
	// Providers and Models allowed; "*" allows all.
	Providers         []string `json:"providers"`
	Models            []string `json:"models"`
	RequestsPerMinute int64    `json:"requests_per_minute"`
	// Budgets are the workspace's token and money limits across all of its
	// keys, in the same JSON object.
	budget.Limits
}

// Workspace is a tenant: it owns keys and has a plan.
type Workspace struct {
	ID        string
	Name      string
	Status    WorkspaceStatus
	Plan      Plan
	CreatedAt time.Time
	UpdatedAt time.Time
	// Alerts are the workspace's alert settings (webhook, auto_disable).
	Alerts AlertSettings
}

// MaxWorkspaceIDLength bounds a workspace id: it travels in every
// authorizer context, every key record and every pagination cursor, whose
// own bound it must leave room in.
const MaxWorkspaceIDLength = 64

// ValidateWorkspaceID refuses an id that is not 1 to MaxWorkspaceIDLength
// lowercase letters, digits, '-' and '_', starting with a letter or digit.
func ValidateWorkspaceID(id string) error {
	ok := id != "" && len(id) <= MaxWorkspaceIDLength && id[0] != '-' && id[0] != '_'
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'
	}
	if !ok {
		return &Error{Code: CodeValidationError, Param: "workspace_id",
			Message: fmt.Sprintf("A workspace id is 1 to %d lowercase letters, digits, '-' and '_', starting with a letter or digit.", MaxWorkspaceIDLength)}
	}
	return nil
}

// WorkspaceStore keeps workspace records. SetWorkspaceStatus also makes the
// new status visible to every key of the workspace on its next request.
type WorkspaceStore interface {
	CreateWorkspace(ctx context.Context, ws Workspace) error
	GetWorkspace(ctx context.Context, id string) (Workspace, error)
	SetWorkspaceStatus(ctx context.Context, id string, status WorkspaceStatus) (Workspace, error)
}
