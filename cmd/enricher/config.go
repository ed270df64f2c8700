package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ticket-enricher/enricher/classify"
)

// config is the service configuration of DESIGN.md §2.5: every setting is an
// environment variable with the Python worker's name and also a flag, and the
// flag wins. Settings for backends that are not built yet are not read.
type config struct {
	logLevel          string
	bucketRaw         string
	bucketEnriched    string
	queueName         string
	pollInterval      time.Duration
	maxMessages       int
	visibilityTimeout time.Duration
	maxReceives       int
	workers           int
	taxonomy          string
}

// register adds the shared flags, with defaults taken from the environment.
func (c *config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.logLevel, "log-level", env("LOG_LEVEL", "info"), "log level: debug, info, warn, error (env LOG_LEVEL)")
	fs.StringVar(&c.bucketRaw, "bucket-raw", env("S3_BUCKET_RAW", "tickets-raw"), "name of the raw ticket store (env S3_BUCKET_RAW)")
	fs.StringVar(&c.bucketEnriched, "bucket-enriched", env("S3_BUCKET_ENRICHED", "tickets-enriched"), "name of the enriched record store (env S3_BUCKET_ENRICHED)")
	fs.StringVar(&c.queueName, "queue", env("SQS_QUEUE_NAME", "ticket-processing"), "name of the work queue (env SQS_QUEUE_NAME)")
	fs.DurationVar(&c.pollInterval, "poll-interval", envSeconds("SQS_POLL_INTERVAL", 20), "longest wait of one queue receive (env SQS_POLL_INTERVAL, seconds)")
	fs.IntVar(&c.maxMessages, "max-messages", envInt("SQS_MAX_MESSAGES", 10), "messages per queue receive, 1-10 (env SQS_MAX_MESSAGES)")
	fs.DurationVar(&c.visibilityTimeout, "visibility-timeout", envSeconds("SQS_VISIBILITY_TIMEOUT", 300), "how long a received ticket stays hidden before it is redelivered (env SQS_VISIBILITY_TIMEOUT, seconds)")
	fs.IntVar(&c.maxReceives, "max-receives", envInt("MAX_RECEIVE_COUNT", 5), "deliveries of a failing message before it is dead-lettered (env MAX_RECEIVE_COUNT)")
	fs.IntVar(&c.workers, "workers", envInt("WORKER_CONCURRENCY", 16), "tickets enriched at once; they share the model's batches (env WORKER_CONCURRENCY)")
	fs.StringVar(&c.taxonomy, "taxonomy", env("TAXONOMY_FILE", ""), "JSON taxonomy file replacing the built-in intents and keywords (env TAXONOMY_FILE)")
}

func (c *config) validate() error {
	switch {
	case c.maxMessages < 1 || c.maxMessages > 10:
		return fmt.Errorf("--max-messages (SQS_MAX_MESSAGES) must be 1-10, got %d", c.maxMessages)
	case c.pollInterval < 0 || c.pollInterval > 20*time.Second:
		return fmt.Errorf("--poll-interval (SQS_POLL_INTERVAL) must be 0-20 s, got %s", c.pollInterval)
	case c.visibilityTimeout < time.Second:
		return fmt.Errorf("--visibility-timeout (SQS_VISIBILITY_TIMEOUT) must be at least 1 s, got %s", c.visibilityTimeout)
	case c.maxReceives < 1:
		return fmt.Errorf("--max-receives must be at least 1, got %d", c.maxReceives)
	case c.workers < 1:
		return fmt.Errorf("--workers must be at least 1, got %d", c.workers)
	}
	return nil
}

// logger returns a JSON logger at the configured level.
func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level (LOG_LEVEL) %q: want debug, info, warn or error", c.logLevel)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// loadClassifier returns the classifier of the built-in taxonomy, or of the
// file named by path.
func loadClassifier(path string) (*classify.Classifier, error) {
	tax, err := loadTaxonomy(path)
	if err != nil {
		return nil, err
	}
	return classify.New(tax)
}

func loadTaxonomy(path string) (*classify.Taxonomy, error) {
	var (
		tax *classify.Taxonomy
		err error
	)
	if path == "" {
		tax, err = classify.Default()
	} else {
		tax, err = classify.LoadTaxonomy(path)
	}
	if err != nil {
		return nil, fmt.Errorf("load taxonomy: %w", err)
	}
	return tax, nil
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// envInt and envSeconds fall back to the default on a malformed value, but
// say so: a typo in a deployment must not pass silently.
func envInt(name string, def int) int {
	v := env(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "enricher: ignoring %s=%q: not an integer; using %d\n", name, v, def)
		return def
	}
	return n
}

func envSeconds(name string, def int) time.Duration {
	return time.Duration(envInt(name, def)) * time.Second
}
