package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/pipeline"
)

// syncBuffer is a log sink safe for concurrent writers and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a worker on fakes, with every effect recorded in order.
type env struct {
	rec      *recorder
	raw      *fakeStore
	enriched *fakeStore
	table    *fakeTable
	queue    *fakeQueue
	logs     *syncBuffer
	worker   *pipeline.Worker
	now      time.Time
}

// testRetryDelay makes retries quick and tells attempts apart in the ops.
func testRetryDelay(attempt int) time.Duration { return time.Duration(attempt) * time.Millisecond }

func newEnv(tb testing.TB, cfg pipeline.WorkerConfig) *env {
	tb.Helper()
	rec := &recorder{}
	e := &env{
		rec:      rec,
		raw:      newFakeStore("raw", rec),
		enriched: newFakeStore("enriched", rec),
		table:    newFakeTable(rec),
		queue:    newFakeQueue(rec),
		logs:     &syncBuffer{},
		now:      time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC),
	}
	if cfg.RawBucket == "" {
		cfg.RawBucket = "tickets-raw"
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = testRetryDelay
	}
	if cfg.PollWait == 0 {
		cfg.PollWait = 20 * time.Millisecond
	}
	e.worker = &pipeline.Worker{
		Queue: e.queue, Raw: e.raw, Enriched: e.enriched, Table: e.table,
		Enricher: &pipeline.Enricher{Classifier: fakeClassifier{}, ModelVersion: "test-1", Now: func() time.Time { return e.now }},
		Logger:   slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Config:   cfg,
		Now:      func() time.Time { return e.now },
	}
	return e
}

func (e *env) putRaw(tb testing.TB, key string, data []byte) {
	tb.Helper()
	e.raw.objects[key] = data
}

func (e *env) send(tb testing.TB, body string) {
	tb.Helper()
	if err := e.queue.Send(context.Background(), []byte(body)); err != nil {
		tb.Fatalf("send: %v", err)
	}
}

// receiveOne receives the next message, waiting out a retry delay.
func (e *env) receiveOne(tb testing.TB) enricher.Message {
	tb.Helper()
	msgs, err := e.queue.Receive(context.Background(), 1, 5*time.Second)
	if err != nil || len(msgs) != 1 {
		tb.Fatalf("receive: got %d messages, %v; want 1", len(msgs), err)
	}
	return msgs[0]
}

// checkLogs asserts the logging rules: every line about a ticket names it,
// and no ticket body is ever logged.
func (e *env) checkLogs(tb testing.TB) {
	tb.Helper()
	logs := e.logs.String()
	if strings.Contains(logs, secretBody) {
		tb.Errorf("logs contain a ticket body:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if _, aboutTicket := m["key"]; aboutTicket {
			if id, _ := m["ticket_id"].(string); id == "" {
				tb.Errorf("log line about a ticket without ticket_id: %s", line)
			}
		}
	}
}

func s3Body(keys ...string) string {
	var recs []string
	for _, k := range keys {
		recs = append(recs, fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"tickets-raw"},"object":{"key":%q}}}`, k))
	}
	return `{"Records":[` + strings.Join(recs, ",") + `]}`
}

func TestWorker_ProcessMessage(t *testing.T) {
	newer := "2026-03-01T00:00:00.000Z"
	tests := []struct {
		name        string
		cfg         pipeline.WorkerConfig
		setup       func(tb testing.TB, e *env)
		body        string
		attempts    int
		wantOps     []string
		wantErrs    []bool // per attempt: whether ProcessMessage reports the message unsettled
		wantDead    string // substring of the dead-letter reason
		wantItem    *enricher.Item
		wantObjects []string
	}{
		{
			name:  "happy path: object, item, ack",
			setup: func(tb testing.TB, e *env) { e.putRaw(tb, "T-1.json", rawTicket("T-1")) },
			body:  string(enricher.NewS3Notification("tickets-raw", "T-1.json", 100, time.Unix(0, 0))),
			wantOps: []string{
				"enriched.put T-1.json", "table.put T-1 enriched", "queue.ack m1#1",
			},
			wantItem: &enricher.Item{TicketID: "T-1", CreatedAt: 1769851800, Subject: "Cannot log in", CustomerID: "C-42",
				Priority: enricher.Critical, Intent: "login_issue", IntentConfidence: 0.9, Urgency: enricher.Critical,
				UrgencyConfidence: 0.8, ProcessedAt: "2026-02-01T12:00:00.000Z", S3Key: "T-1.json", ModelVersion: "test-1",
				Status: enricher.StatusEnriched},
			wantObjects: []string{"T-1.json"},
		},
		{
			name: "several records, SNS envelope",
			setup: func(tb testing.TB, e *env) {
				e.putRaw(tb, "A.json", rawTicket("A"))
				e.putRaw(tb, "B.json", rawTicket("B"))
			},
			body: func() string {
				inner, _ := json.Marshal(s3Body("A.json", "B.json"))
				return `{"Type":"Notification","Message":` + string(inner) + `}`
			}(),
			wantOps:     []string{"enriched.put A.json", "table.put A enriched", "enriched.put B.json", "table.put B enriched", "queue.ack m1#1"},
			wantObjects: []string{"A.json", "B.json"},
		},
		{
			name:        "old manual format uses the raw bucket",
			setup:       func(tb testing.TB, e *env) { e.putRaw(tb, "T-2.json", rawTicket("T-2")) },
			body:        `{"Records":[{"key":"T-2.json"}]}`,
			wantOps:     []string{"enriched.put T-2.json", "table.put T-2 enriched", "queue.ack m1#1"},
			wantObjects: []string{"T-2.json"},
		},
		{
			name: "invalid ticket: failed item, ack",
			setup: func(tb testing.TB, e *env) {
				e.putRaw(tb, "T-3.json", []byte(`{"ticket_id":"T-3","subject":"hi","created_at":"yesterday","customer_id":"C"}`))
			},
			body: s3Body("T-3.json"),
			wantOps: []string{
				"table.put T-3 failed invalid_ticket", "queue.ack m1#1",
			},
			wantItem: &enricher.Item{TicketID: "T-3", ProcessedAt: "2026-02-01T12:00:00.000Z", S3Key: "T-3.json", Status: enricher.StatusFailed,
				Failure: &enricher.Failure{Code: enricher.EINVALIDTICKET, Message: `invalid ticket: created_at: must be Unix seconds (an integer) or an RFC 3339 string such as "2026-01-31T09:30:00Z"; "yesterday" is not RFC 3339`}},
		},
		{
			name:    "missing object: failed item, ack",
			body:    s3Body("T-4.json"),
			wantOps: []string{"table.put T-4 failed not_found", "queue.ack m1#1"},
			wantItem: &enricher.Item{TicketID: "T-4", ProcessedAt: "2026-02-01T12:00:00.000Z", S3Key: "T-4.json", Status: enricher.StatusFailed,
				Failure: &enricher.Failure{Code: enricher.ENOTFOUND, Message: `raw object "T-4.json" not found`}},
		},
		{
			name:  "ticket id does not match its key: failed item under the key's id",
			setup: func(tb testing.TB, e *env) { e.putRaw(tb, "T-5.json", rawTicket("OTHER")) },
			body:  s3Body("T-5.json"),
			wantOps: []string{
				"table.put T-5 failed invalid_ticket", "queue.ack m1#1",
			},
			wantItem: &enricher.Item{TicketID: "T-5", CreatedAt: 1769851800, Subject: "Cannot log in", CustomerID: "C-42", Priority: enricher.Critical,
				ProcessedAt: "2026-02-01T12:00:00.000Z", S3Key: "T-5.json", Status: enricher.StatusFailed,
				Failure: &enricher.Failure{Code: enricher.EINVALIDTICKET, Message: `ticket_id "OTHER" does not match object key "T-5.json" (want "OTHER.json")`}},
		},
		{
			name:     "unparseable message: dead-lettered with the reason",
			body:     `{"hello":`,
			wantOps:  []string{"queue.deadletter m1#1"},
			wantDead: "invalid queue message: not JSON",
		},
		{
			name:     "key that is no ticket key: dead-lettered",
			body:     s3Body("../etc/passwd"),
			wantOps:  []string{"queue.deadletter m1#1"},
			wantDead: `object key "../etc/passwd" is not <ticket_id>.json`,
		},
		{
			name:     "another bucket: dead-lettered",
			body:     string(enricher.NewS3Notification("someone-elses", "T-1.json", 1, time.Unix(0, 0))),
			wantOps:  []string{"queue.deadletter m1#1"},
			wantDead: `object "T-1.json" is in bucket "someone-elses"; this worker reads "tickets-raw"`,
		},
		{
			name:    "s3:TestEvent: ack, no writes",
			body:    `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-31T09:30:00.000Z","Bucket":"tickets-raw"}`,
			wantOps: []string{"queue.ack m1#1"},
		},
		{
			name: "transient table error: retried, then succeeds",
			setup: func(tb testing.TB, e *env) {
				e.putRaw(tb, "T-6.json", rawTicket("T-6"))
				e.table.failPuts = 1
			},
			body:     s3Body("T-6.json"),
			attempts: 2,
			wantErrs: []bool{true, false},
			wantOps: []string{
				"enriched.put T-6.json", "table.put T-6 enriched error", "queue.visibility m1#1 1ms",
				"enriched.put T-6.json", "table.put T-6 enriched", "queue.ack m1#2",
			},
			wantObjects: []string{"T-6.json"},
		},
		{
			name: "transient fetch error: retried, then succeeds",
			setup: func(tb testing.TB, e *env) {
				e.putRaw(tb, "T-9.json", rawTicket("T-9"))
				e.raw.failGets = 1
			},
			body:     s3Body("T-9.json"),
			attempts: 2,
			wantErrs: []bool{true, false},
			wantOps: []string{
				"queue.visibility m1#1 1ms",
				"enriched.put T-9.json", "table.put T-9 enriched", "queue.ack m1#2",
			},
		},
		{
			name: "repeated failure: dead-lettered at MaxAttempts with a failed item",
			cfg:  pipeline.WorkerConfig{MaxAttempts: 3},
			setup: func(tb testing.TB, e *env) {
				e.putRaw(tb, "T-7.json", rawTicket("T-7"))
				e.enriched.failPuts = -1
			},
			body:     s3Body("T-7.json"),
			attempts: 3,
			wantErrs: []bool{true, true, false},
			wantOps: []string{
				"enriched.put T-7.json error", "queue.visibility m1#1 1ms",
				"enriched.put T-7.json error", "queue.visibility m1#2 2ms",
				"enriched.put T-7.json error", "table.put T-7 failed internal", "queue.deadletter m1#3",
			},
			wantDead: "gave up after 3 attempts: store enriched record T-7: connection reset by peer",
			wantItem: &enricher.Item{TicketID: "T-7", CreatedAt: 1769851800, Subject: "Cannot log in", CustomerID: "C-42", Priority: enricher.Critical,
				ProcessedAt: "2026-02-01T12:00:00.000Z", S3Key: "T-7.json", Status: enricher.StatusFailed,
				Failure: &enricher.Failure{Code: enricher.EINTERNAL, Message: "gave up after 3 attempts: internal error"}},
		},
		{
			name: "ECONFLICT: a newer result exists, success",
			setup: func(tb testing.TB, e *env) {
				e.putRaw(tb, "T-8.json", rawTicket("T-8"))
				e.table.items["T-8"] = enricher.Item{TicketID: "T-8", ProcessedAt: newer, Status: enricher.StatusEnriched, Intent: "bug_report"}
			},
			body:        s3Body("T-8.json"),
			wantOps:     []string{"enriched.put T-8.json", "table.put T-8 enriched conflict", "queue.ack m1#1"},
			wantItem:    &enricher.Item{TicketID: "T-8", ProcessedAt: newer, Status: enricher.StatusEnriched, Intent: "bug_report"},
			wantObjects: []string{"T-8.json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			e.send(t, tt.body)
			attempts := max(tt.attempts, 1)
			for i := range attempts {
				err := e.worker.ProcessMessage(context.Background(), e.receiveOne(t))
				wantErr := i < len(tt.wantErrs) && tt.wantErrs[i]
				if (err != nil) != wantErr {
					t.Errorf("attempt %d: got error %v, want error %v", i+1, err, wantErr)
				}
			}
			if got := e.rec.list(); !reflect.DeepEqual(got, tt.wantOps) {
				t.Errorf("got ops\n  %q\nwant\n  %q", got, tt.wantOps)
			}
			reason := e.queue.deadReason("m1")
			if tt.wantDead == "" && reason != "" || !strings.Contains(reason, tt.wantDead) {
				t.Errorf("got dead-letter reason %q, want it to contain %q", reason, tt.wantDead)
			}
			if tt.wantItem != nil {
				got, err := e.table.GetItem(context.Background(), tt.wantItem.TicketID)
				if err != nil {
					t.Fatalf("GetItem: %v", err)
				}
				if !reflect.DeepEqual(got, *tt.wantItem) {
					gj, _ := json.Marshal(got)
					wj, _ := json.Marshal(*tt.wantItem)
					t.Errorf("got item\n  %s\nwant\n  %s", gj, wj)
				}
			}
			for _, key := range tt.wantObjects {
				data, ok := e.enriched.get(key)
				if !ok {
					t.Fatalf("got no enriched object %s", key)
				}
				var rec struct {
					TicketID   string `json:"ticket_id"`
					Enrichment struct {
						Intent      string `json:"intent"`
						ProcessedAt string `json:"processed_at"`
					} `json:"enrichment"`
				}
				if err := json.Unmarshal(data, &rec); err != nil {
					t.Fatalf("enriched object %s: %v", key, err)
				}
				if enricher.ObjectKey(rec.TicketID) != key || rec.Enrichment.Intent != "login_issue" || rec.Enrichment.ProcessedAt == "" {
					t.Errorf("got enriched object %s, want the record of %s with its enrichment", data, key)
				}
			}
			e.checkLogs(t)
		})
	}
}

func TestWorker_ProcessMessage_logsOneInfoLinePerTicket(t *testing.T) {
	e := newEnv(t, pipeline.WorkerConfig{})
	e.putRaw(t, "T-1.json", rawTicket("T-1"))
	e.send(t, s3Body("T-1.json"))
	if err := e.worker.ProcessMessage(context.Background(), e.receiveOne(t)); err != nil {
		t.Fatalf("ProcessMessage: %v", err)
	}
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["level"] == "INFO" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("got %d info lines, want 1: %v", len(lines), lines)
	}
	got := lines[0]
	if got["ticket_id"] != "T-1" || got["msg"] != "ticket enriched" {
		t.Errorf("got info line %v, want ticket enriched for T-1", got)
	}
	timings, _ := got["timings_ms"].(map[string]any)
	if _, ok := timings["classification"]; !ok {
		t.Errorf("got timings %v, want classification", got["timings_ms"])
	}
	if _, ok := timings["total"]; !ok {
		t.Errorf("got timings %v, want total", got["timings_ms"])
	}
	if _, ok := timings["embedding"]; ok {
		t.Errorf("got timings %v, want no embedding (stage not built)", got["timings_ms"])
	}
}

// runWorker runs the worker until stop is called and returns Run's result.
func runWorker(tb testing.TB, w *pipeline.Worker) (cancel func(), result <-chan error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	tb.Cleanup(cancel)
	return cancel, done
}

// awaitIn is waitFor for the worker's goroutines, where FailNow is not
// allowed: it reports the failure and returns an error for the fake to
// return.
func awaitIn[T any](tb testing.TB, ch <-chan T, what string) error {
	select {
	case <-ch:
		return nil
	case <-time.After(10 * time.Second):
		tb.Errorf("timed out waiting for %s", what)
		return fmt.Errorf("timed out waiting for %s", what)
	}
}

// waitFor fails the test if ch does not deliver in time: a guard against a
// hang, not a timing assertion.
func waitFor[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		tb.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func TestWorker_Run_retriesThenSucceeds(t *testing.T) {
	e := newEnv(t, pipeline.WorkerConfig{Concurrency: 2})
	e.putRaw(t, "T-1.json", rawTicket("T-1"))
	e.table.failPuts = 2
	acked := make(chan string, 1)
	e.queue.onAck = func(r string) { acked <- r }
	e.send(t, s3Body("T-1.json"))

	cancel, result := runWorker(t, e.worker)
	receipt := waitFor(t, acked, "ack")
	cancel()
	if err := waitFor(t, result, "Run to return"); err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}
	if receipt != "m1#3" {
		t.Errorf("got ack of %s, want the third delivery m1#3", receipt)
	}
	want := []string{
		"enriched.put T-1.json", "table.put T-1 enriched error", "queue.visibility m1#1 1ms",
		"enriched.put T-1.json", "table.put T-1 enriched error", "queue.visibility m1#2 2ms",
		"enriched.put T-1.json", "table.put T-1 enriched", "queue.ack m1#3",
	}
	if got := e.rec.list(); !reflect.DeepEqual(got, want) {
		t.Errorf("got ops\n  %q\nwant\n  %q", got, want)
	}
	e.checkLogs(t)
}

func TestWorker_Run_deadLettersAtMaxAttempts(t *testing.T) {
	e := newEnv(t, pipeline.WorkerConfig{Concurrency: 1, MaxAttempts: 4})
	e.putRaw(t, "T-1.json", rawTicket("T-1"))
	e.enriched.failPuts = -1
	dead := make(chan string, 1)
	e.queue.onDeadLetter = func(id, reason string) { dead <- reason }
	e.send(t, s3Body("T-1.json"))

	cancel, result := runWorker(t, e.worker)
	reason := waitFor(t, dead, "dead letter")
	cancel()
	waitFor(t, result, "Run to return")
	if want := "gave up after 4 attempts: store enriched record T-1: connection reset by peer"; reason != want {
		t.Errorf("got reason %q, want %q", reason, want)
	}
	it, err := e.table.GetItem(context.Background(), "T-1")
	if err != nil || it.Status != enricher.StatusFailed || it.Failure == nil || it.Failure.Code != enricher.EINTERNAL {
		t.Errorf("got item %+v, %v; want a failed item with code %s", it, err, enricher.EINTERNAL)
	}
	if got, want := e.queue.state()["m1"], "received 4, gone true"; got != want {
		t.Errorf("got message state %q, want %q", got, want)
	}
}

func TestWorker_Run_receiveErrorsAreRetried(t *testing.T) {
	e := newEnv(t, pipeline.WorkerConfig{Concurrency: 1})
	e.putRaw(t, "T-1.json", rawTicket("T-1"))
	e.queue.beforeReceive = func(call, max int) error {
		if call <= 2 {
			return errTransient
		}
		return nil
	}
	acked := make(chan string, 1)
	e.queue.onAck = func(r string) { acked <- r }
	e.send(t, s3Body("T-1.json"))

	cancel, result := runWorker(t, e.worker)
	if got := waitFor(t, acked, "ack"); got != "m1#1" {
		t.Errorf("got ack of %s, want m1#1", got)
	}
	cancel()
	waitFor(t, result, "Run to return")
	if !strings.Contains(e.logs.String(), `"msg":"receive messages"`) {
		t.Errorf("got no log of the failing receive, want one")
	}
}

func TestWorker_Run_gracefulShutdown(t *testing.T) {
	e := newEnv(t, pipeline.WorkerConfig{Concurrency: 3, BatchSize: 10})
	for _, id := range []string{"A", "B", "C", "D"} {
		e.putRaw(t, id+".json", rawTicket(id))
	}
	e.send(t, s3Body("A.json")) // m1
	e.send(t, s3Body("B.json")) // m2

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan string, 4)
	release := make(chan struct{})
	inner := e.worker.Enricher
	e.worker.Enricher = enricherFunc(func(c context.Context, tk enricher.Ticket) (enricher.Record, error) {
		started <- tk.ID
		<-release
		if err := c.Err(); err != nil {
			return enricher.Record{}, fmt.Errorf("in-flight ticket saw the shutdown: %w", err)
		}
		return inner.Enrich(c, tk)
	})
	// The second receive (for the one free slot) completes just as the
	// worker is told to stop: its message was received but not started.
	e.queue.beforeReceive = func(call, max int) error {
		if call == 2 {
			for _, what := range []string{"first ticket", "second ticket"} {
				if err := awaitIn(t, started, what); err != nil {
					return err
				}
			}
			e.queue.Send(context.Background(), []byte(s3Body("C.json"))) // m3
			e.queue.Send(context.Background(), []byte(s3Body("D.json"))) // m4
			cancel()
			go func() { close(release) }()
		}
		return nil
	}

	result := make(chan error, 1)
	go func() { result <- e.worker.Run(ctx) }()
	if err := waitFor(t, result, "Run to return"); err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}

	state := e.queue.state()
	want := map[string]string{
		"m1": "received 1, gone true",  // in flight: finished and acked
		"m2": "received 1, gone true",  // in flight: finished and acked
		"m3": "received 1, gone false", // received, not started: handed back
		"m4": "received 0, gone false", // never received after the stop
	}
	if !reflect.DeepEqual(state, want) {
		t.Errorf("got queue state %v, want %v", state, want)
	}
	ops := e.rec.list()
	for _, op := range []string{"queue.ack m1#1", "queue.ack m2#1", "queue.visibility m3#1 0s"} {
		if !contains(ops, op) {
			t.Errorf("got ops %q, want %q among them", ops, op)
		}
	}
	for _, id := range []string{"A", "B"} {
		if it, err := e.table.GetItem(context.Background(), id); err != nil || it.Status != enricher.StatusEnriched {
			t.Errorf("ticket %s: got item %+v, %v; want enriched", id, it, err)
		}
	}
	if _, err := e.table.GetItem(context.Background(), "C"); enricher.ErrorCode(err) != enricher.ENOTFOUND {
		t.Errorf("ticket C: got %v, want not processed", err)
	}
	if calls := len(e.queue.receives); calls != 2 {
		t.Errorf("got %d receives, want 2 (none after the stop)", calls)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestWorker_Run_heartbeatExtendsSlowTicket(t *testing.T) {
	const visibility = 20 * time.Millisecond
	e := newEnv(t, pipeline.WorkerConfig{Concurrency: 1, Visibility: visibility})
	e.putRaw(t, "T-1.json", rawTicket("T-1"))
	e.send(t, s3Body("T-1.json"))

	// The ticket stays in enrichment until the heartbeat has extended its
	// message twice: without a heartbeat the test cannot go on.
	extended := make(chan struct{})
	var beats atomic.Int32
	e.queue.onVisibility = func(receipt string, d time.Duration) {
		if receipt == "m1#1" && d == visibility && beats.Add(1) == 2 {
			close(extended)
		}
	}
	acked := make(chan string, 1)
	e.queue.onAck = func(r string) { acked <- r }
	inner := e.worker.Enricher
	e.worker.Enricher = enricherFunc(func(c context.Context, tk enricher.Ticket) (enricher.Record, error) {
		if err := awaitIn(t, extended, "two heartbeats"); err != nil {
			return enricher.Record{}, err
		}
		return inner.Enrich(c, tk)
	})

	cancel, result := runWorker(t, e.worker)
	if got := waitFor(t, acked, "ack"); got != "m1#1" {
		t.Errorf("got ack of %s, want m1#1", got)
	}
	cancel()
	waitFor(t, result, "Run to return")

	ops := e.rec.list()
	want := "queue.visibility m1#1 " + visibility.String()
	if len(ops) < 5 || ops[0] != want || ops[1] != want {
		t.Fatalf("got ops %q, want two heartbeats %q first", ops, want)
	}
	if last := ops[len(ops)-1]; last != "queue.ack m1#1" {
		t.Errorf("got last op %q, want the ack, with no heartbeat after it: %q", last, ops)
	}
	if got := e.queue.state()["m1"]; got != "received 1, gone true" {
		t.Errorf("got message state %q, want received once and acked", got)
	}
}

func TestWorker_Run_concurrencyLimit(t *testing.T) {
	const concurrency, tickets = 3, 12
	e := newEnv(t, pipeline.WorkerConfig{Concurrency: concurrency, BatchSize: 10})
	for i := range tickets {
		id := fmt.Sprintf("T-%d", i)
		e.putRaw(t, id+".json", rawTicket(id))
		e.send(t, s3Body(id+".json"))
	}
	var inFlight, peak atomic.Int32
	var mu sync.Mutex
	var overAsked []string
	e.queue.beforeReceive = func(call, max int) error {
		if free := concurrency - int(inFlight.Load()); max > free {
			mu.Lock()
			overAsked = append(overAsked, fmt.Sprintf("receive %d asked for %d with %d free", call, max, free))
			mu.Unlock()
		}
		return nil
	}
	// The first tickets wait for each other, so the pool must really run
	// concurrency of them at once for the test to go on.
	barrier := make(chan struct{})
	var arrived atomic.Int32
	inner := e.worker.Enricher
	e.worker.Enricher = enricherFunc(func(c context.Context, tk enricher.Ticket) (enricher.Record, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if arrived.Add(1) == concurrency {
			close(barrier)
		}
		if err := awaitIn(t, barrier, "all slots busy"); err != nil {
			return enricher.Record{}, err
		}
		return inner.Enrich(c, tk)
	})
	var acks atomic.Int32
	all := make(chan struct{})
	e.queue.onAck = func(string) {
		if acks.Add(1) == tickets {
			close(all)
		}
	}

	cancel, result := runWorker(t, e.worker)
	waitFor(t, all, "every ticket acked")
	cancel()
	waitFor(t, result, "Run to return")

	if got := peak.Load(); got != concurrency {
		t.Errorf("got peak concurrency %d, want %d", got, concurrency)
	}
	if len(overAsked) > 0 {
		t.Errorf("worker asked for more messages than free slots: %v", overAsked)
	}
	for _, r := range e.queue.receives {
		if r.got > r.max {
			t.Errorf("got a receive of %d for max %d", r.got, r.max)
		}
	}
}

func TestWorker_Run_missingDependency(t *testing.T) {
	w := &pipeline.Worker{}
	err := w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Queue, Raw, Enriched, Table, Enricher not set") {
		t.Errorf("got %v, want an error naming the missing dependencies", err)
	}
}

func TestDefaultRetryDelay(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 2 * time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second}, {3, 8 * time.Second},
		{8, 256 * time.Second}, {9, 5 * time.Minute}, {1000, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			if got := pipeline.DefaultRetryDelay(tt.attempt); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
