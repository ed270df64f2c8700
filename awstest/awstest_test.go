package awstest_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ticket-enricher/enricher/awstest"
)

// TestStart checks that the emulator answers the real SDK and that Reset
// empties it.
func TestStart(t *testing.T) {
	srv := awstest.Start(t)
	client := s3.NewFromConfig(srv.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("probe")}); err != nil {
		t.Fatalf("CreateBucket: %v\n%s", err, srv.Logs())
	}
	out, err := client.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 1 {
		t.Fatalf("ListBuckets: %v, %d buckets, want 1", err, len(out.Buckets))
	}
	srv.Reset(t)
	out, err = client.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 0 {
		t.Fatalf("ListBuckets after Reset: %v, %d buckets, want 0", err, len(out.Buckets))
	}
}
