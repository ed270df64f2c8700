package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/awstest"
	"github.com/ticket-enricher/enricher/dynamodb"
	"github.com/ticket-enricher/enricher/s3"
	"github.com/ticket-enricher/enricher/sqs"
)

// Resource names: those `enricher setup` and the worker default to.
const (
	rawBucket      = "tickets-raw"
	enrichedBucket = "tickets-enriched"
	queueName      = "ticket-processing"
	dlqName        = queueName + "-dlq"
	tableName      = "tickets"
)

// awsEnv points the binary at endpoint (the emulator, or a proxy in front
// of it) with test credentials.
func awsEnv(endpoint string) []string {
	return append(os.Environ(), "LOG_LEVEL=info", "AWS_ENDPOINT_URL="+endpoint, "AWS_REGION="+awstest.Region,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=")
}

func mustRun(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(mustBinary(t), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("enricher %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// awsDeployment is moto's server after `enricher setup`, with plain SDK
// clients to put tickets and inspect the resources from outside the binary,
// and the service's own adapters where they read more simply.
type awsDeployment struct {
	srv      *awstest.Server
	env      []string
	s3       *awss3.Client
	sqs      *awssqs.Client
	ddb      *awsdynamodb.Client
	table    *dynamodb.Table
	enriched *s3.Store
	queue    *sqs.Queue
	queueURL string
	dlqURL   string
}

// mustDeploy starts moto and runs `enricher setup` with extra flags.
func mustDeploy(t *testing.T, setupArgs ...string) *awsDeployment {
	t.Helper()
	mustModelCache(t)
	srv := awstest.Start(t)
	d := &awsDeployment{srv: srv, env: awsEnv(srv.URL)}
	if out := mustRun(t, d.env, append([]string{"setup"}, setupArgs...)...); !strings.Contains(out, "7 changes made") {
		t.Fatalf("setup printed:\n%s\nwant 7 changes", out)
	}
	ctx := context.Background()
	cfg := srv.Config(t)
	d.s3 = awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	d.sqs = awssqs.NewFromConfig(cfg)
	d.ddb = awsdynamodb.NewFromConfig(cfg)
	var err error
	if d.table, err = dynamodb.New(cfg, tableName); err != nil {
		t.Fatal(err)
	}
	if d.enriched, err = s3.New(cfg, enrichedBucket, s3.Options{UsePathStyle: true}); err != nil {
		t.Fatal(err)
	}
	if d.queue, err = sqs.New(ctx, cfg, queueName, sqs.Options{}); err != nil {
		t.Fatal(err)
	}
	d.queueURL = d.queue.URL()
	out, err := d.sqs.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(dlqName)})
	if err != nil {
		t.Fatalf("get URL of %s: %v", dlqName, err)
	}
	d.dlqURL = aws.ToString(out.QueueUrl)
	return d
}

// putTickets puts n tickets of the labeled set into the raw bucket with a
// plain S3 client, as the producers of tickets do, with ids prefix-000...;
// every tenth id carries characters that S3 URL-encodes in notifications.
func (d *awsDeployment) putTickets(t *testing.T, prefix string, n int) []string {
	t.Helper()
	var ids []string
	sc := enricher.NewTicketScanner(bytes.NewReader(mustLabeled(t)))
	for sc.Scan() && len(ids) < n {
		var m map[string]any
		if err := json.Unmarshal(sc.Ticket().Data, &m); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("%s-%03d", prefix, len(ids))
		if len(ids)%10 == 0 {
			id += "_x.y-z" // '.', '_' and '-' survive the encoding
		}
		m["ticket_id"] = id
		body, _ := json.Marshal(m)
		d.putRaw(t, enricher.ObjectKey(id), body)
		ids = append(ids, id)
	}
	if len(ids) < n {
		t.Fatalf("the labeled set has %d tickets, want %d", len(ids), n)
	}
	return ids
}

func (d *awsDeployment) putRaw(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := d.s3.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(rawBucket),
		Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func (d *awsDeployment) send(t *testing.T, body string) {
	t.Helper()
	if _, err := d.sqs.SendMessage(context.Background(), &awssqs.SendMessageInput{
		QueueUrl: aws.String(d.queueURL), MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("send message: %v", err)
	}
}

// items reads every item of a ticket straight from DynamoDB: a query on the
// hash key, so that a second item under another created_at would show.
func (d *awsDeployment) items(t *testing.T, id string) []map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := d.ddb.Query(context.Background(), &awsdynamodb.QueryInput{
		TableName:                 aws.String(tableName),
		KeyConditionExpression:    aws.String("ticket_id = :id"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":id": &ddbtypes.AttributeValueMemberS{Value: id}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("query items of %s: %v", id, err)
	}
	return out.Items
}

// countItems counts the table's items with a scan.
func (d *awsDeployment) countItems(t *testing.T) int {
	t.Helper()
	n := 0
	in := &awsdynamodb.ScanInput{TableName: aws.String(tableName), Select: ddbtypes.SelectCount}
	for {
		out, err := d.ddb.Scan(context.Background(), in)
		if err != nil {
			t.Fatalf("scan %s: %v", tableName, err)
		}
		n += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return n
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// enrichedKeys lists the enriched bucket.
func (d *awsDeployment) enrichedKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	p := awss3.NewListObjectsV2Paginator(d.s3, &awss3.ListObjectsV2Input{Bucket: aws.String(enrichedBucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", enrichedBucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// waitItems waits until every ticket has an item with status want.
func (d *awsDeployment) waitItems(t *testing.T, ids []string, want enricher.Status, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for _, id := range ids {
		for {
			it, err := d.table.GetItem(ctx, id)
			if err == nil && it.Status == want {
				break
			}
			if err != nil && enricher.ErrorCode(err) != enricher.ENOTFOUND {
				t.Fatalf("get item %s: %v", id, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("ticket %s has no %s item after %v (item %+v, %v)", id, want, timeout, it, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// waitDrained waits until the work queue holds no message, visible or in
// flight, and returns its stats.
func (d *awsDeployment) waitDrained(t *testing.T, timeout time.Duration) sqs.Stats {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		st, err := d.queue.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Visible+st.InFlight+st.Delayed == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not drain in %v: %+v", timeout, st)
		}
	}
}

// deadLetters receives every message of the dead-letter queue with its
// attributes, hiding each for a minute so that none is read twice.
func (d *awsDeployment) deadLetters(t *testing.T) []sqstypes.Message {
	t.Helper()
	var msgs []sqstypes.Message
	for {
		out, err := d.sqs.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(d.dlqURL),
			MaxNumberOfMessages:         10,
			VisibilityTimeout:           60,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("receive from %s: %v", dlqName, err)
		}
		if len(out.Messages) == 0 {
			return msgs
		}
		msgs = append(msgs, out.Messages...)
	}
}

// assertExactlyOnce checks the end state of a run: each ticket has exactly
// one item, enriched, and one enriched object holding the same result
// (processed_at agrees); the table and the bucket hold nothing else.
func (d *awsDeployment) assertExactlyOnce(t *testing.T, ids []string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		avs := d.items(t, id)
		if len(avs) != 1 {
			t.Errorf("ticket %s has %d items in DynamoDB, want exactly 1", id, len(avs))
			continue
		}
		it, err := d.table.GetItem(ctx, id)
		if err != nil {
			t.Fatalf("get item %s: %v", id, err)
		}
		if it.Status != enricher.StatusEnriched || it.Intent == "" || it.Urgency == "" || it.S3Key != enricher.ObjectKey(id) {
			t.Errorf("item %s: %+v, want an enriched item with intent, urgency and s3_key", id, it)
		}
		rec := d.enrichedRecord(t, id)
		if rec.TicketID != id || len(rec.Enrichment.Embedding) != 384 || rec.Enrichment.Intent == "" {
			t.Errorf("enriched object %s: id %q, %d dims, intent %q; want the ticket with a 384-dim embedding",
				id, rec.TicketID, len(rec.Enrichment.Embedding), rec.Enrichment.Intent)
		}
		if rec.Enrichment.ProcessedAt != it.ProcessedAt {
			t.Errorf("ticket %s: enriched object processed_at %s, item %s: want the same result in both",
				id, rec.Enrichment.ProcessedAt, it.ProcessedAt)
		}
	}
	if n := d.countItems(t); n != len(ids) {
		t.Errorf("table holds %d items, want %d (one per ticket)", n, len(ids))
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[enricher.ObjectKey(id)] = true
	}
	keys := d.enrichedKeys(t)
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected object %q in %s", k, enrichedBucket)
		}
	}
	if len(keys) != len(ids) {
		t.Errorf("%s holds %d objects, want %d (one per ticket)", enrichedBucket, len(keys), len(ids))
	}
}

// enrichedRecord is the part of an enriched object the tests read.
type enrichedRecord struct {
	TicketID   string `json:"ticket_id"`
	Enrichment struct {
		Embedding   []float32 `json:"embedding"`
		Intent      string    `json:"intent"`
		ProcessedAt string    `json:"processed_at"`
	} `json:"enrichment"`
}

func (d *awsDeployment) enrichedRecord(t *testing.T, id string) enrichedRecord {
	t.Helper()
	data, err := d.enriched.GetObject(context.Background(), enricher.ObjectKey(id))
	if err != nil {
		t.Fatalf("enriched object %s: %v", id, err)
	}
	var rec enrichedRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("enriched object %s: %v", id, err)
	}
	return rec
}

// workerProc is a running `enricher worker`.
type workerProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

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

// startWorker runs `enricher worker` with env and args; it is killed when
// the test ends, and its log is printed if the test failed.
func startWorker(t *testing.T, env []string, args ...string) *workerProc {
	t.Helper()
	w := &workerProc{cmd: exec.Command(mustBinary(t), append([]string{"worker"}, args...)...), logs: &syncBuffer{}, done: make(chan error, 1)}
	w.cmd.Env = env
	w.cmd.Stdout, w.cmd.Stderr = w.logs, w.logs
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() {
		w.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("worker %v logs:\n%s", args, w.logs.String())
		}
	})
	return w
}

// stop sends sig and waits for the worker to exit.
func (w *workerProc) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	w.cmd.Process.Signal(sig)
	select {
	case err := <-w.done:
		return err
	case <-time.After(40 * time.Second):
		t.Fatalf("worker did not exit after %v", sig)
		return nil
	}
}

// enrichedCount counts the worker's "ticket enriched" log lines for id.
func (w *workerProc) enrichedCount(id string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(w.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Msg      string `json:"msg"`
			TicketID string `json:"ticket_id"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "ticket enriched" && l.TicketID == id {
			n++
		}
	}
	return n
}

// TestWorker_AWS is the AWS deployment against moto's server: `enricher
// setup`, then tickets put into the raw bucket by an ordinary S3 client,
// S3's notifications to the queue, and `enricher worker` enriching them into
// DynamoDB items and enriched objects that follow the contracts; a second
// setup changes nothing; the worker stops cleanly on SIGTERM.
func TestWorker_AWS(t *testing.T) {
	d := mustDeploy(t)
	if out := mustRun(t, d.env, "setup"); !strings.Contains(out, "no changes") {
		t.Fatalf("second setup printed:\n%s\nwant no changes", out)
	}
	ids := d.putTickets(t, "AWS", 100)
	w := startWorker(t, d.env, "--poll-interval", "1s")
	d.waitItems(t, ids, enricher.StatusEnriched, 120*time.Second)
	if st := d.waitDrained(t, 30*time.Second); st.DeadLetters != 0 {
		t.Errorf("dead-letter queue holds %d messages, want 0", st.DeadLetters)
	}
	d.assertExactlyOnce(t, ids)
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("worker exited with %v after SIGTERM, want status 0", err)
	}
}

// TestWorker_AWSCrashRecovery kills a worker with SIGKILL while it works
// through the queue, one ticket at a time, and restarts it: the message it
// held comes back after the queue's visibility timeout (3 s, set by
// `enricher setup`) and every ticket ends enriched exactly once, with an
// empty queue and no dead letters.
func TestWorker_AWSCrashRecovery(t *testing.T) {
	d := mustDeploy(t, "--visibility-timeout", "3s")
	ids := d.putTickets(t, "CRASH", 80)
	args := []string{"--workers", "1", "--visibility-timeout", "3s", "--poll-interval", "1s"}
	w := startWorker(t, d.env, args...)

	deadline := time.Now().Add(60 * time.Second)
	for d.countItems(t) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 5 tickets enriched after 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.stop(t, syscall.SIGKILL)
	before := d.countItems(t)
	st, err := d.queue.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d of %d tickets enriched; queue %+v", before, len(ids), st)
	if before >= len(ids) || st.Visible+st.InFlight == 0 {
		t.Fatalf("%d of %d enriched and queue %+v at the kill: the test did not exercise a crash", before, len(ids), st)
	}

	w = startWorker(t, d.env, args...)
	d.waitItems(t, ids, enricher.StatusEnriched, 60*time.Second)
	if st := d.waitDrained(t, 30*time.Second); st.DeadLetters != 0 {
		t.Errorf("dead-letter queue holds %d messages, want 0", st.DeadLetters)
	}
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("restarted worker exited with %v after SIGTERM, want status 0", err)
	}
	d.assertExactlyOnce(t, ids)
}

// TestWorker_AWSPoisonMessages sends the worker what it cannot process:
// a body that is not JSON and an S3 event for a bucket it does not read go
// straight to the dead-letter queue with their reason, while the good
// tickets queued behind them are enriched. Then a ticket whose processing
// keeps failing: the worker is pointed at a table that does not exist, a
// realistic misconfiguration (a wrong DYNAMODB_TABLE) in which every write
// fails with ENOTREADY, a transient error. The message is retried after
// the retry delay and, at its maxReceiveCount-th receive (2, as `enricher
// setup --max-receives 2` set the redrive policy), dead-lettered with the
// reason.
//
// The queue's visibility timeout is 3 s because stopping a worker cancels
// its long poll, and SQS (moto too) may still hand a message that arrives
// then to the closed connection: it stays hidden for the visibility timeout.
func TestWorker_AWSPoisonMessages(t *testing.T) {
	d := mustDeploy(t, "--max-receives", "2", "--visibility-timeout", "3s")
	garbage := "this is not JSON {"
	foreign := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put",` +
		`"s3":{"bucket":{"name":"someone-elses-bucket","arn":"arn:aws:s3:::someone-elses-bucket"},"object":{"key":"FOREIGN-1.json","size":10}}}]}`
	d.send(t, garbage)
	d.send(t, foreign)
	ids := d.putTickets(t, "GOOD", 10)

	w := startWorker(t, d.env, "--poll-interval", "1s", "--max-receives", "2", "--visibility-timeout", "3s")
	d.waitItems(t, ids, enricher.StatusEnriched, 60*time.Second)
	d.waitDrained(t, 30*time.Second)
	d.assertExactlyOnce(t, ids)

	reasons := map[string]string{}
	for _, m := range d.deadLetters(t) {
		reasons[aws.ToString(m.Body)] = aws.ToString(m.MessageAttributes[sqs.AttrReason].StringValue)
		if src := aws.ToString(m.MessageAttributes[sqs.AttrSourceQueue].StringValue); src != queueName {
			t.Errorf("dead letter %q: %s = %q, want %q", aws.ToString(m.Body), sqs.AttrSourceQueue, src, queueName)
		}
	}
	if len(reasons) != 2 {
		t.Errorf("dead-letter queue holds %d distinct messages %v, want the 2 poison messages", len(reasons), reasons)
	}
	for body, want := range map[string]string{garbage: "JSON", foreign: "someone-elses-bucket"} {
		reason, ok := reasons[body]
		switch {
		case !ok:
			t.Errorf("poison message %q is not in the dead-letter queue", body)
		case !strings.Contains(reason, want):
			t.Errorf("poison message %q dead-lettered with reason %q, want it to mention %q", body, reason, want)
		}
	}
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("worker exited with %v after SIGTERM, want status 0", err)
	}

	// A transient failure that never clears: a worker on a missing table.
	// The stopped worker's last long poll (1 s) may still be open in moto,
	// which would take the next message and hide it, using up a receive:
	// wait until it has ended.
	time.Sleep(2500 * time.Millisecond)
	d.putTickets(t, "STUCK", 1)
	stuck := "STUCK-000_x.y-z"
	w = startWorker(t, d.env, "--poll-interval", "1s", "--max-receives", "2", "--visibility-timeout", "3s", "--table", "no-such-table")
	var dead *sqstypes.Message
	for deadline := time.Now().Add(30 * time.Second); dead == nil; time.Sleep(200 * time.Millisecond) {
		for _, m := range d.deadLetters(t) {
			if strings.Contains(aws.ToString(m.Body), "STUCK-000") {
				dead = &m
			}
		}
		if dead == nil && time.Now().After(deadline) {
			t.Fatalf("the message of %s did not reach the dead-letter queue in 30 s", stuck)
		}
	}
	refs, err := enricher.ParseNotification([]byte(aws.ToString(dead.Body)))
	if err != nil || len(refs) != 1 || refs[0].Key != enricher.ObjectKey(stuck) {
		t.Errorf("dead letter body %s: refs %v (%v), want the S3 notification of %s", aws.ToString(dead.Body), refs, err, enricher.ObjectKey(stuck))
	}
	reason := aws.ToString(dead.MessageAttributes[sqs.AttrReason].StringValue)
	for _, want := range []string{"gave up after 2 attempts", `table "no-such-table" does not exist`} {
		if !strings.Contains(reason, want) {
			t.Errorf("dead letter reason %q does not mention %q", reason, want)
		}
	}
	if n := aws.ToString(dead.MessageAttributes[sqs.AttrReceiveCount].StringValue); n != "2" {
		t.Errorf("dead letter %s = %q, want 2", sqs.AttrReceiveCount, n)
	}
	if got := w.logs.String(); strings.Count(got, `"msg":"retrying message"`) != 1 {
		t.Errorf("worker log has %d retries, want 1 before giving up:\n%s", strings.Count(got, `"msg":"retrying message"`), got)
	}
	d.waitDrained(t, 10*time.Second)
	if avs := d.items(t, stuck); len(avs) != 0 {
		t.Errorf("ticket %s has %d items in the real table, want none", stuck, len(avs))
	}
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("worker exited with %v after SIGTERM, want status 0", err)
	}
}

// TestWorker_AWSDuplicateDelivery delivers S3's notification of an already
// enriched ticket again, as SQS's at-least-once delivery may: first once,
// then twice at the same moment. Each delivery is processed again; the
// ticket keeps exactly one item, whose processed_at moves forward (a newer
// result wins), and one enriched object.
func TestWorker_AWSDuplicateDelivery(t *testing.T) {
	d := mustDeploy(t)
	ids := d.putTickets(t, "DUP", 3)
	ctx := context.Background()

	// A real notification body, read off the queue before any worker runs
	// and handed back at once (setup's s3:TestEvent is skipped).
	var (
		body string
		refs []enricher.ObjectRef
	)
	for deadline := time.Now().Add(10 * time.Second); body == ""; {
		out, err := d.sqs.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(d.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("receive notifications: %v", err)
		}
		for _, m := range out.Messages {
			if r, err := enricher.ParseNotification([]byte(aws.ToString(m.Body))); err == nil && len(r) == 1 && body == "" {
				body, refs = aws.ToString(m.Body), r
			}
			if _, err := d.sqs.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(d.queueURL),
				ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
				t.Fatal(err)
			}
		}
		if body == "" && time.Now().After(deadline) {
			t.Fatal("no S3 notification with one record on the queue after 10 s")
		}
	}
	id, _ := enricher.TicketIDFromKey(refs[0].Key)

	w := startWorker(t, d.env, "--poll-interval", "1s")
	d.waitItems(t, ids, enricher.StatusEnriched, 60*time.Second)
	d.waitDrained(t, 30*time.Second)
	d.assertExactlyOnce(t, ids)
	first, err := d.table.GetItem(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	// waitProcessed waits until the worker has enriched id n times in all.
	waitProcessed := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); w.enrichedCount(id) < n; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("ticket %s enriched %d times, want %d", id, w.enrichedCount(id), n)
			}
		}
		d.waitDrained(t, 30*time.Second)
	}
	d.send(t, body)
	waitProcessed(2)
	second, err := d.table.GetItem(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if second.ProcessedAt <= first.ProcessedAt {
		t.Errorf("after a duplicate delivery processed_at is %s, first result %s: want the newer result", second.ProcessedAt, first.ProcessedAt)
	}
	d.assertExactlyOnce(t, ids)

	d.send(t, body)
	d.send(t, body)
	waitProcessed(4)
	third, err := d.table.GetItem(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if third.ProcessedAt <= second.ProcessedAt {
		t.Errorf("after two more deliveries processed_at is %s, before %s: want it to move forward", third.ProcessedAt, second.ProcessedAt)
	}
	if avs := d.items(t, id); len(avs) != 1 {
		t.Errorf("ticket %s has %d items, want 1", id, len(avs))
	}
	if n := d.countItems(t); n != len(ids) {
		t.Errorf("table holds %d items, want %d", n, len(ids))
	}
	if keys := d.enrichedKeys(t); len(keys) != len(ids) {
		t.Errorf("%s holds %d objects, want %d", enrichedBucket, len(keys), len(ids))
	}
	if st, err := d.queue.Stats(ctx); err != nil || st.DeadLetters != 0 {
		t.Errorf("queue stats %+v (%v), want no dead letters", st, err)
	}
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("worker exited with %v after SIGTERM, want status 0", err)
	}
}

// TestWorker_AWSFaultInjection runs the worker through a proxy that fails
// 15% of its requests to S3, SQS and DynamoDB (5xx, throttling, dropped
// connections before and after the emulator handled the request, latency):
// the SDK's retries and the worker's redelivery make every ticket end
// enriched exactly once, with nothing dead-lettered.
func TestWorker_AWSFaultInjection(t *testing.T) {
	d := mustDeploy(t, "--visibility-timeout", "4s")
	proxy := startFaultProxy(t, d.srv.URL, 0.15, 20261129)
	ids := d.putTickets(t, "FAULT", 50)
	w := startWorker(t, awsEnv(proxy.URL), "--poll-interval", "1s", "--visibility-timeout", "4s")
	d.waitItems(t, ids, enricher.StatusEnriched, 90*time.Second)
	if st := d.waitDrained(t, 30*time.Second); st.DeadLetters != 0 {
		t.Errorf("dead-letter queue holds %d messages, want 0", st.DeadLetters)
	}
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("worker exited with %v after SIGTERM, want status 0", err)
	}
	d.assertExactlyOnce(t, ids)

	requests, retries, faults := proxy.Counts()
	t.Logf("fault proxy: %s", proxy)
	for _, kind := range faultKinds {
		if faults[kind] == 0 {
			t.Errorf("the proxy injected no %s fault in %d requests: the test did not exercise it", kind, requests)
		}
	}
	if retries == 0 {
		t.Errorf("the SDK retried none of %d requests, %v of them faulty", requests, faults)
	}
}
