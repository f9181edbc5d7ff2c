package dynamo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

func keyItem(k gateway.Key) item {
	it := item{
		attrKID:         str(k.KID),
		attrWorkspaceID: str(k.WorkspaceID),
		attrKind:        str(string(k.Kind)),
		attrName:        str(k.Name),
		attrPrefix:      str(k.Prefix),
		attrSecretHash:  &ddbtypes.AttributeValueMemberB{Value: k.SecretHash},
		attrStatus:      str(string(k.Status)),
		attrModels:      stringList(k.Models),
		attrProviders:   stringList(k.Providers),
		attrScopes:      stringList(k.Scopes),
		attrRPM:         num(k.Limits.RequestsPerMinute),
		attrRPD:         num(k.Limits.RequestsPerDay),
		attrRPMo:        num(k.Limits.RequestsPerMonth),
		attrCreatedAt:   timeValue(k.CreatedAt),
		attrUpdatedAt:   timeValue(k.UpdatedAt),
	}
	if k.ExpiresAt != nil {
		it[attrExpiresAt] = timeValue(*k.ExpiresAt)
	}
	putBudgetLimits(it, "", k.Limits.Limits)
	return it
}

func decodeKey(it item) (gateway.Key, error) {
	r := itemReader{item: it}
	k := gateway.Key{
		KID:         r.str(attrKID),
		WorkspaceID: r.str(attrWorkspaceID),
		Kind:        gateway.KeyKind(r.str(attrKind)),
		Name:        r.str(attrName),
		Prefix:      r.str(attrPrefix),
		SecretHash:  r.bytes(attrSecretHash),
		Status:      gateway.KeyStatus(r.str(attrStatus)),
		Models:      r.list(attrModels),
		Providers:   r.list(attrProviders),
		Scopes:      r.list(attrScopes),
		Limits: gateway.Limits{
			RequestsPerMinute: r.num(attrRPM),
			RequestsPerDay:    r.num(attrRPD),
			RequestsPerMonth:  r.num(attrRPMo),
			Limits:            readBudgetLimits(&r, ""),
		},
		CreatedAt: r.time(attrCreatedAt),
		UpdatedAt: r.time(attrUpdatedAt),
		ExpiresAt: r.optionalTime(attrExpiresAt),
		RevokedAt: r.optionalTime(attrRevokedAt),
		RotatedTo: r.str(attrRotatedTo),
	}
	if r.err != nil {
		return gateway.Key{}, fmt.Errorf("decode key %s: %w", k.KID, r.err)
	}
	return k, nil
}

func keyNotFound(kid string) error {
	return gateway.Errorf(gateway.CodeKeyNotFound, "No key with id %s.", kid)
}

// CreateKey stores a new key record, refusing a kid that is taken
// (CodeAlreadyExists: the caller draws a new kid), then writes its state
// item. A key in a disabled workspace is stored disabled-by-workspace.
func (s *Store) CreateKey(ctx context.Context, k gateway.Key) error {
	ws, err := s.GetWorkspace(ctx, k.WorkspaceID)
	if err != nil {
		return err
	}
	now := s.now()
	if k.Status == "" {
		k.Status = gateway.KeyActive
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	k.UpdatedAt = now
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.tables.Keys),
		Item:                keyItem(k),
		ConditionExpression: aws.String("attribute_not_exists(" + attrKID + ")"),
	})
	if isConditionFailed(err) {
		return gateway.Errorf(gateway.CodeAlreadyExists, "A key with id %s already exists.", k.KID)
	}
	if err != nil {
		return classify("create key "+k.KID, err)
	}
	state := keyStateItem(k, ws.Status == gateway.WorkspaceDisabled)
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.tables.Counters),
		Item:      state,
	}); err != nil {
		return classify("write state of key "+k.KID, err)
	}
	return nil
}

// GetKey reads a key record with a strongly consistent read; a missing key is
// CodeKeyNotFound.
func (s *Store) GetKey(ctx context.Context, kid string) (gateway.Key, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Keys),
		Key:            item{attrKID: str(kid)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return gateway.Key{}, classify("get key "+kid, err)
	}
	if out.Item == nil {
		return gateway.Key{}, keyNotFound(kid)
	}
	k, err := decodeKey(out.Item)
	if err != nil {
		return gateway.Key{}, gateway.Internal(err)
	}
	return k, nil
}

// keyCursor is the position after the last key of a page. It carries the
// workspace so that a cursor cannot be replayed against another workspace.
type keyCursor struct {
	WorkspaceID string `json:"w"`
	CreatedAt   string `json:"c"`
	KID         string `json:"k"`
}

func invalidCursor() error {
	return &gateway.Error{Code: gateway.CodeInvalidCursor, Param: "cursor",
		Message: "The cursor is not valid for this listing; start again without it."}
}

// maxCursorLength bounds a cursor's text. The cursors the store hands out
// are about 110 characters; anything much longer is forged.
const maxCursorLength = 512

// decodeCursor reads a key listing's cursor, validating every field before
// any of it reaches DynamoDB: a forged value (an oversized sort key, a kid
// of the wrong shape) would otherwise come back from DynamoDB as a
// validation error, that is, as a server error a client can trigger.
func decodeCursor(workspaceID, text string) (item, error) {
	var c keyCursor
	if !decodeCursorJSON(text, &c) || c.WorkspaceID != workspaceID || !keyformat.IsKID(c.KID) || !isStoredTime(c.CreatedAt) {
		return nil, invalidCursor()
	}
	return item{attrWorkspaceID: str(c.WorkspaceID), attrCreatedAt: str(c.CreatedAt), attrKID: str(c.KID)}, nil
}

// decodeCursorJSON reads a cursor's text into v: bounded, base64url, one
// JSON object with no fields but v's.
func decodeCursorJSON(text string, v any) bool {
	if len(text) > maxCursorLength {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil && !dec.More()
}

// isStoredTime reports whether s is a time exactly as the store writes it.
func isStoredTime(s string) bool {
	t, err := time.Parse(timeLayout, s)
	return err == nil && t.UTC().Format(timeLayout) == s
}

func encodeCursor(last item) (string, error) {
	r := itemReader{item: last}
	c := keyCursor{WorkspaceID: r.str(attrWorkspaceID), CreatedAt: r.str(attrCreatedAt), KID: r.str(attrKID)}
	if r.err != nil {
		return "", r.err
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// pageSize is the page size the store uses for a requested one. Callers
// validate what a client asks for (the management API answers 400); the
// store only keeps its queries bounded: 0 or less means DefaultPageSize,
// more than MaxPageSize means MaxPageSize.
func pageSize(requested int) int {
	switch {
	case requested <= 0:
		return DefaultPageSize
	case requested > MaxPageSize:
		return MaxPageSize
	}
	return requested
}

// maxListQueries bounds the Query calls one page of a kind-filtered list
// may make: past it the page is returned short, with a cursor, so a
// workspace with many keys of the other kind cannot make a request slow.
const maxListQueries = 5

// ListKeys returns one page of a workspace's keys, oldest first. A page
// filtered by kind is filled up to the limit across Query calls (DynamoDB
// applies Limit before the filter), so pages are short only at the end or
// when maxListQueries is reached; a cursor then still leads on.
func (s *Store) ListKeys(ctx context.Context, workspaceID string, opts gateway.ListKeysOptions) (gateway.KeyPage, error) {
	limit := pageSize(opts.Limit)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Keys),
		IndexName:                 aws.String(IndexKeysByWorkspace),
		KeyConditionExpression:    aws.String(attrWorkspaceID + " = :ws"),
		ExpressionAttributeValues: item{":ws": str(workspaceID)},
		Limit:                     aws.Int32(int32(limit)),
	}
	if opts.Kind != "" {
		// Items of the other kind are read and dropped: read a full page's
		// worth each time, keep what is needed.
		in.Limit = aws.Int32(int32(MaxPageSize))
		in.FilterExpression = aws.String("#kind = :kind")
		in.ExpressionAttributeNames = map[string]string{"#kind": attrKind}
		in.ExpressionAttributeValues[":kind"] = str(string(opts.Kind))
	}
	if opts.Cursor != "" {
		start, err := decodeCursor(workspaceID, opts.Cursor)
		if err != nil {
			return gateway.KeyPage{}, err
		}
		in.ExclusiveStartKey = start
	}
	page := gateway.KeyPage{Keys: make([]gateway.Key, 0, limit)}
	// resume is the item the next page starts after; nil when none is left.
	var resume item
	for queries := 1; ; queries++ {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return gateway.KeyPage{}, classify("list keys of workspace "+workspaceID, err)
		}
		resume = out.LastEvaluatedKey
		for i, it := range out.Items {
			k, err := decodeKey(it)
			if err != nil {
				return gateway.KeyPage{}, gateway.Internal(err)
			}
			page.Keys = append(page.Keys, k)
			if len(page.Keys) == limit {
				if i < len(out.Items)-1 {
					resume = it // the page is full in the middle of what was read
				}
				break
			}
		}
		if len(page.Keys) == limit || len(resume) == 0 || queries == maxListQueries {
			break
		}
		in.ExclusiveStartKey = resume
	}
	if len(resume) > 0 {
		cursor, err := encodeCursor(resume)
		if err != nil {
			return gateway.KeyPage{}, gateway.Internal(fmt.Errorf("encode cursor: %w", err))
		}
		page.NextCursor = cursor
	}
	return page, nil
}

// updateBuilder collects the clauses of an update expression.
type updateBuilder struct {
	set    []string
	remove []string
	names  map[string]string
	values item
}

func (b *updateBuilder) setValue(name string, v ddbtypes.AttributeValue) {
	placeholder := fmt.Sprintf(":v%d", len(b.values))
	b.set = append(b.set, "#"+name+" = "+placeholder)
	b.names["#"+name] = name
	b.values[placeholder] = v
}

// setIfAbsent sets name to v only if the item does not hold it yet.
func (b *updateBuilder) setIfAbsent(name string, v ddbtypes.AttributeValue) {
	placeholder := fmt.Sprintf(":v%d", len(b.values))
	b.set = append(b.set, "#"+name+" = if_not_exists(#"+name+", "+placeholder+")")
	b.names["#"+name] = name
	b.values[placeholder] = v
}

func (b *updateBuilder) removeAttr(name string) {
	b.remove = append(b.remove, "#"+name)
	b.names["#"+name] = name
}

func (b *updateBuilder) expression() string {
	var parts []string
	if len(b.set) > 0 {
		parts = append(parts, "SET "+strings.Join(b.set, ", "))
	}
	if len(b.remove) > 0 {
		parts = append(parts, "REMOVE "+strings.Join(b.remove, ", "))
	}
	return strings.Join(parts, " ")
}

// keyField is one attribute an update changes: its name and value in the
// key's record and, when the authorizer reads it, on the key's state item.
// UpdateKey builds both writes from one list of these, so a field added to
// KeyUpdate cannot reach the record and be forgotten on the state item.
type keyField struct {
	record string
	// state is the attribute on the state item; "" when the authorizer does
	// not read the field.
	state string
	// value is the record's value; nil removes the attribute from both items.
	value ddbtypes.AttributeValue
	// stateValue is the state item's value where its form differs (the
	// expiry is milliseconds there); nil means value.
	stateValue ddbtypes.AttributeValue
}

// keyUpdateFields lists what update changes, in one place for both items.
func keyUpdateFields(update gateway.KeyUpdate) []keyField {
	var fields []keyField
	add := func(record, state string, value ddbtypes.AttributeValue) {
		fields = append(fields, keyField{record: record, state: state, value: value})
	}
	if update.Name != nil {
		add(attrName, "", str(*update.Name))
	}
	if update.Models != nil {
		add(attrModels, attrModels, stringList(*update.Models))
	}
	if update.Providers != nil {
		add(attrProviders, attrProviders, stringList(*update.Providers))
	}
	if update.Scopes != nil {
		add(attrScopes, attrScopes, stringList(*update.Scopes))
	}
	if l := update.Limits; l != nil {
		add(attrRPM, attrRPM, num(l.RequestsPerMinute))
		add(attrRPD, attrRPD, num(l.RequestsPerDay))
		add(attrRPMo, attrRPMo, num(l.RequestsPerMonth))
		fields = append(fields, budgetLimitFields(l.Limits)...)
	}
	if update.Disabled != nil {
		status := gateway.KeyActive
		if *update.Disabled {
			status = gateway.KeyDisabled
		}
		add(attrStatus, attrState, str(string(status)))
	}
	switch {
	case update.ClearExpiry:
		add(attrExpiresAt, attrExpiresMS, nil)
	case update.ExpiresAt != nil:
		fields = append(fields, keyField{record: attrExpiresAt, state: attrExpiresMS,
			value: timeValue(*update.ExpiresAt), stateValue: num(update.ExpiresAt.UnixMilli())})
	}
	if update.RotatedTo != nil {
		add(attrRotatedTo, "", str(*update.RotatedTo))
	}
	return fields
}

// UpdateKey applies update to a key's record and then to its state item, so
// the authorizer sees the change on the next request. A revoked key cannot
// be changed.
func (s *Store) UpdateKey(ctx context.Context, kid string, update gateway.KeyUpdate) (gateway.Key, error) {
	fields := keyUpdateFields(update)
	k, err := s.updateKeyRecord(ctx, kid, fields)
	if err != nil {
		return gateway.Key{}, err
	}
	if err := s.updateKeyState(ctx, kid, fields); err != nil {
		return gateway.Key{}, err
	}
	return k, nil
}

// updateKeyRecord writes fields to the key's record, refusing a missing or
// revoked key, and returns the record as it now is.
func (s *Store) updateKeyRecord(ctx context.Context, kid string, fields []keyField) (gateway.Key, error) {
	rec := updateBuilder{names: map[string]string{}, values: item{}}
	rec.setValue(attrUpdatedAt, timeValue(s.now()))
	for _, f := range fields {
		if f.record == "" {
			continue // the state item's alone
		}
		if f.value == nil {
			rec.removeAttr(f.record)
		} else {
			rec.setValue(f.record, f.value)
		}
	}
	rec.names["#status_cond"] = attrStatus
	rec.values[":revoked"] = str(string(gateway.KeyRevoked))
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Keys),
		Key:                       item{attrKID: str(kid)},
		UpdateExpression:          aws.String(rec.expression()),
		ConditionExpression:       aws.String("attribute_exists(" + attrKID + ") AND #status_cond <> :revoked"),
		ExpressionAttributeNames:  rec.names,
		ExpressionAttributeValues: rec.values,
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		// dynalite does not return the old item on a failed condition, so
		// read it to tell a missing key from a revoked one.
		if _, getErr := s.GetKey(ctx, kid); getErr != nil {
			return gateway.Key{}, getErr
		}
		return gateway.Key{}, gateway.Errorf(gateway.CodeKeyNotActive, "Key %s is revoked and can no longer be changed.", kid)
	}
	if err != nil {
		return gateway.Key{}, classify("update key "+kid, err)
	}
	k, err := decodeKey(out.Attributes)
	if err != nil {
		return gateway.Key{}, gateway.Internal(err)
	}
	return k, nil
}

// updateKeyState mirrors the fields the authorizer reads onto the key's
// state item; it writes nothing when none of them changed.
func (s *Store) updateKeyState(ctx context.Context, kid string, fields []keyField) error {
	b := updateBuilder{names: map[string]string{}, values: item{}}
	for _, f := range fields {
		switch {
		case f.state == "":
		case f.value == nil:
			b.removeAttr(f.state)
		case f.stateValue != nil:
			b.setValue(f.state, f.stateValue)
		default:
			b.setValue(f.state, f.value)
		}
	}
	if len(b.set)+len(b.remove) == 0 {
		return nil
	}
	b.names["#state_cond"] = attrState
	b.values[":revoked_state"] = str(string(gateway.KeyRevoked))
	b.names["#version"] = attrVersion
	b.values[":version_step"] = num(1)
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(KeyStatePK(kid))},
		UpdateExpression:          aws.String(b.expression() + " ADD #version :version_step"),
		ConditionExpression:       aws.String("attribute_exists(" + attrPK + ") AND #state_cond <> :revoked_state"),
		ExpressionAttributeNames:  b.names,
		ExpressionAttributeValues: b.values,
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	}
	out, err := s.client.UpdateItem(ctx, in)
	if err != nil {
		if isConditionFailed(err) {
			return gateway.Internal(fmt.Errorf("update state of key %s: state item missing or revoked", kid))
		}
		return classify("update state of key "+kid, err)
	}
	return s.syncShards(ctx, out.Attributes, s.now())
}

// RevokeKey marks a key revoked for good. The record stays, for audit and
// usage history; revoking a revoked key changes nothing and succeeds.
func (s *Store) RevokeKey(ctx context.Context, kid string) (gateway.Key, error) {
	now := s.now()
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.tables.Keys),
		Key:                      item{attrKID: str(kid)},
		UpdateExpression:         aws.String("SET #status = :revoked, #updated = :now, #revoked = if_not_exists(#revoked, :now)"),
		ConditionExpression:      aws.String("attribute_exists(" + attrKID + ")"),
		ExpressionAttributeNames: map[string]string{"#status": attrStatus, "#updated": attrUpdatedAt, "#revoked": attrRevokedAt},
		ExpressionAttributeValues: item{
			":revoked": str(string(gateway.KeyRevoked)), ":now": timeValue(now),
		},
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return gateway.Key{}, keyNotFound(kid)
	}
	if err != nil {
		return gateway.Key{}, classify("revoke key "+kid, err)
	}
	k, err := decodeKey(out.Attributes)
	if err != nil {
		return gateway.Key{}, gateway.Internal(err)
	}
	// Unconditional: revocation must win even if the state item is missing.
	state, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(KeyStatePK(kid))},
		UpdateExpression:          aws.String("SET #state = :revoked ADD #v :one"),
		ExpressionAttributeNames:  map[string]string{"#state": attrState, "#v": attrVersion},
		ExpressionAttributeValues: item{":revoked": str(string(gateway.KeyRevoked)), ":one": num(1)},
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if err != nil {
		return gateway.Key{}, classify("write revoked state of key "+kid, err)
	}
	// A hot key's shards are revoked before this answers, so its very next
	// request is refused whichever shard it reaches.
	if err := s.syncShards(ctx, state.Attributes, now); err != nil {
		return gateway.Key{}, err
	}
	return k, nil
}

// LastUsed returns when each of kids was last used (to the minute), read
// from the authorizer's state items in one batch per 100 keys. Keys never
// used are absent.
func (s *Store) LastUsed(ctx context.Context, kids []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for len(kids) > 0 {
		n := min(len(kids), 100)
		keys := make([]item, 0, n)
		for _, kid := range kids[:n] {
			keys = append(keys, item{attrPK: str(KeyStatePK(kid))})
		}
		kids = kids[n:]
		request := map[string]ddbtypes.KeysAndAttributes{s.tables.Counters: {
			Keys: keys, ProjectionExpression: aws.String(attrPK + ", " + attrLastUsed), ConsistentRead: aws.Bool(true),
		}}
		for attempt := 0; len(request) > 0; attempt++ {
			if attempt == 5 {
				return nil, gateway.Unavailable(fmt.Errorf("read last use of keys: unprocessed keys after %d attempts", attempt))
			}
			res, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
			if err != nil {
				return nil, classify("read last use of keys", err)
			}
			for _, it := range res.Responses[s.tables.Counters] {
				r := itemReader{item: it}
				if t := r.optionalTime(attrLastUsed); t != nil && r.err == nil {
					out[strings.TrimPrefix(r.str(attrPK), "key#")] = *t
				}
			}
			request = res.UnprocessedKeys
		}
	}
	return out, nil
}

// GetRotation reads the record of a key's latest rotation, strongly
// consistent; a key never rotated has a zero Rotation, a missing key is
// CodeKeyNotFound.
func (s *Store) GetRotation(ctx context.Context, kid string) (gateway.Rotation, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Keys),
		Key:            item{attrKID: str(kid)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return gateway.Rotation{}, classify("get rotation of key "+kid, err)
	}
	if out.Item == nil {
		return gateway.Rotation{}, keyNotFound(kid)
	}
	r := itemReader{item: out.Item}
	rot := gateway.Rotation{
		SuccessorKID:       r.str(attrRotatedTo),
		ClaimedAt:          r.time(attrRotationClaimedAt),
		RequestHash:        r.str(attrRotationRequest),
		EndsAt:             r.time(attrRotationEndsAt),
		SuccessorExpiresAt: r.optionalTime(attrSuccessorExpiresAt),
	}
	if r.err != nil {
		return gateway.Rotation{}, gateway.Internal(fmt.Errorf("decode rotation of key %s: %w", kid, r.err))
	}
	return rot, nil
}

// ClaimRotation records claim as the key's latest rotation with one
// conditional write: it succeeds only while the key is not revoked and its
// rotation is still seen, the one the caller read: the same latest
// successor ("" for none) claimed at the same time. Of two rotations that
// read the same state, exactly one claims the key; the other gets
// CodeAlreadyRotated and should read the rotation again. Checking the claim
// time too makes a claim refreshed by a retry (resumeRotation) win over a
// takeover that read the claim before.
func (s *Store) ClaimRotation(ctx context.Context, kid string, claim, seen gateway.Rotation) error {
	b := updateBuilder{names: map[string]string{}, values: item{}}
	b.setValue(attrUpdatedAt, timeValue(s.now()))
	b.setValue(attrRotatedTo, str(claim.SuccessorKID))
	b.setValue(attrRotationClaimedAt, timeValue(claim.ClaimedAt))
	b.setValue(attrRotationEndsAt, timeValue(claim.EndsAt))
	if claim.RequestHash != "" {
		b.setValue(attrRotationRequest, str(claim.RequestHash))
	} else {
		b.removeAttr(attrRotationRequest)
	}
	if claim.SuccessorExpiresAt != nil {
		b.setValue(attrSuccessorExpiresAt, timeValue(*claim.SuccessorExpiresAt))
	} else {
		b.removeAttr(attrSuccessorExpiresAt)
	}
	b.names["#status_cond"] = attrStatus
	b.values[":revoked"] = str(string(gateway.KeyRevoked))
	cond := "attribute_exists(" + attrKID + ") AND #status_cond <> :revoked"
	if seen.SuccessorKID == "" {
		cond += " AND attribute_not_exists(#" + attrRotatedTo + ")"
	} else {
		cond += " AND #" + attrRotatedTo + " = :previous"
		b.values[":previous"] = str(seen.SuccessorKID)
	}
	if seen.ClaimedAt.IsZero() { // never claimed, or rotated before claims were recorded
		cond += " AND attribute_not_exists(#" + attrRotationClaimedAt + ")"
	} else {
		cond += " AND #" + attrRotationClaimedAt + " = :seen_claimed"
		b.values[":seen_claimed"] = timeValue(seen.ClaimedAt)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Keys),
		Key:                       item{attrKID: str(kid)},
		UpdateExpression:          aws.String(b.expression()),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  b.names,
		ExpressionAttributeValues: b.values,
	})
	if isConditionFailed(err) {
		return gateway.Errorf(gateway.CodeAlreadyRotated, "Key %s was rotated or revoked meanwhile.", kid)
	}
	if err != nil {
		return classify("claim rotation of key "+kid, err)
	}
	return nil
}

// AbandonRotation marks a claimed rotation whose successor could not be
// stored as abandoned (its claim time set to the epoch), so that the next
// rotation need not wait for the claim to go stale, and forgets its request
// digest, so that a retry with the same Idempotency-Key starts a rotation of
// its own instead of resuming this one. It changes nothing if the key has
// been claimed by another rotation since.
func (s *Store) AbandonRotation(ctx context.Context, kid, successor string) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Keys),
		Key:                       item{attrKID: str(kid)},
		UpdateExpression:          aws.String("SET #claimed = :epoch REMOVE #request"),
		ConditionExpression:       aws.String("#to = :successor"),
		ExpressionAttributeNames:  map[string]string{"#claimed": attrRotationClaimedAt, "#to": attrRotatedTo, "#request": attrRotationRequest},
		ExpressionAttributeValues: item{":epoch": timeValue(time.Unix(0, 0)), ":successor": str(successor)},
	})
	if err != nil && !isConditionFailed(err) {
		return classify("abandon rotation of key "+kid, err)
	}
	return nil
}
