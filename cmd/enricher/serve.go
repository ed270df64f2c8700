package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/dir"
	"github.com/ticket-enricher/enricher/httpapi"
	"github.com/ticket-enricher/enricher/pipeline"
	"github.com/ticket-enricher/enricher/sqlite"
)

// shutdownGrace bounds how long serve waits, after SIGTERM, for HTTP requests
// and in-flight tickets; Kubernetes' default grace period is 30 s.
const shutdownGrace = 25 * time.Second

// serviceFlags are the flags of the commands that run workers: serve and
// worker.
type serviceFlags struct {
	cfg     config
	emb     embedFlags
	aws     awsFlags
	backend string
	dataDir string
}

func (f *serviceFlags) register(fs *flag.FlagSet, defaultBackend string) {
	fs.StringVar(&f.backend, "backend", defaultBackend, "backends: embedded (SQLite and directories under --data) or aws (S3, SQS, DynamoDB)")
	fs.StringVar(&f.dataDir, "data", env("ENRICHER_DATA", "./data"), "directory of the embedded backends (env ENRICHER_DATA)")
	f.cfg.register(fs)
	f.emb.register(fs)
	f.aws.register(fs)
}

func (f *serviceFlags) validate() error {
	if f.backend != "embedded" && f.backend != "aws" {
		return fmt.Errorf("--backend must be embedded or aws, got %q", f.backend)
	}
	if err := f.cfg.validate(); err != nil {
		return err
	}
	return f.emb.validate()
}

// start parses args, checks them and opens the service, with the logger
// of the configured level; the caller closes the service.
func (f *serviceFlags) start(ctx context.Context, fs *flag.FlagSet, args []string, io stdio) (*service, *slog.Logger, error) {
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected arguments %q; see 'enricher %s --help'", fs.Args(), fs.Name())
	}
	if err := f.validate(); err != nil {
		return nil, nil, err
	}
	logger, err := f.cfg.logger(io.out)
	if err != nil {
		return nil, nil, err
	}
	svc, err := openService(ctx, f, logger)
	return svc, logger, err
}

// service is the pipeline wired on one set of backends.
type service struct {
	raw, enriched enricher.ObjectStore
	table         enricher.Table
	intake        *pipeline.Intake
	enricher      *pipeline.Enricher
	worker        *pipeline.Worker
	checks        []httpapi.Check
	model         *lazyEmbedding // nil without embeddings
	close         func()
}

// openService opens the backends and wires the pipeline on them. The
// embedding model starts loading in the background; the workers wait for
// it (see run).
func openService(ctx context.Context, f *serviceFlags, logger *slog.Logger) (_ *service, err error) {
	classifier, err := loadClassifier(f.cfg.taxonomy)
	if err != nil {
		return nil, err
	}
	s := &service{close: func() {}}
	var queue, notify enricher.Queue
	switch f.backend {
	case "embedded":
		db, err := sqlite.Open(ctx, filepath.Join(f.dataDir, "enricher.db"))
		if err != nil {
			return nil, fmt.Errorf("open database in %s: %w", f.dataDir, err)
		}
		s.close = func() { db.Close() }
		defer func() {
			if err != nil {
				db.Close()
			}
		}()
		raw, err := dir.Open(filepath.Join(f.dataDir, f.cfg.bucketRaw))
		if err != nil {
			return nil, fmt.Errorf("open raw store: %w", err)
		}
		enriched, err := dir.Open(filepath.Join(f.dataDir, f.cfg.bucketEnriched))
		if err != nil {
			return nil, fmt.Errorf("open enriched store: %w", err)
		}
		table, err := sqlite.NewTable(db)
		if err != nil {
			return nil, fmt.Errorf("open table: %w", err)
		}
		q, err := sqlite.NewQueue(db, f.cfg.queueName, sqlite.QueueOptions{
			VisibilityTimeout: f.cfg.visibilityTimeout,
			MaxReceiveCount:   f.cfg.maxReceives,
		})
		if err != nil {
			return nil, fmt.Errorf("open queue: %w", err)
		}
		// No bucket notifications here: the intake announces each ticket.
		s.raw, s.enriched, s.table, queue, notify = raw, enriched, table, q, q
		s.checks = append(s.checks, httpapi.Check{Name: "sqlite", Check: db.Ping})
	case "aws":
		b, _, err := openAWS(ctx, &f.aws, f.cfg)
		if err != nil {
			return nil, err
		}
		// S3 notifies SQS of every new raw object: the intake only writes it.
		s.raw, s.enriched, s.table, queue = b.raw, b.enriched, b.table, b.queue
		s.checks = append(s.checks, httpapi.Check{Name: "sqs", Check: func(ctx context.Context) error {
			_, err := b.queue.Stats(ctx)
			return err
		}})
	}

	s.intake = &pipeline.Intake{Raw: s.raw, Bucket: f.cfg.bucketRaw, Notify: notify}
	s.enricher = &pipeline.Enricher{Classifier: classifier, ModelVersion: classifier.Version()}
	if f.emb.enabled {
		// The model loads in the background: the API answers at once,
		// /readyz says when embeddings can be computed, and the workers
		// start then.
		s.model = newLazyEmbedding()
		go s.model.load(ctx, &f.emb, logger)
		batcher := pipeline.NewBatcher(s.model, f.emb.batch, f.emb.wait)
		closeBackends := s.close
		s.close = func() { batcher.Close(); closeBackends() }
		s.enricher.Embedder, s.enricher.EmbeddingModel = batcher, embeddingModelID
		s.enricher.ModelVersion = embeddingVersion() + "+" + s.enricher.ModelVersion
		s.checks = append(s.checks, httpapi.Check{Name: "embedding_model", Check: s.model.Ready})
	}
	s.worker = &pipeline.Worker{
		Queue:    queue,
		Raw:      s.raw,
		Enriched: s.enriched,
		Table:    s.table,
		Enricher: s.enricher,
		Logger:   logger,
		Config: pipeline.WorkerConfig{
			Concurrency: f.cfg.workers,
			BatchSize:   f.cfg.maxMessages,
			PollWait:    f.cfg.pollInterval,
			Visibility:  f.cfg.visibilityTimeout,
			MaxAttempts: f.cfg.maxReceives,
			RawBucket:   f.cfg.bucketRaw,
		},
	}
	return s, nil
}

// runWorkers runs the workers once the model (if any) has loaded, until ctx
// ends. Without the model they never start, and it returns the ENOTREADY
// error that says how to get it: tickets wait in the queue.
func (s *service) runWorkers(ctx context.Context) error {
	if s.model != nil {
		if err := s.model.wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	if err := s.worker.Run(ctx); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

func runServe(ctx context.Context, args []string, io stdio) error {
	var (
		f         serviceFlags
		addr      string
		authToken string
	)
	fs := newFlagSet("serve", "[flags]",
		"Runs the HTTP API and the workers. By default on the embedded backends: a SQLite queue\n"+
			"and table and directories for the raw and enriched tickets, all under --data; nothing\n"+
			"else to install. With --backend aws, on S3, SQS and DynamoDB (create them first with\n"+
			"`enricher setup`). Tickets POSTed to /v1/tickets are stored, queued, enriched by the\n"+
			"workers, and readable at /v1/tickets/{id}. SIGINT or SIGTERM stops taking work and\n"+
			"finishes tickets in flight.",
		"  enricher serve --addr 127.0.0.1:8080 --data ./data\n"+
			"  enricher upload ../shared/data/tickets-labeled.jsonl    # in another terminal\n"+
			"  AWS_ENDPOINT_URL=http://127.0.0.1:5000 enricher serve --backend aws",
		io.err)
	fs.StringVar(&addr, "addr", env("ENRICHER_ADDR", "127.0.0.1:8080"), "address to listen on; port 0 picks a free one (env ENRICHER_ADDR)")
	fs.StringVar(&authToken, "auth-token", env("ENRICHER_AUTH_TOKEN", ""), "if set, /v1/* requires 'Authorization: Bearer <token>' (env ENRICHER_AUTH_TOKEN)")
	f.register(fs, "embedded")
	svc, logger, err := f.start(ctx, fs, args, io)
	if err != nil {
		return err
	}
	defer svc.close()

	api, err := httpapi.New(httpapi.Config{
		Intake:    svc.intake,
		Table:     svc.table,
		Raw:       svc.raw,
		Enriched:  svc.enriched,
		Enricher:  svc.enricher,
		Checks:    svc.checks,
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
	logger.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String(), "backend", f.backend, "data", f.dataDir)

	var wg sync.WaitGroup
	serveErr := make(chan error, 2)
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	})
	workerCtx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	wg.Go(func() {
		err := svc.runWorkers(workerCtx)
		switch {
		case enricher.ErrorCode(err) == enricher.ENOTREADY:
			// The API keeps accepting tickets; /readyz and the log say why
			// they are not enriched.
		case err != nil:
			serveErr <- err
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
	waitGrace(shutdownCtx, &wg, logger)
	return err
}

// waitGrace waits for the goroutines of wg within the grace period. In-flight
// tickets finish on their own context; tickets cut off here are redelivered
// after their visibility timeout, so stopping late loses nothing.
func waitGrace(ctx context.Context, wg *sync.WaitGroup, logger *slog.Logger) {
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
		logger.Info("stopped")
	case <-ctx.Done():
		logger.Warn("stopped before in-flight tickets finished; they will be redelivered", "grace", shutdownGrace)
	}
}

func runWorker(ctx context.Context, args []string, io stdio) error {
	var f serviceFlags
	fs := newFlagSet("worker", "[flags]",
		"Runs only the workers: they long-poll the queue, enrich each announced ticket, and write\n"+
			"the table item and the enriched object, by default on AWS (S3, SQS, DynamoDB). This is\n"+
			"what worker pods run; scale them on the queue's depth. SIGTERM stops receiving, finishes\n"+
			"tickets in flight within the grace period and hands back the rest.",
		"  AWS_REGION=eu-west-1 enricher worker\n"+
			"  AWS_ENDPOINT_URL=http://127.0.0.1:5000 enricher worker --workers 8",
		io.err)
	f.register(fs, "aws")
	svc, logger, err := f.start(ctx, fs, args, io)
	if err != nil {
		return err
	}
	defer svc.close()
	logger.Info("worker starting", "backend", f.backend, "queue", f.cfg.queueName)
	done := make(chan error, 1)
	go func() { done <- svc.runWorkers(ctx) }()
	select {
	case err := <-done: // the model is missing, or the worker could not start
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done:
		logger.Info("stopped")
		return err
	case <-time.After(shutdownGrace):
		logger.Warn("stopped before in-flight tickets finished; they will be redelivered", "grace", shutdownGrace)
		return nil
	}
}
