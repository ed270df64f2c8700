package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ticket-enricher/enricher"
)

// recorder keeps the effects of the fakes in the order they happened, so
// that tests can check "object, then item, then ack".
type recorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, fmt.Sprintf(format, args...))
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ops...)
}

// errTransient stands for a backend that is down for a moment.
var errTransient = errors.New("connection reset by peer")

// fakeStore is an in-memory ObjectStore. The first failPuts puts fail
// (forever when negative).
type fakeStore struct {
	name     string
	rec      *recorder
	mu       sync.Mutex
	objects  map[string][]byte
	failPuts int
	failGets int
}

var _ enricher.ObjectStore = (*fakeStore)(nil)

func newFakeStore(name string, rec *recorder) *fakeStore {
	return &fakeStore{name: name, rec: rec, objects: map[string][]byte{}}
}

func (s *fakeStore) PutObject(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPuts != 0 {
		s.failPuts--
		s.rec.add("%s.put %s error", s.name, key)
		return errTransient
	}
	s.objects[key] = append([]byte(nil), data...)
	s.rec.add("%s.put %s", s.name, key)
	return nil
}

func (s *fakeStore) GetObject(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failGets != 0 {
		s.failGets--
		return nil, errTransient
	}
	data, ok := s.objects[key]
	if !ok {
		return nil, enricher.Errorf(enricher.ENOTFOUND, "object %q not found", key)
	}
	return append([]byte(nil), data...), nil
}

func (s *fakeStore) get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[key]
	return data, ok
}

// fakeTable is an in-memory Table with the contract's "newer result wins"
// rule. The first failPuts puts fail (forever when negative).
type fakeTable struct {
	rec      *recorder
	mu       sync.Mutex
	items    map[string]enricher.Item
	failPuts int
}

var _ enricher.Table = (*fakeTable)(nil)

func newFakeTable(rec *recorder) *fakeTable {
	return &fakeTable{rec: rec, items: map[string]enricher.Item{}}
}

func describeItem(it enricher.Item) string {
	if it.Failure != nil {
		return fmt.Sprintf("%s %s %s", it.TicketID, it.Status, it.Failure.Code)
	}
	return fmt.Sprintf("%s %s", it.TicketID, it.Status)
}

func (tb *fakeTable) PutItem(ctx context.Context, it enricher.Item) error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.failPuts != 0 {
		tb.failPuts--
		tb.rec.add("table.put %s error", describeItem(it))
		return errTransient
	}
	if old, ok := tb.items[it.TicketID]; ok && old.ProcessedAt > it.ProcessedAt {
		tb.rec.add("table.put %s conflict", describeItem(it))
		return enricher.Errorf(enricher.ECONFLICT, "ticket %s has a newer item", it.TicketID)
	}
	tb.items[it.TicketID] = it
	tb.rec.add("table.put %s", describeItem(it))
	return nil
}

func (tb *fakeTable) GetItem(ctx context.Context, id string) (enricher.Item, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	it, ok := tb.items[id]
	if !ok {
		return enricher.Item{}, enricher.Errorf(enricher.ENOTFOUND, "ticket %s not found", id)
	}
	return it, nil
}

func (tb *fakeTable) ListItems(ctx context.Context, f enricher.ListFilter) (enricher.ItemPage, error) {
	return enricher.ItemPage{}, errors.New("ListItems is not used by the pipeline")
}

// fakeQueue is an in-memory Queue with SQS semantics on the real clock: a
// received message is hidden for the visibility timeout, each receive makes
// a new receipt "<id>#<count>", and stale receipts are refused.
type fakeQueue struct {
	rec        *recorder
	visibility time.Duration

	mu       sync.Mutex
	msgs     []*queued
	sent     int
	calls    int
	dead     map[string]string // message id -> reason
	receives []receiveCall

	// Hooks, called without the lock held.
	beforeReceive func(call, max int) error
	onAck         func(receipt string)
	onVisibility  func(receipt string, d time.Duration)
	onDeadLetter  func(id, reason string)
}

type queued struct {
	msg       enricher.Message
	visibleAt time.Time
	gone      bool
}

type receiveCall struct{ max, got int }

var _ enricher.Queue = (*fakeQueue)(nil)

func newFakeQueue(rec *recorder) *fakeQueue {
	return &fakeQueue{rec: rec, visibility: time.Minute, dead: map[string]string{}}
}

func (q *fakeQueue) Send(ctx context.Context, body []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent++
	id := fmt.Sprintf("m%d", q.sent)
	q.msgs = append(q.msgs, &queued{msg: enricher.Message{ID: id, Body: append([]byte(nil), body...)}})
	return nil
}

func (q *fakeQueue) Receive(ctx context.Context, max int, wait time.Duration) ([]enricher.Message, error) {
	q.mu.Lock()
	q.calls++
	call := q.calls
	hook := q.beforeReceive
	q.mu.Unlock()
	if hook != nil {
		if err := hook(call, max); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(wait)
	for {
		if got := q.take(max); len(got) > 0 {
			return got, nil
		}
		if !time.Now().Before(deadline) {
			q.noteReceive(max, 0)
			return nil, nil
		}
		select {
		case <-ctx.Done():
			q.noteReceive(max, 0)
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (q *fakeQueue) take(max int) []enricher.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	var got []enricher.Message
	for _, m := range q.msgs {
		if len(got) == max {
			break
		}
		if m.gone || now.Before(m.visibleAt) {
			continue
		}
		m.msg.ReceiveCount++
		m.msg.Receipt = fmt.Sprintf("%s#%d", m.msg.ID, m.msg.ReceiveCount)
		m.visibleAt = now.Add(q.visibility)
		got = append(got, m.msg)
	}
	if len(got) > 0 {
		q.receives = append(q.receives, receiveCall{max: max, got: len(got)})
	}
	return got
}

func (q *fakeQueue) noteReceive(max, got int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.receives = append(q.receives, receiveCall{max: max, got: got})
}

// find returns the message holding receipt, or an error for stale receipts.
// The lock must be held.
func (q *fakeQueue) find(receipt string) (*queued, error) {
	for _, m := range q.msgs {
		if m.msg.Receipt == receipt && !m.gone {
			return m, nil
		}
	}
	return nil, enricher.Errorf(enricher.ENOTFOUND, "receipt %q is not in flight", receipt)
}

func (q *fakeQueue) Ack(ctx context.Context, receipt string) error {
	q.mu.Lock()
	m, err := q.find(receipt)
	if err == nil {
		m.gone = true
		q.rec.add("queue.ack %s", receipt)
	}
	hook := q.onAck
	q.mu.Unlock()
	if err == nil && hook != nil {
		hook(receipt)
	}
	return err
}

func (q *fakeQueue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	q.mu.Lock()
	m, err := q.find(receipt)
	if err == nil {
		m.visibleAt = time.Now().Add(d)
		q.rec.add("queue.visibility %s %v", receipt, d)
	}
	hook := q.onVisibility
	q.mu.Unlock()
	if err == nil && hook != nil {
		hook(receipt, d)
	}
	return err
}

func (q *fakeQueue) DeadLetter(ctx context.Context, msg enricher.Message, reason string) error {
	q.mu.Lock()
	m, err := q.find(msg.Receipt)
	if err == nil {
		m.gone = true
		q.dead[msg.ID] = reason
		q.rec.add("queue.deadletter %s", msg.Receipt)
	}
	hook := q.onDeadLetter
	q.mu.Unlock()
	if err == nil && hook != nil {
		hook(msg.ID, reason)
	}
	return err
}

// state returns each message's receive count and whether it is gone.
func (q *fakeQueue) state() map[string]string {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := map[string]string{}
	for _, m := range q.msgs {
		s[m.msg.ID] = fmt.Sprintf("received %d, gone %v", m.msg.ReceiveCount, m.gone)
	}
	return s
}

func (q *fakeQueue) deadReason(id string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dead[id]
}

// fakeClassifier stands in for classify.Classifier: intent from the subject,
// urgency from the ticket's priority.
type fakeClassifier struct{ err error }

func (c fakeClassifier) Classify(ctx context.Context, t enricher.Ticket) (enricher.Classification, error) {
	if c.err != nil {
		return enricher.Classification{}, c.err
	}
	intent := "general_inquiry"
	if strings.Contains(strings.ToLower(t.Subject), "log in") {
		intent = "login_issue"
	}
	urgency := t.Priority
	if urgency == "" {
		urgency = enricher.Medium
	}
	return enricher.Classification{
		Intent: intent, IntentConfidence: 0.9, IntentEvidence: []string{"log in"},
		Urgency: urgency, UrgencyConfidence: 0.8, UrgencyEvidence: []string{"priority: " + t.PriorityRaw},
	}, nil
}

// enricherFunc adapts a function to the Worker's Enricher field.
type enricherFunc func(ctx context.Context, t enricher.Ticket) (enricher.Record, error)

func (f enricherFunc) Enrich(ctx context.Context, t enricher.Ticket) (enricher.Record, error) {
	return f(ctx, t)
}

// stepClock returns a clock that starts at start and advances by step at
// every reading, so that durations measured with it are exact.
func stepClock(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := now
		now = now.Add(step)
		return t
	}
}

// rawTicket returns a valid raw ticket. Its body text must never reach the
// logs at info level.
func rawTicket(id string) []byte {
	return fmt.Appendf(nil, `{"ticket_id":%q,"subject":"Cannot log in","body":"%s","priority":"P1","created_at":1769851800,"customer_id":"C-42","channel":"email"}`,
		id, secretBody)
}

const secretBody = "my password is hunter2 and the reset link is broken"
