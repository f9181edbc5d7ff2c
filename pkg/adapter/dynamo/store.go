package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// Client is the part of the DynamoDB API the store uses.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Config configures a Store.
type Config struct {
	Client Client
	Tables Tables
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store keeps workspaces and keys in DynamoDB. It implements
// gateway.KeyStore and gateway.WorkspaceStore.
//
// A key lives in two items: its record in the Keys table (what management
// shows) and its state item in the Counters table (what the authorizer's one
// conditional write checks and counts on). State changes write the record
// first and the state item second, and return an error if either fails, so a
// retried call always converges; a key whose state item is missing is refused
// (fail closed).
type Store struct {
	client Client
	tables Tables
	now    func() time.Time
	// budgets remembers the last view of each budget item this container
	// wrote, to tidy it in later writes at no extra call (budget_memory.go).
	budgets budgetMemory
}

var (
	_ gateway.KeyStore       = (*Store)(nil)
	_ gateway.WorkspaceStore = (*Store)(nil)
)

// New returns a Store.
func New(cfg Config) *Store {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Store{client: cfg.Client, tables: cfg.Tables, now: now}
}

// Page sizes for key listings.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// KeyStatePK is the Counters-table key of a key's state item.
func KeyStatePK(kid string) string { return "key#" + kid }

// WorkspaceStatePK is the Counters-table key of a workspace's state item.
func WorkspaceStatePK(id string) string { return "ws#" + id }

// classify turns a DynamoDB failure into a gateway error: throttling,
// timeouts and network failures are unavailability (the caller may retry),
// a validation error is the client's, everything else is internal. The cause is kept for the logs.
func classify(doing string, err error) error {
	wrapped := fmt.Errorf("%s: %w", doing, err)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return gateway.Unavailable(wrapped)
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return gateway.Unavailable(wrapped)
	}
	if apiErr, ok := errors.AsType[smithy.APIError](err); ok {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException":
			return gateway.Unavailable(fmt.Errorf("%w: %w", gateway.ErrThrottled, wrapped))
		case "ServiceUnavailable", "InternalServerError", "LimitExceededException":
			return gateway.Unavailable(wrapped)
		case "ValidationException":
			// DynamoDB refused a value the request carried (a key too long,
			// an item too large): never a 500 that any client can trigger.
			return &gateway.Error{Code: gateway.CodeValidationError, Err: wrapped,
				Message: "The request holds a value that cannot be stored or looked up; check its size and form."}
		}
	}
	return gateway.Internal(wrapped)
}

func isConditionFailed(err error) bool {
	_, ok := errors.AsType[*ddbtypes.ConditionalCheckFailedException](err)
	return ok
}

// ---- workspaces ----

func workspaceItem(ws gateway.Workspace) item {
	it := item{
		attrWorkspaceID: str(ws.ID),
		attrName:        str(ws.Name),
		attrStatus:      str(string(ws.Status)),
		attrPlanProvs:   stringList(ws.Plan.Providers),
		attrPlanModels:  stringList(ws.Plan.Models),
		attrPlanRPM:     num(ws.Plan.RequestsPerMinute),
		attrCreatedAt:   timeValue(ws.CreatedAt),
		attrUpdatedAt:   timeValue(ws.UpdatedAt),
	}
	putBudgetLimits(it, "plan_", ws.Plan.Limits)
	return it
}

func decodeWorkspace(it item) (gateway.Workspace, error) {
	r := itemReader{item: it}
	ws := gateway.Workspace{
		ID:     r.str(attrWorkspaceID),
		Name:   r.str(attrName),
		Status: gateway.WorkspaceStatus(r.str(attrStatus)),
		Plan: gateway.Plan{
			Providers:         r.list(attrPlanProvs),
			Models:            r.list(attrPlanModels),
			RequestsPerMinute: r.num(attrPlanRPM),
			Limits:            readBudgetLimits(&r, "plan_"),
		},
		CreatedAt: r.time(attrCreatedAt),
		UpdatedAt: r.time(attrUpdatedAt),
		Alerts:    decodeAlertSettings(&r),
	}
	if r.err != nil {
		return gateway.Workspace{}, fmt.Errorf("decode workspace %s: %w", ws.ID, r.err)
	}
	return ws, nil
}

// CreateWorkspace stores a new workspace; an existing id is CodeAlreadyExists.
func (s *Store) CreateWorkspace(ctx context.Context, ws gateway.Workspace) error {
	if err := gateway.ValidateWorkspaceID(ws.ID); err != nil {
		return err
	}
	now := s.now()
	if ws.Status == "" {
		ws.Status = gateway.WorkspaceActive
	}
	ws.CreatedAt, ws.UpdatedAt = now, now
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.tables.Workspaces),
		Item:                workspaceItem(ws),
		ConditionExpression: aws.String("attribute_not_exists(" + attrWorkspaceID + ")"),
	})
	if isConditionFailed(err) {
		return gateway.Errorf(gateway.CodeAlreadyExists, "Workspace %s already exists.", ws.ID)
	}
	if err != nil {
		return classify("create workspace "+ws.ID, err)
	}
	return s.putWorkspaceState(ctx, ws.ID, ws.Status, &ws.Plan)
}

// GetWorkspace reads a workspace; a missing one is CodeWorkspaceNotFound.
func (s *Store) GetWorkspace(ctx context.Context, id string) (gateway.Workspace, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Workspaces),
		Key:            item{attrWorkspaceID: str(id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return gateway.Workspace{}, classify("get workspace "+id, err)
	}
	if out.Item == nil {
		return gateway.Workspace{}, gateway.Errorf(gateway.CodeWorkspaceNotFound, "Workspace %s does not exist.", id)
	}
	ws, err := decodeWorkspace(out.Item)
	if err != nil {
		return gateway.Workspace{}, gateway.Internal(err)
	}
	return ws, nil
}

// SetWorkspaceStatus enables or disables a workspace and copies the new
// status onto the state item of each of its keys, so that the authorizer's
// single write per request refuses them from the next request on.
func (s *Store) SetWorkspaceStatus(ctx context.Context, id string, status gateway.WorkspaceStatus) (gateway.Workspace, error) {
	if status != gateway.WorkspaceActive && status != gateway.WorkspaceDisabled {
		return gateway.Workspace{}, &gateway.Error{Code: gateway.CodeValidationError, Param: "status",
			Message: fmt.Sprintf("Workspace status must be %q or %q.", gateway.WorkspaceActive, gateway.WorkspaceDisabled)}
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.tables.Workspaces),
		Key:                      item{attrWorkspaceID: str(id)},
		UpdateExpression:         aws.String("SET #status = :status, #updated = :now"),
		ConditionExpression:      aws.String("attribute_exists(" + attrWorkspaceID + ")"),
		ExpressionAttributeNames: map[string]string{"#status": attrStatus, "#updated": attrUpdatedAt},
		ExpressionAttributeValues: item{
			":status": str(string(status)), ":now": timeValue(s.now()),
		},
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return gateway.Workspace{}, gateway.Errorf(gateway.CodeWorkspaceNotFound, "Workspace %s does not exist.", id)
	}
	if err != nil {
		return gateway.Workspace{}, classify("set status of workspace "+id, err)
	}
	ws, err := decodeWorkspace(out.Attributes)
	if err != nil {
		return gateway.Workspace{}, gateway.Internal(err)
	}
	if err := s.putWorkspaceState(ctx, id, status, nil); err != nil {
		return gateway.Workspace{}, err
	}
	if err := s.fanOutWorkspaceStatus(ctx, id, status == gateway.WorkspaceDisabled); err != nil {
		return gateway.Workspace{}, err
	}
	return ws, nil
}

// putWorkspaceState writes the authorizer's view of a workspace: its status
// and, when plan is set, its plan.
func (s *Store) putWorkspaceState(ctx context.Context, id string, status gateway.WorkspaceStatus, plan *gateway.Plan) error {
	b := updateBuilder{names: map[string]string{}, values: item{}}
	b.setValue(attrState, str(string(status)))
	if plan != nil {
		b.setValue(attrPlanProvs, stringList(plan.Providers))
		b.setValue(attrPlanModels, stringList(plan.Models))
		b.setValue(attrPlanRPM, num(plan.RequestsPerMinute))
		for _, w := range budget.Windows {
			b.setValue("plan_"+budgetLimitAttrs[w], num(plan.Limit(w)))
		}
	}
	b.names["#version"] = attrVersion
	b.values[":version_step"] = num(1)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(WorkspaceStatePK(id))},
		UpdateExpression:          aws.String(b.expression() + " ADD #version :version_step"),
		ExpressionAttributeNames:  b.names,
		ExpressionAttributeValues: b.values,
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if err != nil {
		return classify("write state of workspace "+id, err)
	}
	return s.syncWorkspaceShards(ctx, out.Attributes, s.now())
}

// fanOutWorkspaceStatus marks every key of the workspace, so that the
// authorizer's one write refuses them at once. It is the fast path, not the
// guarantee: the authorizer also checks the workspace's own status on every
// request, from a view at most its cache TTL old, so a key missed here is
// still refused within that TTL.
//
// The listing index is eventually consistent, so a key created a moment
// before may be missing from the first listing; a second listing then marks
// whatever the first did not see. Marking is idempotent, so a fan-out that
// failed half way (its error reaches the caller) is resumed by setting the
// same status again.
func (s *Store) fanOutWorkspaceStatus(ctx context.Context, id string, disabled bool) error {
	marked := map[string]bool{}
	for pass := 0; pass < 2; pass++ {
		kids, err := s.workspaceKIDs(ctx, id)
		if err != nil {
			return err
		}
		for _, kid := range kids {
			if marked[kid] {
				continue
			}
			if err := s.setKeyWorkspaceDisabled(ctx, kid, disabled); err != nil {
				return err
			}
			marked[kid] = true
		}
	}
	return nil
}

// workspaceKIDs lists the kids of a workspace's keys from the listing index.
func (s *Store) workspaceKIDs(ctx context.Context, id string) ([]string, error) {
	var kids []string
	var start item
	for {
		out, err := s.client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Keys),
			IndexName:                 aws.String(IndexKeysByWorkspace),
			KeyConditionExpression:    aws.String(attrWorkspaceID + " = :ws"),
			ExpressionAttributeValues: item{":ws": str(id)},
			ProjectionExpression:      aws.String(attrKID),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, classify("list keys of workspace "+id, err)
		}
		for _, it := range out.Items {
			r := itemReader{item: it}
			kids = append(kids, r.str(attrKID))
		}
		if len(out.LastEvaluatedKey) == 0 {
			return kids, nil
		}
		start = out.LastEvaluatedKey
	}
}

func (s *Store) setKeyWorkspaceDisabled(ctx context.Context, kid string, disabled bool) error {
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(KeyStatePK(kid))},
		UpdateExpression:          aws.String("SET " + attrWorkspaceOff + " = :off ADD " + attrVersion + " :one"),
		ConditionExpression:       aws.String("attribute_exists(" + attrPK + ")"),
		ExpressionAttributeValues: item{":off": boolean(disabled), ":one": num(1)},
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return nil // no state item: the key is refused anyway
	}
	if err != nil {
		return classify("mark workspace status on key "+kid, err)
	}
	return s.syncShards(ctx, out.Attributes, s.now())
}
