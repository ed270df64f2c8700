package classify

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	enricher "github.com/ticket-enricher/enricher"
)

// defaultExamples are the labeled tickets the lexicon learns from: the
// shared development set, the blind-written synthetic-b set and the
// phrasing tests of this package, reduced to subject, body and intent.
//
//go:embed examples.jsonl
var defaultExamples []byte

// Example is one labeled ticket text for the lexicon: what a ticket of
// Intent looks like. Examples complement the hand-written keyword phrases
// with the everyday words writers actually use, which no phrase list
// anticipates fully.
type Example struct {
	ID      string `json:"id,omitempty"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	Intent  string `json:"intent"`
	// Urgency and Priority (as given, "" for none) are optional; only
	// examples with an urgency teach the urgency lexicon.
	Urgency  string `json:"urgency,omitempty"`
	Priority string `json:"priority,omitempty"`
}

// DefaultExamples returns the examples embedded in the binary, which New
// learns from.
func DefaultExamples() ([]Example, error) {
	ex, err := ParseExamples(defaultExamples)
	if err != nil {
		return nil, fmt.Errorf("parse embedded examples: %w", err)
	}
	return ex, nil
}

// ParseExamples reads examples as JSON Lines. A line is either an Example
// or a labeled ticket (DESIGN.md §2.1 with "expected": {"intent": ...}), so
// that an evaluation file can serve as training data as is. Blank lines are
// skipped; a line without text or intent is an EINVALID error naming it.
func ParseExamples(data []byte) ([]Example, error) {
	var out []Example
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, enricher.MaxTicketSize+1)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var raw struct {
			Example
			TicketID string `json:"ticket_id"`
			Expected struct {
				Intent  string `json:"intent"`
				Urgency string `json:"urgency"`
			} `json:"expected"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			return nil, enricher.Errorf(enricher.EINVALID, "parse examples: line %d: %s", line, err)
		}
		ex := raw.Example
		if ex.Intent == "" {
			ex.Intent = raw.Expected.Intent
		}
		if ex.Urgency == "" {
			ex.Urgency = raw.Expected.Urgency
		}
		if ex.ID == "" {
			ex.ID = raw.TicketID
		}
		if ex.Intent == "" || ex.Subject == "" && ex.Body == "" {
			return nil, enricher.Errorf(enricher.EINVALID, "parse examples: line %d: an example needs an intent and a subject or body", line)
		}
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		return nil, enricher.Errorf(enricher.EINVALID, "parse examples: %s", err)
	}
	return out, nil
}

// lexicon is a naive Bayes model of the words of each class (an intent or
// an urgency level), learned from examples. Its features are the
// normalized tokens of a ticket and the pairs of adjacent tokens within a
// clause, each counted once per ticket, plus optional "extra" features that
// are not words (the priority, the rule-based level). It sees what keyword
// phrases miss (a product's own words for a defect, a paraphrased wish),
// while the phrases keep what a few examples cannot teach reliably;
// Classify adds the two.
type lexicon struct {
	n     int // classes
	words map[string]int32
	pairs map[[2]int32]int32
	// logp[f*n+i] is log P(feature f | class i), smoothed.
	logp []float64
	temp float64
	// known marks the classes that had examples; the others get
	// probability 0, as the lexicon knows nothing about them.
	known []bool
}

// lexiconBuilder counts features per class until build.
type lexiconBuilder struct {
	lx     *lexicon
	counts [][]float64 // by feature, then class
	total  []float64
	feats  []int32
}

func newLexiconBuilder(classes int) *lexiconBuilder {
	return &lexiconBuilder{
		lx:    &lexicon{n: classes, words: map[string]int32{}, pairs: map[[2]int32]int32{}},
		total: make([]float64, classes),
	}
}

// add counts one example of class: its tokens and extra features (keys
// that tokens can never be, such as "#priority:high").
func (b *lexiconBuilder) add(class int, toks []string, extra ...string) {
	b.feats = b.lx.features(b.feats[:0], toks, true)
	for _, e := range extra {
		b.feats = append(b.feats, b.lx.id(e, true))
	}
	for _, f := range b.feats {
		for int(f) >= len(b.counts) {
			b.counts = append(b.counts, make([]float64, b.lx.n))
		}
		b.counts[f][class]++
		b.total[class]++
	}
}

// build smooths the counts into log-probabilities. Every class gets the
// same prior: how often a class occurs among the examples says how they
// were collected, not how tickets arrive.
func (b *lexiconBuilder) build(alpha, temp float64) *lexicon {
	lx := b.lx
	lx.temp = temp
	lx.known = make([]bool, lx.n)
	for i, t := range b.total {
		lx.known[i] = t > 0
	}
	v := float64(len(b.counts))
	lx.logp = make([]float64, len(b.counts)*lx.n)
	for f, c := range b.counts {
		for i := range lx.n {
			lx.logp[f*lx.n+i] = math.Log((c[i] + alpha) / (b.total[i] + alpha*v))
		}
	}
	return lx
}

// newLexicon learns an intent lexicon from examples; intents maps an
// intent name to its index.
func newLexicon(tok tokenizer, intents map[string]int, ex []Example, alpha, temp float64) (*lexicon, error) {
	b := newLexiconBuilder(len(intents))
	var toks []string
	for k, e := range ex {
		in, ok := intents[e.Intent]
		if !ok {
			return nil, fmt.Errorf("example %d (%s): intent %q is not one of the intents", k+1, e.ID, e.Intent)
		}
		toks = exampleTokens(tok, toks[:0], e)
		b.add(in, toks)
	}
	return b.build(alpha, temp), nil
}

// exampleTokens tokenizes an example as Classify tokenizes a ticket.
func exampleTokens(tok tokenizer, dst []string, e Example) []string {
	dst = tok.tokens(dst, e.Subject)
	dst = append(dst, eos)
	return tok.tokens(dst, e.Body)
}

// id returns the feature id of a word or extra key, adding it if learn is
// set; -1 if it is unknown.
func (lx *lexicon) id(key string, learn bool) int32 {
	id, ok := lx.words[key]
	if !ok {
		if !learn {
			return -1
		}
		id = int32(len(lx.words) + len(lx.pairs))
		lx.words[key] = id
	}
	return id
}

// features appends the sorted, distinct feature ids of toks to dst. With
// learn, unseen features get new ids; without, they are skipped, as they
// say nothing about any intent.
func (lx *lexicon) features(dst []int32, toks []string, learn bool) []int32 {
	prev := int32(-1)
	for _, t := range toks {
		if isBoundary(t) {
			prev = -1
			continue
		}
		id := lx.id(t, learn)
		if id < 0 {
			prev = -1
			continue
		}
		dst = append(dst, id)
		if prev >= 0 {
			key := [2]int32{prev, id}
			pid, ok := lx.pairs[key]
			if !ok && learn {
				pid = int32(len(lx.words) + len(lx.pairs))
				lx.pairs[key] = pid
				ok = true
			}
			if ok {
				dst = append(dst, pid)
			}
		}
		prev = id
	}
	slices.Sort(dst)
	return slices.Compact(dst)
}

// posterior writes P(class | features) to post, tempered: the naive
// Bayes log-likelihoods of the word features are divided by temp before the
// softmax, because counting a hundred correlated words as independent makes
// the raw posterior nearly always 0 or 1, which would drown other evidence.
// Classes without examples get 0. The extra features (ids, -1 for
// unknown) count in full: there are few of
// them and they are not correlated with each other like words are.
func (lx *lexicon) posterior(post []float64, feats []int32, extra ...int32) {
	clear(post)
	for _, f := range feats {
		row := lx.logp[int(f)*lx.n : int(f)*lx.n+lx.n]
		for i, lp := range row {
			post[i] += lp
		}
	}
	for i := range post {
		post[i] /= lx.temp
	}
	for _, f := range extra {
		if f < 0 {
			continue
		}
		row := lx.logp[int(f)*lx.n : int(f)*lx.n+lx.n]
		for i, lp := range row {
			post[i] += lp
		}
	}
	best := math.Inf(-1)
	for i := range post {
		if lx.known[i] {
			best = max(best, post[i])
		}
	}
	var z float64
	for i := range post {
		if !lx.known[i] {
			post[i] = 0
			continue
		}
		post[i] = math.Exp(post[i] - best)
		z += post[i]
	}
	for i := range post {
		post[i] /= z
	}
}
