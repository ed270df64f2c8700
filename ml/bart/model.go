// Package bart runs the forward pass of a BART encoder-decoder
// (transformers' BartForConditionalGeneration, as distilbart-cnn-6-6 uses
// it) in pure Go: Encode runs the encoder once per input and precomputes
// every decoder layer's cross-attention keys and values; DecodeStep then
// advances a batch of beams by one token over a self-attention KV cache and
// returns each beam's next-token logits. The outputs match transformers
// within 1e-4 (see parity_test.go); the search over them (greedy, beam) is
// built on top of this API.
package bart

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/ml/safetensors"
	"github.com/ticket-enricher/enricher/ml/tensor"
)

// Model is a loaded BART. It is immutable after Load and safe for
// concurrent use; each Encode allocates its own output and each
// DecoderState its own cache.
type Model struct {
	cfg     *Config
	file    *safetensors.File
	k       *tensor.Kernels
	encEmb  embeddings
	decEmb  embeddings
	enc     []encoderLayer
	dec     []decoderLayer
	lmHead  *tensor.PackedB // [d] -> [vocab], tied to model.shared
	logitsB []float32       // final_logits_bias [vocab]
}

// Load reads the transformers model directory dir (config.json and
// model.safetensors, F32, F16 or BF16 weights), checks every weight's shape
// and packs the weight matrices. Errors name the file and say what is
// wrong; they are *enricher.Error with code ENOTREADY, since the service
// cannot summarize until the model is fixed.
func Load(dir string) (*Model, error) {
	return load(dir, tensor.Default())
}

// load is Load with the kernels chosen by the caller, so that tests can run
// the pure-Go kernels too.
func load(dir string, k *tensor.Kernels) (*Model, error) {
	if st, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, enricher.Errorf(enricher.ENOTREADY, "load model %s: directory does not exist; %s: %w", dir, pullHint, err)
		}
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, enricher.Errorf(enricher.ENOTREADY, "load model %s: not a directory; %s", dir, pullHint)
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, weightsFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, missingFile(dir, weightsFile, err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, invalidFile(dir, weightsFile, err)
	}
	m := &Model{cfg: cfg, file: f, k: k}
	if err := m.loadWeights(dir); err != nil {
		f.Close()
		return nil, err
	}
	// F32 weights (embeddings, biases, norms) are read from the mapping in
	// place, so it must live as long as the Model.
	runtime.AddCleanup(m, func(f *safetensors.File) { _ = f.Close() }, f)
	return m, nil
}

// loader reads tensors and checks their shapes, keeping the first error so
// that loadWeights reads as the list of weights it is.
type loader struct {
	f   *safetensors.File
	dir string
	err error
}

// has reports whether the file holds a tensor called name.
func (l *loader) has(name string) bool {
	_, ok := l.f.Info(name)
	return ok
}

// get returns the tensor name with the given shape as float32s.
func (l *loader) get(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	data, err := l.f.Float32Shape(name, shape...)
	if err != nil {
		l.err = invalidFile(l.dir, weightsFile, err)
		return nil
	}
	return data
}

// linear reads a dense layer's weight [out, in] and bias [out].
func (l *loader) linear(name string, in, out int) tensor.Linear {
	w := l.get(name+".weight", out, in)
	b := l.get(name+".bias", out)
	if l.err != nil {
		return tensor.Linear{}
	}
	return tensor.NewLinear(w, b, in, out)
}

// fused reads several dense layers of the same input width as one, their
// outputs side by side (q, k, v into one product of width 3d).
func (l *loader) fused(in, out int, names ...string) tensor.Linear {
	var ws, bs [][]float32
	for _, n := range names {
		ws = append(ws, l.get(n+".weight", out, in))
		bs = append(bs, l.get(n+".bias", out))
	}
	if l.err != nil {
		return tensor.Linear{}
	}
	return tensor.NewLinear(slices.Concat(ws...), slices.Concat(bs...), in, out*len(names))
}

// norm reads a LayerNorm's weight and bias.
func (l *loader) norm(name string, width int) layerNorm {
	return layerNorm{gamma: l.get(name+".weight", width), beta: l.get(name+".bias", width)}
}

// sharedName finds the token embedding table: model.shared.weight, or one
// of the stacks' embed_tokens when a checkpoint saved the tied copy there.
func (l *loader) sharedName() string {
	for _, n := range []string{"model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"} {
		if l.has(n) {
			return n
		}
	}
	return "model.shared.weight" // missing: get reports it
}

// loadWeights builds the layers from the safetensors file.
func (m *Model) loadWeights(dir string) error {
	c := m.cfg
	d := c.DModel
	l := &loader{f: m.file, dir: dir}
	shared := l.get(l.sharedName(), c.Vocab, d)
	scale := float32(1)
	if c.ScaleEmbedding {
		scale = float32(math.Sqrt(float64(d)))
	}
	m.encEmb = embeddings{tokens: shared, scale: scale, d: d,
		pos:  l.get("model.encoder.embed_positions.weight", c.MaxPositions+posOffset, d),
		norm: l.norm("model.encoder.layernorm_embedding", d)}
	m.decEmb = embeddings{tokens: shared, scale: scale, d: d,
		pos:  l.get("model.decoder.embed_positions.weight", c.MaxPositions+posOffset, d),
		norm: l.norm("model.decoder.layernorm_embedding", d)}

	m.enc = make([]encoderLayer, c.EncoderLayers)
	for i := range m.enc {
		p := fmt.Sprintf("model.encoder.layers.%d.", i)
		m.enc[i] = encoderLayer{
			qkv:   l.fused(d, d, p+"self_attn.q_proj", p+"self_attn.k_proj", p+"self_attn.v_proj"),
			out:   l.linear(p+"self_attn.out_proj", d, d),
			norm:  l.norm(p+"self_attn_layer_norm", d),
			ffn:   l.ffn(p, d, c.EncoderFFN),
			heads: c.EncoderHeads,
		}
	}
	m.dec = make([]decoderLayer, c.DecoderLayers)
	for i := range m.dec {
		p := fmt.Sprintf("model.decoder.layers.%d.", i)
		m.dec[i] = decoderLayer{
			selfQKV:   l.fused(d, d, p+"self_attn.q_proj", p+"self_attn.k_proj", p+"self_attn.v_proj"),
			selfOut:   l.linear(p+"self_attn.out_proj", d, d),
			selfNorm:  l.norm(p+"self_attn_layer_norm", d),
			crossQ:    l.linear(p+"encoder_attn.q_proj", d, d),
			crossKV:   l.fused(d, d, p+"encoder_attn.k_proj", p+"encoder_attn.v_proj"),
			crossOut:  l.linear(p+"encoder_attn.out_proj", d, d),
			crossNorm: l.norm(p+"encoder_attn_layer_norm", d),
			ffn:       l.ffn(p, d, c.DecoderFFN),
			heads:     c.DecoderHeads,
		}
	}

	// The LM head is tied to the token table unless the checkpoint carries
	// its own; final_logits_bias may be absent (transformers then uses
	// zeros, as its _keys_to_ignore_on_load_missing says).
	head := shared
	switch {
	case l.has("lm_head.weight"):
		head = l.get("lm_head.weight", c.Vocab, d)
	case c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings && l.err == nil:
		l.err = invalidFile(dir, weightsFile, errors.New(`tensor "lm_head.weight" is missing (tie_word_embeddings is false)`))
	}
	if l.has("final_logits_bias") {
		m.logitsB = l.get("final_logits_bias", 1, c.Vocab)
	} else {
		m.logitsB = make([]float32, c.Vocab)
	}
	if l.err != nil {
		return l.err
	}
	m.lmHead = tensor.PackB(true, head, d, d, c.Vocab)
	return nil
}

// ffn reads a layer's fc1, fc2 and final_layer_norm.
func (l *loader) ffn(prefix string, d, ffn int) feedForward {
	return feedForward{
		fc1:  l.linear(prefix+"fc1", d, ffn),
		fc2:  l.linear(prefix+"fc2", ffn, d),
		norm: l.norm(prefix+"final_layer_norm", d),
	}
}

// Config returns the model's configuration (a copy: the model is immutable).
func (m *Model) Config() Config { return *m.cfg }

// EncoderOutput is the encoder's result for one input: its last hidden
// state and, computed once here instead of at every decoding step, the
// cross-attention keys and values of every decoder layer. It is read-only
// and may be shared by several DecoderStates.
type EncoderOutput struct {
	model *Model
	n     int
	// hidden is [n, d], the encoder's last_hidden_state.
	hidden []float32
	// cross[i] is decoder layer i's encoder_attn keys then values, [n, 2d].
	cross [][]float32
}

// Len is the number of input tokens.
func (e *EncoderOutput) Len() int { return e.n }

// Hidden returns row t of the encoder's last hidden state (read-only).
func (e *EncoderOutput) Hidden(t int) []float32 {
	d := e.model.cfg.DModel
	return e.hidden[t*d : (t+1)*d : (t+1)*d]
}

// Encode runs the encoder over ids (the input's tokens, <s> ... </s>
// included, at most max_position_embeddings of them). It checks ctx between
// layers and returns ctx's error if it is done. Invalid ids give an
// EINVALID *enricher.Error.
func (m *Model) Encode(ctx context.Context, ids []int32) (*EncoderOutput, error) {
	defer runtime.KeepAlive(m) // the layers read the mapping the cleanup closes
	c := m.cfg
	n, d := len(ids), c.DModel
	switch {
	case n == 0:
		return nil, enricher.Errorf(enricher.EINVALID, "encode: no tokens")
	case n > c.MaxPositions:
		return nil, enricher.Errorf(enricher.EINVALID, "encode: %d tokens exceed max_position_embeddings %d", n, c.MaxPositions)
	}
	if err := m.checkIDs(ids); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	s := &encScratch{
		qkv:    make([]float32, n*3*d),
		ctx:    make([]float32, n*d),
		tmp:    make([]float32, n*d),
		mid:    make([]float32, n*c.EncoderFFN),
		scores: make([]float32, n*n),
	}
	x := make([]float32, n*d)
	m.encEmb.Forward(m.k, x, ids, 0, true)
	for i := range m.enc {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("encode: layer %d: %w", i, err)
		}
		m.enc[i].Forward(m.k, s, x, n)
	}
	out := &EncoderOutput{model: m, n: n, hidden: x, cross: make([][]float32, len(m.dec))}
	for i := range m.dec {
		kv := make([]float32, n*2*d)
		m.dec[i].crossKV.Forward(m.k, kv, x, n)
		out.cross[i] = kv
	}
	return out, nil
}

// checkIDs refuses token ids outside the vocabulary, which would otherwise
// read outside the embedding table.
func (m *Model) checkIDs(ids []int32) error {
	for i, id := range ids {
		if id < 0 || int(id) >= m.cfg.Vocab {
			return enricher.Errorf(enricher.EINVALID, "token %d is id %d, outside the vocabulary [0, %d)", i, id, m.cfg.Vocab)
		}
	}
	return nil
}
