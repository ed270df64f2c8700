package bart

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ticket-enricher/enricher/ml/tensor"
)

// maxAbsDiff is the parity threshold against transformers (issue 5).
const maxAbsDiff = 1e-4

// golden is one line of testdata/<model>/golden.jsonl, written by
// tools/bart_golden.py with transformers.
type golden struct {
	IDs        []int32              `json:"ids"`
	EncRows    map[string][]float32 `json:"enc_rows"`
	EncMean    []float64            `json:"enc_mean"`
	DecIDs     []int32              `json:"dec_ids"`
	LogitsIdx  []int                `json:"logits_idx"`
	LogitsVal  []float32            `json:"logits_val"`
	LogitsFull string               `json:"logits_full"`
	PosMax     []float32            `json:"pos_max"`
	PosArgmax  []int                `json:"pos_argmax"`
}

// goldenModels are the test models tools/bart_golden.py writes.
var goldenModels = []string{"tiny", "tiny-f16", "odd"}

// mustReadGolden reads testdata/<name>/golden.jsonl.
func mustReadGolden(tb testing.TB, name string) []golden {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name, "golden.jsonl"))
	if err != nil {
		tb.Fatalf("open golden file (make it with tools/bart_golden.py): %v", err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		var g golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			tb.Fatalf("golden %s line %d: %v", name, len(out)+1, err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read golden %s: %v", name, err)
	}
	if len(out) < 50 {
		tb.Fatalf("golden %s has %d inputs, want at least 50", name, len(out))
	}
	return out
}

// mustLoad loads testdata/<name> with kernels k.
func mustLoad(tb testing.TB, name string, k *tensor.Kernels) *Model {
	tb.Helper()
	m, err := load(filepath.Join("testdata", name), k)
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return m
}

// mustKernels returns the kernels of isa.
func mustKernels(tb testing.TB, isa tensor.ISA) *tensor.Kernels {
	tb.Helper()
	k, err := tensor.New(tensor.Options{ISA: isa})
	if err != nil {
		tb.Fatalf("kernels %s: %v", isa, err)
	}
	return k
}

// fullLogits decodes the base64 float32 logits of a golden line.
func (g *golden) fullLogits(tb testing.TB) []float32 {
	tb.Helper()
	if g.LogitsFull == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(g.LogitsFull)
	if err != nil {
		tb.Fatalf("decode logits_full: %v", err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// diffs tracks the largest differences seen against the goldens.
type diffs struct{ enc, logits float64 }

// checkEncoder compares an encoder output with a golden line.
func checkEncoder(t *testing.T, enc *EncoderOutput, g *golden, d *diffs) {
	t.Helper()
	if enc.Len() != len(g.IDs) {
		t.Fatalf("Len() = %d, want %d", enc.Len(), len(g.IDs))
	}
	for key, want := range g.EncRows {
		r, err := strconv.Atoi(key)
		if err != nil {
			t.Fatalf("enc_rows key %q: %v", key, err)
		}
		got := enc.Hidden(r)
		for j := range want {
			diff := math.Abs(float64(got[j] - want[j]))
			d.enc = max(d.enc, diff)
			if diff > maxAbsDiff {
				t.Fatalf("encoder row %d col %d: got %g, want %g", r, j, got[j], want[j])
			}
		}
	}
	for j, want := range g.EncMean {
		var s float64
		for r := range enc.Len() {
			s += float64(enc.Hidden(r)[j])
		}
		got := s / float64(enc.Len())
		diff := math.Abs(got - want)
		d.enc = max(d.enc, diff)
		if diff > maxAbsDiff {
			t.Fatalf("encoder mean col %d: got %g, want %g", j, got, want)
		}
	}
}

// checkStep compares the logits of decoder position pos with a golden line:
// the maximum and the logit of the golden argmax at every position, and
// the sampled (and, when present, all) logits at the last.
func checkStep(t *testing.T, logits []float32, g *golden, pos int, d *diffs) {
	t.Helper()
	check := func(what string, got, want float32) {
		t.Helper()
		diff := math.Abs(float64(got - want))
		d.logits = max(d.logits, diff)
		if diff > maxAbsDiff {
			t.Fatalf("position %d: %s: got %g, want %g", pos, what, got, want)
		}
	}
	mx := logits[0]
	for _, v := range logits {
		mx = max(mx, v)
	}
	check("max logit", mx, g.PosMax[pos])
	check(fmt.Sprintf("logit of the golden argmax %d", g.PosArgmax[pos]), logits[g.PosArgmax[pos]], g.PosMax[pos])
	if pos != len(g.DecIDs)-1 {
		return
	}
	for i, id := range g.LogitsIdx {
		check(fmt.Sprintf("logit %d", id), logits[id], g.LogitsVal[i])
	}
	if full := g.fullLogits(t); full != nil {
		if len(full) != len(logits) {
			t.Fatalf("got %d logits, want %d", len(logits), len(full))
		}
		for id := range full {
			check(fmt.Sprintf("logit %d", id), logits[id], full[id])
		}
	}
}

// TestModel_Parity runs every golden input of every test model through
// Encode and teacher-forced DecodeStep, with the default and the pure-Go
// kernels, and compares with transformers.
func TestModel_Parity(t *testing.T) {
	for _, name := range goldenModels {
		gs := mustReadGolden(t, name)
		for _, isa := range []tensor.ISA{tensor.ISAAuto, tensor.ISAGo} {
			t.Run(name+"/"+isa.String(), func(t *testing.T) {
				m := mustLoad(t, name, mustKernels(t, isa))
				var d diffs
				for i := range gs {
					g := &gs[i]
					enc, err := m.Encode(context.Background(), g.IDs)
					if err != nil {
						t.Fatalf("input %d: Encode: %v", i, err)
					}
					checkEncoder(t, enc, g, &d)
					st, err := NewDecoderState(enc, 1)
					if err != nil {
						t.Fatalf("input %d: NewDecoderState: %v", i, err)
					}
					for pos, id := range g.DecIDs {
						logits, err := m.DecodeStep(context.Background(), st, []int32{id})
						if err != nil {
							t.Fatalf("input %d: DecodeStep %d: %v", i, pos, err)
						}
						checkStep(t, logits[0], g, pos, &d)
					}
				}
				t.Logf("%s (%s kernels): %d inputs, max abs diff encoder %.3g, logits %.3g", name, m.k.ISA(), len(gs), d.enc, d.logits)
			})
		}
	}
}

// TestModel_DecodeStepBeams checks that beams batched in one step do not
// leak into each other and that Reorder carries a beam's history: beam 0
// is teacher-forced with the golden ids and beam 1 with other ids; halfway,
// Reorder([0, 0]) makes both continue beam 0, so both must end with the
// golden logits.
func TestModel_DecodeStepBeams(t *testing.T) {
	for _, name := range goldenModels {
		t.Run(name, func(t *testing.T) {
			m := mustLoad(t, name, tensor.Default())
			gs := mustReadGolden(t, name)
			var d diffs
			for i := range gs[:12] {
				g := &gs[i]
				enc, err := m.Encode(context.Background(), g.IDs)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				st, err := NewDecoderState(enc, 2)
				if err != nil {
					t.Fatalf("NewDecoderState: %v", err)
				}
				half := len(g.DecIDs) / 2
				for pos, id := range g.DecIDs {
					if pos == half {
						if err := st.Reorder([]int{0, 0}); err != nil {
							t.Fatalf("Reorder: %v", err)
						}
					}
					other := int32(7 + 13*pos)
					if pos >= half {
						other = id
					}
					logits, err := m.DecodeStep(context.Background(), st, []int32{id, other})
					if err != nil {
						t.Fatalf("DecodeStep %d: %v", pos, err)
					}
					checkStep(t, logits[0], g, pos, &d)
					if pos >= half {
						checkStep(t, logits[1], g, pos, &d)
					}
				}
			}
		})
	}
}
