package tensor

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Blocking parameters of the SGEMM driver (Goto/BLIS style). B is packed in
// panels of nr columns by kcBlock rows, so one panel (32 KiB) stays in the
// 32-48 KiB L1 cache while the micro-kernel walks down a block of A panels
// (mcBlock x kcBlock, 384 KiB) kept in L2. ncBlock bounds the packed B
// block (2 MiB) for very wide products such as a vocabulary projection.
const (
	nr      = 32
	kcBlock = 256
	mcBlock = 384 // a multiple of every micro-kernel's MR (12, 6, 4)
	ncBlock = 2048

	// minFlopsPerWorker keeps small products on one goroutine: waking a
	// goroutine on an idle virtual CPU and joining it costs from several to
	// tens of microseconds, while 8 Mflop take the AVX-512 micro-kernel
	// about 35 us. (A 32-token 384x384 projection, 9.4 Mflop, measured no
	// faster on two goroutines than on one.)
	minFlopsPerWorker = 8 << 20
)

// scratch holds one worker's packing buffers.
type scratch struct {
	a, b []float32
}

// scratchPool is a package-level cache of packing buffers, so that a
// steady stream of SGEMM calls allocates nothing. It holds no state that
// affects results: a buffer taken from it is fully overwritten by packing
// before it is read.
var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// matrix is a strided view of an operand: element (i, j) is
// data[i*rs+j*cs]. A transposed operand just swaps the strides, so the
// packing routines handle every op(A), op(B) combination.
type matrix struct {
	data   []float32
	rs, cs int
}

func view(data []float32, ld int, trans bool) matrix {
	if trans {
		return matrix{data: data, rs: 1, cs: ld}
	}
	return matrix{data: data, rs: ld, cs: 1}
}

// PackedB is a right-hand operand packed once for repeated use: the weight
// matrix of a linear layer. Multiplying by it skips the per-call packing of
// B, which for a batch of a few tokens costs as much as the product. It is
// independent of the ISA and safe for concurrent use; it must not be
// modified after PackB returns.
type PackedB struct {
	k, n int
	data []float32 // kcBlock blocks of ceil(n/nr) panels of kc x nr
}

// K returns the inner dimension of the packed operand.
func (p *PackedB) K() int { return p.k }

// N returns the number of columns of the packed operand (output features).
func (p *PackedB) N() int { return p.n }

func (p *PackedB) npad() int { return (p.n + nr - 1) / nr * nr }

// PackB packs op(B), a k x n operand, for MatMulPacked. With transB false, b
// is k x n with row stride ldb; with transB true, b is n x k (row stride
// ldb), as PyTorch stores a Linear layer's weight, and the product uses its
// transpose. PackB allocates the result; call it once per weight.
func PackB(transB bool, b []float32, ldb, k, n int) *PackedB {
	rows, cols := k, n
	if transB {
		rows, cols = n, k
	}
	checkMatrix("B", b, rows, cols, ldb)
	p := &PackedB{k: k, n: n}
	p.data = make([]float32, k*p.npad())
	src := view(b, ldb, transB)
	for pc := 0; pc < k; pc += kcBlock {
		kc := min(kcBlock, k-pc)
		packB(p.data[pc*p.npad():], src, pc, kc, 0, n, defaultKernels.set.transpose8)
	}
	return p
}

// packB packs columns [j0, j0+ncols) of rows [pc, pc+kc) of b into dst as
// consecutive kc x nr panels, zero-padding the last panel's columns. t8
// transposes eight columns of a transposed B at a time.
func packB(dst []float32, b matrix, pc, kc, j0, ncols int, t8 transposeFunc) {
	for jp := 0; jp < ncols; jp += nr {
		w := min(nr, ncols-jp)
		panel := dst[(jp/nr)*kc*nr:][:kc*nr]
		if b.cs == 1 {
			for p := range kc {
				row := b.data[(pc+p)*b.rs+j0+jp:][:w]
				out := panel[p*nr : p*nr+nr]
				copy(out, row)
				clear(out[w:])
			}
			continue
		}
		// Transposed B (n x k rows): read each column's k run contiguously.
		if w < nr {
			clear(panel)
		}
		j := 0
		if b.rs == 1 {
			for ; j+8 <= w; j += 8 {
				t8(panel[j:], nr, b.data[(j0+jp+j)*b.cs+pc:], b.cs, kc)
			}
		}
		for ; j < w; j++ {
			col := b.data[(j0+jp+j)*b.cs+pc*b.rs:]
			if b.rs == 1 {
				col = col[:kc]
				for p, v := range col {
					panel[p*nr+j] = v
				}
				continue
			}
			for p := range kc {
				panel[p*nr+j] = col[p*b.rs]
			}
		}
	}
}

// packA packs rows [i0, i0+mc) of columns [pc, pc+kc) of a into dst as
// consecutive kc x mr panels (element (i, p) of a panel at p*mr+i),
// zero-padding the last panel's rows. Row-major A is transposed eight and
// four rows at a time with the kernel set's transposes.
func packA(dst []float32, a matrix, i0, mc, pc, kc, mr int, set *kernelSet) {
	for ip := 0; ip < mc; ip += mr {
		h := min(mr, mc-ip)
		panel := dst[(ip/mr)*kc*mr:][:kc*mr]
		if a.cs == 1 {
			if h < mr {
				clear(panel)
			}
			for i := 0; i < h; {
				row := a.data[(i0+ip+i)*a.rs+pc:]
				switch {
				case h-i >= 8:
					set.transpose8(panel[i:], mr, row, a.rs, kc)
					i += 8
				case h-i >= 4:
					set.transpose4(panel[i:], mr, row, a.rs, kc)
					i += 4
				default:
					for p, v := range row[:kc] {
						panel[p*mr+i] = v
					}
					i++
				}
			}
			continue
		}
		for p := range kc {
			out := panel[p*mr : p*mr+mr]
			if a.rs == 1 {
				copy(out, a.data[(pc+p)*a.cs+i0+ip:][:h])
			} else {
				for i := range h {
					out[i] = a.data[(pc+p)*a.cs+(i0+ip+i)*a.rs]
				}
			}
			clear(out[h:])
		}
	}
}

// gemmJob is one SGEMM call after validation.
type gemmJob struct {
	m, n, k     int
	alpha, beta float32
	a, b        matrix
	pb          *PackedB // when set, b is unused
	c           []float32
	ldc         int
}

// run computes rows [i0, i1) x columns [j0, j1) of C. j0 is a multiple of
// nr, so packed-B panels line up with the pre-packed layout.
func (k *Kernels) run(job *gemmJob, i0, i1, j0, j1 int) {
	set := &k.set
	mr := set.mr
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	mcMax := min(mcBlock, (i1-i0+mr-1)/mr*mr)
	s.a = grow(s.a, mcMax*min(kcBlock, job.k))
	for jc := j0; jc < j1; jc += ncBlock {
		nc := min(ncBlock, j1-jc)
		for pc := 0; pc < job.k; pc += kcBlock {
			kc := min(kcBlock, job.k-pc)
			var bp []float32
			if job.pb != nil {
				bp = job.pb.data[pc*job.pb.npad()+jc*kc:]
			} else {
				s.b = grow(s.b, kc*((nc+nr-1)/nr*nr))
				packB(s.b, job.b, pc, kc, jc, nc, set.transpose8)
				bp = s.b
			}
			beta := job.beta
			if pc > 0 {
				beta = 1
			}
			for ic := i0; ic < i1; ic += mcBlock {
				mc := min(mcBlock, i1-ic)
				packA(s.a, job.a, ic, mc, pc, kc, mr, set)
				for jr := 0; jr < nc; jr += nr {
					nrValid := min(nr, nc-jr)
					bpanel := bp[(jr/nr)*kc*nr:][:kc*nr]
					for ir := 0; ir < mc; ir += mr {
						apanel := s.a[(ir/mr)*kc*mr:][:kc*mr]
						c := job.c[(ic+ir)*job.ldc+jc+jr:]
						set.micro(kc, apanel, bpanel, c, job.ldc, min(mr, mc-ir), nrValid, job.alpha, beta)
					}
				}
			}
		}
	}
}

// gemm runs job, split across goroutines when it is big enough (see plan
// for how it is split).
func (k *Kernels) gemm(job *gemmJob) {
	if job.m == 0 || job.n == 0 {
		return
	}
	if job.k == 0 || job.alpha == 0 {
		scaleMatrix(job.c, job.ldc, job.m, job.n, job.beta)
		return
	}
	w, splitN := k.plan(job.m, job.n, job.k, job.pb != nil)
	panels := (job.n + nr - 1) / nr
	rowTiles := (job.m + k.set.mr - 1) / k.set.mr
	if w <= 1 {
		k.run(job, 0, job.m, 0, job.n)
		return
	}
	k.parallel(new(*job), w, splitN, panels, rowTiles) // new(*job): a heap copy
}

// parallel runs job on w goroutines (the caller's included). The split
// dimension is cut into up to chunksPerWorker*w chunks that the goroutines
// claim one at a time, so the caller starts at once and a helper that is
// slow to wake (tens of microseconds on an idle virtual CPU) takes fewer
// chunks instead of delaying the end. It takes its own copy of the job, so
// that the single-goroutine path of gemm keeps the job on the stack.
func (k *Kernels) parallel(job *gemmJob, w int, splitN bool, panels, rowTiles int) {
	const chunksPerWorker = 4
	tiles, unit := rowTiles, k.set.mr
	if splitN {
		tiles, unit = panels, nr
	}
	chunks := min(tiles, chunksPerWorker*w)
	if !splitN && job.pb == nil {
		chunks = w // each chunk of rows packs all of B: keep them few
	}
	var next atomic.Int64
	work := func() {
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks {
				return
			}
			lo, hi := tiles*c/chunks*unit, tiles*(c+1)/chunks*unit
			if splitN {
				k.run(job, 0, job.m, lo, min(hi, job.n))
			} else {
				k.run(job, lo, min(hi, job.m), 0, job.n)
			}
		}
	}
	var wg sync.WaitGroup
	for range w - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// plan returns how many goroutines an m x n x k product gets, and whether
// they split the columns (else the rows) of C. Every goroutine packs the
// part of A and of B it uses, so splitting the columns repeats the packing
// of A in each, and splitting the rows repeats that of B (unless B is
// pre-packed); plan picks the split with the smaller estimated cost per
// goroutine, counting its share of the micro-kernel's flops (padding
// included) and its packing, weighted by what an element costs to pack.
func (k *Kernels) plan(m, n, kk int, packedB bool) (workers int, splitN bool) {
	const (
		packACost = 64 // flops the micro-kernel does in the time it packs an A element
		packBCost = 32
	)
	w := min(k.workers(), max(1, 2*m*n*kk/minFlopsPerWorker))
	if w <= 1 {
		return 1, true
	}
	mr := k.set.mr
	panels := (n + nr - 1) / nr
	rowTiles := (m + mr - 1) / mr
	wN, wM := min(w, panels), min(w, rowTiles)
	colsN := (panels + wN - 1) / wN * nr // per goroutine when splitting N
	rowsM := (rowTiles + wM - 1) / wM * mr
	costN := 2*rowTiles*mr*colsN*kk + packACost*m*kk
	costM := 2*rowsM*panels*nr*kk + packACost*rowsM*kk
	if !packedB {
		costN += packBCost * colsN * kk
		costM += packBCost * n * kk
	}
	if costN <= costM {
		return wN, true
	}
	return wM, false
}

// scaleMatrix sets C = beta*C, or C = 0 when beta is 0 (NaNs included).
func scaleMatrix(c []float32, ldc, m, n int, beta float32) {
	for i := range m {
		row := c[i*ldc:][:n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// checkMatrix panics unless data holds a rows x cols matrix with row stride
// ld: a wrong shape is a bug in the caller, like an index out of range.
func checkMatrix(name string, data []float32, rows, cols, ld int) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("tensor: %s has negative shape %dx%d", name, rows, cols))
	}
	if ld < max(1, cols) {
		panic(fmt.Sprintf("tensor: %s has stride %d < %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(data) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("tensor: %s needs %d elements for %dx%d (stride %d), has %d",
			name, (rows-1)*ld+cols, rows, cols, ld, len(data)))
	}
}
