package bert

import (
	"math"
	"runtime"
	"sync"

	"github.com/ticket-enricher/enricher/ml/tensor"
)

// The layers below hold one BERT module each, named after transformers'
// BertModel modules, with a Forward method over a group of sequences that
// are concatenated without padding: row i of an activation matrix is one
// token of one sequence, and seqs says where each sequence's rows start.
// Dense layers and layer norms treat every row alike, so they run once over
// the whole group (one large matrix product instead of one per text, and no
// padding); only attention needs the sequence boundaries.

// span is one sequence of a group: rows [off, off+n) of the activations.
type span struct {
	off, n int
}

// layerNorm is torch.nn.LayerNorm over the hidden dimension.
type layerNorm struct {
	gamma, beta []float32
	eps         float32
}

// Forward writes the normalized rows of x to dst (which may be x): with
// dst apart, a residual sum in a scratch buffer lands back in the
// activations without a copy.
func (n *layerNorm) Forward(k *tensor.Kernels, dst, x []float32, rows int) {
	w := len(n.gamma)
	k.LayerNorm(dst[:rows*w], x[:rows*w], n.gamma, n.beta, w, n.eps)
}

// embeddings is BertEmbeddings: word + absolute position + token type 0,
// then LayerNorm. Positions restart at 0 for every sequence, as they do for
// each row of a padded batch.
type embeddings struct {
	word, pos, typ0 []float32 // [vocab, h], [positions, h], type 0's row [h]
	norm            layerNorm
	hidden          int
}

// Forward writes the embedded tokens of every sequence into x.
func (e *embeddings) Forward(k *tensor.Kernels, x []float32, ids [][]int32, seqs []span) {
	h := e.hidden
	for s, sp := range seqs {
		for t, id := range ids[s] {
			row := x[(sp.off+t)*h:][:h]
			word := e.word[int(id)*h:][:h]
			pos := e.pos[t*h:][:h]
			for j := range row {
				row[j] = word[j] + e.typ0[j] + pos[j]
			}
		}
	}
	rows := seqs[len(seqs)-1].off + seqs[len(seqs)-1].n
	e.norm.Forward(k, x, x, rows)
}

// selfAttention is BertAttention: the query, key and value projections
// (fused into one product of width 3h), scaled dot-product attention per
// head within each sequence, the output projection, the residual and a
// LayerNorm. No mask is needed: a sequence's rows are exactly its tokens, so
// attending to all of them is what the padded batch does with its mask.
type selfAttention struct {
	qkv     tensor.Linear // [3h, h]: query, then key, then value
	out     tensor.Linear
	norm    layerNorm
	heads   int
	headDim int
}

// Forward updates x[rows, h] in place: x = LN(x + Attn(x) W_o^T + b_o).
func (a *selfAttention) Forward(k *tensor.Kernels, s *arena, x []float32, seqs []span, rows int) {
	h := a.heads * a.headDim
	a.qkv.Forward(k, s.qkv, x, rows)
	a.attend(s, seqs)
	a.out.Forward(k, s.tmp, s.ctx, rows)
	k.Add(s.tmp[:rows*h], x[:rows*h])
	a.norm.Forward(k, x, s.tmp, rows)
}

// attend computes softmax(Q K^T / sqrt(d)) V for every head of every
// sequence into s.ctx, spreading the (sequence, head) pairs over one
// goroutine per scores buffer (GOMAXPROCS of them). Each pair is a small product (a few dozen tokens by 32), too
// small for the SGEMM to split, so the parallelism is here instead.
func (a *selfAttention) attend(s *arena, seqs []span) {
	jobs := len(seqs) * a.heads
	w := min(len(s.scores), jobs)
	flops := 0
	for _, sp := range seqs {
		flops += 4 * sp.n * sp.n * a.heads * a.headDim
	}
	if w <= 1 || flops < minAttentionFlops {
		for j := range jobs {
			a.head(s.single, s.qkv, s.ctx, s.scores[0], seqs[j/a.heads], j%a.heads)
		}
		return
	}
	var wg sync.WaitGroup
	for t := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Interleave the jobs: groups are sorted by length, so
			// contiguous blocks would give one worker all the long ones.
			for j := t; j < jobs; j += w {
				a.head(s.single, s.qkv, s.ctx, s.scores[t], seqs[j/a.heads], j%a.heads)
			}
		}()
	}
	wg.Wait()
}

// minAttentionFlops keeps the attention of short texts (a subject of ten
// tokens) on one goroutine: below about a million flops, starting and
// joining goroutines costs more than the work they would share.
const minAttentionFlops = 1 << 20

// head computes one head of one sequence: ctx[:, hd] = softmax(q k^T *
// scale) v, reading q, k and v as strided column blocks of qkv.
func (a *selfAttention) head(k *tensor.Kernels, qkv, ctx, scores []float32, sp span, head int) {
	d, h := a.headDim, a.heads*a.headDim
	n := sp.n
	scale := float32(1 / math.Sqrt(float64(d)))
	base := sp.off * 3 * h
	q := qkv[base+head*d:]
	kk := qkv[base+h+head*d:]
	v := qkv[base+2*h+head*d:]
	sc := scores[:n*n]
	k.Gemm(false, true, n, n, d, scale, q, 3*h, kk, 3*h, 0, sc, n)
	k.Softmax(sc, n)
	k.Gemm(false, false, n, d, n, 1, sc, n, v, 3*h, 0, ctx[sp.off*h+head*d:], h)
}

// feedForward is BertIntermediate plus BertOutput: a dense layer to the
// intermediate width, exact GELU, a dense layer back, the residual and a
// LayerNorm.
type feedForward struct {
	up, down tensor.Linear
	norm     layerNorm
}

// Forward updates x[rows, h] in place: x = LN(x + GELU(x W1^T + b1) W2^T + b2).
func (f *feedForward) Forward(k *tensor.Kernels, s *arena, x []float32, rows int) {
	h, inter := f.up.In, f.up.Out
	mid := s.inter[:rows*inter]
	f.up.Forward(k, mid, x, rows)
	parallelRows(rows, inter, func(r0, r1 int) {
		k.GELU(mid[r0*inter:r1*inter], mid[r0*inter:r1*inter])
	})
	f.down.Forward(k, s.tmp, mid, rows)
	k.Add(s.tmp[:rows*h], x[:rows*h])
	f.norm.Forward(k, x, s.tmp, rows)
}

// encoderLayer is one BertLayer.
type encoderLayer struct {
	attn selfAttention
	ffn  feedForward
}

// Forward runs the layer over x in place.
func (l *encoderLayer) Forward(k *tensor.Kernels, s *arena, x []float32, seqs []span, rows int) {
	l.attn.Forward(k, s, x, seqs, rows)
	l.ffn.Forward(k, s, x, rows)
}

// meanPool sets dst to the mean of rows [off, off+n) of x (width len(dst)):
// sentence-transformers' mean pooling, whose attention mask selects exactly
// these rows. It sums in float64 so that the result does not depend on the
// order of the rows.
func meanPool(dst, x []float32, sp span, acc []float64) {
	w := len(dst)
	acc = acc[:w]
	clear(acc)
	for t := range sp.n {
		row := x[(sp.off+t)*w:][:w]
		for j, v := range row {
			acc[j] += float64(v)
		}
	}
	// Pooling.py divides by max(count, 1e-9); a span is never empty.
	inv := 1 / float64(max(sp.n, 1))
	for j := range dst {
		dst[j] = float32(acc[j] * inv)
	}
}

// normalize scales v to unit L2 norm as torch.nn.functional.normalize does
// in sentence-transformers' Normalize module: v / max(||v||, 1e-12).
func normalize(v []float32) {
	var sq float64
	for _, x := range v {
		sq += float64(x) * float64(x)
	}
	inv := 1 / math.Max(math.Sqrt(sq), 1e-12)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}

// minParallelElems is the size below which an element-wise kernel runs on
// one goroutine: about 50 µs of GELU, well above the cost of a goroutine.
const minParallelElems = 1 << 16

// parallelRows calls fn on row ranges covering [0, rows) of a matrix width
// wide, on GOMAXPROCS goroutines when the matrix is large enough. The SGEMM
// splits its own work; this is for the element-wise kernels between the
// products, which otherwise leave the other cores idle when a single text
// is embedded.
func parallelRows(rows, width int, fn func(r0, r1 int)) {
	w := min(runtime.GOMAXPROCS(0), rows, rows*width/minParallelElems)
	if w <= 1 {
		fn(0, rows)
		return
	}
	var wg sync.WaitGroup
	for t := 1; t < w; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(rows*t/w, rows*(t+1)/w)
		}()
	}
	fn(0, rows/w)
	wg.Wait()
}
