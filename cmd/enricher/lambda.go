package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ticket-enricher/enricher/awslambda"
)

func runLambda(ctx context.Context, args []string, io stdio) error {
	var f serviceFlags
	fs := newFlagSet("lambda", "[flags]",
		"Runs as an AWS Lambda function triggered by the ticket queue (package the binary as\n"+
			"`bootstrap` running `enricher lambda`, on the provided.al2023 runtime). Each SQS event is\n"+
			"processed with the worker's code; messages to retry are returned as partial batch\n"+
			"failures, so enable ReportBatchItemFailures on the event source mapping. The model is\n"+
			"loaded from MODEL_CACHE_DIR (e.g. a layer or EFS) before the first event.",
		"  MODEL_CACHE_DIR=/opt/models enricher lambda",
		io.err)
	f.register(fs, "aws")
	svc, logger, err := f.start(ctx, fs, args, io)
	if err != nil {
		return err
	}
	defer svc.close()
	if svc.model != nil {
		if err := svc.model.wait(ctx); err != nil {
			return fmt.Errorf("lambda cannot start without the embedding model: %w", err)
		}
	}
	h := &awslambda.Handler{Processor: svc.worker, Logger: logger}
	lambda.StartWithOptions(h.Handle, lambda.WithContext(ctx))
	return nil
}
