package tensor

import "fmt"

// Gemm computes C = alpha*op(A)*op(B) + beta*C, the BLAS SGEMM, for
// row-major matrices: op(A) is m x k and op(B) is k x n; A is m x k (or
// k x m when transA) with row stride lda, B is k x n (or n x k when transB)
// with row stride ldb, and C is m x n with row stride ldc. Strides let the
// attention code multiply one head's columns of a [tokens, hidden] matrix
// in place. When beta is 0, C is only written, never read.
func (k *Kernels) Gemm(transA, transB bool, m, n, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ar, ac := m, kk
	if transA {
		ar, ac = kk, m
	}
	br, bc := kk, n
	if transB {
		br, bc = n, kk
	}
	checkMatrix("A", a, ar, ac, lda)
	checkMatrix("B", b, br, bc, ldb)
	checkMatrix("C", c, m, n, ldc)
	k.gemm(&gemmJob{
		m: m, n: n, k: kk, alpha: alpha, beta: beta,
		a: view(a, lda, transA), b: view(b, ldb, transB),
		c: c, ldc: ldc,
	})
}

// MatMul computes C[m,n] = A[m,k] * B[k,n] for dense row-major matrices.
func (k *Kernels) MatMul(c, a, b []float32, m, n, kk int) {
	k.Gemm(false, false, m, n, kk, 1, a, max(1, kk), b, max(1, n), 0, c, max(1, n))
}

// MatMulTransB computes C[m,n] = A[m,k] * B[n,k]^T: a linear layer's
// activations times its weight as PyTorch stores it ([out, in]).
func (k *Kernels) MatMulTransB(c, a, b []float32, m, n, kk int) {
	k.Gemm(false, true, m, n, kk, 1, a, max(1, kk), b, max(1, kk), 0, c, max(1, n))
}

// MatMulTransBBias computes C[m,n] = A[m,k] * B[n,k]^T + bias[n], a whole
// linear layer (bias broadcast over the rows).
func (k *Kernels) MatMulTransBBias(c, a, b, bias []float32, m, n, kk int) {
	fillRows(c, bias, m, n)
	k.Gemm(false, true, m, n, kk, 1, a, max(1, kk), b, max(1, kk), 1, c, max(1, n))
}

// MatMulPacked computes C[m,n] = A[m,k] * op(B) (+ bias[n] when bias is not
// nil) with B packed by PackB, so repeated products with the same weight
// do not pay for packing it again.
func (k *Kernels) MatMulPacked(c, a []float32, pb *PackedB, bias []float32, m int) {
	n, kk := pb.n, pb.k
	checkMatrix("A", a, m, kk, max(1, kk))
	checkMatrix("C", c, m, n, max(1, n))
	beta := float32(0)
	if bias != nil {
		fillRows(c, bias, m, n)
		beta = 1
	}
	k.gemm(&gemmJob{
		m: m, n: n, k: kk, alpha: 1, beta: beta,
		a: view(a, kk, false), pb: pb,
		c: c, ldc: max(1, n),
	})
}

// fillRows sets each of the m rows of c (n wide) to bias.
func fillRows(c, bias []float32, m, n int) {
	if len(bias) != n {
		panic(fmt.Sprintf("tensor: bias has %d elements, want %d", len(bias), n))
	}
	checkMatrix("C", c, m, n, max(1, n))
	for i := range m {
		copy(c[i*n:][:n], bias)
	}
}

// Gemm is Default().Gemm.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	defaultKernels.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// MatMul is Default().MatMul.
func MatMul(c, a, b []float32, m, n, k int) { defaultKernels.MatMul(c, a, b, m, n, k) }

// MatMulTransB is Default().MatMulTransB.
func MatMulTransB(c, a, b []float32, m, n, k int) { defaultKernels.MatMulTransB(c, a, b, m, n, k) }

// MatMulTransBBias is Default().MatMulTransBBias.
func MatMulTransBBias(c, a, b, bias []float32, m, n, k int) {
	defaultKernels.MatMulTransBBias(c, a, b, bias, m, n, k)
}

// MatMulPacked is Default().MatMulPacked.
func MatMulPacked(c, a []float32, pb *PackedB, bias []float32, m int) {
	defaultKernels.MatMulPacked(c, a, pb, bias, m)
}
