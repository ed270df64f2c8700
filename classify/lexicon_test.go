package classify

import (
	"math"
	"slices"
	"strings"
	"testing"

	enricher "github.com/ticket-enricher/enricher"
)

func TestParseExamples(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Example
		wantErr string
	}{
		{"example line", `{"id":"E-1","subject":"S","body":"B","intent":"bug_report","urgency":"low","priority":"P3"}`,
			[]Example{{ID: "E-1", Subject: "S", Body: "B", Intent: "bug_report", Urgency: "low", Priority: "P3"}}, ""},
		{"labeled ticket", `{"ticket_id":"T-9","subject":"","body":"B","priority":"high","expected":{"intent":"login_issue","urgency":"high"}}`,
			[]Example{{ID: "T-9", Body: "B", Intent: "login_issue", Urgency: "high", Priority: "high"}}, ""},
		{"blank lines skipped", "\n" + `{"body":"B","intent":"bug_report"}` + "\n\n",
			[]Example{{Body: "B", Intent: "bug_report"}}, ""},
		{"bad JSON", `{"body":"B","intent":"bug_report"}` + "\n{oops", nil, "line 2"},
		{"no intent", `{"body":"B"}`, nil, "line 1: an example needs an intent"},
		{"no text", `{"intent":"bug_report"}`, nil, "needs an intent and a subject or body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExamples([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || enricher.ErrorCode(err) != enricher.EINVALID {
					t.Fatalf("got error %v, want an EINVALID error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDefaultExamples(t *testing.T) {
	ex, err := DefaultExamples()
	if err != nil {
		t.Fatalf("DefaultExamples: %v", err)
	}
	tax, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	perIntent := map[string]int{}
	withUrgency := 0
	for _, e := range ex {
		perIntent[e.Intent]++
		if e.Urgency != "" {
			withUrgency++
		}
	}
	for _, in := range tax.Intents {
		if perIntent[in.Name] < 20 {
			t.Errorf("intent %s: got %d examples, want at least 20", in.Name, perIntent[in.Name])
		}
	}
	if len(perIntent) != len(tax.Intents) {
		t.Errorf("got examples of %d intents, want exactly the taxonomy's %d", len(perIntent), len(tax.Intents))
	}
	if withUrgency < 400 {
		t.Errorf("got %d examples with an urgency, want at least 400 (the labeled and synthetic-b sets)", withUrgency)
	}
}

// testLexicon learns a two-class lexicon from a few examples.
func testLexicon(t *testing.T, temp float64) *lexicon {
	t.Helper()
	ex := []Example{
		{Body: "please refund the invoice", Intent: "payment_issue"},
		{Body: "the invoice amount is wrong, refund it", Intent: "payment_issue"},
		{Body: "the app crashes with an error", Intent: "bug_report"},
		{Body: "error on save, the editor crashes", Intent: "bug_report"},
	}
	lx, err := newLexicon(tokenizer{}, map[string]int{"payment_issue": 0, "bug_report": 1}, ex, 0.5, temp)
	if err != nil {
		t.Fatalf("newLexicon: %v", err)
	}
	return lx
}

func TestLexicon_posterior(t *testing.T) {
	tests := []struct {
		text string
		want int // the class that must win
	}{
		{"Refund this invoice please", 0},
		{"It crashes: error", 1},
		{"the invoice editor crashes with an error", 1},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			lx := testLexicon(t, 1)
			feats := lx.features(nil, tokenizer{}.tokens(nil, tt.text), false)
			post := make([]float64, 2)
			lx.posterior(post, feats)
			if math.Abs(post[0]+post[1]-1) > 1e-9 {
				t.Errorf("got posteriors summing to %v, want 1", post[0]+post[1])
			}
			if post[tt.want] <= 0.5 {
				t.Errorf("got P(class %d) = %.3f, want > 0.5", tt.want, post[tt.want])
			}
			// A higher temperature keeps the winner but softens it.
			soft := testLexicon(t, 5)
			sp := make([]float64, 2)
			soft.posterior(sp, feats)
			if sp[tt.want] <= 0.5 || sp[tt.want] >= post[tt.want] {
				t.Errorf("temperature 5: got P = %.3f, want in (0.5, %.3f)", sp[tt.want], post[tt.want])
			}
		})
	}
	t.Run("unknown words have no features", func(t *testing.T) {
		lx := testLexicon(t, 1)
		if got := lx.features(nil, tokenizer{}.tokens(nil, "zebra giraffe"), false); len(got) != 0 {
			t.Errorf("got features %v, want none", got)
		}
	})
}

func TestNewWithExamples(t *testing.T) {
	tax, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ex      []Example
		wantErr string
	}{
		{"unknown intent", []Example{{Body: "b", Intent: "billing"}}, `intent "billing" is not one of the intents`},
		{"unknown urgency", []Example{{Body: "b", Intent: "bug_report", Urgency: "urgent"}}, `urgency "urgent" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWithExamples(tax, tt.ex)
			if err == nil || enricher.ErrorCode(err) != enricher.EINVALID || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an EINVALID error containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("examples are part of the version", func(t *testing.T) {
		ex := []Example{{Body: "the app crashes", Intent: "bug_report", Urgency: "medium"}}
		a, err := NewWithExamples(tax, ex)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewWithExamples(tax, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.Version() == b.Version() {
			t.Errorf("got the same version %q with and without examples, want different", a.Version())
		}
	})
}

// TestClassifier_Classify_lexicon checks that the lexicons decide what the
// keyword phrases cannot see, and that caps still bound them. The made-up
// words ("florp", "zindle") match no phrase, so only examples can teach
// them.
func TestClassifier_Classify_lexicon(t *testing.T) {
	tax, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var ex []Example
	for range 5 {
		ex = append(ex,
			Example{Subject: "florp", Body: "the florp thing florps", Intent: "feature_request", Urgency: "low"},
			Example{Subject: "zindle", Body: "the zindle went wobbly again", Intent: "bug_report", Urgency: "critical"},
			Example{Subject: "hello", Body: "a note", Intent: "general_inquiry", Urgency: "medium"},
		)
	}
	with, err := NewWithExamples(tax, ex)
	if err != nil {
		t.Fatal(err)
	}
	without, err := NewWithExamples(tax, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		c             *Classifier
		subject, body string
		wantIntent    string
		wantUrgency   enricher.Urgency
		wantEvidence  string // a prefix one urgency evidence entry must have
	}{
		{"keywords alone fall back", without, "florp", "the florp thing", "general_inquiry", enricher.Medium, "intent:"},
		{"lexicon knows the words", with, "florp", "the florp thing", "feature_request", enricher.Low, ""},
		{"urgency lexicon raises", with, "zindle", "the zindle went wobbly", "bug_report", enricher.Critical, "similar tickets: critical"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(t, tt.c, tt.subject, tt.body, "")
			if got.Intent != tt.wantIntent || got.Urgency != tt.wantUrgency {
				t.Fatalf("got %s/%s (evidence %q / %q), want %s/%s", got.Intent, got.Urgency,
					got.IntentEvidence, got.UrgencyEvidence, tt.wantIntent, tt.wantUrgency)
			}
			if tt.wantEvidence != "" && !slices.ContainsFunc(got.UrgencyEvidence, func(e string) bool { return strings.HasPrefix(e, tt.wantEvidence) }) {
				t.Errorf("urgency evidence: got %q, want an entry starting with %q", got.UrgencyEvidence, tt.wantEvidence)
			}
			if got.UrgencyConfidence <= 0 || got.UrgencyConfidence > 1 {
				t.Errorf("urgency confidence: got %v, want in (0,1]", got.UrgencyConfidence)
			}
		})
	}
	t.Run("caps bound the urgency lexicon", func(t *testing.T) {
		var wish []Example
		for range 5 {
			wish = append(wish,
				Example{Subject: "florp", Body: "please add florp", Intent: "feature_request", Urgency: "critical"},
				Example{Subject: "hello", Body: "a note about colours", Intent: "general_inquiry", Urgency: "low"},
				Example{Subject: "zindle", Body: "the zindle went wobbly", Intent: "bug_report", Urgency: "medium"},
			)
		}
		c, err := NewWithExamples(tax, wish)
		if err != nil {
			t.Fatal(err)
		}
		got := classify(t, c, "florp", "Please add florp, it would be nice.", "")
		if got.Intent != "feature_request" || got.Urgency != enricher.Medium {
			t.Errorf("got %s/%s (evidence %q), want feature_request/medium (the cap)", got.Intent, got.Urgency, got.UrgencyEvidence)
		}
	})
}
