package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Embedder turns texts into vectors, one per text in order. It is declared
// here, where it is used; bert.Model satisfies it.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Batcher gathers the Embed calls of concurrent tickets into one call of
// the model with up to MaxBatch texts, waiting at most MaxWait after the
// first text for others to join. A transformer spends most of a small
// batch's time streaming its weights through the cache, so one batch of 16
// costs far less than 16 batches of one, while a lone ticket waits only
// MaxWait.
//
// Batcher itself satisfies Embedder, so the pipeline uses it like the model.
type Batcher struct {
	model    Embedder
	maxBatch int
	maxWait  time.Duration

	reqs chan *embedRequest
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

type embedRequest struct {
	ctx   context.Context
	texts []string
	out   [][]float32
	err   error
	ready chan struct{}
}

// NewBatcher starts a batcher over model. Close stops it.
func NewBatcher(model Embedder, maxBatch int, maxWait time.Duration) *Batcher {
	if maxBatch < 1 {
		maxBatch = 1
	}
	b := &Batcher{model: model, maxBatch: maxBatch, maxWait: maxWait,
		reqs: make(chan *embedRequest), stop: make(chan struct{})}
	b.done.Go(b.loop)
	return b
}

// Embed queues texts for the next batch and waits for their vectors. A call
// with more than MaxBatch texts is a batch of its own.
func (b *Batcher) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	r := &embedRequest{ctx: ctx, texts: texts, ready: make(chan struct{})}
	select {
	case b.reqs <- r:
	case <-b.stop:
		return nil, fmt.Errorf("embed: batcher closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-r.ready:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the batcher after the batch in progress; later Embed calls
// fail.
func (b *Batcher) Close() {
	b.once.Do(func() { close(b.stop) })
	b.done.Wait()
}

func (b *Batcher) loop() {
	for {
		var first *embedRequest
		select {
		case first = <-b.reqs:
		case <-b.stop:
			return
		}
		batch := []*embedRequest{first}
		n := len(first.texts)
		timer := time.NewTimer(b.maxWait)
	gather:
		for n < b.maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
				n += len(r.texts)
			case <-timer.C:
				break gather
			case <-b.stop:
				break gather
			}
		}
		timer.Stop()
		b.run(batch, n)
	}
}

// run embeds the texts of every request still waiting in one model call
// and hands each its vectors.
func (b *Batcher) run(batch []*embedRequest, n int) {
	live := batch[:0]
	texts := make([]string, 0, n)
	for _, r := range batch {
		if r.ctx.Err() != nil { // its caller has gone; do not spend the model on it
			close(r.ready)
			continue
		}
		live = append(live, r)
		texts = append(texts, r.texts...)
	}
	if len(live) == 0 {
		return
	}
	// The batch serves several callers, so no single caller's cancellation
	// may abort it; each caller stops waiting on its own context instead.
	vecs, err := b.model.Embed(context.Background(), texts)
	if err == nil && len(vecs) != len(texts) {
		err = fmt.Errorf("embed: model returned %d vectors for %d texts", len(vecs), len(texts))
	}
	for _, r := range live {
		if err != nil {
			r.err = err
		} else {
			r.out, vecs = vecs[:len(r.texts):len(r.texts)], vecs[len(r.texts):]
		}
		close(r.ready)
	}
}
