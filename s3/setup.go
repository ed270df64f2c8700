package s3

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ticket-enricher/enricher"
)

// NotificationID is the Id of the queue configuration EnsureNotification
// adds, so that a later run finds it (and updates it if its queue changed)
// among the bucket's other notifications.
const NotificationID = "enricher-object-created"

// SetupAPI is the part of the S3 client that the setup functions use;
// *awss3.Client (from NewClient) implements it.
type SetupAPI interface {
	HeadBucket(ctx context.Context, in *awss3.HeadBucketInput, optFns ...func(*awss3.Options)) (*awss3.HeadBucketOutput, error)
	CreateBucket(ctx context.Context, in *awss3.CreateBucketInput, optFns ...func(*awss3.Options)) (*awss3.CreateBucketOutput, error)
	GetBucketNotificationConfiguration(ctx context.Context, in *awss3.GetBucketNotificationConfigurationInput, optFns ...func(*awss3.Options)) (*awss3.GetBucketNotificationConfigurationOutput, error)
	PutBucketNotificationConfiguration(ctx context.Context, in *awss3.PutBucketNotificationConfigurationInput, optFns ...func(*awss3.Options)) (*awss3.PutBucketNotificationConfigurationOutput, error)
}

// BucketExists reports whether the bucket exists and this account can use
// it. `enricher setup --dry-run` uses it to plan without changing anything.
// A bucket that exists but answers 403 (another account's, or no
// s3:ListBucket permission) is an error, since setup cannot use it.
func BucketExists(ctx context.Context, client SetupAPI, name string) (bool, error) {
	if err := validBucket(name); err != nil {
		return false, err
	}
	_, err := client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(name)})
	switch {
	case err == nil:
		return true, nil
	case errorCode(err) == "NotFound" || errorCode(err) == "NoSuchBucket" || httpStatus(err) == http.StatusNotFound:
		return false, nil
	case httpStatus(err) == http.StatusForbidden:
		return false, fmt.Errorf("check bucket %q: it exists but this account may not use it "+
			"(owned by another account, or s3:ListBucket is not allowed): %w", name, err)
	case httpStatus(err) == http.StatusMovedPermanently:
		return false, enricher.Errorf(enricher.EINVALID, "check bucket %q: it exists in another region than the client's (set AWS_REGION): %w", name, err)
	}
	return false, fmt.Errorf("check bucket %q: %w", name, err)
}

// EnsureBucket creates the bucket in region unless it exists, and reports
// whether it created it, so that a second run of `enricher setup` reports
// no changes.
//
// It asks first (HeadBucket) instead of relying on CreateBucket's error,
// because in us-east-1 S3 answers 200 to a CreateBucket of a bucket the
// account already owns. BucketAlreadyOwnedByYou (another region, or a
// concurrent setup that won the race) means it exists. BucketAlreadyExists
// (the name is taken by another account; names are global) is ECONFLICT.
// region must be the region of the client; us-east-1 is sent without a
// LocationConstraint, which S3 refuses for it.
func EnsureBucket(ctx context.Context, client SetupAPI, name, region string) (created bool, err error) {
	if region == "" {
		return false, enricher.Errorf(enricher.EINVALID, "create bucket %q: empty region", name)
	}
	exists, err := BucketExists(ctx, client, name)
	if err != nil || exists {
		return false, err
	}
	in := &awss3.CreateBucketInput{Bucket: aws.String(name)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	_, err = client.CreateBucket(ctx, in)
	switch code := errorCode(err); {
	case err == nil:
		return true, nil
	case code == "BucketAlreadyOwnedByYou":
		return false, nil
	case code == "BucketAlreadyExists":
		return false, enricher.Errorf(enricher.ECONFLICT,
			"create bucket %q: the name is taken by another AWS account (bucket names are global); choose another with S3_BUCKET_RAW / S3_BUCKET_ENRICHED: %w", name, err)
	case code == "InvalidBucketName":
		return false, enricher.Errorf(enricher.EINVALID, "create bucket %q: S3 refuses the name (3-63 lowercase letters, digits, '-', '.'): %w", name, err)
	case strings.Contains(code, "LocationConstraint"):
		return false, enricher.Errorf(enricher.EINVALID, "create bucket %q in region %q: S3 refuses the location constraint (it must be the client's region, set by AWS_REGION): %w", name, region, err)
	}
	return false, fmt.Errorf("create bucket %q in region %q: %w", name, region, err)
}

// NotificationConfigured reports whether the bucket already sends every
// s3:ObjectCreated:* event, unfiltered, to the queue, which is what
// EnsureNotification would make true. `enricher setup --dry-run` uses it.
func NotificationConfigured(ctx context.Context, client SetupAPI, bucket, queueARN string) (bool, error) {
	cur, err := getNotification(ctx, client, bucket, queueARN)
	if err != nil {
		return false, err
	}
	_, changed := withOurQueue(cur, queueARN)
	return !changed, nil
}

// EnsureNotification makes the bucket send its s3:ObjectCreated:* events to
// the SQS queue queueARN, and reports whether it changed the configuration.
//
// S3 keeps one notification configuration per bucket and
// PutBucketNotificationConfiguration replaces it whole, so this reads it,
// keeps every other topic, queue, Lambda and EventBridge configuration, and
// writes it back only if ours is missing: either no unfiltered
// ObjectCreated configuration for this queue, or ours (NotificationID)
// pointing elsewhere, which it updates.
//
// On real AWS the queue's policy must already allow s3.amazonaws.com to
// sqs:SendMessage with aws:SourceArn the bucket's ARN, and the queue must be
// in the bucket's region; S3 checks that on the write, and the error says
// so. (moto checks neither.) S3 then sends an s3:TestEvent message to the
// queue, which enricher.ParseNotification accepts and ignores.
func EnsureNotification(ctx context.Context, client SetupAPI, bucket, queueARN string) (changed bool, err error) {
	cur, err := getNotification(ctx, client, bucket, queueARN)
	if err != nil {
		return false, err
	}
	next, changed := withOurQueue(cur, queueARN)
	if !changed {
		return false, nil
	}
	_, err = client.PutBucketNotificationConfiguration(ctx, &awss3.PutBucketNotificationConfigurationInput{
		Bucket:                    aws.String(bucket),
		NotificationConfiguration: next,
	})
	if err == nil {
		return true, nil
	}
	what := fmt.Sprintf("configure notifications of bucket %q to queue %s", bucket, queueARN)
	switch code := errorCode(err); {
	case code == "NoSuchBucket":
		return false, noSuchBucket(what, bucket, err)
	case code == "InvalidArgument" && strings.Contains(err.Error(), "validate"):
		return false, enricher.Errorf(enricher.EINVALID,
			"%s: S3 cannot send to the queue: its policy must allow s3.amazonaws.com to sqs:SendMessage "+
				"with aws:SourceArn arn:aws:s3:::%s, and it must be in the bucket's region: %w", what, bucket, err)
	case code == "InvalidArgument" && strings.Contains(err.Error(), "overlap"):
		return false, enricher.Errorf(enricher.ECONFLICT,
			"%s: another notification of the bucket already takes some ObjectCreated events; remove it or narrow it with a key filter: %w", what, err)
	case code == "InvalidArgument":
		return false, enricher.Errorf(enricher.EINVALID, "%s: %w", what, err)
	}
	return false, fmt.Errorf("%s: %w", what, err)
}

// getNotification validates the arguments and reads the bucket's current
// notification configuration.
func getNotification(ctx context.Context, client SetupAPI, bucket, queueARN string) (*types.NotificationConfiguration, error) {
	if err := validBucket(bucket); err != nil {
		return nil, err
	}
	if err := validQueueARN(queueARN); err != nil {
		return nil, err
	}
	out, err := client.GetBucketNotificationConfiguration(ctx, &awss3.GetBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket),
	})
	if err != nil {
		what := fmt.Sprintf("read notifications of bucket %q", bucket)
		if errorCode(err) == "NoSuchBucket" {
			return nil, noSuchBucket(what, bucket, err)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &types.NotificationConfiguration{
		EventBridgeConfiguration:     out.EventBridgeConfiguration,
		LambdaFunctionConfigurations: out.LambdaFunctionConfigurations,
		QueueConfigurations:          out.QueueConfigurations,
		TopicConfigurations:          out.TopicConfigurations,
	}, nil
}

// withOurQueue returns cur with our queue configuration, and whether that
// differs from cur. cur is not modified.
func withOurQueue(cur *types.NotificationConfiguration, queueARN string) (*types.NotificationConfiguration, bool) {
	ours := types.QueueConfiguration{
		Id:       aws.String(NotificationID),
		QueueArn: aws.String(queueARN),
		// Every way an object can be created (Put, Post, Copy,
		// CompleteMultipartUpload), so that tickets uploaded by any S3
		// client reach the workers.
		Events: []types.Event{types.EventS3ObjectCreated},
	}
	next := *cur
	next.QueueConfigurations = slices.Clone(cur.QueueConfigurations)
	for i, q := range next.QueueConfigurations {
		if aws.ToString(q.Id) == NotificationID {
			if delivers(q, queueARN) {
				return cur, false
			}
			next.QueueConfigurations[i] = ours
			return &next, true
		}
	}
	for _, q := range next.QueueConfigurations {
		if delivers(q, queueARN) {
			return cur, false // configured by hand or by the Python deployment
		}
	}
	next.QueueConfigurations = append(next.QueueConfigurations, ours)
	return &next, true
}

// delivers reports whether q sends every created object to queueARN: no key
// filter, and s3:ObjectCreated:* among its events.
func delivers(q types.QueueConfiguration, queueARN string) bool {
	if aws.ToString(q.QueueArn) != queueARN {
		return false
	}
	if q.Filter != nil && q.Filter.Key != nil && len(q.Filter.Key.FilterRules) > 0 {
		return false
	}
	return slices.Contains(q.Events, types.EventS3ObjectCreated)
}

// validQueueARN accepts arn:<partition>:sqs:<region>:<account>:<name>, the
// form GetQueueAttributes returns as QueueArn. A queue URL or name here is a
// common mistake, and S3's own error for it is obscure.
func validQueueARN(arn string) error {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "sqs" || parts[3] == "" || parts[4] == "" || parts[5] == "" {
		return enricher.Errorf(enricher.EINVALID,
			"invalid queue ARN %q: want arn:aws:sqs:<region>:<account>:<queue> (the queue's QueueArn attribute, not its URL)", arn)
	}
	return nil
}
