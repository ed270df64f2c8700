// Package bert computes sentence embeddings with all-MiniLM-L6-v2 in pure
// Go: the WordPiece tokenizer, the BERT encoder of transformers' BertModel,
// and sentence-transformers' mean pooling and L2 normalization, giving the
// vectors sentence-transformers gives (cosine >= 0.9999, see parity_test.go)
// without Python or cgo at run time.
//
// Texts are never padded: Embed concatenates the tokens of several texts
// into one matrix for the dense layers, which do not care where a text ends,
// and runs attention text by text.
package bert

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/ml/safetensors"
	"github.com/ticket-enricher/enricher/ml/tensor"
	"github.com/ticket-enricher/enricher/ml/tokenizer"
)

// ModelName is the name the embeddings are published under (the record's
// embedding_model), the Hugging Face id of the model this package runs.
const ModelName = "sentence-transformers/all-MiniLM-L6-v2"

// groupTokens caps the tokens of one group (one pass through the layers).
// Past about a thousand rows the matrix products run at full speed, and a
// cap keeps an arena's buffers near 16 MB whatever the batch size.
const groupTokens = 1024

// Model is a loaded all-MiniLM-L6-v2. It is immutable after Load and safe
// for concurrent use: every Embed call borrows its own scratch arena.
type Model struct {
	cfg    *config
	tok    *tokenizer.WordPiece
	file   *safetensors.File // mapped weights the layers read in place
	k      *tensor.Kernels   // dense layers: may split a product across cores
	single *tensor.Kernels   // attention heads: already run in parallel
	emb    embeddings
	layers []encoderLayer
	arenas sync.Pool // *arena
}

// arena holds one Embed call's activations, reused across calls so that the
// steady state allocates only the result vectors.
type arena struct {
	x, qkv, ctx, tmp, inter []float32
	scores                  [][]float32 // one n*n buffer per attention worker
	pool                    []float64
	single                  *tensor.Kernels
}

// Load reads the sentence-transformers model directory dir (config.json,
// sentence_bert_config.json, 1_Pooling/config.json, modules.json,
// vocab.txt, model.safetensors), checks every weight's shape and packs the
// weight matrices for the matrix products. Errors name the file and say
// what to do; they are *enricher.Error with code ENOTREADY, since the
// service cannot embed until the model is fixed.
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
	vocabPath := filepath.Join(dir, vocabFile)
	if _, err := os.Stat(vocabPath); errors.Is(err, fs.ErrNotExist) {
		return nil, missingFile(dir, vocabFile, err)
	}
	tok, err := tokenizer.LoadWordPiece(vocabPath, tokenizer.WordPieceOptions{Lowercase: cfg.lowercase, MaxLen: cfg.maxSeqLen})
	if err != nil {
		return nil, invalidFile(dir, vocabFile, err)
	}
	if tok.VocabSize() != cfg.Vocab {
		return nil, invalidFile(dir, vocabFile, fmt.Errorf("%d tokens, but config.json says vocab_size %d", tok.VocabSize(), cfg.Vocab))
	}

	weightsPath := filepath.Join(dir, weightsFile)
	if _, err := os.Stat(weightsPath); errors.Is(err, fs.ErrNotExist) {
		return nil, missingFile(dir, weightsFile, err)
	}
	f, err := safetensors.Open(weightsPath)
	if err != nil {
		return nil, invalidFile(dir, weightsFile, err)
	}
	single, err := tensor.New(tensor.Options{ISA: k.ISA(), Parallelism: 1})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m := &Model{cfg: cfg, tok: tok, file: f, k: k, single: single}
	if err := m.loadWeights(dir); err != nil {
		f.Close()
		return nil, err
	}
	// The layers read the mapping in place (embeddings, biases, norms), so
	// it must live as long as the Model; nothing else refers to it.
	runtime.AddCleanup(m, func(f *safetensors.File) { _ = f.Close() }, f)
	return m, nil
}

// loader reads tensors and checks their shapes, keeping the first error so
// that loadWeights reads as the list of weights it is.
type loader struct {
	f      *safetensors.File
	dir    string
	prefix string // "" or "bert." (checkpoints saved from BertFor* heads)
	err    error
}

// get returns the tensor name (after the prefix) with the given shape.
func (l *loader) get(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	data, err := l.f.Float32Shape(l.prefix+name, shape...)
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

// norm reads a LayerNorm's weight and bias.
func (l *loader) norm(name string, width int, eps float32) layerNorm {
	return layerNorm{gamma: l.get(name+".weight", width), beta: l.get(name+".bias", width), eps: eps}
}

// loadWeights builds the layers from the safetensors file.
func (m *Model) loadWeights(dir string) error {
	c := m.cfg
	h, eps := c.Hidden, float32(c.Eps)
	l := &loader{f: m.file, dir: dir}
	if _, ok := m.file.Info("embeddings.word_embeddings.weight"); !ok {
		if _, ok := m.file.Info("bert.embeddings.word_embeddings.weight"); ok {
			l.prefix = "bert."
		}
	}
	typ := l.get("embeddings.token_type_embeddings.weight", c.TypeVocab, h)
	m.emb = embeddings{
		word:   l.get("embeddings.word_embeddings.weight", c.Vocab, h),
		pos:    l.get("embeddings.position_embeddings.weight", c.MaxPositions, h),
		norm:   l.norm("embeddings.LayerNorm", h, eps),
		hidden: h,
	}
	if l.err == nil {
		m.emb.typ0 = typ[:h]
	}
	m.layers = make([]encoderLayer, c.Layers)
	for i := range m.layers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		q := l.get(p+"attention.self.query.weight", h, h)
		k := l.get(p+"attention.self.key.weight", h, h)
		v := l.get(p+"attention.self.value.weight", h, h)
		qb := l.get(p+"attention.self.query.bias", h)
		kb := l.get(p+"attention.self.key.bias", h)
		vb := l.get(p+"attention.self.value.bias", h)
		out := l.linear(p+"attention.output.dense", h, h)
		norm1 := l.norm(p+"attention.output.LayerNorm", h, eps)
		up := l.linear(p+"intermediate.dense", h, c.Intermediate)
		down := l.linear(p+"output.dense", c.Intermediate, h)
		norm2 := l.norm(p+"output.LayerNorm", h, eps)
		if l.err != nil {
			return l.err
		}
		m.layers[i] = encoderLayer{
			attn: selfAttention{
				qkv:     tensor.NewLinear(slices.Concat(q, k, v), slices.Concat(qb, kb, vb), h, 3*h),
				out:     out,
				norm:    norm1,
				heads:   c.Heads,
				headDim: c.headDim(),
			},
			ffn: feedForward{up: up, down: down, norm: norm2},
		}
	}
	return l.err
}

// Dim is the length of every embedding (384 for all-MiniLM-L6-v2).
func (m *Model) Dim() int { return m.cfg.Hidden }

// Name is the model's published id, recorded next to each embedding so that
// vectors from different models are never compared.
func (m *Model) Name() string { return ModelName }

// MaxTokens is the longest token sequence the model reads ([CLS] and [SEP]
// included); longer texts are truncated, as sentence-transformers does.
func (m *Model) MaxTokens() int { return m.cfg.maxSeqLen }

// Embed returns one L2-normalized embedding per text, in the order of texts.
// It tokenizes every text, sorts them by token count and runs them through
// the encoder in groups of up to groupTokens tokens, without padding. It
// checks ctx between layers and returns ctx's error if it is done.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	defer runtime.KeepAlive(m) // the layers read the mapping the cleanup closes
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	ids := make([][]int32, len(texts))
	order := make([]int, len(texts))
	for i, t := range texts {
		ids[i] = m.tok.Encode(t)
		order[i] = i
	}
	// Longest first: a group then holds texts of similar lengths, so the
	// attention workers get even shares.
	slices.SortStableFunc(order, func(a, b int) int { return len(ids[b]) - len(ids[a]) })

	a := m.getArena()
	defer m.arenas.Put(a)
	vecs := make([]float32, len(texts)*m.Dim()) // one allocation for all results
	for start := 0; start < len(order); {
		end, tokens := start, 0
		for end < len(order) && (end == start || tokens+len(ids[order[end]]) <= groupTokens) {
			tokens += len(ids[order[end]])
			end++
		}
		group := order[start:end]
		gids := make([][]int32, len(group))
		for j, i := range group {
			gids[j] = ids[i]
			out[i] = vecs[i*m.Dim() : (i+1)*m.Dim() : (i+1)*m.Dim()]
		}
		if err := m.forward(ctx, a, gids, group, out); err != nil {
			return nil, err
		}
		start = end
	}
	return out, nil
}

// forward runs one group through the encoder and writes each sequence's
// pooled, normalized vector to out[idx[j]].
func (m *Model) forward(ctx context.Context, a *arena, ids [][]int32, idx []int, out [][]float32) error {
	seqs := make([]span, len(ids))
	rows, longest := 0, 0
	for j, s := range ids {
		seqs[j] = span{off: rows, n: len(s)}
		rows += len(s)
		longest = max(longest, len(s))
	}
	a.reserve(m.cfg, rows, longest, m.k)
	x := a.x[:rows*m.cfg.Hidden]
	m.emb.Forward(m.k, x, ids, seqs)
	for i := range m.layers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("embed: layer %d: %w", i, err)
		}
		m.layers[i].Forward(m.k, a, x, seqs, rows)
	}
	for j, sp := range seqs {
		v := out[idx[j]]
		meanPool(v, x, sp, a.pool)
		normalize(v)
	}
	return nil
}

// getArena borrows an arena from the pool.
func (m *Model) getArena() *arena {
	if a, ok := m.arenas.Get().(*arena); ok {
		return a
	}
	return &arena{single: m.single}
}

// reserve grows the arena's buffers for a group of rows tokens whose
// longest sequence has longest tokens.
func (a *arena) reserve(c *config, rows, longest int, k *tensor.Kernels) {
	h := c.Hidden
	a.x = growF32(a.x, rows*h)
	a.qkv = growF32(a.qkv, rows*3*h)
	a.ctx = growF32(a.ctx, rows*h)
	a.tmp = growF32(a.tmp, rows*h)
	a.inter = growF32(a.inter, rows*c.Intermediate)
	if len(a.pool) < h {
		a.pool = make([]float64, h)
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	if len(a.scores) != workers {
		a.scores = make([][]float32, workers)
	}
	for i := range a.scores {
		a.scores[i] = growF32(a.scores[i], longest*longest)
	}
}

// growF32 returns s with length n, reallocating only when it is too small.
func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
