//go:build !noasm

package tensor

//go:generate go run gen_gemm_asm.go

// asmAvailable is true: this build has the amd64 assembly kernels.
const asmAvailable = true

// kernelSetFor returns the kernels for isa if f can run them.
func kernelSetFor(isa ISA, f cpuFeatures) (kernelSet, bool) {
	switch isa {
	case ISAGo:
		return goKernels(), true
	case ISAAVX2:
		if f.hasAVX2() {
			return avx2Kernels(), true
		}
	case ISAAVX512:
		if f.hasAVX512() {
			s := avx2Kernels()
			s.isa = ISAAVX512
			s.mr = avx512MR
			s.micro = microAVX512
			return s, true
		}
	}
	return kernelSet{}, false
}

// avx2Kernels is the AVX2+FMA kernel set.
func avx2Kernels() kernelSet {
	return kernelSet{
		isa:        ISAAVX2,
		mr:         avx2MR,
		micro:      microAVX2,
		transpose8: transpose8AVX2Slice,
		transpose4: transpose4AVX2Slice,
		layerNorm:  layerNormAVX2Row,
		dot:        dotAVX2Slice,
		axpy:       axpyAVX2Slice,
		add:        addAVX2Slice,
		scale:      scaleAVX2Slice,
		max:        maxAVX2Slice,
		expSum:     expSumAVX2Slice,
		exp:        expAVX2Slice,
		gelu:       geluAVX2Slice,
	}
}

// Micro-kernel tiles: rows of A per call (the columns are a packed panel of
// nr = 32 for AVX-512, and half of one for AVX2).
const (
	avx2MR   = 6
	avx512MR = 12
)

// sgemm6x16AVX2 computes a 6x16 tile: C = alpha*A*B + beta*C for the first
// mr rows, reading 16 columns of a packed B panel whose rows are nr apart.
// It writes all 16 columns; the caller handles narrower edges.
//
//go:noescape
func sgemm6x16AVX2(kc int, a, b, c *float32, ldc, mr int, alpha, beta float32)

// sgemm12x32AVX512 computes a 12x32 tile: C = alpha*A*B + beta*C for the
// first mr rows and nr columns, masking the columns with K registers.
//
//go:noescape
func sgemm12x32AVX512(kc int, a, b, c *float32, ldc, mr, nr int, alpha, beta float32)

func microAVX2(kc int, a, b, c []float32, ldc, mr, nrValid int, alpha, beta float32) {
	a = a[:kc*avx2MR]
	b = b[:kc*nr]
	for j0 := 0; j0 < nrValid; j0 += 16 {
		w := min(16, nrValid-j0)
		if w == 16 {
			_ = c[(mr-1)*ldc+j0+15]
			sgemm6x16AVX2(kc, &a[0], &b[j0], &c[j0], ldc, mr, alpha, beta)
			continue
		}
		// A narrow edge: compute the full tile aside, copy what fits.
		var tmp [avx2MR * 16]float32
		sgemm6x16AVX2(kc, &a[0], &b[j0], &tmp[0], 16, mr, 1, 0)
		for i := range mr {
			row := c[i*ldc+j0:][:w]
			for j := range row {
				v := alpha * tmp[i*16+j]
				if beta != 0 {
					v += beta * row[j]
				}
				row[j] = v
			}
		}
	}
}

func microAVX512(kc int, a, b, c []float32, ldc, mr, nrValid int, alpha, beta float32) {
	a = a[:kc*avx512MR]
	b = b[:kc*nr]
	_ = c[(mr-1)*ldc+nrValid-1]
	sgemm12x32AVX512(kc, &a[0], &b[0], &c[0], ldc, mr, nrValid, alpha, beta)
}

// layerNormAVX2 normalises one row of n (see layerNormRow); nf is
// float64(n).
//
//go:noescape
func layerNormAVX2(dst, x, gamma, beta *float32, n int, nf, eps float64)

func layerNormAVX2Row(dst, x, gamma, beta []float32, eps float32) {
	n := len(x)
	if n == 0 || gamma == nil || beta == nil {
		layerNormRow(dst, x, gamma, beta, eps)
		return
	}
	dst, gamma, beta = dst[:n], gamma[:n], beta[:n]
	layerNormAVX2(&dst[0], &x[0], &gamma[0], &beta[0], n, float64(n), float64(eps))
}

// transpose8AVX2 and transpose4AVX2 are transposeFuncs for kc8*8 columns
// of src: eight (four) rows lds floats apart, written ldd floats apart.
//
//go:noescape
func transpose8AVX2(dst *float32, ldd int, src *float32, lds, kc8 int)

//go:noescape
func transpose4AVX2(dst *float32, ldd int, src *float32, lds, kc8 int)

func transpose8AVX2Slice(dst []float32, ldd int, src []float32, lds, kc int) {
	kc8 := kc / 8 * 8
	if kc8 > 0 {
		_ = dst[(kc8-1)*ldd+7]
		_ = src[7*lds+kc8-1]
		transpose8AVX2(&dst[0], ldd, &src[0], lds, kc8/8)
	}
	if kc8 < kc {
		transpose8Go(dst[kc8*ldd:], ldd, src[kc8:], lds, kc-kc8)
	}
}

func transpose4AVX2Slice(dst []float32, ldd int, src []float32, lds, kc int) {
	kc8 := kc / 8 * 8
	if kc8 > 0 {
		_ = dst[(kc8-1)*ldd+3]
		_ = src[3*lds+kc8-1]
		transpose4AVX2(&dst[0], ldd, &src[0], lds, kc8/8)
	}
	if kc8 < kc {
		transpose4Go(dst[kc8*ldd:], ldd, src[kc8:], lds, kc-kc8)
	}
}

// The vector kernels in vec_amd64.s process 8 lanes at a time and their
// tails with masked loads and stores, so they never touch memory past n.

//go:noescape
func dotAVX2(x, y *float32, n int) float32

//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

//go:noescape
func addAVX2(dst, x *float32, n int)

//go:noescape
func scaleAVX2(alpha float32, x *float32, n int)

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func expSumAVX2(x *float32, n int, shift float32) float32

//go:noescape
func expAVX2(dst, x *float32, n int)

//go:noescape
func geluAVX2(dst, x *float32, n int)

func dotAVX2Slice(x, y []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	y = y[:len(x)]
	return dotAVX2(&x[0], &y[0], len(x))
}

func axpyAVX2Slice(alpha float32, x, y []float32) {
	if len(x) == 0 {
		return
	}
	y = y[:len(x)]
	axpyAVX2(alpha, &x[0], &y[0], len(x))
}

func addAVX2Slice(dst, x []float32) {
	if len(x) == 0 {
		return
	}
	dst = dst[:len(x)]
	addAVX2(&dst[0], &x[0], len(x))
}

func scaleAVX2Slice(alpha float32, x []float32) {
	if len(x) == 0 {
		return
	}
	scaleAVX2(alpha, &x[0], len(x))
}

func maxAVX2Slice(x []float32) float32 {
	if len(x) == 0 {
		return maxGo(x)
	}
	return maxAVX2(&x[0], len(x))
}

func expSumAVX2Slice(x []float32, shift float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return expSumAVX2(&x[0], len(x), shift)
}

func expAVX2Slice(dst, x []float32) {
	if len(x) == 0 {
		return
	}
	dst = dst[:len(x)]
	expAVX2(&dst[0], &x[0], len(x))
}

func geluAVX2Slice(dst, x []float32) {
	if len(x) == 0 {
		return
	}
	dst = dst[:len(x)]
	geluAVX2(&dst[0], &x[0], len(x))
}
