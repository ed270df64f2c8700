package tensor

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// cpuMHz reads the current clock of the first CPU from /proc/cpuinfo, or 0
// where there is no such file (the peak metrics are then left out).
func cpuMHz() float64 {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, value, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(name) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err == nil {
				return mhz
			}
		}
	}
	return 0
}

// flopsPerCycle is one core's theoretical float32 peak for an ISA, assuming
// two FMA units (as on Zen 4/5 and Intel server cores): 2 units x lanes x
// 2 flops. Pure Go is scalar and unfused: two multiplies and two adds.
func flopsPerCycle(isa ISA) float64 {
	switch isa {
	case ISAAVX512:
		return 2 * 16 * 2
	case ISAAVX2:
		return 2 * 8 * 2
	}
	return 4
}

// reportFlops adds GFLOP/s, the clock, the theoretical peak for the
// threads used and the fraction of it reached. The clock is the one
// measured with a chain of dependent adds right after the run ("clock-MHz"),
// because /proc/cpuinfo's "cpu MHz" (reported too, as "MHz") is the nominal
// clock in a VM and is exceeded under turbo; it is the fallback when the
// clock cannot be measured.
func reportFlops(b *testing.B, isa ISA, threads int, flopsPerOp float64) {
	b.StopTimer() // measuring the clock is not part of the work
	gflops := flopsPerOp * float64(b.N) / b.Elapsed().Seconds() / 1e9
	b.ReportMetric(gflops, "GFLOP/s")
	info := cpuMHz()
	if info > 0 {
		b.ReportMetric(info, "MHz")
	}
	mhz := measuredMHz()
	if mhz > 0 {
		b.ReportMetric(mhz, "clock-MHz")
	} else {
		mhz = info
	}
	if mhz > 0 {
		peak := float64(threads) * mhz / 1e3 * flopsPerCycle(isa)
		b.ReportMetric(peak, "peak-GFLOP/s")
		b.ReportMetric(100*gflops/peak, "%peak")
	}
}

// bertShapes are the products of a MiniLM/BERT-base layer: tokens x
// (K -> N) for the attention projections and the feed-forward pair.
var bertShapes = []struct{ k, n int }{{384, 384}, {384, 1536}, {1536, 384}}

// BenchmarkMatMulTransB measures X[M,K] * W[N,K]^T with W packed on every
// call, for each kernel set, one and two threads.
func BenchmarkMatMulTransB(b *testing.B) {
	benchLinear(b, false)
}

// BenchmarkMatMulPacked is BenchmarkMatMulTransB with W packed once, as
// the model layers use it.
func BenchmarkMatMulPacked(b *testing.B) {
	benchLinear(b, true)
}

func benchLinear(b *testing.B, packed bool) {
	for _, threads := range []int{1, 2} {
		for _, k := range allKernels(b, threads) {
			for _, m := range []int{32, 64, 128, 256} {
				for _, s := range bertShapes {
					name := fmt.Sprintf("%s/t%d/M%d_K%d_N%d", k.ISA(), threads, m, s.k, s.n)
					b.Run(name, func(b *testing.B) {
						r := newRand(1)
						x, w := randSlice(r, m*s.k), randSlice(r, s.n*s.k)
						c := make([]float32, m*s.n)
						pb := PackB(true, w, s.k, s.k, s.n)
						b.ResetTimer()
						for range b.N {
							if packed {
								k.MatMulPacked(c, x, pb, nil, m)
							} else {
								k.MatMulTransB(c, x, w, m, s.n, s.k)
							}
						}
						reportFlops(b, k.ISA(), threads, 2*float64(m*s.n*s.k))
					})
				}
			}
		}
	}
}

// BenchmarkPackB measures packing a transposed 384x1536 weight (what
// MatMulTransB does on every call and MatMulPacked once).
func BenchmarkPackB(b *testing.B) {
	const k, n = 384, 1536
	w := randSlice(newRand(1), n*k)
	dst := make([]float32, k*n)
	src := view(w, k, true)
	b.SetBytes(4 * k * n)
	for range b.N {
		for pc := 0; pc < k; pc += kcBlock {
			kc := min(kcBlock, k-pc)
			packB(dst[pc*n:], src, pc, kc, 0, n, Default().set.transpose8)
		}
	}
}

// BenchmarkMicroKernel measures the micro-kernel alone on cache-resident
// panels (kc = 256): the ceiling the blocked SGEMM can approach.
func BenchmarkMicroKernel(b *testing.B) {
	for _, k := range allKernels(b, 1) {
		b.Run(k.ISA().String(), func(b *testing.B) {
			const kc = kcBlock
			mr := k.set.mr
			r := newRand(1)
			a, p := randSlice(r, kc*mr), randSlice(r, kc*nr)
			c := make([]float32, mr*nr)
			for range b.N {
				k.set.micro(kc, a, p, c, nr, mr, nr, 1, 1)
			}
			reportFlops(b, k.ISA(), 1, 2*float64(kc*mr*nr))
		})
	}
}

// BenchmarkVector measures the element-wise kernels on a 128-token x 1536
// activation (the GELU input of a feed-forward layer), and on its 384-wide
// counterpart for LayerNorm and rows of 128 scores for Softmax.
func BenchmarkVector(b *testing.B) {
	const n = 128 * 1536
	for _, k := range allKernels(b, 1) {
		r := newRand(1)
		x, y, bias := randSlice(r, n), randSlice(r, n), randSlice(r, 1536)
		g, be := randSlice(r, 384), randSlice(r, 384)
		ops := []struct {
			name string
			fn   func()
		}{
			{"Dot", func() { k.Dot(x, y) }},
			{"Axpy", func() { k.Axpy(0.5, x, y) }},
			{"AddBias", func() { k.AddBias(y, bias) }},
			{"Exp", func() { k.Exp(y, x) }},
			{"GELU", func() { k.GELU(y, x) }},
			{"Softmax", func() { copy(y, x); k.Softmax(y, 128) }},
			{"LayerNorm", func() { k.LayerNorm(y, x, g, be, 384, 1e-12) }},
		}
		for _, op := range ops {
			b.Run(fmt.Sprintf("%s/%s", op.name, k.ISA()), func(b *testing.B) {
				b.SetBytes(4 * n)
				for range b.N {
					op.fn()
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/elem")
			})
		}
	}
}

// BenchmarkPackA measures packing 256 tokens x 384 features into panels of
// each kernel set's MR.
func BenchmarkPackA(b *testing.B) {
	const m, k = 256, 384
	x := view(randSlice(newRand(1), m*k), k, false)
	for _, ks := range allKernels(b, 1) {
		b.Run(ks.ISA().String(), func(b *testing.B) {
			mr := ks.set.mr
			dst := make([]float32, (m+mr-1)/mr*mr*kcBlock)
			b.SetBytes(4 * m * k)
			for range b.N {
				for pc := 0; pc < k; pc += kcBlock {
					packA(dst, x, 0, m, pc, min(kcBlock, k-pc), mr, &ks.set)
				}
			}
		})
	}
}
