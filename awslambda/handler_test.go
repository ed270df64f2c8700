package awslambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/awslambda"
)

// sqsEvent is an SQS event as Lambda delivers it, with the S3 notification
// bodies that the ticket queue carries.
const sqsEvent = `{"Records":[
 {"messageId":"m-1","receiptHandle":"rh-1","body":"{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"tickets-raw\"},\"object\":{\"key\":\"T-1.json\"}}}]}",
  "attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1767534579000","SenderId":"AIDAIT2UOQQY3AUEKVGXU","ApproximateFirstReceiveTimestamp":"1767534579001"},
  "messageAttributes":{},"md5OfBody":"x","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:ticket-processing","awsRegion":"us-east-1"},
 {"messageId":"m-2","receiptHandle":"rh-2","body":"poison","attributes":{"ApproximateReceiveCount":"3"},"eventSource":"aws:sqs"},
 {"messageId":"m-3","receiptHandle":"rh-3","body":"{}","attributes":{},"eventSource":"aws:sqs"}
]}`

// recorder settles messages as told and records what it saw.
type recorder struct {
	fail map[string]error
	got  []enricher.Message
	stop context.CancelFunc // called after the first message, if set
}

func (r *recorder) ProcessMessage(ctx context.Context, m enricher.Message) error {
	r.got = append(r.got, m)
	if r.stop != nil {
		r.stop()
	}
	return r.fail[m.ID]
}

func mustEvent(t *testing.T) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	if err := json.Unmarshal([]byte(sqsEvent), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestHandler_Handle(t *testing.T) {
	tests := []struct {
		name string
		fail map[string]error
		want []string
	}{
		{"all settled", nil, nil},
		{"one to retry", map[string]error{"m-2": errors.New("table throttled")}, []string{"m-2"}},
		{"two to retry", map[string]error{"m-1": errors.New("x"), "m-3": errors.New("y")}, []string{"m-1", "m-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{fail: tt.fail}
			h := &awslambda.Handler{Processor: rec}
			resp, err := h.Handle(context.Background(), mustEvent(t))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			var got []string
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("batch item failures %v, want %v", got, tt.want)
			}
			if len(rec.got) != 3 {
				t.Fatalf("processed %d messages, want 3", len(rec.got))
			}
			first := rec.got[0]
			if first.ID != "m-1" || first.Receipt != "rh-1" || first.ReceiveCount != 1 {
				t.Errorf("first message %+v, want id m-1, receipt rh-1, receive count 1", first)
			}
			refs, err := enricher.ParseNotification(first.Body)
			if err != nil || len(refs) != 1 || refs[0].Key != "T-1.json" {
				t.Errorf("first body parses to %v, %v; want the S3 key T-1.json", refs, err)
			}
			if rec.got[1].ReceiveCount != 3 || rec.got[2].ReceiveCount != 1 {
				t.Errorf("receive counts %d, %d; want 3 and 1 (absent counts as first delivery)", rec.got[1].ReceiveCount, rec.got[2].ReceiveCount)
			}
		})
	}
	t.Run("out of time", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		rec := &recorder{stop: cancel}
		resp, err := (&awslambda.Handler{Processor: rec}).Handle(ctx, mustEvent(t))
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		var got []string
		for _, f := range resp.BatchItemFailures {
			got = append(got, f.ItemIdentifier)
		}
		if want := []string{"m-2", "m-3"}; !reflect.DeepEqual(got, want) || len(rec.got) != 1 {
			t.Errorf("failures %v after processing %d, want %v after 1", got, len(rec.got), want)
		}
	})
}
