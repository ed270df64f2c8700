package tokenizer

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	bpeTestVocab  = "testdata/bpe/vocab.json"
	bpeTestMerges = "testdata/bpe/merges.txt"
)

func mustLoadBPE(tb testing.TB, opts BPEOptions) *BPE {
	tb.Helper()
	tok, err := LoadBPE(bpeTestVocab, bpeTestMerges, opts)
	if err != nil {
		tb.Fatalf("LoadBPE: %v", err)
	}
	return tok
}

// bpeGoldenCase is one line of the file tools/bpe_golden.py writes.
type bpeGoldenCase struct {
	Text    string  `json:"text"`
	IDs     []int32 `json:"ids"`
	Decoded string  `json:"decoded"`
}

// TestBPE_Golden compares every text of the golden file, written by Hugging
// Face tokenizers, id for id, and the decoding of its ids character for
// character.
func TestBPE_Golden(t *testing.T) {
	tok := mustLoadBPE(t, DefaultBPEOptions())
	cases := mustReadJSONL[bpeGoldenCase](t, "testdata/bpe_golden.jsonl")
	if len(cases) < 2000 {
		t.Fatalf("got %d golden texts, want at least 2000", len(cases))
	}
	t.Run("encode", func(t *testing.T) {
		bad := 0
		for i, c := range cases {
			got := tok.Encode(c.Text)
			if slices.Equal(got, c.IDs) {
				continue
			}
			bad++
			if bad <= 10 {
				t.Errorf("text %d %+q: %s", i, truncateText(c.Text), firstDiff(tok.tokens, got, c.IDs))
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d texts differ from Hugging Face (class tables from %s)", bad, len(cases), bpeTablesSource)
		}
	})
	t.Run("decode", func(t *testing.T) {
		bad := 0
		for i, c := range cases {
			got := tok.Decode(c.IDs, true)
			if got == c.Decoded {
				continue
			}
			bad++
			if bad <= 10 {
				k := 0
				for k < len(got) && k < len(c.Decoded) && got[k] == c.Decoded[k] {
					k++
				}
				t.Errorf("text %d: Decode differs at byte %d: got %+q, want %+q", i, k,
					truncateText(got[k:]), truncateText(c.Decoded[k:]))
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d decodings differ from Hugging Face", bad, len(cases))
		}
	})
}

// TestBPE_Classes checks the class of every code point against the one the
// library's pre-tokenizer showed tools/bpe_golden.py, so a regenerated table
// that went wrong cannot pass unnoticed.
func TestBPE_Classes(t *testing.T) {
	f, err := os.Open("testdata/bpe_classes.txt")
	if err != nil {
		t.Fatalf("open classes: %v", err)
	}
	defer f.Close()
	names := map[string]bpeClass{"L": bpeLetter, "N": bpeNumber, "S": bpeSpace, "P": bpeOther}
	sc := bufio.NewScanner(f)
	bad, seen := 0, 0
	for line := 1; sc.Scan(); line++ {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		p := strings.Fields(sc.Text())
		if len(p) != 3 {
			t.Fatalf("line %d: %q is not \"lo hi class\"", line, sc.Text())
		}
		lo, err1 := strconv.ParseUint(p[0], 16, 32)
		hi, err2 := strconv.ParseUint(p[1], 16, 32)
		want, ok := names[p[2]]
		if err1 != nil || err2 != nil || !ok {
			t.Fatalf("line %d: bad range %q", line, sc.Text())
		}
		for c := rune(lo); c <= rune(hi); c++ {
			seen++
			if got := bpeClassOf(c); got != want {
				bad++
				if bad <= 10 {
					t.Errorf("class of U+%04X: got %d, want %d (%s)", c, got, want, p[2])
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read classes: %v", err)
	}
	if want := 0x110000 - 0x800; seen != want {
		t.Errorf("got %d code points in the class file, want %d (all but surrogates)", seen, want)
	}
	if bad > 0 {
		t.Errorf("%d code points classed differently from the library", bad)
	}
}
