package bart

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ticket-enricher/enricher/ml/tensor"
)

// genSetting is one line of testdata/generate_settings.jsonl, written by
// tools/bart_generate_golden.py: the generate() options of a setting for
// one model (null forced ids mean none).
type genSetting struct {
	Model               string  `json:"model"`
	Name                string  `json:"name"`
	NumBeams            int     `json:"num_beams"`
	MaxLength           int     `json:"max_length"`
	MinLength           int     `json:"min_length"`
	NoRepeatNgramSize   int     `json:"no_repeat_ngram_size"`
	LengthPenalty       float64 `json:"length_penalty"`
	EarlyStopping       bool    `json:"early_stopping"`
	EOSTokenID          int32   `json:"eos_token_id"`
	ForcedBOSTokenID    *int32  `json:"forced_bos_token_id"`
	ForcedEOSTokenID    *int32  `json:"forced_eos_token_id"`
	DecoderStartTokenID int32   `json:"decoder_start_token_id"`
	BOSTokenID          int32   `json:"bos_token_id"`
	PadTokenID          int32   `json:"pad_token_id"`
	DoSample            bool    `json:"do_sample"`
}

// options converts the setting to GenerateOptions.
func (s genSetting) options() GenerateOptions {
	orNone := func(p *int32) int32 {
		if p == nil {
			return noToken
		}
		return *p
	}
	return GenerateOptions{
		NumBeams: s.NumBeams, MaxLength: s.MaxLength, MinLength: s.MinLength,
		LengthPenalty: s.LengthPenalty, EarlyStopping: s.EarlyStopping, NoRepeatNgramSize: s.NoRepeatNgramSize,
		DecoderStartTokenID: s.DecoderStartTokenID, BOSTokenID: s.BOSTokenID, EOSTokenID: s.EOSTokenID,
		PadTokenID: s.PadTokenID, ForcedBOSTokenID: orNone(s.ForcedBOSTokenID), ForcedEOSTokenID: orNone(s.ForcedEOSTokenID),
	}
}

// genGolden is one line of testdata/generate_golden.jsonl: what generate()
// returned for input Input of the model's golden.jsonl under Setting.
type genGolden struct {
	Model   string  `json:"model"`
	Setting string  `json:"setting"`
	Input   int     `json:"input"`
	Out     []int32 `json:"out"`
	Stop    string  `json:"stop"`
}

// mustReadJSONL decodes every line of testdata/name into a T.
func mustReadJSONL[T any](tb testing.TB, name string) []T {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("open %s (make it with tools/bart_generate_golden.py): %v", name, err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			tb.Fatalf("%s line %d: %v", name, len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	return out
}

// TestModel_GenerateParity checks that Generate returns exactly the ids of
// transformers' generate() for every model, setting and input.
func TestModel_GenerateParity(t *testing.T) {
	settings := map[string]genSetting{}
	for _, s := range mustReadJSONL[genSetting](t, "generate_settings.jsonl") {
		if s.DoSample {
			t.Fatalf("setting %s/%s samples; goldens must be deterministic", s.Model, s.Name)
		}
		settings[s.Model+"/"+s.Name] = s
	}
	goldens := mustReadJSONL[genGolden](t, "generate_golden.jsonl")
	type count struct{ n, match, eos int }
	counts := map[string]*count{}
	for _, name := range goldenModels {
		t.Run(name, func(t *testing.T) {
			m := mustLoad(t, name, tensor.Default())
			inputs := mustReadGolden(t, name)
			for _, g := range goldens {
				if g.Model != name {
					continue
				}
				s, ok := settings[name+"/"+g.Setting]
				if !ok {
					t.Fatalf("golden names setting %s/%s, not in generate_settings.jsonl", name, g.Setting)
				}
				c := counts[name+"/"+g.Setting]
				if c == nil {
					c = &count{}
					counts[name+"/"+g.Setting] = c
				}
				c.n++
				if g.Stop == "eos" {
					c.eos++
				}
				got, err := m.Generate(context.Background(), inputs[g.Input].IDs, s.options())
				if err != nil {
					t.Fatalf("%s input %d: %v", g.Setting, g.Input, err)
				}
				if !slices.Equal(got, g.Out) {
					t.Errorf("%s input %d: got %v, want %v", g.Setting, g.Input, got, g.Out)
					continue
				}
				c.match++
			}
		})
	}
	total, match := 0, 0
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c := counts[k]
		total += c.n
		match += c.match
		t.Logf("%-36s %d/%d exact (%d end with EOS, %d at max_length)", k, c.match, c.n, c.eos, c.n-c.eos)
	}
	t.Logf("total: %d/%d exact", match, total)
	if want := len(goldenModels) * 50; total < want {
		t.Errorf("got %d golden generations, want at least %d", total, want)
	}
	for _, k := range []string{"greedy", "beam4-distilbart"} {
		for _, name := range goldenModels {
			if c := counts[name+"/"+k]; c == nil || c.n < 50 {
				t.Errorf("%s/%s: got %v goldens, want at least 50", name, k, c)
			}
		}
	}
}
