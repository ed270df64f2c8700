package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/classify"
)

func runEval(ctx context.Context, args []string, io stdio) error {
	var (
		taxonomy string
		asJSON   bool
	)
	fs := newFlagSet("eval", "[flags] FILE",
		"Classifies every ticket of a labeled file (JSON Lines or an array; each ticket has\n"+
			"\"expected\": {\"intent\": ..., \"urgency\": ...}) and prints the accuracy, per-class precision\n"+
			"and recall, and the confusion matrices of intent and urgency (rows expected, columns\n"+
			"predicted), followed by the misclassified tickets. The classifier learns part of its\n"+
			"vocabulary from labeled examples; tickets of FILE that are among them (same id or same\n"+
			"text) are left out of its training, so the figures measure unseen tickets.",
		"  enricher eval ../shared/data/tickets-labeled.jsonl\n"+
			"  enricher eval --taxonomy my-taxonomy.json --json labeled.jsonl | jq .IntentAccuracy",
		io.err)
	fs.StringVar(&taxonomy, "taxonomy", env("TAXONOMY_FILE", ""), "JSON taxonomy file replacing the built-in intents and keywords (env TAXONOMY_FILE)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("takes exactly one labeled FILE, got %d arguments", fs.NArg())
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("open labeled file: %w", err)
	}
	classifier, left, err := heldOutClassifier(taxonomy, data)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.err, "eval: %d tickets of %s left out of the classifier's training examples\n", left, fs.Arg(0))
	report, err := classify.Evaluate(ctx, classifier, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", fs.Arg(0), err)
	}
	if asJSON {
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return report.WriteText(io.out)
}

// heldOutClassifier builds the classifier without the embedded examples
// that are also in the labeled data (by id or by text), so that an
// evaluation never scores tickets the classifier learned from. It returns
// how many examples it left out.
func heldOutClassifier(taxonomyPath string, labeled []byte) (*classify.Classifier, int, error) {
	ids, texts := map[string]bool{}, map[string]bool{}
	sc := enricher.NewTicketScanner(bytes.NewReader(labeled))
	for sc.Scan() {
		if t, err := enricher.ParseTicket(sc.Ticket().Data); err == nil {
			ids[t.ID] = true
			texts[t.Subject+"\x00"+t.Body] = true
		}
	}
	tax, err := loadTaxonomy(taxonomyPath)
	if err != nil {
		return nil, 0, err
	}
	examples, err := classify.DefaultExamples()
	if err != nil {
		return nil, 0, err
	}
	kept := examples[:0:0]
	for _, e := range examples {
		if !ids[e.ID] && !texts[e.Subject+"\x00"+e.Body] {
			kept = append(kept, e)
		}
	}
	c, err := classify.NewWithExamples(tax, kept)
	if err != nil {
		return nil, 0, fmt.Errorf("build classifier: %w", err)
	}
	return c, len(examples) - len(kept), nil
}
