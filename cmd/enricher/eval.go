package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

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
			"predicted), followed by the misclassified tickets.",
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
	classifier, err := loadClassifier(taxonomy)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("open labeled file: %w", err)
	}
	defer f.Close()
	report, err := classify.Evaluate(ctx, classifier, f)
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
