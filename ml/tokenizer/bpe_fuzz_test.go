package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzBPE checks, for any text: no panic; <s> first, </s> last, every id in
// the vocabulary, length within MaxLen; truncation keeps a prefix; and
// Decode(Encode(s)) == s for valid UTF-8 without special-token strings that
// fits untruncated. tools/bpe_golden.py checks Hugging Face has the same
// round-trip property on all its golden texts.
func FuzzBPE(f *testing.F) {
	for _, s := range []string{
		"", " ", "Hello, World!", "it's DON'T it’s 'll", "a   b\t\tc\n\n d  ", "café ÅNGSTRÖM", "中文 日本語 한국어",
		"👨\u200d👩\u200d👧", "a\u0301\u0316\u0334", "x<mask>y </s>", "<<s", "\x00\x1f\x7f\u0085\u200b\ufeff",
		"a\xffb\xc3", "\u1c89\U000105c0", "https://example.com/a?b=c", "1,000.50 ½ Ⅻ", strings.Repeat("ab ", 40),
	} {
		f.Add(s)
	}
	tok := mustLoadBPE(f, DefaultBPEOptions())
	short := mustLoadBPE(f, BPEOptions{MaxLen: 8, MaskLStrip: true})
	f.Fuzz(func(t *testing.T, text string) {
		ids := tok.Encode(text)
		if len(ids) < 2 || len(ids) > tok.maxLen {
			t.Fatalf("len(Encode(%+q)) = %d, want 2..%d", text, len(ids), tok.maxLen)
		}
		if ids[0] != tok.bos || ids[len(ids)-1] != tok.eos {
			t.Fatalf("Encode(%+q) = %v, want <s> first and </s> last", text, ids)
		}
		for i, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("Encode(%+q)[%d] = %d, want 0..%d", text, i, id, tok.VocabSize()-1)
			}
		}
		cut := short.Encode(text)
		n := len(cut) - 1
		if n > len(ids)-1 || !slices.Equal(cut[:n], ids[:n]) {
			t.Fatalf("Encode(%+q) with MaxLen 8 = %v, want a prefix of %v", text, cut, ids)
		}
		hasSpecial := false
		for _, sp := range tok.specials {
			hasSpecial = hasSpecial || strings.Contains(text, sp.text)
		}
		if utf8.ValidString(text) && !hasSpecial && len(ids) < tok.maxLen {
			if got := tok.Decode(ids, true); got != text {
				t.Fatalf("Decode(Encode(%+q)) = %+q, want the text back", text, got)
			}
		}
	})
}

// BenchmarkBPE_Encode tokenizes the 160 labeled tickets (subject + ". " +
// body) and reports µs per ticket. The word cache is warm after the first
// round, as it is in a running service.
func BenchmarkBPE_Encode(b *testing.B) {
	tok := mustLoadBPE(b, DefaultBPEOptions())
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
	b.ReportMetric(float64(elapsed.Nanoseconds())/1e3/float64(b.N*len(texts)), "µs/ticket")
	b.ReportMetric(float64(tokens*b.N)/elapsed.Seconds(), "tokens/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBPE_EncodeCold is BenchmarkBPE_Encode with a fresh tokenizer
// (empty cache) for every round: the cost of the merges themselves.
func BenchmarkBPE_EncodeCold(b *testing.B) {
	texts := mustReadTickets(b, "../../../shared/data/tickets-labeled.jsonl")
	toks := make([]*BPE, 0, 64)
	b.ReportAllocs()
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		if len(toks) == 0 {
			for range cap(toks) {
				toks = append(toks, mustLoadBPE(b, DefaultBPEOptions()))
			}
		}
		tok := toks[len(toks)-1]
		toks = toks[:len(toks)-1]
		b.StartTimer()
		start := time.Now()
		for _, s := range texts {
			tok.Encode(s)
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/1e3/float64(b.N*len(texts)), "µs/ticket")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBPE_Decode decodes the tickets' ids back to text.
func BenchmarkBPE_Decode(b *testing.B) {
	tok := mustLoadBPE(b, DefaultBPEOptions())
	texts := mustReadTickets(b, "../../../shared/data/tickets-labeled.jsonl")
	all := make([][]int32, len(texts))
	for i, s := range texts {
		all[i] = tok.Encode(s)
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		for _, ids := range all {
			tok.Decode(ids, true)
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/1e3/float64(b.N*len(texts)), "µs/ticket")
	b.ReportMetric(0, "ns/op")
}
