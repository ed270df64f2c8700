package bart

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ticket-enricher/enricher/ml/safetensors"
	"github.com/ticket-enricher/enricher/ml/tensor"
)

// This file is an independent float64 reference of BART's forward pass,
// written from modeling_bart.py with plain loops over the raw tensors (no
// packing, no fused projections, no KV cache: the decoder is run over the
// whole sequence with an explicit causal mask), and the tests of the
// engine's pieces against it.

// refModel holds a model's tensors as float64.
type refModel struct {
	cfg *Config
	w   map[string][]float64
}

// mustRefModel reads testdata/<name> as float64.
func mustRefModel(tb testing.TB, name string) *refModel {
	tb.Helper()
	dir := filepath.Join("testdata", name)
	cfg, err := readConfig(dir)
	if err != nil {
		tb.Fatalf("read config: %v", err)
	}
	f, err := safetensors.Open(filepath.Join(dir, weightsFile))
	if err != nil {
		tb.Fatalf("open weights: %v", err)
	}
	defer f.Close()
	r := &refModel{cfg: cfg, w: map[string][]float64{}}
	for _, info := range f.Tensors() {
		v, err := f.Float32(info.Name)
		if err != nil {
			tb.Fatalf("read %s: %v", info.Name, err)
		}
		r.w[info.Name] = f64(v)
	}
	return r
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// refLinear returns x[n, in] W^T + b for W [out, in].
func refLinear(x []float64, n int, w, b []float64, in, out int) []float64 {
	y := make([]float64, n*out)
	for i := range n {
		for o := range out {
			s := b[o]
			for j := range in {
				s += x[i*in+j] * w[o*in+j]
			}
			y[i*out+o] = s
		}
	}
	return y
}

// refLayerNorm normalizes each row of x (width d) in place.
func refLayerNorm(x []float64, d int, g, b []float64) {
	for r := 0; r < len(x); r += d {
		row := x[r : r+d]
		var mean, vr float64
		for _, v := range row {
			mean += v
		}
		mean /= float64(d)
		for _, v := range row {
			vr += (v - mean) * (v - mean)
		}
		vr /= float64(d)
		inv := 1 / math.Sqrt(vr+layerNormEps)
		for j := range row {
			row[j] = (row[j]-mean)*inv*g[j] + b[j]
		}
	}
}

// refAttention is multi-head attention of q [nq, d] over k, v [nk, d]:
// softmax(q k^T * hd^-0.5 + mask) v per head, where causal masks key j > i
// for query i (the decoder's mask when q and k are the same positions).
func refAttention(q, k, v []float64, nq, nk, d, heads int, causal bool) []float64 {
	hd := d / heads
	scale := math.Pow(float64(hd), -0.5)
	out := make([]float64, nq*d)
	sc := make([]float64, nk)
	for h := range heads {
		for i := range nq {
			mx := math.Inf(-1)
			for j := range nk {
				sc[j] = math.Inf(-1)
				if causal && j > i {
					continue
				}
				var s float64
				for c := range hd {
					s += q[i*d+h*hd+c] * k[j*d+h*hd+c]
				}
				sc[j] = s * scale
				mx = max(mx, sc[j])
			}
			var sum float64
			for j := range nk {
				sc[j] = math.Exp(sc[j] - mx)
				sum += sc[j]
			}
			for j := range nk {
				p := sc[j] / sum
				for c := range hd {
					out[i*d+h*hd+c] += p * v[j*d+h*hd+c]
				}
			}
		}
	}
	return out
}

// refGELU is the exact (erf) GELU.
func refGELU(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// attn runs BartAttention p (q_proj ... out_proj) of x over kv.
func (r *refModel) attn(p string, x []float64, nq int, kv []float64, nk, heads int, causal bool) []float64 {
	d := r.cfg.DModel
	lin := func(name string, in []float64, n int) []float64 {
		return refLinear(in, n, r.w[p+name+".weight"], r.w[p+name+".bias"], d, d)
	}
	ctx := refAttention(lin("q_proj", x, nq), lin("k_proj", kv, nk), lin("v_proj", kv, nk), nq, nk, d, heads, causal)
	return lin("out_proj", ctx, nq)
}

// residualNorm sets x = LN(x + y) with the LayerNorm called name.
func (r *refModel) residualNorm(name string, x, y []float64) {
	for i := range x {
		x[i] += y[i]
	}
	refLayerNorm(x, r.cfg.DModel, r.w[name+".weight"], r.w[name+".bias"])
}

// ffn sets x = LN(x + fc2(gelu(fc1(x)))) for the layer with prefix p.
func (r *refModel) ffn(p string, x []float64, n, ffn int) {
	d := r.cfg.DModel
	mid := refLinear(x, n, r.w[p+"fc1.weight"], r.w[p+"fc1.bias"], d, ffn)
	for i := range mid {
		mid[i] = refGELU(mid[i])
	}
	r.residualNorm(p+"final_layer_norm", x, refLinear(mid, n, r.w[p+"fc2.weight"], r.w[p+"fc2.bias"], ffn, d))
}

// embed returns layernorm_embedding(shared[ids] + positions[i+2]) of stack.
func (r *refModel) embed(stack string, ids []int32) []float64 {
	d := r.cfg.DModel
	x := make([]float64, len(ids)*d)
	tok, pos := r.w["model.shared.weight"], r.w["model."+stack+".embed_positions.weight"]
	for i, id := range ids {
		for j := range d {
			x[i*d+j] = tok[int(id)*d+j] + pos[(i+2)*d+j]
		}
	}
	refLayerNorm(x, d, r.w["model."+stack+".layernorm_embedding.weight"], r.w["model."+stack+".layernorm_embedding.bias"])
	return x
}

// encode is BartEncoder's last hidden state.
func (r *refModel) encode(ids []int32) []float64 {
	c, n := r.cfg, len(ids)
	x := r.embed("encoder", ids)
	for l := range c.EncoderLayers {
		p := fmt.Sprintf("model.encoder.layers.%d.", l)
		r.residualNorm(p+"self_attn_layer_norm", x, r.attn(p+"self_attn.", x, n, x, n, c.EncoderHeads, false))
		r.ffn(p, x, n, c.EncoderFFN)
	}
	return x
}

// decode returns the lm logits [len(dec), vocab] of the whole decoder
// input at once, with the causal mask.
func (r *refModel) decode(enc []float64, n int, dec []int32) []float64 {
	c, t, d := r.cfg, len(dec), r.cfg.DModel
	x := r.embed("decoder", dec)
	for l := range c.DecoderLayers {
		p := fmt.Sprintf("model.decoder.layers.%d.", l)
		r.residualNorm(p+"self_attn_layer_norm", x, r.attn(p+"self_attn.", x, t, x, t, c.DecoderHeads, true))
		r.residualNorm(p+"encoder_attn_layer_norm", x, r.attn(p+"encoder_attn.", x, t, enc, n, c.DecoderHeads, false))
		r.ffn(p, x, t, c.DecoderFFN)
	}
	bias := r.w["final_logits_bias"]
	return refLinear(x, t, r.w["model.shared.weight"], bias, d, c.Vocab)
}

// randomIDs returns n token ids below vocab.
func randomIDs(rng *rand.Rand, n, vocab int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(rng.IntN(vocab))
	}
	return ids
}

// TestModel_Reference compares Encode and a long run of DecodeStep (past
// the KV cache's initial capacity, so that growing it is covered) with the
// float64 reference, whose decoder sees the whole sequence at once under a
// causal mask.
func TestModel_Reference(t *testing.T) {
	const tol = 1e-4
	tests := []struct {
		name     string
		model    string
		inLen    int
		decSteps int
	}{
		{"tiny short", "tiny", 5, 3},
		{"tiny cache growth", "tiny", 40, initialCap + 6},
		{"odd", "odd", 17, 9},
		{"odd single token", "odd", 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := mustRefModel(t, tt.model)
			m := mustLoad(t, tt.model, tensor.Default())
			rng := rand.New(rand.NewPCG(uint64(tt.inLen), uint64(tt.decSteps)))
			ids := randomIDs(rng, tt.inLen, ref.cfg.Vocab)
			dec := append([]int32{int32(ref.cfg.DecoderStartTokenID)}, randomIDs(rng, tt.decSteps-1, ref.cfg.Vocab)...)

			enc, err := m.Encode(context.Background(), ids)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			wantEnc := ref.encode(ids)
			d := ref.cfg.DModel
			for r := range tt.inLen {
				for j, got := range enc.Hidden(r) {
					if want := wantEnc[r*d+j]; math.Abs(float64(got)-want) > tol {
						t.Fatalf("encoder [%d,%d]: got %g, want %g", r, j, got, want)
					}
				}
			}
			want := ref.decode(wantEnc, tt.inLen, dec)
			st, err := NewDecoderState(enc, 1)
			if err != nil {
				t.Fatalf("NewDecoderState: %v", err)
			}
			v := ref.cfg.Vocab
			for pos, id := range dec {
				logits, err := m.DecodeStep(context.Background(), st, []int32{id})
				if err != nil {
					t.Fatalf("DecodeStep %d: %v", pos, err)
				}
				for j, got := range logits[0] {
					if w := want[pos*v+j]; math.Abs(float64(got)-w) > tol {
						t.Fatalf("position %d logit %d: got %g, want %g", pos, j, got, w)
					}
				}
			}
			if st.Len() != len(dec) {
				t.Errorf("Len() = %d, want %d", st.Len(), len(dec))
			}
		})
	}
}

// TestLayerNorm_Forward checks the layer norm (eps 1e-5) against float64,
// on rows with a large offset where a naive float32 variance loses digits.
func TestLayerNorm_Forward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range []struct {
		name   string
		d      int
		offset float32
	}{{"centered", 64, 0}, {"offset", 48, 30}, {"odd width", 77, -3}} {
		t.Run(tt.name, func(t *testing.T) {
			rows := 5
			x := make([]float32, rows*tt.d)
			g, b := make([]float32, tt.d), make([]float32, tt.d)
			for i := range x {
				x[i] = tt.offset + float32(rng.NormFloat64())
			}
			for i := range g {
				g[i], b[i] = 1+0.3*float32(rng.NormFloat64()), 0.3*float32(rng.NormFloat64())
			}
			want := f64(x)
			refLayerNorm(want, tt.d, f64(g), f64(b))
			n := layerNorm{gamma: g, beta: b}
			n.Forward(tensor.Default(), x, x, rows)
			for i := range x {
				if math.Abs(float64(x[i])-want[i]) > 1e-5 {
					t.Fatalf("element %d: got %g, want %g", i, x[i], want[i])
				}
			}
		})
	}
}

// TestEmbeddings_Forward checks that position p reads row p+2 of the table
// (BART's offset), that the decoder's one-token-per-beam call puts every
// beam at the same position, and the embedding scale. Token id i puts i+1
// in column 0 and position row r puts r+1 in column 1, so that the rows
// differ in shape (a per-row offset would be erased by the LayerNorm).
func TestEmbeddings_Forward(t *testing.T) {
	const d, vocab, positions = 4, 5, 8
	tokens := make([]float32, vocab*d)
	pos := make([]float32, (positions+posOffset)*d)
	for id := range vocab {
		tokens[id*d] = float32(id + 1)
	}
	for r := range positions + posOffset {
		pos[r*d+1] = float32(r + 1)
	}
	gamma, beta := []float32{1, 2, 3, 4}, []float32{0.5, 0, 0, -0.5}
	tests := []struct {
		name   string
		ids    []int32
		start  int
		perRow bool
		scale  float32
		rows   []int // the position row each id must read
	}{
		{"encoder positions from 0", []int32{3, 1, 4}, 0, true, 1, []int{2, 3, 4}},
		{"decoder beams at position 5", []int32{2, 0}, 5, false, 1, []int{7, 7}},
		{"scaled", []int32{1, 1}, 0, true, 2, []int{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := embeddings{tokens: tokens, pos: pos, scale: tt.scale, d: d, norm: layerNorm{gamma: gamma, beta: beta}}
			x := make([]float32, len(tt.ids)*d)
			e.Forward(tensor.Default(), x, tt.ids, tt.start, tt.perRow)
			want := make([]float64, len(tt.ids)*d)
			for i, id := range tt.ids {
				want[i*d] = float64(tt.scale) * float64(id+1)
				want[i*d+1] = float64(tt.rows[i] + 1)
			}
			refLayerNorm(want, d, f64(gamma), f64(beta))
			for i := range x {
				if math.Abs(float64(x[i])-want[i]) > 1e-5 {
					t.Fatalf("element %d: got %g, want %g", i, x[i], want[i])
				}
			}
		})
	}
}
