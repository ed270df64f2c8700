package classify

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strings"

	enricher "github.com/ticket-enricher/enricher"
)

// defaultTaxonomy is the taxonomy of DESIGN.md §2.4 with its keywords. It is
// data, not code, so that support teams can tune vocabulary without a
// release: LoadTaxonomy reads a replacement with the same schema.
//
//go:embed taxonomy.json
var defaultTaxonomy []byte

// Taxonomy is the data the classifier runs on: the intents and their
// weighted keyword phrases, negation vocabulary, urgency signals and the
// numbers that turn matches into decisions and confidences. Its JSON form is
// the taxonomy file (taxonomy.json is the default; the field comments below
// say what each member means). Build one with Default, LoadTaxonomy or
// ParseTaxonomy, which validate it; New compiles it. Changing a Taxonomy
// after New has no effect on that Classifier.
type Taxonomy struct {
	// Name identifies the vocabulary in logs; it is not part of the version.
	Name string `json:"name"`
	// Description documents the file for the people who edit it.
	Description string `json:"description,omitempty"`
	// Fallback is the intent reported when no intent scores MinScore,
	// general_inquiry by default. It must be one of Intents and may have no
	// keywords of its own.
	Fallback string        `json:"fallback_intent"`
	Scoring  IntentScoring `json:"intent_scoring"`
	Negation Negation      `json:"negation"`
	Intents  []Intent      `json:"intents"`
	Urgency  UrgencyRules  `json:"urgency"`

	// raw is the file the taxonomy came from; its hash is the version.
	raw []byte
}

// IntentScoring holds the numbers that turn keyword matches into an intent
// and a confidence; see Classifier.Classify for the formula.
type IntentScoring struct {
	// SubjectBoost multiplies the weight of a phrase found in the subject,
	// which is the writer's own one-line summary.
	SubjectBoost float64 `json:"subject_boost"`
	// RepeatWeight is the share of a phrase's weight that each repeated
	// occurrence adds (up to MaxRepeats of them): a topic the writer keeps
	// coming back to is central, but one word said five times is not five
	// pieces of evidence.
	RepeatWeight float64 `json:"repeat_weight"`
	MaxRepeats   int     `json:"max_repeats"`
	// Decay discounts the weaker phrases of an intent: the k-th strongest
	// phrase counts Decay^k of its weight (1 is a plain sum).
	Decay float64 `json:"decay"`
	// AskBoost multiplies the weight of a phrase in a body sentence that
	// states the customer's ask: a question, or a sentence with one of
	// AskCues ("please", "can you", "I need", "how do I"). Intent follows
	// the ask, not the background story around it. 0 means 1 (off).
	AskBoost float64  `json:"ask_boost,omitempty"`
	AskCues  []string `json:"ask_cues,omitempty"`
	// ContrastDiscount multiplies the weight of a phrase that comes before
	// one of ContrastCues ("but", "however") in its sentence: "billing is
	// fine, but the export fails" is about the export. 0 means 1 (off).
	ContrastDiscount float64  `json:"contrast_discount,omitempty"`
	ContrastCues     []string `json:"contrast_cues,omitempty"`
	// LexiconWeight is the score that the lexicon learned from examples
	// adds to an intent it is sure of: each intent gets LexiconWeight times
	// its tempered naive Bayes posterior (see Classifier.Classify). About a
	// strong keyword phrase's weight, so that the lexicon decides between
	// close keyword scores and fills in where no phrase matched, but does not
	// overturn a decisive phrase. 0 turns the lexicon off.
	LexiconWeight float64 `json:"lexicon_weight,omitempty"`
	// LexiconTemperature divides the naive Bayes log-likelihoods before the
	// softmax; above 1 it softens the overconfidence that comes from
	// counting correlated words as independent evidence.
	LexiconTemperature float64 `json:"lexicon_temperature,omitempty"`
	// LexiconSmoothing is the additive (Laplace) smoothing of the feature
	// counts: an unseen word costs an intent a little, not everything.
	LexiconSmoothing float64 `json:"lexicon_smoothing,omitempty"`
	// MinScore is the score an intent needs to be chosen over Fallback.
	MinScore float64 `json:"min_score"`
	// ConfidenceScale is the score at which the evidence term of the
	// confidence reaches 1-1/e (63%).
	ConfidenceScale float64 `json:"confidence_scale"`
	// FallbackConfidence is the confidence of Fallback when nothing scored.
	FallbackConfidence float64 `json:"fallback_confidence"`
}

// Negation is the vocabulary that cancels evidence: "no problem with
// billing" is not about billing, and "isn't urgent" is not urgent. A cue
// opens a scope of Scope tokens that ends early at clause punctuation or a
// Terminator ("but", "however"). Verbal negations ("can't", "doesn't",
// "isn't") negate an action, not a topic: "can't log in" is about logging
// in, so they open a scope for urgency signals only. Pseudo phrases look
// like cues but negate nothing ("no longer", "no one"). At each position
// the longest phrase of the four lists wins.
type Negation struct {
	Scope       int      `json:"scope"`
	Cues        []string `json:"cues"`
	Verbal      []string `json:"verbal"`
	Pseudo      []string `json:"pseudo"`
	Terminators []string `json:"terminators"`
}

// Intent is one class of the taxonomy with its keyword phrases, grouped by
// weight.
type Intent struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Keywords    []KeywordGroup `json:"keywords"`
}

// KeywordGroup is a set of phrases with the same weight. A phrase matches
// whole words after normalization (lower case, folded accents, expanded
// contractions, light stemming), so "log in" matches "Logged in" but not
// "blog in", and one entry covers its inflections.
type KeywordGroup struct {
	Weight  float64  `json:"weight"`
	Phrases []string `json:"phrases"`
}

// UrgencyRules describes how the explicit priority P and the text combine
// into an urgency and its confidence.
//
// The text. Every urgency phrase outside a negation scope adds its weight
// to its level once (repeats add nothing). A negatable phrase inside a
// negation scope ("isn't urgent") counts as a calm signal, like "no rush":
// low evidence, except on a defect intent (DefectIntents) whose text is not
// trivial (its low signals such as "cosmetic" or "typo" sum below T.low),
// where it is medium evidence. With
// C, H, M, L the sums per level and T the thresholds, the text says
// critical if C >= T.critical and C >= max(M, L); else high if
// C+H >= T.high and C+H >= max(M, L); else low if L >= T.low and
// L > max(M, C+H); else medium if M >= T.medium and M >= L; else nothing,
// and the intent's default level stands in (feature requests low, security
// concerns high, ...). E is the evidence behind the text's level (C, C+H, L
// or M; 0 when it says nothing) and s = 1 - exp(-E/ConfidenceScale) its
// strength.
//
// The combination, and its confidence:
//   - no P: the text's level (confidence 0.3 + 0.55*s), or the intent's
//     default (0.3);
//   - P and the text agree, or the text says nothing: P (0.6 + 0.38*s);
//   - the text is more urgent than P by at least OverrideMargin levels, or
//     by one with E >= StrongEvidence: the text's level, since P is
//     clearly understated (an outage marked low) (0.35 + 0.4*s);
//   - the text says low or medium and P is higher by OverrideMargin levels,
//     or by one with E >= StrongEvidence: the text's level, since P is
//     clearly overstated (a typo marked critical) (0.35 + 0.4*s); a text
//     that says high never lowers a critical P, as keywords see less
//     impact than the writer knows;
//   - otherwise P, with doubt (0.6 - 0.25*s).
//
// Shouting (a subject in capitals, "!!") adds EmphasisWeight to H before
// all this. Then the intent's cap lowers the level (a pricing question is
// never critical), unless the intent is only the fallback (nothing is
// known about the ticket, so nothing caps it), and a floor phrase raises it (a compromised account is at least high), both
// named in the evidence.
type UrgencyRules struct {
	// Default is the text's level when it carries no urgency signal and the
	// intent has no entry in IntentDefaults.
	Default enricher.Urgency `json:"default"`
	// IntentDefaults gives the level a ticket of an intent usually has when
	// its text says nothing about urgency (feature requests are rarely
	// pressing, security concerns usually are).
	IntentDefaults map[string]enricher.Urgency `json:"intent_defaults"`
	// IntentCaps bounds the urgency of intents that are not pressing by
	// nature however they are labeled (a question about pricing marked
	// "urgent" is still a question).
	IntentCaps map[string]enricher.Urgency `json:"intent_caps"`
	// Signals are phrases that point at a level; negated critical or high
	// signals ("nothing is down") count for low.
	Signals []UrgencySignal `json:"signals"`
	// DefectIntents are the intents where something is broken. On them a
	// calm signal ("no rush") means medium rather than low, unless a trivial
	// one ("cosmetic", "typo") is present too: a defect nobody is in a hurry
	// about still needs fixing.
	DefectIntents []string `json:"defect_intents"`
	// Floors are phrases that set a minimum level whatever the priority
	// says: security incidents and outages are never low.
	Floors []UrgencyFloor `json:"floors"`
	// EmphasisWeight is the high evidence that shouting adds: a subject in
	// capitals, or repeated exclamation marks ("!!"), which tokenization
	// otherwise loses. 0 turns it off.
	EmphasisWeight float64 `json:"emphasis_weight"`
	// Thresholds is the evidence a level needs from the text (keys critical,
	// high, medium, low).
	Thresholds map[enricher.Urgency]float64 `json:"thresholds"`
	// LexiconTemperature and LexiconSmoothing configure the urgency
	// lexicon learned from examples (see IntentScoring for their meaning);
	// a temperature of 0 turns it off.
	LexiconTemperature float64 `json:"lexicon_temperature,omitempty"`
	LexiconSmoothing   float64 `json:"lexicon_smoothing,omitempty"`
	// OverrideMargin is how many levels the text must differ from the
	// explicit priority before it replaces it; StrongEvidence is the
	// evidence at which a one-level difference is enough.
	OverrideMargin int     `json:"override_margin"`
	StrongEvidence float64 `json:"strong_evidence"`
	// ConfidenceScale is the evidence at which the text term of the urgency
	// confidence reaches 63%.
	ConfidenceScale float64 `json:"confidence_scale"`
}

// UrgencySignal is a group of phrases that point at one level with a
// weight. Calm marks low signals that only say there is no time pressure
// ("no rush", "whenever you have a moment"), as opposed to the ones that say
// the matter is trivial ("typo", "cosmetic"); see DefectIntents. Negatable
// marks signals whose negation is a calm signal ("not urgent", "nothing
// critical"); other negated signals are ignored ("nothing shipped this
// morning" says nothing about urgency).
type UrgencySignal struct {
	Level     enricher.Urgency `json:"level"`
	Weight    float64          `json:"weight"`
	Calm      bool             `json:"calm,omitempty"`
	Negatable bool             `json:"negatable,omitempty"`
	Phrases   []string         `json:"phrases"`
}

// UrgencyFloor is a group of phrases that make Level the least urgency a
// ticket can get.
type UrgencyFloor struct {
	Level   enricher.Urgency `json:"level"`
	Phrases []string         `json:"phrases"`
}

// Default returns the taxonomy embedded in the binary (DESIGN.md §2.4).
func Default() (*Taxonomy, error) {
	t, err := ParseTaxonomy(defaultTaxonomy)
	if err != nil {
		return nil, fmt.Errorf("parse embedded taxonomy: %w", err)
	}
	return t, nil
}

// LoadTaxonomy reads a taxonomy file that replaces the embedded one. Errors
// name the file and the problem.
func LoadTaxonomy(path string) (*Taxonomy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, enricher.Errorf(enricher.ENOTFOUND, "load taxonomy %s: %w", path, err)
		}
		return nil, fmt.Errorf("load taxonomy %s: %w", path, err)
	}
	t, err := ParseTaxonomy(data)
	if err != nil {
		return nil, fmt.Errorf("load taxonomy %s: %w", path, err)
	}
	return t, nil
}

// ParseTaxonomy decodes and validates a taxonomy. Decoding is strict
// (unknown fields and trailing data are errors) because a misspelled field
// in a hand-edited file would otherwise silently fall back to zero. The
// error is an *enricher.Error with code EINVALID whose message names the
// field, the intent and the phrase at fault.
func ParseTaxonomy(data []byte) (*Taxonomy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t Taxonomy
	if err := dec.Decode(&t); err != nil {
		return nil, enricher.Errorf(enricher.EINVALID, "invalid taxonomy: %s", jsonError(data, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, enricher.Errorf(enricher.EINVALID, "invalid taxonomy: unexpected data after the JSON object")
	}
	if err := t.validate(); err != nil {
		return nil, enricher.Errorf(enricher.EINVALID, "invalid taxonomy: %s", err)
	}
	t.raw = bytes.Clone(data)
	return &t, nil
}

// jsonError describes a decoding error with the line it happened on, which
// encoding/json only gives as a byte offset.
func jsonError(data []byte, err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("line %d: %s", lineOf(data, syn.Offset), syn.Error())
	case errors.As(err, &typ):
		return fmt.Sprintf("line %d: field %q must be %s, got JSON %s", lineOf(data, typ.Offset), typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return "empty file"
	}
	return err.Error()
}

func lineOf(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

var intentNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// maxWeight bounds weights so that one phrase cannot drown all the others
// by a typo (30 instead of 3.0).
const maxWeight = 10

func (t *Taxonomy) validate() error {
	if len(t.Intents) == 0 {
		return errors.New("intents: at least one intent is required")
	}
	names := map[string]int{}
	for i, in := range t.Intents {
		if !intentNamePattern.MatchString(in.Name) {
			return fmt.Errorf("intents[%d]: name %q must match %s", i, in.Name, intentNamePattern)
		}
		if j, dup := names[in.Name]; dup {
			return fmt.Errorf("intent %q: defined twice (intents[%d] and intents[%d])", in.Name, j, i)
		}
		names[in.Name] = i
	}
	if t.Fallback == "" {
		return errors.New("fallback_intent: is required (the intent reported when nothing matches)")
	}
	if _, ok := names[t.Fallback]; !ok {
		return fmt.Errorf("fallback_intent: %q is not one of the intents", t.Fallback)
	}
	for _, in := range t.Intents {
		if err := in.validate(in.Name == t.Fallback); err != nil {
			return fmt.Errorf("intent %q: %w", in.Name, err)
		}
	}
	if err := t.Scoring.validate(); err != nil {
		return fmt.Errorf("intent_scoring: %w", err)
	}
	if err := t.Negation.validate(); err != nil {
		return fmt.Errorf("negation: %w", err)
	}
	if err := t.Urgency.validate(names); err != nil {
		return fmt.Errorf("urgency: %w", err)
	}
	return nil
}

func (in Intent) validate(fallback bool) error {
	seen := map[string]string{}
	for g, grp := range in.Keywords {
		where := fmt.Sprintf("keywords[%d]", g)
		if err := checkPhrases(where, grp.Weight, grp.Phrases, seen); err != nil {
			return err
		}
	}
	if len(seen) == 0 && !fallback {
		return errors.New("keywords must not be empty (only the fallback intent may have none)")
	}
	return nil
}

func checkWeight(w float64) error {
	if math.IsNaN(w) || w <= 0 || w > maxWeight {
		return fmt.Errorf("weight must be in (0, %d], got %v", maxWeight, w)
	}
	return nil
}

// phraseKey normalizes a phrase as text is normalized and rejects phrases
// that could never match: empty ones and ones that span a clause boundary.
func phraseKey(p string) (string, error) {
	toks := tokenizer{}.phraseTokens(p)
	if len(toks) == 0 {
		return "", fmt.Errorf("phrase %q has no words", p)
	}
	for _, tok := range toks {
		if isBoundary(tok) {
			return "", fmt.Errorf("phrase %q contains punctuation that ends a clause (, . ; : ! ? or a line break), so it could never match", p)
		}
	}
	return joinTokens(toks), nil
}

// keywordKey is phraseKey for keyword phrases, which must leave out the
// articles and possessives that matching skips: a phrase "cancel my
// subscription" would miss "cancel our subscription", while "cancel
// subscription" matches both.
func keywordKey(p string) (string, error) {
	key, err := phraseKey(p)
	if err != nil {
		return "", err
	}
	for i, t := range strings.Fields(key) {
		if i > 0 && skippable[t] {
			return "", fmt.Errorf("phrase %q: leave out %q (articles and possessives are optional in matching, so \"cancel subscription\" also matches \"cancel my subscription\")", p, t)
		}
	}
	return key, nil
}

func joinTokens(toks []string) string {
	var b bytes.Buffer
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}

func (s IntentScoring) validate() error {
	switch {
	case !inRange(s.SubjectBoost, 0, 10) || s.SubjectBoost == 0:
		return fmt.Errorf("subject_boost must be in (0, 10], got %v", s.SubjectBoost)
	case !inRange(s.RepeatWeight, 0, 1):
		return fmt.Errorf("repeat_weight must be in [0, 1], got %v", s.RepeatWeight)
	case !inRange(s.Decay, 0, 1) || s.Decay == 0:
		return fmt.Errorf("decay must be in (0, 1], got %v", s.Decay)
	case s.MaxRepeats < 0 || s.MaxRepeats > 100:
		return fmt.Errorf("max_repeats must be in [0, 100], got %d", s.MaxRepeats)
	case !inRange(s.MinScore, 0, 100) || s.MinScore == 0:
		return fmt.Errorf("min_score must be in (0, 100], got %v", s.MinScore)
	case !inRange(s.ConfidenceScale, 0, 100) || s.ConfidenceScale == 0:
		return fmt.Errorf("confidence_scale must be in (0, 100], got %v", s.ConfidenceScale)
	case !inRange(s.FallbackConfidence, 0, 1):
		return fmt.Errorf("fallback_confidence must be in [0, 1], got %v", s.FallbackConfidence)
	case !inRange(s.AskBoost, 0, 10):
		return fmt.Errorf("ask_boost must be in [0, 10], got %v", s.AskBoost)
	case !inRange(s.ContrastDiscount, 0, 1):
		return fmt.Errorf("contrast_discount must be in [0, 1], got %v", s.ContrastDiscount)
	case !inRange(s.LexiconWeight, 0, maxWeight):
		return fmt.Errorf("lexicon_weight must be in [0, %d], got %v", maxWeight, s.LexiconWeight)
	case s.LexiconWeight > 0 && (!inRange(s.LexiconTemperature, 0, 100) || s.LexiconTemperature == 0):
		return fmt.Errorf("lexicon_temperature must be in (0, 100] when lexicon_weight is set, got %v", s.LexiconTemperature)
	case s.LexiconWeight > 0 && (!inRange(s.LexiconSmoothing, 0, 10) || s.LexiconSmoothing == 0):
		return fmt.Errorf("lexicon_smoothing must be in (0, 10] when lexicon_weight is set, got %v", s.LexiconSmoothing)
	}
	for _, l := range []struct {
		field   string
		phrases []string
	}{{"ask_cues", s.AskCues}, {"contrast_cues", s.ContrastCues}} {
		for _, p := range l.phrases {
			if _, err := phraseKey(p); err != nil {
				return fmt.Errorf("%s: %w", l.field, err)
			}
		}
	}
	return nil
}

func inRange(v, lo, hi float64) bool { return !math.IsNaN(v) && v >= lo && v <= hi }

func (n Negation) validate() error {
	if n.Scope < 0 || n.Scope > 20 {
		return fmt.Errorf("scope must be in [0, 20] tokens, got %d", n.Scope)
	}
	for _, l := range []struct {
		field   string
		phrases []string
	}{{"cues", n.Cues}, {"verbal", n.Verbal}, {"pseudo", n.Pseudo}, {"terminators", n.Terminators}} {
		for _, p := range l.phrases {
			if _, err := phraseKey(p); err != nil {
				return fmt.Errorf("%s: %w", l.field, err)
			}
		}
	}
	return nil
}

func (u UrgencyRules) validate(intents map[string]int) error {
	level := func(field string, l enricher.Urgency) error {
		if l.Rank() < 0 {
			return fmt.Errorf("%s: level %q must be one of critical, high, medium, low", field, l)
		}
		return nil
	}
	if err := level("default", u.Default); err != nil {
		return err
	}
	for _, m := range []struct {
		field string
		m     map[string]enricher.Urgency
	}{{"intent_defaults", u.IntentDefaults}, {"intent_caps", u.IntentCaps}} {
		for name, l := range m.m {
			if _, ok := intents[name]; !ok {
				return fmt.Errorf("%s: %q is not one of the intents", m.field, name)
			}
			if err := level(fmt.Sprintf("%s[%q]", m.field, name), l); err != nil {
				return err
			}
		}
	}
	for _, name := range u.DefectIntents {
		if _, ok := intents[name]; !ok {
			return fmt.Errorf("defect_intents: %q is not one of the intents", name)
		}
	}
	seen := map[string]string{}
	for i, s := range u.Signals {
		where := fmt.Sprintf("signals[%d]", i)
		if err := level(where, s.Level); err != nil {
			return err
		}
		if s.Calm && s.Level != enricher.Low {
			return fmt.Errorf("%s: calm applies only to level low, got %q", where, s.Level)
		}
		if s.Negatable && s.Level != enricher.Critical && s.Level != enricher.High {
			return fmt.Errorf("%s: negatable applies only to levels critical and high, got %q", where, s.Level)
		}
		if err := checkPhrases(where, s.Weight, s.Phrases, seen); err != nil {
			return err
		}
	}
	for i, f := range u.Floors {
		where := fmt.Sprintf("floors[%d]", i)
		if err := level(where, f.Level); err != nil {
			return err
		}
		for _, p := range f.Phrases {
			if _, err := keywordKey(p); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	for _, l := range enricher.Urgencies() {
		v, ok := u.Thresholds[l]
		if !ok || !inRange(v, 0, 100) || v == 0 {
			return fmt.Errorf("thresholds[%q]: must be given, in (0, 100], got %v", l, v)
		}
	}
	for l := range u.Thresholds {
		if err := level("thresholds", l); err != nil {
			return err
		}
	}
	switch {
	case !inRange(u.LexiconTemperature, 0, 100):
		return fmt.Errorf("lexicon_temperature must be in [0, 100], got %v", u.LexiconTemperature)
	case u.LexiconTemperature > 0 && (!inRange(u.LexiconSmoothing, 0, 10) || u.LexiconSmoothing == 0):
		return fmt.Errorf("lexicon_smoothing must be in (0, 10] when lexicon_temperature is set, got %v", u.LexiconSmoothing)
	case !inRange(u.EmphasisWeight, 0, maxWeight):
		return fmt.Errorf("emphasis_weight must be in [0, %d], got %v", maxWeight, u.EmphasisWeight)
	case u.OverrideMargin < 1 || u.OverrideMargin > 3:
		return fmt.Errorf("override_margin must be 1, 2 or 3 levels, got %d", u.OverrideMargin)
	case !inRange(u.StrongEvidence, 0, 100) || u.StrongEvidence == 0:
		return fmt.Errorf("strong_evidence must be in (0, 100], got %v", u.StrongEvidence)
	case !inRange(u.ConfidenceScale, 0, 100) || u.ConfidenceScale == 0:
		return fmt.Errorf("confidence_scale must be in (0, 100], got %v", u.ConfidenceScale)
	}
	return nil
}

// checkPhrases validates one weighted group of phrases. seen maps each
// phrase's normalized words to its first spelling across the groups that
// share it: one phrase, one meaning, since a phrase listed twice would
// count twice.
func checkPhrases(where string, weight float64, phrases []string, seen map[string]string) error {
	if err := checkWeight(weight); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if len(phrases) == 0 {
		return fmt.Errorf("%s: phrases must not be empty", where)
	}
	for _, p := range phrases {
		key, err := keywordKey(p)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if prev, dup := seen[key]; dup {
			return fmt.Errorf("%s: phrase %q duplicates %q (same words after normalization)", where, p, prev)
		}
		seen[key] = p
	}
	return nil
}
