package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/awstest"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// emulator is one moto server with a client and unique queue names, shared
// by the subtests of one top-level test.
type emulator struct {
	srv    *awstest.Server
	cfg    aws.Config
	client *awssqs.Client
	seq    atomic.Int64
}

func startEmulator(t *testing.T) *emulator {
	t.Helper()
	srv := awstest.Start(t)
	cfg := srv.Config(t)
	return &emulator{srv: srv, cfg: cfg, client: awssqs.NewFromConfig(cfg)}
}

// names returns a fresh queue name and dead-letter queue name.
func (e *emulator) names(prefix string) (string, string) {
	n := fmt.Sprintf("%s-%d", prefix, e.seq.Add(1))
	return n, n + "-dlq"
}

// MustCreate creates a queue with raw SQS calls (not EnsureQueues, which has
// its own tests), failing the test on error, and returns its URL.
func (e *emulator) MustCreate(tb testing.TB, name string, attrs map[string]string) string {
	tb.Helper()
	out, err := e.client.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		tb.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

// MustARN returns the ARN of the queue at url.
func (e *emulator) MustARN(tb testing.TB, url string) string {
	tb.Helper()
	out, err := e.client.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		tb.Fatalf("read ARN of %s: %v", url, err)
	}
	return out.Attributes["QueueArn"]
}

// MustNew opens a Queue, failing the test on error.
func (e *emulator) MustNew(tb testing.TB, name string, opts Options) *Queue {
	tb.Helper()
	q, err := New(context.Background(), e.cfg, name, opts)
	if err != nil {
		tb.Fatalf("New(%s): got error %v, want none\n%s", name, err, e.srv.Logs())
	}
	return q
}

// MustQueuePair creates a queue and its dead-letter queue. With maxReceives
// > 0 the queue gets a redrive policy and the Queue finds its dead-letter
// queue there; otherwise it is named in Options.
func (e *emulator) MustQueuePair(tb testing.TB, prefix string, visibility time.Duration, maxReceives int) *Queue {
	tb.Helper()
	name, dlq := e.names(prefix)
	dlqURL := e.MustCreate(tb, dlq, nil)
	attrs := map[string]string{"VisibilityTimeout": strconv.FormatInt(ceilSeconds(visibility), 10)}
	if maxReceives == 0 {
		e.MustCreate(tb, name, attrs)
		return e.MustNew(tb, name, Options{DeadLetterQueue: dlq})
	}
	attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, e.MustARN(tb, dlqURL), maxReceives)
	e.MustCreate(tb, name, attrs)
	q := e.MustNew(tb, name, Options{})
	if q.DeadLetterQueue() != dlq {
		tb.Fatalf("New(%s) with a redrive policy: got dead-letter queue %q, want %q", name, q.DeadLetterQueue(), dlq)
	}
	return q
}

// MustReceiveDeadLetters receives n messages from the dead-letter queue of q
// with all their attributes.
func (e *emulator) MustReceiveDeadLetters(tb testing.TB, q *Queue, n int) []types.Message {
	tb.Helper()
	var got []types.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		out, err := e.client.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.dlqURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}, VisibilityTimeout: 30,
		})
		if err != nil {
			tb.Fatalf("receive dead letters: %v", err)
		}
		got = append(got, out.Messages...)
	}
	if len(got) != n {
		tb.Fatalf("dead-letter queue %s: got %d messages, want %d", q.dlqName, len(got), n)
	}
	return got
}

// TestQueue_Contract runs the enricher.Queue contract against moto 5.2.5,
// with the two relaxations SQS documents (enrichertest.QueueTraits):
//   - stale receipts may act: moto keeps every receipt a message ever had,
//     so DeleteMessage and ChangeMessageVisibility with a stale receipt
//     delete or release the message; AWS documents that a stale
//     DeleteMessage succeeds and "might not" delete;
//   - duplicates: moto's ReceiveMessage scans and marks messages without a
//     lock while its server is threaded, so two concurrent long polls can
//     both get the same message; SQS standard queues deliver at least once.
func TestQueue_Contract(t *testing.T) {
	e := startEmulator(t)
	// SQS documents both relaxations (see enrichertest.QueueTraits), and
	// moto exhibits them: it honours every receipt a message ever had, and
	// its threaded server can hand one message to two concurrent receives.
	traits := enrichertest.QueueTraits{StaleReceiptsMayAct: true, MayDuplicate: true}
	enrichertest.TestQueueWith(t, func(t *testing.T, visibility time.Duration, maxReceives int) enricher.Queue {
		return e.MustQueuePair(t, "contract", visibility, maxReceives)
	}, traits)
}

func TestNew(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()
	plain, _ := e.names("plain")
	e.MustCreate(t, plain, nil)
	withDLQ, dlq := e.names("redriven")
	dlqURL := e.MustCreate(t, dlq, map[string]string{"MaximumMessageSize": "2048"})
	e.MustCreate(t, withDLQ, map[string]string{
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":3}`, e.MustARN(t, dlqURL)),
	})
	other, _ := e.names("other-dlq")
	e.MustCreate(t, other, nil)

	tests := []struct {
		name     string
		queue    string
		opts     Options
		wantCode string
		wantMsg  []string // substrings of the error
		wantDLQ  string
	}{
		{name: "no dead-letter queue", queue: plain},
		{name: "dead-letter queue from the redrive policy", queue: withDLQ, wantDLQ: dlq},
		{name: "dead-letter queue from options", queue: plain, opts: Options{DeadLetterQueue: other}, wantDLQ: other},
		{name: "options win over the redrive policy", queue: withDLQ, opts: Options{DeadLetterQueue: other}, wantDLQ: other},
		{name: "missing queue", queue: "no-such-queue", wantCode: enricher.ENOTFOUND, wantMsg: []string{"no-such-queue", "enricher setup"}},
		{name: "missing dead-letter queue", queue: plain, opts: Options{DeadLetterQueue: "no-such-dlq"}, wantCode: enricher.ENOTFOUND, wantMsg: []string{"no-such-dlq", "enricher setup"}},
		{name: "empty name", queue: "", wantCode: enricher.EINVALID},
		{name: "name with a dot", queue: "a.b", wantCode: enricher.EINVALID},
		{name: "dead-letter name too long", queue: plain, opts: Options{DeadLetterQueue: strings.Repeat("d", 81)}, wantCode: enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := New(ctx, e.cfg, tt.queue, tt.opts)
			if tt.wantCode != "" {
				enrichertest.MustCode(t, err, tt.wantCode)
				for _, s := range tt.wantMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("got error %q, want it to mention %q", err, s)
					}
				}
				return
			}
			enrichertest.MustNoError(t, err, "New")
			if q.Name() != tt.queue || !strings.HasSuffix(q.URL(), "/"+tt.queue) {
				t.Errorf("got name %q URL %q, want %q and a URL ending in /%s", q.Name(), q.URL(), tt.queue, tt.queue)
			}
			if q.DeadLetterQueue() != tt.wantDLQ {
				t.Errorf("got dead-letter queue %q, want %q", q.DeadLetterQueue(), tt.wantDLQ)
			}
		})
	}
}

func TestQueue_Send(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()
	name, _ := e.names("send")
	e.MustCreate(t, name, map[string]string{"MaximumMessageSize": "1024"})
	q := e.MustNew(t, name, Options{})
	tests := []struct {
		name     string
		body     string
		wantCode string
	}{
		{"json", `{"Records":[]}`, ""},
		{"at the queue's size limit", strings.Repeat("x", 1024), ""},
		{"unicode", "tick\u00e9t \U0001F600", ""},
		{"over the queue's size limit", strings.Repeat("x", 1025), enricher.ETOOLARGE},
		{"invalid UTF-8", "ab\xffcd", enricher.EINVALID},
		{"NUL", "ab\x00cd", enricher.EINVALID},
		{"escape character", "\x1b[31m", enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := q.Send(ctx, []byte(tt.body))
			if tt.wantCode != "" {
				enrichertest.MustCode(t, err, tt.wantCode)
				return
			}
			enrichertest.MustNoError(t, err, "send")
			m := enrichertest.MustReceiveN(t, q, 1, 5*time.Second)[0]
			if string(m.Body) != tt.body {
				t.Errorf("got body %q back, want %q", m.Body, tt.body)
			}
			enrichertest.MustNoError(t, q.Ack(ctx, m.Receipt), "ack")
		})
	}

	t.Run("deleted queue", func(t *testing.T) {
		name, _ := e.names("deleted")
		url := e.MustCreate(t, name, nil)
		q := e.MustNew(t, name, Options{})
		if _, err := e.client.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Fatalf("delete queue: %v", err)
		}
		err := q.Send(ctx, []byte("m"))
		enrichertest.MustCode(t, err, enricher.ENOTFOUND)
		if !strings.Contains(err.Error(), "enricher setup") {
			t.Errorf("got error %q, want it to suggest `enricher setup`", err)
		}
		_, err = q.Receive(ctx, 1, 0)
		enrichertest.MustCode(t, err, enricher.ENOTFOUND)
	})
}

func TestQueue_DeadLetter(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()

	t.Run("copies body and reason", func(t *testing.T) {
		q := e.MustQueuePair(t, "dl", 30*time.Second, 5)
		enrichertest.MustNoError(t, q.Send(ctx, []byte(`{"not":"a notification"}`)), "send")
		m := enrichertest.MustReceiveN(t, q, 1, 5*time.Second)[0]
		reason := "unknown message format: no Records\nline two\x00with a NUL"
		enrichertest.MustNoError(t, q.DeadLetter(ctx, m, reason), "dead-letter")
		enrichertest.MustReceiveNone(t, q, 0)

		got := e.MustReceiveDeadLetters(t, q, 1)[0]
		if aws.ToString(got.Body) != `{"not":"a notification"}` {
			t.Errorf("got body %q, want the original", aws.ToString(got.Body))
		}
		want := map[string]string{
			AttrReason:          "unknown message format: no Records\nline two\uFFFDwith a NUL",
			AttrSourceQueue:     q.Name(),
			AttrSourceMessageID: m.ID,
			AttrReceiveCount:    "1",
		}
		for k, v := range want {
			if a := got.MessageAttributes[k]; aws.ToString(a.StringValue) != v {
				t.Errorf("attribute %s: got %q, want %q", k, aws.ToString(a.StringValue), v)
			}
		}
		if dt := aws.ToString(got.MessageAttributes[AttrReceiveCount].DataType); dt != "Number" {
			t.Errorf("attribute %s: got data type %q, want Number", AttrReceiveCount, dt)
		}
	})

	t.Run("reason cut to fit the dead-letter queue", func(t *testing.T) {
		name, dlq := e.names("dlcut")
		e.MustCreate(t, dlq, map[string]string{"MaximumMessageSize": "1024"})
		e.MustCreate(t, name, nil)
		q := e.MustNew(t, name, Options{DeadLetterQueue: dlq})
		body := strings.Repeat("b", 600)
		enrichertest.MustNoError(t, q.Send(ctx, []byte(body)), "send")
		m := enrichertest.MustReceiveN(t, q, 1, 5*time.Second)[0]
		reason := strings.Repeat("é", 1000) // 2000 bytes
		enrichertest.MustNoError(t, q.DeadLetter(ctx, m, reason), "dead-letter")
		got := e.MustReceiveDeadLetters(t, q, 1)[0]
		r := aws.ToString(got.MessageAttributes[AttrReason].StringValue)
		if !strings.HasSuffix(r, truncationMark) || !strings.HasPrefix(r, "éé") {
			t.Errorf("got reason %q, want a prefix of the reason ending in %q", r, truncationMark)
		}
		size := len(aws.ToString(got.Body))
		for k, v := range got.MessageAttributes {
			size += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
		}
		if size > 1024 || size < 1024-len("é") {
			t.Errorf("got a dead letter of %d bytes, want it to fill the queue's 1024 up to one character", size)
		}
	})

	t.Run("no dead-letter queue leaves the message", func(t *testing.T) {
		name, _ := e.names("nodlq")
		e.MustCreate(t, name, nil)
		q := e.MustNew(t, name, Options{})
		enrichertest.MustNoError(t, q.Send(ctx, []byte("poison")), "send")
		m := enrichertest.MustReceiveN(t, q, 1, 5*time.Second)[0]
		enrichertest.MustCode(t, q.DeadLetter(ctx, m, "bad"), enricher.ENOTREADY)
		enrichertest.MustNoError(t, q.ChangeVisibility(ctx, m.Receipt, 0), "release")
		again := enrichertest.MustReceiveN(t, q, 1, 5*time.Second)[0]
		if again.ID != m.ID || again.ReceiveCount != 2 {
			t.Errorf("after a failed dead-letter: got id %s receive count %d, want id %s receive count 2", again.ID, again.ReceiveCount, m.ID)
		}
	})
}

func TestQueue_AckBatch(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()

	t.Run("three chunks", func(t *testing.T) {
		q := e.MustQueuePair(t, "batch", 30*time.Second, 0)
		const n = 23
		for i := range n {
			enrichertest.MustNoError(t, q.Send(ctx, fmt.Appendf(nil, "m%02d", i)), "send")
		}
		msgs := enrichertest.MustReceiveN(t, q, n, 10*time.Second)
		receipts := make([]string, len(msgs))
		for i, m := range msgs {
			receipts[i] = m.Receipt
		}
		enrichertest.MustNoError(t, q.AckBatch(ctx, receipts), "ack batch")
		st, err := q.Stats(ctx)
		enrichertest.MustNoError(t, err, "stats")
		if st.Visible+st.InFlight != 0 {
			t.Errorf("after acking all %d: got %+v, want an empty queue", n, st)
		}
	})

	t.Run("per-entry failures", func(t *testing.T) {
		q := e.MustQueuePair(t, "batchfail", 30*time.Second, 0)
		for i := range 12 {
			enrichertest.MustNoError(t, q.Send(ctx, fmt.Appendf(nil, "m%02d", i)), "send")
		}
		msgs := enrichertest.MustReceiveN(t, q, 12, 10*time.Second)
		var receipts []string
		for i, m := range msgs {
			receipts = append(receipts, m.Receipt)
			if i == 3 || i == 10 {
				receipts = append(receipts, "not-a-receipt-"+strconv.Itoa(i))
			}
		}
		// receipts: 0..3 real, 4 bogus, 5..11 real, 12 bogus (second chunk), 13 real
		err := q.AckBatch(ctx, receipts)
		enrichertest.MustCode(t, err, enricher.ENOTFOUND)
		details := enricher.ErrorDetails(err)
		var got []int
		for _, d := range details {
			if d.Index == nil || d.Reason == "" {
				t.Fatalf("got detail %+v, want an index and a reason", d)
			}
			got = append(got, *d.Index)
		}
		if fmt.Sprint(got) != "[4 12]" {
			t.Errorf("got failed indexes %v, want [4 12]", got)
		}
		st, err := q.Stats(ctx)
		enrichertest.MustNoError(t, err, "stats")
		if st.Visible+st.InFlight != 0 {
			t.Errorf("after acking the 12 real receipts: got %+v, want an empty queue", st)
		}
	})

	t.Run("validation", func(t *testing.T) {
		q := e.MustQueuePair(t, "batchval", 30*time.Second, 0)
		enrichertest.MustNoError(t, q.AckBatch(ctx, nil), "ack nothing")
		enrichertest.MustNoError(t, q.Send(ctx, []byte("keep")), "send")
		m := enrichertest.MustReceiveN(t, q, 1, 5*time.Second)[0]
		enrichertest.MustCode(t, q.AckBatch(ctx, []string{m.Receipt, ""}), enricher.EINVALID)
		// The refused batch deleted nothing.
		enrichertest.MustNoError(t, q.ChangeVisibility(ctx, m.Receipt, 0), "release")
		enrichertest.MustReceiveN(t, q, 1, 5*time.Second)
	})
}

func TestQueue_Stats(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()
	q := e.MustQueuePair(t, "stats", 30*time.Second, 0)
	for i := range 4 {
		enrichertest.MustNoError(t, q.Send(ctx, fmt.Appendf(nil, "m%d", i)), "send")
	}
	if _, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl: aws.String(q.URL()), MessageBody: aws.String("later"), DelaySeconds: 900,
	}); err != nil {
		t.Fatalf("send delayed: %v", err)
	}
	got := enrichertest.MustReceiveN(t, q, 2, 5*time.Second)
	enrichertest.MustNoError(t, q.DeadLetter(ctx, got[0], "bad"), "dead-letter")

	st, err := q.Stats(ctx)
	enrichertest.MustNoError(t, err, "stats")
	want := Stats{Visible: 2, InFlight: 1, Delayed: 1, DeadLetters: 1}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}

	name, _ := e.names("stats-nodlq")
	e.MustCreate(t, name, nil)
	bare := e.MustNew(t, name, Options{})
	st, err = bare.Stats(ctx)
	enrichertest.MustNoError(t, err, "stats without a dead-letter queue")
	if st != (Stats{}) {
		t.Errorf("empty queue without a dead-letter queue: got %+v, want zeros", st)
	}
}

// TestQueue_ReceiveCancelled shows that a message SQS hands to a long poll
// whose caller has gone (a worker stopping) is handed back at once, instead
// of staying hidden for the queue's whole visibility timeout.
func TestQueue_ReceiveCancelled(t *testing.T) {
	e := startEmulator(t)
	q := e.MustQueuePair(t, "cancelled", 5*time.Minute, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := q.Receive(ctx, 1, 3*time.Second)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the poll is open on the server
	cancel()
	// The message arrives while the abandoned poll is still open.
	if err := q.Send(context.Background(), []byte("late")); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled receive: got %v, want context.Canceled", err)
	}
	msgs, err := q.Receive(context.Background(), 1, 5*time.Second)
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "late" {
		t.Fatalf("next receive: got %d messages, %v; want the late message at once, not after the 5 min visibility timeout", len(msgs), err)
	}
}
