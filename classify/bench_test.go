package classify

import (
	"bufio"
	"context"
	"os"
	"testing"

	enricher "github.com/ticket-enricher/enricher"
)

// labeledPath is the shared labeled development set, relative to this
// package directory.
const labeledPath = "../../shared/data/tickets-labeled.jsonl"

// MustLabeledTickets reads the tickets of the labeled set, failing tb if the
// file is missing: the accuracy test and the benchmark are meaningless
// without it.
func MustLabeledTickets(tb testing.TB) []enricher.Ticket {
	tb.Helper()
	f, err := os.Open(labeledPath)
	if err != nil {
		tb.Fatalf("open labeled set (needed for accuracy and benchmarks): %v", err)
	}
	defer f.Close()
	var out []enricher.Ticket
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, enricher.MaxTicketSize+1)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		t, err := enricher.ParseTicket(sc.Bytes())
		if err != nil {
			tb.Fatalf("parse labeled ticket: %v", err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read labeled set: %v", err)
	}
	if len(out) == 0 {
		tb.Fatalf("labeled set %s is empty", labeledPath)
	}
	return out
}

// MustClassifier returns a classifier over the embedded taxonomy.
func MustClassifier(tb testing.TB) *Classifier {
	tb.Helper()
	tax, err := Default()
	if err != nil {
		tb.Fatalf("Default: %v", err)
	}
	c, err := New(tax)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// BenchmarkClassifier_Classify classifies the labeled tickets in turn and
// reports the time per ticket.
func BenchmarkClassifier_Classify(b *testing.B) {
	tickets := MustLabeledTickets(b)
	c := MustClassifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Classify(ctx, tickets[i%len(tickets)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/ticket")
}

// BenchmarkClassifier_ClassifyParallel shows that one Classifier scales
// across goroutines (it holds no lock on the hot path).
func BenchmarkClassifier_ClassifyParallel(b *testing.B) {
	tickets := MustLabeledTickets(b)
	c := MustClassifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Classify(ctx, tickets[i%len(tickets)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkNew measures compiling the taxonomy, which happens once at start.
func BenchmarkNew(b *testing.B) {
	tax, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := New(tax); err != nil {
			b.Fatal(err)
		}
	}
}
