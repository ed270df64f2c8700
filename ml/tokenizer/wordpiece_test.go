package tokenizer

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const testVocab = "testdata/vocab.txt"

func mustLoad(tb testing.TB, opts WordPieceOptions) *WordPiece {
	tb.Helper()
	tok, err := LoadWordPiece(testVocab, opts)
	if err != nil {
		tb.Fatalf("LoadWordPiece: %v", err)
	}
	return tok
}

func TestWordPiece_Tokens(t *testing.T) {
	tok := mustLoad(t, DefaultWordPieceOptions())
	tests := []struct {
		name string
		text string
		want string // tokens between [CLS] and [SEP], space separated
	}{
		{"empty", "", ""},
		{"whitespace only", " \t\n\r\u00a0\u3000 ", ""},
		{"lowercase", "Hello WORLD", "hello world"},
		{"punctuation split", "Hello, world!", "hello , world !"},
		{"ascii symbols are punctuation", "a$b+c<d^e`f~g", "a $ b + c < d ^ e ` f ~ g"},
		{"unicode punctuation", "¿qué? «no»", "¿ que ? « no »"},
		{"accents stripped after NFD", "Café Naïve Ångström", "cafe naive ang ##strom"},
		{"combining mark alone", "\u0301", ""},
		{"combining marks on a letter", "e\u0301\u0316", "e"},
		{"eszett is not decomposed", "Straße", "st ##raße"},
		{"dotted capital I", "İstanbul", "istanbul"},
		{"dotless i kept", "ı", "ı"},
		{"ligature kept, not NFKD", "ﬁ", "ﬁ"},
		{"greek accent stripped, sigma lowercased", "ΆΣ", "α ##σ"},
		{"cyrillic short i loses breve", "Й", "и"},
		{"CJK ideographs split", "中文", "中 文"},
		{"CJK inside a word", "ab中cd", "ab 中 cd"},
		{"kana not split", "ひらがな", "ひ ##ら ##か ##な"},
		{"hangul decomposed to jamo", "한", "ᄒ ##ᅡ ##ᆫ"},
		{"zero width space removed, not a split", "zero\u200bwidth", "zero ##wi ##dt ##h"},
		{"BOM and word joiner removed", "a\ufeffb\u2060c", "abc"},
		{"ZWJ removed inside emoji", "👨\u200d👩", "[UNK]"},
		{"controls removed", "a\x00b\x1fc\x7fd\u0085e", "abc ##de"},
		{"tab newline CR are spaces", "a\tb\nc\rd", "a b c d"},
		{"vertical tab removed", "a\x0bb", "ab"},
		{"nbsp and ideographic space split", "a\u00a0b\u3000c", "a b c"},
		{"replacement char removed", "a\ufffdb", "ab"},
		{"invalid UTF-8 removed like U+FFFD", "a\xffb", "ab"},
		{"wordpiece continuation", "tokenization", "token ##ization"},
		{"unknown word", "qqqqxqxqxq", "q ##q ##q ##q ##x ##q ##x ##q ##x ##q"},
		{"100 chars is a word", strings.Repeat("a", 100), "aaa" + strings.Repeat(" ##aa", 48) + " ##a"},
		{"101 chars is UNK", strings.Repeat("a", 101), "[UNK]"},
		{"special tokens kept", "hello [SEP] x[MASK]y", "hello [SEP] x [MASK] y"},
		{"special tokens case sensitive", "[sep]", "[ sep ]"},
		{"numbers", "3.14 1,000", "3 . 14 1 , 000"},
		{"email", "jane@example.com", "jane @ example . com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tok.Tokens(tt.text)
			want := append([]string{"[CLS]"}, strings.Fields(tt.want)...)
			want = append(want, "[SEP]")
			if !slices.Equal(got, want) {
				t.Errorf("Tokens(%+q):\n got %q\nwant %q", tt.text, got, want)
			}
		})
	}
}

func TestWordPiece_Encode(t *testing.T) {
	long := strings.Repeat("word ", 300)
	tests := []struct {
		name    string
		maxLen  int
		text    string
		wantLen int
	}{
		{"empty", 256, "", 2},
		{"truncated to max", 256, long, 256},
		{"short max", 5, long, 5},
		{"only specials", 2, long, 2},
		{"fits exactly", 7, "word word word word word", 7},
		{"long word is one unk", 256, strings.Repeat("x", 5000), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustLoad(t, WordPieceOptions{Lowercase: true, MaxLen: tt.maxLen})
			got := tok.Encode(tt.text)
			if len(got) != tt.wantLen {
				t.Fatalf("len(Encode) = %d, want %d", len(got), tt.wantLen)
			}
			if got[0] != 101 || got[len(got)-1] != 102 {
				t.Errorf("Encode = %v, want [CLS]=101 first and [SEP]=102 last", got)
			}
			if tt.maxLen > 2 && tt.text == long {
				word, _ := tok.ID("word")
				for i, id := range got[1 : len(got)-1] {
					if id != word {
						t.Errorf("id %d = %d, want %d (word)", i+1, id, word)
					}
				}
			}
		})
	}
}

// TestWordPiece_EncodeTruncationPrefix checks that truncation keeps the
// leading tokens of the full encoding, special tokens in the text included.
func TestWordPiece_EncodeTruncationPrefix(t *testing.T) {
	vocab, err := os.ReadFile(testVocab)
	if err != nil {
		t.Fatal(err)
	}
	full := mustLoad(t, WordPieceOptions{Lowercase: true, MaxLen: 1 << 20})
	text := "Billing [SEP] export failed: naïve café 中文 tokenization of emoji 😀 and [MASK] tokens, again and again"
	all := full.Encode(text)
	for maxLen := 2; maxLen <= len(all)+1; maxLen++ {
		tok, err := NewWordPiece(bytes.NewReader(vocab), WordPieceOptions{Lowercase: true, MaxLen: maxLen})
		if err != nil {
			t.Fatalf("NewWordPiece: %v", err)
		}
		got := tok.Encode(text)
		n := min(maxLen, len(all))
		want := append(slices.Clone(all[:n-1]), all[len(all)-1])
		if !slices.Equal(got, want) {
			t.Errorf("MaxLen %d: got %v, want %v", maxLen, got, want)
		}
	}
}

func TestWordPiece_VocabSize(t *testing.T) {
	tok := mustLoad(t, DefaultWordPieceOptions())
	if got, want := tok.VocabSize(), 30522; got != want {
		t.Errorf("VocabSize = %d, want %d", got, want)
	}
}

func TestWordPiece_ID(t *testing.T) {
	tok := mustLoad(t, DefaultWordPieceOptions())
	tests := []struct {
		token  string
		want   int32
		wantOK bool
	}{
		{"[PAD]", 0, true},
		{"[UNK]", 100, true},
		{"[CLS]", 101, true},
		{"[SEP]", 102, true},
		{"[MASK]", 103, true},
		{"##s", 2015, true},
		{"not-a-token", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			got, ok := tok.ID(tt.token)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ID(%q) = %d, %v, want %d, %v", tt.token, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNewWordPiece(t *testing.T) {
	base := "[PAD]\n[UNK]\n[CLS]\n[SEP]\n"
	tests := []struct {
		name    string
		vocab   string
		opts    WordPieceOptions
		wantErr string // substring; "" means success
	}{
		{"minimal", base + "a\n##b\n", DefaultWordPieceOptions(), ""},
		{"CRLF and trailing spaces trimmed", "[UNK]\r\n[CLS] \r\n[SEP]\r\na\r\n", DefaultWordPieceOptions(), ""},
		{"empty line", base + "a\n\nb\n", DefaultWordPieceOptions(), "line 6: empty token"},
		{"duplicate", base + "a\nb\na\n", DefaultWordPieceOptions(), `line 7: duplicate token "a" (first on line 5)`},
		{"no UNK", "[CLS]\n[SEP]\n", DefaultWordPieceOptions(), "no [UNK] token"},
		{"no SEP", "[UNK]\n[CLS]\n", DefaultWordPieceOptions(), "no [SEP] token"},
		{"MaxLen too small", base, WordPieceOptions{Lowercase: true, MaxLen: 1}, "MaxLen 1"},
		{"zero options", base, WordPieceOptions{}, "MaxLen 0"},
		{"line too long", base + strings.Repeat("x", 2<<20) + "\n", DefaultWordPieceOptions(), "line 5: token longer than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := NewWordPiece(strings.NewReader(tt.vocab), tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewWordPiece: got error %v, want nil", err)
				}
				if _, ok := tok.ID("a"); !ok {
					t.Errorf(`ID("a") not found, want found`)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewWordPiece: got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewWordPiece_MinimalVocab(t *testing.T) {
	tok, err := NewWordPiece(strings.NewReader("[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\n"), DefaultWordPieceOptions())
	if err != nil {
		t.Fatalf("NewWordPiece: %v", err)
	}
	got := tok.Encode("Unaffable unaffablex")
	want := []int32{2, 4, 5, 6, 1, 3}
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

func TestLoadWordPiece(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("[UNK]\n[CLS]\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr []string
		wantIs  error
	}{
		{"missing file", filepath.Join(dir, "none.txt"), []string{"none.txt"}, fs.ErrNotExist},
		{"bad line names file and line", bad, []string{bad, "line 3: empty token"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWordPiece(tt.path, DefaultWordPieceOptions())
			if err == nil {
				t.Fatalf("LoadWordPiece(%s): got nil error, want one", tt.path)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
		})
	}
}

// TestWordPiece_EncodeConcurrent runs Encode from many goroutines (under
// -race) and checks every result against the sequential one.
func TestWordPiece_EncodeConcurrent(t *testing.T) {
	tok := mustLoad(t, DefaultWordPieceOptions())
	cases := mustReadJSONL[goldenCase](t, "testdata/wordpiece_golden.jsonl")[:400]
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range cases {
				c := cases[(i+g*50)%len(cases)]
				if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) {
					errs <- firstDiff(tok.tokens, got, c.IDs)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestWordPieceTables checks the invariants the lookups rely on: binary
// search needs sorted, non-overlapping tables.
func TestWordPieceTables(t *testing.T) {
	tests := []struct {
		name  string
		table []wpMapping
	}{
		{"decomp", wpDecomp[:]},
		{"lower", wpLower[:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 1; i < len(tt.table); i++ {
				if tt.table[i-1].r >= tt.table[i].r {
					t.Fatalf("entry %d: U+%04X after U+%04X, want strictly increasing", i, tt.table[i].r, tt.table[i-1].r)
				}
			}
		})
	}
	t.Run("ccc", func(t *testing.T) {
		for i, r := range wpCCC {
			if r.lo > r.hi || r.ccc == 0 || (i > 0 && wpCCC[i-1].hi >= r.lo) {
				t.Fatalf("range %d %+v: want lo <= hi, ccc > 0, after %+v", i, r, wpCCC[max(i-1, 0)])
			}
		}
	})
	t.Run("lookups", func(t *testing.T) {
		if got, ok := wpLookup(wpDecomp[:], 'é'); !ok || got != "e\u0301" {
			t.Errorf("decomposition of é = %q, %v, want %q, true", got, ok, "e\u0301")
		}
		if _, ok := wpLookup(wpDecomp[:], 'e'); ok {
			t.Errorf("decomposition of e found, want none")
		}
		if got := wpCombining(0x0301); got != 230 {
			t.Errorf("ccc(U+0301) = %d, want 230", got)
		}
		if got := wpCombining('a'); got != 0 {
			t.Errorf("ccc(a) = %d, want 0", got)
		}
	})
}

// TestWordPiece_EncodeCanonicalOrder covers NFD's canonical reordering,
// which the model's vocabulary cannot show (none of the marks that survive
// accent stripping is in it). Expected ids are what Hugging Face tokenizers
// 0.23.3 gives with this vocabulary, BertNormalizer and BertPreTokenizer.
func TestWordPiece_EncodeCanonicalOrder(t *testing.T) {
	vocab := "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n##\U0001D165\n##\U0001D16D\n"
	tok, err := NewWordPiece(strings.NewReader(vocab), DefaultWordPieceOptions())
	if err != nil {
		t.Fatalf("NewWordPiece: %v", err)
	}
	tests := []struct {
		name string
		text string
		want []int32
	}{
		{"already ordered", "a\U0001D165\U0001D16D", []int32{2, 4, 5, 6, 3}},
		{"class 226 moves after class 216", "a\U0001D16D\U0001D165", []int32{2, 4, 5, 6, 3}},
		{"removed starter mark blocks reordering", "a\U0001D16D\u034F\U0001D165", []int32{2, 4, 6, 5, 3}},
		{"removed non-starter still reorders", "a\U0001D16D\u0301\U0001D165", []int32{2, 4, 5, 6, 3}},
		{"decomposition joins the run", "\u00e1\U0001D16D\U0001D165", []int32{2, 4, 5, 6, 3}},
		{"space ends the run", "a\U0001D16D a\U0001D165", []int32{2, 4, 6, 4, 5, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tok.Encode(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("Encode(%+q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}
