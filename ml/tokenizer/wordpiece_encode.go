package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Flags of wpASCII, the generated fast path for ASCII.
const (
	wpRemoved uint8 = 1 << iota // clean_text deletes it
	wpSpace                     // clean_text turns it into U+0020
	wpPunct                     // BertPreTokenizer isolates it
)

// wpMapping maps one code point to a replacement string (a decomposition
// or a lowercase form); tables of them are sorted by r.
type wpMapping struct {
	r rune
	s string
}

// wpCCCRange gives the canonical combining class of the runes lo..hi.
type wpCCCRange struct {
	lo, hi rune
	ccc    uint8
}

// Hangul syllables decompose algorithmically (Unicode §3.12), which keeps
// 11,172 entries out of wpDecomp.
const (
	hangulBase  = 0xAC00
	hangulCount = 11172
	hangulL     = 0x1100
	hangulV     = 0x1161
	hangulT     = 0x11A7
)

// wpMark is a non-starter waiting for canonical ordering.
type wpMark struct {
	r   rune
	ccc uint8
}

// wpEncoder is the per-call state of Encode: it streams the text through
// the normalizer, the pre-tokenizer and the WordPiece model in one pass
// without building the normalized string. Pooled per WordPiece.
type wpEncoder struct {
	t       *WordPiece
	ids     []int32
	limit   int      // content tokens allowed between [CLS] and [SEP]
	full    bool     // limit reached: the rest of the text cannot matter
	word    []byte   // normalized bytes of the current pre-token
	pending []wpMark // non-starters of the current NFD run
	key     []byte   // "##" + piece, for map lookups without allocation
}

func (e *wpEncoder) reset(t *WordPiece, ids []int32, limit int) {
	e.t, e.ids, e.limit, e.full = t, ids, limit, false
	e.word, e.pending = e.word[:0], e.pending[:0]
}

// text splits off the special tokens, which Hugging Face matches on the raw
// text (leftmost, then longest) before normalizing what lies between them.
func (e *wpEncoder) text(s string) {
	t := e.t
	start := 0
	for i := 0; i < len(s) && !e.full; i++ {
		if !t.first[s[i]] {
			continue
		}
		for _, sp := range t.specials {
			if strings.HasPrefix(s[i:], sp.text) {
				e.segment(s[start:i])
				e.add(sp.id)
				start = i + len(sp.text)
				i = start - 1
				break
			}
		}
	}
	e.segment(s[start:])
}

// segment normalizes s as BertNormalizer does (clean_text, Chinese
// characters, then NFD and Mn removal, then lowercase) and feeds the result
// to the pre-tokenizer.
func (e *wpEncoder) segment(s string) {
	for i := 0; i < len(s) && !e.full; {
		if c := s[i]; c < utf8.RuneSelf {
			i++
			f := wpASCII[c]
			if f&wpRemoved != 0 {
				continue
			}
			if len(e.pending) > 0 {
				e.flush()
			}
			switch {
			case f&wpSpace != 0:
				e.endWord()
			case f&wpPunct != 0:
				e.endWord()
				e.word = append(e.word, c)
				e.endWord()
			default:
				if e.t.lowercase && 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				e.word = append(e.word, c)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		// Invalid UTF-8 decodes as U+FFFD, which clean_text removes.
		if unicode.Is(wpRemovedTable, r) {
			continue
		}
		if unicode.Is(wpSpaceTable, r) {
			r = ' '
		}
		if unicode.Is(wpChineseTable, r) {
			e.decomposed(' ')
			e.decomposed(r)
			e.decomposed(' ')
			continue
		}
		e.decomposed(r)
	}
	if len(e.pending) > 0 {
		e.flush()
	}
	e.endWord()
}

// decomposed passes r through NFD with canonical ordering when accents are
// stripped; the cased pipeline skips both.
func (e *wpEncoder) decomposed(r rune) {
	if !e.t.lowercase {
		e.pretoken(r)
		return
	}
	if hangulBase <= r && r < hangulBase+hangulCount {
		i := r - hangulBase
		e.starter(hangulL + i/588)
		e.starter(hangulV + i%588/28)
		if t := i % 28; t != 0 {
			e.starter(hangulT + t)
		}
		return
	}
	d, ok := wpLookup(wpDecomp[:], r)
	if !ok {
		e.nfdRune(r)
		return
	}
	for _, x := range d {
		e.nfdRune(x)
	}
}

// nfdRune queues a non-starter or, for a starter, releases the queued run
// in canonical order first.
func (e *wpEncoder) nfdRune(r rune) {
	if c := wpCombining(r); c != 0 {
		e.pending = append(e.pending, wpMark{r, c})
		return
	}
	e.starter(r)
}

func (e *wpEncoder) starter(r rune) {
	if len(e.pending) > 0 {
		e.flush()
	}
	e.stripped(r)
}

// flush emits the pending non-starters stably sorted by combining class
// (insertion sort: runs are a handful of marks).
func (e *wpEncoder) flush() {
	p := e.pending
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j-1].ccc > p[j].ccc; j-- {
			p[j-1], p[j] = p[j], p[j-1]
		}
	}
	for _, m := range p {
		e.stripped(m.r)
	}
	e.pending = p[:0]
}

// stripped drops nonspacing marks and lowercases what remains.
func (e *wpEncoder) stripped(r rune) {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		e.pretoken(r)
		return
	}
	if unicode.Is(wpNonspacingTable, r) {
		return
	}
	l, ok := wpLookup(wpLower[:], r)
	if !ok {
		e.pretoken(r)
		return
	}
	for _, x := range l {
		e.pretoken(x)
	}
}

// pretoken applies BertPreTokenizer to one normalized rune: U+0020 ends a
// word, punctuation is a word of its own, anything else extends the word.
// (Every other whitespace was turned into U+0020 by clean_text; the table
// generator checks that.)
func (e *wpEncoder) pretoken(r rune) {
	var punct bool
	if r < utf8.RuneSelf {
		if r == ' ' {
			e.endWord()
			return
		}
		punct = wpASCII[r]&wpPunct != 0
	} else {
		punct = unicode.Is(wpPunctTable, r)
	}
	if punct {
		e.endWord()
		e.word = utf8.AppendRune(e.word, r)
		e.endWord()
		return
	}
	e.word = utf8.AppendRune(e.word, r)
}

// endWord runs WordPiece on the current word: greedy longest match from the
// left, "##" before every piece but the first, and the whole word as one
// [UNK] if it is too long or any part of it matches nothing.
func (e *wpEncoder) endWord() {
	w := e.word
	if len(w) == 0 {
		return
	}
	e.word = w[:0]
	if e.full {
		return
	}
	if len(w) > wpMaxInputChars && utf8.RuneCount(w) > wpMaxInputChars {
		e.add(e.t.unk)
		return
	}
	vocab := e.t.vocab
	mark := len(e.ids)
	for start := 0; start < len(w); {
		end := len(w)
		for end > start {
			var id int32
			var ok bool
			if start == 0 {
				id, ok = vocab[string(w[:end])]
			} else {
				e.key = append(e.key[:2], w[start:end]...)
				id, ok = vocab[string(e.key)]
			}
			if ok {
				e.ids = append(e.ids, id)
				break
			}
			end-- // back to the previous rune boundary
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		if end == start {
			e.ids = append(e.ids[:mark], e.t.unk)
			break
		}
		start = end
	}
	e.truncate()
}

// add appends one id (a special token or [UNK]).
func (e *wpEncoder) add(id int32) {
	e.ids = append(e.ids, id)
	e.truncate()
}

// truncate cuts the ids to the limit once a word is complete; Hugging Face
// truncates the finished encoding, which is the same ids.
func (e *wpEncoder) truncate() {
	if len(e.ids)-1 >= e.limit {
		e.ids = e.ids[:1+e.limit]
		e.full = true
	}
}

// wpLookup finds r in a table sorted by code point.
func wpLookup(table []wpMapping, r rune) (string, bool) {
	lo, hi := 0, len(table)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if table[m].r < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(table) && table[lo].r == r {
		return table[lo].s, true
	}
	return "", false
}

// wpCombining returns the canonical combining class of r (0 for starters).
func wpCombining(r rune) uint8 {
	if r < 0x300 {
		return 0
	}
	lo, hi := 0, len(wpCCC)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if wpCCC[m].hi < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(wpCCC) && wpCCC[lo].lo <= r {
		return wpCCC[lo].ccc
	}
	return 0
}
