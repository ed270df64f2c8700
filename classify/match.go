package classify

// trie is a phrase dictionary over normalized tokens. Matching walks it
// from each position and keeps the longest phrase (leftmost-longest), so
// "reset password" wins over "password" where both match, and a token is
// evidence for at most one phrase of a layer. Because it works on whole
// tokens, word boundaries come for free: "login" never matches inside
// "blogging".
type trie struct {
	nodes []trieNode
}

type trieNode struct {
	next map[string]int32
	// payload is the index of the phrase ending here in the owner's table,
	// or -1.
	payload int32
}

func newTrie() *trie { return &trie{nodes: []trieNode{{payload: -1}}} }

// insert adds a phrase of tokens and returns the node it ends at, so the
// caller can attach or look up its payload.
func (t *trie) insert(toks []string) *trieNode {
	n := int32(0)
	for _, tok := range toks {
		next, ok := t.nodes[n].next[tok]
		if !ok {
			next = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{payload: -1})
			if t.nodes[n].next == nil {
				t.nodes[n].next = map[string]int32{}
			}
			t.nodes[n].next[tok] = next
		}
		n = next
	}
	return &t.nodes[n]
}

// longest returns the payload and length of the longest phrase starting at
// toks[0], or -1 and 0. A number in toks matches itself or numTok.
func (t *trie) longest(toks []string) (payload int32, length int) {
	payload = -1
	t.walk(0, toks, 0, &payload, &length)
	return payload, length
}

func (t *trie) walk(n int32, toks []string, depth int, payload *int32, length *int) {
	for ; depth < len(toks); depth++ {
		tok := toks[depth]
		if isNumber(tok) {
			if wild, ok := t.nodes[n].next[numTok]; ok {
				if p := t.nodes[wild].payload; p >= 0 && depth+1 > *length {
					*payload, *length = p, depth+1
				}
				t.walk(wild, toks, depth+1, payload, length)
			}
		}
		next, ok := t.nodes[n].next[tok]
		if !ok {
			// A determiner the phrase does not have is skipped inside a
			// phrase: "remove user" matches "remove his user".
			if n != 0 && skippable[tok] {
				continue
			}
			return
		}
		n = next
		if p := t.nodes[n].payload; p >= 0 && depth+1 >= *length {
			*payload, *length = p, depth+1
		}
	}
}

// skippable are the articles and possessives that phrase matching steps
// over inside a phrase, so that one phrase "cancel subscription" covers
// "cancel my subscription", "cancel our subscription" and "cancel the
// subscription". Keyword phrases leave them out (ParseTaxonomy checks);
// negation phrases may spell one out ("not a"), and then it is required.
var skippable = map[string]bool{
	"a": true, "an": true, "the": true, "my": true, "our": true, "your": true, "his": true, "her": true,
	"their": true, "its": true,
}

// match is one phrase found in a token stream.
type match struct {
	payload int32
	start   int
	end     int
}

// scan appends to dst the longest match starting at each position of toks,
// except matches that lie inside an earlier one: "reset password" hides the
// "password" within it, but overlapping phrases both count, so "it would
// be" does not swallow the "would be nice" that starts one word later.
func (t *trie) scan(dst []match, toks []string) []match {
	end := 0
	for i := range toks {
		p, n := t.longest(toks[i:])
		if n == 0 || i+n <= end {
			continue
		}
		dst = append(dst, match{payload: p, start: i, end: i + n})
		end = i + n
	}
	return dst
}

// The kinds of phrase in the negation dictionary.
const (
	negCue int32 = iota
	negVerbal
	negPseudo
	negTerminator
)

// negator marks the tokens that a negation cue governs.
type negator struct {
	dict  *trie
	scope int
}

func newNegator(n Negation) *negator {
	g := &negator{dict: newTrie(), scope: n.Scope}
	// Later lists win on an identical phrase: a terminator is never a cue,
	// and a pseudo-negation overrides a cue of the same words.
	for kind, list := range [][]string{n.Cues, n.Verbal, n.Pseudo, n.Terminators} {
		for _, p := range list {
			g.dict.insert(tokenizer{}.phraseTokens(p)).payload = int32(kind)
		}
	}
	return g
}

// mark sets neg[i] for every token inside a negation scope: the up to scope
// tokens after a cue, stopped early by a clause boundary, a terminator such
// as "but", or another cue. The cue itself is not negated. Verbal negations
// ("can't", "isn't") open a scope only if verbal is true: they negate the
// urgency of "isn't urgent" but not the topic of "can't log in".
func (g *negator) mark(neg []bool, toks []string, verbal bool) {
	for i := 0; i < len(toks); {
		kind, n := g.dict.longest(toks[i:])
		if n == 0 {
			i++
			continue
		}
		i += n
		if kind != negCue && (kind != negVerbal || !verbal) {
			continue
		}
		for j, left := i, g.scope; j < len(toks) && left > 0; j++ {
			if isBoundary(toks[j]) {
				break
			}
			if k, m := g.dict.longest(toks[j:]); m > 0 && (k == negTerminator || k == negCue || k == negVerbal && verbal) {
				break
			}
			neg[j] = true
			left--
		}
	}
}
