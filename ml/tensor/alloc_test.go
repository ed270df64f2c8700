//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it.

package tensor

import "testing"

// TestKernels_allocs checks that the steady state allocates nothing on one
// goroutine: packing buffers come from the pool, jobs live on the stack.
func TestKernels_allocs(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		t.Run(k.ISA().String(), func(t *testing.T) {
			const m, n, kk = 37, 70, 300
			r := newRand(1)
			a, b, bias := randSlice(r, m*kk), randSlice(r, n*kk), randSlice(r, n)
			c := make([]float32, m*n)
			pb := PackB(true, b, kk, kk, n)
			x := randSlice(r, 4*384)
			g, be := randSlice(r, 384), randSlice(r, 384)
			ops := map[string]func(){
				"MatMulTransBBias": func() { k.MatMulTransBBias(c, a, b, bias, m, n, kk) },
				"MatMulPacked":     func() { k.MatMulPacked(c, a, pb, bias, m) },
				"Softmax":          func() { k.Softmax(x, 96) },
				"LayerNorm":        func() { k.LayerNorm(x, x, g, be, 384, 1e-12) },
				"GELU":             func() { k.GELU(x, x) },
			}
			for name, op := range ops {
				op() // fill the pool
				if got := testing.AllocsPerRun(20, op); got != 0 {
					t.Errorf("%s: got %v allocations per call, want 0", name, got)
				}
			}
		})
	}
}
