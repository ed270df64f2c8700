package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/awstest"
	"github.com/ticket-enricher/enricher/dynamodb"
	"github.com/ticket-enricher/enricher/s3"
	"github.com/ticket-enricher/enricher/sqs"
)

// awsEnv points the binary at the emulator with test credentials.
func awsEnv(srv *awstest.Server) []string {
	return append(os.Environ(), "LOG_LEVEL=info", "AWS_ENDPOINT_URL="+srv.URL, "AWS_REGION="+awstest.Region,
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

// TestWorker_AWS is the AWS deployment against moto's server: `enricher
// setup`, then tickets put into the raw bucket by an ordinary S3 client,
// S3's notifications to the queue, and `enricher worker` enriching them into
// DynamoDB items and enriched objects that follow the contracts; a second
// setup changes nothing; the worker stops cleanly on SIGTERM.
func TestWorker_AWS(t *testing.T) {
	mustModelCache(t)
	srv := awstest.Start(t)
	env := awsEnv(srv)
	ctx := context.Background()

	out := mustRun(t, env, "setup")
	if !strings.Contains(out, "7 changes made") {
		t.Fatalf("first setup printed:\n%s\nwant 7 changes", out)
	}
	if out := mustRun(t, env, "setup"); !strings.Contains(out, "no changes") {
		t.Fatalf("second setup printed:\n%s\nwant no changes", out)
	}

	// 100 tickets from the labeled set, put by a plain S3 client; some keys
	// carry characters that S3 URL-encodes in notifications.
	cfg := srv.Config(t)
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	var ids []string
	sc := enricher.NewTicketScanner(bytes.NewReader(mustLabeled(t)))
	for sc.Scan() && len(ids) < 100 {
		var m map[string]any
		if err := json.Unmarshal(sc.Ticket().Data, &m); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("AWS-%03d", len(ids))
		if len(ids)%10 == 0 {
			id += "_x.y-z" // '.', '_' and '-' survive the encoding
		}
		m["ticket_id"] = id
		body, _ := json.Marshal(m)
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("tickets-raw"),
			Key: aws.String(enricher.ObjectKey(id)), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", id, err)
		}
		ids = append(ids, id)
	}

	worker := exec.Command(mustBinary(t), "worker", "--poll-interval", "1s")
	worker.Env = env
	var logs bytes.Buffer
	worker.Stdout, worker.Stderr = &logs, &logs
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- worker.Wait() }()
	t.Cleanup(func() {
		worker.Process.Kill()
		if t.Failed() {
			t.Logf("worker logs:\n%s", logs.String())
		}
	})

	table, err := dynamodb.New(cfg, "tickets")
	if err != nil {
		t.Fatal(err)
	}
	enrichedStore, err := s3.New(cfg, "tickets-enriched", s3.Options{UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(120 * time.Second)
	for _, id := range ids {
		for {
			it, err := table.GetItem(ctx, id)
			if err == nil {
				if it.Status != enricher.StatusEnriched || it.Urgency == "" || it.Intent == "" || it.S3Key != enricher.ObjectKey(id) {
					t.Errorf("item %s: %+v, want an enriched item with intent, urgency and s3_key", id, it)
				}
				break
			}
			if enricher.ErrorCode(err) != enricher.ENOTFOUND {
				t.Fatalf("get item %s: %v", id, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("ticket %s not enriched after 120 s", id)
			}
			time.Sleep(200 * time.Millisecond)
		}
		data, err := enrichedStore.GetObject(ctx, enricher.ObjectKey(id))
		if err != nil {
			t.Fatalf("enriched object %s: %v", id, err)
		}
		var rec struct {
			TicketID   string `json:"ticket_id"`
			Enrichment struct {
				Embedding []float32 `json:"embedding"`
				Intent    string    `json:"intent"`
			} `json:"enrichment"`
		}
		if err := json.Unmarshal(data, &rec); err != nil || rec.TicketID != id || len(rec.Enrichment.Embedding) != 384 || rec.Enrichment.Intent == "" {
			t.Errorf("enriched object %s: id %q, %d dims, intent %q (%v); want the ticket with a 384-dim embedding", id, rec.TicketID, len(rec.Enrichment.Embedding), rec.Enrichment.Intent, err)
		}
	}

	q, err := sqs.New(ctx, cfg, "ticket-processing", sqs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Visible+st.InFlight == 0 {
			if st.DeadLetters != 0 {
				t.Errorf("dead-letter queue holds %d messages, want 0", st.DeadLetters)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not drain: %+v", st)
		}
	}

	worker.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("worker exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("worker did not stop after SIGTERM")
	}
}
