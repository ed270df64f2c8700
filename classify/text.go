package classify

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// brk is the token that stands for a clause boundary (sentence or clause
// punctuation, a line break, the end of the subject). No phrase can contain
// it, so phrases never match across clauses, and negation scope ends there.
// It cannot collide with a word: '|' is never part of a token.
const brk = "|"

// eos and qend are the boundaries that end a sentence: a full stop, "!" or
// a line break, and a question mark. They are clause boundaries too (every
// boundary token starts with '|'); the classifier tells sentences apart to
// find the customer's main ask, and a question is an ask.
const (
	eos  = "|."
	qend = "|?"
)

// isBoundary reports whether tok is a clause or sentence boundary.
func isBoundary(tok string) bool { return len(tok) > 0 && tok[0] == '|' }

// boundaryRank orders the boundary tokens so that the strongest one wins
// where punctuation piles up ("?!", ".\n").
func boundaryRank(tok string) int {
	switch tok {
	case qend:
		return 3
	case eos:
		return 2
	case brk:
		return 1
	}
	return 0
}

// tokenizer turns text into the normalized word tokens the matchers work
// on: lower-cased, Latin diacritics folded ("contraseña" = "contrasena"),
// contractions expanded ("can't" = "can not", and so is the common "cant"),
// and lightly stemmed ("logged" = "log", "charges" = "charge"), with brk
// tokens at clause boundaries. Keyword phrases go through the same steps, so
// both sides agree on word boundaries and inflections by construction.
//
// It holds no state; its methods append to caller-owned slices so that one
// classification allocates little.
type tokenizer struct{}

// tokens appends the tokens of s to dst.
func (tokenizer) tokens(dst []string, s string) []string {
	var word []byte // the current word, folded and lower-cased
	flush := func() {
		if len(word) > 0 {
			dst = appendWord(dst, word)
			word = word[:0]
		}
	}
	boundary := func(b string) {
		switch n := len(dst); {
		case n == 0:
		case !isBoundary(dst[n-1]):
			dst = append(dst, b)
		case boundaryRank(b) > boundaryRank(dst[n-1]):
			dst[n-1] = b
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
			word = append(word, byte(r))
		case r < utf8.RuneSelf && r >= 'A' && r <= 'Z':
			word = append(word, byte(r+'a'-'A'))
		case r == '\'' || r == '’' || r == 'ʼ':
			// An apostrophe inside a word ("can't", "d'urgent") is kept for
			// appendWord; one at either edge is a quotation mark.
			if len(word) > 0 && i < len(s) && isWordStart(s[i:]) {
				word = append(word, '\'')
			} else {
				flush()
			}
		case (r == '.' || r == ',') && len(word) > 0 && isDigit(word[len(word)-1]) && i < len(s) && isDigit(s[i]):
			// "3,000" and "2.5" are one number, so that "{n} seconds"
			// matches them.
		case r == '.':
			// A full stop ends a clause; a dot inside "v1.2" or an address
			// does not even end the word.
			if len(word) > 0 && i < len(s) && isWordStart(s[i:]) {
				flush()
				continue
			}
			flush()
			boundary(eos)
		case r == '?':
			flush()
			boundary(qend)
		case r == '!':
			flush()
			boundary(eos)
		case r == ',' || r == ';' || r == ':' || r == '(' || r == ')' ||
			r == '[' || r == ']' || r == '"' || r == '“' || r == '”' || r == '…' || r == '•' ||
			r == '—' || r == '–' || r == '¿' || r == '¡' || r == '«' || r == '»' || r == '„':
			flush()
			boundary(brk)
		case r == '\n':
			// Tickets are not hard-wrapped: a line is a sentence (a list
			// item, a greeting, a log line).
			flush()
			boundary(eos)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word = appendFolded(word, unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return dst
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// numTok is the token that "{n}" in a phrase becomes: it matches any number
// in the text ("{n} seconds" matches "45 seconds" and "3,000 seconds").
// Braces never survive tokenization, so no word can collide with it.
const numTok = "{n}"

// isNumber reports whether a text token is a number.
func isNumber(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if !isDigit(tok[i]) {
			return false
		}
	}
	return true
}

// phraseTokens tokenizes a phrase of the taxonomy like text, except that
// "{n}" stands for any number.
func (tz tokenizer) phraseTokens(p string) []string {
	var toks []string
	for i, part := range strings.Split(p, numTok) {
		if i > 0 {
			toks = append(toks, numTok)
		}
		toks = tz.tokens(toks, part)
	}
	return toks
}

// isWordStart reports whether s begins with a letter or digit.
func isWordStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// contractions maps the contracted forms people type with and without the
// apostrophe to their expansion. Expanding them makes "can't", "cant" and
// "cannot" one phrase for the matchers and exposes "not" to negation.
var contractions = map[string][]string{
	"can't": {"can", "not"}, "cant": {"can", "not"}, "cannot": {"can", "not"},
	"won't": {"will", "not"}, "wont": {"will", "not"},
	"shan't": {"shall", "not"}, "ain't": {"is", "not"}, "aint": {"is", "not"},
	"dont": {"do", "not"}, "doesnt": {"does", "not"}, "didnt": {"did", "not"},
	"isnt": {"is", "not"}, "wasnt": {"was", "not"}, "arent": {"are", "not"},
	"werent": {"were", "not"}, "couldnt": {"could", "not"}, "wouldnt": {"would", "not"},
	"shouldnt": {"should", "not"}, "havent": {"have", "not"}, "hasnt": {"has", "not"},
	"hadnt": {"had", "not"}, "mustnt": {"must", "not"}, "neednt": {"need", "not"},
	"it's": {"it", "is"}, "that's": {"that", "is"}, "there's": {"there", "is"},
	"what's": {"what", "is"}, "here's": {"here", "is"}, "who's": {"who", "is"},
	"he's": {"he", "is"}, "she's": {"she", "is"}, "where's": {"where", "is"},
	"let's": {"let", "us"},
}

// suffixContractions are the clitics expanded after any word.
var suffixContractions = []struct {
	suffix string
	word   string
}{
	{"n't", "not"}, {"'re", "are"}, {"'ve", "have"}, {"'ll", "will"}, {"'m", "am"}, {"'d", "would"}, {"'s", ""},
}

// fillers are intensifiers dropped from text and phrases alike, so that
// "we'd really like to be able to" matches "would like to be able to" and
// "extremely slow" matches "slow" without listing every variant.
var fillers = map[string]bool{
	"really": true, "very": true, "actually": true, "definitely": true, "truly": true, "quite": true,
	"extremely": true, "totally": true, "absolutely": true, "simply": true, "honestly": true,
	"literally": true, "basically": true, "seriously": true, "incredibly": true, "super": true,
}

// appendWord expands contractions and elisions in w and appends the stemmed
// tokens to dst.
func appendWord(dst []string, w []byte) []string {
	if fillers[string(w)] {
		return dst
	}
	if exp, ok := contractions[string(w)]; ok {
		for _, e := range exp {
			dst = append(dst, stem(e))
		}
		return dst
	}
	if ap := strings.IndexByte(string(w), '\''); ap >= 0 {
		s := string(w)
		for _, c := range suffixContractions {
			if base, ok := strings.CutSuffix(s, c.suffix); ok && base != "" && !strings.Contains(base, "'") {
				dst = append(dst, stem(base))
				if c.word != "" {
					dst = append(dst, stem(c.word))
				}
				return dst
			}
		}
		// An elision such as French "d'urgent" or "l'app": keep the word.
		if ap <= 2 {
			return appendWord(dst, w[ap+1:])
		}
		// A name such as "o'brien": drop the apostrophe.
		return append(dst, stem(strings.ReplaceAll(s, "'", "")))
	}
	return append(dst, stem(string(w)))
}

// appendFolded appends r to w, folding the Latin diacritics that support
// tickets in European languages use, so that a keyword matches whether or
// not the writer typed the accent.
func appendFolded(w []byte, r rune) []byte {
	switch r {
	case 'à', 'á', 'â', 'ã', 'ä', 'å', 'ā', 'ă', 'ą':
		return append(w, 'a')
	case 'ç', 'ć', 'č':
		return append(w, 'c')
	case 'è', 'é', 'ê', 'ë', 'ē', 'ė', 'ę', 'ě':
		return append(w, 'e')
	case 'ì', 'í', 'î', 'ï', 'ī', 'į', 'ı':
		return append(w, 'i')
	case 'ñ', 'ń', 'ň':
		return append(w, 'n')
	case 'ò', 'ó', 'ô', 'õ', 'ö', 'ø', 'ō', 'ő':
		return append(w, 'o')
	case 'ù', 'ú', 'û', 'ü', 'ū', 'ů', 'ű', 'ų':
		return append(w, 'u')
	case 'ý', 'ÿ':
		return append(w, 'y')
	case 'ß':
		return append(w, 's', 's')
	case 'æ':
		return append(w, 'a', 'e')
	case 'œ':
		return append(w, 'o', 'e')
	case 'ł':
		return append(w, 'l')
	case 'ś', 'š', 'ş':
		return append(w, 's')
	case 'ź', 'ż', 'ž':
		return append(w, 'z')
	case 'ř':
		return append(w, 'r')
	case 'ğ':
		return append(w, 'g')
	case 'đ', 'ď':
		return append(w, 'd')
	case 'ť':
		return append(w, 't')
	}
	return utf8.AppendRune(w, r)
}

// stem strips the common English inflections so that "crashes", "crashed"
// and "crashing" are one word. It is deliberately lighter than Porter's
// algorithm: plural -s/-es/-ies, -ed, -ing, a doubled final consonant, and
// a final -e. Over-stemming is harmless as long as the text and the keyword
// phrases are stemmed alike, which they are; what matters is that different
// inflections of one word meet, and that short words are left alone.
func stem(w string) string {
	if len(w) <= 3 || !isASCIILetters(w) {
		return w
	}
	if s, ok := stemExceptions[w]; ok {
		return s
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
	case strings.HasSuffix(w, "s"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "eed"):
	case strings.HasSuffix(w, "ed") && len(w) > 4 && hasVowel(w[:len(w)-2]):
		w = undouble(w[:len(w)-2])
	case strings.HasSuffix(w, "ing") && len(w) > 5 && hasVowel(w[:len(w)-3]):
		w = undouble(w[:len(w)-3])
	}
	if len(w) > 3 && w[len(w)-1] == 'e' && w[len(w)-2] != 'e' {
		w = w[:len(w)-1]
	}
	return w
}

// stemExceptions are words the suffix rules would turn into a different,
// common word ("settings" into "set").
var stemExceptions = map[string]string{
	"setting": "setting", "settings": "setting", "morning": "morning", "mornings": "morning",
	"evening": "evening", "evenings": "evening", "nothing": "nothing", "something": "something",
	"anything": "anything", "everything": "everything", "thing": "thing", "things": "thing",
	"during": "during", "news": "news",
}

func isASCIILetters(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	return true
}

func hasVowel(w string) bool { return strings.ContainsAny(w, "aeiouy") }

// undouble turns "logg" (from "logged") into "log", except for the letters
// that English doubles in the base form ("fill", "pass", "buzz"); British
// "travell" and "cancell" lose their second l too.
func undouble(w string) string {
	n := len(w)
	switch {
	case n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeioulsz", rune(w[n-1])):
		return w[:n-1]
	case n >= 6 && strings.HasSuffix(w, "ell"):
		return w[:n-1]
	}
	return w
}
