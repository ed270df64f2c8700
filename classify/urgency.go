package classify

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"

	enricher "github.com/ticket-enricher/enricher"
)

// urgencyModel is the compiled urgency part of a taxonomy. It copies what
// it needs, so that changing the Taxonomy after New changes nothing here.
type urgencyModel struct {
	thresholds      [4]float64 // by Rank
	overrideMargin  int
	strongEvidence  float64
	confidenceScale float64
	emphasisWeight  float64

	dict    *trie
	phrases []urgencyPhrase
	// defaults and caps are indexed like the taxonomy's intents; "" means
	// none.
	intentIndex map[string]int
	defaults    []enricher.Urgency
	caps        []enricher.Urgency
	defect      []bool

	// lex, if set, re-decides the level from the rules' verdict, the
	// priority, the intent and the words (see classify); classes are
	// ranks. The feature ids of the verdict, the priority (by rank + 1, 0
	// for none) and the intent are resolved once; -1 means never seen.
	lex        *lexicon
	ruleFeat   [4]int32
	textFeat   [5]int32
	prioFeat   [5]int32
	intentFeat []int32
}

// The extra lexicon features of the urgency model. '#' never survives
// tokenization, so they cannot collide with a word.
func ruleKey(l enricher.Urgency) string { return "#rule:" + string(l) }
func prioKey(l enricher.Urgency) string { return "#priority:" + string(l) }
func textKey(l enricher.Urgency) string { return "#text:" + string(l) }
func intentKey(in string) string        { return "#intent:" + in }

// urgencyPhrase is everything one phrase says about urgency: the signals it
// is part of, and the floor it sets.
type urgencyPhrase struct {
	text    string
	signals []urgencySignal
	floor   enricher.Urgency
}

type urgencySignal struct {
	level     enricher.Urgency
	weight    float64
	calm      bool
	negatable bool
}

func newUrgencyModel(tax *Taxonomy, tok tokenizer, intents []string) *urgencyModel {
	r := tax.Urgency
	u := &urgencyModel{
		overrideMargin:  r.OverrideMargin,
		strongEvidence:  r.StrongEvidence,
		confidenceScale: r.ConfidenceScale,
		emphasisWeight:  r.EmphasisWeight,
		dict:            newTrie(),
		intentIndex:     map[string]int{},
		defaults:        make([]enricher.Urgency, len(intents)),
		caps:            make([]enricher.Urgency, len(intents)),
		defect:          make([]bool, len(intents)),
	}
	for _, l := range enricher.Urgencies() {
		u.thresholds[l.Rank()] = r.Thresholds[l]
	}
	for i, name := range intents {
		u.intentIndex[name] = i
		u.defaults[i] = tax.Urgency.Default
		if l, ok := tax.Urgency.IntentDefaults[name]; ok {
			u.defaults[i] = l
		}
		u.caps[i] = tax.Urgency.IntentCaps[name]
		u.defect[i] = slices.Contains(tax.Urgency.DefectIntents, name)
	}
	// phrase returns the index of p in u.phrases, adding it if new.
	phrase := func(p string) int32 {
		node := u.dict.insert(tok.phraseTokens(p))
		if node.payload < 0 {
			node.payload = int32(len(u.phrases))
			u.phrases = append(u.phrases, urgencyPhrase{text: p})
		}
		return node.payload
	}
	for _, s := range r.Signals {
		for _, p := range s.Phrases {
			ph := &u.phrases[phrase(p)]
			ph.signals = append(ph.signals, urgencySignal{level: s.Level, weight: s.Weight, calm: s.Calm, negatable: s.Negatable})
		}
	}
	for _, f := range r.Floors {
		for _, p := range f.Phrases {
			if ph := &u.phrases[phrase(p)]; f.Level.Rank() > ph.floor.Rank() {
				ph.floor = f.Level
			}
		}
	}
	return u
}

// urgencyResult is the outcome of urgencyModel.classify.
type urgencyResult struct {
	level      enricher.Urgency
	confidence float64
	evidence   []string
}

// textUrgency is what the text alone says.
type textUrgency struct {
	sum      [4]float64 // by Rank
	evidence [4][]string
	// calm signals are kept apart until the intent says whether they mean
	// low or medium.
	calm         float64
	calmEvidence []string
	trivial      bool
	floor        enricher.Urgency
	floorBy      string
	// level is what the text alone says, "" for nothing.
	level enricher.Urgency
}

// classify decides the urgency: the rules documented at UrgencyRules give
// a verdict, and then, if the model learned from examples, the urgency
// lexicon weighs that verdict together with the priority, the intent and
// the words, which catches the many ways of saying "the whole shop is
// stuck" or "just noticed this" that no signal list covers. The intent's cap
// and the text's floor bound the lexicon's level like the verdict's.
// recognized is false when the intent is only the fallback, which then caps
// nothing.
func (u *urgencyModel) classify(s *scratch, t enricher.Ticket, intent string, recognized bool) urgencyResult {
	r, text := u.rules(s, t, intent, recognized)
	if u.lex == nil {
		return r
	}
	s.feats = u.lex.features(s.feats[:0], s.toks, false)
	var post [4]float64
	in := u.intentIndex[intent]
	u.lex.posterior(post[:], s.feats, u.ruleFeat[r.level.Rank()], u.textFeat[text.level.Rank()+1], u.prioFeat[t.Priority.Rank()+1], u.intentFeat[in])
	best := 0
	for i := range post {
		if post[i] > post[best] {
			best = i
		}
	}
	level := enricher.Urgencies()[3-best]
	if level == r.level {
		r.confidence = round3(post[best])
		return r
	}
	lr := urgencyResult{level: level, confidence: round3(post[best])}
	if t.Priority != "" {
		lr.evidence = append(lr.evidence, "priority: "+t.PriorityRaw)
	}
	lr.evidence = append(lr.evidence, text.evidence[best]...)
	lr.evidence = lr.evidence[:min(len(lr.evidence), maxEvidence-1):min(len(lr.evidence), maxEvidence-1)]
	lr.evidence = append(lr.evidence, fmt.Sprintf("similar tickets: %s %.2f", level, post[best]))
	u.bound(&lr, text, intent, recognized)
	return lr
}

// bound applies the intent's cap and the text's floor to r.
func (u *urgencyModel) bound(r *urgencyResult, text textUrgency, intent string, recognized bool) {
	if c := u.caps[u.intentIndex[intent]]; c != "" && recognized && r.level.Rank() > c.Rank() {
		r.level = c
		r.evidence = append(r.evidence, "intent: "+intent+" (at most "+string(c)+")")
	}
	if text.floor != "" && r.level.Rank() < text.floor.Rank() {
		r.level = text.floor
		r.evidence = append(r.evidence, text.floorBy+" (at least "+string(text.floor)+")")
	}
}

// rules combines the explicit priority with the text by the rules
// documented at UrgencyRules, and returns what the text said too.
func (u *urgencyModel) rules(s *scratch, t enricher.Ticket, intent string, recognized bool) (urgencyResult, textUrgency) {
	in := u.intentIndex[intent]
	text := u.text(s)
	if w := u.emphasisWeight; w > 0 {
		if e := emphasis(t.Subject, t.Body); e != "" {
			text.sum[2] += w
			text.evidence[2] = append(text.evidence[2], e)
		}
	}
	calmTo := 0
	if u.defect[in] && !text.trivial {
		calmTo = 1
	}
	text.sum[calmTo] += text.calm
	text.evidence[calmTo] = append(text.evidence[calmTo], text.calmEvidence...)
	textLevel, E := u.textLevel(&text)
	text.level = textLevel
	strength := 1 - math.Exp(-E/u.confidenceScale)

	var r urgencyResult
	p := t.Priority
	diff := textLevel.Rank() - p.Rank()
	override := abs(diff) >= u.overrideMargin || E >= u.strongEvidence
	switch {
	case p == "" && E > 0:
		r.level, r.confidence = textLevel, 0.3+0.55*strength
		r.evidence = text.evidence[textLevel.Rank()]
	case p == "":
		r.level, r.confidence = u.defaults[in], 0.3
		r.evidence = []string{"intent: " + intent}
	case E == 0 || diff == 0:
		r.level, r.confidence = p, 0.6+0.38*strength
		r.evidence = append([]string{"priority: " + t.PriorityRaw}, text.evidence[p.Rank()]...)
	case override && (diff > 0 || textLevel.Rank() <= enricher.Medium.Rank()):
		r.level, r.confidence = textLevel, 0.35+0.4*strength
		r.evidence = append([]string{"priority: " + t.PriorityRaw + " (overridden by the text)"}, text.evidence[textLevel.Rank()]...)
	default:
		r.level, r.confidence = p, 0.6-0.25*strength
		r.evidence = []string{"priority: " + t.PriorityRaw}
	}
	// The reasons for a cap or a floor must survive the truncation.
	r.evidence = r.evidence[:min(len(r.evidence), maxEvidence):min(len(r.evidence), maxEvidence)]
	u.bound(&r, text, intent, recognized)
	r.confidence = round3(r.confidence)
	return r, text
}

// learn trains the urgency lexicon on the examples that carry an urgency:
// each one's words, the rules' verdict on it (with its labeled intent), its
// priority and its intent. c must be complete but for this step.
func (u *urgencyModel) learn(c *Classifier, ex []Example, alpha, temp float64) error {
	b := newLexiconBuilder(4)
	s := &scratch{}
	n := 0
	for k, e := range ex {
		if e.Urgency == "" {
			continue
		}
		level := enricher.Urgency(e.Urgency)
		if level.Rank() < 0 {
			return fmt.Errorf("example %d (%s): urgency %q is not one of critical, high, medium, low", k+1, e.ID, e.Urgency)
		}
		if _, ok := u.intentIndex[e.Intent]; !ok {
			return fmt.Errorf("example %d (%s): intent %q is not one of the intents", k+1, e.ID, e.Intent)
		}
		t := enricher.Ticket{Subject: e.Subject, Body: e.Body, PriorityRaw: e.Priority, Priority: enricher.NormalizePriority(e.Priority)}
		c.prepare(s, t)
		verdict, text := u.rules(s, t, e.Intent, true)
		b.add(level.Rank(), s.toks, ruleKey(verdict.level), textKey(text.level), prioKey(t.Priority), intentKey(e.Intent))
		n++
	}
	if n == 0 {
		return nil
	}
	u.lex = b.build(alpha, temp)
	for _, l := range enricher.Urgencies() {
		u.ruleFeat[l.Rank()] = u.lex.id(ruleKey(l), false)
		u.prioFeat[l.Rank()+1] = u.lex.id(prioKey(l), false)
		u.textFeat[l.Rank()+1] = u.lex.id(textKey(l), false)
	}
	u.prioFeat[0] = u.lex.id(prioKey(""), false)
	u.textFeat[0] = u.lex.id(textKey(""), false)
	u.intentFeat = make([]int32, len(u.defaults))
	for name, i := range u.intentIndex {
		u.intentFeat[i] = u.lex.id(intentKey(name), false)
	}
	return nil
}

// text sums the urgency signals of the tokens in s.
func (u *urgencyModel) text(s *scratch) textUrgency {
	var tu textUrgency
	s.matches = u.dict.scan(s.matches[:0], s.toks)
	var seen [64]int32 // the phrases counted so far; more than 64 is rare and only repeats
	nseen := 0
	for _, m := range s.matches {
		dup := false
		for _, p := range seen[:nseen] {
			if p == m.payload {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if nseen < len(seen) {
			seen[nseen] = m.payload
			nseen++
		}
		ph := &u.phrases[m.payload]
		negated := s.negU[m.start]
		for _, sig := range ph.signals {
			switch {
			case !negated && sig.calm:
				tu.calm += sig.weight
				tu.calmEvidence = append(tu.calmEvidence, ph.text)
			case !negated:
				tu.sum[sig.level.Rank()] += sig.weight
				tu.evidence[sig.level.Rank()] = append(tu.evidence[sig.level.Rank()], ph.text)
			case sig.negatable:
				tu.calm += sig.weight
				tu.calmEvidence = append(tu.calmEvidence, "not "+ph.text)
			}
		}
		if !negated && ph.floor.Rank() > tu.floor.Rank() {
			tu.floor, tu.floorBy = ph.floor, ph.text
		}
	}
	tu.trivial = tu.sum[0] >= u.thresholds[0]
	return tu
}

// textLevel decides what the text says; see classify.
func (u *urgencyModel) textLevel(tu *textUrgency) (enricher.Urgency, float64) {
	th := u.thresholds
	c, h, m, l := tu.sum[3], tu.sum[3]+tu.sum[2], tu.sum[1], tu.sum[0]
	switch {
	case c >= th[3] && c >= max(m, l):
		return enricher.Critical, c
	case h >= th[2] && h >= max(m, l):
		tu.evidence[2] = append(slices.Clone(tu.evidence[3]), tu.evidence[2]...)
		return enricher.High, h
	case l >= th[0] && l > max(m, h):
		return enricher.Low, l
	case m >= th[1] && m >= l:
		return enricher.Medium, m
	}
	return "", 0
}

// emphasis describes the shouting in a ticket ("emphasis: !!!" or
// "emphasis: capitals"), or returns "". A subject counts as capitals when it
// has at least 8 letters and 80% of them are upper case; exclamation marks
// count when two follow each other somewhere, which writers reserve for
// things that upset them.
func emphasis(subject, body string) string {
	if strings.Contains(subject, "!!") || strings.Contains(body, "!!") {
		return "emphasis: !!"
	}
	upper, letters := 0, 0
	for _, r := range subject {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters >= 8 && upper*5 >= letters*4 {
		return "emphasis: capitals"
	}
	return ""
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
