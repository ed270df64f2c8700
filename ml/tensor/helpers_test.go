package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// guardBits is the sentinel written around and between output elements: a
// NaN with a payload no kernel produces, compared by bits.
const guardBits = 0x7fc0dead

var guardValue = math.Float32frombits(guardBits)

// guarded is an output buffer with guardLen sentinels on both sides.
type guarded struct {
	buf []float32
}

const guardLen = 37

// newGuarded returns a buffer whose inner n elements are data (or guard
// values too, when data is nil).
func newGuarded(n int, data []float32) guarded {
	buf := make([]float32, n+2*guardLen)
	for i := range buf {
		buf[i] = guardValue
	}
	copy(buf[guardLen:], data)
	return guarded{buf: buf}
}

func (g guarded) inner() []float32 { return g.buf[guardLen : len(g.buf)-guardLen] }

// checkGuards fails t if a sentinel outside the inner slice, or at an inner
// index for which written(i) is false, was overwritten.
func (g guarded) checkGuards(t *testing.T, written func(i int) bool) {
	t.Helper()
	bad := 0
	for i, v := range g.buf {
		in := i >= guardLen && i < len(g.buf)-guardLen
		if in && (written == nil || written(i-guardLen)) {
			continue
		}
		if math.Float32bits(v) != guardBits {
			if bad < 5 {
				t.Errorf("guard at buffer index %d (inner %d) overwritten: got %v, want sentinel", i, i-guardLen, v)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d guard values overwritten", bad)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// allKernels returns one Kernels per ISA this machine and build can run,
// Go first, so every test covers the assembly and its reference alike.
func allKernels(t testing.TB, par int) []*Kernels {
	t.Helper()
	var ks []*Kernels
	for _, isa := range []ISA{ISAGo, ISAAVX2, ISAAVX512} {
		k, err := New(Options{ISA: isa, Parallelism: par})
		if err != nil {
			continue
		}
		ks = append(ks, k)
	}
	if len(ks) == 0 || ks[0].ISA() != ISAGo {
		t.Fatalf("allKernels: got %d kernel sets, want the Go one first", len(ks))
	}
	return ks
}

// refGemm is the reference SGEMM: a triple loop accumulating in float64.
// It also returns, per element of C, the magnitude sum |alpha|*sum|a*b| +
// |beta*c| that bounds the rounding error.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, mag []float64) {
	want = make([]float64, m*n)
	mag = make([]float64, m*n)
	at := func(i, p int) float64 {
		if transA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if transB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	for i := range m {
		for j := range n {
			var s, sm float64
			for p := range k {
				x := at(i, p) * bt(p, j)
				s += x
				sm += math.Abs(x)
			}
			v := float64(alpha) * s
			mg := math.Abs(float64(alpha)) * sm
			if beta != 0 {
				cv := float64(c[i*ldc+j])
				v += float64(beta) * cv
				mg += math.Abs(float64(beta) * cv)
			}
			want[i*n+j] = v
			mag[i*n+j] = mg
		}
	}
	return want, mag
}

// gemmTol is the allowed error relative to the magnitude sum: float32
// rounding grows like sqrt(k) for sums of random-signed terms.
func gemmTol(k int) float64 { return 2e-6 * math.Sqrt(float64(max(k, 1))) }

// checkClose fails t if got[i] is not within tol*mag[i] (+1e-30) of want[i].
func checkClose(t *testing.T, got []float32, want, mag []float64, tol float64) {
	t.Helper()
	bad := 0
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if !(d <= tol*mag[i]+1e-30) {
			if bad < 5 {
				t.Errorf("element %d: got %v, want %v (diff %.3g > %.3g)", i, got[i], want[i], d, tol*mag[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d elements out of tolerance", bad, len(want))
	}
}
