package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/ticket-enricher/enricher/dynamodb"
	"github.com/ticket-enricher/enricher/s3"
	"github.com/ticket-enricher/enricher/sqs"
)

// awsFlags are the AWS settings of DESIGN.md §2.5. Credentials come only
// from the SDK's standard chain (environment, shared files, IRSA on EKS,
// instance roles); there is deliberately no flag for them.
type awsFlags struct {
	endpoint string
	region   string
	table    string
}

func (f *awsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint", env("AWS_ENDPOINT_URL", ""), "AWS endpoint, for emulators such as LocalStack or moto (env AWS_ENDPOINT_URL); empty means AWS itself")
	fs.StringVar(&f.region, "region", env("AWS_REGION", env("AWS_DEFAULT_REGION", "us-east-1")), "AWS region (env AWS_REGION)")
	fs.StringVar(&f.table, "table", env("DYNAMODB_TABLE", "tickets"), "DynamoDB table (env DYNAMODB_TABLE)")
}

// config loads the SDK configuration: the region, the endpoint when one is
// given, and the standard retryer with backoff, allowed more attempts than
// the default because a worker would rather wait out throttling than fail
// a ticket.
func (f *awsFlags) config(ctx context.Context) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(f.region),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 8 })
		}),
	}
	if f.endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(f.endpoint))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// s3Options uses path-style addressing with an emulator endpoint, which
// has no per-bucket host names.
func (f *awsFlags) s3Options() s3.Options { return s3.Options{UsePathStyle: f.endpoint != ""} }

// awsBackends are the AWS implementations of the service's interfaces.
type awsBackends struct {
	raw, enriched *s3.Store
	queue         *sqs.Queue
	table         *dynamodb.Table
}

// openAWS opens the buckets, the queue and the table; it creates nothing
// (that is `enricher setup`), and says so when something is missing.
func openAWS(ctx context.Context, f *awsFlags, cfg config) (*awsBackends, aws.Config, error) {
	awsCfg, err := f.config(ctx)
	if err != nil {
		return nil, aws.Config{}, err
	}
	b := &awsBackends{}
	if b.raw, err = s3.New(awsCfg, cfg.bucketRaw, f.s3Options()); err != nil {
		return nil, awsCfg, err
	}
	if b.enriched, err = s3.New(awsCfg, cfg.bucketEnriched, f.s3Options()); err != nil {
		return nil, awsCfg, err
	}
	if b.queue, err = sqs.New(ctx, awsCfg, cfg.queueName, sqs.Options{}); err != nil {
		return nil, awsCfg, fmt.Errorf("open queue (has `enricher setup` run?): %w", err)
	}
	if b.table, err = dynamodb.New(awsCfg, f.table); err != nil {
		return nil, awsCfg, err
	}
	return b, awsCfg, nil
}
