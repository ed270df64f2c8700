package tensor

import (
	"fmt"
	"math"
	"testing"
)

type gemmCase struct {
	m, n, k        int
	transA, transB bool
	pad            int // extra stride on A, B and C (gaps between rows)
	alpha, beta    float32
}

func (c gemmCase) String() string {
	return fmt.Sprintf("%dx%dx%d_tA%v_tB%v_pad%d_a%g_b%g", c.m, c.n, c.k, c.transA, c.transB, c.pad, c.alpha, c.beta)
}

func gemmCases() []gemmCase {
	cases := []gemmCase{
		{m: 1, n: 1, k: 1, alpha: 1},
		{m: 1, n: 70, k: 33, transB: true, alpha: 1},
		{m: 70, n: 1, k: 33, transB: true, alpha: 1},
		{m: 5, n: 7, k: 1, transB: true, alpha: 1},
		{m: 1, n: 1, k: 300, transB: true, alpha: 1},
		{m: 12, n: 32, k: 16, alpha: 1},
		{m: 13, n: 33, k: 17, transB: true, alpha: 1},
		{m: 6, n: 16, k: 8, transB: true, alpha: 1},
		{m: 7, n: 17, k: 9, alpha: 1},
		{m: 11, n: 31, k: 5, alpha: 1},
		{m: 25, n: 48, k: 64, transB: true, alpha: 1},
		{m: 33, n: 65, k: 70, transB: true, alpha: 1},
		{m: 70, n: 70, k: 70, alpha: 1},
		// More than one k block: beta must become 1 after the first.
		{m: 9, n: 40, k: 600, transB: true, alpha: 1},
		{m: 9, n: 40, k: 513, alpha: 0.5, beta: -1.5},
		// More than one m block and more than one n block.
		{m: 400, n: 20, k: 8, transB: true, alpha: 1},
		{m: 3, n: 2100, k: 5, alpha: 1},
		// Every transpose combination, with strides wider than the rows.
		{m: 19, n: 37, k: 23, pad: 3, alpha: 1},
		{m: 19, n: 37, k: 23, transA: true, pad: 3, alpha: 1},
		{m: 19, n: 37, k: 23, transB: true, pad: 3, alpha: 1},
		{m: 19, n: 37, k: 23, transA: true, transB: true, pad: 3, alpha: 1},
		// alpha and beta, including alpha 0 and k 0 (C = beta*C).
		{m: 14, n: 35, k: 30, transB: true, alpha: -2, beta: 0.25},
		{m: 14, n: 35, k: 30, transB: true, alpha: 1, beta: 1},
		{m: 14, n: 35, k: 30, transB: true, alpha: 0, beta: 2},
		{m: 14, n: 35, k: 0, transB: true, alpha: 1, beta: 0.5},
		{m: 14, n: 35, k: 0, transB: true, alpha: 1},
		// Big enough to be split across goroutines, by rows and by columns.
		{m: 150, n: 70, k: 900, transA: true, transB: true, pad: 2, alpha: 1, beta: 0.5},
		{m: 24, n: 300, k: 1200, pad: 1, alpha: 1},
		// Empty products.
		{m: 0, n: 5, k: 3, alpha: 1},
		{m: 5, n: 0, k: 3, alpha: 1},
	}
	// Sizes 1..70 that are not multiples of any tile.
	r := newRand(7)
	for range 24 {
		cases = append(cases, gemmCase{
			m: 1 + r.IntN(70), n: 1 + r.IntN(70), k: 1 + r.IntN(70),
			transA: r.IntN(4) == 0, transB: r.IntN(2) == 0, pad: r.IntN(3), alpha: 1,
		})
	}
	return cases
}

// runGemmCase runs one case on k, with guard values around and between
// the rows of C, and checks the result against the float64 reference.
func runGemmCase(t *testing.T, k *Kernels, c gemmCase, seed uint64) {
	r := newRand(seed)
	ar, ac := c.m, c.k
	if c.transA {
		ar, ac = c.k, c.m
	}
	br, bc := c.k, c.n
	if c.transB {
		br, bc = c.n, c.k
	}
	lda, ldb, ldc := max(1, ac+c.pad), max(1, bc+c.pad), max(1, c.n+c.pad)
	a := randSlice(r, max(0, ar*lda))
	b := randSlice(r, max(0, br*ldb))
	size := 0
	if c.m > 0 {
		size = (c.m-1)*ldc + c.n
	}
	g := newGuarded(size, nil)
	inC := func(i int) bool { return i%ldc < c.n }
	cin := g.inner()
	for i := range cin {
		if !inC(i) {
			continue
		}
		if c.beta == 0 {
			cin[i] = float32(math.NaN()) // must not be read
		} else {
			cin[i] = r.Float32()*2 - 1
		}
	}
	want, mag := refGemm(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cin, ldc)
	k.Gemm(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cin, ldc)
	g.checkGuards(t, inC)
	got := make([]float32, c.m*c.n)
	for i := range c.m {
		copy(got[i*c.n:(i+1)*c.n], cin[i*ldc:])
	}
	checkClose(t, got, want, mag, gemmTol(c.k))
}

func TestKernels_Gemm(t *testing.T) {
	for _, par := range []int{1, 3} {
		for _, k := range allKernels(t, par) {
			if par > 1 {
				// The cases must exercise both ways of splitting.
				var byRows, byCols int
				for _, c := range gemmCases() {
					if w, splitN := k.plan(c.m, c.n, c.k, false); w > 1 && splitN {
						byCols++
					} else if w > 1 {
						byRows++
					}
				}
				if byRows == 0 || byCols == 0 {
					t.Errorf("%s: got %d cases split by rows and %d by columns, want some of each", k.ISA(), byRows, byCols)
				}
			}
			for i, c := range gemmCases() {
				t.Run(fmt.Sprintf("%s/par%d/%v", k.ISA(), par, c), func(t *testing.T) {
					runGemmCase(t, k, c, uint64(i))
				})
			}
		}
	}
}

// TestKernels_GemmLarge checks a BERT-sized product, 384 tokens by the
// 1536-wide feed-forward layer, split across goroutines both ways.
func TestKernels_GemmLarge(t *testing.T) {
	const m, n, kk = 384, 1536, 384
	r := newRand(11)
	a, b := randSlice(r, m*kk), randSlice(r, n*kk)
	want, mag := refGemm(false, true, m, n, kk, 1, a, kk, b, kk, 0, nil, n)
	for _, par := range []int{1, 2} {
		for _, k := range allKernels(t, par) {
			t.Run(fmt.Sprintf("%s/par%d", k.ISA(), par), func(t *testing.T) {
				g := newGuarded(m*n, nil)
				k.MatMulTransB(g.inner(), a, b, m, n, kk)
				g.checkGuards(t, nil)
				checkClose(t, g.inner(), want, mag, gemmTol(kk))
			})
		}
	}
}

func TestKernels_MatMul(t *testing.T) {
	cases := []struct{ m, n, k int }{{1, 1, 1}, {3, 70, 2}, {50, 33, 65}, {200, 96, 40}}
	for _, k := range allKernels(t, 2) {
		for i, c := range cases {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", k.ISA(), c.m, c.n, c.k), func(t *testing.T) {
				r := newRand(uint64(100 + i))
				a, b := randSlice(r, c.m*c.k), randSlice(r, c.k*c.n)
				want, mag := refGemm(false, false, c.m, c.n, c.k, 1, a, c.k, b, c.n, 0, nil, c.n)
				g := newGuarded(c.m*c.n, nil)
				k.MatMul(g.inner(), a, b, c.m, c.n, c.k)
				g.checkGuards(t, nil)
				checkClose(t, g.inner(), want, mag, gemmTol(c.k))
			})
		}
	}
}

// linearRef is the reference linear layer: A * W^T + bias.
func linearRef(a, w, bias []float32, m, n, k int) (want, mag []float64) {
	want, mag = refGemm(false, true, m, n, k, 1, a, k, w, k, 0, nil, n)
	if bias != nil {
		for i := range m {
			for j := range n {
				want[i*n+j] += float64(bias[j])
				mag[i*n+j] += math.Abs(float64(bias[j]))
			}
		}
	}
	return want, mag
}

func TestKernels_MatMulTransBBias(t *testing.T) {
	cases := []struct{ m, n, k int }{{1, 1, 1}, {1, 384, 384}, {37, 45, 300}, {130, 64, 33}}
	for _, k := range allKernels(t, 2) {
		for i, c := range cases {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", k.ISA(), c.m, c.n, c.k), func(t *testing.T) {
				r := newRand(uint64(200 + i))
				a, w, bias := randSlice(r, c.m*c.k), randSlice(r, c.n*c.k), randSlice(r, c.n)
				want, mag := linearRef(a, w, bias, c.m, c.n, c.k)
				g := newGuarded(c.m*c.n, randSlice(r, c.m*c.n)) // stale data, overwritten
				k.MatMulTransBBias(g.inner(), a, w, bias, c.m, c.n, c.k)
				g.checkGuards(t, nil)
				checkClose(t, g.inner(), want, mag, gemmTol(c.k))
			})
		}
	}
}

func TestKernels_MatMulPacked(t *testing.T) {
	cases := []struct {
		m, n, k int
		bias    bool
	}{
		{1, 1, 1, false}, {1, 384, 384, true}, {7, 33, 257, false},
		{64, 1536, 384, true}, {300, 40, 520, true}, {5, 2100, 3, false},
		{8, 2100, 600, true}, // split by columns over a pre-packed B
	}
	for _, k := range allKernels(t, 2) {
		for i, c := range cases {
			t.Run(fmt.Sprintf("%s/%dx%dx%d_bias%v", k.ISA(), c.m, c.n, c.k, c.bias), func(t *testing.T) {
				r := newRand(uint64(300 + i))
				a, w := randSlice(r, c.m*c.k), randSlice(r, c.n*c.k)
				var bias []float32
				if c.bias {
					bias = randSlice(r, c.n)
				}
				want, mag := linearRef(a, w, bias, c.m, c.n, c.k)
				pb := PackB(true, w, c.k, c.k, c.n)
				if pb.K() != c.k || pb.N() != c.n {
					t.Fatalf("PackB: got K=%d N=%d, want %d %d", pb.K(), pb.N(), c.k, c.n)
				}
				g := newGuarded(c.m*c.n, nil)
				k.MatMulPacked(g.inner(), a, pb, bias, c.m)
				g.checkGuards(t, nil)
				checkClose(t, g.inner(), want, mag, gemmTol(c.k))
			})
		}
	}
}

// TestPackB checks that packing B untransposed and transposed gives the
// same panels, so MatMulPacked serves both layouts.
func TestPackB(t *testing.T) {
	const k, n = 300, 45
	r := newRand(5)
	w := randSlice(r, n*k) // n x k
	wt := make([]float32, k*n)
	for j := range n {
		for p := range k {
			wt[p*n+j] = w[j*k+p]
		}
	}
	got, want := PackB(false, wt, n, k, n), PackB(true, w, k, k, n)
	if len(got.data) != len(want.data) {
		t.Fatalf("packed lengths: got %d, want %d", len(got.data), len(want.data))
	}
	for i := range got.data {
		if got.data[i] != want.data[i] {
			t.Fatalf("packed element %d: got %v, want %v", i, got.data[i], want.data[i])
		}
	}
}

// TestKernels_microKernel drives each micro-kernel directly over every
// edge shape (rows 1..MR, columns 1..32) and several depths, with guards
// around and between the rows of C.
func TestKernels_microKernel(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		mr := k.set.mr
		for _, kc := range []int{1, 2, 3, 4, 5, 7, 8, 9, 33} {
			t.Run(fmt.Sprintf("%s/kc%d", k.ISA(), kc), func(t *testing.T) {
				r := newRand(uint64(kc))
				a, b := randSlice(r, kc*mr), randSlice(r, kc*nr)
				const ldc = nr + 5
				for rows := 1; rows <= mr; rows++ {
					for cols := 1; cols <= nr; cols++ {
						for _, beta := range []float32{0, 0.5} {
							size := (rows-1)*ldc + cols
							inC := func(i int) bool { return i%ldc < cols }
							cinit := randSlice(r, size)
							g := newGuarded(size, nil)
							for i := range size {
								if inC(i) {
									g.inner()[i] = cinit[i]
								}
							}
							k.set.micro(kc, a, b, g.inner(), ldc, rows, cols, 1.5, beta)
							g.checkGuards(t, inC)
							for i := range rows {
								for j := range cols {
									var s, sm float64
									for p := range kc {
										x := float64(a[p*mr+i]) * float64(b[p*nr+j])
										s += x
										sm += math.Abs(x)
									}
									want := 1.5*s + float64(beta)*float64(cinit[i*ldc+j])
									tol := gemmTol(kc) * (1.5*sm + math.Abs(float64(beta*cinit[i*ldc+j])))
									if got := g.inner()[i*ldc+j]; math.Abs(float64(got)-want) > tol {
										t.Fatalf("rows %d cols %d beta %v: C[%d,%d] got %v, want %v", rows, cols, beta, i, j, got, want)
									}
								}
							}
						}
					}
				}
			})
		}
	}
}

func TestKernels_plan(t *testing.T) {
	// With the Go kernels (MR 4, NR 32).
	cases := []struct {
		name        string
		par         int
		m, n, k     int
		packed      bool
		wantWorkers int
		wantSplitN  bool
	}{
		{"tiny stays on one goroutine", 8, 4, 4, 4, false, 1, true},
		{"attention head stays on one", 8, 64, 64, 32, false, 1, true},
		{"parallelism 1", 1, 256, 1536, 384, true, 1, true},
		// Few tokens: packing A twice is cheap, B is the big operand.
		{"few tokens split columns", 2, 32, 1536, 384, false, 2, true},
		{"one row tile packed splits columns", 2, 3, 8192, 384, true, 2, true},
		// Rows split evenly (8 tiles of 4) and halve A's packing.
		{"32 tokens packed split rows", 2, 32, 768, 384, true, 2, false},
		// Many tokens and a pre-packed weight: split the rows so that
		// each goroutine packs only its half of A.
		{"many tokens packed split rows", 2, 256, 384, 1536, true, 2, false},
		// Unpacked, 256 tokens by 1536 outputs: B is bigger than A, so
		// repeating A's packing is cheaper.
		{"many tokens wide B split columns", 2, 256, 1536, 384, false, 2, true},
		// One column panel cannot be shared out.
		{"one panel splits rows", 2, 512, 32, 512, false, 2, false},
		{"more workers than panels", 8, 2048, 64, 1024, false, 8, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := New(Options{ISA: ISAGo, Parallelism: c.par})
			if err != nil {
				t.Fatal(err)
			}
			w, splitN := k.plan(c.m, c.n, c.k, c.packed)
			if w != c.wantWorkers || splitN != c.wantSplitN {
				t.Errorf("plan(%d, %d, %d, packed %v): got %d workers splitN=%v, want %d splitN=%v",
					c.m, c.n, c.k, c.packed, w, splitN, c.wantWorkers, c.wantSplitN)
			}
		})
	}
}

func TestKernels_GemmPanics(t *testing.T) {
	k := Default()
	cases := []struct {
		name string
		call func()
	}{
		{"short A", func() { k.MatMulTransB(make([]float32, 6), make([]float32, 5), make([]float32, 6), 2, 3, 3) }},
		{"short B", func() { k.MatMulTransB(make([]float32, 6), make([]float32, 6), make([]float32, 8), 2, 3, 3) }},
		{"short C", func() { k.MatMulTransB(make([]float32, 5), make([]float32, 6), make([]float32, 9), 2, 3, 2) }},
		{"negative m", func() { k.MatMul(nil, nil, nil, -1, 2, 2) }},
		{"narrow stride", func() {
			k.Gemm(false, false, 2, 3, 4, 1, make([]float32, 8), 3, make([]float32, 12), 3, 0, make([]float32, 6), 3)
		}},
		{"bias length", func() {
			k.MatMulTransBBias(make([]float32, 6), make([]float32, 6), make([]float32, 9), make([]float32, 2), 2, 3, 3)
		}},
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

func TestKernels_transpose(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		fns := []struct {
			name string
			rows int
			fn   transposeFunc
		}{{"transpose8", 8, k.set.transpose8}, {"transpose4", 4, k.set.transpose4}}
		for _, f := range fns {
			for _, ldd := range []int{f.rows, 12, nr} {
				for kc := 1; kc <= 41; kc++ {
					t.Run(fmt.Sprintf("%s/%s/ldd%d/kc%d", k.ISA(), f.name, ldd, kc), func(t *testing.T) {
						lds := kc + 3
						src := randSlice(newRand(uint64(kc)), (f.rows-1)*lds+kc)
						size := (kc-1)*ldd + f.rows
						g := newGuarded(size, nil)
						f.fn(g.inner(), ldd, src, lds, kc)
						g.checkGuards(t, func(i int) bool { return i%ldd < f.rows })
						for p := range kc {
							for r := range f.rows {
								if got, want := g.inner()[p*ldd+r], src[r*lds+p]; got != want {
									t.Fatalf("dst[%d*%d+%d]: got %v, want %v", p, ldd, r, got, want)
								}
							}
						}
					})
				}
			}
		}
	}
}
