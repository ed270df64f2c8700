// Package sqs is an enricher.Queue kept in Amazon SQS (or an emulator of it:
// LocalStack, moto's server), over aws-sdk-go-v2.
//
// One Queue is one standard SQS queue plus, optionally, its dead-letter
// queue. SQS already is what enricher.Queue describes (at-least-once
// delivery, visibility timeouts, receive counts), so the methods map one to
// one onto SQS calls; what this package adds is the translation of SQS's
// errors into enricher codes, the rounding of Go durations onto SQS's whole
// seconds, and DeadLetter, which SQS has no call for.
//
// Errors: a missing queue is ENOTFOUND; a receipt SQS does not accept
// (ReceiptHandleIsInvalid, MessageNotInflight) is ENOTFOUND too, because in
// practice it means the receive it came from is over (the message was
// deleted, or received again since); arguments refused before any call are
// EINVALID; anything else (network, throttling after the SDK's retries,
// permissions) is wrapped as is, which callers treat as transient or
// internal. A canceled context is always reachable with errors.Is.
//
// Retries are the SDK's: the standard retryer unless the caller's
// aws.Config sets another Retryer or RetryMaxAttempts. The SDK client is
// safe for concurrent use, and so is a Queue.
package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/ticket-enricher/enricher"
)

// SQS's limits that the adapter enforces or rounds onto before calling it, so
// that a bad argument is an EINVALID error naming the argument instead of an
// SQS error about a parameter the caller never saw.
const (
	// MaxReceiveBatch is the most messages one ReceiveMessage (and one
	// DeleteMessageBatch) handles; Receive asks for at most this many.
	MaxReceiveBatch = 10
	// MaxWait is the longest long poll SQS allows; longer waits are capped.
	MaxWait = 20 * time.Second
	// MaxVisibilityTimeout bounds ChangeVisibility and the queue's
	// visibility timeout.
	MaxVisibilityTimeout = 12 * time.Hour
	// DefaultMaxMessageSize is the message size limit assumed when the
	// queue does not say (it always does on AWS): 256 KiB, SQS's limit
	// before 2025 and still that of queues configured before.
	DefaultMaxMessageSize = 256 << 10
)

// Names of the message attributes DeadLetter puts on a dead-lettered
// message, for whoever inspects or redrives the dead-letter queue.
const (
	AttrReason          = "dead_letter_reason"
	AttrSourceQueue     = "source_queue"
	AttrSourceMessageID = "source_message_id"
	AttrReceiveCount    = "receive_count"
)

// queueNamePattern is SQS's rule for the names of standard queues.
var queueNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// Options tune a Queue.
type Options struct {
	// DeadLetterQueue names the queue DeadLetter sends to. Empty means the
	// queue named by the queue's RedrivePolicy, the one SQS itself moves
	// messages to after maxReceiveCount receives, so that both kinds of
	// dead letters end up in one place. With neither, DeadLetter fails and
	// leaves the message where it is.
	DeadLetterQueue string
}

// queueAPI is the part of the SQS client that a Queue uses.
type queueAPI interface {
	GetQueueUrl(ctx context.Context, in *awssqs.GetQueueUrlInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *awssqs.GetQueueAttributesInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error)
	SendMessage(ctx context.Context, in *awssqs.SendMessageInput, optFns ...func(*awssqs.Options)) (*awssqs.SendMessageOutput, error)
	ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, optFns ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *awssqs.DeleteMessageInput, optFns ...func(*awssqs.Options)) (*awssqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *awssqs.DeleteMessageBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *awssqs.ChangeMessageVisibilityInput, optFns ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityOutput, error)
}

// Queue is one SQS queue and its dead-letter queue; it implements
// enricher.Queue. Receipts are SQS receipt handles.
type Queue struct {
	client  queueAPI
	name    string
	url     string
	maxSize int // the queue's MaximumMessageSize

	dlqName    string // "" when DeadLetter has nowhere to send
	dlqURL     string
	dlqMaxSize int
}

var _ enricher.Queue = (*Queue)(nil)

// New opens the existing queue called queueName and finds its dead-letter
// queue (Options.DeadLetterQueue, else the queue's RedrivePolicy). It does
// not create anything: a missing queue is an ENOTFOUND error that says to
// run `enricher setup`, because a worker that created its own queue would
// create it without the redrive policy and the bucket notification.
func New(ctx context.Context, cfg aws.Config, queueName string, opts Options) (*Queue, error) {
	return open(ctx, awssqs.NewFromConfig(cfg), queueName, opts)
}

func open(ctx context.Context, client queueAPI, queueName string, opts Options) (*Queue, error) {
	if !queueNamePattern.MatchString(queueName) {
		return nil, enricher.Errorf(enricher.EINVALID, "open queue %q: name must be 1 to 80 letters, digits, '-' or '_'", queueName)
	}
	if opts.DeadLetterQueue != "" && !queueNamePattern.MatchString(opts.DeadLetterQueue) {
		return nil, enricher.Errorf(enricher.EINVALID, "open queue %s: dead-letter queue name %q must be 1 to 80 letters, digits, '-' or '_'", queueName, opts.DeadLetterQueue)
	}
	q := &Queue{client: client, name: queueName}
	var err error
	if q.url, err = queueURL(ctx, client, queueName, ""); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	attrs, err := q.attributes(ctx, q.url, types.QueueAttributeNameMaximumMessageSize, types.QueueAttributeNameRedrivePolicy)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	q.maxSize = maxMessageSize(attrs)

	dlqName, owner := opts.DeadLetterQueue, ""
	if dlqName == "" && attrs[string(types.QueueAttributeNameRedrivePolicy)] != "" {
		rp, err := parseRedrivePolicy(attrs[string(types.QueueAttributeNameRedrivePolicy)])
		if err != nil {
			return nil, fmt.Errorf("open queue %s: %w", queueName, err)
		}
		if dlqName, owner, err = nameFromARN(rp.TargetARN); err != nil {
			return nil, fmt.Errorf("open queue %s: redrive policy: %w", queueName, err)
		}
	}
	if dlqName == "" {
		return q, nil
	}
	if q.dlqURL, err = queueURL(ctx, client, dlqName, owner); err != nil {
		return nil, fmt.Errorf("open dead-letter queue of %s: %w", queueName, err)
	}
	dlqAttrs, err := q.attributes(ctx, q.dlqURL, types.QueueAttributeNameMaximumMessageSize)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter queue of %s: %w", queueName, err)
	}
	q.dlqName, q.dlqMaxSize = dlqName, maxMessageSize(dlqAttrs)
	return q, nil
}

// queueURL resolves a queue name (owned by account, "" for the caller's).
func queueURL(ctx context.Context, client interface {
	GetQueueUrl(context.Context, *awssqs.GetQueueUrlInput, ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error)
}, name, account string) (string, error) {
	in := &awssqs.GetQueueUrlInput{QueueName: aws.String(name)}
	if account != "" {
		in.QueueOwnerAWSAccountId = aws.String(account)
	}
	out, err := client.GetQueueUrl(ctx, in)
	if err != nil {
		if isQueueMissing(err) {
			return "", enricher.Errorf(enricher.ENOTFOUND,
				"queue %s does not exist: create it with `enricher setup`: %w", name, err)
		}
		return "", translate(ctx, err, "get URL of queue %s", name)
	}
	return aws.ToString(out.QueueUrl), nil
}

// attributes reads some attributes of the queue at url.
func (q *Queue) attributes(ctx context.Context, url string, names ...types.QueueAttributeName) (map[string]string, error) {
	out, err := q.client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		return nil, translate(ctx, err, "read attributes of queue %s", url)
	}
	return out.Attributes, nil
}

// maxMessageSize reads MaximumMessageSize from queue attributes.
func maxMessageSize(attrs map[string]string) int {
	if n, err := strconv.Atoi(attrs[string(types.QueueAttributeNameMaximumMessageSize)]); err == nil && n > 0 {
		return n
	}
	return DefaultMaxMessageSize
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// DeadLetterQueue returns the name of the queue DeadLetter sends to, "" when
// there is none.
func (q *Queue) DeadLetterQueue() string { return q.dlqName }

// Send enqueues a message. Bodies larger than the queue's MaximumMessageSize
// are an ETOOLARGE error; bytes SQS cannot carry (invalid UTF-8, most
// control characters) an EINVALID one.
func (q *Queue) Send(ctx context.Context, body []byte) error {
	if len(body) == 0 {
		return enricher.Errorf(enricher.EINVALID, "send message to %s: empty body", q.name)
	}
	if len(body) > q.maxSize {
		return enricher.Errorf(enricher.ETOOLARGE, "send message to %s: body of %d bytes exceeds the queue's %d", q.name, len(body), q.maxSize)
	}
	if i := invalidChar(body); i >= 0 {
		return enricher.Errorf(enricher.EINVALID, "send message to %s: byte %d of the body is not a character SQS carries (invalid UTF-8 or a control character)", q.name, i)
	}
	_, err := q.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(string(body))})
	if err != nil {
		return translate(ctx, err, "send message to %s", q.name)
	}
	return nil
}

// Receive long-polls for up to wait, rounded up to whole seconds and capped
// at MaxWait (SQS counts in seconds; rounding up never turns a wait into a
// short poll, which on SQS samples only some servers and can miss messages),
// and returns at most min(max, MaxReceiveBatch) messages. A wait of zero is a
// short poll. The SDK honours ctx, so a canceled Receive returns at once.
func (q *Queue) Receive(ctx context.Context, max int, wait time.Duration) ([]enricher.Message, error) {
	if max < 1 {
		return nil, enricher.Errorf(enricher.EINVALID, "receive messages from %s: max %d is less than 1", q.name, max)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("receive messages from %s: %w", q.name, err)
	}
	out, err := q.poll(ctx, q.receiveInput(max, wait), wait)
	if err != nil {
		return nil, translate(ctx, err, "receive messages from %s", q.name)
	}
	if len(out.Messages) == 0 {
		return nil, nil
	}
	msgs := make([]enricher.Message, len(out.Messages))
	for i, m := range out.Messages {
		// A count SQS did not send stays 0 rather than being guessed.
		n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		msgs[i] = enricher.Message{
			ID:           aws.ToString(m.MessageId),
			Body:         []byte(aws.ToString(m.Body)),
			Receipt:      aws.ToString(m.ReceiptHandle),
			ReceiveCount: n,
		}
	}
	return msgs, nil
}

// pollGrace is how long after its wait a long poll may take to answer.
const pollGrace = 5 * time.Second

// poll runs one ReceiveMessage. Cancelling ctx does not end the long poll
// on SQS's side: it may still hand messages to the poll whose caller has
// gone, and they would stay hidden for the whole visibility timeout, each
// with a receive spent. So the request runs on a context ctx does not
// cancel, bounded by the wait; when ctx ends first, poll waits for the
// answer and hands back whatever it brought (visibility 0) before
// returning ctx's error. A worker's shutdown may therefore take up to one
// poll wait, which the grace period covers.
func (q *Queue) poll(ctx context.Context, in *awssqs.ReceiveMessageInput, wait time.Duration) (*awssqs.ReceiveMessageOutput, error) {
	pollCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(max(wait, 0), MaxWait)+pollGrace)
	defer cancel()
	type answer struct {
		out *awssqs.ReceiveMessageOutput
		err error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := q.client.ReceiveMessage(pollCtx, in)
		done <- answer{out, err}
	}()
	select {
	case a := <-done:
		return a.out, a.err
	case <-ctx.Done():
	}
	if a := <-done; a.err == nil {
		for _, m := range a.out.Messages {
			// Best effort: a message not handed back reappears after its
			// visibility timeout anyway.
			q.client.ChangeMessageVisibility(pollCtx, &awssqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(q.url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		}
	}
	return nil, ctx.Err()
}

// receiveInput is the ReceiveMessage request of Receive(max, wait).
func (q *Queue) receiveInput(n int, wait time.Duration) *awssqs.ReceiveMessageInput {
	return &awssqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.url),
		MaxNumberOfMessages: int32(min(n, MaxReceiveBatch)),
		// Always set, so that the queue's ReceiveMessageWaitTimeSeconds
		// never makes a short poll long.
		WaitTimeSeconds:             int32(ceilSeconds(min(max(wait, 0), MaxWait))),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		MessageAttributeNames:       []string{"All"},
	}
}

// ceilSeconds rounds a non-negative duration up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// Ack deletes a received message. SQS accepts a receipt of an earlier
// receive too and may or may not delete the message then (see the package
// enrichertest on stale receipts).
func (q *Queue) Ack(ctx context.Context, receipt string) error {
	if receipt == "" {
		return enricher.Errorf(enricher.EINVALID, "ack message in %s: empty receipt", q.name)
	}
	if err := q.delete(ctx, receipt); err != nil {
		return fmt.Errorf("ack message: %w", err)
	}
	return nil
}

func (q *Queue) delete(ctx context.Context, receipt string) error {
	_, err := q.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(receipt)})
	if err != nil {
		return translate(ctx, err, "delete message from %s", q.name)
	}
	return nil
}

// AckBatch deletes received messages ten to a DeleteMessageBatch call, for a
// worker that finishes many messages at once: one call instead of ten. It
// tries every receipt even when some fail, and then returns an *enricher.Error
// with one Detail per receipt that was not deleted (Index is its position in
// receipts): code ENOTFOUND when SQS refused only receipts (stale or
// unknown), otherwise the code of the first other failure, EINTERNAL for a
// failure of SQS itself. An empty receipt is EINVALID before any call.
func (q *Queue) AckBatch(ctx context.Context, receipts []string) error {
	for i, r := range receipts {
		if r == "" {
			return enricher.Errorf(enricher.EINVALID, "ack %d messages in %s: receipt %d is empty", len(receipts), q.name, i)
		}
	}
	var (
		details []enricher.Detail
		errs    []error
		code    = enricher.ENOTFOUND
	)
	fail := func(i int, reason, c string, err error) {
		details = append(details, enricher.Detail{Index: &i, Reason: reason})
		if err != nil {
			errs = append(errs, err)
		}
		if code == enricher.ENOTFOUND && c != enricher.ENOTFOUND {
			code = c
		}
	}
	for start := 0; start < len(receipts); start += MaxReceiveBatch {
		chunk := receipts[start:min(start+MaxReceiveBatch, len(receipts))]
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, r := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(start + i)), ReceiptHandle: aws.String(r)}
		}
		out, err := q.client.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			err = translate(ctx, err, "delete messages %d to %d from %s", start, start+len(chunk)-1, q.name)
			if ctx.Err() != nil {
				return err // the remaining chunks would fail the same way
			}
			for i := range chunk {
				fail(start+i, err.Error(), enricher.ErrorCode(err), err)
			}
			continue
		}
		for _, f := range out.Failed {
			i, convErr := strconv.Atoi(aws.ToString(f.Id))
			if convErr != nil || i < start || i >= start+len(chunk) {
				// SQS echoes our ids; anything else is a protocol error.
				return fmt.Errorf("delete messages from %s: failure for unknown entry id %q", q.name, aws.ToString(f.Id))
			}
			c := entryCode(aws.ToString(f.Code), f.SenderFault)
			fail(i, fmt.Sprintf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message)), c, nil)
		}
	}
	if len(details) == 0 {
		return nil
	}
	e := enricher.Errorf(code, "ack %d messages in %s: %d not deleted", len(receipts), q.name, len(details))
	e.Details = details
	e.Err = errors.Join(errs...)
	return e
}

// entryCode maps the error code of one failed batch entry.
func entryCode(code string, senderFault bool) string {
	switch {
	case receiptGone[code]:
		return enricher.ENOTFOUND
	case senderFault:
		return enricher.EINVALID
	}
	return enricher.EINTERNAL
}

// ChangeVisibility hides a received message for d from now, rounded up to
// whole seconds (SQS's unit; rounding down could hand a message back before
// a heartbeat meant to). Zero hands it back at once.
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	if receipt == "" {
		return enricher.Errorf(enricher.EINVALID, "change visibility of message in %s: empty receipt", q.name)
	}
	if d < 0 || d > MaxVisibilityTimeout {
		return enricher.Errorf(enricher.EINVALID, "change visibility of message in %s: timeout %v outside [0, %v]", q.name, d, MaxVisibilityTimeout)
	}
	_, err := q.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(q.url),
		ReceiptHandle:     aws.String(receipt),
		VisibilityTimeout: int32(ceilSeconds(d)),
	})
	if err != nil {
		return translate(ctx, err, "change visibility of message in %s", q.name)
	}
	return nil
}

// DeadLetter sends a copy of m to the dead-letter queue with the reason and
// its origin as message attributes, then deletes m from this queue. Without
// a dead-letter queue it fails with ENOTREADY and leaves m alone: SQS's
// redrive policy, if any, still moves it after maxReceiveCount receives. If
// the delete fails after the copy was sent, m may be dead-lettered twice,
// which at-least-once delivery allows.
//
// The reason is made safe for SQS (invalid UTF-8 and characters SQS refuses
// become U+FFFD) and cut so that the copy fits the dead-letter queue's
// MaximumMessageSize.
func (q *Queue) DeadLetter(ctx context.Context, m enricher.Message, reason string) error {
	if m.Receipt == "" {
		return enricher.Errorf(enricher.EINVALID, "dead-letter message %s in %s: empty receipt", m.ID, q.name)
	}
	if reason == "" {
		return enricher.Errorf(enricher.EINVALID, "dead-letter message %s in %s: empty reason", m.ID, q.name)
	}
	if q.dlqURL == "" {
		return enricher.Errorf(enricher.ENOTREADY,
			"dead-letter message %s in %s: the queue has no dead-letter queue (no redrive policy, no Options.DeadLetterQueue): run `enricher setup`", m.ID, q.name)
	}
	attrs := map[string]types.MessageAttributeValue{
		AttrSourceQueue:  stringAttr(q.name),
		AttrReceiveCount: {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(m.ReceiveCount))},
	}
	if m.ID != "" { // SQS refuses empty attribute values
		attrs[AttrSourceMessageID] = stringAttr(sanitize(m.ID))
	}
	budget := q.dlqMaxSize - len(m.Body) - attributesSize(attrs) - len(AttrReason) - len("String")
	attrs[AttrReason] = stringAttr(truncate(sanitize(reason), budget))
	_, err := q.client.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl:          aws.String(q.dlqURL),
		MessageBody:       aws.String(string(m.Body)),
		MessageAttributes: attrs,
	})
	if err != nil {
		return translate(ctx, err, "dead-letter message %s: send to %s", m.ID, q.dlqName)
	}
	if err := q.delete(ctx, m.Receipt); err != nil {
		return fmt.Errorf("dead-letter message %s (copied to %s): %w", m.ID, q.dlqName, err)
	}
	return nil
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// attributesSize counts message attributes as SQS does against
// MaximumMessageSize: name, data type and value of each.
func attributesSize(attrs map[string]types.MessageAttributeValue) int {
	n := 0
	for name, v := range attrs {
		n += len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

// truncationMark ends a reason that was cut.
const truncationMark = " …(truncated)"

// truncate cuts s to at most limit bytes on a rune boundary, marking the cut;
// a limit too small for the mark still leaves at least one rune, so the
// attribute is never empty (SQS refuses empty values): the send then fails
// on the size, as it would have anyway.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	keep := limit - len(truncationMark)
	if keep < 1 {
		_, n := utf8.DecodeRuneInString(s)
		return s[:n]
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + truncationMark
}

// allowedRune reports whether SQS carries r in a body or a string attribute:
// #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
func allowedRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r',
		r >= 0x20 && r <= 0xD7FF,
		r >= 0xE000 && r <= 0xFFFD,
		r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// invalidChar returns the offset of the first byte of b that is not part of
// a character SQS carries, or -1. SQS refuses such a body
// (InvalidMessageContents); checking first gives the same EINVALID error on
// every emulator, some of which accept anything.
func invalidChar(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || !allowedRune(r) {
			return i
		}
		i += n
	}
	return -1
}

// sanitize replaces what SQS refuses in a string attribute (invalid UTF-8,
// characters allowedRune refuses) with U+FFFD, so that an error message
// quoting bad input can still travel as a reason.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if allowedRune(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// Stats counts a queue's messages, approximately as SQS does (its counts lag
// by up to a minute), for metrics and dashboards.
type Stats struct {
	Visible  int // waiting to be received
	InFlight int // received and hidden
	Delayed  int // sent with a delay that has not passed
	// DeadLetters counts every message in the dead-letter queue, in flight
	// (being inspected) or not; 0 without a dead-letter queue.
	DeadLetters int
}

// Stats reads ApproximateNumberOfMessages* of the queue and its dead-letter
// queue.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	counts := []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}
	attrs, err := q.attributes(ctx, q.url, counts...)
	if err != nil {
		return Stats{}, fmt.Errorf("read stats of %s: %w", q.name, err)
	}
	var s Stats
	s.Visible, s.InFlight, s.Delayed = count(attrs, counts[0]), count(attrs, counts[1]), count(attrs, counts[2])
	if q.dlqURL != "" {
		dlq, err := q.attributes(ctx, q.dlqURL, counts...)
		if err != nil {
			return Stats{}, fmt.Errorf("read stats of %s: %w", q.dlqName, err)
		}
		s.DeadLetters = count(dlq, counts[0]) + count(dlq, counts[1]) + count(dlq, counts[2])
	}
	return s, nil
}

func count(attrs map[string]string, name types.QueueAttributeName) int {
	n, _ := strconv.Atoi(attrs[string(name)])
	return n
}

// redrivePolicy is SQS's RedrivePolicy attribute. maxReceiveCount is a number
// on AWS but a string in some emulators and older responses.
type redrivePolicy struct {
	TargetARN       string      `json:"deadLetterTargetArn"`
	MaxReceiveCount json.Number `json:"maxReceiveCount"`
}

func parseRedrivePolicy(s string) (redrivePolicy, error) {
	var raw struct {
		TargetARN       string          `json:"deadLetterTargetArn"`
		MaxReceiveCount json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return redrivePolicy{}, fmt.Errorf("parse redrive policy %q: %w", s, err)
	}
	n := strings.Trim(string(raw.MaxReceiveCount), `"`)
	return redrivePolicy{TargetARN: raw.TargetARN, MaxReceiveCount: json.Number(n)}, nil
}

// nameFromARN returns the queue name and account of an SQS queue ARN,
// arn:PARTITION:sqs:REGION:ACCOUNT:NAME.
func nameFromARN(arn string) (name, account string, err error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5] == "" {
		return "", "", fmt.Errorf("%q is not an SQS queue ARN", arn)
	}
	return parts[5], parts[4], nil
}

// Error codes of SQS, in the JSON protocol and in the query protocol (which
// LocalStack and moto also send), by what they mean for the caller.
var (
	queueMissing = map[string]bool{
		"QueueDoesNotExist":                       true,
		"AWS.SimpleQueueService.NonExistentQueue": true,
	}
	// receiptGone: the receive the receipt came from is over.
	receiptGone = map[string]bool{
		"ReceiptHandleIsInvalid":                    true,
		"MessageNotInflight":                        true,
		"AWS.SimpleQueueService.MessageNotInflight": true,
	}
	badRequest = map[string]bool{
		"InvalidParameterValue":                       true,
		"InvalidAttributeValue":                       true,
		"InvalidAttributeName":                        true,
		"InvalidMessageContents":                      true,
		"MissingParameter":                            true,
		"InvalidAddress":                              true,
		"InvalidIdFormat":                             true,
		"UnsupportedOperation":                        true,
		"AWS.SimpleQueueService.UnsupportedOperation": true,
	}
)

func isQueueMissing(err error) bool {
	var qe *types.QueueDoesNotExist
	if errors.As(err, &qe) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && queueMissing[ae.ErrorCode()]
}

// translate wraps an SQS error as "verb object: cause" with the enricher
// code its SQS code means; the context's error comes first when the context
// ended, so errors.Is(err, context.Canceled) holds whatever the SDK said.
func translate(ctx context.Context, err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("%s: %w", what, err)
		}
		return fmt.Errorf("%s: %w (%v)", what, cerr, err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch code := ae.ErrorCode(); {
	case isQueueMissing(err):
		return enricher.Errorf(enricher.ENOTFOUND, "%s: the queue does not exist: create it with `enricher setup`: %w", what, err)
	case receiptGone[code], code == "InvalidParameterValue" && strings.Contains(ae.ErrorMessage(), "ReceiptHandle"):
		// The second is SQS's answer to ChangeMessageVisibility for a
		// message that was deleted: "Value ... for parameter ReceiptHandle
		// is invalid. Reason: Message does not exist or is not available
		// for visibility timeout change."
		return enricher.Errorf(enricher.ENOTFOUND, "%s: the receipt is not that of a message in flight (acknowledged, received again since, or never issued): %w", what, err)
	case badRequest[code]:
		return enricher.Errorf(enricher.EINVALID, "%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
