package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ticket-enricher/enricher"
)

// The fakes below stand in for the pipeline and the backends at the
// interfaces this package declares; the real ones are tested in their own
// packages.

type acceptCall struct {
	ticket enricher.Ticket
	raw    string
}

// fakeIntake records accepted tickets; the failAt-th call (1-based) fails
// with err.
type fakeIntake struct {
	mu       sync.Mutex
	accepted []acceptCall
	calls    int
	failAt   int
	err      error
}

func (f *fakeIntake) Accept(ctx context.Context, t enricher.Ticket, raw []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failAt > 0 && f.calls == f.failAt {
		return f.err
	}
	f.accepted = append(f.accepted, acceptCall{ticket: t, raw: string(raw)})
	return nil
}

func (f *fakeIntake) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, c := range f.accepted {
		ids = append(ids, c.ticket.ID)
	}
	return ids
}

// fakeTable keeps items in a map and pages them newest first with an
// offset cursor ("o<offset>"), recording the last filter it was asked for.
type fakeTable struct {
	mu        sync.Mutex
	items     map[string]enricher.Item
	getErr    error
	listErr   error
	panicGet  bool
	gotFilter *enricher.ListFilter
}

func (f *fakeTable) PutItem(ctx context.Context, item enricher.Item) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.items == nil {
		f.items = map[string]enricher.Item{}
	}
	f.items[item.TicketID] = item
	return nil
}

func (f *fakeTable) GetItem(ctx context.Context, id string) (enricher.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicGet {
		panic("fake table exploded")
	}
	if f.getErr != nil {
		return enricher.Item{}, f.getErr
	}
	it, ok := f.items[id]
	if !ok {
		return enricher.Item{}, enricher.Errorf(enricher.ENOTFOUND, "item %q not found", id)
	}
	return it, nil
}

func (f *fakeTable) ListItems(ctx context.Context, lf enricher.ListFilter) (enricher.ItemPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gotFilter = &lf
	if f.listErr != nil {
		return enricher.ItemPage{}, f.listErr
	}
	offset := 0
	if lf.Cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(lf.Cursor, "o"))
		if !strings.HasPrefix(lf.Cursor, "o") || err != nil || n < 0 {
			return enricher.ItemPage{}, enricher.Errorf(enricher.EINVALID, "cursor %q is not one of ours", lf.Cursor)
		}
		offset = n
	}
	var match []enricher.Item
	for _, it := range f.items {
		if (lf.Urgency == "" || it.Urgency == lf.Urgency) && (lf.Intent == "" || it.Intent == lf.Intent) {
			match = append(match, it)
		}
	}
	sort.Slice(match, func(i, j int) bool {
		if match[i].CreatedAt != match[j].CreatedAt {
			return match[i].CreatedAt > match[j].CreatedAt
		}
		return match[i].TicketID < match[j].TicketID
	})
	var page enricher.ItemPage
	if offset < len(match) {
		end := min(offset+lf.Limit, len(match))
		page.Items = match[offset:end]
		if end < len(match) {
			page.NextCursor = "o" + strconv.Itoa(end)
		}
	}
	return page, nil
}

// fakeStore is an in-memory object store that counts writes.
type fakeStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
	err     error
}

func (f *fakeStore) PutObject(ctx context.Context, key string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objects == nil {
		f.objects = map[string][]byte{}
	}
	f.puts++
	f.objects[key] = bytes.Clone(data)
	return nil
}

func (f *fakeStore) GetObject(ctx context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	data, ok := f.objects[key]
	if !ok {
		return nil, enricher.Errorf(enricher.ENOTFOUND, "object %q not found", key)
	}
	return data, nil
}

// fakeEnricher derives a record from the ticket; the ticket with id failID
// fails with err.
type fakeEnricher struct {
	mu     sync.Mutex
	calls  int
	failID string
	err    error
}

func (f *fakeEnricher) Enrich(ctx context.Context, t enricher.Ticket) (enricher.Record, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if t.ID == f.failID {
		return enricher.Record{}, f.err
	}
	return enricher.Record{Ticket: t, Enrichment: enricher.Enrichment{
		Summary: "summary of " + t.ID, SummaryMethod: "extractive",
		ProcessedAt: "2026-01-02T03:04:05.000Z", ModelVersion: "fake-1",
	}}, nil
}

// env is a Server over fresh fakes, with its log captured.
type env struct {
	srv      *Server
	intake   *fakeIntake
	table    *fakeTable
	raw      *fakeStore
	enriched *fakeStore
	enricher *fakeEnricher
	logs     *bytes.Buffer
}

// newEnv builds an env; mod may change the config before New.
func newEnv(tb testing.TB, mod func(*Config)) *env {
	tb.Helper()
	e := &env{
		intake: &fakeIntake{}, table: &fakeTable{}, raw: &fakeStore{}, enriched: &fakeStore{},
		enricher: &fakeEnricher{}, logs: &bytes.Buffer{},
	}
	cfg := Config{
		Intake: e.intake, Table: e.table, Raw: e.raw, Enriched: e.enriched, Enricher: e.enricher,
		Logger: slog.New(slog.NewJSONHandler(&syncWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	e.srv = MustNew(tb, cfg)
	return e
}

// syncWriter serializes writes to the log buffer from concurrent handlers.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// MustNew is New for tests.
func MustNew(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// do sends one request; headers come as name, value pairs.
func (e *env) do(method, target, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// ticketJSON is a valid ticket with the given id, on one line.
func ticketJSON(id string) string {
	return fmt.Sprintf(`{"ticket_id":%q,"subject":"Cannot log in","body":"Password reset mail never arrives.","priority":"P1","created_at":1767225600,"customer_id":"C-9"}`, id)
}

// decodeErrorBody checks that rec holds exactly the error shape, with the
// wanted status and code, and returns it.
func decodeErrorBody(tb testing.TB, rec *httptest.ResponseRecorder, wantStatus int, wantCode string) errorPayload {
	tb.Helper()
	if rec.Code != wantStatus {
		tb.Fatalf("status: got %d, want %d; body %s", rec.Code, wantStatus, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type: got %q, want application/json", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		tb.Fatalf("body is not a JSON object: %v; body %s", err, rec.Body)
	}
	if len(raw) != 1 || raw["error"] == nil {
		tb.Fatalf("body: got members %v, want only \"error\"", slices.Sorted(mapKeys(raw)))
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw["error"], &inner); err != nil {
		tb.Fatalf("error member is not an object: %v", err)
	}
	for _, k := range []string{"code", "message", "details"} {
		if inner[k] == nil {
			tb.Fatalf("error member lacks %q: %s", k, raw["error"])
		}
	}
	if string(inner["details"]) == "null" {
		tb.Errorf("details: got null, want an array")
	}
	var p errorPayload
	if err := json.Unmarshal(raw["error"], &p); err != nil {
		tb.Fatalf("decode error member: %v", err)
	}
	if p.Code != wantCode {
		tb.Errorf("code: got %q, want %q (message %q)", p.Code, wantCode, p.Message)
	}
	if p.Message == "" {
		tb.Errorf("message: got empty, want text")
	}
	for i, d := range p.Details {
		if d.Reason == "" {
			tb.Errorf("details[%d].reason: got empty, want text", i)
		}
	}
	return p
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// decodeJSON decodes rec's body into a value of type T.
func decodeJSON[T any](tb testing.TB, rec *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		tb.Fatalf("decode %T: %v; body %s", v, err, rec.Body)
	}
	return v
}

func TestNew(t *testing.T) {
	full := func() Config {
		return Config{Intake: &fakeIntake{}, Table: &fakeTable{}, Raw: &fakeStore{}, Enriched: &fakeStore{}, Enricher: &fakeEnricher{}}
	}
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr []string // substrings of the error; none means success
	}{
		{"complete", func(*Config) {}, nil},
		{"nil intake", func(c *Config) { c.Intake = nil }, []string{"Intake"}},
		{"nil everything", func(c *Config) { *c = Config{} }, []string{"Intake", "Table", "Raw", "Enriched", "Enricher"}},
		{"negative body limit", func(c *Config) { c.MaxBodyBytes = -1 }, []string{"MaxBodyBytes"}},
		{"negative ready timeout", func(c *Config) { c.ReadyTimeout = -1 }, []string{"ReadyTimeout"}},
		{"unnamed check", func(c *Config) { c.Checks = []Check{{Check: ok}} }, []string{"no name"}},
		{"duplicate check", func(c *Config) { c.Checks = []Check{{"db", ok}, {"db", ok}} }, []string{`"db" is listed twice`}},
		{"nil check func", func(c *Config) { c.Checks = []Check{{Name: "model"}} }, []string{`"model" has a nil func`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := full()
			tt.mod(&cfg)
			s, err := New(cfg)
			if len(tt.wantErr) == 0 {
				if err != nil || s == nil {
					t.Fatalf("New: got %v, want a server", err)
				}
				if s.cfg.MaxBodyBytes != DefaultMaxBodyBytes || s.cfg.ReadyTimeout != DefaultReadyTimeout {
					t.Errorf("defaults: got %d, %s; want %d, %s", s.cfg.MaxBodyBytes, s.cfg.ReadyTimeout, DefaultMaxBodyBytes, DefaultReadyTimeout)
				}
				return
			}
			if err == nil {
				t.Fatalf("New: got nil error, want one naming %v", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error: got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestServer_ServeHTTP_Routing(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantCode   string
		wantAllow  []string
	}{
		{"unknown path", "GET", "/nope", 404, enricher.ENOTFOUND, nil},
		{"unknown v1 path", "GET", "/v1/nope", 404, enricher.ENOTFOUND, nil},
		{"nested unknown path", "GET", "/v1/tickets/a/b", 404, enricher.ENOTFOUND, nil},
		{"delete tickets", "DELETE", "/v1/tickets", 405, codeMethodNotAllowed, []string{"GET", "POST"}},
		{"post ticket by id", "POST", "/v1/tickets/A-1", 405, codeMethodNotAllowed, []string{"GET"}},
		{"get enrich", "GET", "/v1/enrich", 405, codeMethodNotAllowed, []string{"POST"}},
		{"put healthz", "PUT", "/healthz", 405, codeMethodNotAllowed, []string{"GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			rec := e.do(tt.method, tt.target, "")
			decodeErrorBody(t, rec, tt.wantStatus, tt.wantCode)
			allow := rec.Header().Get("Allow")
			if tt.wantAllow == nil && allow != "" {
				t.Errorf("Allow: got %q, want none", allow)
			}
			for _, m := range tt.wantAllow {
				if !strings.Contains(allow, m) {
					t.Errorf("Allow: got %q, want it to contain %s", allow, m)
				}
			}
		})
	}
}

func TestServer_ServeHTTP_Redirect(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.do("GET", "/v1//tickets", "")
	if rec.Code != http.StatusTemporaryRedirect && rec.Code != http.StatusMovedPermanently {
		t.Fatalf("status: got %d, want a redirect; body %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/tickets" {
		t.Errorf("Location: got %q, want /v1/tickets", loc)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
}

func TestServer_ServeHTTP_RequestID(t *testing.T) {
	long := strings.Repeat("x", maxRequestIDLen+1)
	tests := []struct {
		name     string
		header   string
		wantEcho bool
	}{
		{"echoed", "req-123_abc.DEF", true},
		{"absent", "", false},
		{"too long", long, false},
		{"control character", "a\x01b", false},
		{"space", "a b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			var hdr []string
			if tt.header != "" {
				hdr = []string{"X-Request-Id", tt.header}
			}
			rec := e.do("GET", "/healthz", "", hdr...)
			got := rec.Header().Get("X-Request-Id")
			if tt.wantEcho {
				if got != tt.header {
					t.Errorf("X-Request-Id: got %q, want %q", got, tt.header)
				}
			} else if got == "" || got == tt.header || !validRequestID(got) {
				t.Errorf("X-Request-Id: got %q, want a fresh valid id", got)
			}
			if !strings.Contains(e.logs.String(), `"request_id":"`+got+`"`) {
				t.Errorf("log: got %s, want the request id %q", e.logs, got)
			}
		})
	}
	t.Run("fresh ids differ", func(t *testing.T) {
		e := newEnv(t, nil)
		a := e.do("GET", "/healthz", "").Header().Get("X-Request-Id")
		b := e.do("GET", "/healthz", "").Header().Get("X-Request-Id")
		if a == b {
			t.Errorf("ids: got %q twice, want two different ids", a)
		}
	})
}

// logLines decodes the JSON log lines with the given message.
func logLines(tb testing.TB, logs string, msg string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func TestServer_ServeHTTP_AccessLog(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		wantStatus float64
		wantLevel  string
	}{
		{"accepted post", "POST", "/v1/tickets?x=SECRET-QUERY", ticketJSON("SECRET-BODY-1"), 202, "INFO"},
		{"client error", "GET", "/v1/tickets?limit=0", "", 400, "INFO"},
		{"probe at debug", "GET", "/healthz", "", 200, "DEBUG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			rec := e.do(tt.method, tt.target, tt.body, "X-Request-Id", "rid-1")
			lines := logLines(t, e.logs.String(), "request")
			if len(lines) != 1 {
				t.Fatalf("access log lines: got %d, want 1; log %s", len(lines), e.logs)
			}
			l := lines[0]
			path, _, _ := strings.Cut(tt.target, "?")
			for k, want := range map[string]any{"method": tt.method, "path": path, "status": tt.wantStatus, "request_id": "rid-1", "level": tt.wantLevel} {
				if l[k] != want {
					t.Errorf("log %s: got %v, want %v", k, l[k], want)
				}
			}
			if _, ok := l["duration"]; !ok {
				t.Errorf("log: got no duration, want one")
			}
			if float64(rec.Code) != tt.wantStatus {
				t.Errorf("status: got %d, want %v", rec.Code, tt.wantStatus)
			}
			if strings.Contains(e.logs.String(), "SECRET") {
				t.Errorf("log: got %s, want no body or query content", e.logs)
			}
		})
	}
}

func TestServer_ServeHTTP_Auth(t *testing.T) {
	const token = "s3cret-token"
	tests := []struct {
		name       string
		token      string // configured
		method     string
		target     string
		authz      string // Authorization header
		wantStatus int
		wantChall  string // substring of WWW-Authenticate on 401
	}{
		{"off, no header", "", "POST", "/v1/tickets", "", 202, ""},
		{"on, no header", token, "POST", "/v1/tickets", "", 401, `Bearer realm="enricher"`},
		{"on, wrong token", token, "POST", "/v1/tickets", "Bearer nope", 401, `error="invalid_token"`},
		{"on, token prefix", token, "POST", "/v1/tickets", "Bearer s3cret", 401, `error="invalid_token"`},
		{"on, token plus suffix", token, "POST", "/v1/tickets", "Bearer s3cret-token2", 401, `error="invalid_token"`},
		{"on, basic scheme", token, "POST", "/v1/tickets", "Basic " + token, 401, "Bearer"},
		{"on, empty bearer", token, "POST", "/v1/tickets", "Bearer ", 401, "Bearer"},
		{"on, right token", token, "POST", "/v1/tickets", "Bearer " + token, 202, ""},
		{"on, lower-case scheme", token, "POST", "/v1/tickets", "bearer " + token, 202, ""},
		{"on, get list", token, "GET", "/v1/tickets", "", 401, "Bearer"},
		{"on, unknown v1 path", token, "GET", "/v1/nope", "", 401, "Bearer"},
		{"on, dot-dot into v1", token, "GET", "/x/../v1/tickets", "", 401, "Bearer"},
		{"on, healthz open", token, "GET", "/healthz", "", 200, ""},
		{"on, readyz open", token, "GET", "/readyz", "", 200, ""},
		{"on, unknown root path", token, "GET", "/nope", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.AuthToken = tt.token })
			var hdr []string
			if tt.authz != "" {
				hdr = []string{"Authorization", tt.authz}
			}
			body := ""
			if tt.method == "POST" {
				body = ticketJSON("A-1")
			}
			rec := e.do(tt.method, tt.target, body, hdr...)
			if tt.wantStatus == 401 {
				decodeErrorBody(t, rec, 401, enricher.EUNAUTHORIZED)
				if ch := rec.Header().Get("WWW-Authenticate"); !strings.Contains(ch, tt.wantChall) {
					t.Errorf("WWW-Authenticate: got %q, want it to contain %q", ch, tt.wantChall)
				}
				if n := len(e.intake.ids()); n != 0 {
					t.Errorf("accepted: got %d tickets, want 0", n)
				}
				if strings.Contains(rec.Body.String(), token) {
					t.Errorf("body: got %s, want no token", rec.Body)
				}
				return
			}
			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
		})
	}
}

func TestServer_ServeHTTP_Recover(t *testing.T) {
	e := newEnv(t, nil)
	e.table.panicGet = true
	rec := e.do("GET", "/v1/tickets/A-1", "", "X-Request-Id", "rid-panic")
	p := decodeErrorBody(t, rec, 500, enricher.EINTERNAL)
	if p.Message != internalMessage {
		t.Errorf("message: got %q, want %q", p.Message, internalMessage)
	}
	if strings.Contains(rec.Body.String(), "exploded") {
		t.Errorf("body: got %s, want no panic text", rec.Body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "fake table exploded") || !strings.Contains(logs, "rid-panic") {
		t.Errorf("log: got %s, want the panic value and the request id", logs)
	}
	if l := logLines(t, logs, "request"); len(l) != 1 || l[0]["status"] != float64(500) {
		t.Errorf("access log: got %v, want one line with status 500", l)
	}
	// The server goes on serving.
	e.table.panicGet = false
	if rec := e.do("GET", "/healthz", ""); rec.Code != 200 {
		t.Errorf("after panic, healthz: got %d, want 200", rec.Code)
	}
}

func TestServer_withRecover(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantPanic any
		wantCode  int
	}{
		{"panic before writing", func(w http.ResponseWriter, r *http.Request) { panic("boom") }, nil, 500},
		{"panic after writing aborts", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.Write([]byte(`{"items":[`))
			panic("boom")
		}, http.ErrAbortHandler, 200},
		{"abort passes through", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, http.ErrAbortHandler, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			h := e.srv.withRecover(tt.handler)
			rec := httptest.NewRecorder()
			var got any
			func() {
				defer func() { got = recover() }()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			}()
			if got != tt.wantPanic {
				t.Errorf("panic: got %v, want %v", got, tt.wantPanic)
			}
			if tt.wantCode != 0 && rec.Code != tt.wantCode {
				t.Errorf("status: got %d, want %d", rec.Code, tt.wantCode)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{enricher.EINVALID, 400},
		{enricher.EINVALIDTICKET, 400},
		{enricher.EUNAUTHORIZED, 401},
		{enricher.ENOTFOUND, 404},
		{codeMethodNotAllowed, 405},
		{enricher.ECONFLICT, 409},
		{enricher.ETOOLARGE, 413},
		{enricher.ENOTREADY, 503},
		{enricher.EINTERNAL, 500},
		{"something_new", 500},
		{"", 500},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := statusOf(tt.code); got != tt.want {
				t.Errorf("statusOf(%q): got %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestServer_writeError(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantCode    string
		wantMessage string
		wantLogged  bool
	}{
		{"plain error is internal", fmt.Errorf("open /var/lib/secret.db: permission denied"), 500, enricher.EINTERNAL, internalMessage, true},
		{"unknown code is internal", enricher.Errorf("weird", "leaky detail /etc/passwd"), 500, enricher.EINTERNAL, internalMessage, true},
		{"wrapped not found", fmt.Errorf("get item: %w", enricher.Errorf(enricher.ENOTFOUND, "no such ticket")), 404, enricher.ENOTFOUND, "no such ticket", false},
		{"conflict", enricher.Errorf(enricher.ECONFLICT, "newer result exists"), 409, enricher.ECONFLICT, "newer result exists", false},
		{"not ready", enricher.Errorf(enricher.ENOTREADY, "model loading"), 503, enricher.ENOTREADY, "model loading", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			rec := httptest.NewRecorder()
			e.srv.writeError(rec, httptest.NewRequest("GET", "/", nil), tt.err)
			p := decodeErrorBody(t, rec, tt.wantStatus, tt.wantCode)
			if p.Message != tt.wantMessage {
				t.Errorf("message: got %q, want %q", p.Message, tt.wantMessage)
			}
			logged := strings.Contains(e.logs.String(), tt.err.Error())
			if logged != tt.wantLogged {
				t.Errorf("logged: got %v, want %v; log %s", logged, tt.wantLogged, e.logs)
			}
			if tt.wantStatus == 500 && (strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "passwd")) {
				t.Errorf("body: got %s, want no internal text", rec.Body)
			}
		})
	}
}
