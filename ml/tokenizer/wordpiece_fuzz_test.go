package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"
)

func FuzzWordPiece(f *testing.F) {
	for _, s := range []string{
		"", " ", "Hello, World!", "café ÅNGSTRÖM", "中文 日本語 한국어", "👨\u200d👩\u200d👧", "a\u0301\u0316\u0334",
		"\U0001d15f\U0001d16d\U0001d165", "x[SEP]y[MASK]", "[[CLS", "\x00\x1f\x7f\u0085\u200b\ufeff", "a\xffb\xc3",
		"İı ﬁ Ǆ ß", "https://example.com/a?b=c", "\u0f73\u0f75\u0f81\u0344", "ab" + string(rune(0x10ffff)),
	} {
		f.Add(s)
	}
	uncased := mustLoad(f, DefaultWordPieceOptions())
	cased := mustLoad(f, WordPieceOptions{Lowercase: false, MaxLen: 256})
	short := mustLoad(f, WordPieceOptions{Lowercase: true, MaxLen: 8})
	f.Fuzz(func(t *testing.T, text string) {
		for _, tok := range []*WordPiece{uncased, cased, short} {
			ids := tok.Encode(text)
			if len(ids) < 2 || len(ids) > tok.maxLen {
				t.Fatalf("len(Encode(%+q)) = %d, want 2..%d", text, len(ids), tok.maxLen)
			}
			if ids[0] != tok.cls || ids[len(ids)-1] != tok.sep {
				t.Fatalf("Encode(%+q) = %v, want [CLS] first and [SEP] last", text, ids)
			}
			for i, id := range ids {
				if id < 0 || int(id) >= tok.VocabSize() {
					t.Fatalf("Encode(%+q)[%d] = %d, want 0..%d", text, i, id, tok.VocabSize()-1)
				}
			}
		}
		// Truncation keeps a prefix of the untruncated encoding.
		full, cut := uncased.Encode(text), short.Encode(text)
		n := len(cut) - 1
		if n > len(full)-1 || !slices.Equal(cut[:n], full[:n]) {
			t.Fatalf("Encode(%+q) with MaxLen 8 = %v, want a prefix of %v", text, cut, full)
		}
	})
}

// BenchmarkWordPiece_Encode tokenizes the 160 labeled tickets (subject + ". "
// + body, as the embedding stage will) and reports µs per ticket.
func BenchmarkWordPiece_Encode(b *testing.B) {
	tok := mustLoad(b, DefaultWordPieceOptions())
	texts := mustReadTickets(b, "../../../shared/data/tickets-labeled.jsonl")
	var bytes, tokens int
	for _, s := range texts {
		bytes += len(s)
		tokens += len(tok.Encode(s))
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for _, s := range texts {
			tok.Encode(s)
		}
	}
	elapsed := time.Since(start)
	perTicket := float64(elapsed.Microseconds()) / float64(b.N*len(texts))
	b.ReportMetric(perTicket, "µs/ticket")
	b.ReportMetric(float64(tokens*b.N)/elapsed.Seconds(), "tokens/s")
	b.ReportMetric(0, "ns/op")
}

func mustReadTickets(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("open tickets: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		var t struct{ Subject, Body string }
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			tb.Fatalf("parse ticket: %v", err)
		}
		out = append(out, t.Subject+". "+t.Body)
	}
	if err := sc.Err(); err != nil || len(out) == 0 {
		tb.Fatalf("read tickets: %d read, err %v", len(out), err)
	}
	return out
}
