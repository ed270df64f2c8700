package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/sqlite"
)

// labeledPath is the shared development set, beside the checkout.
const labeledPath = "../../../shared/data/tickets-labeled.jsonl"

// buildBinary builds the real enricher binary once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "enricher-e2e-*")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "enricher")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func mustBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func mustLabeled(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(labeledPath)
	if err != nil {
		t.Fatalf("the labeled tickets must be beside the checkout (../shared): %v", err)
	}
	return data
}

// server is a running `enricher serve` process.
type server struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan error
}

// startServer runs `enricher serve` on a free port and waits until it
// reports the address it listens on.
func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--poll-interval", "1s"}, extra...)
	cmd := exec.Command(mustBinary(t), args...)
	cmd.Env = append(os.Environ(), "LOG_LEVEL=info")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	s := &server{cmd: cmd, logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Bytes()
			s.mu.Lock()
			s.logs.Write(line)
			s.logs.WriteByte('\n')
			s.mu.Unlock()
			var l struct{ Msg, Addr string }
			if json.Unmarshal(line, &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logText())
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-s.done:
		t.Fatalf("server exited before listening: %v\n%s", err, s.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not report its address\n%s", s.logText())
	}
	return s
}

func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// stop sends sig and waits for the process to exit.
func (s *server) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal server: %v", err)
	}
	select {
	case err := <-s.done:
		return err
	case <-time.After(40 * time.Second):
		t.Fatalf("server did not exit after %v", sig)
		return nil
	}
}

type ticketStatus struct {
	TicketID string          `json:"ticket_id"`
	Status   string          `json:"status"`
	Record   json.RawMessage `json:"record"`
	Failure  *struct {
		Code, Message string
	} `json:"failure"`
}

func getStatus(t *testing.T, base, id string) ticketStatus {
	t.Helper()
	resp, err := http.Get(base + "/v1/tickets/" + id)
	if err != nil {
		t.Fatalf("GET ticket %s: %v", id, err)
	}
	defer resp.Body.Close()
	var st ticketStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("GET ticket %s: decode: %v", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET ticket %s: status %d", id, resp.StatusCode)
	}
	return st
}

// waitEnriched polls until every id is enriched and returns their statuses;
// a failed ticket fails the test at once with its reason.
func waitEnriched(t *testing.T, base string, ids []string, timeout time.Duration) map[string]ticketStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	done := map[string]ticketStatus{}
	for len(done) < len(ids) {
		for _, id := range ids {
			if _, ok := done[id]; ok {
				continue
			}
			st := getStatus(t, base, id)
			switch st.Status {
			case "enriched":
				done[id] = st
			case "failed":
				t.Fatalf("ticket %s failed: %+v", id, st.Failure)
			}
		}
		if len(done) == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v only %d of %d tickets are enriched", timeout, len(done), len(ids))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return done
}

func ticketIDs(t *testing.T, data []byte) []string {
	t.Helper()
	var ids []string
	sc := enricher.NewTicketScanner(bytes.NewReader(data))
	for sc.Scan() {
		tk, err := enricher.ParseTicket(sc.Ticket().Data)
		if err != nil {
			t.Fatalf("ticket %d: %v", sc.Ticket().Index, err)
		}
		ids = append(ids, tk.ID)
	}
	return ids
}

// TestServe_UploadLabeled is the newcomer's path: start the service, upload
// the 160 labeled tickets with `enricher upload`, and read them back enriched.
func TestServe_UploadLabeled(t *testing.T) {
	mustModelCache(t)
	labeled := mustLabeled(t)
	ids := ticketIDs(t, labeled)
	srv := startServer(t, t.TempDir())

	out, err := exec.Command(mustBinary(t), "upload", "--api", srv.url, labeledPath).CombinedOutput()
	if err != nil {
		t.Fatalf("enricher upload: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("uploaded %d tickets", len(ids)); !strings.Contains(string(out), want) {
		t.Fatalf("upload printed %q, want it to contain %q", out, want)
	}

	got := waitEnriched(t, srv.url, ids, 120*time.Second)
	if resp, err := http.Get(srv.url + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz after enrichment: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, id := range ids {
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(got[id].Record, &rec); err != nil {
			t.Fatalf("ticket %s: record is not an object: %v", id, err)
		}
		if _, ok := rec["expected"]; !ok {
			t.Errorf("ticket %s: unknown field %q was not preserved", id, "expected")
		}
		var e map[string]json.RawMessage
		if err := json.Unmarshal(rec["enrichment"], &e); err != nil {
			t.Fatalf("ticket %s: enrichment: %v", id, err)
		}
		for _, k := range []string{"embedding", "embedding_model", "intent", "intent_confidence", "intent_evidence", "urgency", "urgency_confidence", "urgency_evidence", "processed_at", "model_version", "timings_ms"} {
			if _, ok := e[k]; !ok {
				t.Errorf("ticket %s: enrichment lacks %q", id, k)
			}
		}
		var vec []float32
		if err := json.Unmarshal(e["embedding"], &vec); err != nil || len(vec) != 384 {
			t.Errorf("ticket %s: embedding has %d dims (%v), want 384", id, len(vec), err)
		}
		for _, k := range []string{"summary", "summary_method"} {
			if _, ok := e[k]; ok {
				t.Errorf("ticket %s: enrichment has %q, a stage that is not built", id, k)
			}
		}
	}

	// Listing by urgency pages through every ticket exactly once.
	seen := map[string]bool{}
	for _, u := range enricher.Urgencies() {
		cursor := ""
		for {
			url := fmt.Sprintf("%s/v1/tickets?urgency=%s&limit=7&cursor=%s", srv.url, u, cursor)
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			var page struct {
				Items      []enricher.Item `json:"items"`
				NextCursor string          `json:"next_cursor"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
			}
			for i, it := range page.Items {
				if it.Urgency != u {
					t.Errorf("list urgency=%s returned %s with urgency %s", u, it.TicketID, it.Urgency)
				}
				if seen[it.TicketID] {
					t.Errorf("ticket %s listed twice", it.TicketID)
				}
				seen[it.TicketID] = true
				if i > 0 && it.CreatedAt > page.Items[i-1].CreatedAt {
					t.Errorf("list urgency=%s is not newest first at %s", u, it.TicketID)
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("listing by urgency found %d tickets, want %d", len(seen), len(ids))
	}

	if err := srv.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("after SIGTERM the server exited with %v, want status 0", err)
	}
}

// TestServe_CrashRecovery kills the server with SIGKILL while it enriches a
// batch, restarts it on the same data, and checks that every ticket the API
// accepted ends enriched exactly once: one table item, one enriched object,
// an empty queue and no dead letters.
func TestServe_CrashRecovery(t *testing.T) {
	mustModelCache(t)
	labeled := mustLabeled(t)
	const copies = 8 // 1,280 tickets: enough that the kill lands mid-work
	var tickets [][]byte
	sc := enricher.NewTicketScanner(bytes.NewReader(labeled))
	for sc.Scan() {
		tickets = append(tickets, sc.Ticket().Data)
	}
	var body []string
	for c := range copies {
		for i, raw := range tickets {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			m["ticket_id"] = fmt.Sprintf("CRASH-%d-%03d", c, i)
			line, _ := json.Marshal(m)
			body = append(body, string(line))
		}
	}

	dataDir := t.TempDir()
	srv := startServer(t, dataDir, "--workers", "1", "--visibility-timeout", "2s")

	// Upload in batches from three goroutines, faster than one worker
	// drains the queue, so work piles up. The kill may interrupt the upload,
	// so the accepted set is exactly the ids of batches answered 202.
	var (
		mu       sync.Mutex
		accepted []string
		uploads  sync.WaitGroup
	)
	const batch, uploaders = 40, 3
	for u := range uploaders {
		uploads.Go(func() {
			for i := u * batch; i < len(body); i += uploaders * batch {
				lines := body[i:min(i+batch, len(body))]
				resp, err := http.Post(srv.url+"/v1/tickets", "application/x-ndjson", strings.NewReader(strings.Join(lines, "\n")))
				if err != nil {
					return
				}
				var ok struct {
					TicketIDs []string `json:"ticket_ids"`
				}
				json.NewDecoder(resp.Body).Decode(&ok)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					return
				}
				mu.Lock()
				accepted = append(accepted, ok.TicketIDs...)
				mu.Unlock()
			}
		})
	}

	enrichedDir := filepath.Join(dataDir, "tickets-enriched")
	deadline := time.Now().Add(60 * time.Second)
	for countFiles(t, enrichedDir) < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 100 tickets enriched after 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.stop(t, syscall.SIGKILL)
	uploads.Wait()
	before := countFiles(t, enrichedDir)
	ids := accepted
	pending := queueStats(t, dataDir)
	t.Logf("killed with %d of %d accepted tickets enriched; queue %+v", before, len(ids), pending)
	if pending.Visible+pending.InFlight == 0 {
		t.Fatalf("nothing was queued or in flight at the kill; the test did not exercise a crash")
	}

	srv = startServer(t, dataDir, "--workers", "2", "--visibility-timeout", "2s")
	waitEnriched(t, srv.url, ids, 120*time.Second)
	// Messages that were in flight at the kill come back after their
	// visibility timeout and are processed again (harmlessly); wait for the
	// queue to drain before stopping. SQLite's WAL lets us read it live.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st := queueStats(t, dataDir)
		if st.Visible+st.InFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not drain after recovery: %+v", st)
		}
	}
	if err := srv.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("after SIGTERM the server exited with %v", err)
	}

	// Exactly once: one object per ticket and nothing else in the store.
	entries, err := os.ReadDir(enrichedDir)
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]bool{}
	for _, e := range entries {
		id, ok := enricher.TicketIDFromKey(e.Name())
		if !ok {
			t.Errorf("unexpected file %s in the enriched store", e.Name())
		}
		objects[id] = true
	}
	for _, id := range ids {
		if !objects[id] {
			t.Errorf("accepted ticket %s has no enriched object", id)
		}
	}

	if stats := queueStats(t, dataDir); stats.Visible != 0 || stats.InFlight != 0 || stats.DeadLetters != 0 {
		t.Errorf("queue after recovery: %+v, want it empty with no dead letters", stats)
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "enricher.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table, err := sqlite.NewTable(db)
	if err != nil {
		t.Fatal(err)
	}
	items := 0
	for f := (enricher.ListFilter{Limit: enricher.MaxListLimit}); ; {
		page, err := table.ListItems(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if it.Status != enricher.StatusEnriched {
				t.Errorf("item %s has status %s", it.TicketID, it.Status)
			}
		}
		items += len(page.Items)
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if items != len(objects) {
		t.Errorf("table has %d items, enriched store %d objects: want one of each per ticket", items, len(objects))
	}
}

// queueStats reads the work queue of a stopped server's data directory.
func queueStats(t *testing.T, dataDir string) sqlite.QueueStats {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "enricher.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := sqlite.NewQueue(db, "ticket-processing", sqlite.QueueOptions{VisibilityTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			n++
		}
	}
	return n
}

// TestServe_NoModel starts the service with an empty model cache: it must
// accept tickets and keep them pending, and /readyz must say which check
// fails and how to get the model, rather than enrich without embeddings.
func TestServe_NoModel(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--cache-dir", t.TempDir())
	ticket := `{"ticket_id":"NM-1","subject":"Cannot log in","body":"reset link expired","created_at":1767534579,"customer_id":"C1"}`
	resp, err := http.Post(srv.url+"/v1/tickets", "application/json", strings.NewReader(ticket))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST ticket: status %d, want 202", resp.StatusCode)
	}

	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(srv.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz: status %d, want 503 without a model", resp.StatusCode)
		}
		if !strings.Contains(ready.Checks["embedding_model"], "loading") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still says the model is loading after 30 s: %+v", ready)
		}
	}
	if msg := ready.Checks["embedding_model"]; !strings.Contains(msg, "enricher models pull") {
		t.Errorf("/readyz embedding_model check %q does not say how to get the model", msg)
	}
	if st := getStatus(t, srv.url, "NM-1"); st.Status != "pending" {
		t.Errorf("ticket status %q, want pending until the model is there", st.Status)
	}
	if !strings.Contains(srv.logText(), "enricher models pull") {
		t.Errorf("the log does not say how to get the model:\n%s", srv.logText())
	}
}
