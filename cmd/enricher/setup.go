package main

import (
	"context"
	"fmt"
	"io"

	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ticket-enricher/enricher/dynamodb"
	"github.com/ticket-enricher/enricher/s3"
	"github.com/ticket-enricher/enricher/sqs"
)

func runSetup(ctx context.Context, args []string, io stdio) error {
	var (
		cfg    config
		awsf   awsFlags
		dryRun bool
	)
	fs := newFlagSet("setup", "[flags]",
		"Creates the AWS resources of the service, idempotently: the raw and enriched buckets, the\n"+
			"queue and its dead-letter queue with a redrive policy (--max-receives), the queue policy\n"+
			"that lets the raw bucket send to the queue, the bucket's object-created notification,\n"+
			"and the table with its urgency-index. What exists is checked and left alone (queue\n"+
			"attributes that differ are updated); a second run changes nothing. --dry-run only reads,\n"+
			"and prints the plan.",
		"  AWS_ENDPOINT_URL=http://127.0.0.1:5000 enricher setup\n"+
			"  enricher setup --dry-run --region eu-west-1",
		io.err)
	cfg.register(fs)
	awsf.register(fs)
	fs.BoolVar(&dryRun, "dry-run", false, "print what would change, change nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see 'enricher setup --help'", fs.Args())
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	awsCfg, err := awsf.config(ctx)
	if err != nil {
		return err
	}
	p := setupPlan{
		out:    io.out,
		dryRun: dryRun,
		s3:     s3.NewClient(awsCfg, awsf.s3Options()),
		sqs:    awssqs.NewFromConfig(awsCfg),
		ddb:    awsdynamodb.NewFromConfig(awsCfg),
		region: awsf.region,
	}
	changes, err := p.run(ctx, cfg, awsf.table)
	if err != nil {
		return err
	}
	switch {
	case changes == 0:
		fmt.Fprintln(io.out, "no changes: everything is set up")
	case dryRun:
		fmt.Fprintf(io.out, "%d changes planned; run without --dry-run to make them\n", changes)
	default:
		fmt.Fprintf(io.out, "%d changes made\n", changes)
	}
	return nil
}

// setupPlan creates (or, in a dry run, checks) the resources in dependency
// order, printing a line per resource.
type setupPlan struct {
	out    io.Writer
	dryRun bool
	s3     s3.SetupAPI
	sqs    sqs.SetupAPI
	ddb    dynamodb.SetupClient
	region string
}

func (p setupPlan) run(ctx context.Context, cfg config, table string) (changes int, err error) {
	report := func(changed bool, what string) {
		verb := "ok     "
		if changed {
			changes++
			verb = "change "
			if p.dryRun {
				verb = "plan   "
			}
		}
		fmt.Fprintf(p.out, "%s %s\n", verb, what)
	}

	for _, bucket := range []string{cfg.bucketRaw, cfg.bucketEnriched} {
		var changed bool
		if p.dryRun {
			exists, err := s3.BucketExists(ctx, p.s3, bucket)
			if err != nil {
				return 0, err
			}
			changed = !exists
		} else if changed, err = s3.EnsureBucket(ctx, p.s3, bucket, p.region); err != nil {
			return 0, err
		}
		report(changed, "bucket "+bucket)
	}

	dlq := cfg.queueName + "-dlq"
	plan := sqs.EnsureQueues
	if p.dryRun {
		plan = sqs.PlanQueues
	}
	q, err := plan(ctx, p.sqs, cfg.queueName, dlq, cfg.maxReceives, cfg.visibilityTimeout)
	if err != nil {
		return 0, err
	}
	for _, c := range q.Changes {
		report(true, c.String())
	}
	if !q.Changed() {
		report(false, fmt.Sprintf("queue %s with dead-letter queue %s (max receive count %d)", cfg.queueName, dlq, cfg.maxReceives))
	}

	bucketARN := "arn:aws:s3:::" + cfg.bucketRaw
	if q.QueueARN == "" { // a dry run of a queue that does not exist yet
		report(true, fmt.Sprintf("queue policy: %s may send to %s", cfg.bucketRaw, cfg.queueName))
		report(true, fmt.Sprintf("notification: %s object-created -> %s", cfg.bucketRaw, cfg.queueName))
	} else {
		policy := sqs.EnsureS3Policy
		if p.dryRun {
			policy = sqs.PlanS3Policy
		}
		changed, err := policy(ctx, p.sqs, q.QueueURL, q.QueueARN, bucketARN)
		if err != nil {
			return 0, err
		}
		report(changed, fmt.Sprintf("queue policy: %s may send to %s", cfg.bucketRaw, cfg.queueName))

		if p.dryRun {
			ok, err := s3.NotificationConfigured(ctx, p.s3, cfg.bucketRaw, q.QueueARN)
			if err != nil {
				return 0, err
			}
			changed = !ok
		} else if changed, err = s3.EnsureNotification(ctx, p.s3, cfg.bucketRaw, q.QueueARN); err != nil {
			return 0, err
		}
		report(changed, fmt.Sprintf("notification: %s object-created -> %s", cfg.bucketRaw, cfg.queueName))
	}

	var changed bool
	if p.dryRun {
		exists, err := dynamodb.CheckTable(ctx, p.ddb, table)
		if err != nil {
			return 0, err
		}
		changed = !exists
	} else if changed, err = dynamodb.EnsureTable(ctx, p.ddb, table); err != nil {
		return 0, err
	}
	report(changed, fmt.Sprintf("table %s with index %s", table, dynamodb.IndexName))
	return changes, nil
}
