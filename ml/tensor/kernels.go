package tensor

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// ISA names a set of kernels. The zero value, ISAAuto, picks the best one
// the machine supports, so a zero Options is the right default.
type ISA uint8

// The kernel sets, from the portable baseline up.
const (
	// ISAAuto picks ISAAVX512, then ISAAVX2, then ISAGo, by CPU features.
	ISAAuto ISA = iota
	// ISAGo is the pure-Go path: every platform, and the reference the
	// assembly is tested against.
	ISAGo
	// ISAAVX2 uses AVX2 and FMA: a 6x16 SGEMM micro-kernel and 8-wide
	// vector kernels.
	ISAAVX2
	// ISAAVX512 uses AVX-512F for the SGEMM micro-kernel (12x32, masked
	// edges) and the AVX2 vector kernels elsewhere.
	ISAAVX512
)

// String returns the name used in logs and benchmark names.
func (i ISA) String() string {
	switch i {
	case ISAAuto:
		return "auto"
	case ISAGo:
		return "go"
	case ISAAVX2:
		return "avx2"
	case ISAAVX512:
		return "avx512"
	}
	return fmt.Sprintf("ISA(%d)", uint8(i))
}

// ErrUnsupported is returned by New when the requested ISA cannot run here,
// so a caller that forces a kernel set learns it at start-up, not by SIGILL.
var ErrUnsupported = errors.New("instruction set not supported on this machine")

// NoAsmEnv is the environment variable that, set to a non-empty value other
// than "0", makes Default (and ISAAuto) use the pure-Go kernels: the way to
// compare against the assembly without rebuilding. It is read once, at
// start-up.
const NoAsmEnv = "TENSOR_NOASM"

// Options configure a Kernels value.
type Options struct {
	// ISA selects the kernel set; ISAAuto (the zero value) picks the best.
	ISA ISA
	// Parallelism caps the goroutines one SGEMM call uses. Zero or less
	// means runtime.GOMAXPROCS(0) at the time of the call, so that it
	// follows the process's CPU quota. Small products stay single-threaded
	// whatever this says, because a goroutine costs more than they do.
	Parallelism int
}

// Kernels is one immutable choice of kernels. It is safe for concurrent use
// and cheap to copy around by pointer; the model layers take one so that a
// test or a benchmark can run the same model on the pure-Go path.
type Kernels struct {
	set         kernelSet
	parallelism int
}

// kernelSet is the table of implementations one ISA provides. Every field
// is set: an ISA without an assembly version of a kernel uses the Go one.
type kernelSet struct {
	isa ISA
	// mr is the number of rows of A the micro-kernel computes at once; A is
	// packed in panels of mr rows. B is always packed in panels of nr.
	mr         int
	micro      microKernel
	transpose8 transposeFunc
	transpose4 transposeFunc

	dot    func(x, y []float32) float32
	axpy   func(alpha float32, x, y []float32)
	add    func(dst, x []float32)
	scale  func(alpha float32, x []float32)
	max    func(x []float32) float32
	expSum func(x []float32, shift float32) float32
	exp    func(dst, x []float32)
	gelu   func(dst, x []float32)
	// layerNorm normalises one row; gamma and beta may be nil.
	layerNorm func(dst, x, gamma, beta []float32, eps float32)
}

// microKernel computes the mr x nr corner of an MR x nr tile:
//
//	C[i*ldc+j] = alpha * sum_p a[p*MR+i]*b[p*nr+j] + beta*C[i*ldc+j]
//
// for i < mr, j < nrValid, where a is a packed A panel (kc rows of MR) and b
// a packed B panel (kc rows of nr). When beta is zero C is not read, as in
// BLAS, so it may hold anything (even NaN) on entry.
type microKernel func(kc int, a, b, c []float32, ldc, mr, nrValid int, alpha, beta float32)

// defaultKernels is computed once at start-up from the CPU features and
// TENSOR_NOASM, and never changes afterwards.
var defaultKernels = mustNew(Options{ISA: autoISA(detected, noAsmFromEnv())})

// Default returns the kernels chosen at start-up: the best ISA this machine
// supports unless TENSOR_NOASM is set, and Parallelism 0 (GOMAXPROCS).
func Default() *Kernels { return defaultKernels }

// New returns kernels for opts. It fails with ErrUnsupported when opts.ISA
// names an instruction set this machine (or this build: see the noasm tag)
// cannot run.
func New(opts Options) (*Kernels, error) {
	isa := opts.ISA
	if isa == ISAAuto {
		isa = autoISA(detected, noAsmFromEnv())
	}
	set, ok := kernelSetFor(isa, detected)
	if !ok {
		return nil, fmt.Errorf("select kernels %s (cpu: %s): %w", isa, detected, ErrUnsupported)
	}
	return &Kernels{set: set, parallelism: opts.Parallelism}, nil
}

func mustNew(opts Options) *Kernels {
	k, err := New(opts)
	if err != nil {
		panic(err)
	}
	return k
}

// ISA reports which kernel set k runs, never ISAAuto.
func (k *Kernels) ISA() ISA { return k.set.isa }

// String describes k for logs, e.g. "avx512 (cpu: avx512f,...,fma)".
func (k *Kernels) String() string {
	return fmt.Sprintf("%s (cpu: %s)", k.set.isa, detected)
}

// workers returns how many goroutines k may use right now.
func (k *Kernels) workers() int {
	if k.parallelism > 0 {
		return k.parallelism
	}
	return runtime.GOMAXPROCS(0)
}

// noAsmFromEnv reports whether TENSOR_NOASM asks for the pure-Go kernels.
func noAsmFromEnv() bool {
	v := os.Getenv(NoAsmEnv)
	return v != "" && v != "0"
}

// autoISA picks the best kernel set for f.
func autoISA(f cpuFeatures, noAsm bool) ISA {
	switch {
	case noAsm || !asmAvailable:
		return ISAGo
	case f.hasAVX512():
		return ISAAVX512
	case f.hasAVX2():
		return ISAAVX2
	}
	return ISAGo
}

// goKernels is the pure-Go kernel set.
func goKernels() kernelSet {
	return kernelSet{
		isa:        ISAGo,
		mr:         goMR,
		micro:      microGo,
		transpose8: transpose8Go,
		transpose4: transpose4Go,
		layerNorm:  layerNormRow,
		dot:        dotGo,
		axpy:       axpyGo,
		add:        addGo,
		scale:      scaleGo,
		max:        maxGo,
		expSum:     expSumGo,
		exp:        expGo,
		gelu:       geluGo,
	}
}
