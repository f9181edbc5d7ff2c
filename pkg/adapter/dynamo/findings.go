package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/adapter/backoff"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// The Findings table holds two kinds of item per workspace, under
// pk = "ws#<workspace>":
//
//   - a finding, sk = "f#<id>". An id starts with its creation time in
//     fixed-width hex nanoseconds, so a Query in reverse sk order lists
//     newest first and "since" is a key condition, not a filter.
//   - an open marker, sk = "open#<kid>#<type>", whose finding_id names the
//     finding of that key and type that is open, if any.
//
// Deduplication needs no transaction: opening a finding first claims the
// marker with one conditional write (finding_id must be absent), and only
// the writer that claimed it stores a finding. Resolving removes finding_id
// from the marker, again conditionally (only if it still names the finding
// being resolved), which re-arms it. DynamoDB applies conditional writes to
// one item one at a time, so of any number of concurrent Opens of the same
// key and type exactly one is new.
const (
	findingSKPrefix = "f#"
	markerSKPrefix  = "open#"
	// findingIDLength is 16 hex digits of time and 8 base32 characters.
	findingIDLength = 24
	// findingRetention is how long a resolved finding is kept (TTL).
	findingRetention = 180 * 24 * time.Hour
	// markerTakeover is how old a marker whose finding was never written
	// must be before another Open may take it over: the writer that
	// claimed it crashed between its two writes.
	markerTakeover = time.Minute
	// maxFindingQueries bounds the Query calls of one filtered page.
	maxFindingQueries = 5
)

var _ findings.Store = (*Store)(nil)

// NewFindingID returns a fresh finding id for a finding created at t: its
// time in 16 hex digits of Unix nanoseconds (so ids sort by creation),
// then 8 random base32 characters.
func NewFindingID(t time.Time) string {
	return fmt.Sprintf("%016x", uint64(t.UnixNano())) + rand.Text()[:8]
}

// IsFindingID reports whether s has the form of a finding id, so a path
// parameter or cursor is refused before it reaches DynamoDB.
func IsFindingID(s string) bool {
	if len(s) != findingIDLength {
		return false
	}
	for i, r := range s {
		hex := r >= '0' && r <= '9' || r >= 'a' && r <= 'f'
		b32 := r >= 'A' && r <= 'Z' || r >= '2' && r <= '7'
		if i < 16 && !hex || i >= 16 && !b32 {
			return false
		}
	}
	return true
}

func findingsPK(workspaceID string) string { return "ws#" + workspaceID }

func markerSK(kid string, typ findings.Type) string {
	return markerSKPrefix + kid + "#" + string(typ)
}

func float(v float64) *ddbtypes.AttributeValueMemberN {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatFloat(v, 'g', -1, 64)}
}

func readFloat(it item, name string) (float64, error) {
	v, ok := it[name]
	if !ok {
		return 0, nil
	}
	n, ok := v.(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s: not a number", name)
	}
	return strconv.ParseFloat(n.Value, 64)
}

func findingItem(f findings.Finding) item {
	it := item{
		attrPK:          str(findingsPK(f.WorkspaceID)),
		attrSK:          str(findingSKPrefix + f.ID),
		attrWorkspaceID: str(f.WorkspaceID),
		attrKID:         str(f.KID),
		attrType:        str(string(f.Type)),
		attrSeverity:    str(f.Severity),
		attrStatus:      str(string(f.Status)),
		attrWindowFrom:  timeValue(f.WindowStart),
		attrWindowTo:    timeValue(f.WindowEnd),
		attrObserved:    float(f.Observed),
		attrExpLow:      float(f.ExpectedLow),
		attrExpHigh:     float(f.ExpectedHigh),
		attrSentence:    str(f.Sentence),
		attrCreatedAt:   timeValue(f.CreatedAt),
	}
	return it
}

func decodeFinding(it item) (findings.Finding, error) {
	r := itemReader{item: it}
	f := findings.Finding{
		ID:          strings.TrimPrefix(r.str(attrSK), findingSKPrefix),
		WorkspaceID: r.str(attrWorkspaceID),
		KID:         r.str(attrKID),
		Type:        findings.Type(r.str(attrType)),
		Severity:    r.str(attrSeverity),
		Status:      findings.Status(r.str(attrStatus)),
		WindowStart: r.time(attrWindowFrom),
		WindowEnd:   r.time(attrWindowTo),
		Sentence:    r.str(attrSentence),
		CreatedAt:   r.time(attrCreatedAt),
		ResolvedAt:  r.time(attrResolvedAt),
		ResolvedBy:  r.str(attrResolvedBy),
	}
	var errs [3]error
	f.Observed, errs[0] = readFloat(it, attrObserved)
	f.ExpectedLow, errs[1] = readFloat(it, attrExpLow)
	f.ExpectedHigh, errs[2] = readFloat(it, attrExpHigh)
	for _, err := range append(errs[:], r.err) {
		if err != nil {
			return findings.Finding{}, fmt.Errorf("decode finding %s: %w", f.ID, err)
		}
	}
	return f, nil
}

// Open stores f as a new open finding unless one of the same type for the
// same key is open; it reports whether f is new, and returns the stored
// finding either way. f's ID, Status and (when zero) CreatedAt are set here.
func (s *Store) Open(ctx context.Context, f findings.Finding) (findings.Finding, bool, error) {
	if err := gateway.ValidateWorkspaceID(f.WorkspaceID); err != nil {
		return findings.Finding{}, false, err
	}
	if f.KID == "" || f.Type == "" {
		return findings.Finding{}, false, gateway.Internal(fmt.Errorf("open finding: kid and type are required"))
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.now()
	}
	f.CreatedAt = f.CreatedAt.UTC()
	f.ID, f.Status, f.ResolvedAt, f.ResolvedBy = NewFindingID(f.CreatedAt), findings.Open, time.Time{}, ""
	for attempt := 0; attempt < 3; attempt++ {
		claimed, existing, err := s.claimMarker(ctx, f)
		if err != nil {
			return findings.Finding{}, false, err
		}
		if claimed {
			if err := s.putFinding(ctx, f); err != nil {
				return findings.Finding{}, false, err
			}
			return f, true, nil
		}
		found, err := s.openFinding(ctx, f.WorkspaceID, existing)
		if err == nil {
			return found, false, nil
		}
		if gateway.ErrorCode(err) != gateway.CodeNotFound {
			return findings.Finding{}, false, err
		}
		// The marker names a finding not written (yet): its writer is
		// between its two writes, or crashed there. Wait for the first;
		// take over from the second.
		if s.now().Sub(existing.claimedAt) < markerTakeover {
			if attempt < 2 {
				if err := backoff.Sleep(ctx, 50*time.Millisecond); err != nil {
					return findings.Finding{}, false, gateway.Unavailable(err)
				}
				continue
			}
			// Still being written: it is that writer's finding to alert on.
			f.ID, f.CreatedAt = existing.findingID, existing.claimedAt
			return f, false, nil
		}
		if taken, err := s.takeOverMarker(ctx, f, existing.findingID); err != nil {
			return findings.Finding{}, false, err
		} else if taken {
			if err := s.putFinding(ctx, f); err != nil {
				return findings.Finding{}, false, err
			}
			return f, true, nil
		}
	}
	return findings.Finding{}, false, gateway.Unavailable(fmt.Errorf("open finding %s for key %s: the open marker kept changing", f.Type, f.KID))
}

// marker is what an open marker says.
type marker struct {
	findingID string
	claimedAt time.Time
}

// claimMarker claims the key's marker for f, or returns the marker that
// another finding holds.
func (s *Store) claimMarker(ctx context.Context, f findings.Finding) (bool, marker, error) {
	key := item{attrPK: str(findingsPK(f.WorkspaceID)), attrSK: str(markerSK(f.KID, f.Type))}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Findings),
		Key:                       key,
		UpdateExpression:          aws.String("SET #id = :id, #at = :at"),
		ConditionExpression:       aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames:  map[string]string{"#id": attrFindingID, "#at": attrCreatedAt},
		ExpressionAttributeValues: item{":id": str(f.ID), ":at": timeValue(f.CreatedAt)},
	})
	if err == nil {
		return true, marker{}, nil
	}
	if !isConditionFailed(err) {
		return false, marker{}, classify("claim open marker of key "+f.KID, err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.tables.Findings), Key: key, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, marker{}, classify("read open marker of key "+f.KID, err)
	}
	r := itemReader{item: out.Item}
	m := marker{findingID: r.str(attrFindingID), claimedAt: r.time(attrCreatedAt)}
	if r.err != nil {
		return false, marker{}, gateway.Internal(fmt.Errorf("decode open marker of key %s: %w", f.KID, r.err))
	}
	if m.findingID == "" {
		// Resolved between the two calls: try to claim it again.
		return s.claimMarker(ctx, f)
	}
	return false, m, nil
}

// takeOverMarker moves a stale marker from a finding never written to f.
func (s *Store) takeOverMarker(ctx context.Context, f findings.Finding, stale string) (bool, error) {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Findings),
		Key:                       item{attrPK: str(findingsPK(f.WorkspaceID)), attrSK: str(markerSK(f.KID, f.Type))},
		UpdateExpression:          aws.String("SET #id = :id, #at = :at"),
		ConditionExpression:       aws.String("#id = :stale"),
		ExpressionAttributeNames:  map[string]string{"#id": attrFindingID, "#at": attrCreatedAt},
		ExpressionAttributeValues: item{":id": str(f.ID), ":at": timeValue(f.CreatedAt), ":stale": str(stale)},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, classify("take over open marker of key "+f.KID, err)
	}
	return true, nil
}

func (s *Store) putFinding(ctx context.Context, f findings.Finding) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.tables.Findings),
		Item:                findingItem(f),
		ConditionExpression: aws.String("attribute_not_exists(" + attrPK + ")"),
	})
	if err != nil {
		return classify("store finding "+f.ID, err)
	}
	return nil
}

// openFinding reads the finding a marker names; CodeNotFound when it is not
// written.
func (s *Store) openFinding(ctx context.Context, workspaceID string, m marker) (findings.Finding, error) {
	return s.getFinding(ctx, workspaceID, m.findingID)
}

func (s *Store) getFinding(ctx context.Context, workspaceID, id string) (findings.Finding, error) {
	notFound := gateway.Errorf(gateway.CodeNotFound, "No finding with id %s.", id)
	if !IsFindingID(id) {
		return findings.Finding{}, notFound
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Findings),
		Key:            item{attrPK: str(findingsPK(workspaceID)), attrSK: str(findingSKPrefix + id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return findings.Finding{}, classify("get finding "+id, err)
	}
	if out.Item == nil {
		return findings.Finding{}, notFound
	}
	f, err := decodeFinding(out.Item)
	if err != nil {
		return findings.Finding{}, gateway.Internal(err)
	}
	return f, nil
}

// GetFinding reads one finding of a workspace; another workspace's is not
// found (CodeNotFound).
func (s *Store) GetFinding(ctx context.Context, workspaceID, id string) (findings.Finding, error) {
	return s.getFinding(ctx, workspaceID, id)
}

// Resolve closes an open finding of the workspace and re-arms its key's
// marker, so the next finding of its type is new. Resolving a resolved
// finding changes nothing and returns it; another workspace's finding is
// not found.
func (s *Store) Resolve(ctx context.Context, workspaceID, id, by string, at time.Time) (findings.Finding, error) {
	if !IsFindingID(id) {
		return findings.Finding{}, gateway.Errorf(gateway.CodeNotFound, "No finding with id %s.", id)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.tables.Findings),
		Key:                      item{attrPK: str(findingsPK(workspaceID)), attrSK: str(findingSKPrefix + id)},
		UpdateExpression:         aws.String("SET #status = :resolved, #at = :at, #by = :by, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_exists(" + attrPK + ") AND #status = :open"),
		ExpressionAttributeNames: map[string]string{"#status": attrStatus, "#at": attrResolvedAt, "#by": attrResolvedBy, "#ttl": attrTTL},
		ExpressionAttributeValues: item{
			":resolved": str(string(findings.Resolved)), ":open": str(string(findings.Open)),
			":at": timeValue(at), ":by": str(by), ":ttl": num(at.Add(findingRetention).Unix()),
		},
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		// Missing, or resolved already: read it to tell which.
		return s.getFinding(ctx, workspaceID, id)
	}
	if err != nil {
		return findings.Finding{}, classify("resolve finding "+id, err)
	}
	f, err := decodeFinding(out.Attributes)
	if err != nil {
		return findings.Finding{}, gateway.Internal(err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Findings),
		Key:                       item{attrPK: str(findingsPK(workspaceID)), attrSK: str(markerSK(f.KID, f.Type))},
		UpdateExpression:          aws.String("REMOVE #id"),
		ConditionExpression:       aws.String("#id = :id"),
		ExpressionAttributeNames:  map[string]string{"#id": attrFindingID},
		ExpressionAttributeValues: item{":id": str(id)},
	})
	if err != nil && !isConditionFailed(err) { // a newer finding holds it: leave it
		return findings.Finding{}, classify("re-arm open marker of key "+f.KID, err)
	}
	return f, nil
}

type findingCursor struct {
	WorkspaceID string `json:"w"`
	ID          string `json:"i"`
}

// List returns a page of a workspace's findings, newest first, narrowed by
// opts. Since is a key condition; kid and status are filters, so a page
// filtered by them reads at most maxFindingQueries × MaxPageSize items and
// may come back short, with a cursor that leads on.
func (s *Store) List(ctx context.Context, workspaceID string, opts findings.ListOptions) (findings.Page, error) {
	limit := pageSize(opts.Limit)
	low := findingSKPrefix
	if !opts.Since.IsZero() {
		low += fmt.Sprintf("%016x", uint64(opts.Since.UnixNano()))
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Findings),
		KeyConditionExpression:    aws.String(attrPK + " = :pk AND " + attrSK + " BETWEEN :low AND :high"),
		ExpressionAttributeValues: item{":pk": str(findingsPK(workspaceID)), ":low": str(low), ":high": str(findingSKPrefix + "~")},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
	}
	var filters []string
	if opts.KID != "" {
		filters = append(filters, attrKID+" = :kid")
		in.ExpressionAttributeValues[":kid"] = str(opts.KID)
	}
	if opts.Status != "" {
		filters = append(filters, "#status = :status")
		in.ExpressionAttributeNames = map[string]string{"#status": attrStatus}
		in.ExpressionAttributeValues[":status"] = str(string(opts.Status))
	}
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
		in.Limit = aws.Int32(int32(MaxPageSize))
	}
	if opts.Cursor != "" {
		var c findingCursor
		if !decodeCursorJSON(opts.Cursor, &c) || c.WorkspaceID != workspaceID || !IsFindingID(c.ID) {
			return findings.Page{}, invalidCursor()
		}
		in.ExclusiveStartKey = item{attrPK: str(findingsPK(workspaceID)), attrSK: str(findingSKPrefix + c.ID)}
	}
	page := findings.Page{Findings: make([]findings.Finding, 0, limit)}
	var resume item
	for queries := 1; ; queries++ {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return findings.Page{}, classify("list findings of workspace "+workspaceID, err)
		}
		resume = out.LastEvaluatedKey
		for i, it := range out.Items {
			f, err := decodeFinding(it)
			if err != nil {
				return findings.Page{}, gateway.Internal(err)
			}
			page.Findings = append(page.Findings, f)
			if len(page.Findings) == limit {
				if i < len(out.Items)-1 {
					resume = it
				}
				break
			}
		}
		if len(page.Findings) == limit || len(resume) == 0 || queries == maxFindingQueries {
			break
		}
		in.ExclusiveStartKey = resume
	}
	if len(resume) > 0 {
		r := itemReader{item: resume}
		raw, _ := json.Marshal(findingCursor{WorkspaceID: workspaceID, ID: strings.TrimPrefix(r.str(attrSK), findingSKPrefix)})
		page.Cursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	return page, nil
}
