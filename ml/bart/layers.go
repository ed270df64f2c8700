package bart

import (
	"math"

	"github.com/ticket-enricher/enricher/ml/tensor"
)

// The layers below hold one BART module each, named after transformers'
// modeling_bart modules, with a Forward method over a matrix of rows (the
// tokens of one encoder input, or one new token per beam in the decoder).

// layerNorm is torch.nn.LayerNorm over the model dimension.
type layerNorm struct {
	gamma, beta []float32
}

// Forward writes the normalized rows of x to dst (which may be x).
func (n *layerNorm) Forward(k *tensor.Kernels, dst, x []float32, rows int) {
	w := len(n.gamma)
	k.LayerNorm(dst[:rows*w], x[:rows*w], n.gamma, n.beta, w, layerNormEps)
}

// embeddings is BartScaledWordEmbedding plus BartLearnedPositionalEmbedding
// and layernorm_embedding, one per stack (the token table is shared, the
// positions and the norm are not).
type embeddings struct {
	tokens []float32 // [vocab, d], model.shared
	pos    []float32 // [max_positions+2, d]
	scale  float32   // sqrt(d) with scale_embedding, else 1
	norm   layerNorm
	d      int
}

// Forward writes LN(tokens[id]*scale + pos[start+i+2]) for ids[i] into row
// i of x: start is the position of the first id (the decoder's cache length,
// 0 for the encoder; every beam of a step is at the same position, so the
// decoder passes one id per beam with the same start and perRow false).
func (e *embeddings) Forward(k *tensor.Kernels, x []float32, ids []int32, start int, perRow bool) {
	d := e.d
	for i, id := range ids {
		p := start
		if perRow {
			p += i
		}
		row := x[i*d:][:d]
		tok := e.tokens[int(id)*d:][:d]
		pos := e.pos[(p+posOffset)*d:][:d]
		for j := range row {
			row[j] = tok[j]*e.scale + pos[j]
		}
	}
	e.norm.Forward(k, x, x, len(ids))
}

// feedForward is fc1, exact GELU, fc2, the residual and final_layer_norm.
type feedForward struct {
	fc1, fc2 tensor.Linear
	norm     layerNorm
}

// Forward updates x[rows, d] in place: x = LN(x + fc2(GELU(fc1(x)))).
// mid holds rows*ffn floats and tmp rows*d.
func (f *feedForward) Forward(k *tensor.Kernels, x, mid, tmp []float32, rows int) {
	d, ffn := f.fc1.In, f.fc1.Out
	mid = mid[:rows*ffn]
	f.fc1.Forward(k, mid, x, rows)
	k.GELU(mid, mid)
	f.fc2.Forward(k, tmp, mid, rows)
	k.Add(tmp[:rows*d], x[:rows*d])
	f.norm.Forward(k, x, tmp, rows)
}

// encoderLayer is BartEncoderLayer: bidirectional self-attention (q, k and
// v fused into one product of width 3d) then the feed-forward block, each
// followed by its residual and LayerNorm (post-norm).
type encoderLayer struct {
	qkv, out tensor.Linear
	norm     layerNorm
	ffn      feedForward
	heads    int
}

// encScratch is the encoder's working memory for one input of n tokens.
type encScratch struct {
	qkv, ctx, tmp, mid, scores []float32
}

// Forward runs the layer over x[n, d] in place.
func (l *encoderLayer) Forward(k *tensor.Kernels, s *encScratch, x []float32, n int) {
	d := l.out.In
	hd := d / l.heads
	scale := attnScale(hd)
	l.qkv.Forward(k, s.qkv, x, n)
	sc := s.scores[:n*n]
	for h := range l.heads {
		q, kk, v := s.qkv[h*hd:], s.qkv[d+h*hd:], s.qkv[2*d+h*hd:]
		k.Gemm(false, true, n, n, hd, scale, q, 3*d, kk, 3*d, 0, sc, n)
		k.Softmax(sc, n)
		k.Gemm(false, false, n, hd, n, 1, sc, n, v, 3*d, 0, s.ctx[h*hd:], d)
	}
	l.out.Forward(k, s.tmp, s.ctx, n)
	k.Add(s.tmp[:n*d], x[:n*d])
	l.norm.Forward(k, x, s.tmp, n)
	l.ffn.Forward(k, x, s.mid, s.tmp, n)
}

// attnScale is BartAttention's scaling, head_dim^-0.5, applied to the
// scores (transformers multiplies q k^T by it).
func attnScale(headDim int) float32 {
	return float32(math.Pow(float64(headDim), -0.5))
}

// decoderLayer is BartDecoderLayer: causal self-attention over the KV
// cache, cross-attention over the encoder output, then the feed-forward
// block, each followed by its residual and LayerNorm.
type decoderLayer struct {
	selfQKV, selfOut tensor.Linear
	selfNorm         layerNorm
	crossQ, crossOut tensor.Linear
	crossKV          tensor.Linear // [2d, d]: k_proj then v_proj of encoder_attn, run once per input
	crossNorm        layerNorm
	ffn              feedForward
	heads            int
}

// Forward advances every beam by one token: x[beams, d] holds the new
// positions' activations and is updated in place; cache is this layer's
// self-attention cache, to which the new keys and values are appended at
// position st.len; cross is the encoder's [n, 2d] keys and values.
func (l *decoderLayer) Forward(k *tensor.Kernels, st *DecoderState, c *layerCache, cross []float32, x []float32) {
	b, d := st.beams, l.selfOut.In
	hd := d / l.heads
	scale := attnScale(hd)
	t, capa := st.len, st.cap
	L := t + 1

	// Causal self-attention: the new token attends to every cached position
	// and itself, which is exactly the causal mask's row for position t.
	l.selfQKV.Forward(k, st.qkv, x, b)
	for i := range b {
		row := st.qkv[i*3*d:]
		copy(c.k[(i*capa+t)*d:][:d], row[d:2*d])
		copy(c.v[(i*capa+t)*d:][:d], row[2*d:3*d])
	}
	sc := st.scores[:L]
	for i := range b {
		for h := range l.heads {
			q := st.qkv[i*3*d+h*hd:]
			kk := c.k[i*capa*d+h*hd:]
			v := c.v[i*capa*d+h*hd:]
			k.Gemm(false, true, 1, L, hd, scale, q, 3*d, kk, d, 0, sc, L)
			k.Softmax(sc, L)
			k.Gemm(false, false, 1, hd, L, 1, sc, L, v, d, 0, st.ctx[i*d+h*hd:], d)
		}
	}
	l.selfOut.Forward(k, st.tmp, st.ctx, b)
	k.Add(st.tmp[:b*d], x[:b*d])
	l.selfNorm.Forward(k, x, st.tmp, b)

	// Cross-attention: all beams read the same encoder keys and values, so
	// each head is one product for the whole batch of beams.
	n := st.enc.n
	l.crossQ.Forward(k, st.q, x, b)
	csc := st.scores[:b*n]
	for h := range l.heads {
		k.Gemm(false, true, b, n, hd, scale, st.q[h*hd:], d, cross[h*hd:], 2*d, 0, csc, n)
		k.Softmax(csc, n)
		k.Gemm(false, false, b, hd, n, 1, csc, n, cross[d+h*hd:], 2*d, 0, st.ctx[h*hd:], d)
	}
	l.crossOut.Forward(k, st.tmp, st.ctx, b)
	k.Add(st.tmp[:b*d], x[:b*d])
	l.crossNorm.Forward(k, x, st.tmp, b)

	l.ffn.Forward(k, x, st.mid, st.tmp, b)
}
