package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errOut})
	return code, out.String(), errOut.String()
}

func TestRun_Help(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", c.name, "--help")
			if code != exitOK {
				t.Errorf("exit %d, want %d", code, exitOK)
			}
			for _, want := range []string{"Usage: enricher " + c.name, "Example:", "enricher " + c.name + " "} {
				if !strings.Contains(stderr, want) {
					t.Errorf("help lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
	t.Run("unknown command", func(t *testing.T) {
		code, _, stderr := runCLI(t, "", "frobnicate")
		if code != exitError || !strings.Contains(stderr, `unknown command "frobnicate"`) {
			t.Errorf("got exit %d, stderr %q; want exit %d naming the command", code, stderr, exitError)
		}
	})
}

func TestRunEnrich(t *testing.T) {
	const good = `{"ticket_id":"T1","subject":"Cannot log in","body":"I reset my password but login still fails","created_at":1767534579,"customer_id":"C1","extra":{"a":1}}`
	const bad = `{"ticket_id":"T2","subject":"","body":"","created_at":"yesterday","customer_id":"C1"}`
	tests := []struct {
		name     string
		stdin    string
		wantCode int
		wantIDs  []string
		wantErrs []bool
	}{
		{"one object", good, exitOK, []string{"T1"}, []bool{false}},
		{"array", "[" + good + "," + strings.Replace(good, "T1", "T3", 1) + "]", exitOK, []string{"T1", "T3"}, []bool{false, false}},
		{"lines with an invalid ticket", good + "\n" + bad + "\n{not json\n" + strings.Replace(good, "T1", "T4", 1), exitInput,
			[]string{"T1", "T2", "", "T4"}, []bool{false, true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.stdin, "enrich", "--embeddings=false")
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(lines) != len(tt.wantIDs) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tt.wantIDs), stdout)
			}
			for i, line := range lines {
				var got struct {
					TicketID   *string         `json:"ticket_id"`
					Error      json.RawMessage `json:"error"`
					Enrichment *struct {
						Intent  string `json:"intent"`
						Urgency string `json:"urgency"`
					} `json:"enrichment"`
				}
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatalf("line %d is not JSON: %v", i, err)
				}
				id := ""
				if got.TicketID != nil {
					id = *got.TicketID
				}
				if id != tt.wantIDs[i] {
					t.Errorf("line %d: ticket_id %q, want %q (input order)", i, id, tt.wantIDs[i])
				}
				if (got.Error != nil) != tt.wantErrs[i] {
					t.Errorf("line %d: error %s, want error: %v", i, got.Error, tt.wantErrs[i])
				}
				if !tt.wantErrs[i] && (got.Enrichment == nil || got.Enrichment.Intent == "" || got.Enrichment.Urgency == "") {
					t.Errorf("line %d: no intent and urgency in %s", i, line)
				}
			}
		})
	}
	t.Run("error names the field", func(t *testing.T) {
		_, stdout, _ := runCLI(t, bad, "enrich", "--embeddings=false")
		for _, want := range []string{`"code":"invalid_ticket"`, `"field":"created_at"`, `"field":"body"`} {
			if !strings.Contains(stdout, want) {
				t.Errorf("error line lacks %s: %s", want, stdout)
			}
		}
	})
}

// TestRunEnrich_Embeddings runs enrich with the real all-MiniLM-L6-v2 from
// the model cache (MODEL_CACHE_DIR; `make test` fills it).
func TestRunEnrich_Embeddings(t *testing.T) {
	mustModelCache(t)
	const ticket = `{"ticket_id":"T1","subject":"Cannot log in","body":"reset link expired","created_at":1767534579,"customer_id":"C1"}`
	code, stdout, stderr := runCLI(t, ticket+"\n"+strings.Replace(ticket, "T1", "T2", 1), "enrich")
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	for i, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var rec struct {
			Enrichment struct {
				Embedding      []float32          `json:"embedding"`
				EmbeddingModel string             `json:"embedding_model"`
				Timings        map[string]float64 `json:"timings_ms"`
			} `json:"enrichment"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		e := rec.Enrichment
		var norm float64
		for _, v := range e.Embedding {
			norm += float64(v) * float64(v)
		}
		if len(e.Embedding) != 384 || norm < 0.999 || norm > 1.001 || e.EmbeddingModel != embeddingModelID {
			t.Errorf("line %d: embedding of %d dims, norm² %.4f, model %q; want 384 unit-length dims from %s", i, len(e.Embedding), norm, e.EmbeddingModel, embeddingModelID)
		}
		if _, ok := e.Timings["embedding"]; !ok {
			t.Errorf("line %d: timings_ms lacks embedding: %v", i, e.Timings)
		}
	}
}

// mustModelCache makes sure the embedding model cache is there: the one
// named by MODEL_CACHE_DIR, else the checkout's .cache/models that `make
// models` fills (then exported to the test and its child processes). It
// fails the test otherwise: the test is about the real model, and a skip
// would hide that it did not run.
func mustModelCache(t *testing.T) {
	t.Helper()
	dir := os.Getenv("MODEL_CACHE_DIR")
	if dir == "" {
		abs, err := filepath.Abs("../../.cache/models")
		if err != nil {
			t.Fatal(err)
		}
		dir = abs
		t.Setenv("MODEL_CACHE_DIR", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "sentence-transformers/all-MiniLM-L6-v2/model.safetensors")); err != nil {
		t.Fatalf("the embedding model is not in %s: run the tests with `make test` (or `make models` first), "+
			"or set MODEL_CACHE_DIR to a cache filled by `enricher models pull`: %v", dir, err)
	}
}

func TestRunEval(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "eval", labeledPath)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	for _, want := range []string{"160", "intent", "urgency"} {
		if !strings.Contains(strings.ToLower(stdout), want) {
			t.Errorf("eval output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, "", "eval", "--json", labeledPath)
	var report struct {
		N                               int
		IntentAccuracy, UrgencyAccuracy float64
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &report) != nil {
		t.Fatalf("eval --json: exit %d, output %q", code, stdout)
	}
	if report.N != 160 || report.IntentAccuracy < 0.80 || report.UrgencyAccuracy < 0.70 {
		t.Errorf("eval --json: N=%d intent=%.3f urgency=%.3f; want 160, >= 0.80, >= 0.70", report.N, report.IntentAccuracy, report.UrgencyAccuracy)
	}
}

func TestRunServe_BadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown backend", []string{"--backend", "gcp"}, "--backend must be embedded or aws"},
		{"max messages", []string{"--max-messages", "11"}, "--max-messages"},
		{"workers", []string{"--workers", "0"}, "--workers"},
		{"log level", []string{"--log-level", "loud", "--data", "DATA"}, "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve"}, tt.args...)
			for i, a := range args {
				if a == "DATA" {
					args[i] = t.TempDir()
				}
			}
			code, _, stderr := runCLI(t, "", args...)
			if code != exitError || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, exitError, tt.want)
			}
		})
	}
}
