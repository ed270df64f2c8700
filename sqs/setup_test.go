package sqs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// MustAttributes reads all attributes of the queue at url.
func (e *emulator) MustAttributes(tb testing.TB, url string) map[string]string {
	tb.Helper()
	out, err := e.client.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		tb.Fatalf("read attributes of %s: %v", url, err)
	}
	return out.Attributes
}

// MustEnsure runs EnsureQueues, failing the test on error.
func (e *emulator) MustEnsure(tb testing.TB, name, dlq string, maxReceives int, visibility time.Duration) Result {
	tb.Helper()
	res, err := EnsureQueues(context.Background(), e.client, name, dlq, maxReceives, visibility)
	if err != nil {
		tb.Fatalf("EnsureQueues(%s, %s, %d, %v): got error %v, want none", name, dlq, maxReceives, visibility, err)
	}
	return res
}

// changes renders changes one per line for comparisons.
func changes(cs []Change) string {
	lines := make([]string, len(cs))
	for i, c := range cs {
		lines[i] = c.String()
	}
	return strings.Join(lines, "\n")
}

// checkRedrive fails unless the queue's attributes say visibility seconds and
// a redrive to dlqARN after maxReceives.
func checkRedrive(tb testing.TB, attrs map[string]string, visibility string, dlqARN string, maxReceives int) {
	tb.Helper()
	if attrs["VisibilityTimeout"] != visibility {
		tb.Errorf("got VisibilityTimeout %q, want %q", attrs["VisibilityTimeout"], visibility)
	}
	rp, err := parseRedrivePolicy(attrs["RedrivePolicy"])
	if err != nil || rp.TargetARN != dlqARN || rp.MaxReceiveCount.String() != fmt.Sprint(maxReceives) {
		tb.Errorf("got RedrivePolicy %q (%v), want target %s and maxReceiveCount %d", attrs["RedrivePolicy"], err, dlqARN, maxReceives)
	}
}

func TestEnsureQueues(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()

	t.Run("create, then no change, then updates", func(t *testing.T) {
		name, dlq := e.names("ensure")
		first := e.MustEnsure(t, name, dlq, 5, 300*time.Second)
		wantFirst := fmt.Sprintf("create queue %s (MessageRetentionPeriod=1209600)\n"+
			"create queue %s (RedrivePolicy={\"deadLetterTargetArn\":%q,\"maxReceiveCount\":5}, VisibilityTimeout=300)",
			dlq, name, first.DeadLetterARN)
		if got := changes(first.Changes); got != wantFirst {
			t.Errorf("first run: got changes\n%s\nwant\n%s", got, wantFirst)
		}
		if first.QueueURL == "" || first.DeadLetterURL == "" || !strings.HasSuffix(first.QueueARN, ":"+name) || !strings.HasSuffix(first.DeadLetterARN, ":"+dlq) {
			t.Fatalf("first run: got %+v, want the URLs and ARNs of both queues", first)
		}
		checkRedrive(t, e.MustAttributes(t, first.QueueURL), "300", first.DeadLetterARN, 5)
		if got := e.MustAttributes(t, first.DeadLetterURL)["MessageRetentionPeriod"]; got != "1209600" {
			t.Errorf("dead-letter queue: got MessageRetentionPeriod %q, want 1209600", got)
		}

		second := e.MustEnsure(t, name, dlq, 5, 300*time.Second)
		if second.Changed() {
			t.Errorf("second run: got changes\n%s\nwant none", changes(second.Changes))
		}
		if second.QueueURL != first.QueueURL || second.QueueARN != first.QueueARN || second.DeadLetterURL != first.DeadLetterURL || second.DeadLetterARN != first.DeadLetterARN {
			t.Errorf("second run: got %+v, want the same queues as the first %+v", second, first)
		}

		// The queue works and finds its dead-letter queue by the redrive policy.
		q := e.MustNew(t, name, Options{})
		if q.DeadLetterQueue() != dlq {
			t.Errorf("New: got dead-letter queue %q, want %q", q.DeadLetterQueue(), dlq)
		}

		plan, err := PlanQueues(ctx, e.client, name, dlq, 8, 300*time.Second)
		enrichertest.MustNoError(t, err, "plan")
		wantPlan := fmt.Sprintf("update queue %s: RedrivePolicy {\"deadLetterTargetArn\":%q,\"maxReceiveCount\":5} -> {\"deadLetterTargetArn\":%q,\"maxReceiveCount\":8}",
			name, first.DeadLetterARN, first.DeadLetterARN)
		if got := changes(plan.Changes); got != wantPlan {
			t.Errorf("plan: got\n%s\nwant\n%s", got, wantPlan)
		}
		checkRedrive(t, e.MustAttributes(t, first.QueueURL), "300", first.DeadLetterARN, 5) // the plan changed nothing

		third := e.MustEnsure(t, name, dlq, 8, 300*time.Second)
		if got := changes(third.Changes); got != wantPlan {
			t.Errorf("changed maxReceiveCount: got changes\n%s\nwant\n%s", got, wantPlan)
		}
		checkRedrive(t, e.MustAttributes(t, first.QueueURL), "300", first.DeadLetterARN, 8)

		fourth := e.MustEnsure(t, name, dlq, 8, 1500*time.Millisecond)
		wantVis := fmt.Sprintf("update queue %s: VisibilityTimeout 300 -> 2", name)
		if got := changes(fourth.Changes); got != wantVis {
			t.Errorf("changed visibility: got changes\n%s\nwant\n%s", got, wantVis)
		}
		checkRedrive(t, e.MustAttributes(t, first.QueueURL), "2", first.DeadLetterARN, 8)
		if again := e.MustEnsure(t, name, dlq, 8, 1500*time.Millisecond); again.Changed() {
			t.Errorf("after the updates: got changes\n%s\nwant none", changes(again.Changes))
		}
	})

	t.Run("plan on nothing creates nothing", func(t *testing.T) {
		name, dlq := e.names("plan")
		plan, err := PlanQueues(ctx, e.client, name, dlq, 3, time.Minute)
		enrichertest.MustNoError(t, err, "plan")
		want := fmt.Sprintf("create queue %s (MessageRetentionPeriod=1209600)\n"+
			"create queue %s (RedrivePolicy={\"deadLetterTargetArn\":\"(ARN of %s)\",\"maxReceiveCount\":3}, VisibilityTimeout=60)", dlq, name, dlq)
		if got := changes(plan.Changes); got != want {
			t.Errorf("got plan\n%s\nwant\n%s", got, want)
		}
		if plan.QueueURL != "" || plan.DeadLetterARN != "" {
			t.Errorf("got %+v, want no URLs or ARNs for queues not created", plan)
		}
		for _, n := range []string{name, dlq} {
			_, err := queueURL(ctx, e.client, n, "")
			enrichertest.MustCode(t, err, enricher.ENOTFOUND)
		}
	})

	t.Run("existing queues without the settings", func(t *testing.T) {
		name, dlq := e.names("adopt")
		url := e.MustCreate(t, name, map[string]string{"VisibilityTimeout": "30"})
		e.MustCreate(t, dlq, nil)
		res := e.MustEnsure(t, name, dlq, 4, 30*time.Second)
		want := fmt.Sprintf("update queue %s: MessageRetentionPeriod 345600 -> 1209600\n"+
			"update queue %s: RedrivePolicy (unset) -> {\"deadLetterTargetArn\":%q,\"maxReceiveCount\":4}", dlq, name, res.DeadLetterARN)
		if got := changes(res.Changes); got != want {
			t.Errorf("got changes\n%s\nwant\n%s", got, want)
		}
		checkRedrive(t, e.MustAttributes(t, url), "30", res.DeadLetterARN, 4)
	})

	t.Run("created meanwhile with other attributes", func(t *testing.T) {
		name, dlq := e.names("race")
		api := &racingAPI{SetupAPI: e.client, e: e, t: t, name: name}
		res, err := EnsureQueues(ctx, api, name, dlq, 2, 10*time.Second)
		enrichertest.MustNoError(t, err, "ensure")
		want := fmt.Sprintf("create queue %s (MessageRetentionPeriod=1209600)\n"+
			"update queue %s: RedrivePolicy (unset) -> {\"deadLetterTargetArn\":%q,\"maxReceiveCount\":2}\n"+
			"update queue %s: VisibilityTimeout 77 -> 10", dlq, name, res.DeadLetterARN, name)
		if got := changes(res.Changes); got != want {
			t.Errorf("got changes\n%s\nwant\n%s", got, want)
		}
		checkRedrive(t, e.MustAttributes(t, res.QueueURL), "10", res.DeadLetterARN, 2)
	})

	t.Run("validation", func(t *testing.T) {
		tests := []struct {
			name, queue, dlq string
			maxReceives      int
			visibility       time.Duration
		}{
			{"empty name", "", "d", 3, time.Second},
			{"bad name", "a b", "d", 3, time.Second},
			{"empty dead-letter name", "q", "", 3, time.Second},
			{"its own dead-letter queue", "q", "q", 3, time.Second},
			{"zero max receives", "q", "d", 0, time.Second},
			{"too many max receives", "q", "d", 1001, time.Second},
			{"negative visibility", "q", "d", 3, -time.Second},
			{"visibility over 12h", "q", "d", 3, MaxVisibilityTimeout + time.Second},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := EnsureQueues(ctx, e.client, tt.queue, tt.dlq, tt.maxReceives, tt.visibility)
				enrichertest.MustCode(t, err, enricher.EINVALID)
			})
		}
	})
}

// racingAPI creates the queue name, with other attributes, just before
// EnsureQueues's CreateQueue of it, as a concurrent setup would.
type racingAPI struct {
	SetupAPI
	e    *emulator
	t    *testing.T
	name string
}

func (r *racingAPI) CreateQueue(ctx context.Context, in *awssqs.CreateQueueInput, optFns ...func(*awssqs.Options)) (*awssqs.CreateQueueOutput, error) {
	if aws.ToString(in.QueueName) == r.name {
		r.e.MustCreate(r.t, r.name, map[string]string{"VisibilityTimeout": "77"})
	}
	out, err := r.SetupAPI.CreateQueue(ctx, in, optFns...)
	if aws.ToString(in.QueueName) == r.name {
		if err == nil || !isQueueExists(err) {
			r.t.Errorf("racing CreateQueue: got error %v, want QueueNameExists or QueueAlreadyExists", err)
		}
	}
	return out, err
}

// policyStatements reads the queue's policy and returns its statements.
func (e *emulator) policyStatements(tb testing.TB, url string) []map[string]any {
	tb.Helper()
	p := e.MustAttributes(tb, url)["Policy"]
	var doc struct {
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(p), &doc); err != nil {
		tb.Fatalf("parse policy %q: %v", p, err)
	}
	return doc.Statement
}

func TestEnsureS3Policy(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()
	name, _ := e.names("policy")
	url := e.MustCreate(t, name, nil)
	arn := e.MustARN(t, url)
	const raw, other = "arn:aws:s3:::tickets-raw", "arn:aws:s3:::tickets.archive"

	ensure := func(t *testing.T, bucket string, want bool) {
		t.Helper()
		plan, err := PlanS3Policy(ctx, e.client, url, arn, bucket)
		enrichertest.MustNoError(t, err, "plan")
		changed, err := EnsureS3Policy(ctx, e.client, url, arn, bucket)
		enrichertest.MustNoError(t, err, "ensure")
		if plan != want || changed != want {
			t.Errorf("bucket %s: got plan %v and changed %v, want %v", bucket, plan, changed, want)
		}
	}

	t.Run("first run sets the statement", func(t *testing.T) {
		plan, err := PlanS3Policy(ctx, e.client, url, arn, raw)
		enrichertest.MustNoError(t, err, "plan")
		if p := e.MustAttributes(t, url)["Policy"]; !plan || p != "" {
			t.Fatalf("plan: got %v and policy %q, want true and no policy set yet", plan, p)
		}
		ensure(t, raw, true)
		st := e.policyStatements(t, url)
		if len(st) != 1 {
			t.Fatalf("got %d statements, want 1", len(st))
		}
		got, _ := json.Marshal(st[0])
		want := fmt.Sprintf(`{"Action":"sqs:SendMessage","Condition":{"ArnLike":{"aws:SourceArn":%q}},"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Resource":%q,"Sid":"AllowS3NotificationsTicketsRaw"}`, raw, arn)
		if string(got) != want {
			t.Errorf("got statement\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("second run changes nothing", func(t *testing.T) { ensure(t, raw, false) })

	t.Run("other statements are kept", func(t *testing.T) {
		p := e.MustAttributes(t, url)["Policy"]
		var doc map[string]any
		if err := json.Unmarshal([]byte(p), &doc); err != nil {
			t.Fatal(err)
		}
		doc["Statement"] = append(doc["Statement"].([]any), map[string]any{
			"Sid": "Operator", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::123456789012:root"},
			"Action": []any{"sqs:ReceiveMessage"}, "Resource": arn,
		})
		b, _ := json.Marshal(doc)
		if _, err := e.client.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"Policy": string(b)}}); err != nil {
			t.Fatal(err)
		}
		ensure(t, raw, false)
		ensure(t, other, true)
		ensure(t, other, false)
		var sids []string
		for _, s := range e.policyStatements(t, url) {
			sids = append(sids, fmt.Sprint(s["Sid"]))
		}
		if got := strings.Join(sids, ","); got != "AllowS3NotificationsTicketsRaw,Operator,AllowS3NotificationsTicketsArchive" {
			t.Errorf("got statements %s, want the raw bucket's, the operator's, then the archive bucket's", got)
		}
	})

	t.Run("a tampered statement is put back", func(t *testing.T) {
		p := e.MustAttributes(t, url)["Policy"]
		tampered := strings.Replace(p, "s3.amazonaws.com", "sns.amazonaws.com", 1)
		if tampered == p {
			t.Fatalf("policy %s has no s3.amazonaws.com to tamper with", p)
		}
		if _, err := e.client.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"Policy": tampered}}); err != nil {
			t.Fatal(err)
		}
		ensure(t, raw, true)
		ensure(t, raw, false)
		if got := len(e.policyStatements(t, url)); got != 3 {
			t.Errorf("got %d statements, want 3", got)
		}
	})

	t.Run("validation", func(t *testing.T) {
		tests := []struct{ name, url, queueARN, bucketARN string }{
			{"empty URL", "", arn, raw},
			{"bad queue ARN", url, "arn:aws:s3:::x", raw},
			{"bad bucket ARN", url, arn, "arn:aws:sqs:us-east-1:123456789012:q"},
			{"bucket name only", url, arn, "tickets-raw"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := EnsureS3Policy(ctx, e.client, tt.url, tt.queueARN, tt.bucketARN)
				enrichertest.MustCode(t, err, enricher.EINVALID)
			})
		}
	})

	t.Run("missing queue", func(t *testing.T) {
		_, err := EnsureS3Policy(ctx, e.client, e.srv.URL+"/123456789012/no-such-queue", "arn:aws:sqs:us-east-1:123456789012:no-such-queue", raw)
		enrichertest.MustCode(t, err, enricher.ENOTFOUND)
	})
}

func TestWithS3Statement(t *testing.T) {
	const q, b = "arn:aws:sqs:us-east-1:1:q", "arn:aws:s3:::tickets-raw"
	want := s3Statement(q, b)
	wantJSON, _ := json.Marshal(want)
	tests := []struct {
		name        string
		current     string
		wantChanged bool
		wantCount   int
	}{
		{"no policy", "", true, 1},
		{"empty statements", `{"Version":"2012-10-17","Statement":[]}`, true, 1},
		{"single statement object", `{"Statement":{"Sid":"Other","Effect":"Deny"}}`, true, 2},
		{"same statement", `{"Version":"2012-10-17","Id":"x","Statement":[` + string(wantJSON) + `]}`, false, 1},
		{"same with one-element arrays", `{"Statement":[{"Sid":"AllowS3NotificationsTicketsRaw","Effect":"Allow","Principal":{"Service":["s3.amazonaws.com"]},"Action":["sqs:SendMessage"],"Resource":"` + q + `","Condition":{"ArnLike":{"aws:SourceArn":["` + b + `"]}}}]}`, false, 1},
		{"other bucket's condition", strings.Replace(`{"Statement":[`+string(wantJSON)+`]}`, "tickets-raw", "elsewhere", 1), true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed, err := withS3Statement(tt.current, q, b)
			enrichertest.MustNoError(t, err, "withS3Statement")
			if changed != tt.wantChanged {
				t.Errorf("got changed %v, want %v", changed, tt.wantChanged)
			}
			var doc struct {
				Version   string
				Statement []map[string]any
			}
			if err := json.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatalf("result %q: %v", got, err)
			}
			if !changed {
				if got != tt.current {
					t.Errorf("unchanged: got policy %s, want the current one %s", got, tt.current)
				}
				return
			}
			if len(doc.Statement) != tt.wantCount || doc.Version != "2012-10-17" {
				t.Errorf("got %d statements, version %q, want %d and 2012-10-17: %s", len(doc.Statement), doc.Version, tt.wantCount, got)
			}
			if last, _ := json.Marshal(doc.Statement[len(doc.Statement)-1]); string(last) != string(wantJSON) {
				t.Errorf("got last statement %s, want %s", last, wantJSON)
			}
		})
	}
	if _, _, err := withS3Statement(`{"Statement":"nonsense"}`, q, b); err == nil {
		t.Errorf("statement that is a string: got no error, want one")
	}
	if _, _, err := withS3Statement(`not json`, q, b); err == nil {
		t.Errorf("policy that is not JSON: got no error, want one")
	}
}
