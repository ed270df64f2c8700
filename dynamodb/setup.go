package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ticket-enricher/enricher"
)

// SetupClient is the part of the DynamoDB client that EnsureTable and
// CheckTable use; *awsdynamodb.Client implements it.
type SetupClient interface {
	DescribeTable(ctx context.Context, in *awsdynamodb.DescribeTableInput, optFns ...func(*awsdynamodb.Options)) (*awsdynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *awsdynamodb.CreateTableInput, optFns ...func(*awsdynamodb.Options)) (*awsdynamodb.CreateTableOutput, error)
}

// How EnsureTable waits for a new table: DynamoDB creates one in seconds
// to a minute; past activeTimeout something is wrong.
const (
	pollInterval  = 2 * time.Second
	activeTimeout = 5 * time.Minute
)

// EnsureTable creates the tickets table name (DESIGN.md §2.3: hash key
// ticket_id S, range key created_at N, GSI urgency-index over urgency S and
// created_at N projecting all attributes), billed on demand, and waits
// until it and its index are ACTIVE. If the table exists it creates
// nothing: it checks that the keys and the index match, and returns an
// error naming every difference if they do not, since the service would
// fail later and less clearly on a table of another shape. It waits for an
// existing table that is still being created, too, so that callers can use
// the table as soon as it returns. created tells `enricher setup` whether
// anything changed.
func EnsureTable(ctx context.Context, client SetupClient, name string) (created bool, err error) {
	exists, err := CheckTable(ctx, client, name)
	if err != nil {
		return false, err
	}
	if !exists {
		_, err := client.CreateTable(ctx, tableSpec(name))
		var inUse *types.ResourceInUseException
		switch {
		case errors.As(err, &inUse):
			// Created by someone else since the check: verify theirs.
			if _, err := CheckTable(ctx, client, name); err != nil {
				return false, err
			}
		case err != nil:
			return false, fmt.Errorf("create table %q: %w", name, err)
		default:
			created = true
		}
	}
	if err := waitActive(ctx, client, name); err != nil {
		return created, err
	}
	return created, nil
}

// CheckTable reports whether the table exists, and returns an error if it
// exists with another key schema or index than EnsureTable creates. It only
// reads, for `enricher setup --dry-run`.
func CheckTable(ctx context.Context, client SetupClient, name string) (exists bool, err error) {
	if !tableNameRE.MatchString(name) {
		return false, enricher.Errorf(enricher.EINVALID, "check table: invalid DynamoDB table name %q (3 to 255 of a-z A-Z 0-9 _ . -)", name)
	}
	out, err := client.DescribeTable(ctx, &awsdynamodb.DescribeTableInput{TableName: &name})
	var rnf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &rnf):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describe table %q: %w", name, err)
	}
	if problems := schemaProblems(out.Table); len(problems) > 0 {
		return true, enricher.Errorf(enricher.EINVALID,
			"table %q exists but does not match the tickets table of DESIGN.md §2.3: %s; delete it or set DYNAMODB_TABLE to another name",
			name, strings.Join(problems, "; "))
	}
	return true, nil
}

// tableSpec is the CreateTable request of the tickets table.
func tableSpec(name string) *awsdynamodb.CreateTableInput {
	return &awsdynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrTicketID), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrCreatedAt), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String(attrUrgency), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrTicketID), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrCreatedAt), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexName),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrUrgency), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrCreatedAt), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		BillingMode: types.BillingModePayPerRequest,
	}
}

// schemaProblems lists how desc differs from tableSpec in what the adapter
// relies on: the keys, their types, and urgency-index. Billing mode,
// throughput and other indexes may differ: an operator may have chosen them.
func schemaProblems(desc *types.TableDescription) []string {
	if desc == nil {
		return []string{"DescribeTable returned no description"}
	}
	var problems []string
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, d := range desc.AttributeDefinitions {
		attrTypes[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	want := tableSpec("")
	for _, d := range want.AttributeDefinitions {
		n := aws.ToString(d.AttributeName)
		if got, ok := attrTypes[n]; ok && got != d.AttributeType {
			problems = append(problems, fmt.Sprintf("attribute %s has type %s, want %s", n, got, d.AttributeType))
		}
	}
	if got, w := keysString(desc.KeySchema), keysString(want.KeySchema); got != w {
		problems = append(problems, fmt.Sprintf("key schema is %s, want %s", got, w))
	}
	wantIndex := want.GlobalSecondaryIndexes[0]
	var index *types.GlobalSecondaryIndexDescription
	for i := range desc.GlobalSecondaryIndexes {
		if aws.ToString(desc.GlobalSecondaryIndexes[i].IndexName) == IndexName {
			index = &desc.GlobalSecondaryIndexes[i]
		}
	}
	if index == nil {
		return append(problems, fmt.Sprintf("global secondary index %s is missing", IndexName))
	}
	if got, w := keysString(index.KeySchema), keysString(wantIndex.KeySchema); got != w {
		problems = append(problems, fmt.Sprintf("index %s has key schema %s, want %s", IndexName, got, w))
	}
	if index.Projection == nil || index.Projection.ProjectionType != types.ProjectionTypeAll {
		got := "none"
		if index.Projection != nil {
			got = string(index.Projection.ProjectionType)
		}
		problems = append(problems, fmt.Sprintf("index %s projects %s, want ALL", IndexName, got))
	}
	return problems
}

// keysString renders a key schema as "ticket_id HASH, created_at RANGE".
func keysString(keys []types.KeySchemaElement) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

// waitActive polls until the table and its indexes are ACTIVE, for at most
// activeTimeout.
func waitActive(ctx context.Context, client SetupClient, name string) error {
	ctx, cancel := context.WithTimeout(ctx, activeTimeout)
	defer cancel()
	for {
		out, err := client.DescribeTable(ctx, &awsdynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			return fmt.Errorf("wait for table %q: %w", name, err)
		}
		status, pending := out.Table.TableStatus, ""
		switch status {
		case types.TableStatusActive:
			for _, ix := range out.Table.GlobalSecondaryIndexes {
				if ix.IndexStatus != types.IndexStatusActive {
					pending = fmt.Sprintf("index %s is %s", aws.ToString(ix.IndexName), ix.IndexStatus)
				}
			}
			if pending == "" {
				return nil
			}
		case types.TableStatusCreating, types.TableStatusUpdating:
			pending = "table is " + string(status)
		default:
			return fmt.Errorf("wait for table %q: status %s, want ACTIVE", name, status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for table %q (%s): %w", name, pending, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
