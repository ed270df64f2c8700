// Package tensor holds the float32 kernels of the inference engine: a
// blocked, packed SGEMM and the few other loops a BERT or BART forward pass
// spends its time in (bias, residual add, layer norm, GELU, softmax).
//
// Every kernel has a plain Go implementation. On amd64 the hot ones also
// have Go-assembly twins (AVX2+FMA, and AVX-512 for the SGEMM micro-kernel)
// that are chosen once, at start-up, from the CPU's features as read with
// CPUID and XGETBV. The pure-Go path is always available for comparison:
// build with the `noasm` tag to remove the assembly entirely, set
// TENSOR_NOASM=1 to make Default use pure Go, or ask New for ISAGo.
//
// Matrices are row-major []float32 slices; shapes are passed explicitly and
// a shape that does not fit its slice panics, as an out-of-range index does,
// because it is a programming error and not a run-time condition. No kernel
// allocates on its steady path: SGEMM borrows its packing buffers from a
// sync.Pool.
package tensor
