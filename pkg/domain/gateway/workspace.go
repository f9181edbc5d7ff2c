package gateway

import (
	"context"
	"time"
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
}

// Workspace is a tenant: it owns keys and has a plan.
type Workspace struct {
	ID        string
	Name      string
	Status    WorkspaceStatus
	Plan      Plan
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WorkspaceStore keeps workspace records. SetWorkspaceStatus also makes the
// new status visible to every key of the workspace on its next request.
type WorkspaceStore interface {
	CreateWorkspace(ctx context.Context, ws Workspace) error
	GetWorkspace(ctx context.Context, id string) (Workspace, error)
	SetWorkspaceStatus(ctx context.Context, id string, status WorkspaceStatus) (Workspace, error)
}
