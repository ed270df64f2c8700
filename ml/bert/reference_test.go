package bert

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher/ml/safetensors"
)

// This file builds tiny BERT models with random weights as complete model
// directories (configs, vocab.txt, model.safetensors written with
// safetensors.Write), and holds a plain float64 implementation of the same
// forward pass the way transformers computes it: a padded batch with an
// additive attention mask, mean pooling weighted by the mask, and
// normalization. The engine, which never pads, must agree with it.

// tinyVocab is the vocabulary of the tiny models: the specials BERT needs and
// a few words, so that texts tokenize to short sequences of known ids.
var tinyVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
	"the", "a", "cat", "dog", "sat", "on", "mat", "runs", "fast", "slow",
	"hello", "world", "login", "fails", "refund", "please", "##s", "##ing",
	".", ",", "!", "?",
}

// tinyConfig is the shape of a tiny model.
type tinyConfig struct {
	hidden, heads, layers, inter, positions, maxSeq int
}

var defaultTiny = tinyConfig{hidden: 8, heads: 2, layers: 2, inter: 16, positions: 24, maxSeq: 20}

// tinyModel is a tiny model's weights by tensor name, as float64 for the
// reference, plus its configuration.
type tinyModel struct {
	cfg     tinyConfig
	weights map[string][]float64
	shapes  map[string][]int
}

// newTinyModel draws random weights with a fixed seed.
func newTinyModel(cfg tinyConfig, seed uint64) *tinyModel {
	r := rand.New(rand.NewPCG(seed, 7))
	m := &tinyModel{cfg: cfg, weights: map[string][]float64{}, shapes: map[string][]int{}}
	add := func(name string, scale, offset float64, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		w := make([]float64, n)
		for i := range w {
			// Round through float32: the engine computes with float32 weights.
			w[i] = float64(float32(offset + scale*r.NormFloat64()))
		}
		m.weights[name], m.shapes[name] = w, shape
	}
	h := cfg.hidden
	add("embeddings.word_embeddings.weight", 1, 0, len(tinyVocab), h)
	add("embeddings.position_embeddings.weight", 0.5, 0, cfg.positions, h)
	add("embeddings.token_type_embeddings.weight", 0.5, 0, 2, h)
	add("embeddings.LayerNorm.weight", 0.1, 1, h)
	add("embeddings.LayerNorm.bias", 0.1, 0, h)
	for i := range cfg.layers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		for _, n := range []string{"query", "key", "value"} {
			add(p+"attention.self."+n+".weight", 0.5, 0, h, h)
			add(p+"attention.self."+n+".bias", 0.1, 0, h)
		}
		add(p+"attention.output.dense.weight", 0.3, 0, h, h)
		add(p+"attention.output.dense.bias", 0.1, 0, h)
		add(p+"attention.output.LayerNorm.weight", 0.1, 1, h)
		add(p+"attention.output.LayerNorm.bias", 0.1, 0, h)
		add(p+"intermediate.dense.weight", 0.5, 0, cfg.inter, h)
		add(p+"intermediate.dense.bias", 0.1, 0, cfg.inter)
		add(p+"output.dense.weight", 0.3, 0, h, cfg.inter)
		add(p+"output.dense.bias", 0.1, 0, h)
		add(p+"output.LayerNorm.weight", 0.1, 1, h)
		add(p+"output.LayerNorm.bias", 0.1, 0, h)
	}
	return m
}

// f32 returns a weight as float32.
func (m *tinyModel) f32(name string) []float32 {
	w := m.weights[name]
	out := make([]float32, len(w))
	for i, v := range w {
		out[i] = float32(v)
	}
	return out
}

// modelFiles returns the files of a model directory for m, so that tests of
// Load can break one file at a time.
func (m *tinyModel) modelFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	c := m.cfg
	cfg := map[string]any{
		"architectures": []string{"BertModel"}, "model_type": "bert", "hidden_act": "gelu",
		"hidden_size": c.hidden, "num_attention_heads": c.heads, "num_hidden_layers": c.layers,
		"intermediate_size": c.inter, "layer_norm_eps": 1e-12, "vocab_size": len(tinyVocab),
		"max_position_embeddings": c.positions, "type_vocab_size": 2, "position_embedding_type": "absolute",
	}
	mods := []map[string]any{
		{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
		{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
		{"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
	}
	pool := map[string]any{
		"word_embedding_dimension": c.hidden, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
		"pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false,
	}
	var tensors []safetensors.Tensor
	for name := range m.weights {
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: safetensors.F32, Shape: m.shapes[name], Data: f32Bytes(m.f32(name))})
	}
	var st bytes.Buffer
	if err := safetensors.Write(&st, tensors, map[string]string{"format": "pt"}); err != nil {
		tb.Fatalf("write safetensors: %v", err)
	}
	return map[string][]byte{
		configFile:      mustJSON(tb, cfg),
		sbertConfigFile: mustJSON(tb, map[string]any{"max_seq_length": c.maxSeq, "do_lower_case": false}),
		poolingFile:     mustJSON(tb, pool),
		modulesFile:     mustJSON(tb, mods),
		vocabFile:       []byte(strings.Join(tinyVocab, "\n") + "\n"),
		weightsFile:     st.Bytes(),
	}
}

// mustWriteDir writes files into a new temporary directory.
func mustWriteDir(tb testing.TB, files map[string][]byte) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// mustLoadTiny writes m as a model directory and loads it.
func mustLoadTiny(tb testing.TB, m *tinyModel) *Model {
	tb.Helper()
	dir := mustWriteDir(tb, m.modelFiles(tb))
	model, err := Load(dir)
	if err != nil {
		tb.Fatalf("Load(tiny model): %v", err)
	}
	return model
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// --- float64 reference -----------------------------------------------------

// refLinear returns x[rows, in] W^T + b for W [out, in].
func refLinear(x []float64, rows, in int, w, b []float64) []float64 {
	out := len(b)
	y := make([]float64, rows*out)
	for i := range rows {
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

// refLayerNorm normalizes each row of x (width len(g)) with biased variance.
func refLayerNorm(x, g, b []float64, eps float64) []float64 {
	w := len(g)
	y := make([]float64, len(x))
	for i := 0; i < len(x); i += w {
		var mean, v float64
		for _, e := range x[i : i+w] {
			mean += e
		}
		mean /= float64(w)
		for _, e := range x[i : i+w] {
			v += (e - mean) * (e - mean)
		}
		v /= float64(w)
		for j := range w {
			y[i+j] = (x[i+j]-mean)/math.Sqrt(v+eps)*g[j] + b[j]
		}
	}
	return y
}

// refAttention is BertSelfAttention on a padded batch: x is [batch, L, h],
// mask[b][t] is 1 for a real token; scores of padded keys get the additive
// mask transformers uses (the float32 minimum). It returns the context
// before the output projection.
func refAttention(q, k, v []float64, mask [][]float64, batch, L, heads, d int) []float64 {
	h := heads * d
	ctx := make([]float64, batch*L*h)
	scores := make([]float64, L)
	for b := range batch {
		for hd := range heads {
			for i := range L {
				mx := math.Inf(-1)
				for j := range L {
					s := 0.0
					for e := range d {
						s += q[(b*L+i)*h+hd*d+e] * k[(b*L+j)*h+hd*d+e]
					}
					s = s/math.Sqrt(float64(d)) + (1-mask[b][j])*-math.MaxFloat32
					scores[j] = s
					mx = math.Max(mx, s)
				}
				sum := 0.0
				for j := range L {
					scores[j] = math.Exp(scores[j] - mx)
					sum += scores[j]
				}
				for e := range d {
					acc := 0.0
					for j := range L {
						acc += scores[j] / sum * v[(b*L+j)*h+hd*d+e]
					}
					ctx[(b*L+i)*h+hd*d+e] = acc
				}
			}
		}
	}
	return ctx
}

// refGELU is the exact GELU.
func refGELU(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// refEmbed embeds a padded batch of token ids the way sentence-transformers
// runs BertModel, Pooling(mean) and Normalize.
func (m *tinyModel) refEmbed(ids [][]int32) [][]float64 {
	c := m.cfg
	h, W := c.hidden, m.weights
	L := 0
	for _, s := range ids {
		L = max(L, len(s))
	}
	B := len(ids)
	mask := make([][]float64, B)
	x := make([]float64, B*L*h)
	for b, s := range ids {
		mask[b] = make([]float64, L)
		for t := range L {
			id := 0 // [PAD]
			if t < len(s) {
				id, mask[b][t] = int(s[t]), 1
			}
			for j := range h {
				x[(b*L+t)*h+j] = W["embeddings.word_embeddings.weight"][id*h+j] +
					W["embeddings.position_embeddings.weight"][t*h+j] +
					W["embeddings.token_type_embeddings.weight"][j]
			}
		}
	}
	x = refLayerNorm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], 1e-12)
	rows := B * L
	for i := range c.layers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		lin := func(in []float64, name string, width int) []float64 {
			return refLinear(in, rows, width, W[p+name+".weight"], W[p+name+".bias"])
		}
		q := lin(x, "attention.self.query", h)
		k := lin(x, "attention.self.key", h)
		v := lin(x, "attention.self.value", h)
		a := lin(refAttention(q, k, v, mask, B, L, c.heads, h/c.heads), "attention.output.dense", h)
		for j := range a {
			a[j] += x[j]
		}
		x = refLayerNorm(a, W[p+"attention.output.LayerNorm.weight"], W[p+"attention.output.LayerNorm.bias"], 1e-12)
		mid := lin(x, "intermediate.dense", h)
		for j := range mid {
			mid[j] = refGELU(mid[j])
		}
		o := lin(mid, "output.dense", c.inter)
		for j := range o {
			o[j] += x[j]
		}
		x = refLayerNorm(o, W[p+"output.LayerNorm.weight"], W[p+"output.LayerNorm.bias"], 1e-12)
	}
	out := make([][]float64, B)
	for b := range B {
		out[b] = refNormalize(refMeanPool(x[b*L*h:(b+1)*L*h], mask[b], h))
	}
	return out
}

// refMeanPool is Pooling.py's mean: sum(x*mask)/max(sum(mask), 1e-9).
func refMeanPool(x, mask []float64, h int) []float64 {
	out := make([]float64, h)
	n := 0.0
	for t, mk := range mask {
		for j := range h {
			out[j] += x[t*h+j] * mk
		}
		n += mk
	}
	for j := range out {
		out[j] /= math.Max(n, 1e-9)
	}
	return out
}

// refNormalize is F.normalize(p=2): v / max(||v||, 1e-12).
func refNormalize(v []float64) []float64 {
	n := 0.0
	for _, x := range v {
		n += x * x
	}
	n = math.Max(math.Sqrt(n), 1e-12)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / n
	}
	return out
}

// maxAbsDiff64 returns the largest |a[i]-b[i]|.
func maxAbsDiff64(a []float32, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
	}
	return d
}

func randVec(r *rand.Rand, n int, scale float64) ([]float32, []float64) {
	f := make([]float32, n)
	d := make([]float64, n)
	for i := range f {
		f[i] = float32(scale * r.NormFloat64())
		d[i] = float64(f[i])
	}
	return f, d
}
