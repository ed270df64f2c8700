package bart

import (
	"context"
	"math"
	"slices"

	"github.com/ticket-enricher/enricher/ml/tensor"
)

// notChosen is the score transformers adds to take a candidate out of a
// selection (-1e9, in float32 like its score tensors).
const notChosen = float32(-1e9)

// candidate is one continuation of a beam: beam's sequence plus token, with
// its accumulated log-probability.
type candidate struct {
	beam  int
	token int32
	score float32
}

// hypothesis is a beam search sequence (decoder start first) and its score:
// the running sum of log-probabilities while it grows, the length-penalized
// score once finished.
type hypothesis struct {
	seq      []int32
	score    float32
	finished bool
}

// beamSearch is transformers' (v5, vectorized) _beam_search for one input
// and one returned sequence: at each step the 2*NumBeams best continuations
// over all beams (torch.topk of beam score + log-softmax), the NumBeams best
// that do not end (EOS or MaxLength) go on running, and those among the
// first NumBeams that end compete for the NumBeams finished slots with score
// sum_logprobs / generated_len^LengthPenalty (generated_len excludes the
// decoder start token). The best finished hypothesis is returned.
func beamSearch(ctx context.Context, s stepper, kern *tensor.Kernels, vocab int, o GenerateOptions) ([]int32, error) {
	k := o.NumBeams
	keep := 2 * k // max(2, 1 + number of EOS ids) * num_beams
	running := make([]hypothesis, k)
	finished := make([]hypothesis, k)
	for i := range running {
		running[i] = hypothesis{seq: []int32{o.DecoderStartTokenID}, score: notChosen}
		finished[i] = hypothesis{score: notChosen}
	}
	// Only the first beam starts alive, so that the identical beams do not
	// all pick the same tokens.
	running[0].score = 0
	earlyUnsatisfied := true
	tokens := make([]int32, k)
	logp := make([]float32, vocab)
	scratch := make([]float32, vocab)
	acc := make([]float32, k*vocab)
	for curLen := 1; ; curLen++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for b := range running {
			tokens[b] = running[b].seq[curLen-1]
		}
		logits, err := s.step(ctx, tokens)
		if err != nil {
			return nil, err
		}
		for b, h := range running {
			logSoftmax(kern, logp, logits[b], scratch)
			o.process(h.seq, logp)
			row := acc[b*vocab : (b+1)*vocab]
			for v, lp := range logp {
				row[v] = lp + h.score
			}
		}
		top := topK(acc, keep)
		cands := make([]candidate, keep)
		hits := make([]bool, keep)
		allHit := true
		for j, idx := range top {
			cands[j] = candidate{beam: idx / vocab, token: int32(idx % vocab), score: acc[idx]}
			hits[j] = cands[j].token == o.EOSTokenID || curLen+1 >= o.MaxLength
			allHit = allHit && hits[j]
		}

		// The NumBeams best candidates that do not end run on.
		runScores := make([]float32, keep)
		for j, c := range cands {
			runScores[j] = c.score
			if hits[j] {
				runScores[j] += notChosen
			}
		}
		next := make([]hypothesis, k)
		beamIdx := make([]int, k)
		for i, j := range topK(runScores, k) {
			c := cands[j]
			next[i] = hypothesis{seq: append(slices.Clip(running[c.beam].seq), c.token), score: runScores[j]}
			beamIdx[i] = c.beam
		}

		finished = updateFinished(finished, running, cands, hits, curLen, earlyUnsatisfied, o)
		running = next
		if err := s.reorder(beamIdx); err != nil {
			return nil, err
		}
		curLen1 := curLen + 1
		earlyUnsatisfied = earlyUnsatisfied && improvable(running[0].score, finished, curLen1, o.LengthPenalty)
		allFinished := true
		for _, f := range finished {
			allFinished = allFinished && f.finished
		}
		if !earlyUnsatisfied || (allFinished && o.EarlyStopping) || allHit {
			break
		}
	}
	return finished[0].seq, nil
}

// updateFinished is _update_finished_beams: the candidates among the first
// NumBeams that just ended get their length-penalized score and, with the
// finished hypotheses so far, the NumBeams best are kept (sorted, best
// first). Candidates that are not eligible get -1e9 added, exactly as
// transformers does, so that the ranking matches it.
func updateFinished(finished, running []hypothesis, cands []candidate, hits []bool, curLen int, earlyUnsatisfied bool, o GenerateOptions) []hypothesis {
	k := len(finished)
	allFinished := true
	for _, f := range finished {
		allFinished = allFinished && f.finished
	}
	// (cur_len + 1 - decoder_prompt_len) ** length_penalty, a Python float.
	penalty := float32(math.Pow(float64(curLen), o.LengthPenalty))
	merged := make([]float32, k+len(cands))
	for i, f := range finished {
		merged[i] = f.score
	}
	just := make([]bool, len(cands))
	for j, c := range cands {
		just[j] = hits[j] && j < k
		s := c.score / penalty
		s += b2f(allFinished && o.EarlyStopping) * notChosen
		s += b2f(!earlyUnsatisfied) * notChosen
		s += b2f(!just[j]) * notChosen
		merged[k+j] = s
	}
	out := make([]hypothesis, k)
	for i, idx := range topK(merged, k) {
		if idx < k {
			out[i] = finished[idx]
			continue
		}
		j := idx - k
		c := cands[j]
		out[i] = hypothesis{seq: append(slices.Clip(running[c.beam].seq), c.token), score: merged[idx], finished: just[j]}
	}
	return out
}

// improvable is _check_early_stop_heuristic for early_stopping True or
// False: whether the best running beam, scored at the current length, beats
// the worst finished hypothesis (any unfinished slot counts as -1e9).
func improvable(bestRunning float32, finished []hypothesis, curLen int, lengthPenalty float64) bool {
	best := bestRunning / float32(math.Pow(float64(curLen-1), lengthPenalty))
	worst := finished[0].score
	for _, f := range finished {
		worst = min(worst, f.score)
	}
	for _, f := range finished {
		w := notChosen
		if f.finished {
			w = worst
		}
		if best > w {
			return true
		}
	}
	return false
}

// b2f is a bool as the float32 0 or 1 transformers multiplies masks by.
func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// topK returns the indexes of the k largest values of x, largest first;
// equal values keep their index order (the lower index first), which is
// what torch.topk returns on CPU for the values beam search compares.
func topK(x []float32, k int) []int {
	idx := make([]int, 0, k+1)
	for i, v := range x {
		if len(idx) == k && !(v > x[idx[k-1]]) {
			continue
		}
		// Insert after every value >= v.
		p := len(idx)
		for p > 0 && x[idx[p-1]] < v {
			p--
		}
		idx = slices.Insert(idx, p, i)
		if len(idx) > k {
			idx = idx[:k]
		}
	}
	return idx
}
