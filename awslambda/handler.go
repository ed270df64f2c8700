// Package awslambda runs the worker as an AWS Lambda function triggered by
// the ticket queue. Lambda receives the messages and hands them over in an
// SQS event; the handler processes each with the same code as the
// long-polling worker (pipeline.Worker.ProcessMessage) and reports the ones
// that must be retried as partial batch failures, so one bad ticket never
// makes Lambda redeliver its whole batch. The event source mapping must have
// ReportBatchItemFailures enabled (FunctionResponseTypes).
package awslambda

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ticket-enricher/enricher"
)

// Processor settles one queue message: nil when it is done (acknowledged
// or dead-lettered), an error when it must be delivered again.
// pipeline.Worker satisfies it.
type Processor interface {
	ProcessMessage(ctx context.Context, m enricher.Message) error
}

// Handler is the Lambda handler of SQS events.
type Handler struct {
	Processor Processor
	// Logger receives a line per message that must be retried; nil discards.
	Logger *slog.Logger
}

// Handle processes the records of ev in order and returns those to retry
// as batch item failures. It returns an error only when ctx ends, which
// makes Lambda retry every record not yet reported as processed.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var resp events.SQSEventResponse
	for i, r := range ev.Records {
		if err := ctx.Err(); err != nil {
			// Out of time: report this record and the rest as failures so
			// that only they are retried.
			for _, rest := range ev.Records[i:] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rest.MessageId})
			}
			return resp, nil
		}
		if err := h.Processor.ProcessMessage(ctx, message(r)); err != nil {
			log.Warn("message will be retried", "message_id", r.MessageId, "err", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp, nil
}

// message converts an SQS event record into the queue message the worker
// knows. ApproximateReceiveCount tells the worker when to give up.
func message(r events.SQSMessage) enricher.Message {
	n, err := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		n = 1
	}
	return enricher.Message{ID: r.MessageId, Body: []byte(r.Body), Receipt: r.ReceiptHandle, ReceiveCount: n}
}
