package sqs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// recordingAPI is a queueAPI that records the requests it gets and answers
// ReceiveMessage with out; the other calls are not used by these tests.
type recordingAPI struct {
	queueAPI
	receives   []*awssqs.ReceiveMessageInput
	visibility []*awssqs.ChangeMessageVisibilityInput
	out        *awssqs.ReceiveMessageOutput
	err        error
}

func (f *recordingAPI) ReceiveMessage(_ context.Context, in *awssqs.ReceiveMessageInput, _ ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error) {
	f.receives = append(f.receives, in)
	if f.err != nil {
		return nil, f.err
	}
	return f.out, nil
}

func (f *recordingAPI) ChangeMessageVisibility(_ context.Context, in *awssqs.ChangeMessageVisibilityInput, _ ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityOutput, error) {
	f.visibility = append(f.visibility, in)
	return &awssqs.ChangeMessageVisibilityOutput{}, f.err
}

func TestQueue_Receive(t *testing.T) {
	tests := []struct {
		name     string
		max      int
		wait     time.Duration
		wantMax  int32
		wantWait int32
	}{
		{"short poll", 1, 0, 1, 0},
		{"negative wait is a short poll", 1, -time.Second, 1, 0},
		{"sub-second wait rounds up", 5, 200 * time.Millisecond, 5, 1},
		{"whole seconds stay", 10, 3 * time.Second, 10, 3},
		{"fraction rounds up", 10, 1800 * time.Millisecond, 10, 2},
		{"long poll", 10, 20 * time.Second, 10, 20},
		{"wait capped at 20s", 10, time.Minute, 10, 20},
		{"max capped at 10", 50, time.Second, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &recordingAPI{out: &awssqs.ReceiveMessageOutput{}}
			q := &Queue{client: api, name: "q", url: "http://sqs/q"}
			msgs, err := q.Receive(context.Background(), tt.max, tt.wait)
			enrichertest.MustNoError(t, err, "receive")
			if msgs != nil {
				t.Errorf("empty receive: got %v, want nil", msgs)
			}
			in := api.receives[0]
			if in.MaxNumberOfMessages != tt.wantMax || in.WaitTimeSeconds != tt.wantWait {
				t.Errorf("got MaxNumberOfMessages %d WaitTimeSeconds %d, want %d and %d", in.MaxNumberOfMessages, in.WaitTimeSeconds, tt.wantMax, tt.wantWait)
			}
			if aws.ToString(in.QueueUrl) != "http://sqs/q" {
				t.Errorf("got queue URL %q, want http://sqs/q", aws.ToString(in.QueueUrl))
			}
			if fmt.Sprint(in.MessageSystemAttributeNames) != "[ApproximateReceiveCount]" || fmt.Sprint(in.MessageAttributeNames) != "[All]" {
				t.Errorf("got system attributes %v and attributes %v, want [ApproximateReceiveCount] and [All]", in.MessageSystemAttributeNames, in.MessageAttributeNames)
			}
		})
	}

	t.Run("messages", func(t *testing.T) {
		api := &recordingAPI{out: &awssqs.ReceiveMessageOutput{Messages: []types.Message{
			{MessageId: aws.String("id-1"), Body: aws.String("b1"), ReceiptHandle: aws.String("r1"),
				Attributes: map[string]string{"ApproximateReceiveCount": "3"}},
			{MessageId: aws.String("id-2"), Body: aws.String("b2"), ReceiptHandle: aws.String("r2")},
		}}}
		q := &Queue{client: api, name: "q", url: "u"}
		msgs, err := q.Receive(context.Background(), 10, time.Second)
		enrichertest.MustNoError(t, err, "receive")
		want := []enricher.Message{{ID: "id-1", Body: []byte("b1"), Receipt: "r1", ReceiveCount: 3}, {ID: "id-2", Body: []byte("b2"), Receipt: "r2"}}
		if fmt.Sprintf("%+v", msgs) != fmt.Sprintf("%+v", want) {
			t.Errorf("got %+v, want %+v", msgs, want)
		}
	})

	t.Run("invalid max", func(t *testing.T) {
		api := &recordingAPI{}
		q := &Queue{client: api, name: "q", url: "u"}
		_, err := q.Receive(context.Background(), 0, time.Second)
		enrichertest.MustCode(t, err, enricher.EINVALID)
		if len(api.receives) != 0 {
			t.Errorf("got %d calls to SQS, want none", len(api.receives))
		}
	})
}

func TestQueue_ChangeVisibility(t *testing.T) {
	tests := []struct {
		name     string
		d        time.Duration
		want     int32
		wantCode string
	}{
		{"release", 0, 0, ""},
		{"one nanosecond rounds up", time.Nanosecond, 1, ""},
		{"fraction rounds up", 2500 * time.Millisecond, 3, ""},
		{"heartbeat", 300 * time.Second, 300, ""},
		{"maximum", MaxVisibilityTimeout, 43200, ""},
		{"negative", -time.Second, 0, enricher.EINVALID},
		{"over the maximum", MaxVisibilityTimeout + time.Second, 0, enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &recordingAPI{}
			q := &Queue{client: api, name: "q", url: "u"}
			err := q.ChangeVisibility(context.Background(), "r", tt.d)
			if tt.wantCode != "" {
				enrichertest.MustCode(t, err, tt.wantCode)
				if len(api.visibility) != 0 {
					t.Errorf("got %d calls to SQS, want none", len(api.visibility))
				}
				return
			}
			enrichertest.MustNoError(t, err, "change visibility")
			if got := api.visibility[0].VisibilityTimeout; got != tt.want {
				t.Errorf("got VisibilityTimeout %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTranslate(t *testing.T) {
	api := func(code, msg string) error {
		return fmt.Errorf("operation error SQS: X: %w", &smithy.GenericAPIError{Code: code, Message: msg})
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		wantCode string
		wantIs   error
	}{
		{"queue missing (JSON protocol)", context.Background(), &types.QueueDoesNotExist{Message: aws.String("gone")}, enricher.ENOTFOUND, nil},
		{"queue missing (query protocol)", context.Background(), api("AWS.SimpleQueueService.NonExistentQueue", "gone"), enricher.ENOTFOUND, nil},
		{"receipt invalid", context.Background(), api("ReceiptHandleIsInvalid", "bad"), enricher.ENOTFOUND, nil},
		{"message not in flight", context.Background(), api("MessageNotInflight", ""), enricher.ENOTFOUND, nil},
		{"deleted message's visibility", context.Background(), api("InvalidParameterValue", "Value x for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."), enricher.ENOTFOUND, nil},
		{"other invalid parameter", context.Background(), api("InvalidParameterValue", "Value 99 for parameter MaxNumberOfMessages is invalid."), enricher.EINVALID, nil},
		{"invalid contents", context.Background(), api("InvalidMessageContents", ""), enricher.EINVALID, nil},
		{"throttled", context.Background(), api("RequestThrottled", ""), enricher.EINTERNAL, nil},
		{"network", context.Background(), errors.New("connection reset"), enricher.EINTERNAL, nil},
		{"canceled context", canceled, errors.New("request canceled"), enricher.EINTERNAL, context.Canceled},
		{"canceled context, SDK says so", canceled, fmt.Errorf("send: %w", context.Canceled), enricher.EINTERNAL, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := translate(tt.ctx, tt.err, "do %s", "thing")
			if got := enricher.ErrorCode(err); got != tt.wantCode {
				t.Errorf("got code %q (%v), want %q", got, err, tt.wantCode)
			}
			if !strings.HasPrefix(err.Error(), "do thing: ") {
				t.Errorf("got %q, want it to start with %q", err, "do thing: ")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("got %v, want errors.Is %v", err, tt.wantIs)
			}
			if !errors.Is(err, tt.err) && tt.wantIs == nil {
				t.Errorf("got %v, want the cause %v in its chain", err, tt.err)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name  string
		s     string
		limit int
		want  string
	}{
		{"fits", "short", 10, "short"},
		{"exactly", "12345", 5, "12345"},
		{"cut", strings.Repeat("a", 40), 20, strings.Repeat("a", 20-len(truncationMark)) + truncationMark},
		{"cut on a rune boundary", strings.Repeat("é", 20), 21, strings.Repeat("é", 3) + truncationMark},
		{"too small for the mark", "héllo world, long enough", 3, "h"},
		{"negative budget", "é and more", -5, "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncate(tt.s, tt.limit)
			if got != tt.want {
				t.Errorf("truncate(%q, %d): got %q, want %q", tt.s, tt.limit, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("truncate(%q, %d): got invalid UTF-8 %q", tt.s, tt.limit, got)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"tab\tnewline\ncr\r", "tab\tnewline\ncr\r"},
		{"nul\x00esc\x1b", "nul\uFFFDesc\uFFFD"},
		{"bad utf-8 \xff\xfe end", "bad utf-8 \uFFFD end"},
		{"\uFFFE noncharacter", "\uFFFD noncharacter"},
		{"emoji \U0001F600", "emoji \U0001F600"},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q): got %q, want %q", tt.in, got, tt.want)
		}
		if got := sanitize(tt.in); invalidChar([]byte(got)) != -1 {
			t.Errorf("sanitize(%q) = %q: got a character SQS refuses at %d, want none", tt.in, got, invalidChar([]byte(got)))
		}
	}
}

func TestNameFromARN(t *testing.T) {
	tests := []struct {
		arn, name, account string
		wantErr            bool
	}{
		{"arn:aws:sqs:us-east-1:123456789012:ticket-processing-dlq", "ticket-processing-dlq", "123456789012", false},
		{"arn:aws-cn:sqs:cn-north-1:111122223333:q", "q", "111122223333", false},
		{"arn:aws:s3:::bucket", "", "", true},
		{"arn:aws:sqs:us-east-1:123456789012:", "", "", true},
		{"not an arn", "", "", true},
	}
	for _, tt := range tests {
		name, account, err := nameFromARN(tt.arn)
		if (err != nil) != tt.wantErr || name != tt.name || account != tt.account {
			t.Errorf("nameFromARN(%q): got %q, %q, %v; want %q, %q, error %v", tt.arn, name, account, err, tt.name, tt.account, tt.wantErr)
		}
	}
}
