//go:build !noasm

package tensor

import (
	"math"
	"time"
)

// cpuid executes the CPUID instruction for leaf and subleaf.
func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// xgetbv reads XCR0, which says which register states the OS saves on a
// context switch: a CPU can have AVX-512 that the kernel does not enable.
func xgetbv() (eax, edx uint32)

// detectCPU reads the features the assembly kernels need. A feature counts
// only when both the CPU has it and the OS saves its registers.
func detectCPU() cpuFeatures {
	var f cpuFeatures
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 1 {
		return f
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		bitFMA     = 1 << 12
		bitOSXSAVE = 1 << 27
		bitAVX     = 1 << 28
		bitF16C    = 1 << 29
	)
	if ecx1&bitOSXSAVE == 0 || ecx1&bitAVX == 0 {
		return f
	}
	xcr0, _ := xgetbv()
	const (
		xcrSSEAVX = 0x6  // XMM and YMM state
		xcrAVX512 = 0xe0 // opmask, ZMM0-15 upper halves, ZMM16-31
	)
	if xcr0&xcrSSEAVX != xcrSSEAVX {
		return f
	}
	f.avx = true
	f.fma = ecx1&bitFMA != 0
	f.f16c = ecx1&bitF16C != 0
	if maxLeaf < 7 {
		return f
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const (
		bitAVX2     = 1 << 5
		bitAVX512F  = 1 << 16
		bitAVX512DQ = 1 << 17
		bitAVX512BW = 1 << 30
		bitAVX512VL = 1 << 31
	)
	f.avx2 = ebx7&bitAVX2 != 0
	if xcr0&xcrAVX512 == xcrAVX512 {
		f.avx512f = ebx7&bitAVX512F != 0
		f.avx512dq = ebx7&bitAVX512DQ != 0
		f.avx512bw = ebx7&bitAVX512BW != 0
		f.avx512vl = ebx7&bitAVX512VL != 0
	}
	return f
}

// addChain runs 8*n dependent integer additions, one cycle each; the
// benchmarks time it to measure the clock the kernels actually run at.
func addChain(n int)

// measuredMHz estimates the current core clock from addChain's speed.
func measuredMHz() float64 {
	const n = 1 << 20
	best := math.Inf(1)
	for range 3 {
		t := time.Now()
		addChain(n)
		best = min(best, time.Since(t).Seconds())
	}
	return 8 * n / best / 1e6
}
