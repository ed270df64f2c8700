package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testRevision = "0123456789abcdef0123456789abcdef01234567"

// testFiles are small generated model files: one large enough to be cut in
// the middle, one in a sub-directory like sentence-transformers' pooling.
func testFiles() map[string][]byte {
	big := make([]byte, 200_000)
	for i := range big {
		big[i] = byte(i*7 + i/251)
	}
	return map[string][]byte{
		"config.json":           []byte(`{"hidden_size": 8}`),
		"model.safetensors":     big,
		"1_Pooling/config.json": []byte(`{"pooling_mode_mean_tokens": true}`),
	}
}

// MustModel builds a registry entry for the given files, in a stable order.
func MustModel(tb testing.TB, id string, files map[string][]byte) Model {
	tb.Helper()
	m := Model{ID: id, Revision: testRevision}
	for _, p := range []string{"config.json", "model.safetensors", "1_Pooling/config.json"} {
		data, ok := files[p]
		if !ok {
			continue
		}
		sum := sha256.Sum256(data)
		m.Files = append(m.Files, File{Path: p, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	}
	if err := m.Validate(); err != nil {
		tb.Fatalf("test model: %v", err)
	}
	return m
}

// MustWriteDir writes files under dir and returns dir.
func MustWriteDir(tb testing.TB, dir string, files map[string][]byte) string {
	tb.Helper()
	for p, data := range files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// fixedNow is the clock the caches of these tests stamp manifests with.
func fixedNow() time.Time { return time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC) }

// hubRequest is what the fake Hub saw of one request.
type hubRequest struct {
	Path, Range string
}

// fakeHub imitates the Hub's file URLs, /{id}/resolve/{revision}/{path},
// honouring Range like the real one, with switches for the failures the
// downloader must survive. It is the seam: Downloader only sees HTTP.
type fakeHub struct {
	files map[string][]byte // by URL path

	cutAfter    int            // if > 0, the first response per path closes the connection after this many bytes
	stallAfter  int            // if > 0, the first response per path stops sending (but keeps the connection) after this many bytes
	ignoreRange bool           // answer 200 with the whole file even when asked for a range
	status      map[string]int // URL path -> status to answer once, before serving normally
	redirect    string         // if set, answer 302 to redirect + path, like the Hub sends LFS files to its CDN

	mu       sync.Mutex
	seen     map[string]int
	requests []hubRequest
}

func newFakeHub(m Model, files map[string][]byte) *fakeHub {
	h := &fakeHub{files: map[string][]byte{}, status: map[string]int{}, seen: map[string]int{}}
	for p, data := range files {
		h.files["/"+m.ID+"/resolve/"+m.Revision+"/"+p] = data
	}
	return h
}

func (h *fakeHub) log() []hubRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hubRequest(nil), h.requests...)
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests = append(h.requests, hubRequest{Path: r.URL.Path, Range: r.Header.Get("Range")})
	h.seen[r.URL.Path]++
	first := h.seen[r.URL.Path] == 1
	status := h.status[r.URL.Path]
	delete(h.status, r.URL.Path)
	h.mu.Unlock()

	if h.redirect != "" {
		http.Redirect(w, r, h.redirect+r.URL.Path, http.StatusFound)
		return
	}
	if status != 0 {
		w.Header().Set("X-Error-Code", "Injected")
		http.Error(w, "injected failure", status)
		return
	}
	data, ok := h.files[r.URL.Path]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		http.NotFound(w, r)
		return
	}
	switch {
	case first && h.cutAfter > 0 && len(data) > h.cutAfter:
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:h.cutAfter])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops mid-file
	case first && h.stallAfter > 0 && len(data) > h.stallAfter:
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:h.stallAfter])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // silent until the client gives up
		return
	case h.ignoreRange:
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// startHub serves h and returns its URL.
func startHub(tb testing.TB, h http.Handler) string {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL
}

// noWait is the Downloader's Wait for tests: it records the delays instead
// of sleeping them.
type noWait struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (n *noWait) wait(_ context.Context, d time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.delays = append(n.delays, d)
	return nil
}

func containsAll(s string, subs ...string) (missing string, ok bool) {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return sub, false
		}
	}
	return "", true
}
