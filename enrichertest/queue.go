package enrichertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
)

// TestQueue runs the enricher.Queue contract against the queues that newQueue
// returns: fresh and empty, hiding received messages for visibility, and
// giving up on a message (dead-lettering it) once it has been received
// maxReceives times.
//
// Stale receipts: a receipt from an earlier receive of a message that has
// been received again since must not acknowledge, hide or release the
// message. Ack and ChangeVisibility with such a receipt return nil or an
// error with code ENOTFOUND.
func TestQueue(t *testing.T, newQueue func(t *testing.T, visibility time.Duration, maxReceives int) enricher.Queue) {
	TestQueueWith(t, newQueue, QueueTraits{})
}

// QueueTraits relax the queue contract where a queue documents weaker
// guarantees. SQS standard queues do both: AWS says a delete with an old
// receipt "succeeds, but the message might not be deleted", and delivery is
// at least once, so a message may come twice even within its visibility
// timeout. The worker copes with both: its effects are idempotent.
type QueueTraits struct {
	// StaleReceiptsMayAct: Ack and ChangeVisibility with a stale receipt
	// may act on the message (they still return nil or ENOTFOUND).
	StaleReceiptsMayAct bool
	// MayDuplicate: concurrent receivers may get the same message twice.
	MayDuplicate bool
}

// TestQueueWith is TestQueue with the contract relaxed by traits.
func TestQueueWith(t *testing.T, newQueue func(t *testing.T, visibility time.Duration, maxReceives int) enricher.Queue, traits QueueTraits) {
	t.Run("SendReceiveAck", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, time.Second, 0)
		bodies := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}
		for _, b := range bodies {
			MustNoError(t, q.Send(ctx, []byte(b)), "send "+b)
		}
		got := MustReceiveN(t, q, len(bodies), 10*time.Second)
		if err := sameBodies(got, bodies); err != nil {
			t.Fatal(err)
		}
		ids, receipts := map[string]bool{}, map[string]bool{}
		for _, m := range got {
			if m.ID == "" || m.Receipt == "" {
				t.Errorf("message %q: got id %q and receipt %q, want both non-empty", m.Body, m.ID, m.Receipt)
			}
			if m.ReceiveCount != 1 {
				t.Errorf("message %q: got receive count %d, want 1", m.Body, m.ReceiveCount)
			}
			ids[m.ID], receipts[m.Receipt] = true, true
		}
		if len(ids) != len(got) || len(receipts) != len(got) {
			t.Errorf("got %d distinct ids and %d distinct receipts for %d messages, want all distinct", len(ids), len(receipts), len(got))
		}
		// Ack all but the last: only the last comes back once the
		// visibility timeout has passed.
		for _, m := range got[:len(got)-1] {
			MustNoError(t, q.Ack(ctx, m.Receipt), "ack "+string(m.Body))
		}
		last := got[len(got)-1]
		again := MustReceiveN(t, q, 1, 10*time.Second)
		if again[0].ID != last.ID || string(again[0].Body) != string(last.Body) {
			t.Fatalf("after acking all but %q: got %q (id %s) back, want %q (id %s)", last.Body, again[0].Body, again[0].ID, last.Body, last.ID)
		}
		MustNoError(t, q.Ack(ctx, again[0].Receipt), "ack last")
		MustReceiveNone(t, q, 2*time.Second)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, time.Second, 0)
		MustCode(t, q.Send(ctx, nil), enricher.EINVALID)
		MustCode(t, q.Send(ctx, []byte{}), enricher.EINVALID)
		_, err := q.Receive(ctx, 0, 0)
		MustCode(t, err, enricher.EINVALID)
		MustCode(t, q.Ack(ctx, ""), enricher.EINVALID)
		MustCode(t, q.ChangeVisibility(ctx, "", time.Second), enricher.EINVALID)

		MustNoError(t, q.Send(ctx, []byte("m")), "send")
		m := MustReceiveN(t, q, 1, 10*time.Second)[0]
		MustCode(t, q.ChangeVisibility(ctx, m.Receipt, -time.Second), enricher.EINVALID)
		MustCode(t, q.DeadLetter(ctx, m, ""), enricher.EINVALID)
		// None of the refused calls touched the message.
		MustNoError(t, q.Ack(ctx, m.Receipt), "ack after refused calls")
	})

	t.Run("VisibilityExpiry", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, time.Second, 0)
		MustNoError(t, q.Send(ctx, []byte("redeliver me")), "send")
		first := MustReceiveN(t, q, 1, 10*time.Second)[0]
		if first.ReceiveCount != 1 {
			t.Errorf("first receive: got receive count %d, want 1", first.ReceiveCount)
		}
		MustReceiveNone(t, q, 200*time.Millisecond) // hidden while in flight
		second := MustReceiveN(t, q, 1, 10*time.Second)[0]
		if second.ID != first.ID || string(second.Body) != "redeliver me" {
			t.Errorf("redelivery: got %q (id %s), want %q (id %s)", second.Body, second.ID, "redeliver me", first.ID)
		}
		if second.ReceiveCount != 2 {
			t.Errorf("redelivery: got receive count %d, want 2", second.ReceiveCount)
		}
		if second.Receipt == first.Receipt {
			t.Errorf("redelivery: got the same receipt %q, want a fresh one", second.Receipt)
		}
		MustNoError(t, q.Ack(ctx, second.Receipt), "ack redelivered")
	})

	t.Run("ChangeVisibility", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, time.Second, 0)
		MustNoError(t, q.Send(ctx, []byte("slow ticket")), "send")
		m := MustReceiveN(t, q, 1, 10*time.Second)[0]
		// Extend: without it the message would be back after one second.
		MustNoError(t, q.ChangeVisibility(ctx, m.Receipt, 6*time.Second), "extend")
		MustReceiveNone(t, q, 1800*time.Millisecond)
		// Release: back at once, long before the extension ends.
		MustNoError(t, q.ChangeVisibility(ctx, m.Receipt, 0), "release")
		again := MustReceiveN(t, q, 1, 2*time.Second)[0]
		if again.ID != m.ID || again.ReceiveCount != 2 {
			t.Errorf("after release: got id %s receive count %d, want id %s receive count 2", again.ID, again.ReceiveCount, m.ID)
		}
		MustNoError(t, q.Ack(ctx, again.Receipt), "ack")
	})

	t.Run("MaxReceives", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, 10*time.Second, 2)
		MustNoError(t, q.Send(ctx, []byte("poison")), "send poison")
		for i := 1; i <= 2; i++ {
			m := MustReceiveN(t, q, 1, 10*time.Second)[0]
			if string(m.Body) != "poison" || m.ReceiveCount != i {
				t.Fatalf("receive %d: got %q with receive count %d, want %q with %d", i, m.Body, m.ReceiveCount, "poison", i)
			}
			MustNoError(t, q.ChangeVisibility(ctx, m.Receipt, 0), fmt.Sprintf("release %d", i))
		}
		MustNoError(t, q.Send(ctx, []byte("healthy")), "send healthy")
		got := MustReceiveN(t, q, 1, 10*time.Second)
		if string(got[0].Body) != "healthy" {
			t.Fatalf("after two receives of the poison message: got %q (receive count %d), want %q", got[0].Body, got[0].ReceiveCount, "healthy")
		}
		MustNoError(t, q.Ack(ctx, got[0].Receipt), "ack healthy")
		MustReceiveNone(t, q, time.Second)
	})

	t.Run("DeadLetter", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, time.Second, 0)
		MustNoError(t, q.Send(ctx, []byte("not json")), "send")
		m := MustReceiveN(t, q, 1, 10*time.Second)[0]
		MustNoError(t, q.DeadLetter(ctx, m, "message is not JSON"), "dead-letter")
		// Gone for good: not back after the visibility timeout either.
		MustReceiveNone(t, q, 2500*time.Millisecond)
	})

	t.Run("ReceiveEmpty", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, time.Second, 0)
		MustReceiveNone(t, q, 0)
		MustReceiveNone(t, q, 300*time.Millisecond)
	})

	t.Run("ReceiveWakesOnSend", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, 10*time.Second, 0)
		type result struct {
			msgs []enricher.Message
			err  error
		}
		done := make(chan result, 1)
		go func() {
			msgs, err := q.Receive(ctx, 10, 10*time.Second)
			done <- result{msgs, err}
		}()
		time.Sleep(200 * time.Millisecond) // let the receive start waiting
		MustNoError(t, q.Send(ctx, []byte("late")), "send")
		r := <-done
		MustNoError(t, r.err, "receive")
		if len(r.msgs) != 1 || string(r.msgs[0].Body) != "late" {
			t.Fatalf("waiting receive: got %d messages %v, want the one sent while it waited", len(r.msgs), bodiesOf(r.msgs))
		}
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t, time.Second, 0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := q.Receive(ctx, 1, 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("receive with a canceled context: got error %v, want context.Canceled", err)
		}
		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		if _, err := q.Receive(ctx, 1, 10*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("receive canceled while waiting: got error %v, want context.Canceled", err)
		}
	})

	t.Run("StaleReceipt", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, 10*time.Second, 0)
		MustNoError(t, q.Send(ctx, []byte("twice")), "send")
		first := MustReceiveN(t, q, 1, 10*time.Second)[0]
		MustNoError(t, q.ChangeVisibility(ctx, first.Receipt, 0), "release")
		second := MustReceiveN(t, q, 1, 10*time.Second)[0]
		if second.ID != first.ID || second.Receipt == first.Receipt {
			t.Fatalf("second receive: got id %s receipt %q, want id %s with a new receipt", second.ID, second.Receipt, first.ID)
		}
		MustNilOrCode(t, q.Ack(ctx, first.Receipt), enricher.ENOTFOUND)
		MustNilOrCode(t, q.ChangeVisibility(ctx, first.Receipt, 0), enricher.ENOTFOUND)
		if traits.StaleReceiptsMayAct {
			return // the stale calls may have deleted or released the message
		}
		// The stale release did not hand the message back...
		MustReceiveNone(t, q, 500*time.Millisecond)
		// ...and the stale ack did not delete it: the current receipt still
		// works and the message comes back a third time.
		MustNoError(t, q.ChangeVisibility(ctx, second.Receipt, 0), "release with the current receipt")
		third := MustReceiveN(t, q, 1, 10*time.Second)[0]
		if third.ID != first.ID || third.ReceiveCount != 3 {
			t.Errorf("third receive: got id %s receive count %d, want id %s receive count 3", third.ID, third.ReceiveCount, first.ID)
		}
		MustNoError(t, q.Ack(ctx, third.Receipt), "ack")
	})

	t.Run("MaxMessages", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, 10*time.Second, 0)
		for i := range 5 {
			MustNoError(t, q.Send(ctx, fmt.Appendf(nil, "m%d", i)), "send")
		}
		got, err := q.Receive(ctx, 2, 5*time.Second)
		MustNoError(t, err, "receive")
		if len(got) < 1 || len(got) > 2 {
			t.Fatalf("receive max 2 of 5: got %d messages, want 1 or 2", len(got))
		}
		rest := MustReceiveN(t, q, 5-len(got), 10*time.Second)
		if err := sameBodies(append(got, rest...), []string{"m0", "m1", "m2", "m3", "m4"}); err != nil {
			t.Error(err)
		}
	})

	t.Run("ConcurrentReceivers", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		q := newQueue(t, 30*time.Second, 0)
		const n, workers = 40, 4
		var sends sync.WaitGroup
		for w := range workers {
			sends.Go(func() {
				for i := w; i < n; i += workers {
					if err := q.Send(ctx, fmt.Appendf(nil, "c%02d", i)); err != nil {
						t.Errorf("send c%02d: %v", i, err)
					}
				}
			})
		}
		sends.Wait()

		var (
			mu   sync.Mutex
			seen = map[string]string{} // id -> body
			dups []string
			wg   sync.WaitGroup
		)
		deadline := time.Now().Add(15 * time.Second)
		for range workers {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					mu.Lock()
					finished := len(seen) >= n
					mu.Unlock()
					if finished {
						return
					}
					msgs, err := q.Receive(ctx, 3, 500*time.Millisecond)
					if err != nil {
						t.Errorf("receive: %v", err)
						return
					}
					for _, m := range msgs {
						mu.Lock()
						if _, ok := seen[m.ID]; ok {
							dups = append(dups, string(m.Body))
						}
						seen[m.ID] = string(m.Body)
						mu.Unlock()
						if err := q.Ack(ctx, m.Receipt); err != nil {
							t.Errorf("ack %s: %v", m.Body, err)
						}
					}
				}
			})
		}
		wg.Wait()
		if len(dups) > 0 && !traits.MayDuplicate {
			t.Errorf("got messages delivered twice within their visibility timeout: %v, want none", dups)
		}
		var bodies []enricher.Message
		for id, b := range seen {
			bodies = append(bodies, enricher.Message{ID: id, Body: []byte(b)})
		}
		want := make([]string, n)
		for i := range want {
			want[i] = fmt.Sprintf("c%02d", i)
		}
		if err := sameBodies(bodies, want); err != nil {
			t.Error(err)
		}
	})
}

// MustReceiveN receives until it has n messages, failing the test if more
// arrive in one call than asked for, or if timeout passes first. Queues may
// return fewer messages than available (SQS does), hence the loop.
func MustReceiveN(tb testing.TB, q enricher.Queue, n int, timeout time.Duration) []enricher.Message {
	tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var got []enricher.Message
	for len(got) < n {
		left := time.Until(deadline)
		if left <= 0 {
			tb.Fatalf("got %d messages %v within %v, want %d", len(got), bodiesOf(got), timeout, n)
		}
		msgs, err := q.Receive(ctx, n-len(got), min(left, time.Second))
		if err != nil {
			tb.Fatalf("receive: got error %v, want none", err)
		}
		if len(msgs) > n-len(got) {
			tb.Fatalf("receive max %d: got %d messages %v", n-len(got), len(msgs), bodiesOf(msgs))
		}
		got = append(got, msgs...)
	}
	return got
}

// MustReceiveNone fails the test if a receive waiting up to wait returns a
// message or an error.
func MustReceiveNone(tb testing.TB, q enricher.Queue, wait time.Duration) {
	tb.Helper()
	msgs, err := q.Receive(context.Background(), 10, wait)
	if err != nil {
		tb.Fatalf("receive: got error %v, want none", err)
	}
	if len(msgs) != 0 {
		tb.Fatalf("receive: got %d messages %v (receive counts %v), want none", len(msgs), bodiesOf(msgs), countsOf(msgs))
	}
}

// MustNilOrCode fails the test unless err is nil or an *enricher.Error with
// the given code.
func MustNilOrCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if err != nil {
		MustCode(tb, err, code)
	}
}

// sameBodies reports whether msgs hold exactly the bodies in want, in any
// order, each once.
func sameBodies(msgs []enricher.Message, want []string) error {
	left := map[string]int{}
	for _, b := range want {
		left[b]++
	}
	for _, m := range msgs {
		left[string(m.Body)]--
	}
	for _, n := range left {
		if n != 0 {
			return fmt.Errorf("got bodies %v, want each of %v exactly once", bodiesOf(msgs), want)
		}
	}
	return nil
}

func bodiesOf(msgs []enricher.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func countsOf(msgs []enricher.Message) []int {
	out := make([]int, len(msgs))
	for i, m := range msgs {
		out[i] = m.ReceiveCount
	}
	return out
}
