package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// lenEmbedder returns, for each text, the vector [len(text)], and records the
// size of every batch it was given.
type lenEmbedder struct {
	mu      sync.Mutex
	batches []int
	err     error
	short   bool // return one vector too few
	block   chan struct{}
}

func (e *lenEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if e.block != nil {
		<-e.block
	}
	e.mu.Lock()
	e.batches = append(e.batches, len(texts))
	e.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t))}
	}
	if e.short {
		out = out[1:]
	}
	return out, nil
}

func TestBatcher_Embed(t *testing.T) {
	tests := []struct {
		name      string
		callers   int
		perCaller int
		maxBatch  int
		wantMaxSz int
	}{
		{"concurrent singles share batches", 12, 1, 4, 4},
		{"a call larger than the batch is a batch of its own", 1, 9, 4, 9},
		{"several texts per call", 6, 2, 5, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model := &lenEmbedder{}
			b := NewBatcher(model, tt.maxBatch, 50*time.Millisecond)
			defer b.Close()
			var wg sync.WaitGroup
			errs := make(chan error, tt.callers)
			for c := range tt.callers {
				wg.Go(func() {
					texts := make([]string, tt.perCaller)
					for i := range texts {
						texts[i] = strings.Repeat("x", c*10+i+1)
					}
					vecs, err := b.Embed(context.Background(), texts)
					if err != nil {
						errs <- err
						return
					}
					for i, v := range vecs {
						if want := float32(len(texts[i])); len(v) != 1 || v[0] != want {
							errs <- errors.New("caller got another caller's vector")
						}
					}
					if len(vecs) != len(texts) {
						errs <- errors.New("wrong number of vectors")
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			total, largest := 0, 0
			for _, n := range model.batches {
				total += n
				largest = max(largest, n)
			}
			if want := tt.callers * tt.perCaller; total != want {
				t.Errorf("model embedded %d texts, want %d", total, want)
			}
			if largest > tt.wantMaxSz {
				t.Errorf("largest batch %d, want at most %d", largest, tt.wantMaxSz)
			}
			if tt.callers > 1 && len(model.batches) >= tt.callers {
				t.Errorf("%d callers made %d model calls (%v): nothing was batched", tt.callers, len(model.batches), model.batches)
			}
		})
	}
}

func TestBatcher_EmbedErrors(t *testing.T) {
	t.Run("model error reaches every caller", func(t *testing.T) {
		boom := errors.New("boom")
		b := NewBatcher(&lenEmbedder{err: boom}, 8, 20*time.Millisecond)
		defer b.Close()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if _, err := b.Embed(context.Background(), []string{"a"}); !errors.Is(err, boom) {
					t.Errorf("got %v, want %v", err, boom)
				}
			})
		}
		wg.Wait()
	})
	t.Run("wrong vector count", func(t *testing.T) {
		b := NewBatcher(&lenEmbedder{short: true}, 8, time.Millisecond)
		defer b.Close()
		if _, err := b.Embed(context.Background(), []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "1 vectors for 2 texts") {
			t.Errorf("got %v, want an error about the vector count", err)
		}
	})
	t.Run("cancelled caller", func(t *testing.T) {
		model := &lenEmbedder{block: make(chan struct{})}
		b := NewBatcher(model, 8, time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := b.Embed(ctx, []string{"a"})
			done <- err
		}()
		time.Sleep(20 * time.Millisecond) // let the batch reach the blocked model
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		close(model.block)
		b.Close()
	})
	t.Run("closed", func(t *testing.T) {
		b := NewBatcher(&lenEmbedder{}, 8, time.Millisecond)
		b.Close()
		if _, err := b.Embed(context.Background(), []string{"a"}); err == nil {
			t.Error("Embed after Close succeeded, want an error")
		}
	})
}
