package bart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/ml/tensor"
)

// GenerateOptions are the generate() arguments of transformers that
// summarization uses. Lengths count the decoder sequence including
// decoder_start_token_id, as transformers' max_length and min_length do for
// encoder-decoder models, so a MaxLength of 20 yields at most 19 new tokens.
type GenerateOptions struct {
	// NumBeams is 1 for greedy search, more for beam search.
	NumBeams int
	// MaxLength and MinLength bound the output length (decoder start
	// included); MinLength forbids EOS until the sequence is that long.
	MaxLength, MinLength int
	// LengthPenalty is the exponent of the length that divides a finished
	// hypothesis' summed log-probabilities (beam search only).
	LengthPenalty float64
	// EarlyStopping stops beam search as soon as NumBeams hypotheses are
	// finished (transformers' early_stopping=True); false uses transformers'
	// heuristic ("can the best running beam still beat the worst finished
	// one at its current length"). "never" is not supported.
	EarlyStopping bool
	// NoRepeatNgramSize > 0 forbids any n-gram of that size from occurring
	// twice in the output.
	NoRepeatNgramSize int
	// Special token ids.
	DecoderStartTokenID, BOSTokenID, EOSTokenID, PadTokenID int32
	// ForcedBOSTokenID is forced as the first generated token and
	// ForcedEOSTokenID as the last one when MaxLength is reached; -1 = none.
	ForcedBOSTokenID, ForcedEOSTokenID int32
}

// noToken marks an unset forced token id.
const noToken = -1

// bartForcedEOS is BartConfig's default forced_eos_token_id: BART models
// force </s> at max_length unless their config says otherwise.
const bartForcedEOS = 2

// DefaultGenerateOptions returns transformers' generation defaults for a
// BART model with cfg's special tokens (greedy, max_length 20, BartConfig's
// forced_eos_token_id 2). Config does not carry config.json's
// task_specific_params or forced token ids, so use ReadGenerateOptions to get
// a checkpoint's summarization settings (distilbart-cnn: 4 beams, length
// penalty 2.0, max_length 142, min_length 56, no_repeat_ngram_size 3, early
// stopping, forced BOS 0 and EOS 2).
func DefaultGenerateOptions(cfg Config) GenerateOptions {
	return GenerateOptions{
		NumBeams: 1, MaxLength: 20, MinLength: 0, LengthPenalty: 1.0,
		DecoderStartTokenID: int32(cfg.DecoderStartTokenID), BOSTokenID: int32(cfg.BOSTokenID),
		EOSTokenID: int32(cfg.EOSTokenID), PadTokenID: int32(cfg.PadTokenID),
		ForcedBOSTokenID: noToken, ForcedEOSTokenID: bartForcedEOS,
	}
}

// genParams are the generation fields of a config.json, at the top level or
// in task_specific_params.summarization; pointers tell absent from zero.
type genParams struct {
	NumBeams          *int     `json:"num_beams"`
	MaxLength         *int     `json:"max_length"`
	MinLength         *int     `json:"min_length"`
	LengthPenalty     *float64 `json:"length_penalty"`
	EarlyStopping     *bool    `json:"early_stopping"`
	NoRepeatNgramSize *int     `json:"no_repeat_ngram_size"`
	// json.RawMessage so that an explicit null ("not forced") is seen.
	ForcedBOSTokenID json.RawMessage `json:"forced_bos_token_id"`
	ForcedEOSTokenID json.RawMessage `json:"forced_eos_token_id"`
}

// apply overrides o with the fields p sets.
func (p *genParams) apply(o *GenerateOptions) error {
	setInt := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setInt(&o.NumBeams, p.NumBeams)
	setInt(&o.MaxLength, p.MaxLength)
	setInt(&o.MinLength, p.MinLength)
	setInt(&o.NoRepeatNgramSize, p.NoRepeatNgramSize)
	if p.LengthPenalty != nil {
		o.LengthPenalty = *p.LengthPenalty
	}
	if p.EarlyStopping != nil {
		o.EarlyStopping = *p.EarlyStopping
	}
	for _, f := range []struct {
		raw json.RawMessage
		dst *int32
	}{{p.ForcedBOSTokenID, &o.ForcedBOSTokenID}, {p.ForcedEOSTokenID, &o.ForcedEOSTokenID}} {
		if len(f.raw) == 0 {
			continue
		}
		var id *int32
		if err := json.Unmarshal(f.raw, &id); err != nil {
			return fmt.Errorf("parse forced token id %s: %w", f.raw, err)
		}
		*f.dst = noToken
		if id != nil {
			*f.dst = *id
		}
	}
	return nil
}

// ReadGenerateOptions reads the generation settings of the model directory
// dir the way the summarization pipeline does: DefaultGenerateOptions, then
// config.json's top-level generation fields and forced token ids, then its
// task_specific_params.summarization, which wins.
func ReadGenerateOptions(dir string) (GenerateOptions, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return GenerateOptions{}, err
	}
	path := filepath.Join(dir, configFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return GenerateOptions{}, missingFile(dir, configFile, err)
	}
	if err != nil {
		return GenerateOptions{}, fmt.Errorf("read %s: %w", path, err)
	}
	var raw struct {
		genParams
		TaskSpecific struct {
			Summarization *genParams `json:"summarization"`
		} `json:"task_specific_params"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return GenerateOptions{}, invalidFile(dir, configFile, err)
	}
	o := DefaultGenerateOptions(*cfg)
	if err := raw.genParams.apply(&o); err != nil {
		return GenerateOptions{}, invalidFile(dir, configFile, err)
	}
	if s := raw.TaskSpecific.Summarization; s != nil {
		if err := s.apply(&o); err != nil {
			return GenerateOptions{}, invalidFile(dir, configFile, fmt.Errorf("task_specific_params.summarization: %w", err))
		}
	}
	if err := o.check(cfg.Vocab, cfg.MaxPositions); err != nil {
		return GenerateOptions{}, invalidFile(dir, configFile, err)
	}
	return o, nil
}

// check refuses options generate() would refuse or this engine cannot run.
func (o *GenerateOptions) check(vocab, maxPositions int) error {
	switch {
	case o.NumBeams < 1:
		return fmt.Errorf("num_beams %d, want at least 1", o.NumBeams)
	case o.MaxLength < 1:
		return fmt.Errorf("max_length %d, want at least 1", o.MaxLength)
	case o.MaxLength-1 > maxPositions:
		return fmt.Errorf("max_length %d needs %d decoder positions, the model has %d", o.MaxLength, o.MaxLength-1, maxPositions)
	case o.MinLength < 0:
		return fmt.Errorf("min_length %d is negative", o.MinLength)
	case o.NoRepeatNgramSize < 0:
		return fmt.Errorf("no_repeat_ngram_size %d is negative", o.NoRepeatNgramSize)
	case math.IsNaN(o.LengthPenalty) || math.IsInf(o.LengthPenalty, 0):
		return fmt.Errorf("length_penalty %v is not finite", o.LengthPenalty)
	}
	ids := []struct {
		name     string
		id       int32
		optional bool
	}{
		{"decoder_start_token_id", o.DecoderStartTokenID, false}, {"bos_token_id", o.BOSTokenID, false},
		{"eos_token_id", o.EOSTokenID, false}, {"pad_token_id", o.PadTokenID, false},
		{"forced_bos_token_id", o.ForcedBOSTokenID, true}, {"forced_eos_token_id", o.ForcedEOSTokenID, true},
	}
	for _, t := range ids {
		if t.optional && t.id == noToken {
			continue
		}
		if t.id < 0 || int(t.id) >= vocab {
			return fmt.Errorf("%s %d is outside the vocabulary [0, %d)", t.name, t.id, vocab)
		}
	}
	return nil
}

// stepper is what the searches need from the decoder: one step of every
// beam and the reordering of their caches. It is the seam that lets the
// unit tests drive the searches with hand-made logits.
type stepper interface {
	step(ctx context.Context, tokens []int32) ([][]float32, error)
	reorder(beamIdx []int) error
}

// modelStepper runs a Model over a DecoderState.
type modelStepper struct {
	m  *Model
	st *DecoderState
}

// step runs one DecodeStep of every beam.
func (s modelStepper) step(ctx context.Context, tokens []int32) ([][]float32, error) {
	return s.m.DecodeStep(ctx, s.st, tokens)
}

// reorder makes the beams continue from the caches of beamIdx.
func (s modelStepper) reorder(beamIdx []int) error { return s.st.Reorder(beamIdx) }

// Generate returns the decoder sequence transformers' generate() produces
// for the encoder input ids (<s> ... </s>) under opts: decoder start token
// first, then the generated tokens, EOS included when one was generated.
// NumBeams 1 is greedy search; more is beam search with all beams decoded as
// one batch per step. It checks ctx at every step.
func (m *Model) Generate(ctx context.Context, ids []int32, opts GenerateOptions) ([]int32, error) {
	if err := opts.check(m.cfg.Vocab, m.cfg.MaxPositions); err != nil {
		return nil, enricher.Errorf(enricher.EINVALID, "generate: %v", err)
	}
	enc, err := m.Encode(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	st, err := NewDecoderState(enc, opts.NumBeams)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	s := modelStepper{m: m, st: st}
	var out []int32
	if opts.NumBeams == 1 {
		out, err = greedySearch(ctx, s, opts)
	} else {
		out, err = beamSearch(ctx, s, m.k, m.cfg.Vocab, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	return out, nil
}

// greedySearch is transformers' greedy decoding: the processed logits'
// argmax (the lowest id among equal maxima, as torch.argmax) until EOS or
// MaxLength.
func greedySearch(ctx context.Context, s stepper, o GenerateOptions) ([]int32, error) {
	seq := []int32{o.DecoderStartTokenID}
	var scores []float32
	for len(seq) < o.MaxLength {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		logits, err := s.step(ctx, seq[len(seq)-1:])
		if err != nil {
			return nil, err
		}
		scores = append(scores[:0], logits[0]...)
		o.process(seq, scores)
		next := argmax(scores)
		seq = append(seq, next)
		if next == o.EOSTokenID {
			break
		}
	}
	return seq, nil
}

// argmax is the index of the first maximum of x.
func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// process applies transformers' logits processors, in the order
// generate() builds them (no-repeat-ngram, min length, forced BOS, forced
// EOS), to the next-token scores of the sequence seq.
func (o *GenerateOptions) process(seq []int32, scores []float32) {
	banNgramRepeats(seq, o.NoRepeatNgramSize, scores)
	if len(seq) < o.MinLength {
		scores[o.EOSTokenID] = negInf
	}
	if o.ForcedBOSTokenID != noToken && len(seq) == 1 {
		force(scores, o.ForcedBOSTokenID)
	}
	if o.ForcedEOSTokenID != noToken && len(seq) == o.MaxLength-1 {
		force(scores, o.ForcedEOSTokenID)
	}
}

// negInf is float32 -inf, what the processors write into banned scores.
var negInf = float32(math.Inf(-1))

// force leaves id as the only possible token (score 0, others -inf), as
// ForcedBOSTokenLogitsProcessor and ForcedEOSTokenLogitsProcessor do.
func force(scores []float32, id int32) {
	for i := range scores {
		scores[i] = negInf
	}
	scores[id] = 0
}

// banNgramRepeats is NoRepeatNGramLogitsProcessor: every token that would
// complete an n-gram already in seq (decoder start included) gets -inf.
func banNgramRepeats(seq []int32, n int, scores []float32) {
	L := len(seq)
	if n <= 0 || L < n {
		return
	}
	prefix := seq[L-n+1:]
	for i := 0; i+n <= L; i++ {
		if equal32(seq[i:i+n-1], prefix) {
			scores[seq[i+n-1]] = negInf
		}
	}
}

// equal32 reports whether a and b hold the same ids.
func equal32(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// logSoftmax writes log_softmax(x) to dst in float32, as transformers'
// beam search computes it on float32 logits: (x - max) - log(sum exp(x -
// max)), the exponentials by k (vectorized) into scratch and their sum
// accumulated in float64.
func logSoftmax(k *tensor.Kernels, dst, x, scratch []float32) {
	mx := negInf
	for _, v := range x {
		mx = max(mx, v)
	}
	for i, v := range x {
		dst[i] = v - mx
	}
	scratch = scratch[:len(x)]
	k.Exp(scratch, dst)
	var sum float64
	for _, e := range scratch {
		sum += float64(e)
	}
	lse := float32(math.Log(sum))
	for i := range dst {
		dst[i] -= lse
	}
}
