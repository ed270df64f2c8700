package tensor

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// torchGolden is testdata/torch_golden.json, PyTorch's float32 CPU results
// written by tools/tensor_golden.py.
type torchGolden struct {
	TorchVersion string `json:"torch_version"`
	LayerNorm    struct {
		N                 int
		Eps               float32
		X, Gamma, Beta, Y []float32
	} `json:"layer_norm"`
	GELU struct {
		X, Y []float32
	} `json:"gelu"`
	Softmax struct {
		N    int
		X, Y []float32
	} `json:"softmax"`
}

func mustLoadTorchGolden(tb testing.TB) torchGolden {
	tb.Helper()
	data, err := os.ReadFile("testdata/torch_golden.json")
	if err != nil {
		tb.Fatalf("read golden file: %v", err)
	}
	var g torchGolden
	if err := json.Unmarshal(data, &g); err != nil {
		tb.Fatalf("parse golden file: %v", err)
	}
	if len(g.LayerNorm.Y) == 0 || len(g.GELU.Y) == 0 || len(g.Softmax.Y) == 0 {
		tb.Fatal("golden file: a section is empty")
	}
	return g
}

// maxAbsDiff returns the largest |got-want| and its index.
func maxAbsDiff(got, want []float32) (float64, int) {
	worst, at := 0.0, -1
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
			if math.IsNaN(d) {
				return math.Inf(1), i
			}
		}
	}
	return worst, at
}

// TestKernels_torchParity compares the element-wise kernels with PyTorch's
// own float32 CPU kernels on the same inputs. The bounds are a couple of
// float32 ulps of the outputs (which reach about 9 for GELU and 5 for
// LayerNorm): the model's parity budget (1e-4) is far above them.
func TestKernels_torchParity(t *testing.T) {
	g := mustLoadTorchGolden(t)
	for _, k := range allKernels(t, 1) {
		t.Run(k.ISA().String()+"/LayerNorm", func(t *testing.T) {
			ln := g.LayerNorm
			got := make([]float32, len(ln.X))
			k.LayerNorm(got, ln.X, ln.Gamma, ln.Beta, ln.N, ln.Eps)
			d, i := maxAbsDiff(got, ln.Y)
			t.Logf("max |diff| from torch: %.3g", d)
			if d > 2e-6 {
				t.Errorf("max |diff| %.3g at %d: got %v, want %v (torch %s)", d, i, got[i], ln.Y[i], g.TorchVersion)
			}
		})
		t.Run(k.ISA().String()+"/GELU", func(t *testing.T) {
			got := make([]float32, len(g.GELU.X))
			k.GELU(got, g.GELU.X)
			d, i := maxAbsDiff(got, g.GELU.Y)
			t.Logf("max |diff| from torch: %.3g", d)
			if d > 2e-6 {
				t.Errorf("max |diff| %.3g at %d (x=%v): got %v, want %v", d, i, g.GELU.X[i], got[i], g.GELU.Y[i])
			}
		})
		t.Run(k.ISA().String()+"/Softmax", func(t *testing.T) {
			got := append([]float32(nil), g.Softmax.X...)
			k.Softmax(got, g.Softmax.N)
			d, i := maxAbsDiff(got, g.Softmax.Y)
			t.Logf("max |diff| from torch: %.3g", d)
			if d > 2e-7 {
				t.Errorf("max |diff| %.3g at %d: got %v, want %v", d, i, got[i], g.Softmax.Y[i])
			}
		})
	}
}
