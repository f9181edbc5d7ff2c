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
	// Usage holds per-key rollups per hour and per day.
	Usage string
	// Audit holds the trail of key changes per workspace.
	Audit string
}

// TablesWithPrefix names the tables prefix + "workspaces", and so on.
func TablesWithPrefix(prefix string) Tables {
	return Tables{
		Workspaces: prefix + "workspaces",
		Keys:       prefix + "keys",
		Counters:   prefix + "counters",
		Usage:      prefix + "usage",
		Audit:      prefix + "audit",
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

// Definitions returns the definition of every table: the single source that
// the local stack, the tests and template.yaml agree on.
func (t Tables) Definitions() []TableDefinition {
	onDemand := ddbtypes.BillingModePayPerRequest
	return []TableDefinition{
		{
			Role: "Workspaces",
			Create: &dynamodb.CreateTableInput{
				TableName:            aws.String(t.Workspaces),
				BillingMode:          onDemand,
				AttributeDefinitions: []ddbtypes.AttributeDefinition{attr(attrWorkspaceID)},
				KeySchema:            []ddbtypes.KeySchemaElement{hash(attrWorkspaceID)},
			},
			PointInTimeRecovery: true,
		},
		{
			Role: "Keys",
			Create: &dynamodb.CreateTableInput{
				TableName:   aws.String(t.Keys),
				BillingMode: onDemand,
				AttributeDefinitions: []ddbtypes.AttributeDefinition{
					attr(attrKID), attr(attrWorkspaceID), attr(attrCreatedAt),
				},
				KeySchema: []ddbtypes.KeySchemaElement{hash(attrKID)},
				GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
					IndexName: aws.String(IndexKeysByWorkspace),
					KeySchema: []ddbtypes.KeySchemaElement{hash(attrWorkspaceID), rangeKey(attrCreatedAt)},
					// Listing shows whole records, and key records change
					// rarely (never per request), so ALL costs little.
					Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
				}},
			},
			PointInTimeRecovery: true,
		},
		{
			Role: "Counters",
			Create: &dynamodb.CreateTableInput{
				TableName:            aws.String(t.Counters),
				BillingMode:          onDemand,
				AttributeDefinitions: []ddbtypes.AttributeDefinition{attr(attrPK)},
				KeySchema:            []ddbtypes.KeySchemaElement{hash(attrPK)},
			},
			TTLAttribute: attrTTL,
		},
		{
			Role: "Usage",
			Create: &dynamodb.CreateTableInput{
				TableName:            aws.String(t.Usage),
				BillingMode:          onDemand,
				AttributeDefinitions: []ddbtypes.AttributeDefinition{attr(attrPK), attr(attrSK)},
				KeySchema:            []ddbtypes.KeySchemaElement{hash(attrPK), rangeKey(attrSK)},
			},
			TTLAttribute: attrTTL,
		},
		{
			Role: "Audit",
			Create: &dynamodb.CreateTableInput{
				TableName:            aws.String(t.Audit),
				BillingMode:          onDemand,
				AttributeDefinitions: []ddbtypes.AttributeDefinition{attr(attrPK), attr(attrSK)},
				KeySchema:            []ddbtypes.KeySchemaElement{hash(attrPK), rangeKey(attrSK)},
			},
			PointInTimeRecovery: true,
		},
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
	}
	var missing []string
	for name, v := range map[string]string{
		"TABLE_WORKSPACES": t.Workspaces, "TABLE_KEYS": t.Keys, "TABLE_COUNTERS": t.Counters,
		"TABLE_USAGE": t.Usage, "TABLE_AUDIT": t.Audit,
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
