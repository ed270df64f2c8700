package dynamodb

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ticket-enricher/enricher"
)

// ListItems returns a page of items matching f, newest created_at first,
// ties by ticket id descending, as every enricher.Table orders them.
//
// It reads only urgency-index, never the whole table: with an urgency, one
// partition of the index; without, the four partitions (critical, high,
// medium, low) merged newest first. The table has no index over every
// item, so items without urgency (failed and pending tickets) are not
// listed: they are reachable only through GetItem. A Scan would find them,
// but it reads the whole table for every page.
//
// A page reads up to limit+1 items from each partition it merges (the
// first reads run in parallel), so an unfiltered page costs up to four
// times the reads of the items it returns. Items under an urgency other
// than the four (written by another tool) are in none of the partitions
// read, and so are not listed either.
//
// An intent is a FilterExpression on the index query. DynamoDB applies it
// after reading, so a rare intent costs reads of items it drops; ListItems
// keeps querying until the page is full or the partitions end, so a page
// is never empty while a next cursor exists.
//
// The cursor is the sort key (created_at, ticket_id) of the last item
// returned, not DynamoDB's LastEvaluatedKey: one position in the merged
// order positions every partition at once (created_at <= c as the key
// condition, ties at c skipped by ticket id), and it orders ties by ticket
// id, which the index does not. Items added between pages that sort before
// the cursor neither appear in later pages nor shift them.
//
// The index is eventually consistent: an item written a moment ago may be
// missing from a list, though GetItem sees it.
func (t *Table) ListItems(ctx context.Context, f enricher.ListFilter) (enricher.ItemPage, error) {
	limit, err := f.PageSize()
	if err != nil {
		return enricher.ItemPage{}, err
	}
	urgencies := enricher.Urgencies()
	if f.Urgency != "" {
		if _, ok := enricher.ParseUrgency(string(f.Urgency)); !ok {
			return enricher.ItemPage{}, enricher.Errorf(enricher.EINVALID, "list items: unknown urgency %q (want critical, high, medium or low)", clip(string(f.Urgency)))
		}
		urgencies = []enricher.Urgency{f.Urgency}
	}
	var after *enricher.ListPosition
	if f.Cursor != "" {
		c, err := enricher.DecodeCursor(f.Cursor)
		if err != nil {
			return enricher.ItemPage{}, err
		}
		after = &c
	}

	parts := make([]*partition, len(urgencies))
	for i, u := range urgencies {
		parts[i] = &partition{table: t, urgency: u, intent: f.Intent, after: after, size: int32(limit + 1)}
	}
	// The first reads of the partitions are independent: run them at
	// once, so that a page costs one round trip, not four.
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() { _, _, errs[i] = p.head(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return enricher.ItemPage{}, fmt.Errorf("list items: %w", err)
		}
	}

	items := make([]enricher.Item, 0, min(limit, 64))
	for len(items) <= limit {
		best := -1
		var head enricher.Item
		for i, p := range parts {
			it, ok, err := p.head(ctx)
			if err != nil {
				return enricher.ItemPage{}, fmt.Errorf("list items: %w", err)
			}
			if ok && (best < 0 || before(it, head)) {
				best, head = i, it
			}
		}
		if best < 0 {
			break
		}
		if len(items) == limit {
			// One more item exists: there is a next page.
			return enricher.ItemPage{Items: items, NextCursor: enricher.EncodeCursor(items[limit-1])}, nil
		}
		parts[best].pop()
		items = append(items, head)
	}
	return enricher.ItemPage{Items: items}, nil
}

// before reports whether a is listed before b: newer created_at first, ties
// by ticket id descending.
func before(a, b enricher.Item) bool {
	if a.CreatedAt != b.CreatedAt {
		return a.CreatedAt > b.CreatedAt
	}
	return a.TicketID > b.TicketID
}

// partition reads one urgency's items from the index, newest first, past
// the cursor, a page of size items at a time.
type partition struct {
	table   *Table
	urgency enricher.Urgency
	intent  string
	after   *enricher.ListPosition
	size    int32

	buf   []enricher.Item // read, not yet merged, in list order
	start map[string]types.AttributeValue
	done  bool // the index has nothing past buf
}

// head returns the partition's next item in list order, reading more of
// the index while needed. The index orders items by created_at only, so the
// first item of buf is known to be next only once every item with its
// created_at has been read: when buf also holds an older one, or the
// partition has ended.
func (p *partition) head(ctx context.Context) (enricher.Item, bool, error) {
	for {
		if n := len(p.buf); n > 0 && (p.done || p.buf[0].CreatedAt > p.buf[n-1].CreatedAt) {
			return p.buf[0], true, nil
		}
		if p.done {
			return enricher.Item{}, false, nil
		}
		if err := p.fetch(ctx); err != nil {
			return enricher.Item{}, false, err
		}
	}
}

// pop drops the item head returned.
func (p *partition) pop() { p.buf = p.buf[1:] }

// fetch reads the next page of the partition from the index.
func (p *partition) fetch(ctx context.Context) error {
	in := &awsdynamodb.QueryInput{
		TableName:                &p.table.name,
		IndexName:                aws.String(IndexName),
		KeyConditionExpression:   aws.String("#u = :u"),
		ExpressionAttributeNames: map[string]string{"#u": attrUrgency},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":u": &types.AttributeValueMemberS{Value: string(p.urgency)},
		},
		ScanIndexForward:  aws.Bool(false),
		Limit:             aws.Int32(p.size),
		ExclusiveStartKey: p.start,
	}
	if p.after != nil {
		in.KeyConditionExpression = aws.String("#u = :u AND #c <= :c")
		in.ExpressionAttributeNames["#c"] = attrCreatedAt
		in.ExpressionAttributeValues[":c"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(p.after.CreatedAt, 10)}
	}
	if p.intent != "" {
		in.FilterExpression = aws.String("#i = :i")
		in.ExpressionAttributeNames["#i"] = attrIntent
		in.ExpressionAttributeValues[":i"] = &types.AttributeValueMemberS{Value: p.intent}
	}
	out, err := p.table.client.Query(ctx, in)
	if err != nil {
		return p.table.translate(ctx, fmt.Sprintf("query %s %s", IndexName, p.urgency), err)
	}
	for _, av := range out.Items {
		it, err := unmarshalItem(av)
		if err != nil {
			return fmt.Errorf("query %s %s: %w", IndexName, p.urgency, err)
		}
		if a := p.after; a != nil && it.CreatedAt == a.CreatedAt && it.TicketID >= a.TicketID {
			continue // a tie at the cursor, returned on an earlier page
		}
		p.buf = append(p.buf, it)
	}
	slices.SortStableFunc(p.buf, func(a, b enricher.Item) int {
		switch {
		case before(a, b):
			return -1
		case before(b, a):
			return 1
		}
		return 0
	})
	p.start = out.LastEvaluatedKey
	p.done = len(p.start) == 0
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
