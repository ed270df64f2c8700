// Package pipeline turns accepted tickets into enriched records: Intake
// stores a raw ticket and announces it, Worker takes announcements off the
// queue and runs fetch, enrich, store and ack with retries, heartbeats and a
// graceful shutdown, and Enricher runs the enrichment stages on one ticket.
//
// It depends only on the interfaces of the root package, so the same code
// runs on the embedded backends and on AWS.
package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ticket-enricher/enricher"
)

// Classifier finds the intent and urgency of a ticket. It is declared here,
// where it is used; classify.Classifier satisfies it.
type Classifier interface {
	Classify(ctx context.Context, t enricher.Ticket) (enricher.Classification, error)
}

// Enricher runs the enrichment stages on a ticket, in the order of DESIGN.md
// §1: embed, then classify. A stage runs when its dependency is set; a stage that is not configured
// or not built yet leaves its fields and its timing absent from the record,
// never filled with a placeholder (DESIGN.md §2.2).
type Enricher struct {
	// Embedder computes the ticket's embedding; wrap the model in a
	// Batcher so that concurrent tickets share its batches.
	Embedder Embedder
	// EmbeddingModel names the embedding model in every record.
	EmbeddingModel string
	Classifier     Classifier
	// ModelVersion is recorded in every record, so that results can be
	// traced to the models that produced them and reprocessed when they
	// change.
	ModelVersion string
	// Now is the clock; nil means time.Now. Timings are differences of
	// its readings, so a test clock makes them exact.
	Now func() time.Time
}

// stage is one step of enrichment. Adding a stage (embedding, summary) is
// one more entry in stages: its run fills its fields, and timing says where
// its duration goes.
type stage struct {
	name   string
	run    func(ctx context.Context, t enricher.Ticket, e *enricher.Enrichment) error
	timing func(tm *enricher.Timings) **float64
}

func (e *Enricher) stages() []stage {
	var s []stage
	if e.Embedder != nil {
		s = append(s, stage{
			name: "embed",
			run: func(ctx context.Context, t enricher.Ticket, en *enricher.Enrichment) error {
				vecs, err := e.Embedder.Embed(ctx, []string{t.Text()})
				if err != nil {
					return err
				}
				en.Embedding, en.EmbeddingModel = vecs[0], e.EmbeddingModel
				return nil
			},
			timing: func(tm *enricher.Timings) **float64 { return &tm.Embedding },
		})
	}
	if e.Classifier != nil {
		s = append(s, stage{
			name: "classify",
			run: func(ctx context.Context, t enricher.Ticket, en *enricher.Enrichment) error {
				c, err := e.Classifier.Classify(ctx, t)
				if err != nil {
					return err
				}
				en.SetClassification(c)
				return nil
			},
			timing: func(tm *enricher.Timings) **float64 { return &tm.Classification },
		})
	}
	return s
}

// Enrich returns the enriched record of t: every configured stage's result,
// ProcessedAt, ModelVersion and the time each stage took. A stage error
// fails the whole ticket, so that a record is never half enriched.
func (e *Enricher) Enrich(ctx context.Context, t enricher.Ticket) (enricher.Record, error) {
	now := e.Now
	if now == nil {
		now = time.Now
	}
	rec := enricher.Record{Ticket: t}
	en := &rec.Enrichment
	start := now()
	for _, s := range e.stages() {
		if err := ctx.Err(); err != nil {
			return enricher.Record{}, fmt.Errorf("enrich ticket %s: %w", t.ID, err)
		}
		begin := now()
		if err := s.run(ctx, t, en); err != nil {
			return enricher.Record{}, fmt.Errorf("%s ticket %s: %w", s.name, t.ID, err)
		}
		ms := millis(now().Sub(begin))
		*s.timing(&en.TimingsMS) = &ms
	}
	end := now()
	en.TimingsMS.Total = millis(end.Sub(start))
	en.ProcessedAt = enricher.FormatTime(end)
	en.ModelVersion = e.ModelVersion
	return rec, nil
}

// millis converts d to milliseconds with sub-millisecond precision: a
// classification takes microseconds, which whole milliseconds would hide.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
