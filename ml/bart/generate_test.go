package bart

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/ml/tensor"
)

// Token ids of the hand-made vocabulary of the fake stepper tests.
const (
	tStart = 0 // decoder start
	tA     = 1
	tEOS   = 2
	tB     = 3
	tC     = 4
	tVocab = 5
)

// fakeStepper is a decoder whose next-token distribution is a function of
// each beam's sequence so far. It keeps every beam's sequence as its
// "cache", so a wrong Reorder shows up as wrong logits.
type fakeStepper struct {
	probs    func(seq []int32) []float64 // probabilities over tVocab tokens
	seqs     [][]int32
	steps    int
	cancel   func() // called after the step cancelAt, if set
	cancelAt int
}

func newFakeStepper(beams int, probs func(seq []int32) []float64) *fakeStepper {
	return &fakeStepper{probs: probs, seqs: make([][]int32, beams)}
}

func (f *fakeStepper) step(ctx context.Context, tokens []int32) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.steps++
	if f.cancel != nil && f.steps == f.cancelAt {
		f.cancel()
	}
	out := make([][]float32, len(tokens))
	for b, tok := range tokens {
		f.seqs[b] = append(f.seqs[b], tok)
		p := f.probs(f.seqs[b])
		row := make([]float32, len(p))
		for i, v := range p {
			row[i] = float32(math.Log(v))
		}
		out[b] = row
	}
	return out, nil
}

func (f *fakeStepper) reorder(beamIdx []int) error {
	next := make([][]int32, len(beamIdx))
	for i, j := range beamIdx {
		next[i] = slices.Clone(f.seqs[j])
	}
	f.seqs = next
	return nil
}

// twoPathProbs makes a short hypothesis [start EOS] (p 0.4) and a longer
// one [start A EOS] (p 0.55*0.5) compete; every other prefix continues
// with A or B most of the time.
func twoPathProbs(seq []int32) []float64 {
	switch {
	case slices.Equal(seq, []int32{tStart}):
		return []float64{0.01, 0.55, 0.4, 0.03, 0.01}
	case slices.Equal(seq, []int32{tStart, tA}):
		return []float64{0.05, 0.2, 0.5, 0.2, 0.05}
	default:
		return []float64{0.1, 0.3, 0.1, 0.3, 0.2}
	}
}

// fakeOptions are options over the fake vocabulary.
func fakeOptions(beams int) GenerateOptions {
	return GenerateOptions{NumBeams: beams, MaxLength: 8, LengthPenalty: 1, DecoderStartTokenID: tStart,
		BOSTokenID: tStart, EOSTokenID: tEOS, PadTokenID: tStart, ForcedBOSTokenID: noToken, ForcedEOSTokenID: noToken}
}

func TestGenerateOptions_Process(t *testing.T) {
	inf := math.Inf(-1)
	tests := []struct {
		name   string
		mod    func(o *GenerateOptions)
		seq    []int32
		scores []float32
		want   []float64
	}{
		{"nothing applies", func(o *GenerateOptions) {}, []int32{0, 1}, []float32{1, 2, 3, 4, 5}, []float64{1, 2, 3, 4, 5}},
		{"min length bans EOS below it", func(o *GenerateOptions) { o.MinLength = 3 }, []int32{0, 1}, []float32{1, 2, 3, 4, 5}, []float64{1, 2, inf, 4, 5}},
		{"min length reached allows EOS", func(o *GenerateOptions) { o.MinLength = 2 }, []int32{0, 1}, []float32{1, 2, 3, 4, 5}, []float64{1, 2, 3, 4, 5}},
		{"forced BOS at length 1", func(o *GenerateOptions) { o.ForcedBOSTokenID = 3 }, []int32{0}, []float32{1, 2, 3, 4, 5}, []float64{inf, inf, inf, 0, inf}},
		{"forced BOS only at length 1", func(o *GenerateOptions) { o.ForcedBOSTokenID = 3 }, []int32{0, 3}, []float32{1, 2, 3, 4, 5}, []float64{1, 2, 3, 4, 5}},
		{"forced EOS at max_length-1", func(o *GenerateOptions) { o.ForcedEOSTokenID = 2; o.MaxLength = 3 }, []int32{0, 1}, []float32{1, 2, 3, 4, 5}, []float64{inf, inf, 0, inf, inf}},
		{"forced EOS not before", func(o *GenerateOptions) { o.ForcedEOSTokenID = 2; o.MaxLength = 4 }, []int32{0, 1}, []float32{1, 2, 3, 4, 5}, []float64{1, 2, 3, 4, 5}},
		{"forced EOS overrides min length", func(o *GenerateOptions) { o.ForcedEOSTokenID = 2; o.MaxLength = 3; o.MinLength = 10 }, []int32{0, 1}, []float32{1, 2, 3, 4, 5}, []float64{inf, inf, 0, inf, inf}},
		{"no-repeat bigram", func(o *GenerateOptions) { o.NoRepeatNgramSize = 2 }, []int32{0, 1, 3, 1}, []float32{1, 2, 3, 4, 5}, []float64{1, 2, 3, inf, 5}},
		{"no-repeat trigram with two matches", func(o *GenerateOptions) { o.NoRepeatNgramSize = 3 }, []int32{1, 3, 4, 1, 3, 0, 1, 3}, []float32{1, 2, 3, 4, 5}, []float64{inf, 2, 3, 4, inf}},
		{"no-repeat counts the decoder start", func(o *GenerateOptions) { o.NoRepeatNgramSize = 2 }, []int32{0, 0}, []float32{1, 2, 3, 4, 5}, []float64{inf, 2, 3, 4, 5}},
		{"no-repeat shorter than n", func(o *GenerateOptions) { o.NoRepeatNgramSize = 3 }, []int32{0, 0}, []float32{1, 2, 3, 4, 5}, []float64{1, 2, 3, 4, 5}},
		{"no-repeat with forced BOS", func(o *GenerateOptions) { o.NoRepeatNgramSize = 1; o.ForcedBOSTokenID = 0 }, []int32{0}, []float32{1, 2, 3, 4, 5}, []float64{0, inf, inf, inf, inf}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fakeOptions(1)
			o.MaxLength = 20
			tt.mod(&o)
			got := slices.Clone(tt.scores)
			o.process(tt.seq, got)
			for i := range got {
				if float64(got[i]) != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestTopK(t *testing.T) {
	inf := float32(math.Inf(-1))
	tests := []struct {
		name string
		x    []float32
		k    int
		want []int
	}{
		{"sorted descending", []float32{1, 5, 3, 4}, 3, []int{1, 3, 2}},
		{"ties keep the lower index first", []float32{2, 7, 2, 7, 2}, 4, []int{1, 3, 0, 2}},
		{"-inf fills last, lower index first", []float32{inf, 1, inf, inf}, 3, []int{1, 0, 2}},
		{"k equals len", []float32{3, 1, 2}, 3, []int{0, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := topK(tt.x, tt.k); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLogSoftmax(t *testing.T) {
	tests := []struct {
		name string
		x    []float32
	}{
		{"small", []float32{1, 2, 3}},
		{"large and negative", []float32{1000, -1000, 999.5, 0}},
		{"with -inf", []float32{float32(math.Inf(-1)), 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]float32, len(tt.x))
			logSoftmax(tensor.Default(), got, tt.x, make([]float32, len(tt.x)))
			mx := math.Inf(-1)
			for _, v := range tt.x {
				mx = math.Max(mx, float64(v))
			}
			var sum float64
			for _, v := range tt.x {
				sum += math.Exp(float64(v) - mx)
			}
			for i, v := range tt.x {
				want := float64(v) - mx - math.Log(sum)
				if math.IsInf(want, -1) && math.IsInf(float64(got[i]), -1) {
					continue
				}
				if math.Abs(float64(got[i])-want) > 1e-6*math.Max(1, math.Abs(want)) {
					t.Errorf("x[%d] = %v: got %v, want %v", i, v, got[i], want)
				}
			}
		})
	}
}

func TestGreedySearch(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(o *GenerateOptions)
		probs func(seq []int32) []float64
		want  []int32
	}{
		{"stops at EOS", func(o *GenerateOptions) {}, func(seq []int32) []float64 {
			if len(seq) < 3 {
				return []float64{0.1, 0.5, 0.1, 0.2, 0.1}
			}
			return []float64{0.1, 0.1, 0.5, 0.2, 0.1}
		}, []int32{tStart, tA, tA, tEOS}},
		{"stops at max_length", func(o *GenerateOptions) { o.MaxLength = 4 }, func([]int32) []float64 {
			return []float64{0.1, 0.1, 0.1, 0.6, 0.1}
		}, []int32{tStart, tB, tB, tB}},
		{"ties go to the lowest id", func(o *GenerateOptions) { o.MaxLength = 3 }, func([]int32) []float64 {
			return []float64{0.1, 0.1, 0.1, 0.35, 0.35}
		}, []int32{tStart, tB, tB}},
		{"min length delays EOS", func(o *GenerateOptions) { o.MinLength = 4 }, func([]int32) []float64 {
			return []float64{0.1, 0.1, 0.5, 0.2, 0.1}
		}, []int32{tStart, tB, tB, tB, tEOS}},
		{"no-repeat and forced tokens", func(o *GenerateOptions) {
			o.NoRepeatNgramSize = 2
			o.ForcedBOSTokenID = tC
			o.ForcedEOSTokenID = tEOS
			o.MaxLength = 6
		}, func([]int32) []float64 {
			return []float64{0.05, 0.4, 0.05, 0.3, 0.2}
		}, []int32{tStart, tC, tA, tA, tB, tEOS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fakeOptions(1)
			tt.mod(&o)
			got, err := greedySearch(context.Background(), newFakeStepper(1, tt.probs), o)
			if err != nil {
				t.Fatalf("greedySearch: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBeamSearch(t *testing.T) {
	tests := []struct {
		name      string
		beams     int
		lp        float64
		early     bool
		want      []int32
		wantSteps int
	}{
		// Scores: [s EOS] ln 0.4 = -0.92 over length 1; [s A EOS]
		// ln(0.55*0.5) = -1.29 over length 2.
		{"no length penalty prefers the short one", 2, 0, true, []int32{tStart, tEOS}, 2},
		{"length penalty 1 prefers the long one", 2, 1, true, []int32{tStart, tA, tEOS}, 2},
		// Both beams finished after step 2: early stopping ends there;
		// without it, with length penalty 2 the running beams' bound
		// (sum/len^2) keeps beating the worst finished score, so the
		// search runs to max_length.
		{"early stopping stops when the beams are full", 2, 2, true, []int32{tStart, tA, tEOS}, 2},
		// (and [s A A A A A A A], ln(0.55*0.2*0.3^5)/7^2 = -0.17, beats
		// [s A EOS]'s -1.29/2^2 = -0.32).
		{"heuristic runs on while improvement is possible", 2, 2, false, []int32{tStart, tA, tA, tA, tA, tA, tA, tA}, 7},
		{"heuristic stops when the bound cannot win", 2, 1, false, []int32{tStart, tA, tEOS}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fakeOptions(tt.beams)
			o.LengthPenalty = tt.lp
			o.EarlyStopping = tt.early
			f := newFakeStepper(tt.beams, twoPathProbs)
			got, err := beamSearch(context.Background(), f, tensor.Default(), tVocab, o)
			if err != nil {
				t.Fatalf("beamSearch: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if f.steps != tt.wantSteps {
				t.Errorf("got %d steps, want %d", f.steps, tt.wantSteps)
			}
		})
	}
}

func TestImprovable(t *testing.T) {
	fin := func(score float32) hypothesis { return hypothesis{score: score, finished: true} }
	open := hypothesis{score: notChosen}
	tests := []struct {
		name     string
		best     float32
		finished []hypothesis
		curLen   int
		lp       float64
		want     bool
	}{
		{"an open slot is always improvable", -100, []hypothesis{fin(-1), open}, 3, 1, true},
		{"bound above the worst finished", -3, []hypothesis{fin(-1), fin(-2)}, 3, 1, true},    // -3/2 > -2
		{"bound below the worst finished", -5, []hypothesis{fin(-1), fin(-2)}, 3, 1, false},   // -5/2 < -2
		{"length penalty raises the bound", -5, []hypothesis{fin(-1), fin(-2)}, 3, 2, true},   // -5/4 > -2
		{"length penalty 0 keeps the sum", -2.5, []hypothesis{fin(-1), fin(-2)}, 3, 0, false}, // -2.5 < -2
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := improvable(tt.best, tt.finished, tt.curLen, tt.lp); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGenerate_Cancel(t *testing.T) {
	for _, beams := range []int{1, 3} {
		t.Run(fmt.Sprintf("beams=%d", beams), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := newFakeStepper(beams, twoPathProbs)
			f.cancel, f.cancelAt = cancel, 2
			o := fakeOptions(beams)
			o.MinLength = 8 // no EOS before the cancellation
			var err error
			if beams == 1 {
				_, err = greedySearch(ctx, f, o)
			} else {
				_, err = beamSearch(ctx, f, tensor.Default(), tVocab, o)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got error %v, want context.Canceled", err)
			}
			if f.steps != 2 {
				t.Errorf("got %d steps, want 2 (stop right after the cancellation)", f.steps)
			}
		})
	}
	t.Run("model", func(t *testing.T) {
		m := mustLoad(t, "tiny", tensor.Default())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := m.Generate(ctx, []int32{0, 100, 2}, DefaultGenerateOptions(m.Config())); !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want context.Canceled", err)
		}
	})
}

func TestModel_Generate(t *testing.T) {
	m := mustLoad(t, "tiny", tensor.Default())
	tests := []struct {
		name     string
		mod      func(o *GenerateOptions)
		wantCode string
		wantLen  int
	}{
		{"defaults: greedy to max_length 20", func(o *GenerateOptions) {}, "", 20},
		{"max_length 1 is the start token", func(o *GenerateOptions) { o.MaxLength = 1 }, "", 1},
		{"zero beams", func(o *GenerateOptions) { o.NumBeams = 0 }, enricher.EINVALID, 0},
		{"max_length beyond positions", func(o *GenerateOptions) { o.MaxLength = 2000 }, enricher.EINVALID, 0},
		{"eos outside vocab", func(o *GenerateOptions) { o.EOSTokenID = 8000 }, enricher.EINVALID, 0},
		{"forced bos outside vocab", func(o *GenerateOptions) { o.ForcedBOSTokenID = -2 }, enricher.EINVALID, 0},
		{"negative min_length", func(o *GenerateOptions) { o.MinLength = -1 }, enricher.EINVALID, 0},
		{"NaN length penalty", func(o *GenerateOptions) { o.LengthPenalty = math.NaN() }, enricher.EINVALID, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultGenerateOptions(m.Config())
			tt.mod(&o)
			got, err := m.Generate(context.Background(), []int32{0, 31, 415, 2}, o)
			if tt.wantCode != "" {
				if code := enricher.ErrorCode(err); code != tt.wantCode {
					t.Fatalf("got error %v (code %s), want code %s", err, code, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if len(got) != tt.wantLen || got[0] != o.DecoderStartTokenID {
				t.Errorf("got %v, want %d ids starting with %d", got, tt.wantLen, o.DecoderStartTokenID)
			}
		})
	}
}

func TestReadGenerateOptions(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "tiny", configFile))
	if err != nil {
		t.Fatal(err)
	}
	defaults := GenerateOptions{NumBeams: 1, MaxLength: 20, LengthPenalty: 1, DecoderStartTokenID: 2, BOSTokenID: 0,
		EOSTokenID: 2, PadTokenID: 1, ForcedBOSTokenID: noToken, ForcedEOSTokenID: 2}
	distil := GenerateOptions{NumBeams: 4, MaxLength: 142, MinLength: 56, LengthPenalty: 2, EarlyStopping: true,
		NoRepeatNgramSize: 3, DecoderStartTokenID: 2, BOSTokenID: 0, EOSTokenID: 2, PadTokenID: 1,
		ForcedBOSTokenID: 0, ForcedEOSTokenID: 2}
	tests := []struct {
		name  string
		extra string // JSON members appended to tiny's config.json (they win over its own)
		want  GenerateOptions
		fail  bool
	}{
		{"no generation fields", ``, defaults, false},
		{"distilbart-cnn summarization params", `"forced_bos_token_id": 0, "num_beams": 6, "max_length": 62,
			"task_specific_params": {"summarization": {"early_stopping": true, "length_penalty": 2.0, "max_length": 142,
			"min_length": 56, "no_repeat_ngram_size": 3, "num_beams": 4}}`, distil, false},
		{"explicit null forced eos", `"forced_eos_token_id": null`, func() GenerateOptions { o := defaults; o.ForcedEOSTokenID = noToken; return o }(), false},
		{"forced bos outside vocab", `"forced_bos_token_id": 9000`, GenerateOptions{}, true},
		{"bad forced id", `"forced_bos_token_id": "x"`, GenerateOptions{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := string(base)
			if tt.extra != "" {
				end := strings.LastIndex(cfg, "}")
				cfg = cfg[:end] + "," + tt.extra + "}"
			}
			if err := os.WriteFile(filepath.Join(dir, configFile), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadGenerateOptions(dir)
			if tt.fail {
				if code := enricher.ErrorCode(err); code != enricher.ENOTREADY {
					t.Errorf("got error %v (code %s), want code %s", err, code, enricher.ENOTREADY)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadGenerateOptions: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		if _, err := ReadGenerateOptions(filepath.Join(t.TempDir(), "none")); enricher.ErrorCode(err) != enricher.ENOTREADY {
			t.Errorf("got error %v, want code %s", err, enricher.ENOTREADY)
		}
	})
}

// BenchmarkModel_Generate generates 31 tokens (no EOS: forced length) for
// a 100-token input with the tiny test model, greedy and with 4 beams.
func BenchmarkModel_Generate(b *testing.B) {
	m := mustLoad(b, "tiny", tensor.Default())
	ids := make([]int32, 100)
	for i := range ids {
		ids[i] = int32(4 + i*29%7990)
	}
	for _, beams := range []int{1, 4} {
		b.Run(fmt.Sprintf("beams=%d", beams), func(b *testing.B) {
			o := DefaultGenerateOptions(m.Config())
			o.NumBeams, o.MaxLength, o.MinLength, o.NoRepeatNgramSize = beams, 32, 32, 3
			o.LengthPenalty, o.EarlyStopping, o.ForcedBOSTokenID = 2, true, 0
			b.ReportAllocs()
			var tokens int
			for b.Loop() {
				out, err := m.Generate(context.Background(), ids, o)
				if err != nil {
					b.Fatal(err)
				}
				tokens += len(out) - 1
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
