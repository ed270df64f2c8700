package tensor

import (
	"fmt"
	"math"
	"testing"
)

// vecLens covers every tail length of the 8- and 32-wide loops, and a few
// long vectors.
func vecLens() []int {
	var ns []int
	for n := range 71 {
		ns = append(ns, n)
	}
	return append(ns, 255, 256, 257, 1031)
}

const ulp = 1.0 / (1 << 23) // float32 relative precision

func closeRel(got float32, want, mag, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(float64(got))
	}
	if math.IsInf(want, 0) {
		return float64(got) == want
	}
	return math.Abs(float64(got)-want) <= tol*mag+1e-37
}

func TestKernels_Dot(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens() {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				r := newRand(uint64(n))
				x, y := randSlice(r, n), randSlice(r, n)
				var want, mag float64
				for i := range x {
					want += float64(x[i]) * float64(y[i])
					mag += math.Abs(float64(x[i]) * float64(y[i]))
				}
				if got := k.Dot(x, y); !closeRel(got, want, mag, gemmTol(n)) {
					t.Errorf("Dot: got %v, want %v", got, want)
				}
			})
		}
	}
}

// checkVec runs op on a guarded copy of x and checks each element with
// ok(i, got).
func checkVec(t *testing.T, x []float32, op func(dst []float32), ok func(i int, got float32) bool) {
	t.Helper()
	g := newGuarded(len(x), x)
	op(g.inner())
	g.checkGuards(t, nil)
	bad := 0
	for i, v := range g.inner() {
		if !ok(i, v) {
			if bad < 5 {
				t.Errorf("element %d (input %v): got %v", i, x[i], v)
			}
			bad++
		}
	}
}

func TestKernels_Axpy(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens() {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				r := newRand(uint64(n))
				x, y := randSlice(r, n), randSlice(r, n)
				const alpha = -1.75
				checkVec(t, y, func(dst []float32) { k.Axpy(alpha, x, dst) }, func(i int, got float32) bool {
					want := alpha*float64(x[i]) + float64(y[i])
					return closeRel(got, want, math.Abs(alpha*float64(x[i]))+math.Abs(float64(y[i])), 2*ulp)
				})
			})
		}
	}
}

func TestKernels_Add(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens() {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				r := newRand(uint64(n))
				x, y := randSlice(r, n), randSlice(r, n)
				checkVec(t, y, func(dst []float32) { k.Add(dst, x) }, func(i int, got float32) bool {
					return got == y[i]+x[i] // one rounding: exact on every path
				})
			})
		}
	}
}

func TestKernels_Scale(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens() {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				x := randSlice(newRand(uint64(n)), n)
				checkVec(t, x, func(dst []float32) { k.Scale(0.125, dst) }, func(i int, got float32) bool {
					return got == x[i]*0.125
				})
			})
		}
	}
}

func TestKernels_AddBias(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range []int{1, 7, 8, 9, 31, 384} {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				r := newRand(uint64(n))
				x, bias := randSlice(r, 3*n), randSlice(r, n)
				checkVec(t, x, func(dst []float32) { k.AddBias(dst, bias) }, func(i int, got float32) bool {
					return got == x[i]+bias[i%n]
				})
			})
		}
	}
}

func TestKernels_max(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens() {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				x := randSlice(newRand(uint64(n)), n)
				want := float32(math.Inf(-1))
				for _, v := range x {
					want = max(want, v)
				}
				if got := k.set.max(x); got != want {
					t.Errorf("max: got %v, want %v", got, want)
				}
				if n > 0 {
					x[n-1] = 5 // the maximum in the tail
					if got := k.set.max(x); got != 5 {
						t.Errorf("max with 5 last: got %v, want 5", got)
					}
				}
			})
		}
	}
}

// expInputs spans the whole domain of expf, its limits and special values.
func expInputs(n int) []float32 {
	x := make([]float32, n)
	r := newRand(uint64(n))
	for i := range x {
		x[i] = r.Float32()*180 - 90
	}
	special := []float32{0, -0, 1, -1, 88.72, 88.73, 89, -87.33, -87.34, -100,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-10, -1e-10, 0.3465, -0.3466}
	copy(x, special)
	return x
}

// expWant is exp as expf defines it: exact, but 0 where the result would
// be subnormal.
func expWant(x float32) float64 {
	if x < expMinArg {
		return 0
	}
	return float64(float32(math.Exp(float64(x)))) // +Inf past float32's range
}

func TestKernels_Exp(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens() {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				x := expInputs(n)
				checkVec(t, x, func(dst []float32) { k.Exp(dst, dst) }, func(i int, got float32) bool {
					want := expWant(x[i])
					return closeRel(got, want, want, 3*ulp)
				})
			})
		}
	}
}

func TestKernels_expSum(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens() {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				x := randSlice(newRand(uint64(n)), n)
				const shift = 0.75
				var wantSum float64
				var sum float32
				checkVec(t, x, func(dst []float32) { sum = k.set.expSum(dst, shift) }, func(i int, got float32) bool {
					want := math.Exp(float64(x[i] - shift))
					wantSum += want
					return closeRel(got, want, want, 3*ulp)
				})
				if !closeRel(sum, wantSum, wantSum, 4*ulp*math.Sqrt(float64(n+1))) {
					t.Errorf("sum: got %v, want %v", sum, wantSum)
				}
			})
		}
	}
}

// geluExact is GELU with float64 math.Erf, the definition.
func geluExact(x float32) float64 {
	v := float64(x)
	return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
}

func TestKernels_GELU(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens() {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				r := newRand(uint64(n))
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64() * 3)
				}
				copy(x, []float32{0, -0, 1, -1, 10, -10, 1e-8, -5.5, 40})
				checkVec(t, x, func(dst []float32) { k.GELU(dst, dst) }, func(i int, got float32) bool {
					want := geluExact(x[i])
					// erf's 1.5e-7 absolute error scaled by x/2, plus rounding.
					return math.Abs(float64(got)-want) <= 1e-7*math.Abs(float64(x[i]))+3*ulp*math.Abs(want)+1e-37
				})
			})
		}
	}
}

func TestKernels_Softmax(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range vecLens()[1:] {
			t.Run(fmt.Sprintf("%s/n%d", k.ISA(), n), func(t *testing.T) {
				const rows = 3
				x := randSlice(newRand(uint64(n)), rows*n)
				for i := range x {
					x[i] *= 20 // scores far from 0: the max shift matters
				}
				want := make([]float64, len(x))
				for i := 0; i < len(x); i += n {
					mx := float32(math.Inf(-1))
					for _, v := range x[i : i+n] {
						mx = max(mx, v)
					}
					var s float64
					for j, v := range x[i : i+n] {
						// x - max rounded to float32 as every float32
						// softmax (PyTorch's too) rounds it.
						want[i+j] = math.Exp(float64(v - mx))
						s += want[i+j]
					}
					for j := range n {
						want[i+j] /= s
					}
				}
				checkVec(t, x, func(dst []float32) { k.Softmax(dst, n) }, func(i int, got float32) bool {
					return closeRel(got, want[i], want[i], 8*ulp)
				})
			})
		}
	}
}

func TestKernels_LayerNorm(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 33, 384, 768} {
			for _, affine := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/n%d/affine%v", k.ISA(), n, affine), func(t *testing.T) {
					const rows, eps = 4, 1e-12
					r := newRand(uint64(n))
					x := randSlice(r, rows*n)
					for i := range x {
						x[i] = x[i]*3 + 100 // a large mean must not cost precision
					}
					var gamma, beta []float32
					if affine {
						gamma, beta = randSlice(r, n), randSlice(r, n)
					}
					want := make([]float64, len(x))
					for i := 0; i < len(x); i += n {
						var mean, v float64
						for _, e := range x[i : i+n] {
							mean += float64(e)
						}
						mean /= float64(n)
						for _, e := range x[i : i+n] {
							v += (float64(e) - mean) * (float64(e) - mean)
						}
						rstd := 1 / math.Sqrt(v/float64(n)+eps)
						for j, e := range x[i : i+n] {
							y := (float64(e) - mean) * rstd
							if affine {
								y = y*float64(gamma[j]) + float64(beta[j])
							}
							want[i+j] = y
						}
					}
					checkVec(t, x, func(dst []float32) { k.LayerNorm(dst, dst, gamma, beta, n, eps) }, func(i int, got float32) bool {
						return closeRel(got, want[i], math.Abs(want[i])+1, 4*ulp)
					})
				})
			}
		}
	}
}

func TestKernels_vectorPanics(t *testing.T) {
	k := Default()
	cases := []struct {
		name string
		call func()
	}{
		{"Dot lengths", func() { k.Dot(make([]float32, 3), make([]float32, 4)) }},
		{"Axpy lengths", func() { k.Axpy(1, make([]float32, 3), make([]float32, 2)) }},
		{"Add lengths", func() { k.Add(make([]float32, 3), make([]float32, 2)) }},
		{"AddBias rows", func() { k.AddBias(make([]float32, 7), make([]float32, 2)) }},
		{"Softmax rows", func() { k.Softmax(make([]float32, 7), 3) }},
		{"Softmax zero width", func() { k.Softmax(make([]float32, 3), 0) }},
		{"LayerNorm gamma", func() { k.LayerNorm(make([]float32, 4), make([]float32, 4), make([]float32, 3), nil, 2, 1e-5) }},
		{"GELU lengths", func() { k.GELU(make([]float32, 4), make([]float32, 5)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: got no panic, want one", c.name)
				}
			}()
			c.call()
		})
	}
}
