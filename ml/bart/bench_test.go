package bart

import (
	"context"
	"fmt"
	"testing"

	"github.com/ticket-enricher/enricher/ml/tensor"
)

// BenchmarkModel_Encode encodes a 300-token input with the tiny test model.
func BenchmarkModel_Encode(b *testing.B) {
	m := mustLoad(b, "tiny", tensor.Default())
	ids := make([]int32, 300)
	for i := range ids {
		ids[i] = int32(4 + i*13%7990)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Encode(context.Background(), ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkModel_DecodeStep decodes 32 steps of 1 and 4 beams over a
// 100-token input with the tiny test model.
func BenchmarkModel_DecodeStep(b *testing.B) {
	m := mustLoad(b, "tiny", tensor.Default())
	ids := make([]int32, 100)
	for i := range ids {
		ids[i] = int32(4 + i*29%7990)
	}
	enc, err := m.Encode(context.Background(), ids)
	if err != nil {
		b.Fatal(err)
	}
	const steps = 32
	for _, beams := range []int{1, 4} {
		b.Run(fmt.Sprintf("beams=%d", beams), func(b *testing.B) {
			toks := make([]int32, beams)
			b.ReportAllocs()
			for b.Loop() {
				st, err := NewDecoderState(enc, beams)
				if err != nil {
					b.Fatal(err)
				}
				for s := range steps {
					for i := range toks {
						toks[i] = int32(4 + (s*31+i*7)%7990)
					}
					if _, err := m.DecodeStep(context.Background(), st, toks); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(steps)*float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}
