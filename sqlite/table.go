package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ticket-enricher/enricher"
)

// Table is the tickets table (DESIGN.md §2.3) in a DB; it implements
// enricher.Table. It is safe for concurrent use.
type Table struct {
	db *DB
}

var _ enricher.Table = (*Table)(nil)

// NewTable returns the tickets table of db.
func NewTable(db *DB) (*Table, error) {
	if db == nil {
		return nil, enricher.Errorf(enricher.EINVALID, "new table: nil database")
	}
	return &Table{db: db}, nil
}

// itemColumns lists the columns in the order scanItem reads them.
const itemColumns = `ticket_id, created_at, subject, customer_id, priority, intent, intent_confidence,
	urgency, urgency_confidence, summary, summary_method, processed_at, s3_key, model_version,
	status, failure_code, failure_message`

// PutItem writes item unless the stored item of the same ticket has a later
// ProcessedAt, in which case it returns ECONFLICT and leaves the row. An
// equal ProcessedAt overwrites, so a retried write succeeds. The check and
// the write are one statement, so racing writers cannot both win.
//
// ProcessedAt must be empty (a pending item, older than any result) or in
// enricher.FormatTime's fixed-width format; anything else is EINVALID,
// because it would not compare correctly.
func (t *Table) PutItem(ctx context.Context, item enricher.Item) error {
	if item.TicketID == "" {
		return enricher.Errorf(enricher.EINVALID, "put item: empty ticket id")
	}
	if err := enricher.ValidProcessedAt(item.ProcessedAt); err != nil {
		return enricher.Errorf(enricher.EINVALID, "put item %q: %w", item.TicketID, err)
	}
	var code, msg sql.NullString
	if item.Failure != nil {
		code = sql.NullString{String: item.Failure.Code, Valid: true}
		msg = sql.NullString{String: item.Failure.Message, Valid: true}
	}
	res, err := t.db.write.ExecContext(ctx, `
		INSERT INTO items (`+itemColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ticket_id) DO UPDATE SET
			created_at = excluded.created_at, subject = excluded.subject,
			customer_id = excluded.customer_id, priority = excluded.priority,
			intent = excluded.intent, intent_confidence = excluded.intent_confidence,
			urgency = excluded.urgency, urgency_confidence = excluded.urgency_confidence,
			summary = excluded.summary, summary_method = excluded.summary_method,
			processed_at = excluded.processed_at, s3_key = excluded.s3_key,
			model_version = excluded.model_version, status = excluded.status,
			failure_code = excluded.failure_code, failure_message = excluded.failure_message
		WHERE excluded.processed_at >= items.processed_at`,
		item.TicketID, item.CreatedAt, item.Subject, item.CustomerID, string(item.Priority),
		item.Intent, item.IntentConfidence, string(item.Urgency), item.UrgencyConfidence,
		item.Summary, item.SummaryMethod, item.ProcessedAt, item.S3Key, item.ModelVersion,
		string(item.Status), code, msg)
	if err != nil {
		return fmt.Errorf("put item %q: %w", item.TicketID, ctxErr(ctx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("put item %q: %w", item.TicketID, err)
	}
	if n == 0 {
		var stored string
		if err := t.db.read.QueryRowContext(ctx, `SELECT processed_at FROM items WHERE ticket_id = ?`, item.TicketID).Scan(&stored); err != nil {
			stored = "unknown"
		}
		return enricher.Errorf(enricher.ECONFLICT, "put item %q: the table holds a newer result (processed_at %s, this one %s)",
			item.TicketID, stored, orNone(item.ProcessedAt))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// GetItem returns the item of a ticket, or ENOTFOUND.
func (t *Table) GetItem(ctx context.Context, ticketID string) (enricher.Item, error) {
	row := t.db.read.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items WHERE ticket_id = ?`, ticketID)
	it, err := scanItem(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return enricher.Item{}, enricher.Errorf(enricher.ENOTFOUND, "get item %q: no such ticket", ticketID)
	case err != nil:
		return enricher.Item{}, fmt.Errorf("get item %q: %w", ticketID, ctxErr(ctx, err))
	}
	return it, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanItem(s scanner) (enricher.Item, error) {
	var (
		it                          enricher.Item
		priority, urgency, status   string
		failureCode, failureMessage sql.NullString
	)
	err := s.Scan(&it.TicketID, &it.CreatedAt, &it.Subject, &it.CustomerID, &priority, &it.Intent,
		&it.IntentConfidence, &urgency, &it.UrgencyConfidence, &it.Summary, &it.SummaryMethod,
		&it.ProcessedAt, &it.S3Key, &it.ModelVersion, &status, &failureCode, &failureMessage)
	if err != nil {
		return enricher.Item{}, err
	}
	it.Priority, it.Urgency, it.Status = enricher.Urgency(priority), enricher.Urgency(urgency), enricher.Status(status)
	if failureCode.Valid {
		it.Failure = &enricher.Failure{Code: failureCode.String, Message: failureMessage.String}
	}
	return it, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// ListItems returns a page of items matching f, newest created_at first,
// ties by ticket id descending. Pages are keyset-paginated: the cursor holds
// the sort key of the last item, so items added between pages neither repeat
// nor shift later pages, and every page costs an index range scan.
func (t *Table) ListItems(ctx context.Context, f enricher.ListFilter) (enricher.ItemPage, error) {
	limit, err := f.PageSize()
	if err != nil {
		return enricher.ItemPage{}, err
	}
	if f.Urgency != "" {
		if _, ok := enricher.ParseUrgency(string(f.Urgency)); !ok {
			return enricher.ItemPage{}, enricher.Errorf(enricher.EINVALID, "list items: unknown urgency %q (want critical, high, medium or low)", clip(string(f.Urgency)))
		}
	}
	var (
		where []string
		args  []any
	)
	if f.Urgency != "" {
		where, args = append(where, "urgency = ?"), append(args, string(f.Urgency))
	} else {
		where = append(where, "urgency != ''") // only items with an urgency are listed (enricher.Table)
	}
	if f.Intent != "" {
		where, args = append(where, "intent = ?"), append(args, f.Intent)
	}
	if f.Cursor != "" {
		c, err := enricher.DecodeCursor(f.Cursor)
		if err != nil {
			return enricher.ItemPage{}, err
		}
		// The first condition bounds the index range; the second
		// excludes the ties already returned.
		where = append(where, "created_at <= ?", "(created_at < ? OR ticket_id < ?)")
		args = append(args, c.CreatedAt, c.CreatedAt, c.TicketID)
	}
	query := `SELECT ` + itemColumns + ` FROM items`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at DESC, ticket_id DESC LIMIT ?`
	args = append(args, limit+1) // one more tells whether a next page exists

	rows, err := t.db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return enricher.ItemPage{}, fmt.Errorf("list items: %w", ctxErr(ctx, err))
	}
	defer rows.Close()
	items := make([]enricher.Item, 0, min(limit+1, 64))
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return enricher.ItemPage{}, fmt.Errorf("list items: %w", err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return enricher.ItemPage{}, fmt.Errorf("list items: %w", ctxErr(ctx, err))
	}
	page := enricher.ItemPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = enricher.EncodeCursor(items[limit-1])
	}
	return page, nil
}
