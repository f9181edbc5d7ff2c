package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// A workspace's alert settings live on its record in the Workspaces table:
// they are read once per finding, changed rarely, and a few hundred bytes.

func (r *itemReader) boolean(name string) bool {
	v, ok := r.item[name]
	if !ok {
		return false
	}
	b, ok := v.(*ddbtypes.AttributeValueMemberBOOL)
	if !ok {
		r.fail(name, "boolean")
		return false
	}
	return b.Value
}

func decodeAlertSettings(r *itemReader) gateway.AlertSettings {
	a := gateway.AlertSettings{
		WebhookURL:       r.str(attrWebhookURL),
		WebhookSecret:    r.str(attrWebhookSecret),
		WebhookCreatedAt: r.time(attrWebhookCreatedAt),
		AutoDisable:      r.boolean(attrAutoDisable),
	}
	if _, ok := r.item[attrDeliveryAt]; ok {
		a.LastDelivery = &gateway.Delivery{
			At: r.time(attrDeliveryAt), FindingID: r.str(attrDeliveryFinding), OK: r.boolean(attrDeliveryOK),
			Status: int(r.num(attrDeliveryStatus)), Error: r.str(attrDeliveryError),
		}
	}
	return a
}

// updateWorkspace applies an update to an existing workspace's record and
// returns the record as it now is.
func (s *Store) updateWorkspace(ctx context.Context, id, doing string, b updateBuilder, cond string) (gateway.Workspace, error) {
	b.setValue(attrUpdatedAt, timeValue(s.now()))
	condition := "attribute_exists(" + attrWorkspaceID + ")"
	if cond != "" {
		condition += " AND " + cond
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Workspaces),
		Key:                       item{attrWorkspaceID: str(id)},
		UpdateExpression:          aws.String(b.expression()),
		ConditionExpression:       aws.String(condition),
		ExpressionAttributeNames:  b.names,
		ExpressionAttributeValues: b.values,
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return gateway.Workspace{}, gateway.Errorf(gateway.CodeWorkspaceNotFound, "Workspace %s does not exist.", id)
	}
	if err != nil {
		return gateway.Workspace{}, classify(doing+" of workspace "+id, err)
	}
	ws, err := decodeWorkspace(out.Attributes)
	if err != nil {
		return gateway.Workspace{}, gateway.Internal(err)
	}
	return ws, nil
}

func newUpdate() updateBuilder { return updateBuilder{names: map[string]string{}, values: item{}} }

func (b *updateBuilder) removeDelivery() {
	for _, a := range []string{attrDeliveryAt, attrDeliveryFinding, attrDeliveryOK, attrDeliveryStatus, attrDeliveryError} {
		b.removeAttr(a)
	}
}

// SetWebhook sets the workspace's webhook and the secret that signs its
// deliveries, replacing any previous one and its delivery status.
func (s *Store) SetWebhook(ctx context.Context, id, url, secret string, at time.Time) (gateway.Workspace, error) {
	b := newUpdate()
	b.setValue(attrWebhookURL, str(url))
	b.setValue(attrWebhookSecret, str(secret))
	b.setValue(attrWebhookCreatedAt, timeValue(at))
	b.removeDelivery()
	return s.updateWorkspace(ctx, id, "set webhook", b, "")
}

// DeleteWebhook removes the workspace's webhook; removing none succeeds.
func (s *Store) DeleteWebhook(ctx context.Context, id string) (gateway.Workspace, error) {
	b := newUpdate()
	for _, a := range []string{attrWebhookURL, attrWebhookSecret, attrWebhookCreatedAt} {
		b.removeAttr(a)
	}
	b.removeDelivery()
	return s.updateWorkspace(ctx, id, "delete webhook", b, "")
}

// SetAutoDisable turns the workspace's auto_disable on or off.
func (s *Store) SetAutoDisable(ctx context.Context, id string, on bool) (gateway.Workspace, error) {
	b := newUpdate()
	b.setValue(attrAutoDisable, boolean(on))
	return s.updateWorkspace(ctx, id, "set auto_disable", b, "")
}

// RecordDelivery keeps the outcome of a delivery to url, unless the
// webhook was changed or removed meanwhile: the outcome then describes a
// webhook that is gone, and is dropped.
func (s *Store) RecordDelivery(ctx context.Context, id, url string, d gateway.Delivery) error {
	b := newUpdate()
	b.setValue(attrDeliveryAt, timeValue(d.At))
	b.setValue(attrDeliveryFinding, str(d.FindingID))
	b.setValue(attrDeliveryOK, boolean(d.OK))
	b.setValue(attrDeliveryStatus, num(int64(d.Status)))
	b.setValue(attrDeliveryError, str(d.Error))
	b.names["#"+attrWebhookURL] = attrWebhookURL
	b.values[":url"] = str(url)
	_, err := s.updateWorkspace(ctx, id, "record webhook delivery", b, "#"+attrWebhookURL+" = :url")
	if gateway.ErrorCode(err) == gateway.CodeWorkspaceNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record webhook delivery: %w", err)
	}
	return nil
}
