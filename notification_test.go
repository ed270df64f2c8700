package enricher_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ticket-enricher/enricher"
)

// awsPutEvent is a notification as AWS documents it, trimmed of nothing:
// the parser must cope with every member AWS sends.
const awsPutEvent = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1",
"eventTime":"2026-01-31T09:30:00.000Z","eventName":"ObjectCreated:Put",
"userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},"requestParameters":{"sourceIPAddress":"10.0.0.1"},
"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
"s3":{"s3SchemaVersion":"1.0","configurationId":"tickets-raw-created",
"bucket":{"name":"tickets-raw","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::tickets-raw"},
"object":{"key":"T+1001.json","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}]}`

const testEvent = `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-31T09:30:00.000Z",
"Bucket":"tickets-raw","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`

func snsWrap(tb testing.TB, inner string) string {
	tb.Helper()
	msg, err := json.Marshal(inner)
	if err != nil {
		tb.Fatalf("marshal SNS message: %v", err)
	}
	return `{"Type":"Notification","MessageId":"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
"TopicArn":"arn:aws:sns:eu-west-1:123456789012:tickets","Subject":"Amazon S3 Notification",
"Message":` + string(msg) + `,"Timestamp":"2026-01-31T09:30:00.123Z","SignatureVersion":"1",
"Signature":"EXAMPLE","SigningCertURL":"https://sns.example/cert.pem","UnsubscribeURL":"https://sns.example/unsub"}`
}

func s3Record(event, bucket, key string) string {
	return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","eventName":%q,"s3":{"bucket":{"name":%q},"object":{"key":%q,"size":10}}}`,
		event, bucket, key)
}

func TestParseNotification(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []enricher.ObjectRef
	}{
		{"aws put event", awsPutEvent, []enricher.ObjectRef{{"tickets-raw", "T 1001.json"}}},
		{"localstack percent encoding", `{"Records":[` + s3Record("ObjectCreated:Put", "tickets-raw", "T%201001.json") + `]}`,
			[]enricher.ObjectRef{{"tickets-raw", "T 1001.json"}}},
		{"encoded plus and slash", `{"Records":[` + s3Record("ObjectCreated:Copy", "b", "dir/a%2Bb.json") + `]}`,
			[]enricher.ObjectRef{{"b", "dir/a+b.json"}}},
		{"several records, non-created ignored", `{"Records":[` +
			s3Record("ObjectCreated:Put", "b", "A.json") + "," +
			s3Record("ObjectRemoved:Delete", "b", "B.json") + "," +
			s3Record("ObjectCreated:CompleteMultipartUpload", "b", "C.json") + `]}`,
			[]enricher.ObjectRef{{"b", "A.json"}, {"b", "C.json"}}},
		{"only removals", `{"Records":[` + s3Record("ObjectRemoved:Delete", "b", "B.json") + `]}`, nil},
		{"sns envelope", snsWrap(t, awsPutEvent), []enricher.ObjectRef{{"tickets-raw", "T 1001.json"}}},
		{"test event", testEvent, nil},
		{"test event in sns", snsWrap(t, testEvent), nil},
		{"manual format", `{"Records":[{"key":"T-1001.json"},{"key":"T 2.json"}]}`,
			[]enricher.ObjectRef{{"", "T-1001.json"}, {"", "T 2.json"}}},
		{"missing bucket name", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"A.json"}}}]}`,
			[]enricher.ObjectRef{{"", "A.json"}}},
		{"surrounding whitespace", "\n  " + `{"Records":[{"key":"A.json"}]}` + "\n", []enricher.ObjectRef{{"", "A.json"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := enricher.ParseNotification([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseNotification: got error %v, want nil", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseNotification_errors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantReason string
	}{
		{"empty", "", "empty body"},
		{"not json", "hello", "not JSON"},
		{"truncated json", `{"Records":[`, "not JSON"},
		{"array", `[{"key":"A.json"}]`, "must be a JSON object, got an array"},
		{"string", `"A.json"`, "must be a JSON object, got a string"},
		{"no records", `{"hello":"world"}`, "no Records"},
		{"null records", `{"Records":null}`, "no Records"},
		{"empty records", `{"Records":[]}`, "Records is empty"},
		{"records not array", `{"Records":{"key":"A.json"}}`, "Records must be an array, got an object"},
		{"record not object", `{"Records":[42]}`, "Records[0]: must be an object, got a number"},
		{"record without key", `{"Records":[{"eventName":"ObjectCreated:Put"}]}`, "Records[0]: no s3.object.key (S3 event) and no key (manual format)"},
		{"s3 without object key", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"size":1}}}]}`,
			"Records[0]: no s3.object.key"},
		{"s3 key not string", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":7}}}]}`,
			"Records[0]: s3.object.key must be a non-empty string, got 7"},
		{"s3 without event name", `{"Records":[{"s3":{"object":{"key":"A.json"}}}]}`, "Records[0]: S3 record without a string eventName"},
		{"bad url encoding", `{"Records":[` + s3Record("ObjectCreated:Put", "b", "A%zz.json") + `]}`,
			`Records[0]: s3.object.key "A%zz.json" is not URL-encoded`},
		{"second record bad", `{"Records":[{"key":"A.json"},{"key":""}]}`, `Records[1]: key must be a non-empty string, got ""`},
		{"bucket name not string", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":1},"object":{"key":"A.json"}}}]}`,
			"Records[0]: s3.bucket.name must be a string, got a number"},
		{"sns subscription confirmation", `{"Type":"SubscriptionConfirmation","Message":"You have chosen to subscribe"}`,
			`SNS message of type "SubscriptionConfirmation" carries no S3 event`},
		{"sns message not string", `{"Type":"Notification","Message":{"Records":[]}}`, "SNS notification without a string Message"},
		{"sns message not json", `{"Type":"Notification","Message":"hello"}`, "in SNS Message: invalid queue message: not JSON"},
		{"sns in sns", snsWrap(t, snsWrap(t, awsPutEvent)), "SNS envelope inside an SNS envelope"},
		{"unknown event", `{"Event":"s3:Other"}`, `unknown event "s3:Other" and no Records`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs, err := enricher.ParseNotification([]byte(tt.body))
			if err == nil {
				t.Fatalf("got refs %v and nil error, want an error containing %q", refs, tt.wantReason)
			}
			var e *enricher.Error
			if !errors.As(err, &e) {
				t.Fatalf("got error %T %v, want *enricher.Error", err, err)
			}
			if e.Code != enricher.EINVALID {
				t.Errorf("got code %q, want %q", e.Code, enricher.EINVALID)
			}
			if !strings.Contains(e.Message, tt.wantReason) {
				t.Errorf("got message %q, want it to contain %q", e.Message, tt.wantReason)
			}
			if refs != nil {
				t.Errorf("got refs %v with an error, want nil", refs)
			}
		})
	}
}

func TestNewS3Notification(t *testing.T) {
	at := time.Date(2026, 1, 31, 9, 30, 0, 123e6, time.FixedZone("CET", 3600))
	body := enricher.NewS3Notification("tickets-raw", "dir/T 1+1.json", 512, at)

	var ev struct {
		Records []struct {
			EventVersion, EventSource, AWSRegion, EventTime, EventName string
			S3                                                         struct {
				Bucket struct{ Name, ARN string }
				Object struct {
					Key  string
					Size int64
				}
			}
		}
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("unmarshal %s: %v", body, err)
	}
	if len(ev.Records) != 1 {
		t.Fatalf("got %d records, want 1", len(ev.Records))
	}
	r := ev.Records[0]
	checks := []struct{ field, got, want string }{
		{"eventVersion", r.EventVersion, "2.1"},
		{"eventSource", r.EventSource, "aws:s3"},
		{"awsRegion", r.AWSRegion, "us-east-1"},
		{"eventTime", r.EventTime, "2026-01-31T08:30:00.123Z"},
		{"eventName", r.EventName, "ObjectCreated:Put"},
		{"s3.bucket.name", r.S3.Bucket.Name, "tickets-raw"},
		{"s3.bucket.arn", r.S3.Bucket.ARN, "arn:aws:s3:::tickets-raw"},
		{"s3.object.key", r.S3.Object.Key, "dir/T+1%2B1.json"},
		{"s3.object.size", fmt.Sprint(r.S3.Object.Size), "512"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.field, c.got, c.want)
		}
	}
	refs, err := enricher.ParseNotification(body)
	if err != nil {
		t.Fatalf("ParseNotification: %v", err)
	}
	want := []enricher.ObjectRef{{Bucket: "tickets-raw", Key: "dir/T 1+1.json"}}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("round trip: got %v, want %v", refs, want)
	}
}

func FuzzParseNotification(f *testing.F) {
	f.Add([]byte(awsPutEvent))
	f.Add([]byte(snsWrap(f, awsPutEvent)))
	f.Add([]byte(testEvent))
	f.Add([]byte(snsWrap(f, testEvent)))
	f.Add([]byte(`{"Records":[{"key":"T-1001.json"}]}`))
	f.Add([]byte(`{"Records":[` + s3Record("ObjectCreated:Put", "b", "A%20b.json") + "," + s3Record("ObjectRemoved:Delete", "b", "C.json") + `]}`))
	f.Add(enricher.NewS3Notification("tickets-raw", "T 1.json", 3, time.Unix(0, 0)))
	f.Add([]byte(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"%zz"}}}]}`))
	f.Add([]byte(`{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{}\"}"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		refs, err := enricher.ParseNotification(body)
		if err != nil {
			if code := enricher.ErrorCode(err); code != enricher.EINVALID {
				t.Fatalf("got error code %q (%v), want %q", code, err, enricher.EINVALID)
			}
			if refs != nil {
				t.Fatalf("got refs %v with error %v, want nil", refs, err)
			}
			return
		}
		for i, r := range refs {
			if r.Key == "" {
				t.Fatalf("ref %d: got empty key from %q, want an error instead", i, body)
			}
		}
	})
}

func FuzzNewS3Notification(f *testing.F) {
	f.Add("tickets-raw", "T-1.json", int64(10))
	f.Add("b", "a b+c/%20?&=.json", int64(0))
	f.Add("b", "\xff\xfe", int64(-1))
	f.Fuzz(func(t *testing.T, bucket, key string, size int64) {
		if key == "" || !utf8.ValidString(bucket) {
			// An empty key is no object; json replaces invalid UTF-8 in a bucket name.
			return
		}
		refs, err := enricher.ParseNotification(enricher.NewS3Notification(bucket, key, size, time.Unix(0, 0)))
		if err != nil {
			t.Fatalf("ParseNotification(NewS3Notification(%q, %q)): %v", bucket, key, err)
		}
		want := []enricher.ObjectRef{{Bucket: bucket, Key: key}}
		if !reflect.DeepEqual(refs, want) {
			t.Fatalf("got %v, want %v", refs, want)
		}
	})
}

func ExampleParseNotification() {
	body := enricher.NewS3Notification("tickets-raw", "T 1001.json", 321, time.Unix(1769851800, 0))
	refs, err := enricher.ParseNotification(body)
	fmt.Println(refs, err)

	refs, err = enricher.ParseNotification([]byte(`{"Records":[{"key":"T-1002.json"}]}`))
	fmt.Printf("%q %v\n", refs, err)

	_, err = enricher.ParseNotification([]byte(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{}}]}`))
	fmt.Println(enricher.ErrorCode(err), err)
	// Output:
	// [{tickets-raw T 1001.json}] <nil>
	// [{"" "T-1002.json"}] <nil>
	// invalid_request invalid queue message: Records[0]: no s3.object.key
}
