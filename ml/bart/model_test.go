package bart

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/ml/safetensors"
	"github.com/ticket-enricher/enricher/ml/tensor"
)

// synthConfig is a minimal valid config.json for synthetic models.
func synthConfig() map[string]any {
	return map[string]any{
		"model_type": "bart", "d_model": 8, "encoder_layers": 1, "decoder_layers": 2,
		"encoder_attention_heads": 2, "decoder_attention_heads": 4,
		"encoder_ffn_dim": 12, "decoder_ffn_dim": 10, "vocab_size": 20,
		"max_position_embeddings": 16, "activation_function": "gelu", "scale_embedding": false,
	}
}

// synthShapes lists every tensor a model of config c needs, with its shape.
func synthShapes(c map[string]any) map[string][]int {
	d, v, p := c["d_model"].(int), c["vocab_size"].(int), c["max_position_embeddings"].(int)
	s := map[string][]int{
		"model.shared.weight": {v, d}, "final_logits_bias": {1, v},
	}
	for _, stack := range []string{"encoder", "decoder"} {
		s["model."+stack+".embed_positions.weight"] = []int{p + 2, d}
		s["model."+stack+".layernorm_embedding.weight"] = []int{d}
		s["model."+stack+".layernorm_embedding.bias"] = []int{d}
		layers, ffn := c[stack+"_layers"].(int), c[stack+"_ffn_dim"].(int)
		attns := []string{"self_attn"}
		if stack == "decoder" {
			attns = append(attns, "encoder_attn")
		}
		for i := range layers {
			pre := fmt.Sprintf("model.%s.layers.%d.", stack, i)
			for _, a := range attns {
				for _, proj := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
					s[pre+a+"."+proj+".weight"] = []int{d, d}
					s[pre+a+"."+proj+".bias"] = []int{d}
				}
				s[pre+a+"_layer_norm.weight"] = []int{d}
				s[pre+a+"_layer_norm.bias"] = []int{d}
			}
			s[pre+"fc1.weight"], s[pre+"fc1.bias"] = []int{ffn, d}, []int{ffn}
			s[pre+"fc2.weight"], s[pre+"fc2.bias"] = []int{d, ffn}, []int{d}
			s[pre+"final_layer_norm.weight"], s[pre+"final_layer_norm.bias"] = []int{d}, []int{d}
		}
	}
	return s
}

// synthTensors returns random tensors of the given shapes in dtype dt.
func synthTensors(tb testing.TB, shapes map[string][]int, dt safetensors.DType, seed uint64) []safetensors.Tensor {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []safetensors.Tensor
	for _, n := range names {
		elems := 1
		for _, x := range shapes[n] {
			elems *= x
		}
		var buf []byte
		for range elems {
			v := float32(0.3 * rng.NormFloat64())
			if strings.HasSuffix(n, "norm.weight") || strings.HasSuffix(n, "layernorm_embedding.weight") {
				v += 1
			}
			switch dt {
			case safetensors.F16:
				buf = binary.LittleEndian.AppendUint16(buf, safetensors.Float32ToFloat16(v))
			default:
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		}
		out = append(out, safetensors.Tensor{Name: n, DType: dt, Shape: shapes[n], Data: buf})
	}
	return out
}

// mustWriteModel writes config.json (unless cfg is nil) and
// model.safetensors (unless tensors is nil) into a new directory.
func mustWriteModel(tb testing.TB, cfg map[string]any, tensors []safetensors.Tensor) string {
	tb.Helper()
	dir := tb.TempDir()
	if cfg != nil {
		data, err := json.Marshal(cfg)
		if err != nil {
			tb.Fatalf("marshal config: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, configFile), data, 0o644); err != nil {
			tb.Fatalf("write config: %v", err)
		}
	}
	if tensors != nil {
		var b bytes.Buffer
		if err := safetensors.Write(&b, tensors, nil); err != nil {
			tb.Fatalf("write safetensors: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, weightsFile), b.Bytes(), 0o644); err != nil {
			tb.Fatalf("write weights: %v", err)
		}
	}
	return dir
}

// mustSynthModel writes and loads a valid synthetic model.
func mustSynthModel(tb testing.TB) *Model {
	tb.Helper()
	cfg := synthConfig()
	dir := mustWriteModel(tb, cfg, synthTensors(tb, synthShapes(cfg), safetensors.F32, 1))
	m, err := Load(dir)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return m
}

func TestLoad(t *testing.T) {
	base := synthConfig()
	withCfg := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range base {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	good := synthTensors(t, synthShapes(base), safetensors.F32, 1)
	without := func(name string) []safetensors.Tensor {
		return slices.DeleteFunc(slices.Clone(good), func(x safetensors.Tensor) bool { return x.Name == name })
	}
	reshaped := func(name string, shape []int) []safetensors.Tensor {
		out := slices.Clone(good)
		for i := range out {
			if out[i].Name == name {
				elems := 1
				for _, x := range shape {
					elems *= x
				}
				out[i].Shape = shape
				out[i].Data = make([]byte, 4*elems)
			}
		}
		return out
	}
	tests := []struct {
		name    string
		cfg     map[string]any
		tensors []safetensors.Tensor
		wantErr string // "" means success
	}{
		{"valid f32", base, good, ""},
		{"valid f16", base, synthTensors(t, synthShapes(base), safetensors.F16, 1), ""},
		{"no final_logits_bias", base, without("final_logits_bias"), ""},
		{"missing config", nil, good, "config.json is missing"},
		{"missing weights", base, nil, "model.safetensors is missing"},
		{"missing tensor", base, without("model.decoder.layers.1.encoder_attn.k_proj.weight"), `tensor "model.decoder.layers.1.encoder_attn.k_proj.weight" is missing`},
		{"missing shared", base, without("model.shared.weight"), `tensor "model.shared.weight" is missing`},
		{"wrong shape", base, reshaped("model.encoder.layers.0.fc1.weight", []int{8, 12}), `tensor "model.encoder.layers.0.fc1.weight" has shape [8 12], want [12 8]`},
		{"wrong positions", base, reshaped("model.decoder.embed_positions.weight", []int{16, 8}), "has shape [16 8], want [18 8]"},
		{"untied head missing", withCfg("tie_word_embeddings", false), good, `"lm_head.weight" is missing`},
		{"untied head", withCfg("tie_word_embeddings", false), append(slices.Clone(good), safetensors.Tensor{Name: "lm_head.weight", DType: safetensors.F32, Shape: []int{20, 8}, Data: make([]byte, 20*8*4)}), ""},
		{"not bart", withCfg("model_type", "t5"), good, `model_type "t5" is not bart`},
		{"relu", withCfg("activation_function", "relu"), good, `activation_function "relu" is not supported`},
		{"pre-norm", withCfg("normalize_before", true), good, "normalize_before true"},
		{"final layer norm", withCfg("add_final_layer_norm", true), good, "add_final_layer_norm true"},
		{"heads do not divide", withCfg("decoder_attention_heads", 3), good, "not a multiple"},
		{"zero layers", withCfg("encoder_layers", 0), good, "must all be positive"},
		{"start token outside vocab", withCfg("decoder_start_token_id", 20), good, "decoder_start_token_id 20 is outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mustWriteModel(t, tt.cfg, tt.tensors)
			m, err := Load(dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: got error %v, want nil", err)
				}
				if got := m.Config().DModel; got != 8 {
					t.Errorf("Config().DModel = %d, want 8", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load: got nil error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load: got error %q, want it to contain %q", err, tt.wantErr)
			}
			if code := enricher.ErrorCode(err); code != enricher.ENOTREADY {
				t.Errorf("error code: got %s, want %s", code, enricher.ENOTREADY)
			}
		})
	}
	t.Run("no directory", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "absent"))
		if code := enricher.ErrorCode(err); code != enricher.ENOTREADY || !strings.Contains(fmt.Sprint(err), "does not exist") {
			t.Errorf("got %v (code %s), want an ENOTREADY 'does not exist' error", err, code)
		}
	})
}

// TestLoad_F16MatchesF32 checks that F16 weights load to the same model
// as F32 weights holding the same (float16-representable) values.
func TestLoad_F16MatchesF32(t *testing.T) {
	cfg := synthConfig()
	half := synthTensors(t, synthShapes(cfg), safetensors.F16, 3)
	full := make([]safetensors.Tensor, len(half))
	for i, h := range half {
		var buf []byte
		for j := 0; j < len(h.Data); j += 2 {
			v := safetensors.Float16ToFloat32(binary.LittleEndian.Uint16(h.Data[j:]))
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		full[i] = safetensors.Tensor{Name: h.Name, DType: safetensors.F32, Shape: h.Shape, Data: buf}
	}
	run := func(tensors []safetensors.Tensor) []float32 {
		m, err := Load(mustWriteModel(t, cfg, tensors))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		enc, err := m.Encode(context.Background(), []int32{0, 5, 9, 2})
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		st, err := NewDecoderState(enc, 1)
		if err != nil {
			t.Fatalf("NewDecoderState: %v", err)
		}
		l, err := m.DecodeStep(context.Background(), st, []int32{2})
		if err != nil {
			t.Fatalf("DecodeStep: %v", err)
		}
		return slices.Clone(l[0])
	}
	a, b := run(half), run(full)
	if !slices.Equal(a, b) {
		t.Errorf("F16 logits %v differ from F32 logits %v", a[:4], b[:4])
	}
}

func TestModel_Encode(t *testing.T) {
	m := mustSynthModel(t)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		ids      []int32
		wantCode string
		wantErr  error
	}{
		{"empty", context.Background(), nil, enricher.EINVALID, nil},
		{"negative id", context.Background(), []int32{0, -1}, enricher.EINVALID, nil},
		{"id past vocab", context.Background(), []int32{20}, enricher.EINVALID, nil},
		{"too long", context.Background(), make([]int32, 17), enricher.EINVALID, nil},
		{"canceled", canceled, []int32{0, 2}, "", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := m.Encode(tt.ctx, tt.ids)
			if err == nil {
				t.Fatalf("Encode: got %v, nil error; want an error", enc)
			}
			if tt.wantCode != "" && enricher.ErrorCode(err) != tt.wantCode {
				t.Errorf("error code: got %s (%v), want %s", enricher.ErrorCode(err), err, tt.wantCode)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
		})
	}
	t.Run("max length", func(t *testing.T) {
		enc, err := m.Encode(context.Background(), make([]int32, 16))
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if enc.Len() != 16 {
			t.Errorf("Len() = %d, want 16", enc.Len())
		}
	})
}

func TestModel_DecodeStep(t *testing.T) {
	m := mustSynthModel(t)
	other := mustSynthModel(t)
	enc, err := m.Encode(context.Background(), []int32{0, 4, 2})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		model    *Model
		ctx      context.Context
		tokens   []int32
		wantCode string
		wantErr  error
	}{
		{"too few tokens", m, context.Background(), []int32{2}, enricher.EINVALID, nil},
		{"too many tokens", m, context.Background(), []int32{2, 2, 2}, enricher.EINVALID, nil},
		{"bad id", m, context.Background(), []int32{2, 99}, enricher.EINVALID, nil},
		{"other model", other, context.Background(), []int32{2, 2}, enricher.EINVALID, nil},
		{"canceled", m, canceled, []int32{2, 2}, "", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := NewDecoderState(enc, 2)
			if err != nil {
				t.Fatalf("NewDecoderState: %v", err)
			}
			_, err = tt.model.DecodeStep(tt.ctx, st, tt.tokens)
			if err == nil {
				t.Fatal("DecodeStep: got nil error, want one")
			}
			if tt.wantCode != "" && enricher.ErrorCode(err) != tt.wantCode {
				t.Errorf("error code: got %s (%v), want %s", enricher.ErrorCode(err), err, tt.wantCode)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if st.Len() != 0 {
				t.Errorf("Len() after a failed step = %d, want 0", st.Len())
			}
		})
	}
	t.Run("max positions", func(t *testing.T) {
		st, err := NewDecoderState(enc, 1)
		if err != nil {
			t.Fatalf("NewDecoderState: %v", err)
		}
		for i := range 16 {
			if _, err := m.DecodeStep(context.Background(), st, []int32{2}); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		if _, err := m.DecodeStep(context.Background(), st, []int32{2}); enricher.ErrorCode(err) != enricher.EINVALID {
			t.Errorf("step 17: got %v, want an EINVALID error", err)
		}
	})
	t.Run("bad beams", func(t *testing.T) {
		if _, err := NewDecoderState(enc, 0); enricher.ErrorCode(err) != enricher.EINVALID {
			t.Errorf("NewDecoderState(enc, 0): got %v, want an EINVALID error", err)
		}
		if _, err := NewDecoderState(nil, 1); enricher.ErrorCode(err) != enricher.EINVALID {
			t.Errorf("NewDecoderState(nil, 1): got %v, want an EINVALID error", err)
		}
	})
}

// TestDecoderState_Reorder checks Reorder against decoding each beam's
// history from scratch: after steps with different tokens per beam and a
// reorder, beam i must continue exactly as a single beam fed beam
// beamIdx[i]'s history would.
func TestDecoderState_Reorder(t *testing.T) {
	m := mustSynthModel(t)
	enc, err := m.Encode(context.Background(), []int32{0, 7, 3, 11, 2})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	histories := [][]int32{{2, 5, 6}, {2, 9, 1}, {2, 3, 3}}
	next := []int32{4, 8, 12}
	// single decodes history+next on one beam and returns the last logits.
	single := func(h []int32, tok int32) []float32 {
		st, err := NewDecoderState(enc, 1)
		if err != nil {
			t.Fatalf("NewDecoderState: %v", err)
		}
		for _, id := range append(slices.Clone(h), tok) {
			l, err := m.DecodeStep(context.Background(), st, []int32{id})
			if err != nil {
				t.Fatalf("DecodeStep: %v", err)
			}
			if id == tok {
				return slices.Clone(l[0])
			}
		}
		return nil
	}
	tests := []struct {
		name    string
		beamIdx []int
	}{
		{"identity", []int{0, 1, 2}},
		{"permutation", []int{2, 0, 1}},
		{"duplicate", []int{1, 1, 0}},
		{"all from one", []int{2, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := NewDecoderState(enc, 3)
			if err != nil {
				t.Fatalf("NewDecoderState: %v", err)
			}
			for pos := range histories[0] {
				toks := []int32{histories[0][pos], histories[1][pos], histories[2][pos]}
				if _, err := m.DecodeStep(context.Background(), st, toks); err != nil {
					t.Fatalf("DecodeStep: %v", err)
				}
			}
			if err := st.Reorder(tt.beamIdx); err != nil {
				t.Fatalf("Reorder: %v", err)
			}
			got, err := m.DecodeStep(context.Background(), st, next)
			if err != nil {
				t.Fatalf("DecodeStep: %v", err)
			}
			for i, src := range tt.beamIdx {
				want := single(histories[src], next[i])
				for j := range want {
					if math.Abs(float64(got[i][j]-want[j])) > 1e-5 {
						t.Fatalf("beam %d (from %d) logit %d: got %g, want %g", i, src, j, got[i][j], want[j])
					}
				}
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		st, err := NewDecoderState(enc, 2)
		if err != nil {
			t.Fatalf("NewDecoderState: %v", err)
		}
		for _, idx := range [][]int{{0}, {0, 2}, {-1, 0}, {0, 1, 0}} {
			if err := st.Reorder(idx); enricher.ErrorCode(err) != enricher.EINVALID {
				t.Errorf("Reorder(%v): got %v, want an EINVALID error", idx, err)
			}
		}
	})
}

// TestModel_ConcurrentDecode runs several decoders over one model and one
// shared encoder output at once (for -race): the model and the encoder
// output are read-only.
func TestModel_ConcurrentDecode(t *testing.T) {
	m := mustLoad(t, "tiny", tensor.Default())
	enc, err := m.Encode(context.Background(), []int32{0, 100, 200, 300, 2})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	want := make([][]float32, 0)
	st, _ := NewDecoderState(enc, 1)
	for _, id := range []int32{2, 0, 50} {
		l, err := m.DecodeStep(context.Background(), st, []int32{id})
		if err != nil {
			t.Fatalf("DecodeStep: %v", err)
		}
		want = append(want, slices.Clone(l[0]))
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			st, err := NewDecoderState(enc, 1)
			if err != nil {
				errs <- err
				return
			}
			for pos, id := range []int32{2, 0, 50} {
				l, err := m.DecodeStep(context.Background(), st, []int32{id})
				if err != nil {
					errs <- err
					return
				}
				if !slices.Equal(l[0], want[pos]) {
					errs <- fmt.Errorf("position %d: logits differ from the sequential run", pos)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
