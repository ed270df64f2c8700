package tokenizer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// Token strings BERT vocabularies use for their special tokens.
const (
	wpUNK  = "[UNK]"
	wpCLS  = "[CLS]"
	wpSEP  = "[SEP]"
	wpPAD  = "[PAD]"
	wpMASK = "[MASK]"
)

// wpMaxInputChars is BERT's max_input_chars_per_word: a longer word becomes
// a single [UNK] rather than a long run of pieces.
const wpMaxInputChars = 100

// WordPieceOptions configures a WordPiece tokenizer. Both fields must be set:
// the zero value is not the BERT default (see DefaultWordPieceOptions).
type WordPieceOptions struct {
	// Lowercase selects the uncased pipeline (lowercasing plus accent
	// stripping, as BertNormalizer does when strip_accents is unset). Uncased
	// vocabularies such as all-MiniLM-L6-v2's need it.
	Lowercase bool
	// MaxLen is the longest id sequence Encode returns, [CLS] and [SEP]
	// included; longer texts are truncated as Hugging Face does. The model's
	// max_seq_length (256 for all-MiniLM-L6-v2) belongs here.
	MaxLen int
}

// DefaultWordPieceOptions returns the settings all-MiniLM-L6-v2 runs with in
// sentence-transformers: uncased, max_seq_length 256.
func DefaultWordPieceOptions() WordPieceOptions {
	return WordPieceOptions{Lowercase: true, MaxLen: 256}
}

// WordPiece is a BERT WordPiece tokenizer giving the same ids as the Hugging
// Face fast tokenizer (BertNormalizer, BertPreTokenizer, WordPiece, with
// [CLS] ... [SEP] around the text). It is immutable after loading, so one
// instance serves every goroutine.
type WordPiece struct {
	vocab     map[string]int32
	tokens    []string
	specials  []wpSpecial // longest first, matched on the raw text
	first     [256]bool   // first bytes of specials, to skip the search cheaply
	unk       int32
	cls       int32
	sep       int32
	lowercase bool
	maxLen    int
	scratch   sync.Pool // *wpEncoder, to keep Encode to one allocation
}

// wpSpecial is a token never split nor normalized: Hugging Face registers
// BERT's special tokens as added tokens, so "[SEP]" typed in a ticket is the
// [SEP] id, not "[", "sep", "]".
type wpSpecial struct {
	text string
	id   int32
}

// LoadWordPiece reads a vocab.txt (one token per line, the line number being
// the id) and builds a tokenizer; errors name the file and line.
func LoadWordPiece(vocabPath string, opts WordPieceOptions) (*WordPiece, error) {
	f, err := os.Open(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("load wordpiece vocab: %w", err)
	}
	defer f.Close()
	t, err := NewWordPiece(f, opts)
	if err != nil {
		return nil, fmt.Errorf("load wordpiece vocab %s: %w", vocabPath, err)
	}
	return t, nil
}

// NewWordPiece builds a tokenizer from vocab.txt content, for callers that
// do not hold the vocabulary in a file (embedded or downloaded).
func NewWordPiece(vocab io.Reader, opts WordPieceOptions) (*WordPiece, error) {
	if opts.MaxLen < 2 {
		return nil, fmt.Errorf("new wordpiece: MaxLen %d leaves no room for [CLS] and [SEP]", opts.MaxLen)
	}
	t := &WordPiece{vocab: make(map[string]int32, 32768), lowercase: opts.Lowercase, maxLen: opts.MaxLen}
	sc := bufio.NewScanner(vocab)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := make(map[string]int, 32768)
	for line := 1; sc.Scan(); line++ {
		// Hugging Face trims trailing whitespace (and so "\r") from each line.
		tok := strings.TrimRightFunc(sc.Text(), unicode.IsSpace)
		if tok == "" {
			return nil, fmt.Errorf("line %d: empty token", line)
		}
		if prev, ok := first[tok]; ok {
			return nil, fmt.Errorf("line %d: duplicate token %q (first on line %d)", line, tok, prev)
		}
		if len(t.tokens) == 1<<31-1 {
			return nil, fmt.Errorf("line %d: too many tokens", line)
		}
		first[tok] = line
		t.vocab[tok] = int32(len(t.tokens))
		t.tokens = append(t.tokens, tok)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: token longer than 1 MiB", len(t.tokens)+1)
		}
		return nil, fmt.Errorf("read vocab: %w", err)
	}
	for _, req := range []struct {
		tok string
		id  *int32
	}{{wpUNK, &t.unk}, {wpCLS, &t.cls}, {wpSEP, &t.sep}} {
		id, ok := t.vocab[req.tok]
		if !ok {
			return nil, fmt.Errorf("vocab has no %s token (%d lines read)", req.tok, len(t.tokens))
		}
		*req.id = id
	}
	for _, s := range []string{wpPAD, wpUNK, wpCLS, wpSEP, wpMASK} {
		if id, ok := t.vocab[s]; ok {
			t.specials = append(t.specials, wpSpecial{text: s, id: id})
			t.first[s[0]] = true
		}
	}
	sort.SliceStable(t.specials, func(i, j int) bool { return len(t.specials[i].text) > len(t.specials[j].text) })
	t.scratch.New = func() any { return &wpEncoder{key: []byte("##")} }
	return t, nil
}

// Encode returns the token ids of text: [CLS], the WordPiece ids, [SEP],
// truncated to MaxLen with [SEP] kept last, as the Hugging Face tokenizer
// with enable_truncation(MaxLen) does. Invalid UTF-8 bytes are dropped, as
// U+FFFD is (Python could not have passed them to Hugging Face at all).
func (t *WordPiece) Encode(text string) []int32 {
	limit := t.maxLen - 2
	// Tickets average about one token per five bytes; overshoot rarely.
	guess := min(len(text)/4+2, limit) + 2
	ids := make([]int32, 1, guess)
	ids[0] = t.cls
	e := t.scratch.Get().(*wpEncoder)
	e.reset(t, ids, limit)
	e.text(text)
	ids = append(e.ids, t.sep)
	e.ids = nil
	t.scratch.Put(e)
	return ids
}

// Tokens returns the token strings Encode's ids stand for, to read what the
// model sees when debugging or writing tests.
func (t *WordPiece) Tokens(text string) []string {
	ids := t.Encode(text)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.tokens[id]
	}
	return out
}

// VocabSize is the number of ids, which must equal the rows of the model's
// word embedding matrix.
func (t *WordPiece) VocabSize() int { return len(t.tokens) }

// ID returns the id of a vocabulary token, for callers that need special
// ids (such as [PAD]) or test against the vocabulary.
func (t *WordPiece) ID(token string) (int32, bool) {
	id, ok := t.vocab[token]
	return id, ok
}
