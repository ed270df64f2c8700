package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
)

// Token strings of the special tokens RoBERTa and BART vocabularies carry.
const (
	BPEBos  = "<s>"
	BPEPad  = "<pad>"
	BPEEos  = "</s>"
	BPEUnk  = "<unk>"
	BPEMask = "<mask>"
)

// bpeCacheWords bounds the word cache, as the Hugging Face BPE model's
// default cache capacity does; words longer than bpeCacheMaxBytes are not
// cached (they are rare and would crowd out the common ones).
const (
	bpeCacheWords    = 10000
	bpeCacheMaxBytes = 64
)

// BPEOptions configures a byte-level BPE tokenizer. Use DefaultBPEOptions:
// the zero value has no room for <s> and </s>.
type BPEOptions struct {
	// MaxLen is the longest id sequence Encode returns, <s> and </s>
	// included; longer texts are truncated on the right with </s> kept, as
	// the Hugging Face tokenizer with truncation at the model's
	// max_position_embeddings (1024 for BART) does.
	MaxLen int
	// MaskLStrip makes "<mask>" swallow the whitespace before it, as BART's
	// published tokenizer.json and transformers 4's BartTokenizerFast do.
	// transformers 5 loading a directory with only vocab.json and merges.txt
	// leaves it off; it only matters for texts that contain "<mask>".
	MaskLStrip bool
}

// DefaultBPEOptions returns BART's settings: 1024 positions, <mask> with
// lstrip.
func DefaultBPEOptions() BPEOptions {
	return BPEOptions{MaxLen: 1024, MaskLStrip: true}
}

// BPE is a GPT-2 style byte-level BPE tokenizer as RoBERTa and BART use it,
// giving the same ids as the Hugging Face fast tokenizer (ByteLevel
// pre-tokenizer without prefix space, BPE, RobertaProcessing, ByteLevel
// decoder). It is safe for concurrent use: the only mutable part is the word
// cache, behind a lock.
type BPE struct {
	vocab    map[string]int32
	tokens   []string // by id; "" for ids the vocabulary skips
	merges   map[uint64]bpeMerge
	byteID   [256]int32 // id of each byte's one-character token, -1 if absent
	specials []bpeSpecial
	isSpec   map[int32]bool
	bos, eos int32
	maxLen   int
	cache    bpeCache
	scratch  sync.Pool // *bpeEncoder
}

// bpeMerge is one line of merges.txt: the pair's rank (its line order, lower
// merges first) and the id of the merged token.
type bpeMerge struct {
	rank  int32
	newID int32
}

// bpeSpecial is an added token matched in the raw text before
// pre-tokenization, so "</s>" typed in a ticket is the </s> id.
type bpeSpecial struct {
	text   string
	id     int32
	lstrip bool
}

// bpeCache maps a pre-tokenized word to its ids. It never evicts: once full
// it stops growing, as the Hugging Face cache does.
type bpeCache struct {
	mu    sync.RWMutex
	words map[string][]int32
}

func (c *bpeCache) get(w string) ([]int32, bool) {
	c.mu.RLock()
	ids, ok := c.words[w]
	c.mu.RUnlock()
	return ids, ok
}

// put stores a copy of the word, which is a slice of some caller's text.
func (c *bpeCache) put(w string, ids []int32) {
	c.mu.Lock()
	if len(c.words) < bpeCacheWords {
		c.words[strings.Clone(w)] = ids
	}
	c.mu.Unlock()
}

// LoadBPE reads a vocab.json (token to id) and a merges.txt (one "a b" pair
// per line, best first, after an optional "#version" line); errors name the
// file and the line.
func LoadBPE(vocabPath, mergesPath string, opts BPEOptions) (*BPE, error) {
	vf, err := os.Open(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("load bpe vocab: %w", err)
	}
	defer vf.Close()
	mf, err := os.Open(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("load bpe merges: %w", err)
	}
	defer mf.Close()
	vocab, err := readBPEVocab(vf)
	if err != nil {
		return nil, fmt.Errorf("load bpe vocab %s: %w", vocabPath, err)
	}
	t, err := newBPE(vocab, opts)
	if err != nil {
		return nil, fmt.Errorf("load bpe vocab %s: %w", vocabPath, err)
	}
	if err := t.readMerges(mf); err != nil {
		return nil, fmt.Errorf("load bpe merges %s: %w", mergesPath, err)
	}
	return t, nil
}

// NewBPE builds a tokenizer from vocab.json and merges.txt content, for
// callers that do not hold them in files (embedded or downloaded).
func NewBPE(vocab, merges io.Reader, opts BPEOptions) (*BPE, error) {
	v, err := readBPEVocab(vocab)
	if err != nil {
		return nil, fmt.Errorf("new bpe: vocab.json: %w", err)
	}
	t, err := newBPE(v, opts)
	if err != nil {
		return nil, fmt.Errorf("new bpe: vocab.json: %w", err)
	}
	if err := t.readMerges(merges); err != nil {
		return nil, fmt.Errorf("new bpe: merges.txt: %w", err)
	}
	return t, nil
}

// readBPEVocab decodes vocab.json, reporting syntax errors by line.
func readBPEVocab(r io.Reader) (map[string]int64, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var vocab map[string]int64
	if err := json.Unmarshal(data, &vocab); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("line %d: %w", 1+bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n")), err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("line %d: %w", 1+bytes.Count(data[:min(int(te.Offset), len(data))], []byte("\n")), err)
		}
		return nil, fmt.Errorf("parse: %w", err)
	}
	if vocab == nil {
		return nil, errors.New("line 1: not a JSON object")
	}
	return vocab, nil
}

func newBPE(vocab map[string]int64, opts BPEOptions) (*BPE, error) {
	if opts.MaxLen < 2 {
		return nil, fmt.Errorf("MaxLen %d leaves no room for <s> and </s>", opts.MaxLen)
	}
	t := &BPE{vocab: make(map[string]int32, len(vocab)), merges: map[uint64]bpeMerge{}, isSpec: map[int32]bool{}, maxLen: opts.MaxLen}
	t.cache.words = make(map[string][]int32)
	byID := make(map[int64]string, len(vocab))
	maxID := int64(-1)
	for tok, id := range vocab {
		if id < 0 || id >= 1<<31-1 {
			return nil, fmt.Errorf("token %q has id %d, want 0..2147483646", tok, id)
		}
		if prev, ok := byID[id]; ok {
			a, b := min(prev, tok), max(prev, tok)
			return nil, fmt.Errorf("tokens %q and %q share id %d", a, b, id)
		}
		byID[id] = tok
		t.vocab[tok] = int32(id)
		maxID = max(maxID, id)
	}
	t.tokens = make([]string, maxID+1)
	for id, tok := range byID {
		t.tokens[id] = tok
	}
	for b := range t.byteID {
		t.byteID[b] = -1
		if id, ok := t.vocab[bpeByteChar[b]]; ok {
			t.byteID[b] = id
		}
	}
	for _, s := range []string{BPEBos, BPEPad, BPEEos, BPEUnk, BPEMask} {
		id, ok := t.vocab[s]
		if !ok {
			return nil, fmt.Errorf("no %s token among %d", s, len(vocab))
		}
		t.specials = append(t.specials, bpeSpecial{text: s, id: id, lstrip: s == BPEMask && opts.MaskLStrip})
		t.isSpec[id] = true
	}
	// Longest first, so a match is the longest one starting at its position.
	sort.SliceStable(t.specials, func(i, j int) bool { return len(t.specials[i].text) > len(t.specials[j].text) })
	t.bos, t.eos = t.vocab[BPEBos], t.vocab[BPEEos]
	t.scratch.New = func() any { return &bpeEncoder{} }
	return t, nil
}

// readMerges reads merges.txt as the Hugging Face BPE model does: "#version"
// lines are skipped, every other line is exactly two space-separated tokens
// whose concatenation is in the vocabulary, and a repeated pair takes the
// rank of its last line.
func (t *BPE) readMerges(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	rank := int32(0)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if strings.HasPrefix(s, "#version") {
			continue
		}
		a, b, ok := strings.Cut(s, " ")
		if !ok || strings.Contains(b, " ") {
			return fmt.Errorf("line %d: %q is not two tokens separated by one space", line, s)
		}
		aID, ok := t.vocab[a]
		if !ok {
			return fmt.Errorf("line %d: token %q is not in the vocabulary", line, a)
		}
		bID, ok := t.vocab[b]
		if !ok {
			return fmt.Errorf("line %d: token %q is not in the vocabulary", line, b)
		}
		newID, ok := t.vocab[a+b]
		if !ok {
			return fmt.Errorf("line %d: merged token %q is not in the vocabulary", line, a+b)
		}
		t.merges[bpePair(aID, bID)] = bpeMerge{rank: rank, newID: newID}
		rank++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than 1 MiB", line+1)
		}
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

func bpePair(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// Encode returns the ids of text: <s>, the BPE ids, </s>, truncated to
// MaxLen with </s> kept last. Special-token strings in the text become their
// ids. Invalid UTF-8 bytes (which Python could not have passed to Hugging
// Face) are encoded as themselves, each classed like U+FFFD.
func (t *BPE) Encode(text string) []int32 {
	limit := t.maxLen - 2
	ids := make([]int32, 1, min(len(text)/3+2, limit)+2)
	ids[0] = t.bos
	e := t.scratch.Get().(*bpeEncoder)
	ids = t.encode(e, text, ids, 1+limit)
	t.scratch.Put(e)
	if len(ids) > 1+limit {
		ids = ids[:1+limit]
	}
	return append(ids, t.eos)
}

// Tokens returns the token strings Encode's ids stand for (byte-level
// characters, "Ġ" for a space), to read what the model sees.
func (t *BPE) Tokens(text string) []string {
	ids := t.Encode(text)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.tokens[id]
	}
	return out
}

// VocabSize is the number of ids (the largest id plus one), which must
// equal the rows of the model's embedding matrix.
func (t *BPE) VocabSize() int { return len(t.tokens) }

// MaxLen is the longest sequence Encode returns.
func (t *BPE) MaxLen() int { return t.maxLen }

// ID returns the id of a vocabulary token, for the special ids the model
// needs (<pad>, </s> as decoder start) and for tests.
func (t *BPE) ID(token string) (int32, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// IsSpecial reports whether id is one of <s> <pad> </s> <unk> <mask>, the
// ids Decode drops when asked to skip special tokens.
func (t *BPE) IsSpecial(id int32) bool { return t.isSpec[id] }

// encode appends the ids of text to ids, stopping once there are at least
// stop ids (the rest would be truncated away).
func (t *BPE) encode(e *bpeEncoder, text string, ids []int32, stop int) []int32 {
	start := 0 // start of the text not yet encoded
	for i := 0; i < len(text) && len(ids) < stop; {
		if text[i] != '<' {
			i++
			continue
		}
		sp, ok := t.special(text[i:])
		if !ok {
			i++
			continue
		}
		end := i
		if sp.lstrip {
			end = bpeTrimSpaceLeft(text[start:i]) + start
		}
		ids = t.segment(e, text[start:end], ids, stop)
		ids = append(ids, sp.id)
		i += len(sp.text)
		start = i
	}
	if len(ids) < stop {
		ids = t.segment(e, text[start:], ids, stop)
	}
	return ids
}

// special returns the longest special token s starts with.
func (t *BPE) special(s string) (bpeSpecial, bool) {
	for _, sp := range t.specials {
		if strings.HasPrefix(s, sp.text) {
			return sp, true
		}
	}
	return bpeSpecial{}, false
}

// segment encodes text free of special tokens, word by word.
func (t *BPE) segment(e *bpeEncoder, text string, ids []int32, stop int) []int32 {
	for len(text) > 0 && len(ids) < stop {
		n := bpeNextWord(text)
		ids = t.word(e, text[:n], ids)
		text = text[n:]
	}
	return ids
}

// word appends the BPE ids of one pre-tokenized word.
func (t *BPE) word(e *bpeEncoder, w string, ids []int32) []int32 {
	if len(w) == 1 { // one byte: no merge can apply
		if id := t.byteID[w[0]]; id >= 0 {
			ids = append(ids, id)
		}
		return ids
	}
	cacheable := len(w) <= bpeCacheMaxBytes
	if cacheable {
		if got, ok := t.cache.get(w); ok {
			return append(ids, got...)
		}
	}
	n := len(ids)
	ids = e.merge(t, w, ids)
	if cacheable {
		t.cache.put(w, append([]int32(nil), ids[n:]...))
	}
	return ids
}

// Decode turns ids back into text: the tokens' byte-level characters become
// bytes again and invalid UTF-8 becomes U+FFFD, one per maximal invalid
// subsequence, as Rust's from_utf8_lossy (and Python's errors="replace")
// does. With skipSpecial, <s> </s> <pad> <unk> <mask> are left out. Ids
// outside the vocabulary are skipped, as Hugging Face does.
func (t *BPE) Decode(ids []int32, skipSpecial bool) string {
	buf := make([]byte, 0, len(ids)*4)
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.tokens) || t.tokens[id] == "" {
			continue
		}
		if skipSpecial && t.isSpec[id] {
			continue
		}
		buf = bpeAppendTokenBytes(buf, t.tokens[id])
	}
	return bpeLossyString(buf)
}
