package tokenizer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// bpeWords splits s into the pre-tokenizer's words.
func bpeWords(s string) []string {
	var out []string
	for len(s) > 0 {
		n := bpeNextWord(s)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func TestBPE_PreTokenize(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"empty", "", nil},
		{"space joins the next word", "Hello world", []string{"Hello", " world"}},
		{"leading spaces leave one", "  world", []string{" ", " world"}},
		{"space run before a word", "a   b", []string{"a", "  ", " b"}},
		{"tab is not the optional space", "a\tb", []string{"a", "\t", "b"}},
		{"space then tab", "a \tb", []string{"a", " ", "\t", "b"}},
		{"tab then space", "a\t b", []string{"a", "\t", " b"}},
		{"trailing spaces stay together", "trail  ", []string{"trail", "  "}},
		{"newlines", "x \n\ny", []string{"x", " \n", "\n", "y"}},
		{"only newlines", "\n\n", []string{"\n\n"}},
		{"nbsp is whitespace, not the space", "a\u00a0b", []string{"a", "\u00a0", "b"}},
		{"space then nbsp", "a \u00a0b", []string{"a", " ", "\u00a0", "b"}},
		{"contraction", "it's", []string{"it", "'s"}},
		{"all contractions", "'s't're've'm'll'd", []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}},
		{"contractions are case sensitive", "DON'T", []string{"DON", "'", "T"}},
		{"curly apostrophe is punctuation", "it’s", []string{"it", "’", "s"}},
		{"contraction prefix of a word", "'sup", []string{"'s", "up"}},
		{"space before apostrophe", " 's", []string{" '", "s"}},
		{"apostrophe run", "x''s", []string{"x", "''", "s"}},
		{"apostrophe at the end", "x'", []string{"x", "'"}},
		{"letters digits letters", "abc123def", []string{"abc", "123", "def"}},
		{"space number", "a 123", []string{"a", " 123"}},
		{"decimal", "3.14", []string{"3", ".", "14"}},
		{"punctuation runs", "hello!!! ?", []string{"hello", "!!!", " ?"}},
		{"accented letters", "é ü", []string{"é", " ü"}},
		{"CJK and kana are letters", "中文 テスト", []string{"中文", " テスト"}},
		{"combining mark is not a letter", "e\u0301", []string{"e", "\u0301"}},
		{"emoji are other", "😀👍 x", []string{"😀👍", " x"}},
		{"letter number", "aⅻ½", []string{"a", "ⅻ½"}},
		{"unicode 16 letter", "A\u1c89", []string{"A\u1c89"}},
		{"invalid byte is other", "a\xffb", []string{"a", "\xff", "b"}},
		{"url", "https://x.io/a?b=1", []string{"https", "://", "x", ".", "io", "/", "a", "?", "b", "=", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bpeWords(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("words of %+q: got %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestBPE_Tokens(t *testing.T) {
	lstrip := mustLoadBPE(t, DefaultBPEOptions())
	plain := mustLoadBPE(t, BPEOptions{MaxLen: 1024, MaskLStrip: false})
	tests := []struct {
		name  string
		tok   *BPE
		text  string
		parts []string // special tokens, and texts whose tokens come in their place
	}{
		{"empty", lstrip, "", nil},
		{"special alone", lstrip, "<s>", []string{"<s>"}},
		{"specials inside text", lstrip, "x </s> y<pad>", []string{"x ", "</s>", " y", "<pad>"}},
		{"mask swallows the whitespace before it", lstrip, "hello \t<mask> world", []string{"hello", "<mask>", " world"}},
		{"mask swallows no further than a special", lstrip, "</s> <mask>", []string{"</s>", "<mask>"}},
		{"mask without lstrip", plain, "hello <mask> world", []string{"hello ", "<mask>", " world"}},
		{"specials are case sensitive", lstrip, "<S> <Mask>", []string{"<", "S", "> <", "Mask", ">"}},
		{"special inside brackets", lstrip, "<<s>>", []string{"<", "<s>", ">"}},
		{"unfinished special", lstrip, "</s", []string{"</", "s"}},
		{"adjacent specials", lstrip, "<mask><mask>", []string{"<mask>", "<mask>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := []string{BPEBos}
			for _, p := range tt.parts {
				if id, ok := tt.tok.vocab[p]; ok && tt.tok.IsSpecial(id) {
					want = append(want, p)
					continue
				}
				inner := tt.tok.Tokens(p)
				want = append(want, inner[1:len(inner)-1]...)
			}
			want = append(want, BPEEos)
			got := tt.tok.Tokens(tt.text)
			if !slices.Equal(got, want) {
				t.Errorf("Tokens(%+q):\n got %q\nwant %q", tt.text, got, want)
			}
			for _, tok := range got[1 : len(got)-1] {
				if strings.ContainsAny(tok, " \t") {
					t.Errorf("Tokens(%+q): token %q has a raw space, want byte-level characters", tt.text, tok)
				}
			}
		})
	}
}

// TestBPE_Merges pins the tokens of a few words in the committed vocabulary,
// to show what byte-level BPE output looks like ("Ġ" is the space).
func TestBPE_Merges(t *testing.T) {
	tok := mustLoadBPE(t, DefaultBPEOptions())
	tests := []struct {
		text string
		want string
	}{
		{"hello world", "hel lo Ġwor ld"},
		{"The invoice", "The Ġinvoice"},
		{"é", "Ã©"},
		{"a\n", "a Ċ"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got := tok.Tokens(tt.text)
			want := append(append([]string{BPEBos}, strings.Fields(tt.want)...), BPEEos)
			if !slices.Equal(got, want) {
				t.Errorf("Tokens(%+q): got %q, want %q", tt.text, got, want)
			}
		})
	}
}

func TestBPE_Encode(t *testing.T) {
	long := strings.Repeat("support ticket number 42, ", 400)
	full := mustLoadBPE(t, BPEOptions{MaxLen: 1 << 20, MaskLStrip: true})
	untruncated := full.Encode(long)
	if len(untruncated) <= 1024 {
		t.Fatalf("got %d ids for the long text, want more than 1024", len(untruncated))
	}
	tests := []struct {
		name   string
		maxLen int
		text   string
		want   []int32
	}{
		{"empty", 1024, "", []int32{0, 2}},
		{"truncated to 1024, </s> kept", 1024, long, append(slices.Clone(untruncated[:1023]), 2)},
		{"only <s> and </s> fit", 2, "hello world", []int32{0, 2}},
		{"short limit", 5, long, append(slices.Clone(untruncated[:4]), 2)},
		{"special token cut off", 3, "a</s></s>", append(slices.Clone(full.Encode("a")[:2]), 2)},
		{"not truncated", 1024, "hello", full.Encode("hello")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustLoadBPE(t, BPEOptions{MaxLen: tt.maxLen, MaskLStrip: true})
			if got := tok.Encode(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("Encode(%.40q) with MaxLen %d: %s", tt.text, tt.maxLen, firstDiff(tok.tokens, got, tt.want))
			}
		})
	}
}

func TestBPE_Decode(t *testing.T) {
	tok := mustLoadBPE(t, DefaultBPEOptions())
	bytesIDs := func(b string) []int32 {
		var ids []int32
		for i := 0; i < len(b); i++ {
			ids = append(ids, tok.byteID[b[i]])
		}
		return ids
	}
	hello := tok.Encode("hello world")
	tests := []struct {
		name string
		ids  []int32
		skip bool
		want string
	}{
		{"skip specials", hello, true, "hello world"},
		{"keep specials", hello, false, "<s>hello world</s>"},
		{"all specials skipped", []int32{0, 1, 2, 3, tok.vocab[BPEMask]}, true, ""},
		{"out of range ids skipped", append([]int32{-1, 1 << 30}, hello[1:len(hello)-1]...), true, "hello world"},
		{"truncated 3-byte sequence is one U+FFFD", bytesIDs("a\xe2\x82b"), true, "a\ufffdb"},
		{"two invalid bytes are two U+FFFD", bytesIDs("\xff\xfe"), true, "\ufffd\ufffd"},
		{"truncated 4-byte sequence", bytesIDs("\xf0\x9f\x98"), true, "\ufffd"},
		{"surrogate encoding is three", bytesIDs("\xed\xa0\x80"), true, "\ufffd\ufffd\ufffd"},
		{"overlong is two", bytesIDs("\xc0\xaf"), true, "\ufffd\ufffd"},
		{"lead byte then ASCII", bytesIDs("\xc3a"), true, "\ufffda"},
		{"bad second byte of F0", bytesIDs("\xf0\x80\x80"), true, "\ufffd\ufffd\ufffd"},
		{"valid multibyte from bytes", bytesIDs("é😀"), true, "é😀"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tok.Decode(tt.ids, tt.skip); got != tt.want {
				t.Errorf("Decode(%v, %v): got %+q, want %+q", tt.ids, tt.skip, got, tt.want)
			}
		})
	}
}

func TestBPE_SpecialIDs(t *testing.T) {
	tok := mustLoadBPE(t, DefaultBPEOptions())
	want := map[string]int32{BPEBos: 0, BPEPad: 1, BPEEos: 2, BPEUnk: 3, BPEMask: int32(tok.VocabSize() - 1)}
	for s, id := range want {
		got, ok := tok.ID(s)
		if !ok || got != id {
			t.Errorf("ID(%q): got %d %v, want %d", s, got, ok, id)
		}
		if !tok.IsSpecial(id) {
			t.Errorf("IsSpecial(%d): got false, want true", id)
		}
	}
	if id := tok.Encode("x")[1]; tok.IsSpecial(id) {
		t.Errorf("IsSpecial(%d) for x: got true, want false", id)
	}
}

func TestNewBPE_Errors(t *testing.T) {
	const specials = `"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 7`
	tests := []struct {
		name   string
		vocab  string
		merges string
		maxLen int
		want   string
	}{
		{"bad json", "{\n" + specials + ",\n\"a\": }", "", 8, "line 3"},
		{"not an object", "[1]", "", 8, "line 1"},
		{"missing mask", `{"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}`, "", 8, "no <mask> token"},
		{"shared id", "{" + specials + `, "a": 4, "b": 4}`, "", 8, `tokens "a" and "b" share id 4`},
		{"negative id", "{" + specials + `, "a": -4}`, "", 8, "has id -4"},
		{"three tokens on a line", "{" + specials + `, "a": 4, "b": 5, "ab": 6}`, "#version: 0.2\na b\na b ab\n", 8, "line 3"},
		{"blank line", "{" + specials + `, "a": 4, "b": 5, "ab": 6}`, "#version: 0.2\n\na b\n", 8, "line 2"},
		{"token not in vocab", "{" + specials + `, "a": 4, "b": 5, "ab": 6}`, "a c\n", 8, `line 1: token "c" is not in the vocabulary`},
		{"merge result not in vocab", "{" + specials + `, "a": 4, "b": 5, "ab": 6}`, "a b\nb a\n", 8, `line 2: merged token "ba"`},
		{"MaxLen too small", "{" + specials + "}", "", 1, "MaxLen 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBPE(strings.NewReader(tt.vocab), strings.NewReader(tt.merges), BPEOptions{MaxLen: tt.maxLen})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewBPE: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadBPE_Errors(t *testing.T) {
	dir := t.TempDir()
	vocab := filepath.Join(dir, "vocab.json")
	merges := filepath.Join(dir, "merges.txt")
	if err := os.WriteFile(vocab, []byte(`{"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, "a": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(merges, []byte("#version: 0.2\na a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadBPE(vocab, merges, DefaultBPEOptions())
	if err == nil || !strings.Contains(err.Error(), merges) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("LoadBPE with a bad merge: got %v, want the merges path and line 2", err)
	}
	_, err = LoadBPE(filepath.Join(dir, "missing.json"), merges, DefaultBPEOptions())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadBPE with no vocab: got %v, want fs.ErrNotExist", err)
	}
}

// TestBPE_Concurrent encodes from many goroutines at once (run with -race):
// the shared word cache must neither race nor change results.
func TestBPE_Concurrent(t *testing.T) {
	tok := mustLoadBPE(t, DefaultBPEOptions())
	ref := mustLoadBPE(t, DefaultBPEOptions())
	texts := []string{"hello world", "Café résumé it's DON'T", "中文 テスト 😀", "  spaces\tand\nlines  ", "<mask> x"}
	want := make([][]int32, len(texts))
	for i, s := range texts {
		want[i] = ref.Encode(s)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(texts))
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				i := (g + k) % len(texts)
				if got := tok.Encode(texts[i]); !slices.Equal(got, want[i]) {
					errs <- texts[i]
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Errorf("concurrent Encode(%q) differs from a fresh tokenizer's", s)
	}
}
