package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// AppendAudit records an audit event under its workspace, sorted by auditSK.
func (s *Store) AppendAudit(ctx context.Context, e gateway.AuditEvent) error {
	changes, err := json.Marshal(e.Changes)
	if err != nil {
		return gateway.Internal(fmt.Errorf("encode audit changes: %w", err))
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.tables.Audit),
		Item: item{
			attrPK:        str("ws#" + e.WorkspaceID),
			attrSK:        str(auditSK(e.Time)),
			attrActorKID:  str(e.ActorKID),
			attrAction:    str(e.Action),
			attrTargetKID: str(e.TargetKID),
			attrChanges:   str(string(changes)),
		},
		ConditionExpression: aws.String("attribute_not_exists(" + attrPK + ")"),
	})
	if err != nil {
		return classify("append audit event for workspace "+e.WorkspaceID, err)
	}
	return nil
}

// auditSuffixLength is the length of the random part of an audit event's
// sort key.
const auditSuffixLength = 8

// auditSK is the sort key of an audit event: its time, so events list in
// time order, and a random suffix, so two in the same nanosecond both
// survive.
func auditSK(t time.Time) string {
	return t.UTC().Format(timeLayout) + "#" + rand.Text()[:auditSuffixLength]
}

// isAuditSK reports whether s is shaped exactly like an auditSK, so a forged
// cursor never reaches DynamoDB.
func isAuditSK(s string) bool {
	at, suffix, ok := strings.Cut(s, "#")
	if !ok || !isStoredTime(at) || len(suffix) != auditSuffixLength {
		return false
	}
	for _, r := range suffix {
		if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') { // rand.Text's base32 alphabet
			return false
		}
	}
	return true
}

type auditCursor struct {
	WorkspaceID string `json:"w"`
	SK          string `json:"s"`
}

// ListAudit returns a page of a workspace's audit trail, newest first.
func (s *Store) ListAudit(ctx context.Context, workspaceID, cursor string, limit int) (gateway.AuditPage, error) {
	limit = pageSize(limit)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Audit),
		KeyConditionExpression:    aws.String(attrPK + " = :pk"),
		ExpressionAttributeValues: item{":pk": str("ws#" + workspaceID)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
	}
	if cursor != "" {
		var c auditCursor
		if !decodeCursorJSON(cursor, &c) || c.WorkspaceID != workspaceID || !isAuditSK(c.SK) {
			return gateway.AuditPage{}, invalidCursor()
		}
		in.ExclusiveStartKey = item{attrPK: str("ws#" + workspaceID), attrSK: str(c.SK)}
	}
	out, err := s.client.Query(ctx, in)
	if err != nil {
		return gateway.AuditPage{}, classify("list audit events of workspace "+workspaceID, err)
	}
	page := gateway.AuditPage{Events: make([]gateway.AuditEvent, 0, len(out.Items))}
	for _, it := range out.Items {
		r := itemReader{item: it}
		sk := r.str(attrSK)
		e := gateway.AuditEvent{WorkspaceID: workspaceID, ActorKID: r.str(attrActorKID), Action: r.str(attrAction), TargetKID: r.str(attrTargetKID)}
		if len(sk) >= len(timeLayout) {
			e.Time = (&itemReader{item: item{"t": str(sk[:len(timeLayout)])}}).time("t")
		}
		if raw := r.str(attrChanges); raw != "" && raw != "null" {
			if err := json.Unmarshal([]byte(raw), &e.Changes); err != nil {
				return gateway.AuditPage{}, gateway.Internal(fmt.Errorf("decode audit changes: %w", err))
			}
		}
		if r.err != nil {
			return gateway.AuditPage{}, gateway.Internal(r.err)
		}
		page.Events = append(page.Events, e)
	}
	if lek := out.LastEvaluatedKey; len(lek) > 0 {
		sk, _ := lek[attrSK].(*ddbtypes.AttributeValueMemberS)
		if sk != nil {
			raw, _ := json.Marshal(auditCursor{WorkspaceID: workspaceID, SK: sk.Value})
			page.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
		}
	}
	return page, nil
}
