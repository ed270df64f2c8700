// Package httpapi serves the JSON HTTP API of DESIGN.md §2.8: ticket intake,
// ticket status and listing, synchronous enrichment, and the health probes.
//
// It depends only on the domain package and on the small interfaces declared
// here, so the same handlers run over the embedded backends (SQLite and a
// directory) and over AWS without knowing which. Every error leaves as
// {"error":{"code","message","details"}}, with the status chosen by one table
// (statusOf) from the error's code, so adapters never think about HTTP.
package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ticket-enricher/enricher"
)

// Acceptor takes one validated ticket into the system: it stores the raw
// bytes and queues the ticket for enrichment. pipeline.Intake satisfies it;
// the API only needs this one method, so that is all it asks for.
type Acceptor interface {
	Accept(ctx context.Context, t enricher.Ticket, raw []byte) error
}

// RecordEnricher enriches one ticket without storing anything, for
// POST /v1/enrich. pipeline.Enricher satisfies it.
type RecordEnricher interface {
	Enrich(ctx context.Context, t enricher.Ticket) (enricher.Record, error)
}

// Check is one readiness check of GET /readyz (database reachable, model
// loaded...). Name is how the check appears in the response, so an operator
// can see which dependency is not ready.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Defaults of Config.
const (
	// DefaultMaxBodyBytes bounds a request body: large enough for a batch
	// of a hundred maximal tickets, small enough that a request cannot
	// exhaust memory (the whole batch is validated before any is accepted,
	// so it is held in memory).
	DefaultMaxBodyBytes = 32 << 20
	// DefaultReadyTimeout bounds each readiness check: probes run every few
	// seconds and a hung dependency must read as "not ready", not as a hung
	// probe.
	DefaultReadyTimeout = 2 * time.Second
)

// Config holds the dependencies of a Server. Every interface is required:
// a server that cannot answer part of its API is a wiring bug, found at
// start-up by New rather than by the first client.
type Config struct {
	Intake   Acceptor
	Table    enricher.Table
	Raw      enricher.ObjectStore
	Enriched enricher.ObjectStore
	Enricher RecordEnricher
	// Checks are run by GET /readyz; none means always ready.
	Checks []Check
	// AuthToken, when not empty, is the bearer token required on /v1/*.
	// The probes stay open so that orchestrators need no secret.
	AuthToken string
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ReadyTimeout bounds each readiness check; 0 means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Logger receives the access log and the causes of internal errors;
	// nil discards them.
	Logger *slog.Logger
}

// Server is the API as an http.Handler, so that callers choose the listener,
// TLS and timeouts (cmd/enricher) or drive it directly (httptest).
type Server struct {
	cfg       Config
	log       *slog.Logger
	tokenHash [sha256.Size]byte
	mux       *http.ServeMux
	handler   http.Handler
}

// New validates cfg and returns a Server. It fails on any missing
// dependency, duplicate or unnamed check, or negative limit, naming each.
func New(cfg Config) (*Server, error) {
	var errs []error
	for _, dep := range []struct {
		name    string
		missing bool
	}{
		{"Intake", cfg.Intake == nil},
		{"Table", cfg.Table == nil},
		{"Raw", cfg.Raw == nil},
		{"Enriched", cfg.Enriched == nil},
		{"Enricher", cfg.Enricher == nil},
	} {
		if dep.missing {
			errs = append(errs, fmt.Errorf("config %s is nil", dep.name))
		}
	}
	names := map[string]bool{}
	for i, c := range cfg.Checks {
		switch {
		case c.Name == "":
			errs = append(errs, fmt.Errorf("check %d has no name", i))
		case names[c.Name]:
			errs = append(errs, fmt.Errorf("check %q is listed twice", c.Name))
		}
		names[c.Name] = true
		if c.Check == nil {
			errs = append(errs, fmt.Errorf("check %q has a nil func", c.Name))
		}
	}
	switch {
	case cfg.MaxBodyBytes < 0:
		errs = append(errs, fmt.Errorf("config MaxBodyBytes is negative: %d", cfg.MaxBodyBytes))
	case cfg.MaxBodyBytes == 0:
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch {
	case cfg.ReadyTimeout < 0:
		errs = append(errs, fmt.Errorf("config ReadyTimeout is negative: %s", cfg.ReadyTimeout))
	case cfg.ReadyTimeout == 0:
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("new server: %w", errors.Join(errs...))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Checks = append([]Check(nil), cfg.Checks...)

	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if cfg.AuthToken != "" {
		s.tokenHash = sha256.Sum256([]byte(cfg.AuthToken))
	}
	s.routes()
	s.handler = s.withRequestID(s.withAccessLog(s.withRecover(s.withJSON(s.withAuth(http.HandlerFunc(s.route))))))
	return s, nil
}

// routes is the route table of the API.
func (s *Server) routes() {
	s.mux.HandleFunc("POST /v1/tickets", s.handlePostTickets)
	s.mux.HandleFunc("GET /v1/tickets", s.handleListTickets)
	s.mux.HandleFunc("GET /v1/tickets/{id}", s.handleGetTicket)
	s.mux.HandleFunc("POST /v1/enrich", s.handleEnrich)
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// route dispatches to the mux, turning its plain-text 404 and 405 answers
// into the JSON error shape that every client of the API parses.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No route: let the mux decide between 404, 405 and a redirect to a
	// cleaned path, then answer in JSON.
	c := &captureWriter{header: http.Header{}}
	s.mux.ServeHTTP(c, r)
	switch c.status {
	case http.StatusNotFound:
		s.writeError(w, r, enricher.Errorf(enricher.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", c.header.Get("Allow"))
		s.writeError(w, r, enricher.Errorf(codeMethodNotAllowed, "method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, c.header.Get("Allow")))
	default:
		if loc := c.header.Get("Location"); loc != "" {
			w.Header().Set("Location", loc)
		}
		w.WriteHeader(c.status)
	}
}

// captureWriter records what the mux's fallback handlers answer, without
// sending any of it.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(p), nil
}

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}
