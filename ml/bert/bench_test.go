package bert

import (
	"context"
	"fmt"
	"testing"
)

// goldenTickets is how many of the golden texts are the labeled tickets'
// Text (they come first in testdata/golden.jsonl; see tools/embed_golden.py).
const goldenTickets = 160

// BenchmarkModel_Embed embeds the 160 labeled tickets with the real weights,
// one call per batch, and reports the cost per ticket.
func BenchmarkModel_Embed(b *testing.B) {
	m := mustLoadMiniLM(b)
	gold := mustReadGolden(b)
	texts := make([]string, goldenTickets)
	tokens := 0
	for i := range texts {
		texts[i] = gold[i].Text
		tokens += len(gold[i].IDs)
	}
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for i := 0; i < len(texts); i += batch {
					if _, err := m.Embed(ctx, texts[i:min(i+batch, len(texts))]); err != nil {
						b.Fatal(err)
					}
				}
			}
			perTicket := b.Elapsed().Seconds() / float64(b.N*len(texts))
			b.ReportMetric(perTicket*1e3, "ms/ticket")
			b.ReportMetric(1/perTicket, "tickets/s")
			b.ReportMetric(float64(tokens)/float64(len(texts)), "tokens/ticket")
		})
	}
}

// BenchmarkLoad measures Load with the real weights: config, vocabulary,
// mapping the safetensors file and packing the weight matrices, the part of
// the service's cold start that belongs to the model.
func BenchmarkLoad(b *testing.B) {
	dir := miniLMDir(b)
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/load")
}
