package dynamodb

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

func TestEnsureTable(t *testing.T) {
	e := MustEmulator(t)
	ctx := context.Background()

	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		name := e.name()
		exists, err := CheckTable(ctx, e.client, name)
		enrichertest.MustNoError(t, err, "check before")
		if exists {
			t.Fatalf("check before: got exists true, want false")
		}
		for i, want := range []bool{true, false} {
			created, err := EnsureTable(ctx, e.client, name)
			enrichertest.MustNoError(t, err, "ensure")
			if created != want {
				t.Errorf("ensure %d: got created %v, want %v", i+1, created, want)
			}
		}
		exists, err = CheckTable(ctx, e.client, name)
		enrichertest.MustNoError(t, err, "check after")
		if !exists {
			t.Errorf("check after: got exists false, want true")
		}
		out, err := e.client.DescribeTable(ctx, &awsdynamodb.DescribeTableInput{TableName: &name})
		enrichertest.MustNoError(t, err, "describe")
		d := out.Table
		if d.TableStatus != types.TableStatusActive {
			t.Errorf("got table status %s, want ACTIVE", d.TableStatus)
		}
		if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("got billing %+v, want PAY_PER_REQUEST", d.BillingModeSummary)
		}
		if got, want := keysString(d.KeySchema), "ticket_id HASH, created_at RANGE"; got != want {
			t.Errorf("got key schema %s, want %s", got, want)
		}
		if len(d.GlobalSecondaryIndexes) != 1 || aws.ToString(d.GlobalSecondaryIndexes[0].IndexName) != IndexName ||
			keysString(d.GlobalSecondaryIndexes[0].KeySchema) != "urgency HASH, created_at RANGE" {
			t.Errorf("got indexes %+v, want %s on urgency HASH, created_at RANGE", d.GlobalSecondaryIndexes, IndexName)
		}
	})

	t.Run("concurrently", func(t *testing.T) {
		t.Parallel()
		name := e.name()
		const callers = 4
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
		)
		for range callers {
			wg.Go(func() {
				c, err := EnsureTable(ctx, e.client, name)
				if err != nil {
					t.Errorf("ensure: got error %v, want none", err)
				}
				if c {
					mu.Lock()
					created++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if created != 1 {
			t.Errorf("got %d callers that created the table, want 1", created)
		}
	})

	t.Run("invalid name", func(t *testing.T) {
		t.Parallel()
		_, err := EnsureTable(ctx, e.client, "a/b")
		enrichertest.MustCode(t, err, enricher.EINVALID)
	})

	attr := func(name string, typ types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: typ}
	}
	key := func(name string, typ types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: typ}
	}
	index := func(projection types.ProjectionType, keys ...types.KeySchemaElement) []types.GlobalSecondaryIndex {
		return []types.GlobalSecondaryIndex{{IndexName: aws.String(IndexName), KeySchema: keys, Projection: &types.Projection{ProjectionType: projection}}}
	}
	goodKeys := []types.KeySchemaElement{key("ticket_id", types.KeyTypeHash), key("created_at", types.KeyTypeRange)}
	goodAttrs := []types.AttributeDefinition{attr("ticket_id", types.ScalarAttributeTypeS), attr("created_at", types.ScalarAttributeTypeN), attr("urgency", types.ScalarAttributeTypeS)}
	goodIndex := index(types.ProjectionTypeAll, key("urgency", types.KeyTypeHash), key("created_at", types.KeyTypeRange))
	for _, tt := range []struct {
		name    string
		attrs   []types.AttributeDefinition
		keys    []types.KeySchemaElement
		indexes []types.GlobalSecondaryIndex
		want    []string // parts of the error
	}{
		{"hash key only, no index", []types.AttributeDefinition{attr("ticket_id", types.ScalarAttributeTypeS)},
			[]types.KeySchemaElement{key("ticket_id", types.KeyTypeHash)}, nil,
			[]string{"key schema is ticket_id HASH, want ticket_id HASH, created_at RANGE", "index urgency-index is missing"}},
		{"created_at a string", []types.AttributeDefinition{attr("ticket_id", types.ScalarAttributeTypeS), attr("created_at", types.ScalarAttributeTypeS), attr("urgency", types.ScalarAttributeTypeS)},
			goodKeys, goodIndex, []string{"attribute created_at has type S, want N"}},
		{"index projects keys only", goodAttrs, goodKeys, index(types.ProjectionTypeKeysOnly, key("urgency", types.KeyTypeHash), key("created_at", types.KeyTypeRange)),
			[]string{"index urgency-index projects KEYS_ONLY, want ALL"}},
		{"index without range key", goodAttrs, goodKeys, index(types.ProjectionTypeAll, key("urgency", types.KeyTypeHash)),
			[]string{"index urgency-index has key schema urgency HASH, want urgency HASH, created_at RANGE"}},
	} {
		t.Run("existing table: "+tt.name, func(t *testing.T) {
			t.Parallel()
			name := e.name()
			_, err := e.client.CreateTable(ctx, &awsdynamodb.CreateTableInput{
				TableName: &name, AttributeDefinitions: tt.attrs, KeySchema: tt.keys,
				GlobalSecondaryIndexes: tt.indexes, BillingMode: types.BillingModePayPerRequest,
			})
			enrichertest.MustNoError(t, err, "create the other table")
			created, err := EnsureTable(ctx, e.client, name)
			enrichertest.MustCode(t, err, enricher.EINVALID)
			if created {
				t.Errorf("got created true, want false")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to say %q", err, w)
				}
			}
		})
	}
}
