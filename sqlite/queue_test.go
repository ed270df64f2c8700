package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// MustReceiveOne receives without waiting and fails unless exactly one
// message comes back.
func MustReceiveOne(tb testing.TB, q *Queue) enricher.Message {
	tb.Helper()
	msgs, err := q.Receive(context.Background(), 10, 0)
	if err != nil {
		tb.Fatalf("receive: got error %v, want none", err)
	}
	if len(msgs) != 1 {
		tb.Fatalf("receive: got %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

// MustStats returns the queue's stats, failing the test on error.
func MustStats(tb testing.TB, q *Queue) QueueStats {
	tb.Helper()
	st, err := q.Stats(context.Background())
	if err != nil {
		tb.Fatalf("stats: got error %v, want none", err)
	}
	return st
}

func TestNewQueue(t *testing.T) {
	db := MustOpen(t)
	tests := []struct {
		name     string
		queue    string
		opts     QueueOptions
		wantCode string
	}{
		{"defaults", "ticket-processing", QueueOptions{}, ""},
		{"all options", "ticket_processing-dlq", QueueOptions{VisibilityTimeout: time.Minute, MaxReceiveCount: 5, Now: time.Now}, ""},
		{"longest name", strings.Repeat("q", 80), QueueOptions{}, ""},
		{"max visibility", "q", QueueOptions{VisibilityTimeout: MaxVisibilityTimeout}, ""},
		{"empty name", "", QueueOptions{}, enricher.EINVALID},
		{"name too long", strings.Repeat("q", 81), QueueOptions{}, enricher.EINVALID},
		{"name with a dot", "a.b", QueueOptions{}, enricher.EINVALID},
		{"negative visibility", "q", QueueOptions{VisibilityTimeout: -time.Second}, enricher.EINVALID},
		{"visibility too long", "q", QueueOptions{VisibilityTimeout: MaxVisibilityTimeout + time.Second}, enricher.EINVALID},
		{"negative max receives", "q", QueueOptions{MaxReceiveCount: -1}, enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := NewQueue(db, tt.queue, tt.opts)
			if tt.wantCode != "" {
				enrichertest.MustCode(t, err, tt.wantCode)
				return
			}
			enrichertest.MustNoError(t, err, "new queue")
			if q.Name() != tt.queue {
				t.Errorf("name: got %q, want %q", q.Name(), tt.queue)
			}
		})
	}
	t.Run("default visibility", func(t *testing.T) {
		q := MustQueue(t, db, "defaults", QueueOptions{})
		if q.visibility != DefaultVisibilityTimeout {
			t.Errorf("visibility: got %v, want %v", q.visibility, DefaultVisibilityTimeout)
		}
	})
	t.Run("nil database", func(t *testing.T) {
		_, err := NewQueue(nil, "q", QueueOptions{})
		enrichertest.MustCode(t, err, enricher.EINVALID)
	})
}

func TestQueue_Send(t *testing.T) {
	q := MustQueue(t, MustOpen(t), "q", QueueOptions{})
	ctx := context.Background()
	tests := []struct {
		name     string
		size     int
		wantCode string
	}{
		{"one byte", 1, ""},
		{"largest", MaxBodySize, ""},
		{"too large", MaxBodySize + 1, enricher.ETOOLARGE},
		{"empty", 0, enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := q.Send(ctx, []byte(strings.Repeat("x", tt.size)))
			if tt.wantCode != "" {
				enrichertest.MustCode(t, err, tt.wantCode)
				return
			}
			enrichertest.MustNoError(t, err, "send")
			m := MustReceiveOne(t, q)
			if len(m.Body) != tt.size {
				t.Errorf("received body: got %d bytes, want %d", len(m.Body), tt.size)
			}
			enrichertest.MustNoError(t, q.Ack(ctx, m.Receipt), "ack")
		})
	}
}

func TestQueue_Receive(t *testing.T) {
	ctx := context.Background()
	t.Run("visibility timeout on the injected clock", func(t *testing.T) {
		clock := newFakeClock()
		q := MustQueue(t, MustOpen(t), "q", QueueOptions{VisibilityTimeout: 30 * time.Second, Now: clock.Now})
		enrichertest.MustNoError(t, q.Send(ctx, []byte("a")), "send")
		first := MustReceiveOne(t, q)
		clock.Advance(30*time.Second - time.Nanosecond)
		enrichertest.MustReceiveNone(t, q, 0)
		clock.Advance(time.Nanosecond)
		second := MustReceiveOne(t, q)
		if second.ID != first.ID || second.ReceiveCount != 2 {
			t.Errorf("after the timeout: got id %s receive count %d, want id %s receive count 2", second.ID, second.ReceiveCount, first.ID)
		}
	})
	t.Run("oldest first", func(t *testing.T) {
		clock := newFakeClock()
		q := MustQueue(t, MustOpen(t), "q", QueueOptions{Now: clock.Now})
		for i := range 5 {
			enrichertest.MustNoError(t, q.Send(ctx, fmt.Appendf(nil, "m%d", i)), "send")
			clock.Advance(time.Millisecond)
		}
		msgs, err := q.Receive(ctx, 3, 0)
		enrichertest.MustNoError(t, err, "receive")
		if got := bodies(msgs); got != "m0 m1 m2" {
			t.Errorf("receive 3 of 5: got %s, want m0 m1 m2", got)
		}
	})
	t.Run("waiting receive sees a timeout expire", func(t *testing.T) {
		// No Send wakes it: the poll must notice the clock moving.
		clock := newFakeClock()
		q := MustQueue(t, MustOpen(t), "q", QueueOptions{VisibilityTimeout: time.Minute, Now: clock.Now})
		enrichertest.MustNoError(t, q.Send(ctx, []byte("a")), "send")
		MustReceiveOne(t, q)
		time.AfterFunc(100*time.Millisecond, func() { clock.Advance(time.Minute) })
		msgs, err := q.Receive(ctx, 1, 10*time.Second)
		enrichertest.MustNoError(t, err, "receive")
		if len(msgs) != 1 || msgs[0].ReceiveCount != 2 {
			t.Errorf("waiting receive: got %d messages (counts %v), want the expired one with receive count 2", len(msgs), counts(msgs))
		}
	})
	t.Run("wakes on ChangeVisibility to zero", func(t *testing.T) {
		q := MustQueue(t, MustOpen(t), "q", QueueOptions{VisibilityTimeout: time.Hour})
		enrichertest.MustNoError(t, q.Send(ctx, []byte("a")), "send")
		m := MustReceiveOne(t, q)
		time.AfterFunc(100*time.Millisecond, func() {
			if err := q.ChangeVisibility(ctx, m.Receipt, 0); err != nil {
				t.Errorf("release: %v", err)
			}
		})
		msgs, err := q.Receive(ctx, 1, 10*time.Second)
		enrichertest.MustNoError(t, err, "receive")
		if len(msgs) != 1 {
			t.Errorf("waiting receive: got %d messages, want the released one", len(msgs))
		}
	})
	t.Run("context canceled is reported as such", func(t *testing.T) {
		q := MustQueue(t, MustOpen(t), "q", QueueOptions{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := q.Receive(cctx, 1, time.Second)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("receive: got %v, want context.Canceled", err)
		}
	})
}

func TestQueue_MaxReceiveCount(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	q := MustQueue(t, MustOpen(t), "q", QueueOptions{VisibilityTimeout: 10 * time.Second, MaxReceiveCount: 3, Now: clock.Now})
	enrichertest.MustNoError(t, q.Send(ctx, []byte("poison")), "send poison")
	var id string
	for i := 1; i <= 3; i++ {
		m := MustReceiveOne(t, q)
		if m.ReceiveCount != i {
			t.Fatalf("receive %d: got receive count %d, want %d", i, m.ReceiveCount, i)
		}
		id = m.ID
		clock.Advance(10 * time.Second)
	}
	enrichertest.MustNoError(t, q.Send(ctx, []byte("fine")), "send fine")
	msgs, err := q.Receive(ctx, 10, 0)
	enrichertest.MustNoError(t, err, "receive after the last attempt")
	if got := bodies(msgs); got != "fine" {
		t.Errorf("receive after the last attempt: got %q, want only %q", got, "fine")
	}
	if st := MustStats(t, q); st.DeadLetters != 1 || st.Visible != 0 || st.InFlight != 1 {
		t.Errorf("stats: got %+v, want 1 dead letter, 0 visible, 1 in flight", st)
	}
	dls, err := q.DeadLetters(ctx, 0)
	enrichertest.MustNoError(t, err, "dead letters")
	want := DeadLetter{
		ID:           id,
		Body:         []byte("poison"),
		Reason:       "received 3 times without being acknowledged (max receive count 3)",
		ReceiveCount: 3,
		At:           clock.Now(),
	}
	if len(dls) != 1 || !equalDeadLetter(dls[0], want) {
		t.Errorf("dead letters:\n got %+v\nwant [%+v]", dls, want)
	}
}

func TestQueue_DeadLetter(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	q := MustQueue(t, MustOpen(t), "q", QueueOptions{Now: clock.Now})
	for _, b := range []string{"first", "second"} {
		enrichertest.MustNoError(t, q.Send(ctx, []byte(b)), "send")
	}
	msgs, err := q.Receive(ctx, 2, 0)
	enrichertest.MustNoError(t, err, "receive")
	enrichertest.MustNoError(t, q.DeadLetter(ctx, msgs[0], "not an S3 event"), "dead-letter first")
	clock.Advance(time.Minute)
	enrichertest.MustNoError(t, q.DeadLetter(ctx, msgs[1], "unknown bucket"), "dead-letter second")

	// The receipt is spent: a second dead-lettering or an ack finds nothing.
	enrichertest.MustCode(t, q.DeadLetter(ctx, msgs[0], "again"), enricher.ENOTFOUND)
	enrichertest.MustCode(t, q.Ack(ctx, msgs[0].Receipt), enricher.ENOTFOUND)

	dls, err := q.DeadLetters(ctx, 0)
	enrichertest.MustNoError(t, err, "dead letters")
	want := []DeadLetter{ // most recent first
		{ID: msgs[1].ID, Body: []byte("second"), Reason: "unknown bucket", ReceiveCount: 1, At: clock.Now()},
		{ID: msgs[0].ID, Body: []byte("first"), Reason: "not an S3 event", ReceiveCount: 1, At: clock.Now().Add(-time.Minute)},
	}
	if len(dls) != len(want) {
		t.Fatalf("dead letters: got %d, want %d", len(dls), len(want))
	}
	for i := range want {
		if !equalDeadLetter(dls[i], want[i]) {
			t.Errorf("dead letter %d:\n got %+v\nwant %+v", i, dls[i], want[i])
		}
	}
	t.Run("limits", func(t *testing.T) {
		for _, tt := range []struct {
			limit, want int
		}{{1, 1}, {2, 2}, {0, 2}, {enricher.MaxListLimit + 1, 2}} {
			got, err := q.DeadLetters(ctx, tt.limit)
			enrichertest.MustNoError(t, err, "dead letters")
			if len(got) != tt.want {
				t.Errorf("limit %d: got %d dead letters, want %d", tt.limit, len(got), tt.want)
			}
		}
		_, err := q.DeadLetters(ctx, -1)
		enrichertest.MustCode(t, err, enricher.EINVALID)
	})
}

func TestQueue_Receipts(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	q := MustQueue(t, db, "q", QueueOptions{})
	other := MustQueue(t, db, "other", QueueOptions{})
	enrichertest.MustNoError(t, q.Send(ctx, []byte("a")), "send")
	first := MustReceiveOne(t, q)
	enrichertest.MustNoError(t, q.ChangeVisibility(ctx, first.Receipt, 0), "release")
	current := MustReceiveOne(t, q)

	id, _, _ := strings.Cut(current.Receipt, ".")
	tests := []struct {
		name     string
		receipt  string
		wantCode string
	}{
		{"stale", first.Receipt, enricher.ENOTFOUND},
		{"forged token", id + "." + strings.Repeat("0", 24), enricher.ENOTFOUND},
		{"unknown message", "999999." + strings.Repeat("a", 24), enricher.ENOTFOUND},
		{"empty", "", enricher.EINVALID},
		{"no token", id, enricher.EINVALID},
		{"short token", id + ".abc", enricher.EINVALID},
		{"token not hex", id + "." + strings.Repeat("z", 24), enricher.EINVALID},
		{"id not a number", "x." + strings.Repeat("a", 24), enricher.EINVALID},
		{"negative id", "-1." + strings.Repeat("a", 24), enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enrichertest.MustCode(t, q.Ack(ctx, tt.receipt), tt.wantCode)
			enrichertest.MustCode(t, q.ChangeVisibility(ctx, tt.receipt, 0), tt.wantCode)
			enrichertest.MustCode(t, q.DeadLetter(ctx, enricher.Message{Receipt: tt.receipt}, "r"), tt.wantCode)
		})
	}
	t.Run("another queue's receipt", func(t *testing.T) {
		enrichertest.MustCode(t, other.Ack(ctx, current.Receipt), enricher.ENOTFOUND)
		enrichertest.MustCode(t, other.ChangeVisibility(ctx, current.Receipt, 0), enricher.ENOTFOUND)
	})
	// None of the above touched the message: the current receipt acks it,
	// once.
	enrichertest.MustNoError(t, q.Ack(ctx, current.Receipt), "ack with the current receipt")
	enrichertest.MustCode(t, q.Ack(ctx, current.Receipt), enricher.ENOTFOUND)
}

func TestQueue_ChangeVisibility(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	q := MustQueue(t, MustOpen(t), "q", QueueOptions{VisibilityTimeout: 10 * time.Second, Now: clock.Now})
	enrichertest.MustNoError(t, q.Send(ctx, []byte("a")), "send")
	m := MustReceiveOne(t, q)
	clock.Advance(5 * time.Second)
	enrichertest.MustNoError(t, q.ChangeVisibility(ctx, m.Receipt, time.Minute), "extend")
	clock.Advance(time.Minute - time.Nanosecond)
	enrichertest.MustReceiveNone(t, q, 0)
	clock.Advance(time.Nanosecond)
	m = MustReceiveOne(t, q)
	if m.ReceiveCount != 2 {
		t.Errorf("after the extension: got receive count %d, want 2", m.ReceiveCount)
	}
	enrichertest.MustCode(t, q.ChangeVisibility(ctx, m.Receipt, MaxVisibilityTimeout+time.Second), enricher.EINVALID)
	enrichertest.MustNoError(t, q.ChangeVisibility(ctx, m.Receipt, MaxVisibilityTimeout), "longest extension")
}

func TestQueue_Stats(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	db := MustOpen(t)
	q := MustQueue(t, db, "q", QueueOptions{VisibilityTimeout: time.Minute, Now: clock.Now})
	other := MustQueue(t, db, "other", QueueOptions{Now: clock.Now})
	enrichertest.MustNoError(t, other.Send(ctx, []byte("elsewhere")), "send to other")

	if got := MustStats(t, q); got != (QueueStats{}) {
		t.Errorf("empty queue: got %+v, want zero", got)
	}
	for i := range 3 {
		enrichertest.MustNoError(t, q.Send(ctx, fmt.Appendf(nil, "m%d", i)), "send")
		clock.Advance(10 * time.Second)
	}
	m := MustReceiveOneOf(t, q) // m0, sent 30 s ago
	if got, want := MustStats(t, q), (QueueStats{Visible: 2, InFlight: 1, OldestVisibleAge: 20 * time.Second}); got != want {
		t.Errorf("after one receive: got %+v, want %+v", got, want)
	}
	enrichertest.MustNoError(t, q.DeadLetter(ctx, m, "bad"), "dead-letter")
	clock.Advance(5 * time.Second)
	if got, want := MustStats(t, q), (QueueStats{Visible: 2, DeadLetters: 1, OldestVisibleAge: 25 * time.Second}); got != want {
		t.Errorf("after dead-lettering: got %+v, want %+v", got, want)
	}
}

// MustReceiveOneOf receives exactly one message, asking for one.
func MustReceiveOneOf(tb testing.TB, q *Queue) enricher.Message {
	tb.Helper()
	msgs, err := q.Receive(context.Background(), 1, 0)
	if err != nil || len(msgs) != 1 {
		tb.Fatalf("receive 1: got %d messages and error %v, want 1 and none", len(msgs), err)
	}
	return msgs[0]
}

func equalDeadLetter(a, b DeadLetter) bool {
	return a.ID == b.ID && string(a.Body) == string(b.Body) && a.Reason == b.Reason &&
		a.ReceiveCount == b.ReceiveCount && a.At.Equal(b.At)
}

func bodies(msgs []enricher.Message) string {
	s := make([]string, len(msgs))
	for i, m := range msgs {
		s[i] = string(m.Body)
	}
	return strings.Join(s, " ")
}

func counts(msgs []enricher.Message) []int {
	c := make([]int, len(msgs))
	for i, m := range msgs {
		c[i] = m.ReceiveCount
	}
	return c
}
