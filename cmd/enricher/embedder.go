package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/ml/bert"
	"github.com/ticket-enricher/enricher/models"
	"github.com/ticket-enricher/enricher/pipeline"
)

// embeddingModelID is the embedding model of DESIGN.md §1.
const embeddingModelID = "sentence-transformers/all-MiniLM-L6-v2"

// embedFlags are the embedding settings shared by serve and enrich.
type embedFlags struct {
	enabled  bool
	modelDir string
	cacheDir string
	batch    int
	wait     time.Duration
}

func (f *embedFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.enabled, "embeddings", true, "compute embeddings (all-MiniLM-L6-v2); false leaves them out of the records")
	fs.StringVar(&f.modelDir, "model-dir", env("MODEL_DIR", ""), "use the embedding model in this directory, verified, instead of the cache (env MODEL_DIR)")
	fs.StringVar(&f.cacheDir, "cache-dir", defaultModelCacheDir(), cacheDirUsage)
	fs.IntVar(&f.batch, "embed-batch", envInt("EMBED_BATCH", 32), "most tickets embedded in one model call (env EMBED_BATCH)")
	fs.DurationVar(&f.wait, "embed-wait", 5*time.Millisecond, "longest wait for other tickets to join a model call")
}

func (f *embedFlags) validate() error {
	if f.batch < 1 {
		return fmt.Errorf("--embed-batch must be at least 1, got %d", f.batch)
	}
	if f.wait < 0 {
		return fmt.Errorf("--embed-wait must not be negative, got %s", f.wait)
	}
	return nil
}

// embeddingVersion names the embedding model and its pinned revision for
// records' model_version.
func embeddingVersion() string {
	m, _ := models.Lookup(embeddingModelID)
	return "all-MiniLM-L6-v2@" + m.Revision[:8]
}

// load finds the model (--model-dir, else the cache), verifies
// and loads it. Its error says exactly how to get the model.
func (f *embedFlags) load(ctx context.Context) (*bert.Model, error) {
	m, ok := models.Lookup(embeddingModelID)
	if !ok {
		return nil, fmt.Errorf("model %s is not in the registry", embeddingModelID)
	}
	dir, err := models.Resolve(ctx, f.modelDir, models.Cache{Dir: f.cacheDir}, m)
	if err != nil {
		return nil, err
	}
	model, err := bert.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load %s from %s: %w", embeddingModelID, dir, err)
	}
	return model, nil
}

// lazyEmbedding is the embedding model of a running service. It loads in
// the background so that the API answers at once; until it has loaded,
// Embed and Ready report ENOTREADY with the reason, so the service never
// pretends to have embeddings it cannot compute.
type lazyEmbedding struct {
	mu     sync.Mutex
	model  *bert.Model
	err    error
	loaded chan struct{}
}

func newLazyEmbedding() *lazyEmbedding {
	return &lazyEmbedding{err: enricher.Errorf(enricher.ENOTREADY, "embedding model is loading"), loaded: make(chan struct{})}
}

// load loads the model and records the outcome; it logs how long it took,
// or why it failed and what to do.
func (l *lazyEmbedding) load(ctx context.Context, f *embedFlags, logger *slog.Logger) {
	start := time.Now()
	model, err := f.load(ctx)
	l.mu.Lock()
	l.model, l.err = model, err
	l.mu.Unlock()
	close(l.loaded)
	if err != nil {
		logger.Error("embedding model unavailable: the service accepts tickets but does not enrich them until it has the model; then restart it",
			"model", embeddingModelID, "err", err.Error())
		return
	}
	logger.Info("embedding model loaded", "model", embeddingModelID, "ms", time.Since(start).Milliseconds())
}

// Ready is the readiness check: nil once the model is loaded.
func (l *lazyEmbedding) Ready(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return enricher.Errorf(enricher.ENOTREADY, "%s", l.err)
	}
	return nil
}

// Embed delegates to the model once it is loaded.
func (l *lazyEmbedding) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	l.mu.Lock()
	model, err := l.model, l.err
	l.mu.Unlock()
	if err != nil {
		return nil, enricher.Errorf(enricher.ENOTREADY, "embedding model not available: %s", err)
	}
	return model.Embed(ctx, texts)
}

// wait blocks until loading has finished and returns its error.
func (l *lazyEmbedding) wait(ctx context.Context) error {
	select {
	case <-l.loaded:
		return l.Ready(ctx)
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ pipeline.Embedder = (*lazyEmbedding)(nil)
