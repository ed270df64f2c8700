package tokenizer

// bpeSymbol is one token of a word being merged, in a linked list over the
// word's initial bytes; size 0 marks a symbol merged into its left neighbour.
type bpeSymbol struct {
	id         int32
	prev, next int32
	size       int32
}

// bpeCandidate is a possible merge of the symbol at pos with its right
// neighbour into newID.
type bpeCandidate struct {
	rank, pos, newID int32
}

// bpeEncoder holds the scratch space of one word's merges; pooled so that
// encoding allocates only the returned ids.
type bpeEncoder struct {
	syms []bpeSymbol
	heap []bpeCandidate
}

// merge appends the ids of word w after applying the merges as the Hugging
// Face BPE model does: the candidate of lowest rank first, the leftmost
// among equal ranks, candidates whose pair has changed since being queued
// skipped.
func (e *bpeEncoder) merge(t *BPE, w string, ids []int32) []int32 {
	e.syms = e.syms[:0]
	for i := 0; i < len(w); i++ {
		id := t.byteID[w[i]]
		if id < 0 {
			continue // no such character and no unk token: dropped, as Hugging Face does
		}
		n := int32(len(e.syms))
		e.syms = append(e.syms, bpeSymbol{id: id, prev: n - 1, next: n + 1, size: 1})
	}
	if len(e.syms) == 0 {
		return ids
	}
	e.syms[len(e.syms)-1].next = -1
	e.heap = e.heap[:0]
	for i := 0; i+1 < len(e.syms); i++ {
		e.offer(t, int32(i))
	}
	for len(e.heap) > 0 {
		top := e.pop()
		s := &e.syms[top.pos]
		if s.size == 0 || s.next < 0 {
			continue
		}
		right := e.syms[s.next]
		if m, ok := t.merges[bpePair(s.id, right.id)]; !ok || m.newID != top.newID {
			continue
		}
		e.syms[s.next].size = 0
		s.id = top.newID
		s.size += right.size
		s.next = right.next
		if s.next >= 0 {
			e.syms[s.next].prev = top.pos
		}
		if s.prev >= 0 {
			e.offer(t, s.prev)
		}
		e.offer(t, top.pos)
	}
	for _, s := range e.syms {
		if s.size > 0 {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// offer queues the merge of the symbol at pos with its right neighbour, if
// the vocabulary has one.
func (e *bpeEncoder) offer(t *BPE, pos int32) {
	s := e.syms[pos]
	if s.next < 0 {
		return
	}
	m, ok := t.merges[bpePair(s.id, e.syms[s.next].id)]
	if !ok {
		return
	}
	e.heap = append(e.heap, bpeCandidate{rank: m.rank, pos: pos, newID: m.newID})
	for i := len(e.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !e.heap[i].less(e.heap[p]) {
			break
		}
		e.heap[i], e.heap[p] = e.heap[p], e.heap[i]
		i = p
	}
}

// pop removes and returns the candidate of lowest (rank, pos).
func (e *bpeEncoder) pop() bpeCandidate {
	h := e.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && h[l].less(h[m]) {
			m = l
		}
		if r := l + 1; r < n && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	e.heap = h
	return top
}

func (c bpeCandidate) less(d bpeCandidate) bool {
	return c.rank < d.rank || c.rank == d.rank && c.pos < d.pos
}
