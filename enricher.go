// Package enricher holds the domain of ticket-enricher: the ticket contract,
// enriched records and table items, the error codes, and the small
// interfaces that the backends plug into.
//
// It imports only the standard library. Adapters (sqlite, dir, and later the
// AWS ones) implement the interfaces here; the pipeline and the HTTP API use
// them; only cmd/enricher wires more than one adapter together. Each
// interface has one contract test suite, in package enrichertest, that every
// implementation runs.
package enricher

import (
	"context"
	"time"
)

// ObjectStore keeps whole objects by key: the raw tickets and the enriched
// records. Implementations are S3 buckets and directories.
type ObjectStore interface {
	// PutObject stores data under key, replacing any previous object
	// atomically: a reader sees the old object or the new one, never a mix.
	PutObject(ctx context.Context, key string, data []byte) error
	// GetObject returns the object under key, or an error with code
	// ENOTFOUND.
	GetObject(ctx context.Context, key string) ([]byte, error)
}

// Message is a queue message as received: the body, the handle that
// acknowledges it, and how many times it has been received, which tells the
// worker when a failing message has used up its attempts.
type Message struct {
	ID           string
	Body         []byte
	Receipt      string
	ReceiveCount int
}

// Queue is an at-least-once message queue with visibility timeouts, as SQS
// is: a received message is hidden, not removed, until it is acknowledged;
// if its worker dies, it comes back.
type Queue interface {
	// Send enqueues a message.
	Send(ctx context.Context, body []byte) error
	// Receive waits up to wait for at least one message and returns at most
	// max, each hidden for the queue's visibility timeout. It returns no
	// messages and no error when the wait ends empty.
	Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error)
	// Ack deletes a received message for good.
	Ack(ctx context.Context, receipt string) error
	// ChangeVisibility hides a received message for d from now: longer to
	// keep a slow ticket (a heartbeat), zero to hand it back at once, a
	// delay to retry later.
	ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error
	// DeadLetter moves a received message to the dead-letter queue with the
	// reason, for messages that can never succeed.
	DeadLetter(ctx context.Context, m Message, reason string) error
}

// ListFilter selects table items for GET /v1/tickets: by urgency or intent
// (or both, or neither), newest first, a page at a time.
type ListFilter struct {
	Urgency Urgency
	Intent  string
	// Limit is the page size; implementations cap it and default it.
	Limit int
	// Cursor is the opaque NextCursor of the previous page, "" for the first.
	Cursor string
}

// ItemPage is one page of items, newest first. NextCursor is "" on the last
// page.
type ItemPage struct {
	Items      []Item
	NextCursor string
}

// Table stores one item per ticket: the queryable part of the enriched
// record (DESIGN.md §2.3), or the failure of a ticket that could not be
// enriched.
type Table interface {
	// PutItem writes item unless the table holds one for the same ticket
	// with a later ProcessedAt, so that a redelivered or reprocessed older
	// result never overwrites a newer one; it returns an error with code
	// ECONFLICT in that case.
	PutItem(ctx context.Context, item Item) error
	// GetItem returns the item of a ticket, or an error with code ENOTFOUND.
	GetItem(ctx context.Context, ticketID string) (Item, error)
	// ListItems returns a page of the items that have an urgency and match
	// f, newest (created_at) first. Items without one (failed tickets) are
	// found by id only: DynamoDB's table has no index over them (DESIGN.md
	// §2.3), and every backend behaves alike. An invalid cursor is an
	// EINVALID error.
	ListItems(ctx context.Context, f ListFilter) (ItemPage, error)
}

// Limits of ListFilter.Limit shared by every Table.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// PageSize is the page size every Table uses for f: DefaultListLimit for
// 0, capped at MaxListLimit; a negative limit is EINVALID.
func (f ListFilter) PageSize() (int, error) {
	switch {
	case f.Limit < 0:
		return 0, Errorf(EINVALID, "list items: negative limit %d", f.Limit)
	case f.Limit == 0:
		return DefaultListLimit, nil
	}
	return min(f.Limit, MaxListLimit), nil
}
