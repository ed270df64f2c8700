package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/pipeline"
)

func runEnrich(ctx context.Context, args []string, io stdio) error {
	var (
		taxonomy string
		emb      embedFlags
	)
	fs := newFlagSet("enrich", "[FILE|-]",
		"Enriches tickets without a service: reads one JSON object, a JSON array or JSON Lines from\n"+
			"FILE (or stdin when FILE is '-' or absent) and writes one enriched record per ticket as\n"+
			"JSON Lines to stdout, in input order. An invalid ticket gives a line\n"+
			"{\"ticket_id\":...,\"index\":N,\"error\":{...}} and the exit status is 1. It streams, so memory\n"+
			"stays flat on any input size.",
		"  enricher enrich ../shared/data/tickets-labeled.jsonl > enriched.jsonl\n"+
			"  echo '{\"ticket_id\":\"T1\",\"subject\":\"Cannot log in\",\"body\":\"\",\"created_at\":1767534579,\"customer_id\":\"C1\"}' | enricher enrich",
		io.err)
	fs.StringVar(&taxonomy, "taxonomy", env("TAXONOMY_FILE", ""), "JSON taxonomy file replacing the built-in intents and keywords (env TAXONOMY_FILE)")
	emb.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := emb.validate(); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("takes one FILE (or '-'), got %d arguments", fs.NArg())
	}
	in := io.in
	name := "stdin"
	if path := fs.Arg(0); path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open tickets: %w", err)
		}
		defer f.Close()
		in, name = f, path
	}
	classifier, err := loadClassifier(taxonomy)
	if err != nil {
		return err
	}
	e := &pipeline.Enricher{Classifier: classifier, ModelVersion: classifier.Version()}
	workers := 1
	if emb.enabled {
		model, err := emb.load(ctx)
		if err != nil {
			return fmt.Errorf("%w\n(or run with --embeddings=false to enrich without embeddings)", err)
		}
		batcher := pipeline.NewBatcher(model, emb.batch, emb.wait)
		defer batcher.Close()
		e.Embedder, e.EmbeddingModel = batcher, embeddingModelID
		e.ModelVersion = embeddingVersion() + "+" + e.ModelVersion
		workers = emb.batch // enough tickets in flight to fill a batch
	}
	return enrichStream(ctx, e, in, io.out, workers, newProgress(io.err, "enrich "+name, -1))
}

// recordEnricher is what enrichStream needs of the pipeline.
type recordEnricher interface {
	Enrich(ctx context.Context, t enricher.Ticket) (enricher.Record, error)
}

// errorLine is the line written for a ticket that could not be enriched.
type errorLine struct {
	TicketID *string   `json:"ticket_id"`
	Index    int       `json:"index"`
	Error    errorBody `json:"error"`
}

type errorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details []enricher.Detail `json:"details,omitempty"`
}

// enrichStream enriches tickets from in to out, up to workers at a time so
// that a model's micro-batcher can fill its batches, and writes the results
// in input order. At most a fixed window of tickets is in memory, so memory
// does not grow with the input. It returns errInput when any ticket was
// invalid.
func enrichStream(ctx context.Context, e recordEnricher, in io.Reader, out io.Writer, workers int, p *progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		line any
		bad  bool
	}
	// order carries one future per ticket in input order; its capacity is
	// the window of tickets read ahead of the writer.
	order := make(chan chan result, 4*workers)
	sem := make(chan struct{}, workers)
	sc := enricher.NewTicketScanner(in)
	go func() {
		defer close(order)
		for sc.Scan() {
			raw := sc.Ticket()
			res := make(chan result, 1)
			select {
			case order <- res:
			case <-ctx.Done():
				return
			}
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				rec, err := enrichRaw(ctx, e, raw)
				if err != nil {
					res <- result{bad: true, line: errorLine{TicketID: ticketIDOf(raw.Data, err), Index: raw.Index, Error: errorBody{
						Code: enricher.ErrorCode(err), Message: enricher.ErrorMessage(err), Details: enricher.ErrorDetails(err)}}}
					return
				}
				res <- result{line: rec}
			}()
		}
	}()

	w := bufio.NewWriterSize(out, 64<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	bad := 0
	for res := range order {
		r := <-res
		if r.bad {
			bad++
		}
		if err := enc.Encode(r.line); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		p.add(1)
	}
	p.done()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read tickets: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("%d invalid tickets: %w", bad, errInput)
	}
	return nil
}

func enrichRaw(ctx context.Context, e recordEnricher, raw enricher.RawTicket) (enricher.Record, error) {
	if raw.Err != nil {
		return enricher.Record{}, raw.Err
	}
	t, err := enricher.ParseTicket(raw.Data)
	if err != nil {
		return enricher.Record{}, err
	}
	return e.Enrich(ctx, t)
}

// ticketIDOf finds the id of a ticket that failed, from its error details or
// its bytes, so an error line can be matched to its input; nil when unknown.
func ticketIDOf(data []byte, err error) *string {
	for _, d := range enricher.ErrorDetails(err) {
		if d.TicketID != "" {
			return &d.TicketID
		}
	}
	var probe struct {
		ID *string `json:"ticket_id"`
	}
	if json.Unmarshal(data, &probe) == nil {
		return probe.ID
	}
	return nil
}
