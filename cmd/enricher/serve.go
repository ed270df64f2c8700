package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/ticket-enricher/enricher/dir"
	"github.com/ticket-enricher/enricher/httpapi"
	"github.com/ticket-enricher/enricher/pipeline"
	"github.com/ticket-enricher/enricher/sqlite"
)

// shutdownGrace bounds how long serve waits, after SIGTERM, for HTTP requests
// and in-flight tickets; Kubernetes' default grace period is 30 s.
const shutdownGrace = 25 * time.Second

func runServe(ctx context.Context, args []string, io stdio) error {
	var (
		cfg       config
		emb       embedFlags
		addr      string
		dataDir   string
		backend   string
		authToken string
	)
	fs := newFlagSet("serve", "[flags]",
		"Runs the HTTP API and the workers on the embedded backends: a SQLite queue and table and\n"+
			"directories for the raw and enriched tickets, all under --data. Nothing else to install.\n"+
			"Tickets POSTed to /v1/tickets are stored, queued, enriched by the workers, and readable\n"+
			"at /v1/tickets/{id}. SIGINT or SIGTERM stops taking work and finishes tickets in flight.",
		"  enricher serve --addr 127.0.0.1:8080 --data ./data\n"+
			"  enricher upload ../shared/data/tickets-labeled.jsonl    # in another terminal",
		io.err)
	fs.StringVar(&addr, "addr", env("ENRICHER_ADDR", "127.0.0.1:8080"), "address to listen on; port 0 picks a free one (env ENRICHER_ADDR)")
	fs.StringVar(&dataDir, "data", env("ENRICHER_DATA", "./data"), "directory of the embedded backends (env ENRICHER_DATA)")
	fs.StringVar(&backend, "backend", "embedded", "backends to use: embedded (AWS is not built yet)")
	fs.StringVar(&authToken, "auth-token", env("ENRICHER_AUTH_TOKEN", ""), "if set, /v1/* requires 'Authorization: Bearer <token>' (env ENRICHER_AUTH_TOKEN)")
	cfg.register(fs)
	emb.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see 'enricher serve --help'", fs.Args())
	}
	if err := emb.validate(); err != nil {
		return err
	}
	if backend != "embedded" {
		return fmt.Errorf("--backend %q is not available: only the embedded backend is built so far (AWS is issue 4)", backend)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	logger, err := cfg.logger(io.out)
	if err != nil {
		return err
	}

	svc, err := openEmbedded(ctx, dataDir, cfg, logger)
	if err != nil {
		return err
	}
	defer svc.db.Close()
	checks := []httpapi.Check{{Name: "sqlite", Check: svc.db.Ping}}

	// The model loads in the background: the API answers at once, /readyz
	// says when embeddings can be computed, and the workers start then.
	model := newLazyEmbedding()
	if emb.enabled {
		go model.load(ctx, &emb, logger)
		batcher := pipeline.NewBatcher(model, emb.batch, emb.wait)
		defer batcher.Close()
		svc.enricher.Embedder, svc.enricher.EmbeddingModel = batcher, embeddingModelID
		svc.enricher.ModelVersion = embeddingVersion() + "+" + svc.enricher.ModelVersion
		checks = append(checks, httpapi.Check{Name: "embedding_model", Check: model.Ready})
	}

	api, err := httpapi.New(httpapi.Config{
		Intake:    svc.intake,
		Table:     svc.table,
		Raw:       svc.raw,
		Enriched:  svc.enriched,
		Enricher:  svc.enricher,
		Checks:    checks,
		AuthToken: authToken,
		Logger:    logger,
	})
	if err != nil {
		return fmt.Errorf("build API: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another enricher running? pick another --addr)", addr, err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String(), "data", dataDir)

	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	})
	workerCtx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	wg.Go(func() {
		if emb.enabled {
			if err := model.wait(workerCtx); err != nil {
				return // logged by load; tickets wait in the queue
			}
		}
		if err := svc.worker.Run(workerCtx); err != nil {
			serveErr <- fmt.Errorf("worker: %w", err)
		}
	})

	select {
	case <-ctx.Done():
		logger.Info("shutting down: no new tickets, finishing those in flight")
	case err = <-serveErr:
		logger.Error("stopping", "err", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	stopWorkers()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		logger.Warn("HTTP shutdown", "err", serr)
	}
	// In-flight tickets finish on their own context; bound the wait by the
	// same grace period. Tickets cut off here are redelivered after their
	// visibility timeout, so stopping late loses nothing.
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
		logger.Info("stopped")
	case <-shutdownCtx.Done():
		logger.Warn("stopped before in-flight tickets finished; they will be redelivered", "grace", shutdownGrace)
	}
	return err
}

// embedded is the service wired on the embedded backends.
type embedded struct {
	db       *sqlite.DB
	raw      *dir.Store
	enriched *dir.Store
	table    *sqlite.Table
	queue    *sqlite.Queue
	intake   *pipeline.Intake
	enricher *pipeline.Enricher
	worker   *pipeline.Worker
}

// openEmbedded opens the backends under dataDir and wires the pipeline on
// them. The stores are named after the buckets, so the directory layout
// mirrors the AWS deployment.
func openEmbedded(ctx context.Context, dataDir string, cfg config, logger *slog.Logger) (_ *embedded, err error) {
	classifier, err := loadClassifier(cfg.taxonomy)
	if err != nil {
		return nil, err
	}
	s := &embedded{}
	if s.db, err = sqlite.Open(ctx, filepath.Join(dataDir, "enricher.db")); err != nil {
		return nil, fmt.Errorf("open database in %s: %w", dataDir, err)
	}
	defer func() {
		if err != nil {
			s.db.Close()
		}
	}()
	if s.raw, err = dir.Open(filepath.Join(dataDir, cfg.bucketRaw)); err != nil {
		return nil, fmt.Errorf("open raw store: %w", err)
	}
	if s.enriched, err = dir.Open(filepath.Join(dataDir, cfg.bucketEnriched)); err != nil {
		return nil, fmt.Errorf("open enriched store: %w", err)
	}
	if s.table, err = sqlite.NewTable(s.db); err != nil {
		return nil, fmt.Errorf("open table: %w", err)
	}
	s.queue, err = sqlite.NewQueue(s.db, cfg.queueName, sqlite.QueueOptions{
		VisibilityTimeout: cfg.visibilityTimeout,
		MaxReceiveCount:   cfg.maxReceives,
	})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	s.intake = &pipeline.Intake{Raw: s.raw, Bucket: cfg.bucketRaw, Notify: s.queue}
	s.enricher = &pipeline.Enricher{Classifier: classifier, ModelVersion: classifier.Version()}
	s.worker = &pipeline.Worker{
		Queue:    s.queue,
		Raw:      s.raw,
		Enriched: s.enriched,
		Table:    s.table,
		Enricher: s.enricher,
		Logger:   logger,
		Config: pipeline.WorkerConfig{
			Concurrency: cfg.workers,
			BatchSize:   cfg.maxMessages,
			PollWait:    cfg.pollInterval,
			Visibility:  cfg.visibilityTimeout,
			MaxAttempts: cfg.maxReceives,
			RawBucket:   cfg.bucketRaw,
		},
	}
	return s, nil
}
