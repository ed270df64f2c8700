package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ticket-enricher/enricher"
)

// requestIDKey is the context key of the request id.
type requestIDKey struct{}

// RequestID returns the id of the request that ctx belongs to, or "" outside
// a request. Handlers and the things they call put it in their logs, so one
// id ties a client's report to every log line of its request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// maxRequestIDLen bounds an incoming X-Request-Id, which ends up in logs.
const maxRequestIDLen = 128

// validRequestID reports whether a client's X-Request-Id is safe to echo and
// log: 1 to 128 visible ASCII characters, so that it can neither forge log
// lines nor bloat them.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// withRequestID keeps the caller's X-Request-Id (a proxy may have set it, to
// follow a request across services) or makes one, echoes it, and puts it in
// the context.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// statusWriter remembers the status a handler sent, for the access log and
// for knowing whether a panic can still be answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withAccessLog logs one line per request: method, path, status, duration
// and request id, never bodies or query strings, which carry customer data.
// Probes log at debug so that they do not drown the requests that matter.
func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
				level = slog.LevelDebug
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", RequestID(r.Context())))
		}()
		next.ServeHTTP(sw, r)
	})
}

// withRecover turns a panicking handler into a logged 500, so that one bad
// request does not take the connection's other work with it. When the
// response has already begun, the connection is aborted instead, so that
// the client cannot mistake a truncated body for a complete one.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logInternal(r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			if sw.status != 0 {
				panic(http.ErrAbortHandler)
			}
			s.writeErrorBody(sw, r, http.StatusInternalServerError, enricher.EINTERNAL, internalMessage, nil)
		}()
		next.ServeHTTP(sw, r)
	})
}

// withJSON marks every response as JSON before any handler runs, including
// the fallbacks that write no body.
func (s *Server) withJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// needsAuth reports whether path is under /v1, after the cleaning the mux
// will do, so that /x/../v1/tickets cannot route around the token.
func needsAuth(p string) bool {
	p = path.Clean("/" + p)
	return p == "/v1" || strings.HasPrefix(p, "/v1/")
}

// withAuth requires "Authorization: Bearer <AuthToken>" on /v1/* when a
// token is configured. Both sides are hashed before the constant-time
// compare so that not even the token's length leaks through timing.
func (s *Server) withAuth(next http.Handler) http.Handler {
	if s.cfg.AuthToken == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !needsAuth(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="enricher"`)
			s.writeError(w, r, enricher.Errorf(enricher.EUNAUTHORIZED, "a bearer token is required: send Authorization: Bearer <token>"))
			return
		}
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="enricher", error="invalid_token"`)
			s.writeError(w, r, enricher.Errorf(enricher.EUNAUTHORIZED, "invalid bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
