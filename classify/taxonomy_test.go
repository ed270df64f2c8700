package classify

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	enricher "github.com/ticket-enricher/enricher"
)

// minimalTaxonomy is a small valid taxonomy that the error cases break one
// field at a time.
const minimalTaxonomy = `{
  "name": "test",
  "fallback_intent": "other",
  "intent_scoring": {"subject_boost": 1.5, "repeat_weight": 0.3, "max_repeats": 2, "decay": 0.8, "min_score": 1,
    "confidence_scale": 4, "fallback_confidence": 0.4},
  "negation": {"scope": 4, "cues": ["no", "not"], "verbal": ["can not"], "pseudo": ["no longer"], "terminators": ["but"]},
  "intents": [
    {"name": "login_issue", "keywords": [{"weight": 3, "phrases": ["log in", "password"]}]},
    {"name": "payment_issue", "keywords": [{"weight": 3, "phrases": ["refund", "charged twice"]}, {"weight": 1, "phrases": ["card"]}]},
    {"name": "other", "keywords": []}
  ],
  "urgency": {
    "default": "medium",
    "intent_defaults": {"login_issue": "high"},
    "intent_caps": {"other": "medium"},
    "defect_intents": ["login_issue"],
    "signals": [
      {"level": "critical", "weight": 3, "phrases": ["outage"]},
      {"level": "critical", "weight": 2, "negatable": true, "phrases": ["urgent"]},
      {"level": "low", "weight": 3, "calm": true, "phrases": ["no rush"]},
      {"level": "low", "weight": 2, "phrases": ["typo"]}
    ],
    "floors": [{"level": "high", "phrases": ["hacked"]}],
    "emphasis_weight": 1,
    "thresholds": {"critical": 3, "high": 3, "medium": 2, "low": 2},
    "override_margin": 2,
    "strong_evidence": 6,
    "confidence_scale": 4
  }
}`

// mutate applies f to the decoded minimal taxonomy and returns it encoded.
func mutate(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(minimalTaxonomy), &m); err != nil {
		t.Fatalf("minimal taxonomy: %v", err)
	}
	f(m)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }
func intent(m map[string]any, i int) map[string]any   { return m["intents"].([]any)[i].(map[string]any) }
func group(m map[string]any, i, g int) map[string]any {
	return intent(m, i)["keywords"].([]any)[g].(map[string]any)
}

func TestParseTaxonomy(t *testing.T) {
	t.Run("minimal is valid", func(t *testing.T) {
		tax, err := ParseTaxonomy([]byte(minimalTaxonomy))
		if err != nil {
			t.Fatalf("got %v, want no error", err)
		}
		if len(tax.Intents) != 3 || tax.Fallback != "other" {
			t.Errorf("got %d intents and fallback %q, want 3 and other", len(tax.Intents), tax.Fallback)
		}
		if _, err := New(tax); err != nil {
			t.Errorf("New: got %v, want no error", err)
		}
	})
	tests := []struct {
		name    string
		data    func(t *testing.T) []byte
		wantErr string // a substring of the message
	}{
		{"not JSON", func(*testing.T) []byte { return []byte("{\n  \"name\": \"x\",\n  oops\n}") }, "line 3"},
		{"empty", func(*testing.T) []byte { return nil }, "empty file"},
		{"trailing data", func(*testing.T) []byte { return []byte(minimalTaxonomy + " {}") }, "after the JSON object"},
		{"unknown field", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { m["fallback"] = "other" })
		}, `unknown field "fallback"`},
		{"wrong type", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { group(m, 0, 0)["weight"] = "3" })
		}, "weight"},
		{"no intents", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { m["intents"] = []any{} })
		}, "at least one intent"},
		{"bad intent name", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { intent(m, 0)["name"] = "Login Issue" })
		}, `name "Login Issue"`},
		{"duplicate intent", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { intent(m, 1)["name"] = "login_issue" })
		}, `intent "login_issue": defined twice`},
		{"negative weight", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { group(m, 1, 1)["weight"] = -1 })
		}, `intent "payment_issue": keywords[1]: weight must be in (0, 10], got -1`},
		{"huge weight", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { group(m, 0, 0)["weight"] = 30 })
		}, "got 30"},
		{"empty phrase list", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { group(m, 0, 0)["phrases"] = []any{} })
		}, "phrases must not be empty"},
		{"phrase without words", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { group(m, 0, 0)["phrases"] = []any{"log in", "--"} })
		}, `phrase "--" has no words`},
		{"phrase across a clause", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { group(m, 0, 0)["phrases"] = []any{"log. in"} })
		}, "could never match"},
		{"phrase with a determiner", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { group(m, 0, 0)["phrases"] = []any{"reset my password"} })
		}, `leave out "my"`},
		{"duplicate phrase after normalization", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { group(m, 0, 0)["phrases"] = []any{"log in", "Logged in"} })
		}, `phrase "Logged in" duplicates "log in"`},
		{"intent without keywords", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { intent(m, 0)["keywords"] = []any{} })
		}, `intent "login_issue": keywords must not be empty`},
		{"ask boost out of range", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "intent_scoring")["ask_boost"] = 11 })
		}, "ask_boost must be in [0, 10], got 11"},
		{"contrast discount above 1", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "intent_scoring")["contrast_discount"] = 1.5 })
		}, "contrast_discount must be in [0, 1], got 1.5"},
		{"ask cue across a clause", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "intent_scoring")["ask_cues"] = []any{"can. you"} })
		}, "ask_cues: phrase"},
		{"lexicon without temperature", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) {
				obj(m, "intent_scoring")["lexicon_weight"] = 4
				obj(m, "intent_scoring")["lexicon_smoothing"] = 0.5
			})
		}, "lexicon_temperature must be in (0, 100]"},
		{"lexicon without smoothing", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) {
				obj(m, "intent_scoring")["lexicon_weight"] = 4
				obj(m, "intent_scoring")["lexicon_temperature"] = 6
			})
		}, "lexicon_smoothing must be in (0, 10]"},
		{"urgency lexicon without smoothing", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "urgency")["lexicon_temperature"] = 4 })
		}, "urgency: lexicon_smoothing must be in (0, 10]"},
		{"negative urgency lexicon temperature", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "urgency")["lexicon_temperature"] = -1 })
		}, "lexicon_temperature must be in [0, 100], got -1"},
		{"missing fallback", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { delete(m, "fallback_intent") })
		}, "fallback_intent: is required"},
		{"unknown fallback", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { m["fallback_intent"] = "general" })
		}, `fallback_intent: "general" is not one of the intents`},
		{"bad scoring", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "intent_scoring")["decay"] = 1.5 })
		}, "intent_scoring: decay must be in (0, 1]"},
		{"bad negation scope", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "negation")["scope"] = 50 })
		}, "negation: scope"},
		{"bad urgency level", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "urgency")["default"] = "urgent" })
		}, `urgency: default: level "urgent"`},
		{"urgency default for unknown intent", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) {
				obj(m, "urgency")["intent_defaults"] = map[string]any{"login": "high"}
			})
		}, `intent_defaults: "login" is not one of the intents`},
		{"calm on a high signal", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) {
				obj(m, "urgency")["signals"].([]any)[0].(map[string]any)["calm"] = true
			})
		}, "calm applies only to level low"},
		{"duplicate urgency phrase", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) {
				obj(m, "urgency")["signals"].([]any)[3].(map[string]any)["phrases"] = []any{"outages"}
			})
		}, `phrase "outages" duplicates "outage"`},
		{"missing threshold", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { delete(obj(obj(m, "urgency"), "thresholds"), "low") })
		}, `thresholds["low"]`},
		{"bad override margin", func(t *testing.T) []byte {
			return mutate(t, func(m map[string]any) { obj(m, "urgency")["override_margin"] = 0 })
		}, "override_margin must be 1, 2 or 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTaxonomy(tt.data(t))
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.wantErr)
			}
			if enricher.ErrorCode(err) != enricher.EINVALID {
				t.Errorf("code: got %s, want %s", enricher.ErrorCode(err), enricher.EINVALID)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	tax, err := Default()
	if err != nil {
		t.Fatalf("got %v, want the embedded taxonomy to load", err)
	}
	want := []string{"login_issue", "payment_issue", "bug_report", "feature_request", "account_management",
		"performance_issue", "security_concern", "data_request", "integration_help", "general_inquiry"}
	var got []string
	for _, in := range tax.Intents {
		got = append(got, in.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("intents: got %v, want %v (DESIGN.md §2.4)", got, want)
	}
	if tax.Fallback != "general_inquiry" {
		t.Errorf("fallback: got %q, want general_inquiry", tax.Fallback)
	}
}

func TestLoadTaxonomy(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(minimalTaxonomy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"intents": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("valid file", func(t *testing.T) {
		tax, err := LoadTaxonomy(good)
		if err != nil {
			t.Fatalf("got %v, want no error", err)
		}
		c, err := New(tax)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Classify(t.Context(), enricher.Ticket{ID: "T", Body: "I was charged twice, please refund."})
		if err != nil {
			t.Fatal(err)
		}
		if got.Intent != "payment_issue" {
			t.Errorf("intent with the replacement taxonomy: got %s, want payment_issue", got.Intent)
		}
		def := MustClassifier(t)
		if c.Version() == def.Version() {
			t.Errorf("version: got %s for both taxonomies, want them to differ", c.Version())
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadTaxonomy(filepath.Join(dir, "nope.json"))
		if enricher.ErrorCode(err) != enricher.ENOTFOUND || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want ENOTFOUND wrapping os.ErrNotExist", err)
		}
	})
	t.Run("invalid file names path and problem", func(t *testing.T) {
		_, err := LoadTaxonomy(bad)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "at least one intent") {
			t.Errorf("got %v, want an error naming %s and the problem", err, bad)
		}
		if enricher.ErrorCode(err) != enricher.EINVALID {
			t.Errorf("code: got %s, want %s", enricher.ErrorCode(err), enricher.EINVALID)
		}
	})
}
