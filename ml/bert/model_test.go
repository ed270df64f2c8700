package bert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/ml/tensor"
)

// kernelSets are the kernels the layer tests run on: the pure-Go reference,
// the best assembly this machine has, and AVX2 when it runs here.
func kernelSets(tb testing.TB) map[string]*tensor.Kernels {
	tb.Helper()
	goK, err := tensor.New(tensor.Options{ISA: tensor.ISAGo})
	if err != nil {
		tb.Fatalf("tensor.New(go): %v", err)
	}
	sets := map[string]*tensor.Kernels{"go": goK, tensor.Default().ISA().String(): tensor.Default()}
	if avx2, err := tensor.New(tensor.Options{ISA: tensor.ISAAVX2}); err == nil {
		sets["avx2"] = avx2 // the fallback of AVX-512 machines, when this one has both
	}
	return sets
}

func TestSelfAttention_Forward(t *testing.T) {
	const heads, d = 4, 4
	h := heads * d
	r := rand.New(rand.NewPCG(1, 2))
	w := map[string][]float64{}
	f := map[string][]float32{}
	for _, n := range []string{"q", "k", "v", "o"} {
		f[n+"w"], w[n+"w"] = randVec(r, h*h, 0.5)
		f[n+"b"], w[n+"b"] = randVec(r, h, 0.1)
	}
	f["g"], w["g"] = randVec(r, h, 0.1)
	for i := range f["g"] {
		f["g"][i]++
		w["g"][i]++
	}
	f["beta"], w["beta"] = randVec(r, h, 0.1)

	tests := []struct {
		name string
		lens []int
	}{
		{"one token", []int{1}},
		{"one sequence", []int{9}},
		{"mixed lengths", []int{3, 7, 1, 5}},
		{"longest last", []int{2, 2, 11}},
		// Enough work for attend to spread heads over goroutines.
		{"parallel heads", []int{130, 97, 3}},
	}
	for kname, k := range kernelSets(t) {
		for _, tt := range tests {
			t.Run(kname+"/"+tt.name, func(t *testing.T) {
				single, err := tensor.New(tensor.Options{ISA: k.ISA(), Parallelism: 1})
				if err != nil {
					t.Fatal(err)
				}
				att := selfAttention{
					qkv:   tensor.NewLinear(concat(f["qw"], f["kw"], f["vw"]), concat(f["qb"], f["kb"], f["vb"]), h, 3*h),
					out:   tensor.NewLinear(f["ow"], f["ob"], h, h),
					norm:  layerNorm{gamma: f["g"], beta: f["beta"], eps: 1e-12},
					heads: heads, headDim: d,
				}
				L, rows := 0, 0
				var seqs []span
				for _, n := range tt.lens {
					seqs = append(seqs, span{off: rows, n: n})
					rows += n
					L = max(L, n)
				}
				x32, x64 := randVec(r, rows*h, 1)
				// Reference: the padded batch with its mask.
				B := len(tt.lens)
				pad := make([]float64, B*L*h)
				mask := make([][]float64, B)
				for b, sp := range seqs {
					mask[b] = make([]float64, L)
					for j := range sp.n {
						mask[b][j] = 1
						copy(pad[(b*L+j)*h:][:h], x64[(sp.off+j)*h:][:h])
					}
				}
				q := refLinear(pad, B*L, h, w["qw"], w["qb"])
				kk := refLinear(pad, B*L, h, w["kw"], w["kb"])
				v := refLinear(pad, B*L, h, w["vw"], w["vb"])
				o := refLinear(refAttention(q, kk, v, mask, B, L, heads, d), B*L, h, w["ow"], w["ob"])
				for i := range o {
					o[i] += pad[i]
				}
				want := refLayerNorm(o, w["g"], w["beta"], 1e-12)

				a := &arena{single: single}
				a.reserve(&config{Hidden: h, Intermediate: 4 * h}, rows, L, k)
				att.Forward(k, a, x32, seqs, rows)
				for b, sp := range seqs {
					for j := range sp.n {
						got := x32[(sp.off+j)*h:][:h]
						if diff := maxAbsDiff64(got, want[(b*L+j)*h:][:h]); diff > 2e-5 {
							t.Fatalf("sequence %d token %d: got %v, want %v (max diff %.2e)", b, j, got, want[(b*L+j)*h:][:h], diff)
						}
					}
				}
			})
		}
	}
}

func concat(s ...[]float32) []float32 {
	var out []float32
	for _, x := range s {
		out = append(out, x...)
	}
	return out
}

func TestLayerNorm_Forward(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name         string
		width, rows  int
		scale, shift float64
	}{
		{"unit rows", 384, 3, 1, 0},
		{"large offset", 384, 2, 0.01, 1000},
		{"narrow", 5, 4, 2, -3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x32, x64 := randVec(r, tt.width*tt.rows, tt.scale)
			for i := range x32 {
				x32[i] += float32(tt.shift)
				x64[i] = float64(x32[i])
			}
			g32, g64 := randVec(r, tt.width, 1)
			b32, b64 := randVec(r, tt.width, 1)
			n := layerNorm{gamma: g32, beta: b32, eps: 1e-12}
			want := refLayerNorm(x64, g64, b64, 1e-12)
			apart := make([]float32, len(x32))
			n.Forward(tensor.Default(), apart, x32, tt.rows)
			if diff := maxAbsDiff64(apart, want); diff > 1e-5 {
				t.Errorf("LayerNorm into another buffer: max diff %.2e from the float64 reference, want <= 1e-5", diff)
			}
			n.Forward(tensor.Default(), x32, x32, tt.rows)
			if diff := maxAbsDiff64(x32, want); diff > 1e-5 {
				t.Errorf("LayerNorm in place: max diff %.2e from the float64 reference, want <= 1e-5", diff)
			}
		})
	}
}

func TestMeanPool(t *testing.T) {
	tests := []struct {
		name string
		x    []float32 // rows of width 2
		sp   span
		want []float32
	}{
		{"one row", []float32{1, 2, 9, 9}, span{0, 1}, []float32{1, 2}},
		{"middle rows only", []float32{9, 9, 1, 2, 3, 6, 9, 9}, span{1, 2}, []float32{2, 4}},
		{"negative", []float32{-1, 1, -3, 3}, span{0, 2}, []float32{-2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]float32, 2)
			meanPool(got, tt.x, tt.sp, make([]float64, 2))
			mask := make([]float64, len(tt.x)/2)
			for i := range tt.sp.n {
				mask[tt.sp.off+i] = 1
			}
			x64 := make([]float64, len(tt.x))
			for i, v := range tt.x {
				x64[i] = float64(v)
			}
			ref := refMeanPool(x64, mask, 2)
			for i := range got {
				if got[i] != tt.want[i] || float64(got[i]) != ref[i] {
					t.Fatalf("meanPool = %v, want %v (reference %v)", got, tt.want, ref)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		v    []float32
		want []float32
	}{
		{"3-4-5", []float32{3, 4}, []float32{0.6, 0.8}},
		{"already unit", []float32{0, -1, 0}, []float32{0, -1, 0}},
		{"zero stays zero", []float32{0, 0}, []float32{0, 0}},
		{"tiny", []float32{1e-30, 0}, []float32{1e-30 / 1e-12, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := append([]float32(nil), tt.v...)
			normalize(got)
			v64 := make([]float64, len(tt.v))
			for i, x := range tt.v {
				v64[i] = float64(x)
			}
			ref := refNormalize(v64)
			for i := range got {
				if math.Abs(float64(got[i]-tt.want[i])) > 1e-7 || math.Abs(float64(got[i])-ref[i]) > 1e-7 {
					t.Fatalf("normalize(%v) = %v, want %v (reference %v)", tt.v, got, tt.want, ref)
				}
			}
		})
	}
}

// tinyTexts tokenize to sequences from 2 ([CLS] [SEP]) to past the tiny
// models' max_seq_length of 20 (truncated).
var tinyTexts = []string{
	"",
	"hello",
	"the cat sat on the mat.",
	"refund please!",
	"login fails, login fails, login fails? the dogs runs fast and slow, hello world. " +
		"the cat sat on the mat and the dog sat on the cat.",
	"unknownword hello",
	"cats dogs running",
}

func TestModel_Embed_reference(t *testing.T) {
	tiny := newTinyModel(defaultTiny, 42)
	m := mustLoadTiny(t, tiny)
	ids := make([][]int32, len(tinyTexts))
	for i, s := range tinyTexts {
		ids[i] = m.tok.Encode(s)
	}
	if got := len(ids[4]); got != defaultTiny.maxSeq {
		t.Fatalf("long text has %d tokens, want %d (truncated)", got, defaultTiny.maxSeq)
	}
	want := tiny.refEmbed(ids)
	got, err := m.Embed(context.Background(), tinyTexts)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(got) != len(tinyTexts) {
		t.Fatalf("Embed returned %d vectors, want %d", len(got), len(tinyTexts))
	}
	for i := range tinyTexts {
		if diff := maxAbsDiff64(got[i], want[i]); diff > 1e-5 {
			t.Errorf("Embed(%q) = %v, want %v (max diff %.2e)", tinyTexts[i], got[i], want[i], diff)
		}
	}
}

func TestModel_Embed_batchInvariance(t *testing.T) {
	m := mustLoadMiniLM(t)
	gold := mustReadGolden(t)
	// Mixed lengths: short subjects, full tickets, a truncated long text.
	var batch []string
	for i := 0; i < len(gold); i += 23 {
		batch = append(batch, gold[i].Text)
	}
	together, err := m.Embed(context.Background(), batch)
	if err != nil {
		t.Fatalf("Embed(batch): %v", err)
	}
	for i, text := range batch {
		t.Run(fmt.Sprintf("text %d", i), func(t *testing.T) {
			alone, err := m.Embed(context.Background(), []string{text})
			if err != nil {
				t.Fatalf("Embed(alone): %v", err)
			}
			if _, diff := compare(alone[0], together[i]); diff > 1e-6 {
				t.Errorf("Embed(%.40q) alone and in a batch of %d differ by %.2e, want <= 1e-6", text, len(batch), diff)
			}
		})
	}
}

func TestModel_Embed_empty(t *testing.T) {
	m := mustLoadTiny(t, newTinyModel(defaultTiny, 1))
	got, err := m.Embed(context.Background(), nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Embed(nil) = %v, %v; want an empty slice and no error", got, err)
	}
}

// countdownCtx is a context whose Err turns to Canceled after n calls: a
// seam to cancel Embed between two layers deterministically.
type countdownCtx struct {
	context.Context
	mu sync.Mutex
	n  int
}

func (c *countdownCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n <= 0 {
		return context.Canceled
	}
	c.n--
	return nil
}

func TestModel_Embed_cancel(t *testing.T) {
	m := mustLoadTiny(t, newTinyModel(defaultTiny, 5))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"before start", cancelled},
		{"after the first layer", &countdownCtx{Context: context.Background(), n: 2}},
		{"before the last layer", &countdownCtx{Context: context.Background(), n: defaultTiny.layers}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Embed(tt.ctx, tinyTexts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Embed error = %v, want context.Canceled", err)
			}
			if got != nil {
				t.Errorf("Embed returned %d vectors with its error, want nil", len(got))
			}
		})
	}
	// The model still works after a cancelled call.
	if _, err := m.Embed(context.Background(), tinyTexts); err != nil {
		t.Fatalf("Embed after cancellation: %v", err)
	}
}

func TestModel_Embed_concurrent(t *testing.T) {
	m := mustLoadTiny(t, newTinyModel(defaultTiny, 9))
	want, err := m.Embed(context.Background(), tinyTexts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			texts := tinyTexts[g%len(tinyTexts):]
			got, err := m.Embed(context.Background(), texts)
			if err != nil {
				errs <- err
				return
			}
			off := g % len(tinyTexts)
			for i := range got {
				if _, diff := compare(got[i], want[off+i]); diff > 1e-6 {
					errs <- fmt.Errorf("goroutine %d, text %q: differs by %.2e", g, texts[i], diff)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestModel_DimName(t *testing.T) {
	m := mustLoadTiny(t, newTinyModel(defaultTiny, 3))
	if got := m.Dim(); got != defaultTiny.hidden {
		t.Errorf("Dim() = %d, want %d", got, defaultTiny.hidden)
	}
	if got := m.Name(); got != "sentence-transformers/all-MiniLM-L6-v2" {
		t.Errorf("Name() = %q, want sentence-transformers/all-MiniLM-L6-v2", got)
	}
	if got := m.MaxTokens(); got != defaultTiny.maxSeq {
		t.Errorf("MaxTokens() = %d, want %d", got, defaultTiny.maxSeq)
	}
	v, err := m.Embed(context.Background(), []string{"hello world"})
	if err != nil {
		t.Fatal(err)
	}
	if len(v[0]) != m.Dim() {
		t.Errorf("embedding has %d dims, want %d", len(v[0]), m.Dim())
	}
	var n float64
	for _, x := range v[0] {
		n += float64(x) * float64(x)
	}
	if math.Abs(math.Sqrt(n)-1) > 1e-6 {
		t.Errorf("embedding norm = %v, want 1", math.Sqrt(n))
	}
}

func TestLoad_errors(t *testing.T) {
	tiny := newTinyModel(defaultTiny, 11)
	// reshaped returns the tiny model with one tensor's shape changed.
	reshaped := func(name string, shape ...int) map[string][]byte {
		m := newTinyModel(defaultTiny, 11)
		n := 1
		for _, s := range shape {
			n *= s
		}
		m.weights[name], m.shapes[name] = make([]float64, n), shape
		return m.modelFiles(t)
	}
	without := func(name string) map[string][]byte {
		m := newTinyModel(defaultTiny, 11)
		delete(m.weights, name)
		delete(m.shapes, name)
		return m.modelFiles(t)
	}
	edit := func(file, content string) map[string][]byte {
		files := tiny.modelFiles(t)
		if content == "" {
			delete(files, file)
		} else {
			files[file] = []byte(content)
		}
		return files
	}
	pool := `{"word_embedding_dimension": 8, "pooling_mode_cls_token": %t, "pooling_mode_mean_tokens": %t, "pooling_mode_max_tokens": %t, "pooling_mode_mean_sqrt_len_tokens": false}`
	tests := []struct {
		name  string
		files map[string][]byte
		want  []string // substrings of the error
	}{
		{"no weights", edit(weightsFile, ""), []string{"model.safetensors is missing", "enricher models pull"}},
		{"no vocab", edit(vocabFile, ""), []string{"vocab.txt is missing", "enricher models pull"}},
		{"no config", edit(configFile, ""), []string{"config.json is missing"}},
		{"no pooling config", edit(poolingFile, ""), []string{"1_Pooling/config.json is missing"}},
		{"no sentence-bert config", edit(sbertConfigFile, ""), []string{"sentence_bert_config.json is missing"}},
		{"bad config JSON", edit(configFile, "{not json"), []string{"config.json", "invalid character"}},
		{"cls pooling", edit(poolingFile, fmt.Sprintf(pool, true, false, false)), []string{"1_Pooling/config.json", "cls=true", "only mean pooling"}},
		{"max pooling", edit(poolingFile, fmt.Sprintf(pool, false, false, true)), []string{"max=true", "only mean pooling"}},
		{"mean plus max", edit(poolingFile, fmt.Sprintf(pool, false, true, true)), []string{"only mean pooling"}},
		{"no Normalize module", edit(modulesFile, `[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]`), []string{"modules.json", "Normalize"}},
		{"seq longer than positions", edit(sbertConfigFile, `{"max_seq_length": 100}`), []string{"max_seq_length 100 exceeds max_position_embeddings 24"}},
		{"tanh gelu", edit(configFile, strings.Replace(string(tiny.modelFiles(t)[configFile]), `"gelu"`, `"gelu_new"`, 1)), []string{`hidden_act "gelu_new"`}},
		{"vocab size mismatch", edit(vocabFile, strings.Join(tinyVocab[:20], "\n")), []string{"vocab.txt", "20 tokens", "vocab_size 27"}},
		{"missing tensor", without("encoder.layer.1.output.dense.bias"), []string{"model.safetensors", `"encoder.layer.1.output.dense.bias" is missing`}},
		{"wrong shape", reshaped("encoder.layer.0.attention.self.key.weight", 8, 7), []string{"model.safetensors", `"encoder.layer.0.attention.self.key.weight" has shape [8 7], want [8 8]`}},
		{"wrong word embeddings", reshaped("embeddings.word_embeddings.weight", 26, 8), []string{"word_embeddings.weight", "[26 8]"}},
		{"corrupt safetensors", edit(weightsFile, "garbage that is not a safetensors file"), []string{"model.safetensors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mustWriteDir(t, tt.files)
			m, err := Load(dir)
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			if m != nil {
				t.Errorf("Load returned a model with its error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error = %q, want it to contain %q", err, w)
				}
			}
			if code := enricher.ErrorCode(err); code != enricher.ENOTREADY {
				t.Errorf("Load error code = %q, want %q", code, enricher.ENOTREADY)
			}
		})
	}
	t.Run("no directory", func(t *testing.T) {
		_, err := Load(t.TempDir() + "/nope")
		if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "enricher models pull") {
			t.Fatalf("Load(missing dir) error = %v, want it to say the directory does not exist and how to pull", err)
		}
	})
}
