package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Tables names the gateway's tables. In AWS the names come from the
// CloudFormation stack through environment variables; locally from a prefix.
type Tables struct {
	Workspaces string
	Keys       string
	// Counters holds the small items the authorizer writes on every
	// request: a key's state and its window counters.
	Counters string
	// Usage holds the usage rollups of keys and workspaces (usage_item.go).
	Usage string
	// Audit holds the trail of key changes per workspace.
	Audit string
	// Findings holds what the detector, budgets and leak reports found,
	// per workspace, with the markers that keep one finding open per key
	// and type (findings.go).
	Findings string
}

// TablesWithPrefix names the tables prefix + "workspaces", and so on.
func TablesWithPrefix(prefix string) Tables {
	return Tables{
		Workspaces: prefix + "workspaces",
		Keys:       prefix + "keys",
		Counters:   prefix + "counters",
		Usage:      prefix + "usage",
		Audit:      prefix + "audit",
		Findings:   prefix + "findings",
	}
}

// IndexKeysByWorkspace lists a workspace's keys, newest last.
const IndexKeysByWorkspace = "by_workspace"

// TableDefinition is one table: what CreateTable needs plus the settings
// CreateTable cannot carry (TTL, point-in-time recovery).
type TableDefinition struct {
	// Role is the table's logical role ("Keys", …), which template.yaml
	// names as <Role>Table.
	Role   string
	Create *dynamodb.CreateTableInput
	// TTLAttribute is set on tables whose items expire.
	TTLAttribute string
	// PointInTimeRecovery is wanted on tables whose loss loses customer data.
	PointInTimeRecovery bool
}

func attr(name string) ddbtypes.AttributeDefinition {
	return ddbtypes.AttributeDefinition{AttributeName: aws.String(name), AttributeType: ddbtypes.ScalarAttributeTypeS}
}

func hash(name string) ddbtypes.KeySchemaElement {
	return ddbtypes.KeySchemaElement{AttributeName: aws.String(name), KeyType: ddbtypes.KeyTypeHash}
}

func rangeKey(name string) ddbtypes.KeySchemaElement {
	return ddbtypes.KeySchemaElement{AttributeName: aws.String(name), KeyType: ddbtypes.KeyTypeRange}
}

// onDemandTable is the CreateTable input of an on-demand table keyed by a
// string partition key and, when given, a string sort key: every table here
// has that shape, and only the Keys table adds to it.
func onDemandTable(name, partition string, sort ...string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{attr(partition)},
		KeySchema:            []ddbtypes.KeySchemaElement{hash(partition)},
	}
	for _, s := range sort {
		in.AttributeDefinitions = append(in.AttributeDefinitions, attr(s))
		in.KeySchema = append(in.KeySchema, rangeKey(s))
	}
	return in
}

// Definitions returns the definition of every table: the single source that
// the local stack, the tests and template.yaml agree on.
func (t Tables) Definitions() []TableDefinition {
	keys := onDemandTable(t.Keys, attrKID)
	keys.AttributeDefinitions = append(keys.AttributeDefinitions, attr(attrWorkspaceID), attr(attrCreatedAt))
	keys.GlobalSecondaryIndexes = []ddbtypes.GlobalSecondaryIndex{{
		IndexName: aws.String(IndexKeysByWorkspace),
		KeySchema: []ddbtypes.KeySchemaElement{hash(attrWorkspaceID), rangeKey(attrCreatedAt)},
		// Listing shows whole records, and key records change rarely (never
		// per request), so ALL costs little.
		Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
	}}
	usageTable := onDemandTable(t.Usage, attrPK, attrSK)
	usageTable.AttributeDefinitions = append(usageTable.AttributeDefinitions, attr(attrActiveHour))
	usageTable.GlobalSecondaryIndexes = []ddbtypes.GlobalSecondaryIndex{{
		IndexName: aws.String(IndexUsageByHour),
		KeySchema: []ddbtypes.KeySchemaElement{hash(attrActiveHour), rangeKey(attrPK)},
		// Keys only: the per-request write changes no key attribute of
		// the index once the item exists, so it never writes the index
		// again; a projected total would cost an index write per request.
		Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeKeysOnly},
	}}
	return []TableDefinition{
		{Role: "Workspaces", Create: onDemandTable(t.Workspaces, attrWorkspaceID), PointInTimeRecovery: true},
		{Role: "Keys", Create: keys, PointInTimeRecovery: true},
		{Role: "Counters", Create: onDemandTable(t.Counters, attrPK), TTLAttribute: attrTTL},
		{Role: "Usage", Create: usageTable, TTLAttribute: attrTTL},
		{Role: "Audit", Create: onDemandTable(t.Audit, attrPK, attrSK), PointInTimeRecovery: true},
		// Resolved findings expire by TTL (findingRetention); open ones never.
		{Role: "Findings", Create: onDemandTable(t.Findings, attrPK, attrSK), TTLAttribute: attrTTL, PointInTimeRecovery: true},
	}
}

// TableAdmin is the part of the DynamoDB client that creating tables needs.
type TableAdmin interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// CreateTables creates every table that does not exist yet and waits until
// each is active, so that it is safe to run on every start of the local stack.
// TTL and point-in-time recovery are left to template.yaml: dynalite supports
// neither, and nothing here depends on them.
func CreateTables(ctx context.Context, admin TableAdmin, t Tables) error {
	for _, def := range t.Definitions() {
		_, err := admin.CreateTable(ctx, def.Create)
		if _, exists := errors.AsType[*ddbtypes.ResourceInUseException](err); err != nil && !exists {
			return fmt.Errorf("create table %s: %w", *def.Create.TableName, err)
		}
		waiter := dynamodb.NewTableExistsWaiter(admin, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay = 20 * time.Millisecond // dynalite creates tables at once
		})
		if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: def.Create.TableName}, 2*time.Minute); err != nil {
			return fmt.Errorf("wait for table %s: %w", *def.Create.TableName, err)
		}
	}
	return nil
}

// TablesFromEnv reads the table names that template.yaml passes to every
// function (TABLE_WORKSPACES, TABLE_KEYS, …); a missing one is an error, so a
// function never starts against the wrong table.
func TablesFromEnv(getenv func(string) string) (Tables, error) {
	t := Tables{
		Workspaces: getenv("TABLE_WORKSPACES"),
		Keys:       getenv("TABLE_KEYS"),
		Counters:   getenv("TABLE_COUNTERS"),
		Usage:      getenv("TABLE_USAGE"),
		Audit:      getenv("TABLE_AUDIT"),
		Findings:   getenv("TABLE_FINDINGS"),
	}
	var missing []string
	for name, v := range map[string]string{
		"TABLE_WORKSPACES": t.Workspaces, "TABLE_KEYS": t.Keys, "TABLE_COUNTERS": t.Counters,
		"TABLE_USAGE": t.Usage, "TABLE_AUDIT": t.Audit, "TABLE_FINDINGS": t.Findings,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Tables{}, fmt.Errorf("table names missing from the environment: %s", strings.Join(missing, ", "))
	}
	return t, nil
}
