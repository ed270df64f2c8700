package bart

import (
	"context"
	"fmt"
	"runtime"

	"github.com/ticket-enricher/enricher"
)

// initialCap is the KV cache length a DecoderState starts with; it doubles
// when a step would overflow it, so a summary of a few dozen tokens never
// reallocates and a long one reallocates a handful of times.
const initialCap = 64

// DecoderState is the decoding state of a batch of beams over one encoder
// output: each decoder layer's self-attention keys and values for every
// position decoded so far (the KV cache), and the scratch buffers of a
// step. It is used by one goroutine at a time.
type DecoderState struct {
	model *Model
	enc   *EncoderOutput
	beams int
	len   int // positions decoded so far, the same for every beam
	cap   int // positions each beam's cache can hold
	cache []layerCache

	// Scratch of one step, sized for beams rows.
	x, qkv, q, ctx, tmp, mid, scores, logits []float32
	spare                                    []float32 // Reorder's copy buffer
}

// layerCache is one decoder layer's self-attention cache: beam b's key
// (value) at position t is k[(b*cap+t)*d:][:d].
type layerCache struct {
	k, v []float32
}

// NewDecoderState starts decoding enc with beams beams (1 for greedy
// search), all with an empty cache.
func NewDecoderState(enc *EncoderOutput, beams int) (*DecoderState, error) {
	if enc == nil || enc.model == nil {
		return nil, enricher.Errorf(enricher.EINVALID, "new decoder state: no encoder output")
	}
	if beams < 1 {
		return nil, enricher.Errorf(enricher.EINVALID, "new decoder state: %d beams, want at least 1", beams)
	}
	m := enc.model
	c := m.cfg
	d := c.DModel
	st := &DecoderState{
		model: m, enc: enc, beams: beams,
		cap:    min(initialCap, c.MaxPositions),
		cache:  make([]layerCache, len(m.dec)),
		x:      make([]float32, beams*d),
		qkv:    make([]float32, beams*3*d),
		q:      make([]float32, beams*d),
		ctx:    make([]float32, beams*d),
		tmp:    make([]float32, beams*d),
		mid:    make([]float32, beams*c.DecoderFFN),
		logits: make([]float32, beams*c.Vocab),
	}
	for i := range st.cache {
		st.cache[i] = layerCache{k: make([]float32, beams*st.cap*d), v: make([]float32, beams*st.cap*d)}
	}
	st.scores = make([]float32, max(st.cap, beams*enc.n))
	return st, nil
}

// Beams is the number of beams the state decodes.
func (st *DecoderState) Beams() int { return st.beams }

// Len is the number of positions decoded so far (tokens given to
// DecodeStep), the same for every beam.
func (st *DecoderState) Len() int { return st.len }

// DecodeStep feeds tokens[b] to beam b at the next position (the first
// step takes decoder_start_token_id), appends the new keys and values to
// the cache, and returns each beam's logits over the vocabulary for the
// token after it: BartForConditionalGeneration's lm_logits at that position,
// final_logits_bias included. The beams run as one batch (one matrix row
// each). The returned slices belong to st and are overwritten by the next
// DecodeStep; copy what must outlive it. It checks ctx between layers; on
// any error the state is unchanged.
func (m *Model) DecodeStep(ctx context.Context, st *DecoderState, tokens []int32) ([][]float32, error) {
	defer runtime.KeepAlive(m)
	c := m.cfg
	switch {
	case st == nil || st.model != m:
		return nil, enricher.Errorf(enricher.EINVALID, "decode step: the state was made for another model")
	case len(tokens) != st.beams:
		return nil, enricher.Errorf(enricher.EINVALID, "decode step: %d tokens for %d beams", len(tokens), st.beams)
	case st.len >= c.MaxPositions:
		return nil, enricher.Errorf(enricher.EINVALID, "decode step: position %d exceeds max_position_embeddings %d", st.len, c.MaxPositions)
	}
	if err := m.checkIDs(tokens); err != nil {
		return nil, fmt.Errorf("decode step: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("decode step: %w", err)
	}
	if st.len == st.cap {
		st.grow(min(2*st.cap, c.MaxPositions))
	}
	b, d := st.beams, c.DModel
	x := st.x[:b*d]
	m.decEmb.Forward(m.k, x, tokens, st.len, false)
	for i := range m.dec {
		if err := ctx.Err(); err != nil {
			// The layers before i wrote position st.len of their caches,
			// but st.len is not advanced, so the next step overwrites them.
			return nil, fmt.Errorf("decode step: layer %d: %w", i, err)
		}
		m.dec[i].Forward(m.k, st, &st.cache[i], st.enc.cross[i], x)
	}
	st.len++
	m.k.MatMulPacked(st.logits, x, m.lmHead, m.logitsB, b)
	out := make([][]float32, b)
	for i := range out {
		out[i] = st.logits[i*c.Vocab : (i+1)*c.Vocab : (i+1)*c.Vocab]
	}
	return out, nil
}

// grow moves every cache to a capacity of newCap positions per beam.
func (st *DecoderState) grow(newCap int) {
	d := st.model.cfg.DModel
	for i := range st.cache {
		lc := &st.cache[i]
		lc.k = regrow(lc.k, st.beams, st.cap, newCap, st.len, d)
		lc.v = regrow(lc.v, st.beams, st.cap, newCap, st.len, d)
	}
	st.cap = newCap
	st.scores = make([]float32, max(newCap, st.beams*st.enc.n))
	st.spare = nil
}

// regrow copies the first n positions of each beam of a cache laid out
// with oldCap positions per beam into one with newCap.
func regrow(old []float32, beams, oldCap, newCap, n, d int) []float32 {
	buf := make([]float32, beams*newCap*d)
	for b := range beams {
		copy(buf[b*newCap*d:][:n*d], old[b*oldCap*d:][:n*d])
	}
	return buf
}

// Reorder makes beam i continue from what beam beamIdx[i] was: its cache
// (keys and values of every layer) becomes a copy of that beam's, as beam
// search needs after choosing each beam's next token among all beams'
// candidates. A source may be picked by several beams or by none.
func (st *DecoderState) Reorder(beamIdx []int) error {
	if len(beamIdx) != st.beams {
		return enricher.Errorf(enricher.EINVALID, "reorder beams: %d indexes for %d beams", len(beamIdx), st.beams)
	}
	identity := true
	for i, j := range beamIdx {
		if j < 0 || j >= st.beams {
			return enricher.Errorf(enricher.EINVALID, "reorder beams: index %d is %d, want [0, %d)", i, j, st.beams)
		}
		identity = identity && i == j
	}
	if identity || st.len == 0 {
		return nil
	}
	d := st.model.cfg.DModel
	stride, used := st.cap*d, st.len*d
	for i := range st.cache {
		lc := &st.cache[i]
		lc.k = st.permute(lc.k, beamIdx, stride, used)
		lc.v = st.permute(lc.v, beamIdx, stride, used)
	}
	return nil
}

// permute returns buf with beam i's used positions copied from beam
// beamIdx[i], written into the spare buffer, which then takes buf's place.
func (st *DecoderState) permute(buf []float32, beamIdx []int, stride, used int) []float32 {
	if len(st.spare) != len(buf) {
		st.spare = make([]float32, len(buf))
	}
	dst := st.spare
	for i, j := range beamIdx {
		copy(dst[i*stride:][:used], buf[j*stride:][:used])
	}
	st.spare = buf
	return dst
}
