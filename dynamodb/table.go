// Package dynamodb is the tickets table (DESIGN.md §2.3) on Amazon DynamoDB:
// an enricher.Table over aws-sdk-go-v2, and EnsureTable, which creates the
// table with its urgency-index for `enricher setup`.
//
// The table's primary key is (ticket_id, created_at), not ticket_id alone,
// because that is the schema the Python worker created and the one existing
// deployments hold. The contract wants one item per ticket, so PutItem keeps
// that invariant itself: see PutItem for how, and what a race can still
// leave behind for a moment.
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ticket-enricher/enricher"
)

// IndexName is the global secondary index over urgency and created_at
// (DESIGN.md §2.3), the only index ListItems reads.
const IndexName = "urgency-index"

// maxAttempts bounds how often PutItem starts over after losing a race
// against a concurrent transaction on the same ticket, which DynamoDB
// reports as a conflict instead of serializing; the SDK's retryer does not
// retry those.
const maxAttempts = 6

// tableNameRE is DynamoDB's rule for table names.
var tableNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// api is the part of the DynamoDB client the table uses; *awsdynamodb.Client
// implements it.
type api interface {
	Query(ctx context.Context, in *awsdynamodb.QueryInput, optFns ...func(*awsdynamodb.Options)) (*awsdynamodb.QueryOutput, error)
	PutItem(ctx context.Context, in *awsdynamodb.PutItemInput, optFns ...func(*awsdynamodb.Options)) (*awsdynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *awsdynamodb.DeleteItemInput, optFns ...func(*awsdynamodb.Options)) (*awsdynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *awsdynamodb.TransactWriteItemsInput, optFns ...func(*awsdynamodb.Options)) (*awsdynamodb.TransactWriteItemsOutput, error)
}

// Table is the tickets table in DynamoDB; it implements enricher.Table and
// is safe for concurrent use.
type Table struct {
	client api
	name   string
}

var _ enricher.Table = (*Table)(nil)

// New returns the table name reached through cfg, whose endpoint, region,
// credentials and retryer (the SDK's standard one unless the caller set
// another) it uses unchanged. It does not call AWS: a missing table shows up
// as ENOTREADY on first use, and EnsureTable creates it.
func New(cfg aws.Config, name string) (*Table, error) {
	if !tableNameRE.MatchString(name) {
		return nil, enricher.Errorf(enricher.EINVALID, "new table: invalid DynamoDB table name %q (3 to 255 of a-z A-Z 0-9 _ . -)", name)
	}
	return &Table{client: awsdynamodb.NewFromConfig(cfg), name: name}, nil
}

// version is what PutItem needs to know of a stored item of a ticket.
type version struct {
	createdAt   int64
	processedAt string
}

// newer reports whether a wins over b when a ticket has two items: the later
// processed_at, then the later created_at (a real creation time beats the 0
// of a ticket that failed before its time was known). Every writer and
// reader applies the same order, so they agree on which item survives.
func newer(a, b version) bool {
	if a.processedAt != b.processedAt {
		return a.processedAt > b.processedAt
	}
	return a.createdAt > b.createdAt
}

// notNewerCond is the condition, on one key, that the item there is absent
// or not newer than processedAt: "attribute_not_exists(processed_at)" covers
// a pending item, which has none and loses to everything.
func notNewerCond(processedAt string) (string, map[string]types.AttributeValue) {
	const base = "attribute_not_exists(ticket_id) OR attribute_not_exists(processed_at)"
	if processedAt == "" {
		return base, nil
	}
	return base + " OR processed_at <= :p", map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: processedAt}}
}

// PutItem writes item unless the ticket's stored item has a later
// ProcessedAt (ECONFLICT); an equal one is overwritten, so a retry succeeds.
//
// Because created_at is part of the key, a ticket first recorded as failed
// under created_at 0 and later enriched under its real created_at would
// leave two items. So PutItem first reads the ticket's items (a consistent
// Query on the hash key). If one exists under another created_at, it
// replaces it in one transaction: a Put of the new item and a Delete of each
// old key, each conditioned on the stored item not being newer. Otherwise it
// is a single conditional Put.
//
// Conditions guard one key each, so two first writes of a ticket racing
// under different created_at both succeed. After every write PutItem
// therefore reads the ticket's items again and deletes all but the newest
// (conditioned on their processed_at not having changed); whichever racer
// writes last sees both items and removes the older, so the table converges
// to one item. What remains: between a racing write and that sweep, readers
// can see two items of the ticket (GetItem returns the newer; ListItems may
// list both), and a writer that dies between its write and its sweep leaves
// the older item until the ticket's next write. When the sweep finds a newer
// item than the one written, PutItem reports ECONFLICT, as if the newer write
// had come first. Each write costs two consistent reads of the ticket's
// items besides the write itself.
func (t *Table) PutItem(ctx context.Context, item enricher.Item) error {
	av, err := marshalItem(item)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := t.put(ctx, item, av)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return err
		}
		// Jittered exponential backoff: racers that collided once
		// must not collide again in lockstep.
		d := time.Duration(rand.Int64N(int64(10*time.Millisecond) << attempt))
		select {
		case <-ctx.Done():
			return fmt.Errorf("put item %q: %w", item.TicketID, ctx.Err())
		case <-time.After(d):
		}
	}
}

func (t *Table) put(ctx context.Context, item enricher.Item, av map[string]types.AttributeValue) error {
	stored, err := t.versions(ctx, item.TicketID)
	if err != nil {
		return fmt.Errorf("put item %q: %w", item.TicketID, err)
	}
	ours := version{createdAt: item.CreatedAt, processedAt: item.ProcessedAt}
	var others []version
	for _, v := range stored {
		if v.processedAt > ours.processedAt {
			return conflict(item, v.processedAt, nil)
		}
		if v.createdAt != ours.createdAt {
			others = append(others, v)
		}
	}
	cond, vals := notNewerCond(item.ProcessedAt)
	if len(others) == 0 {
		_, err = t.client.PutItem(ctx, &awsdynamodb.PutItemInput{
			TableName:                 &t.name,
			Item:                      av,
			ConditionExpression:       &cond,
			ExpressionAttributeValues: vals,
		})
	} else {
		writes := []types.TransactWriteItem{{Put: &types.Put{
			TableName:                 &t.name,
			Item:                      av,
			ConditionExpression:       &cond,
			ExpressionAttributeValues: vals,
		}}}
		for _, v := range others {
			writes = append(writes, types.TransactWriteItem{Delete: &types.Delete{
				TableName:                 &t.name,
				Key:                       keyOf(item.TicketID, v.createdAt),
				ConditionExpression:       &cond,
				ExpressionAttributeValues: vals,
			}})
		}
		_, err = t.client.TransactWriteItems(ctx, &awsdynamodb.TransactWriteItemsInput{TransactItems: writes})
	}
	if err != nil {
		if isConditionFailure(err) {
			return conflict(item, "", err)
		}
		return t.translate(ctx, fmt.Sprintf("put item %q", item.TicketID), err)
	}
	return t.sweep(ctx, item.TicketID, ours)
}

// sweep deletes every item of the ticket but the newest, after a write whose
// conditions could not see items under other keys written concurrently.
func (t *Table) sweep(ctx context.Context, ticketID string, ours version) error {
	stored, err := t.versions(ctx, ticketID)
	if err != nil {
		return fmt.Errorf("put item %q: check for other items: %w", ticketID, err)
	}
	if len(stored) == 0 {
		return nil // deleted since; not this writer's business
	}
	keep := stored[0]
	for _, v := range stored[1:] {
		if newer(v, keep) {
			keep = v
		}
	}
	for _, v := range stored {
		if v == keep {
			continue
		}
		cond := "processed_at = :p"
		vals := map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: v.processedAt}}
		if v.processedAt == "" {
			cond, vals = "attribute_not_exists(processed_at)", nil
		}
		_, err := t.client.DeleteItem(ctx, &awsdynamodb.DeleteItemInput{
			TableName:                 &t.name,
			Key:                       keyOf(ticketID, v.createdAt),
			ConditionExpression:       &cond,
			ExpressionAttributeValues: vals,
		})
		// A failed condition means the item was rewritten since the
		// read: its writer sweeps after its own write.
		if err != nil && !isConditionFailure(err) {
			return t.translate(ctx, fmt.Sprintf("put item %q: delete older item (created_at %d)", ticketID, v.createdAt), err)
		}
	}
	if keep.processedAt > ours.processedAt {
		return enricher.Errorf(enricher.ECONFLICT, "put item %q: a concurrent write stored a newer result (processed_at %s, this one %s)",
			ticketID, keep.processedAt, orNone(ours.processedAt))
	}
	return nil
}

// versions returns the keys and processed_at of every item of a ticket,
// read consistently.
func (t *Table) versions(ctx context.Context, ticketID string) ([]version, error) {
	items, err := t.query(ctx, ticketID, aws.String("created_at, processed_at"))
	if err != nil {
		return nil, err
	}
	vs := make([]version, 0, len(items))
	for _, av := range items {
		c, err := createdAtOf(av)
		if err != nil {
			return nil, fmt.Errorf("read item of %q: %w", ticketID, err)
		}
		v := version{createdAt: c}
		if p, ok := av[attrProcessedAt].(*types.AttributeValueMemberS); ok {
			v.processedAt = p.Value
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// query returns the attributes (all, or those of projection) of every item
// of a ticket, with a consistent read so that a write is seen by the next
// read.
func (t *Table) query(ctx context.Context, ticketID string, projection *string) ([]map[string]types.AttributeValue, error) {
	in := &awsdynamodb.QueryInput{
		TableName:                 &t.name,
		KeyConditionExpression:    aws.String("ticket_id = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: ticketID}},
		ConsistentRead:            aws.Bool(true),
		ProjectionExpression:      projection,
	}
	var items []map[string]types.AttributeValue
	for {
		out, err := t.client.Query(ctx, in)
		if err != nil {
			return nil, t.translate(ctx, fmt.Sprintf("query items of %q", ticketID), err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// GetItem returns the item of a ticket, or ENOTFOUND. It queries the hash
// key rather than reading one key, since created_at is not known to the
// caller; if a race left two items for a moment, it returns the newer, the
// one PutItem keeps.
func (t *Table) GetItem(ctx context.Context, ticketID string) (enricher.Item, error) {
	if ticketID == "" {
		return enricher.Item{}, enricher.Errorf(enricher.ENOTFOUND, "get item: empty ticket id")
	}
	avs, err := t.query(ctx, ticketID, nil)
	if err != nil {
		return enricher.Item{}, fmt.Errorf("get item: %w", err)
	}
	var (
		best  enricher.Item
		found bool
	)
	for _, av := range avs {
		it, err := unmarshalItem(av)
		if err != nil {
			return enricher.Item{}, fmt.Errorf("get item %q: %w", ticketID, err)
		}
		if !found || newer(version{it.CreatedAt, it.ProcessedAt}, version{best.CreatedAt, best.ProcessedAt}) {
			best, found = it, true
		}
	}
	if !found {
		return enricher.Item{}, enricher.Errorf(enricher.ENOTFOUND, "get item %q: no such ticket", ticketID)
	}
	return best, nil
}

// conflict is the ECONFLICT error of a write that lost to a newer stored
// result (storedAt when known).
func conflict(item enricher.Item, storedAt string, cause error) error {
	stored := fmt.Sprintf("a newer result than this one (processed_at %s)", orNone(item.ProcessedAt))
	if storedAt != "" {
		stored = fmt.Sprintf("a newer result (processed_at %s, this one %s)", storedAt, orNone(item.ProcessedAt))
	}
	if cause != nil {
		return enricher.Errorf(enricher.ECONFLICT, "put item %q: the table holds %s: %w", item.TicketID, stored, cause)
	}
	return enricher.Errorf(enricher.ECONFLICT, "put item %q: the table holds %s", item.TicketID, stored)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// isConditionFailure reports whether err is a failed condition: on a single
// write, or as the reason a transaction was cancelled.
func isConditionFailure(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	return cancelReason(err, "ConditionalCheckFailed")
}

// cancelReason reports whether err is a cancelled transaction with code
// among its reasons.
func cancelReason(err error, code string) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	for _, r := range tc.CancellationReasons {
		if aws.ToString(r.Code) == code {
			return true
		}
	}
	return false
}

// retryable reports whether a write lost a race that DynamoDB reports
// instead of serializing (a transaction in progress on the item, or a
// throttled transaction, which the SDK does not retry), so that starting
// PutItem over can succeed.
func retryable(err error) bool {
	var tce *types.TransactionConflictException
	if errors.As(err, &tce) {
		return true
	}
	return cancelReason(err, "TransactionConflict") || cancelReason(err, "ThrottlingError") ||
		cancelReason(err, "ProvisionedThroughputExceeded")
}

// translate turns an SDK error into the service's terms: a missing table is
// ENOTREADY (run `enricher setup`), an item over DynamoDB's 400 KB limit is
// ETOOLARGE; anything else stays an internal error, with the cause kept.
func (t *Table) translate(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) {
		return enricher.Errorf(enricher.ENOTREADY, "%s: DynamoDB table %q does not exist (run enricher setup, or check DYNAMODB_TABLE): %w", op, t.name, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" && strings.Contains(strings.ToLower(ae.ErrorMessage()), "size has exceeded") {
		return enricher.Errorf(enricher.ETOOLARGE, "%s: the item exceeds DynamoDB's 400 KB limit: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
