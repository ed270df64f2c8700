package classify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"

	enricher "github.com/ticket-enricher/enricher"
)

// Classifier classifies tickets with a compiled taxonomy. It is immutable
// after New, so one Classifier is safe for concurrent use by any number of
// goroutines.
type Classifier struct {
	version string
	tok     tokenizer
	neg     *negator
	// scoring is a copy, so that changing the Taxonomy after New changes
	// nothing here.
	scoring IntentScoring

	intentNames []string
	fallback    int
	// intentDict maps a phrase to an index of intentHits: the (intent,
	// weight) pairs of that phrase, since one phrase may serve several
	// intents.
	intentDict *trie
	intentHits [][]intentEntry
	// cueDict finds the ask and contrast cues that weigh sentences; its
	// payload is cueAsk or cueContrast.
	cueDict *trie

	urg *urgencyModel
	// lex is the naive Bayes lexicon learned from examples, or nil.
	lex *lexicon

	// bufs recycles per-call scratch space; it holds no state between calls.
	bufs sync.Pool
}

type intentEntry struct {
	id     int32 // unique per (intent, phrase)
	intent int32
	weight float64
	phrase string
}

// scratch is the per-call working memory.
type scratch struct {
	toks []string
	// neg marks the tokens in a negation scope for intents, negU for
	// urgency signals, where verbal negation counts too.
	neg     []bool
	negU    []bool
	matches []match
	cues    []match
	hits    []intentHit
	feats   []int32
	post    []float64
	// mult is the weight of an intent phrase starting at each token: the
	// subject, the main ask and the part after "but" count more.
	mult []float64
}

type intentHit struct {
	entry *intentEntry
	mult  float64
	pos   int
}

// The kinds of phrase in cueDict.
const (
	cueAsk int32 = iota
	cueContrast
)

// versionPrefix names the method; the hash of the taxonomy and the
// examples completes the version. Bump it when the scoring code changes in
// a way that changes results.
const versionPrefix = "keywords-2/"

// maxEvidence bounds the evidence lists: the strongest phrases explain a
// decision; the twentieth adds nothing for a reader.
const maxEvidence = 6

// New compiles tax into a classifier that also learns from the embedded
// examples (DefaultExamples); see NewWithExamples.
func New(tax *Taxonomy) (*Classifier, error) {
	ex, err := DefaultExamples()
	if err != nil {
		return nil, fmt.Errorf("new classifier: %w", err)
	}
	return NewWithExamples(tax, ex)
}

// NewWithExamples compiles tax into a classifier: phrase dictionaries for
// intents, urgency and negation, and a lexicon learned from examples (none
// if examples is empty or the taxonomy's lexicon_weight is 0), all built
// once so that Classify does no parsing or regexp work. Evaluations pass
// the examples explicitly to keep the tickets they measure out of the
// training data.
func NewWithExamples(tax *Taxonomy, examples []Example) (*Classifier, error) {
	if tax == nil {
		return nil, enricher.Errorf(enricher.EINVALID, "new classifier: taxonomy is nil")
	}
	if err := tax.validate(); err != nil {
		return nil, enricher.Errorf(enricher.EINVALID, "new classifier: invalid taxonomy: %s", err)
	}
	raw := tax.raw
	if raw == nil {
		var err error
		if raw, err = json.Marshal(tax); err != nil {
			return nil, fmt.Errorf("new classifier: marshal taxonomy: %w", err)
		}
	}
	h := sha256.New()
	h.Write(raw)
	if (tax.Scoring.LexiconWeight > 0 || tax.Urgency.LexiconTemperature > 0) && len(examples) > 0 {
		ex, err := json.Marshal(examples)
		if err != nil {
			return nil, fmt.Errorf("new classifier: marshal examples: %w", err)
		}
		h.Write(ex)
	}
	sum := h.Sum(nil)
	c := &Classifier{
		scoring:    tax.Scoring,
		version:    versionPrefix + hex.EncodeToString(sum[:4]),
		neg:        newNegator(tax.Negation),
		intentDict: newTrie(),
		cueDict:    newTrie(),
	}
	for kind, list := range [][]string{tax.Scoring.AskCues, tax.Scoring.ContrastCues} {
		for _, p := range list {
			c.cueDict.insert(c.tok.phraseTokens(p)).payload = int32(kind)
		}
	}
	c.bufs.New = func() any { return &scratch{} }
	var id int32
	for i, in := range tax.Intents {
		c.intentNames = append(c.intentNames, in.Name)
		if in.Name == tax.Fallback {
			c.fallback = i
		}
		for _, g := range in.Keywords {
			for _, p := range g.Phrases {
				node := c.intentDict.insert(c.tok.phraseTokens(p))
				if node.payload < 0 {
					node.payload = int32(len(c.intentHits))
					c.intentHits = append(c.intentHits, nil)
				}
				c.intentHits[node.payload] = append(c.intentHits[node.payload],
					intentEntry{id: id, intent: int32(i), weight: g.Weight, phrase: p})
				id++
			}
		}
	}
	c.urg = newUrgencyModel(tax, c.tok, c.intentNames)
	if sc := tax.Scoring; sc.LexiconWeight > 0 && len(examples) > 0 {
		index := map[string]int{}
		for i, name := range c.intentNames {
			index[name] = i
		}
		lx, err := newLexicon(c.tok, index, examples, sc.LexiconSmoothing, sc.LexiconTemperature)
		if err != nil {
			return nil, enricher.Errorf(enricher.EINVALID, "new classifier: %s", err)
		}
		c.lex = lx
	}
	if r := tax.Urgency; r.LexiconTemperature > 0 && len(examples) > 0 {
		if err := c.urg.learn(c, examples, r.LexiconSmoothing, r.LexiconTemperature); err != nil {
			return nil, enricher.Errorf(enricher.EINVALID, "new classifier: %s", err)
		}
	}
	return c, nil
}

// Version identifies the method and the exact taxonomy, for the record's
// model_version: "keywords-1/" followed by the first 8 hex digits of the
// SHA-256 of the taxonomy file, so that results from different vocabularies
// are never mixed up.
func (c *Classifier) Version() string { return c.version }

// Classify returns the intent and urgency of t, each with a confidence and
// the evidence behind it.
//
// Intent. Every keyword phrase found outside a negation scope contributes
// c = w * m + w * RepeatWeight * min(repeats, MaxRepeats), where w is its
// weight and m the weight of the best place it occurs in: SubjectBoost in
// the subject, AskBoost in a sentence that asks (a question, or one with an
// ask cue), 1 elsewhere, times ContrastDiscount before a "but" (see
// weighTokens). An intent's keyword score sums its contributions strongest
// first, the k-th (from 0) multiplied by Decay^k: phrases of one topic come
// in groups ("invoice", "charge", "card"), so they are not independent
// evidence, and one decisive phrase ("would be nice if", "hacked") should
// not be outvoted by a pile of loosely related words. The lexicon learned
// from examples then adds LexiconWeight * P(intent | words), its tempered
// naive Bayes posterior (nothing if no word of the ticket was ever seen).
// The best score wins (ties go to the intent listed first). With s1 and s2
// the best and second-best scores and k = ConfidenceScale:
//
//	confidence = (1 - exp(-s1/k)) * (1/2 + 1/2 * (s1-s2)/s1)
//
// The first factor grows with the amount and strength of the evidence; the
// second is 1 for an unrivalled intent and falls to 1/2 when a second intent
// scores as high. If s1 < MinScore the intent is the fallback
// (general_inquiry) with confidence FallbackConfidence * (1 - s1/(2*MinScore)):
// moderate when nothing matched at all, lower when weak evidence pointed
// elsewhere. The evidence is the chosen intent's phrases as the taxonomy
// spells them, strongest first, at most six, followed by "similar tickets:
// p" when the lexicon gives the intent a posterior p of at least 0.5.
//
// Urgency. The explicit priority (t.Priority) and the text's urgency
// signals combine as described at UrgencyRules into a verdict; the urgency
// lexicon, if any, then picks the level with the highest posterior given
// that verdict, what the text alone said, the priority, the intent and the
// words, and the confidence is that posterior. The intent's cap and the
// text's floor bound the result. The evidence starts with "priority: <the
// priority as given>" when there is one, and ends with "similar tickets:
// <level> p" when the lexicon overruled the verdict.
//
// Classify only fails if ctx is done.
func (c *Classifier) Classify(ctx context.Context, t enricher.Ticket) (enricher.Classification, error) {
	if err := ctx.Err(); err != nil {
		return enricher.Classification{}, fmt.Errorf("classify ticket %s: %w", t.ID, err)
	}
	s := c.bufs.Get().(*scratch)
	defer c.bufs.Put(s)
	subjectEnd := c.prepare(s, t)

	var out enricher.Classification
	var fallback bool
	out.Intent, out.IntentConfidence, out.IntentEvidence, fallback = c.intent(s, subjectEnd)
	u := c.urg.classify(s, t, out.Intent, !fallback)
	out.Urgency, out.UrgencyConfidence, out.UrgencyEvidence = u.level, u.confidence, u.evidence
	return out, nil
}

// prepare tokenizes t into s and marks negation scopes and phrase weights;
// it returns the number of subject tokens.
func (c *Classifier) prepare(s *scratch, t enricher.Ticket) int {
	s.toks = c.tok.tokens(s.toks[:0], t.Subject)
	subjectEnd := len(s.toks)
	s.toks = append(s.toks, eos)
	s.toks = c.tok.tokens(s.toks, t.Body)
	s.neg = slices.Grow(s.neg[:0], len(s.toks))[:len(s.toks)]
	s.negU = slices.Grow(s.negU[:0], len(s.toks))[:len(s.toks)]
	clear(s.neg)
	clear(s.negU)
	c.neg.mark(s.neg, s.toks, false)
	c.neg.mark(s.negU, s.toks, true)
	c.weighTokens(s, subjectEnd)
	return subjectEnd
}

// scored is one (intent, phrase) found in a ticket, with its contribution.
type scored struct {
	intent int
	phrase string
	score  float64
	pos    int
}

// scoreIntents returns the score of every intent and the phrases behind
// them; see Classify.
func (c *Classifier) scoreIntents(s *scratch, subjectEnd int) ([]float64, []scored) {
	sc := c.scoring
	s.matches = c.intentDict.scan(s.matches[:0], s.toks)
	s.hits = s.hits[:0]
	for _, m := range s.matches {
		if s.neg[m.start] {
			continue
		}
		for i := range c.intentHits[m.payload] {
			s.hits = append(s.hits, intentHit{entry: &c.intentHits[m.payload][i], mult: s.mult[m.start], pos: m.start})
		}
	}
	// Group the occurrences of each (intent, phrase): the first counts in
	// full, weighed by the best place it occurs in (see weighTokens),
	// repeats partly.
	slices.SortFunc(s.hits, func(a, b intentHit) int {
		if a.entry.id != b.entry.id {
			return int(a.entry.id - b.entry.id)
		}
		return a.pos - b.pos
	})
	scores := make([]float64, len(c.intentNames))
	var found []scored
	for i := 0; i < len(s.hits); {
		j, mult := i, 0.0
		for j < len(s.hits) && s.hits[j].entry.id == s.hits[i].entry.id {
			mult = max(mult, s.hits[j].mult)
			j++
		}
		e := s.hits[i].entry
		w := e.weight * mult
		w += e.weight * sc.RepeatWeight * float64(min(j-i-1, sc.MaxRepeats))
		found = append(found, scored{intent: int(e.intent), phrase: e.phrase, score: w, pos: s.hits[i].pos})
		i = j
	}
	// Strongest phrases first within each intent, each counting Decay times
	// less than the one before: phrases of one topic come together
	// ("invoice", "charge", "card", "amount"), so they are not independent
	// pieces of evidence, and a single decisive phrase should not be outvoted
	// by a pile of loosely related words.
	slices.SortFunc(found, func(a, b scored) int {
		switch {
		case a.intent != b.intent:
			return a.intent - b.intent
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return a.pos - b.pos
	})
	factor, prev := 1.0, -1
	for _, f := range found {
		if f.intent != prev {
			factor, prev = 1, f.intent
		}
		scores[f.intent] += f.score * factor
		factor *= sc.Decay
	}
	// The lexicon adds LexiconWeight * P(intent | words); a ticket with no
	// known word gets nothing rather than a uniform share.
	s.post = s.post[:0]
	if c.lex != nil {
		s.feats = c.lex.features(s.feats[:0], s.toks, false)
		if len(s.feats) > 0 {
			s.post = slices.Grow(s.post, len(scores))[:len(scores)]
			c.lex.posterior(s.post, s.feats)
			for i, p := range s.post {
				scores[i] += sc.LexiconWeight * p
			}
		}
	}
	return scores, found
}

// weighTokens sets s.mult, the weight of an intent phrase by where it
// starts, because intent follows the customer's main ask, not the
// background around it:
//   - in the subject, the writer's one-line summary: SubjectBoost;
//   - in a body sentence that asks for something (it ends with "?" or holds
//     an ask cue such as "please", "can you", "how do I"): AskBoost;
//   - elsewhere: 1;
//
// and, in a sentence with a contrast cue ("X works, but Y fails"), a phrase
// before the last cue also counts ContrastDiscount: the writer sets X aside
// to get to Y.
func (c *Classifier) weighTokens(s *scratch, subjectEnd int) {
	sc := c.scoring
	ask, discount := sc.AskBoost, sc.ContrastDiscount
	if ask == 0 {
		ask = 1
	}
	if discount == 0 {
		discount = 1
	}
	s.mult = slices.Grow(s.mult[:0], len(s.toks))[:len(s.toks)]
	for start := 0; start < len(s.toks); {
		end := start
		for end < len(s.toks) && s.toks[end] != eos && s.toks[end] != qend {
			end++
		}
		m, cut := 1.0, -1
		if start < subjectEnd {
			m = sc.SubjectBoost
		} else {
			if end < len(s.toks) && s.toks[end] == qend {
				m = ask
			}
			s.cues = c.cueDict.scan(s.cues[:0], s.toks[start:end])
			for _, cue := range s.cues {
				switch {
				case cue.payload == cueAsk && !s.neg[start+cue.start]:
					m = ask
				case cue.payload == cueContrast:
					cut = start + cue.start
				}
			}
		}
		for i := start; i < end; i++ {
			s.mult[i] = m
			if i < cut {
				s.mult[i] = m * discount
			}
		}
		if end < len(s.toks) {
			s.mult[end] = 1
		}
		start = end + 1
	}
}

// intent picks the best intent and computes its confidence; see Classify.
// fallback reports that no intent scored MinScore.
func (c *Classifier) intent(s *scratch, subjectEnd int) (name string, confidence float64, evidence []string, fallback bool) {
	sc := c.scoring
	scores, found := c.scoreIntents(s, subjectEnd)
	best, second := -1, -1
	for i, v := range scores {
		switch {
		case v <= 0:
		case best < 0 || v > scores[best]:
			best, second = i, best
		case second < 0 || v > scores[second]:
			second = i
		}
	}
	var s1, s2 float64
	if best >= 0 {
		s1 = scores[best]
	}
	if second >= 0 {
		s2 = scores[second]
	}
	if s1 < sc.MinScore {
		// The fallback's own phrases, if any, are still its evidence.
		return c.intentNames[c.fallback], round3(sc.FallbackConfidence * (1 - s1/(2*sc.MinScore))), evidenceOf(found, c.fallback), true
	}
	conf := (1 - math.Exp(-s1/sc.ConfidenceScale)) * (0.5 + 0.5*(s1-s2)/s1)
	evidence = evidenceOf(found, best)
	if len(s.post) > 0 && s.post[best] >= 0.5 && len(evidence) < maxEvidence {
		evidence = append(evidence, fmt.Sprintf("similar tickets: %.2f", s.post[best]))
	}
	return c.intentNames[best], round3(conf), evidence, false
}

// evidenceOf returns the phrases of one intent from found, which
// scoreIntents sorted strongest first, or nil.
func evidenceOf(found []scored, intent int) []string {
	var out []string
	for _, f := range found {
		if f.intent == intent && len(out) < maxEvidence {
			out = append(out, f.phrase)
		}
	}
	return out
}

// round3 rounds a confidence to three decimals: more digits are noise to a
// reader and churn in stored records.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
