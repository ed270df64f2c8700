package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// bpeClass is how the GPT-2 pre-tokenization pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// sees a character.
type bpeClass uint8

const (
	bpeOther bpeClass = iota // [^\s\p{L}\p{N}]
	bpeLetter
	bpeNumber
	bpeSpace
)

// bpeRange is a run of code points of one class (see bpe_tables.go).
type bpeRange struct {
	lo, hi rune
	class  bpeClass
}

// bpeASCII classes the ASCII characters without a table search.
var bpeASCII = func() (c [128]bpeClass) {
	for r := range c {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			c[r] = bpeLetter
		case '0' <= r && r <= '9':
			c[r] = bpeNumber
		case r == ' ', '\t' <= r && r <= '\r':
			c[r] = bpeSpace
		}
	}
	return c
}()

// bpeClassOf classes r as the library's regex engine does (its Unicode is
// newer than Go's, hence bpeRanges rather than package unicode).
func bpeClassOf(r rune) bpeClass {
	if r < 0x80 {
		return bpeASCII[r]
	}
	lo, hi := 0, len(bpeRanges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bpeRanges[m].hi < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(bpeRanges) && bpeRanges[lo].lo <= r {
		return bpeRanges[lo].class
	}
	return bpeOther
}

// bpeRune decodes the first character of s; an invalid byte is itself, of
// the class of U+FFFD, which Python would have put in its place.
func bpeRune(s string) (bpeClass, int) {
	if s[0] < 0x80 {
		return bpeASCII[s[0]], 1
	}
	r, n := utf8.DecodeRuneInString(s)
	return bpeClassOf(r), n
}

// bpeRun is the length in bytes of the prefix of s whose characters are all
// of class c.
func bpeRun(s string, c bpeClass) int {
	i := 0
	for i < len(s) {
		k, n := bpeRune(s[i:])
		if k != c {
			break
		}
		i += n
	}
	return i
}

// bpeNextWord returns the length in bytes of the first match of the GPT-2
// pattern in s (non-empty). Go's regexp has no lookahead, so the
// alternatives are tried by hand in the pattern's order, with its
// leftmost-first semantics: a contraction; an optional space and a run of
// letters, of numbers or of other characters; a whitespace run not followed
// by a non-space, which before a word means all but its last character (left
// to prefix the word); or a lone whitespace character.
func bpeNextWord(s string) int {
	if s[0] == '\'' && len(s) > 1 {
		switch s[1] {
		case 's', 't', 'm', 'd':
			return 2
		case 'r', 'v':
			if len(s) > 2 && s[2] == 'e' {
				return 3
			}
		case 'l':
			if len(s) > 2 && s[2] == 'l' {
				return 3
			}
		}
	}
	c, n := bpeRune(s)
	if s[0] == ' ' && len(s) > 1 {
		if c2, n2 := bpeRune(s[1:]); c2 != bpeSpace {
			return 1 + n2 + bpeRun(s[1+n2:], c2)
		}
	}
	if c != bpeSpace {
		return n + bpeRun(s[n:], c)
	}
	end, last := n, n
	for end < len(s) {
		k, m := bpeRune(s[end:])
		if k != bpeSpace {
			break
		}
		end += m
		last = m
	}
	if end < len(s) && end > n {
		return end - last
	}
	return end
}

// bpeTrimSpaceLeft returns where the whitespace ending s begins: the part an
// lstrip special token swallows (Rust's char::is_whitespace, which is
// Unicode White_Space like unicode.IsSpace).
func bpeTrimSpaceLeft(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// bpeByteChar is GPT-2's bytes_to_unicode: each byte as a printable
// character, so that BPE tokens are strings of visible characters ("Ġ" is
// the space byte). Printable Latin-1 bytes stand for themselves; the others
// take U+0100 onwards in byte order.
var bpeByteChar = func() (m [256]string) {
	n := 0
	for b := range m {
		if '!' <= b && b <= '~' || '¡' <= b && b <= '¬' || '®' <= b && b <= 'ÿ' {
			m[b] = string(rune(b))
		} else {
			m[b] = string(rune(256 + n))
			n++
		}
	}
	return m
}()

// bpeCharByte inverts bpeByteChar: the byte of each character up to U+0143,
// or -1.
var bpeCharByte = func() (m [0x144]int16) {
	for i := range m {
		m[i] = -1
	}
	for b, s := range bpeByteChar {
		r, _ := utf8.DecodeRuneInString(s)
		m[r] = int16(b)
	}
	return m
}()

// bpeAppendTokenBytes appends the bytes a token's characters stand for. A
// token with a character outside the table (an added token such as "<s>"
// could have one) is appended as its own UTF-8, as the ByteLevel decoder does.
func bpeAppendTokenBytes(buf []byte, tok string) []byte {
	start := len(buf)
	for _, r := range tok {
		if r >= rune(len(bpeCharByte)) || bpeCharByte[r] < 0 {
			return append(buf[:start], tok...)
		}
		buf = append(buf, byte(bpeCharByte[r]))
	}
	return buf
}

// bpeLossyString converts b to a string with each maximal invalid UTF-8
// subsequence replaced by one U+FFFD, the Unicode "substitution of maximal
// subparts" practice of Rust's String::from_utf8_lossy (Go's own conversions
// replace byte by byte or whole runs, neither of which matches).
func bpeLossyString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		if b[i] < 0x80 {
			out.WriteByte(b[i])
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			out.Write(b[i : i+n])
			i += n
			continue
		}
		i += bpeInvalidLen(b[i:])
		out.WriteRune(utf8.RuneError)
	}
	return out.String()
}

// bpeInvalidLen is the length of the maximal invalid subpart b starts with:
// a lead byte and as many continuation bytes as could still have completed
// a valid character (Unicode Table 3-7 ranges).
func bpeInvalidLen(b []byte) int {
	c := b[0]
	need, lo, hi := 0, byte(0x80), byte(0xBF)
	switch {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for i <= need && i < len(b) && lo <= b[i] && b[i] <= hi {
		i++
		lo, hi = 0x80, 0xBF
	}
	return i
}
