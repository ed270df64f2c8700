package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ticket-enricher/enricher"
)

// Queue limits, the same as SQS's so that what works here works on AWS.
const (
	// DefaultVisibilityTimeout applies when QueueOptions leaves it zero.
	DefaultVisibilityTimeout = 30 * time.Second
	// MaxVisibilityTimeout bounds the visibility timeout and every
	// ChangeVisibility.
	MaxVisibilityTimeout = 12 * time.Hour
	// MaxBodySize is the largest message body accepted, in bytes.
	MaxBodySize = 1 << 20
)

// pollInterval is how often a waiting Receive looks for messages whose
// visibility timeout ran out; sends on the same Queue wake it at once.
const pollInterval = 50 * time.Millisecond

// queueNamePattern is SQS's rule for queue names.
var queueNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// QueueOptions configure a Queue.
type QueueOptions struct {
	// VisibilityTimeout is how long a received message stays hidden before
	// it is delivered again; zero means DefaultVisibilityTimeout.
	VisibilityTimeout time.Duration
	// MaxReceiveCount is how many times a message may be received before
	// it goes to the dead letters instead of being delivered again; zero
	// means no limit.
	MaxReceiveCount int
	// Now is the clock for every time decision (visibility, ages); nil
	// means time.Now. Tests inject one to expire timeouts without sleeping.
	// How long Receive blocks is always measured in real time.
	Now func() time.Time
}

// Queue is a named at-least-once queue with visibility timeouts and dead
// letters, stored in a DB; it implements enricher.Queue. Several named
// queues can share a DB. It is safe for concurrent use.
//
// Receipts are fresh on every receive. A receipt that is no longer the
// message's latest (the message was received again, acknowledged, or
// dead-lettered) makes Ack, ChangeVisibility and DeadLetter fail with
// ENOTFOUND and change nothing; a receipt that this package could not have
// issued is EINVALID.
type Queue struct {
	db          *DB
	name        string
	visibility  time.Duration
	maxReceives int
	now         func() time.Time

	mu   sync.Mutex
	wake chan struct{} // closed (and replaced) when messages become visible
}

var _ enricher.Queue = (*Queue)(nil)

// NewQueue returns the queue called name in db; its messages persist in the
// file, so a queue opened again after a restart has them all.
func NewQueue(db *DB, name string, opts QueueOptions) (*Queue, error) {
	if db == nil {
		return nil, enricher.Errorf(enricher.EINVALID, "new queue %q: nil database", name)
	}
	if !queueNamePattern.MatchString(name) {
		return nil, enricher.Errorf(enricher.EINVALID, "new queue %q: name must be 1 to 80 letters, digits, '-' or '_'", name)
	}
	vis := opts.VisibilityTimeout
	switch {
	case vis == 0:
		vis = DefaultVisibilityTimeout
	case vis < 0 || vis > MaxVisibilityTimeout:
		return nil, enricher.Errorf(enricher.EINVALID, "new queue %q: visibility timeout %v outside (0, %v]", name, vis, MaxVisibilityTimeout)
	}
	if opts.MaxReceiveCount < 0 {
		return nil, enricher.Errorf(enricher.EINVALID, "new queue %q: negative max receive count %d", name, opts.MaxReceiveCount)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Queue{db: db, name: name, visibility: vis, maxReceives: opts.MaxReceiveCount, now: now, wake: make(chan struct{})}, nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// wakeChan returns the channel that the next wakeUp closes. Receive takes it
// before looking for messages, so a send between the look and the wait is
// not missed.
func (q *Queue) wakeChan() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wake
}

// wakeUp wakes every Receive waiting on this Queue.
func (q *Queue) wakeUp() {
	q.mu.Lock()
	defer q.mu.Unlock()
	close(q.wake)
	q.wake = make(chan struct{})
}

// Send enqueues a message, visible at once. When Send returns, the message
// is committed and survives a crash of the process.
func (q *Queue) Send(ctx context.Context, body []byte) error {
	if len(body) == 0 {
		return enricher.Errorf(enricher.EINVALID, "send message to %s: empty body", q.name)
	}
	if len(body) > MaxBodySize {
		return enricher.Errorf(enricher.ETOOLARGE, "send message to %s: body of %d bytes exceeds %d", q.name, len(body), MaxBodySize)
	}
	now := q.now().UnixNano()
	if _, err := q.db.write.ExecContext(ctx,
		`INSERT INTO queue_messages (queue, body, sent_at, visible_at) VALUES (?, ?, ?, ?)`,
		q.name, body, now, now); err != nil {
		return fmt.Errorf("send message to %s: %w", q.name, ctxErr(ctx, err))
	}
	q.wakeUp()
	return nil
}

// Receive claims up to max visible messages, hiding each for the visibility
// timeout. When none is visible it waits up to wait for one, woken by sends
// on this Queue and otherwise polling. Messages received MaxReceiveCount
// times already go to the dead letters instead of being returned.
func (q *Queue) Receive(ctx context.Context, max int, wait time.Duration) ([]enricher.Message, error) {
	if max < 1 {
		return nil, enricher.Errorf(enricher.EINVALID, "receive messages from %s: max %d is less than 1", q.name, max)
	}
	deadline := time.Now().Add(wait)
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("receive messages from %s: %w", q.name, err)
		}
		wake := q.wakeChan()
		// After the first attempt, a cheap read on the read pool tells
		// whether a write transaction is worth taking.
		look := attempt == 0
		if !look {
			var err error
			if look, err = q.anyVisible(ctx); err != nil {
				return nil, fmt.Errorf("receive messages from %s: %w", q.name, ctxErr(ctx, err))
			}
		}
		if look {
			msgs, err := q.claim(ctx, max)
			if err != nil {
				return nil, fmt.Errorf("receive messages from %s: %w", q.name, ctxErr(ctx, err))
			}
			if len(msgs) > 0 {
				return msgs, nil
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		timer := time.NewTimer(min(left, pollInterval))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("receive messages from %s: %w", q.name, ctx.Err())
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// anyVisible reports whether the queue holds a message that is visible now.
func (q *Queue) anyVisible(ctx context.Context) (bool, error) {
	var one int
	err := q.db.read.QueryRowContext(ctx,
		`SELECT 1 FROM queue_messages WHERE queue = ? AND visible_at <= ? LIMIT 1`,
		q.name, q.now().UnixNano()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// claim hides up to max visible messages in one transaction and returns
// them, oldest first, moving those that have used up their receives to the
// dead letters on the way.
func (q *Queue) claim(ctx context.Context, max int) ([]enricher.Message, error) {
	now := q.now().UnixNano()
	hideUntil := now + int64(q.visibility)
	var msgs []enricher.Message
	err := q.db.inTx(ctx, func(tx *sql.Tx) error {
		msgs = msgs[:0]
		for len(msgs) < max {
			candidates, err := q.visible(ctx, tx, now, max-len(msgs))
			if err != nil {
				return err
			}
			exhausted := 0
			for _, c := range candidates {
				if q.maxReceives > 0 && c.receiveCount >= q.maxReceives {
					reason := fmt.Sprintf("received %d times without being acknowledged (max receive count %d)", c.receiveCount, q.maxReceives)
					if _, err := q.moveToDeadLetters(ctx, tx, c.id, "", reason, now); err != nil {
						return err
					}
					exhausted++
					continue
				}
				token, err := newToken()
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx,
					`UPDATE queue_messages SET visible_at = ?, receive_count = receive_count + 1, receipt = ? WHERE id = ?`,
					hideUntil, token, c.id); err != nil {
					return fmt.Errorf("claim message %d: %w", c.id, err)
				}
				msgs = append(msgs, enricher.Message{
					ID:           strconv.FormatInt(c.id, 10),
					Body:         c.body,
					Receipt:      strconv.FormatInt(c.id, 10) + "." + token,
					ReceiveCount: c.receiveCount + 1,
				})
			}
			// Only dead-lettered candidates make room for more; otherwise
			// the queue had no more than these.
			if exhausted == 0 {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return msgs, nil
}

// candidate is a visible message read inside claim.
type candidate struct {
	id           int64
	body         []byte
	receiveCount int
}

// visible reads up to n visible messages, oldest visibility first.
func (q *Queue) visible(ctx context.Context, tx *sql.Tx, now int64, n int) ([]candidate, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT id, body, receive_count FROM queue_messages
		 WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, id LIMIT ?`,
		q.name, now, n)
	if err != nil {
		return nil, fmt.Errorf("select visible messages: %w", err)
	}
	defer rows.Close()
	var out []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.body, &c.receiveCount); err != nil {
			return nil, fmt.Errorf("scan message: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select visible messages: %w", err)
	}
	return out, nil
}

// moveToDeadLetters moves message id (only while its receipt is token, when
// token is not empty) to the dead letters and reports whether it was there.
func (q *Queue) moveToDeadLetters(ctx context.Context, tx *sql.Tx, id int64, token, reason string, now int64) (bool, error) {
	res, err := tx.ExecContext(ctx,
		`INSERT INTO queue_dead_letters (queue, message_id, body, reason, receive_count, sent_at, dead_at)
		 SELECT queue, id, body, ?, receive_count, sent_at, ? FROM queue_messages
		 WHERE id = ? AND queue = ? AND (? = '' OR receipt = ?)`,
		reason, now, id, q.name, token, token)
	if err != nil {
		return false, fmt.Errorf("dead-letter message %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM queue_messages WHERE id = ?`, id); err != nil {
		return false, fmt.Errorf("dead-letter message %d: %w", id, err)
	}
	return true, nil
}

// newToken returns a random receipt token: unguessable, so a receipt cannot
// be forged from a message id.
func newToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make receipt: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// parseReceipt splits a receipt into the message id and the token.
func (q *Queue) parseReceipt(op, receipt string) (int64, string, error) {
	idText, token, ok := strings.Cut(receipt, ".")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id <= 0 || len(token) != 24 {
		return 0, "", enricher.Errorf(enricher.EINVALID, "%s in %s: malformed receipt %q", op, q.name, receipt)
	}
	if _, err := hex.DecodeString(token); err != nil {
		return 0, "", enricher.Errorf(enricher.EINVALID, "%s in %s: malformed receipt %q", op, q.name, receipt)
	}
	return id, token, nil
}

// staleReceipt is the error of an operation whose receipt is not the
// message's latest.
func (q *Queue) staleReceipt(op, receipt string) error {
	return enricher.Errorf(enricher.ENOTFOUND,
		"%s in %s: no message holds receipt %q: it was acknowledged, dead-lettered or received again since", op, q.name, receipt)
}

// Ack deletes the message that receipt was issued for, if that receive is
// still the latest.
func (q *Queue) Ack(ctx context.Context, receipt string) error {
	const op = "ack message"
	id, token, err := q.parseReceipt(op, receipt)
	if err != nil {
		return err
	}
	res, err := q.db.write.ExecContext(ctx,
		`DELETE FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ?`, id, q.name, token)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", op, q.name, ctxErr(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s in %s: %w", op, q.name, err)
	} else if n == 0 {
		return q.staleReceipt(op, receipt)
	}
	return nil
}

// ChangeVisibility hides the message for d from now: longer for a slow
// ticket, zero to hand it back at once.
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	const op = "change message visibility"
	id, token, err := q.parseReceipt(op, receipt)
	if err != nil {
		return err
	}
	if d < 0 || d > MaxVisibilityTimeout {
		return enricher.Errorf(enricher.EINVALID, "%s in %s: timeout %v outside [0, %v]", op, q.name, d, MaxVisibilityTimeout)
	}
	res, err := q.db.write.ExecContext(ctx,
		`UPDATE queue_messages SET visible_at = ? WHERE id = ? AND queue = ? AND receipt = ?`,
		q.now().Add(d).UnixNano(), id, q.name, token)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", op, q.name, ctxErr(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s in %s: %w", op, q.name, err)
	} else if n == 0 {
		return q.staleReceipt(op, receipt)
	}
	if d == 0 {
		q.wakeUp()
	}
	return nil
}

// DeadLetter moves the received message m to the dead letters with the
// reason, where DeadLetters and Stats show it.
func (q *Queue) DeadLetter(ctx context.Context, m enricher.Message, reason string) error {
	const op = "dead-letter message"
	id, token, err := q.parseReceipt(op, m.Receipt)
	if err != nil {
		return err
	}
	if reason == "" {
		return enricher.Errorf(enricher.EINVALID, "%s %s in %s: empty reason", op, m.ID, q.name)
	}
	var moved bool
	err = q.db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		moved, err = q.moveToDeadLetters(ctx, tx, id, token, reason, q.now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("%s in %s: %w", op, q.name, ctxErr(ctx, err))
	}
	if !moved {
		return q.staleReceipt(op, m.Receipt)
	}
	return nil
}

// QueueStats describe a queue for dashboards and metrics.
type QueueStats struct {
	Visible     int // waiting to be received
	InFlight    int // received and hidden
	DeadLetters int
	// OldestVisibleAge is how long the oldest visible message has been in
	// the queue (since it was sent); zero when none is visible. A growing
	// value means the workers are not keeping up.
	OldestVisibleAge time.Duration
}

// Stats counts the queue's messages as of now (the injected clock).
func (q *Queue) Stats(ctx context.Context) (QueueStats, error) {
	now := q.now().UnixNano()
	var (
		s      QueueStats
		oldest sql.NullInt64
	)
	err := q.db.read.QueryRowContext(ctx, `
		SELECT
			COALESCE(SUM(visible_at <= ?1), 0),
			COALESCE(SUM(visible_at > ?1), 0),
			MIN(CASE WHEN visible_at <= ?1 THEN sent_at END),
			(SELECT COUNT(*) FROM queue_dead_letters WHERE queue = ?2)
		FROM queue_messages WHERE queue = ?2`, now, q.name).
		Scan(&s.Visible, &s.InFlight, &oldest, &s.DeadLetters)
	if err != nil {
		return QueueStats{}, fmt.Errorf("read stats of %s: %w", q.name, ctxErr(ctx, err))
	}
	if oldest.Valid {
		s.OldestVisibleAge = time.Duration(now - oldest.Int64)
	}
	return s, nil
}

// DeadLetter is a message that was given up on, and why.
type DeadLetter struct {
	ID           string // the message's id while it was queued
	Body         []byte
	Reason       string
	ReceiveCount int
	At           time.Time // when it was dead-lettered
}

// DeadLetters returns up to limit dead letters of the queue, the most recent
// first, so an operator can see why messages failed. A limit of zero means
// enricher.DefaultListLimit; it is capped at enricher.MaxListLimit.
func (q *Queue) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	switch {
	case limit < 0:
		return nil, enricher.Errorf(enricher.EINVALID, "list dead letters of %s: negative limit %d", q.name, limit)
	case limit == 0:
		limit = enricher.DefaultListLimit
	case limit > enricher.MaxListLimit:
		limit = enricher.MaxListLimit
	}
	rows, err := q.db.read.QueryContext(ctx,
		`SELECT message_id, body, reason, receive_count, dead_at FROM queue_dead_letters
		 WHERE queue = ? ORDER BY id DESC LIMIT ?`, q.name, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters of %s: %w", q.name, ctxErr(ctx, err))
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var (
			d  DeadLetter
			id int64
			at int64
		)
		if err := rows.Scan(&id, &d.Body, &d.Reason, &d.ReceiveCount, &at); err != nil {
			return nil, fmt.Errorf("list dead letters of %s: %w", q.name, err)
		}
		d.ID = strconv.FormatInt(id, 10)
		d.At = time.Unix(0, at).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters of %s: %w", q.name, ctxErr(ctx, err))
	}
	return out, nil
}

// ctxErr prefers the context's error when the context ended, so callers can
// test for context.Canceled whatever the driver reported ("interrupted").
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}
