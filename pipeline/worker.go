package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ticket-enricher/enricher"
)

// WorkerConfig tunes a Worker. Zero values take the defaults documented on
// each field, which are those of the Python worker it replaces.
type WorkerConfig struct {
	// Concurrency is how many tickets are processed at once (default
	// runtime.NumCPU()). Messages are received only for free slots, so a
	// message never waits, hidden, behind busy ones.
	Concurrency int
	// BatchSize is the most messages asked for per Receive (default 10,
	// like SQS_MAX_MESSAGES).
	BatchSize int
	// PollWait is the long-poll wait of each Receive (default 20s, like
	// SQS_POLL_INTERVAL).
	PollWait time.Duration
	// Visibility is the queue's visibility timeout (default 300s, like
	// SQS_VISIBILITY_TIMEOUT). A heartbeat extends a message in flight by
	// Visibility every Visibility/2, so that a slow ticket is not delivered
	// twice.
	Visibility time.Duration
	// MaxAttempts is the receive count at which a failing message is
	// dead-lettered with its reason instead of retried (default 5).
	MaxAttempts int
	// RetryDelay is how long a failed message stays hidden before its next
	// attempt (default DefaultRetryDelay). It also spaces out retries of a
	// failing Receive.
	RetryDelay func(attempt int) time.Duration
	// RawBucket is the raw bucket's name. Refs that name no bucket (the old
	// manual format) use it, and a ref naming another bucket is refused,
	// because this worker's raw store could not hold its object.
	RawBucket string
}

// DefaultRetryDelay doubles from 2s at the first attempt up to 5 minutes,
// so that a short outage is ridden out quickly and a long one is not
// hammered.
func DefaultRetryDelay(attempt int) time.Duration {
	const (
		base     = 2 * time.Second
		maxDelay = 5 * time.Minute
	)
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 20 {
		return maxDelay
	}
	return min(base<<(attempt-1), maxDelay)
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.Concurrency <= 0 {
		c.Concurrency = runtime.NumCPU()
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 10
	}
	if c.PollWait <= 0 {
		c.PollWait = 20 * time.Second
	}
	if c.Visibility <= 0 {
		c.Visibility = 300 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryDelay == nil {
		c.RetryDelay = DefaultRetryDelay
	}
	return c
}

// Worker takes object notifications off the queue and turns each announced
// raw ticket into an enriched object and a table item (DESIGN.md §6):
// at-least-once delivery with idempotent effects, a message deleted only
// after both writes, failures recorded as failed items so that nothing is
// silently lost, poison messages dead-lettered with their reason.
type Worker struct {
	Queue    enricher.Queue
	Raw      enricher.ObjectStore
	Enriched enricher.ObjectStore
	Table    enricher.Table
	Enricher interface {
		Enrich(ctx context.Context, t enricher.Ticket) (enricher.Record, error)
	}
	// Logger receives one info line per processed ticket; nil discards.
	Logger *slog.Logger
	Config WorkerConfig
	// Now is the clock of failed items' ProcessedAt; nil means time.Now.
	Now func() time.Time
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

func (w *Worker) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

func (w *Worker) check() error {
	var missing []string
	for _, f := range []struct {
		name string
		nil  bool
	}{
		{"Queue", w.Queue == nil}, {"Raw", w.Raw == nil}, {"Enriched", w.Enriched == nil},
		{"Table", w.Table == nil}, {"Enricher", w.Enricher == nil},
	} {
		if f.nil {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("run worker: %s not set", strings.Join(missing, ", "))
	}
	return nil
}

// Run processes messages until ctx is cancelled. Then it stops receiving,
// lets the tickets in flight finish (they run on a context that ctx does not
// cancel, so a SIGTERM does not waste their work), hands back the messages
// it received but did not start with ChangeVisibility(0), and returns nil.
// Failures of single messages are handled and logged, never returned.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.check(); err != nil {
		return err
	}
	cfg := w.Config.withDefaults()
	log := w.logger()
	work := context.WithoutCancel(ctx)

	// free holds a token per idle slot: Receive asks for no more messages
	// than tokens taken, and a slot's token returns when its message is done.
	free := make(chan struct{}, cfg.Concurrency)
	for range cfg.Concurrency {
		free <- struct{}{}
	}
	jobs := make(chan enricher.Message, cfg.Concurrency)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for m := range jobs {
				if ctx.Err() != nil {
					w.handBack(work, m)
				} else {
					_ = w.processMessage(work, m, cfg) // settled or scheduled for retry; logged inside
				}
				free <- struct{}{}
			}
		})
	}
	log.Info("worker started", "concurrency", cfg.Concurrency, "batch_size", cfg.BatchSize,
		"poll_wait", cfg.PollWait.String(), "visibility", cfg.Visibility.String(), "max_attempts", cfg.MaxAttempts)

	failures := 0
	for {
		n := acquire(ctx, free, cfg.BatchSize)
		if n == 0 {
			break
		}
		msgs, err := w.Queue.Receive(ctx, n, cfg.PollWait)
		if len(msgs) > n { // a queue that ignores max: never exceed the free slots
			for _, m := range msgs[n:] {
				w.handBack(work, m)
			}
			msgs = msgs[:n]
		}
		for range n - len(msgs) {
			free <- struct{}{}
		}
		if ctx.Err() != nil {
			for _, m := range msgs {
				w.handBack(work, m)
				free <- struct{}{}
			}
			break
		}
		if err != nil && len(msgs) == 0 {
			failures++
			d := cfg.RetryDelay(failures)
			log.Error("receive messages", "err", err, "retry_in", d)
			if !sleep(ctx, d) {
				break
			}
			continue
		}
		if err != nil {
			log.Warn("receive messages returned an error with its messages", "err", err, "messages", len(msgs))
		}
		failures = 0
		for _, m := range msgs {
			jobs <- m // never blocks: one token per message, one buffer slot per token
		}
	}
	close(jobs)
	wg.Wait()
	log.Info("worker stopped")
	return nil
}

// acquire waits for one free slot, then takes as many more as are free, up
// to max. It returns 0 when ctx is done.
func acquire(ctx context.Context, free chan struct{}, max int) int {
	select {
	case <-ctx.Done():
		return 0
	case <-free:
	}
	if ctx.Err() != nil {
		free <- struct{}{}
		return 0
	}
	n := 1
	for n < max {
		select {
		case <-free:
			n++
		default:
			return n
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// handBack makes a received but unstarted message visible again at once,
// so that another worker takes it without waiting out the visibility
// timeout.
func (w *Worker) handBack(ctx context.Context, m enricher.Message) {
	if err := w.Queue.ChangeVisibility(ctx, m.Receipt, 0); err != nil {
		w.logger().Warn("hand back message", "message_id", m.ID, "err", err)
	}
}

// ProcessMessage handles one received message to the end: every announced
// ticket is fetched, enriched and stored, then the message is acknowledged;
// an unparseable message is dead-lettered with the reason; a transient
// failure hides the message for RetryDelay, or dead-letters it once it has
// been received MaxAttempts times. It is exported for the Lambda entry
// point.
//
// It returns nil when the message is settled (acknowledged or
// dead-lettered), and an error when the message stays on the queue to be
// delivered again.
func (w *Worker) ProcessMessage(ctx context.Context, m enricher.Message) error {
	if err := w.check(); err != nil {
		return err
	}
	return w.processMessage(ctx, m, w.Config.withDefaults())
}

// refResult is the outcome of one announced object: ok, or a transient
// error, with the ticket when it could be read so that a failed item can
// carry its created_at.
type refResult struct {
	ref    enricher.ObjectRef
	id     string
	ticket *enricher.Ticket
	err    error
}

func (w *Worker) processMessage(ctx context.Context, m enricher.Message, cfg WorkerConfig) error {
	log := w.logger().With("message_id", m.ID, "attempt", m.ReceiveCount)
	refs, err := enricher.ParseNotification(m.Body)
	if err == nil {
		err = checkRefs(refs, cfg.RawBucket)
	}
	if err != nil {
		reason := err.Error()
		log.Warn("dead-lettering message", "reason", reason)
		if err := w.Queue.DeadLetter(ctx, m, reason); err != nil {
			log.Error("dead-letter message", "err", err)
			return fmt.Errorf("dead-letter message %s: %w", m.ID, err)
		}
		return nil
	}
	if len(refs) == 0 {
		log.Debug("message announces nothing to process; acknowledging")
		return w.ack(ctx, m, log)
	}

	stop := w.heartbeat(ctx, m, cfg.Visibility, log)
	var failed []refResult
	for _, ref := range refs {
		if res := w.processRef(ctx, ref, log); res.err != nil {
			failed = append(failed, res)
		}
	}
	stop()
	if len(failed) == 0 {
		return w.ack(ctx, m, log)
	}

	reasons := make([]string, len(failed))
	errs := make([]error, len(failed))
	for i, f := range failed {
		reasons[i], errs[i] = f.err.Error(), f.err
	}
	reason := strings.Join(reasons, "; ")
	if m.ReceiveCount >= cfg.MaxAttempts {
		for _, f := range failed {
			msg := fmt.Sprintf("gave up after %d attempts: %s", m.ReceiveCount, enricher.ErrorMessage(f.err))
			item := w.failedItem(f.id, f.ref.Key, f.ticket, enricher.ErrorCode(f.err), msg)
			if err := w.putFailed(ctx, item); err != nil {
				log.Error("record failed ticket", "ticket_id", f.id, "err", err)
			}
		}
		reason = fmt.Sprintf("gave up after %d attempts: %s", m.ReceiveCount, reason)
		log.Error("dead-lettering message", "reason", reason)
		if err := w.Queue.DeadLetter(ctx, m, reason); err != nil {
			log.Error("dead-letter message", "err", err)
			return fmt.Errorf("dead-letter message %s: %w", m.ID, err)
		}
		return nil
	}
	d := cfg.RetryDelay(max(m.ReceiveCount, 1))
	log.Warn("retrying message", "retry_in", d, "reason", reason)
	if err := w.Queue.ChangeVisibility(ctx, m.Receipt, d); err != nil {
		log.Error("delay retry of message", "err", err)
	}
	return fmt.Errorf("process message %s (attempt %d): %w", m.ID, m.ReceiveCount, errors.Join(errs...))
}

// checkRefs refuses, before any work, a message with an object this worker
// cannot process: another bucket, or a key that is not "<ticket_id>.json"
// (which could not be recorded under any ticket). S3 sends one record per
// message, so refusing the whole message loses nothing in practice.
func checkRefs(refs []enricher.ObjectRef, rawBucket string) error {
	for _, r := range refs {
		if r.Bucket != "" && rawBucket != "" && r.Bucket != rawBucket {
			return enricher.Errorf(enricher.EINVALID, "object %q is in bucket %q; this worker reads %q", r.Key, r.Bucket, rawBucket)
		}
		if _, ok := enricher.TicketIDFromKey(r.Key); !ok {
			return enricher.Errorf(enricher.EINVALID, "object key %q is not <ticket_id>.json", r.Key)
		}
	}
	return nil
}

func (w *Worker) ack(ctx context.Context, m enricher.Message, log *slog.Logger) error {
	if err := w.Queue.Ack(ctx, m.Receipt); err != nil {
		log.Error("acknowledge message", "err", err)
		return fmt.Errorf("acknowledge message %s: %w", m.ID, err)
	}
	return nil
}

// heartbeat extends m's visibility every visibility/2 until stop is
// called; stop returns once the heartbeat has ended, so that no extension
// races the acknowledgement.
func (w *Worker) heartbeat(ctx context.Context, m enricher.Message, visibility time.Duration, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(visibility / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := w.Queue.ChangeVisibility(ctx, m.Receipt, visibility); err != nil {
					log.Warn("extend message visibility", "err", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}

// processRef fetches, enriches and stores one ticket. Permanent failures
// (missing object, invalid ticket) are recorded as a failed item and count
// as done; the error it returns is transient and means "try again".
func (w *Worker) processRef(ctx context.Context, ref enricher.ObjectRef, log *slog.Logger) refResult {
	id, _ := enricher.TicketIDFromKey(ref.Key) // checked by checkRefs
	res := refResult{ref: ref, id: id}
	log = log.With("ticket_id", id, "key", ref.Key)

	permanent := func(t *enricher.Ticket, err error) refResult {
		code := enricher.ErrorCode(err)
		log.Warn("ticket failed", "code", code, "reason", err.Error())
		if perr := w.putFailed(ctx, w.failedItem(id, ref.Key, t, code, err.Error())); perr != nil {
			log.Error("record failed ticket", "err", perr)
			res.err = perr
		}
		return res
	}
	transient := func(err error) refResult {
		log.Warn("ticket attempt failed", "err", err)
		res.err = err
		return res
	}

	raw, err := w.Raw.GetObject(ctx, ref.Key)
	if enricher.ErrorCode(err) == enricher.ENOTFOUND {
		return permanent(nil, enricher.Errorf(enricher.ENOTFOUND, "raw object %q not found", ref.Key))
	} else if err != nil {
		return transient(fmt.Errorf("fetch raw ticket %s: %w", ref.Key, err))
	}
	t, err := enricher.ParseTicket(raw)
	if err != nil {
		return permanent(nil, err)
	}
	res.ticket = &t
	if t.ID != id {
		return permanent(&t, enricher.Errorf(enricher.EINVALIDTICKET,
			"ticket_id %q does not match object key %q (want %q)", t.ID, ref.Key, t.Key()))
	}
	rec, err := w.Enricher.Enrich(ctx, t)
	if err != nil {
		return transient(fmt.Errorf("enrich ticket %s: %w", id, err))
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return transient(fmt.Errorf("encode record %s: %w", id, err))
	}
	if err := w.Enriched.PutObject(ctx, t.Key(), data); err != nil {
		return transient(fmt.Errorf("store enriched record %s: %w", id, err))
	}
	newer := false
	if err := w.Table.PutItem(ctx, rec.Item()); enricher.ErrorCode(err) == enricher.ECONFLICT {
		newer = true
	} else if err != nil {
		return transient(fmt.Errorf("store item %s: %w", id, err))
	}
	e := rec.Enrichment
	log.Info("ticket enriched", "intent", e.Intent, "urgency", e.Urgency,
		"newer_result_kept", newer, timingsAttr(e.TimingsMS))
	return res
}

// putFailed writes a failed item; losing to a newer item is not an error,
// because the newer result is what should be visible.
func (w *Worker) putFailed(ctx context.Context, item enricher.Item) error {
	err := w.Table.PutItem(ctx, item)
	if err != nil && enricher.ErrorCode(err) != enricher.ECONFLICT {
		return fmt.Errorf("store failed item %s: %w", item.TicketID, err)
	}
	return nil
}

// failedItem makes the item that shows a ticket's failure with its reason.
// Fields that could be read from the ticket are kept, so that a failed
// ticket is still findable by customer and time.
func (w *Worker) failedItem(id, key string, t *enricher.Ticket, code, message string) enricher.Item {
	it := enricher.Item{
		TicketID:    id,
		ProcessedAt: enricher.FormatTime(w.now()),
		S3Key:       key,
		Status:      enricher.StatusFailed,
		Failure:     &enricher.Failure{Code: code, Message: message},
	}
	if t != nil {
		it.CreatedAt = t.CreatedAt
		it.Subject = t.Subject
		it.CustomerID = t.CustomerID
		it.Priority = t.Priority
	}
	return it
}

// timingsAttr logs the timings of the stages that ran, and only those.
func timingsAttr(tm enricher.Timings) slog.Attr {
	attrs := []any{}
	for _, s := range []struct {
		name string
		ms   *float64
	}{{"embedding", tm.Embedding}, {"classification", tm.Classification}, {"summarization", tm.Summarization}} {
		if s.ms != nil {
			attrs = append(attrs, slog.Float64(s.name, *s.ms))
		}
	}
	attrs = append(attrs, slog.Float64("total", tm.Total))
	return slog.Group("timings_ms", attrs...)
}
