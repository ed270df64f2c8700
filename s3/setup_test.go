package s3

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/awstest"
	"github.com/ticket-enricher/enricher/enrichertest"
)

func TestEnsureBucket(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()

	for _, region := range []string{"us-east-1", "eu-west-1"} {
		t.Run(region, func(t *testing.T) {
			cfg := e.cfg.Copy()
			cfg.Region = region
			client := NewClient(cfg, Options{UsePathStyle: true})
			name := e.bucketName("ensure-" + region)
			for i, want := range []bool{true, false, false} {
				created, err := EnsureBucket(ctx, client, name, region)
				enrichertest.MustNoError(t, err, "EnsureBucket")
				if created != want {
					t.Errorf("run %d: got created=%v, want %v", i+1, created, want)
				}
			}
			loc, err := client.GetBucketLocation(ctx, &awss3.GetBucketLocationInput{Bucket: aws.String(name)})
			if err != nil {
				t.Fatalf("GetBucketLocation: %v", err)
			}
			wantLoc := types.BucketLocationConstraint(region)
			if region == "us-east-1" {
				wantLoc = "" // S3 reports us-east-1 as no constraint
			}
			if loc.LocationConstraint != wantLoc {
				t.Errorf("location: got %q, want %q", loc.LocationConstraint, wantLoc)
			}
			exists, err := BucketExists(ctx, client, name)
			if err != nil || !exists {
				t.Errorf("BucketExists: got %v, %v, want true, no error", exists, err)
			}
		})
	}

	t.Run("lost race", func(t *testing.T) {
		// Another setup created the bucket between our HeadBucket and our
		// CreateBucket: outside us-east-1, S3 answers
		// BucketAlreadyOwnedByYou, which means "exists".
		cfg := e.cfg.Copy()
		cfg.Region = "eu-west-1"
		client := NewClient(cfg, Options{UsePathStyle: true})
		name := e.bucketName("race")
		if _, err := EnsureBucket(ctx, client, name, "eu-west-1"); err != nil {
			t.Fatalf("first EnsureBucket: %v", err)
		}
		created, err := EnsureBucket(ctx, headSaysMissing{client}, name, "eu-west-1")
		if err != nil || created {
			t.Errorf("got created=%v, err=%v, want not created, no error", created, err)
		}
	})

	t.Run("taken by another account", func(t *testing.T) {
		// moto takes the account from the x-moto-account-id header. Its
		// HeadBucket answers 200 for another account's bucket where AWS
		// answers 403, so the check is made to say 404 to reach
		// CreateBucket, which moto answers as AWS does.
		other := e.cfg.Copy()
		other.APIOptions = append(other.APIOptions, smithyhttp.AddHeaderValue("x-moto-account-id", "111111111111"))
		otherClient := NewClient(other, Options{UsePathStyle: true})
		name := e.bucketName("taken")
		if _, err := EnsureBucket(ctx, otherClient, name, awstest.Region); err != nil {
			t.Fatalf("EnsureBucket by the other account: %v", err)
		}
		created, err := EnsureBucket(ctx, headSaysMissing{e.client}, name, awstest.Region)
		enrichertest.MustCode(t, err, enricher.ECONFLICT)
		if created {
			t.Errorf("got created=true with the error")
		}
		if !strings.Contains(err.Error(), "another AWS account") {
			t.Errorf("got %q, want it to say the name is another account's", err)
		}
	})

	t.Run("forbidden", func(t *testing.T) {
		// What AWS's HeadBucket answers for another account's bucket, or
		// without s3:ListBucket.
		forbidden := headFails{e.client, apiError(403, "Forbidden")}
		created, err := EnsureBucket(ctx, forbidden, e.bucketName("forbidden"), awstest.Region)
		if err == nil || created || !strings.Contains(err.Error(), "may not use it") {
			t.Errorf("got created=%v, err=%v, want an error saying the account may not use it", created, err)
		}
		if enricher.ErrorCode(err) != enricher.EINTERNAL {
			t.Errorf("code: got %q, want %q", enricher.ErrorCode(err), enricher.EINTERNAL)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		tests := []struct{ name, bucket, region string }{
			{"empty name", "", awstest.Region},
			{"empty region", "ok-name", ""},
			{"slash", "a/b", awstest.Region},
			{"rejected by S3", "ab", awstest.Region},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				created, err := EnsureBucket(ctx, e.client, tt.bucket, tt.region)
				enrichertest.MustCode(t, err, enricher.EINVALID)
				if created {
					t.Errorf("got created=true with the error")
				}
			})
		}
	})
}

// headSaysMissing is an S3 client whose HeadBucket always answers 404, to
// replay the race in which the bucket appears after it was checked.
type headSaysMissing struct{ SetupAPI }

func (headSaysMissing) HeadBucket(context.Context, *awss3.HeadBucketInput, ...func(*awss3.Options)) (*awss3.HeadBucketOutput, error) {
	return nil, apiError(404, "NotFound")
}

// headFails is an S3 client whose HeadBucket fails with err.
type headFails struct {
	SetupAPI
	err error
}

func (h headFails) HeadBucket(context.Context, *awss3.HeadBucketInput, ...func(*awss3.Options)) (*awss3.HeadBucketOutput, error) {
	return nil, h.err
}

// queue creates an SQS queue on the emulator and returns its URL and ARN.
func (e *emulator) queue(t *testing.T, name string) (client *sqs.Client, url, arn string) {
	t.Helper()
	ctx := context.Background()
	client = sqs.NewFromConfig(e.cfg)
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateQueue(%q): %v", name, err)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes(%q): %v", name, err)
	}
	return client, aws.ToString(out.QueueUrl), attrs.Attributes["QueueArn"]
}

// received is one message of the queue, its body and what it announces.
type received struct {
	body string
	refs []enricher.ObjectRef
}

// receive reads messages until it has want of them or 10 s have passed,
// deleting each, and parses each with enricher.ParseNotification.
func receive(t *testing.T, client *sqs.Client, url string, want int) []received {
	t.Helper()
	ctx := context.Background()
	var got []received
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		for _, m := range out.Messages {
			refs, err := enricher.ParseNotification([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Errorf("ParseNotification(%s): %v", aws.ToString(m.Body), err)
			}
			got = append(got, received{body: aws.ToString(m.Body), refs: refs})
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
	if len(got) != want {
		t.Fatalf("got %d messages, want %d: %v", len(got), want, got)
	}
	return got
}

func TestEnsureNotification(t *testing.T) {
	e := startEmulator(t)
	ctx := context.Background()

	t.Run("end to end", func(t *testing.T) {
		sqsClient, url, arn := e.queue(t, "raw-events")
		bucket := e.bucketName("raw")
		if _, err := EnsureBucket(ctx, e.client, bucket, awstest.Region); err != nil {
			t.Fatalf("EnsureBucket: %v", err)
		}
		if ok, err := NotificationConfigured(ctx, e.client, bucket, arn); err != nil || ok {
			t.Fatalf("NotificationConfigured before: got %v, %v, want false, no error", ok, err)
		}
		for i, want := range []bool{true, false} {
			changed, err := EnsureNotification(ctx, e.client, bucket, arn)
			enrichertest.MustNoError(t, err, "EnsureNotification")
			if changed != want {
				t.Errorf("run %d: got changed=%v, want %v", i+1, changed, want)
			}
		}
		if ok, err := NotificationConfigured(ctx, e.client, bucket, arn); err != nil || !ok {
			t.Fatalf("NotificationConfigured after: got %v, %v, want true, no error", ok, err)
		}

		// Configuring the notification sent one s3:TestEvent, which
		// announces nothing.
		test := receive(t, sqsClient, url, 1)
		if !strings.Contains(test[0].body, "s3:TestEvent") || len(test[0].refs) != 0 {
			t.Errorf("first message: got %s with refs %v, want an s3:TestEvent with none", test[0].body, test[0].refs)
		}

		s, err := New(e.cfg, bucket, Options{UsePathStyle: true})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		tests := []struct {
			key     string
			encoded string // as S3 writes it in the event (form encoding)
		}{
			{"T-1.json", "T-1.json"},
			{"a b+c.json", "a+b%2Bc.json"},
			{"folder/T 2+x.json", "T+2%2Bx.json"},
		}
		for _, tt := range tests {
			enrichertest.MustNoError(t, s.PutObject(ctx, tt.key, []byte(`{}`)), "put "+tt.key)
		}
		msgs := receive(t, sqsClient, url, len(tests))
		var keys []string
		for _, m := range msgs {
			t.Logf("S3 event: %s", m.body)
			if len(m.refs) != 1 {
				t.Errorf("message %s: got %d refs, want 1", m.body, len(m.refs))
				continue
			}
			if m.refs[0].Bucket != bucket {
				t.Errorf("message %s: got bucket %q, want %q", m.body, m.refs[0].Bucket, bucket)
			}
			keys = append(keys, m.refs[0].Key)
		}
		slices.Sort(keys)
		wantKeys := []string{"T-1.json", "a b+c.json", "folder/T 2+x.json"}
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("keys: got %q, want %q", keys, wantKeys)
		}
		for _, tt := range tests {
			if !slices.ContainsFunc(msgs, func(m received) bool { return strings.Contains(m.body, tt.encoded) }) {
				t.Errorf("no message has the key %q encoded as %q", tt.key, tt.encoded)
			}
		}
		for _, m := range msgs {
			var ev struct {
				Records []struct {
					EventName string `json:"eventName"`
				}
			}
			if err := json.Unmarshal([]byte(m.body), &ev); err != nil || len(ev.Records) != 1 || ev.Records[0].EventName != "ObjectCreated:Put" {
				t.Errorf("message %s: want one ObjectCreated:Put record", m.body)
			}
		}
	})

	t.Run("keeps other configurations", func(t *testing.T) {
		_, _, arn := e.queue(t, "keep-ours")
		_, _, otherARN := e.queue(t, "keep-other")
		bucket := e.bucketName("keep")
		if _, err := EnsureBucket(ctx, e.client, bucket, awstest.Region); err != nil {
			t.Fatalf("EnsureBucket: %v", err)
		}
		topicARN := "arn:aws:sns:us-east-1:123456789012:audit"
		_, err := e.client.PutBucketNotificationConfiguration(ctx, &awss3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(bucket),
			NotificationConfiguration: &types.NotificationConfiguration{
				TopicConfigurations: []types.TopicConfiguration{{
					Id: aws.String("audit"), TopicArn: aws.String(topicARN), Events: []types.Event{"s3:ObjectRemoved:*"},
				}},
				QueueConfigurations: []types.QueueConfiguration{{
					Id: aws.String("other"), QueueArn: aws.String(otherARN), Events: []types.Event{"s3:ObjectCreated:*"},
					Filter: &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: []types.FilterRule{
						{Name: types.FilterRuleNamePrefix, Value: aws.String("archive/")},
					}}},
				}},
			},
		})
		if err != nil {
			t.Fatalf("PutBucketNotificationConfiguration: %v", err)
		}
		changed, err := EnsureNotification(ctx, e.client, bucket, arn)
		if err != nil || !changed {
			t.Fatalf("EnsureNotification: got changed=%v, %v, want changed, no error", changed, err)
		}
		got := mustNotification(t, e.client, bucket)
		if len(got.TopicConfigurations) != 1 || aws.ToString(got.TopicConfigurations[0].TopicArn) != topicARN {
			t.Errorf("topics: got %+v, want the audit topic kept", got.TopicConfigurations)
		}
		wantQueues := map[string]string{"other": otherARN, NotificationID: arn}
		gotQueues := map[string]string{}
		for _, q := range got.QueueConfigurations {
			gotQueues[aws.ToString(q.Id)] = aws.ToString(q.QueueArn)
		}
		if len(gotQueues) != len(wantQueues) || gotQueues["other"] != otherARN || gotQueues[NotificationID] != arn {
			t.Errorf("queues: got %v, want %v", gotQueues, wantQueues)
		}

		// Moving ours to another queue updates it in place.
		_, _, movedARN := e.queue(t, "keep-moved")
		changed, err = EnsureNotification(ctx, e.client, bucket, movedARN)
		if err != nil || !changed {
			t.Fatalf("EnsureNotification to another queue: got changed=%v, %v, want changed, no error", changed, err)
		}
		got = mustNotification(t, e.client, bucket)
		gotQueues = map[string]string{}
		for _, q := range got.QueueConfigurations {
			gotQueues[aws.ToString(q.Id)] = aws.ToString(q.QueueArn)
		}
		if len(gotQueues) != 2 || gotQueues[NotificationID] != movedARN || gotQueues["other"] != otherARN {
			t.Errorf("queues after the move: got %v, want ours on %s and other kept", gotQueues, movedARN)
		}
		if len(got.TopicConfigurations) != 1 {
			t.Errorf("topics after the move: got %d, want 1", len(got.TopicConfigurations))
		}
	})

	t.Run("configured by hand", func(t *testing.T) {
		_, _, arn := e.queue(t, "by-hand")
		bucket := e.bucketName("by-hand")
		if _, err := EnsureBucket(ctx, e.client, bucket, awstest.Region); err != nil {
			t.Fatalf("EnsureBucket: %v", err)
		}
		_, err := e.client.PutBucketNotificationConfiguration(ctx, &awss3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(bucket),
			NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{{
				Id: aws.String("python-worker"), QueueArn: aws.String(arn),
				Events: []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"},
			}}},
		})
		if err != nil {
			t.Fatalf("PutBucketNotificationConfiguration: %v", err)
		}
		changed, err := EnsureNotification(ctx, e.client, bucket, arn)
		if err != nil || changed {
			t.Errorf("got changed=%v, %v, want unchanged, no error", changed, err)
		}
		if got := mustNotification(t, e.client, bucket); len(got.QueueConfigurations) != 1 {
			t.Errorf("got %d queue configurations, want the 1 set by hand", len(got.QueueConfigurations))
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, _, arn := e.queue(t, "errors")
		tests := []struct {
			name, bucket, arn string
			wantCode          string
		}{
			{"no such bucket", "missing-bucket", arn, enricher.ENOTREADY},
			{"queue URL instead of ARN", "any-bucket", "http://127.0.0.1/123456789012/q", enricher.EINVALID},
			{"SNS ARN", "any-bucket", "arn:aws:sns:us-east-1:123456789012:t", enricher.EINVALID},
			{"empty ARN", "any-bucket", "", enricher.EINVALID},
			{"invalid bucket", "a/b", arn, enricher.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				changed, err := EnsureNotification(ctx, e.client, tt.bucket, tt.arn)
				enrichertest.MustCode(t, err, tt.wantCode)
				if changed {
					t.Errorf("got changed=true with the error")
				}
				_, err = NotificationConfigured(ctx, e.client, tt.bucket, tt.arn)
				enrichertest.MustCode(t, err, tt.wantCode)
			})
		}
		_, err := EnsureNotification(ctx, e.client, "missing-bucket", arn)
		if !errors.Is(err, ErrNoSuchBucket) || !strings.Contains(err.Error(), "enricher setup") {
			t.Errorf("got %v, want ErrNoSuchBucket and a hint to run enricher setup", err)
		}
	})

	t.Run("rejected by S3", func(t *testing.T) {
		// What real AWS answers when the queue policy does not let S3
		// send; moto does not check policies, so it is replayed here.
		bucket := e.bucketName("policy")
		if _, err := EnsureBucket(ctx, e.client, bucket, awstest.Region); err != nil {
			t.Fatalf("EnsureBucket: %v", err)
		}
		tests := []struct {
			name     string
			err      error
			wantCode string
			wantText string
		}{
			{"queue policy", &smithy.GenericAPIError{Code: "InvalidArgument", Message: "Unable to validate the following destination configurations"},
				enricher.EINVALID, "sqs:SendMessage"},
			{"overlap", &smithy.GenericAPIError{Code: "InvalidArgument", Message: "Configurations overlap. Configurations on the same bucket cannot share a common event type."},
				enricher.ECONFLICT, "another notification"},
			{"throttled", &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate."},
				enricher.EINTERNAL, "SlowDown"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				changed, err := EnsureNotification(ctx, putFails{e.client, tt.err}, bucket, "arn:aws:sqs:us-east-1:123456789012:q")
				if got := enricher.ErrorCode(err); got != tt.wantCode {
					t.Errorf("code: got %q (%v), want %q", got, err, tt.wantCode)
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantText) || !errors.Is(err, tt.err) {
					t.Errorf("got %v, want %q in the message and the S3 error in the chain", err, tt.wantText)
				}
				if changed {
					t.Errorf("got changed=true with the error")
				}
			})
		}
	})
}

// putFails is an S3 client whose PutBucketNotificationConfiguration fails
// with err, as real AWS fails it when it cannot validate the destination.
type putFails struct {
	SetupAPI
	err error
}

func (p putFails) PutBucketNotificationConfiguration(context.Context, *awss3.PutBucketNotificationConfigurationInput, ...func(*awss3.Options)) (*awss3.PutBucketNotificationConfigurationOutput, error) {
	return nil, p.err
}

func mustNotification(t *testing.T, client *awss3.Client, bucket string) *awss3.GetBucketNotificationConfigurationOutput {
	t.Helper()
	out, err := client.GetBucketNotificationConfiguration(context.Background(), &awss3.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("GetBucketNotificationConfiguration: %v", err)
	}
	return out
}
