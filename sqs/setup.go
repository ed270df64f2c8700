package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/ticket-enricher/enricher"
)

// DeadLetterRetention is the MessageRetentionPeriod of the dead-letter queue:
// SQS's maximum, 14 days, instead of the default 4. A message that SQS
// redrives keeps its original enqueue time, so with the default a message
// that failed for days would expire almost as soon as it got there; and dead
// letters wait for a person, who may take a while.
const DeadLetterRetention = 14 * 24 * time.Hour

// MaxMaxReceiveCount is the largest maxReceiveCount SQS accepts in a redrive
// policy.
const MaxMaxReceiveCount = 1000

// SetupAPI is the part of the SQS client that the setup functions use;
// *awssqs.Client implements it.
type SetupAPI interface {
	GetQueueUrl(ctx context.Context, in *awssqs.GetQueueUrlInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error)
	CreateQueue(ctx context.Context, in *awssqs.CreateQueueInput, optFns ...func(*awssqs.Options)) (*awssqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *awssqs.GetQueueAttributesInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(ctx context.Context, in *awssqs.SetQueueAttributesInput, optFns ...func(*awssqs.Options)) (*awssqs.SetQueueAttributesOutput, error)
}

// Change is one thing setup did, or would do in a plan: create a queue, or
// update one attribute of an existing queue from one value to another.
type Change struct {
	Queue     string
	Action    string // "create" or "update"
	Attribute string // for "update"
	From, To  string // for "update" the attribute's values; for "create" To lists the attributes
}

// String renders the change for `enricher setup` and its --dry-run.
func (c Change) String() string {
	if c.Action == "create" {
		return fmt.Sprintf("create queue %s (%s)", c.Queue, c.To)
	}
	return fmt.Sprintf("update queue %s: %s %s -> %s", c.Queue, c.Attribute, c.From, c.To)
}

// Result is what EnsureQueues did (or PlanQueues would do) and where the
// queues are. URLs and ARNs of queues that a plan would create are empty.
type Result struct {
	QueueURL, QueueARN           string
	DeadLetterURL, DeadLetterARN string
	// Changes is empty when everything already was as asked.
	Changes []Change
}

// Changed reports whether anything was (or would be) changed.
func (r Result) Changed() bool { return len(r.Changes) > 0 }

// EnsureQueues makes the dead-letter queue dlqName and the queue name exist
// with the given visibility timeout (rounded up to seconds) and a redrive
// policy that moves a message to the dead-letter queue after
// maxReceiveCount receives. Queues that exist with other attributes are
// updated; nothing else about them is touched (their messages, policy,
// tags). Running it again with the same arguments changes nothing and
// reports no changes.
func EnsureQueues(ctx context.Context, client SetupAPI, name, dlqName string, maxReceiveCount int, visibility time.Duration) (Result, error) {
	return ensureQueues(ctx, client, name, dlqName, maxReceiveCount, visibility, true)
}

// PlanQueues reports what EnsureQueues would change, reading only, for
// `enricher setup --dry-run`.
func PlanQueues(ctx context.Context, client SetupAPI, name, dlqName string, maxReceiveCount int, visibility time.Duration) (Result, error) {
	return ensureQueues(ctx, client, name, dlqName, maxReceiveCount, visibility, false)
}

func ensureQueues(ctx context.Context, client SetupAPI, name, dlqName string, maxReceiveCount int, visibility time.Duration, apply bool) (Result, error) {
	switch {
	case !queueNamePattern.MatchString(name):
		return Result{}, enricher.Errorf(enricher.EINVALID, "ensure queue %q: name must be 1 to 80 letters, digits, '-' or '_'", name)
	case !queueNamePattern.MatchString(dlqName):
		return Result{}, enricher.Errorf(enricher.EINVALID, "ensure queue %s: dead-letter queue name %q must be 1 to 80 letters, digits, '-' or '_'", name, dlqName)
	case name == dlqName:
		return Result{}, enricher.Errorf(enricher.EINVALID, "ensure queue %s: it cannot be its own dead-letter queue", name)
	case maxReceiveCount < 1 || maxReceiveCount > MaxMaxReceiveCount:
		return Result{}, enricher.Errorf(enricher.EINVALID, "ensure queue %s: max receive count %d outside [1, %d]", name, maxReceiveCount, MaxMaxReceiveCount)
	case visibility < 0 || visibility > MaxVisibilityTimeout:
		return Result{}, enricher.Errorf(enricher.EINVALID, "ensure queue %s: visibility timeout %v outside [0, %v]", name, visibility, MaxVisibilityTimeout)
	}
	var res Result
	dlq, err := ensureQueue(ctx, client, dlqName, map[string]string{
		string(types.QueueAttributeNameMessageRetentionPeriod): strconv.FormatInt(ceilSeconds(DeadLetterRetention), 10),
	}, apply)
	if err != nil {
		return Result{}, err
	}
	res.DeadLetterURL, res.DeadLetterARN, res.Changes = dlq.url, dlq.arn, dlq.changes

	target := dlq.arn
	if target == "" { // a plan that creates the dead-letter queue
		target = "(ARN of " + dlqName + ")"
	}
	redrive, err := json.Marshal(map[string]any{"deadLetterTargetArn": target, "maxReceiveCount": maxReceiveCount})
	if err != nil {
		return Result{}, fmt.Errorf("ensure queue %s: encode redrive policy: %w", name, err)
	}
	q, err := ensureQueue(ctx, client, name, map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout): strconv.FormatInt(ceilSeconds(visibility), 10),
		string(types.QueueAttributeNameRedrivePolicy):     string(redrive),
	}, apply)
	if err != nil {
		return Result{}, err
	}
	res.QueueURL, res.QueueARN = q.url, q.arn
	res.Changes = append(res.Changes, q.changes...)
	return res, nil
}

// ensured is the outcome of ensureQueue.
type ensured struct {
	url, arn string
	changes  []Change
}

// ensureQueue makes the queue called name exist with the attributes want.
func ensureQueue(ctx context.Context, client SetupAPI, name string, want map[string]string, apply bool) (ensured, error) {
	url, err := queueURL(ctx, client, name, "")
	switch {
	case enricher.ErrorCode(err) == enricher.ENOTFOUND:
		create := Change{Queue: name, Action: "create", To: describe(want)}
		if !apply {
			return ensured{changes: []Change{create}}, nil
		}
		out, err := client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: want})
		if err == nil {
			url = aws.ToString(out.QueueUrl)
			arn, err := queueARN(ctx, client, url, name)
			return ensured{url: url, arn: arn, changes: []Change{create}}, err
		}
		if !isQueueExists(err) {
			return ensured{}, translate(ctx, err, "create queue %s", name)
		}
		// Created meanwhile by someone else, with other attributes:
		// update it like any existing queue.
		if url, err = queueURL(ctx, client, name, ""); err != nil {
			return ensured{}, fmt.Errorf("ensure queue %s: %w", name, err)
		}
	case err != nil:
		return ensured{}, fmt.Errorf("ensure queue %s: %w", name, err)
	}

	names := []types.QueueAttributeName{types.QueueAttributeNameQueueArn}
	for k := range want {
		names = append(names, types.QueueAttributeName(k))
	}
	out, err := client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		return ensured{}, translate(ctx, err, "read attributes of queue %s", name)
	}
	have := out.Attributes
	res := ensured{url: url, arn: have[string(types.QueueAttributeNameQueueArn)]}
	set := map[string]string{}
	for _, k := range sortedKeys(want) {
		if sameAttribute(k, have[k], want[k]) {
			continue
		}
		from := have[k]
		switch {
		case from == "":
			from = "(unset)"
		case k == string(types.QueueAttributeNameRedrivePolicy):
			from = canonicalRedrive(from)
		}
		res.changes = append(res.changes, Change{Queue: name, Action: "update", Attribute: k, From: from, To: want[k]})
		set[k] = want[k]
	}
	if apply && len(set) > 0 {
		if _, err := client.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: set}); err != nil {
			return ensured{}, translate(ctx, err, "update attributes of queue %s", name)
		}
	}
	return res, nil
}

// queueARN reads the ARN of a queue.
func queueARN(ctx context.Context, client SetupAPI, url, name string) (string, error) {
	out, err := client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", translate(ctx, err, "read ARN of queue %s", name)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}

// sameAttribute compares an attribute as SQS means it: redrive policies as
// JSON whatever the spacing or the type of maxReceiveCount, the rest as
// strings.
func sameAttribute(name, have, want string) bool {
	if name != string(types.QueueAttributeNameRedrivePolicy) || have == "" {
		return have == want
	}
	h, err1 := parseRedrivePolicy(have)
	w, err2 := parseRedrivePolicy(want)
	return err1 == nil && err2 == nil && h.TargetARN == w.TargetARN && h.MaxReceiveCount == w.MaxReceiveCount
}

// canonicalRedrive renders a redrive policy as EnsureQueues writes it, so
// that a change reads "maxReceiveCount 5 -> 8" whatever the spacing SQS
// returned; one it cannot parse is shown as is.
func canonicalRedrive(s string) string {
	rp, err := parseRedrivePolicy(s)
	if err != nil {
		return s
	}
	n, err := rp.MaxReceiveCount.Int64()
	if err != nil {
		return s
	}
	b, err := json.Marshal(map[string]any{"deadLetterTargetArn": rp.TargetARN, "maxReceiveCount": n})
	if err != nil {
		return s
	}
	return string(b)
}

// isQueueExists reports a CreateQueue refused because the queue exists with
// other attributes (QueueNameExists in the JSON protocol, QueueAlreadyExists
// in the query protocol).
func isQueueExists(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "QueueNameExists" || ae.ErrorCode() == "QueueAlreadyExists")
}

// describe lists attributes as "k=v, k=v" in a stable order.
func describe(attrs map[string]string) string {
	parts := make([]string, 0, len(attrs))
	for _, k := range sortedKeys(attrs) {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// bucketARNPattern matches an S3 bucket ARN (buckets have no region or
// account in their ARN).
var bucketARNPattern = regexp.MustCompile(`^arn:[a-z-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// EnsureS3Policy gives the queue a policy statement that lets S3 send it the
// event notifications of one bucket, and no other (the aws:SourceArn
// condition: any bucket's notifications come from s3.amazonaws.com). Other
// statements of the policy are kept, so several buckets, or an operator's
// own statements, can share the queue. It reports whether it changed the
// policy; a second run does not.
func EnsureS3Policy(ctx context.Context, client SetupAPI, queueURL, queueARN, bucketARN string) (changed bool, err error) {
	return ensureS3Policy(ctx, client, queueURL, queueARN, bucketARN, true)
}

// PlanS3Policy reports whether EnsureS3Policy would change the policy,
// reading only, for `enricher setup --dry-run`.
func PlanS3Policy(ctx context.Context, client SetupAPI, queueURL, queueARN, bucketARN string) (changed bool, err error) {
	return ensureS3Policy(ctx, client, queueURL, queueARN, bucketARN, false)
}

func ensureS3Policy(ctx context.Context, client SetupAPI, queueURL, queueARN, bucketARN string, apply bool) (bool, error) {
	if queueURL == "" {
		return false, enricher.Errorf(enricher.EINVALID, "ensure S3 policy of queue %s: empty queue URL", queueARN)
	}
	if _, _, err := nameFromARN(queueARN); err != nil {
		return false, enricher.Errorf(enricher.EINVALID, "ensure S3 policy of queue %s: %w", queueURL, err)
	}
	if !bucketARNPattern.MatchString(bucketARN) {
		return false, enricher.Errorf(enricher.EINVALID, "ensure S3 policy of queue %s: %q is not an S3 bucket ARN", queueURL, bucketARN)
	}
	out, err := client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNamePolicy},
	})
	if err != nil {
		return false, translate(ctx, err, "read policy of queue %s", queueARN)
	}
	policy, changed, err := withS3Statement(out.Attributes[string(types.QueueAttributeNamePolicy)], queueARN, bucketARN)
	if err != nil {
		return false, fmt.Errorf("ensure S3 policy of queue %s: %w", queueARN, err)
	}
	if !changed || !apply {
		return changed, nil
	}
	if _, err := client.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), Attributes: map[string]string{string(types.QueueAttributeNamePolicy): policy},
	}); err != nil {
		return false, translate(ctx, err, "set policy of queue %s", queueARN)
	}
	return true, nil
}

// s3StatementID names the statement of one bucket, so that a later run finds
// and replaces it instead of adding another.
func s3StatementID(bucketARN string) string {
	bucket := bucketARN[strings.LastIndex(bucketARN, ":")+1:]
	var b strings.Builder
	b.WriteString("AllowS3Notifications")
	upper := true
	for _, r := range bucket {
		if r == '-' || r == '.' {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
		upper = false
	}
	return b.String()
}

// s3Statement is the statement that lets bucketARN notify queueARN.
func s3Statement(queueARN, bucketARN string) map[string]any {
	return map[string]any{
		"Sid":       s3StatementID(bucketARN),
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": "s3.amazonaws.com"},
		"Action":    "sqs:SendMessage",
		"Resource":  queueARN,
		"Condition": map[string]any{"ArnLike": map[string]any{"aws:SourceArn": bucketARN}},
	}
}

// withS3Statement returns the policy current (JSON, "" for none) with the
// bucket's statement added or replaced, and whether that changed anything.
func withS3Statement(current, queueARN, bucketARN string) (string, bool, error) {
	doc := map[string]any{}
	if current != "" {
		if err := json.Unmarshal([]byte(current), &doc); err != nil {
			return "", false, fmt.Errorf("parse the current policy: %w", err)
		}
	}
	if _, ok := doc["Version"]; !ok {
		doc["Version"] = "2012-10-17"
	}
	if _, ok := doc["Id"]; !ok {
		doc["Id"] = queueARN + "/SQSDefaultPolicy"
	}
	var statements []any
	switch s := doc["Statement"].(type) {
	case nil:
	case []any:
		statements = s
	case map[string]any: // a policy may hold one statement without the array
		statements = []any{s}
	default:
		return "", false, fmt.Errorf("the current policy's Statement is a %T, want an array", s)
	}
	want := s3Statement(queueARN, bucketARN)
	found, changed := false, true
	for i, s := range statements {
		m, ok := s.(map[string]any)
		if !ok || m["Sid"] != want["Sid"] {
			continue
		}
		found, changed = true, !samePolicyJSON(m, want)
		statements[i] = want
		break
	}
	if !found {
		statements = append(statements, want)
	}
	if !changed {
		return current, false, nil
	}
	doc["Statement"] = statements
	b, err := json.Marshal(doc)
	if err != nil {
		return "", false, fmt.Errorf("encode the policy: %w", err)
	}
	return string(b), true, nil
}

// samePolicyJSON compares two policy elements as IAM reads them, where a
// one-element array and its element mean the same.
func samePolicyJSON(a, b any) bool {
	return reflect.DeepEqual(normalizePolicy(roundTrip(a)), normalizePolicy(roundTrip(b)))
}

// roundTrip turns a value into what json.Unmarshal makes of its encoding,
// so that values built in Go and values parsed from SQS compare alike.
func roundTrip(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

func normalizePolicy(v any) any {
	switch v := v.(type) {
	case []any:
		if len(v) == 1 {
			return normalizePolicy(v[0])
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizePolicy(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalizePolicy(e)
		}
		return out
	}
	return v
}
