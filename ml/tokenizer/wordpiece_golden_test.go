package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// goldenCase is one line of the files tools/wordpiece_golden.py writes.
type goldenCase struct {
	Text string  `json:"text"`
	IDs  []int32 `json:"ids"`
}

// mustReadJSONL reads a golden file of JSON Lines, one case a line.
func mustReadJSONL[T any](tb testing.TB, path string) []T {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("open golden file: %v", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		var c T
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatalf("%s:%d: %v", path, line, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return out
}

// firstDiff describes where got and want part, with the tokens around it,
// so a failure says which rule broke rather than just "ids differ".
func firstDiff(tokens []string, got, want []int32) string {
	k := 0
	for k < len(got) && k < len(want) && got[k] == want[k] {
		k++
	}
	show := func(ids []int32) string {
		lo, hi := max(0, k-3), min(len(ids), k+4)
		var b strings.Builder
		for i := lo; i < hi; i++ {
			if i == k {
				b.WriteString(">>")
			}
			tok := "?"
			if ids[i] >= 0 && int(ids[i]) < len(tokens) {
				tok = tokens[ids[i]]
			}
			fmt.Fprintf(&b, "%q(%d) ", tok, ids[i])
		}
		return b.String()
	}
	return fmt.Sprintf("first difference at token %d (got %d ids, want %d)\n  got:  %s\n  want: %s",
		k, len(got), len(want), show(got), show(want))
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWordPiece_Golden compares every text of the golden files, written by
// Hugging Face tokenizers, id for id.
func TestWordPiece_Golden(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		lowercase bool
		minTexts  int
	}{
		{"uncased", "testdata/wordpiece_golden.jsonl", true, 2000},
		{"cased", "testdata/wordpiece_golden_cased.jsonl", false, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustLoad(t, WordPieceOptions{Lowercase: tt.lowercase, MaxLen: 256})
			cases := mustReadJSONL[goldenCase](t, tt.file)
			if len(cases) < tt.minTexts {
				t.Fatalf("got %d golden texts, want at least %d", len(cases), tt.minTexts)
			}
			bad := 0
			for i, c := range cases {
				got := tok.Encode(c.Text)
				if equalIDs(got, c.IDs) {
					continue
				}
				bad++
				if bad <= 10 {
					t.Errorf("text %d %+q: %s", i, truncateText(c.Text), firstDiff(tok.tokens, got, c.IDs))
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d texts differ from Hugging Face (tables from %s)", bad, len(cases), wpTablesSource)
			}
		})
	}
}

func truncateText(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "..."
	}
	return s
}
