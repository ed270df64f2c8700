package enricher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// ObjectRef names an object that a queue message announces. Bucket is ""
// when the message did not say (the old worker's manual format), and the
// worker then reads its configured raw bucket.
type ObjectRef struct {
	Bucket string
	Key    string
}

// notificationRegion is the awsRegion of notifications made by
// NewS3Notification: the default AWS_REGION, and the one LocalStack reports.
const notificationRegion = "us-east-1"

// s3Event is the shape of an S3 event notification, as AWS documents it
// (event message structure, eventVersion 2.1), reduced to the members a
// notification of a put carries without knowing the object's content.
type s3Event struct {
	Records []s3EventRecord `json:"Records"`
}

type s3EventRecord struct {
	EventVersion string   `json:"eventVersion"`
	EventSource  string   `json:"eventSource"`
	AWSRegion    string   `json:"awsRegion"`
	EventTime    string   `json:"eventTime"`
	EventName    string   `json:"eventName"`
	S3           s3Entity `json:"s3"`
}

type s3Entity struct {
	SchemaVersion string       `json:"s3SchemaVersion"`
	Bucket        s3BucketInfo `json:"bucket"`
	Object        s3ObjectInfo `json:"object"`
}

type s3BucketInfo struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

type s3ObjectInfo struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// NewS3Notification returns the "ObjectCreated:Put" event notification that
// S3 would send for an object of size bytes stored under key at time at.
// The embedded mode, which has no bucket notifications, sends exactly this,
// so that the worker has one path for both modes.
func NewS3Notification(bucket, key string, size int64, at time.Time) []byte {
	ev := s3Event{Records: []s3EventRecord{{
		EventVersion: "2.1",
		EventSource:  "aws:s3",
		AWSRegion:    notificationRegion,
		EventTime:    FormatTime(at),
		EventName:    "ObjectCreated:Put",
		S3: s3Entity{
			SchemaVersion: "1.0",
			Bucket:        s3BucketInfo{Name: bucket, ARN: "arn:aws:s3:::" + bucket},
			Object:        s3ObjectInfo{Key: escapeS3Key(key), Size: size},
		},
	}}}
	data, err := json.Marshal(ev)
	if err != nil {
		// Only strings and integers: Marshal cannot fail.
		panic(fmt.Sprintf("marshal S3 notification: %v", err))
	}
	return data
}

// escapeS3Key encodes a key as S3 does in event notifications: form
// encoding (a space becomes '+'), with '/' left as is.
func escapeS3Key(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// ParseNotification returns the objects a queue message announces. It
// accepts the messages of DESIGN.md §2.6:
//
//   - S3 event notifications, with one or more records; only ObjectCreated:*
//     records yield refs, others are ignored; keys are URL-decoded, so that
//     AWS's '+' and LocalStack's "%20" both become a space;
//   - the same wrapped in an SNS envelope (Type "Notification");
//   - s3:TestEvent, which S3 sends when a notification is configured: no
//     refs and no error, so that it is acknowledged and forgotten;
//   - the old worker's manual format {"Records":[{"key":"<key>"}]}, whose
//     key is taken verbatim and whose Bucket is "".
//
// Anything else is an *Error with code EINVALID whose message says what is
// wrong, for the dead-letter queue. It never panics, whatever the bytes.
func ParseNotification(body []byte) ([]ObjectRef, error) {
	return parseNotification(body, false)
}

func parseNotification(body []byte, inSNS bool) ([]ObjectRef, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, invalidMessage("empty body")
	}
	if !json.Valid(trimmed) {
		return nil, invalidMessage("not JSON")
	}
	if trimmed[0] != '{' {
		return nil, invalidMessage("must be a JSON object, got %s", jsonKind(trimmed))
	}
	var env struct {
		Type    json.RawMessage `json:"Type"`
		Message json.RawMessage `json:"Message"`
		Event   json.RawMessage `json:"Event"`
		Records json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return nil, invalidMessage("not a JSON object: %v", err)
	}
	if !absent(env.Type) {
		return parseSNS(env.Type, env.Message, inSNS)
	}
	if absent(env.Records) {
		if event, ok := jsonString(env.Event); ok && event == "s3:TestEvent" {
			return nil, nil
		}
		if !absent(env.Event) {
			return nil, invalidMessage("unknown event %s and no Records", truncateJSON(env.Event))
		}
		return nil, invalidMessage("no Records")
	}
	var records []json.RawMessage
	if env.Records[0] != '[' || json.Unmarshal(env.Records, &records) != nil {
		return nil, invalidMessage("Records must be an array, got %s", jsonKind(env.Records))
	}
	if len(records) == 0 {
		return nil, invalidMessage("Records is empty")
	}
	var refs []ObjectRef
	for i, raw := range records {
		ref, ok, err := parseRecord(raw)
		if err != nil {
			return nil, invalidMessage("Records[%d]: %s", i, err)
		}
		if ok {
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// parseSNS unwraps an SNS envelope, whose Message is the S3 event as a JSON
// string. One level only: SNS does not nest envelopes.
func parseSNS(typ, message json.RawMessage, inSNS bool) ([]ObjectRef, error) {
	t, ok := jsonString(typ)
	switch {
	case inSNS:
		return nil, invalidMessage("SNS envelope inside an SNS envelope")
	case !ok:
		return nil, invalidMessage("Type must be a string, got %s", jsonKind(typ))
	case t != "Notification":
		return nil, invalidMessage("SNS message of type %q carries no S3 event", truncateString(t))
	}
	inner, ok := jsonString(message)
	if !ok {
		return nil, invalidMessage("SNS notification without a string Message")
	}
	refs, err := parseNotification([]byte(inner), true)
	if err != nil {
		return nil, invalidMessage("in SNS Message: %s", ErrorMessage(err))
	}
	return refs, nil
}

// parseRecord reads one record. ok is false for records that are valid but
// announce nothing to process (events other than ObjectCreated).
func parseRecord(raw json.RawMessage) (ObjectRef, bool, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return ObjectRef{}, false, fmt.Errorf("must be an object, got %s", jsonKind(raw))
	}
	var rec struct {
		EventName json.RawMessage `json:"eventName"`
		S3        json.RawMessage `json:"s3"`
		Key       json.RawMessage `json:"key"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return ObjectRef{}, false, fmt.Errorf("not an object: %v", err)
	}
	if absent(rec.S3) {
		if absent(rec.Key) {
			return ObjectRef{}, false, fmt.Errorf("no s3.object.key (S3 event) and no key (manual format)")
		}
		key, ok := jsonString(rec.Key)
		if !ok || key == "" {
			return ObjectRef{}, false, fmt.Errorf("key must be a non-empty string, got %s", truncateJSON(rec.Key))
		}
		return ObjectRef{Key: key}, true, nil
	}
	name, ok := jsonString(rec.EventName)
	if !ok {
		return ObjectRef{}, false, fmt.Errorf("S3 record without a string eventName")
	}
	if !strings.HasPrefix(name, "ObjectCreated:") {
		return ObjectRef{}, false, nil
	}
	if rec.S3[0] != '{' {
		return ObjectRef{}, false, fmt.Errorf("s3 must be an object, got %s", jsonKind(rec.S3))
	}
	var s3 struct {
		Bucket json.RawMessage `json:"bucket"`
		Object json.RawMessage `json:"object"`
	}
	if err := json.Unmarshal(rec.S3, &s3); err != nil {
		return ObjectRef{}, false, fmt.Errorf("s3: %v", err)
	}
	var ref ObjectRef
	if !absent(s3.Bucket) {
		var b struct {
			Name json.RawMessage `json:"name"`
		}
		if s3.Bucket[0] != '{' || json.Unmarshal(s3.Bucket, &b) != nil {
			return ObjectRef{}, false, fmt.Errorf("s3.bucket must be an object, got %s", jsonKind(s3.Bucket))
		}
		if !absent(b.Name) {
			if ref.Bucket, ok = jsonString(b.Name); !ok {
				return ObjectRef{}, false, fmt.Errorf("s3.bucket.name must be a string, got %s", jsonKind(b.Name))
			}
		}
	}
	var o struct {
		Key json.RawMessage `json:"key"`
	}
	if absent(s3.Object) || s3.Object[0] != '{' || json.Unmarshal(s3.Object, &o) != nil || absent(o.Key) {
		return ObjectRef{}, false, fmt.Errorf("no s3.object.key")
	}
	encoded, ok := jsonString(o.Key)
	if !ok || encoded == "" {
		return ObjectRef{}, false, fmt.Errorf("s3.object.key must be a non-empty string, got %s", truncateJSON(o.Key))
	}
	key, err := url.QueryUnescape(encoded)
	if err != nil {
		return ObjectRef{}, false, fmt.Errorf("s3.object.key %q is not URL-encoded: %v", truncateString(encoded), err)
	}
	if key == "" {
		return ObjectRef{}, false, fmt.Errorf("s3.object.key decodes to an empty key")
	}
	ref.Key = key
	return ref, true, nil
}

func invalidMessage(format string, args ...any) *Error {
	return &Error{Code: EINVALID, Message: "invalid queue message: " + fmt.Sprintf(format, args...)}
}

// absent reports whether a member was missing or null.
func absent(v json.RawMessage) bool { return len(v) == 0 || isNull(v) }

// jsonString decodes v when it is a JSON string.
func jsonString(v json.RawMessage) (string, bool) {
	var s string
	if decodeString(v, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonKind names the type of a valid JSON value for error messages.
func jsonKind(v json.RawMessage) string {
	if len(v) == 0 {
		return "nothing"
	}
	return describeValue(v)
}

// truncateJSON quotes a short prefix of a JSON value for error messages, so
// that a huge or binary message never makes a huge reason.
func truncateJSON(v json.RawMessage) string { return truncate(string(v), 60) }

func truncateString(s string) string { return truncate(s, 60) }
