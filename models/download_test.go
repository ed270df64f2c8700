package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	enricher "github.com/ticket-enricher/enricher"
)

const cut = 70_000 // where interrupted transfers stop, inside model.safetensors

func TestDownloader_Pull(t *testing.T) {
	type env struct {
		m     Model
		c     Cache
		hub   *fakeHub
		cdn   *fakeHub
		waits *noWait
		files map[string][]byte
	}
	tests := []struct {
		name         string
		configure    func(e *env)               // hub behaviour
		setup        func(t *testing.T, e *env) // cache state before the first pull
		attempts     int
		stall        time.Duration
		pulls        int      // Pull calls; all but the last may fail
		wantErr      []string // substrings of the last Pull's error; nil means success
		wantErrIs    error
		wantRanges   []string // Range headers for model.safetensors, in order ("" = none)
		wantRequests int      // total requests to the hub (and the CDN)
		check        func(t *testing.T, e *env, errs []error)
	}{
		{
			name: "full pull", pulls: 1, wantRanges: []string{""}, wantRequests: 3,
			check: func(t *testing.T, e *env, _ []error) {
				data, err := os.ReadFile(filepath.Join(e.c.Path(e.m), manifestName))
				if err != nil {
					t.Fatalf("manifest: %v", err)
				}
				var man manifest
				if err := json.Unmarshal(data, &man); err != nil {
					t.Fatalf("manifest: %v", err)
				}
				if man.Revision != e.m.Revision || !man.VerifiedAt.Equal(fixedNow()) || len(man.Files) != len(e.m.Files) {
					t.Errorf("got manifest %+v, want revision %s, verified_at %s, %d files", man, e.m.Revision, fixedNow(), len(e.m.Files))
				}
			},
		},
		{
			name: "corrupted file is deleted and not used", pulls: 1,
			configure: func(e *env) {
				bad := append([]byte(nil), e.files["model.safetensors"]...)
				bad[12345] ^= 0xff
				e.hub.files["/"+e.m.ID+"/resolve/"+e.m.Revision+"/model.safetensors"] = bad
			},
			wantErr:      []string{"model.safetensors", "deleted and not used", "want"},
			wantErrIs:    ErrCorrupt,
			wantRanges:   []string{""},
			wantRequests: 2, // config.json, then the bad file; the pull stops there
			check: func(t *testing.T, e *env, errs []error) {
				want := e.m.Files[1].SHA256
				bad := e.hub.files["/"+e.m.ID+"/resolve/"+e.m.Revision+"/model.safetensors"]
				sum := sha256.Sum256(bad)
				if msg, ok := containsAll(errs[0].Error(), want, hex.EncodeToString(sum[:])); !ok {
					t.Errorf("error %q lacks hash %s", errs[0], msg)
				}
				for _, name := range []string{"model.safetensors", "model.safetensors.part", manifestName} {
					if _, err := os.Stat(filepath.Join(e.c.Path(e.m), name)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: got stat error %v, want it absent", name, err)
					}
				}
			},
		},
		{
			name: "file longer than registered is cut off and deleted", pulls: 1,
			configure: func(e *env) {
				long := append(append([]byte(nil), e.files["config.json"]...), " and more"...)
				e.hub.files["/"+e.m.ID+"/resolve/"+e.m.Revision+"/config.json"] = long
			},
			wantErr: []string{"config.json", "longer than the registered"}, wantErrIs: ErrCorrupt,
			wantRanges: nil, wantRequests: 1,
			check: func(t *testing.T, e *env, _ []error) {
				for _, name := range []string{"config.json", "config.json.part"} {
					if _, err := os.Stat(filepath.Join(e.c.Path(e.m), name)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: got stat error %v, want it absent", name, err)
					}
				}
			},
		},
		{
			name: "interrupted transfer resumes on the next pull", attempts: 1, pulls: 2,
			configure:    func(e *env) { e.hub.cutAfter = cut },
			wantRanges:   []string{"", "bytes=70000-"},
			wantRequests: 4,
			check: func(t *testing.T, e *env, errs []error) {
				if errs[0] == nil || !strings.Contains(errs[0].Error(), "model.safetensors") {
					t.Errorf("first pull: got %v, want an error naming model.safetensors", errs[0])
				}
			},
		},
		{
			name: "interrupted transfer resumes within one pull", attempts: 3, pulls: 1,
			configure:    func(e *env) { e.hub.cutAfter = cut },
			wantRanges:   []string{"", "bytes=70000-"},
			wantRequests: 4,
			check: func(t *testing.T, e *env, _ []error) {
				if len(e.waits.delays) != 1 || e.waits.delays[0] != 500*time.Millisecond {
					t.Errorf("got waits %v, want one of 500ms", e.waits.delays)
				}
			},
		},
		{
			name: "server that ignores Range makes the download start over", attempts: 3, pulls: 1,
			configure:    func(e *env) { e.hub.cutAfter = cut; e.hub.ignoreRange = true },
			wantRanges:   []string{"", "bytes=70000-"},
			wantRequests: 4,
		},
		{
			name: "redirect to the CDN, resumed there", attempts: 3, pulls: 1,
			configure: func(e *env) {
				e.cdn.cutAfter = cut
				e.hub.redirect = startHub(t, e.cdn)
			},
			wantRanges:   []string{"", "bytes=70000-"},
			wantRequests: 8, // 4 to the hub, 4 to the CDN
			check: func(t *testing.T, e *env, _ []error) {
				if got := len(e.cdn.log()); got != 4 {
					t.Errorf("got %d CDN requests, want 4", got)
				}
			},
		},
		{
			name: "404 names the URL and the revision", pulls: 1,
			configure:    func(e *env) { delete(e.hub.files, "/"+e.m.ID+"/resolve/"+e.m.Revision+"/1_Pooling/config.json") },
			wantErr:      []string{"404", "/" + "org/tiny/resolve/" + testRevision + "/1_Pooling/config.json", "at revision " + testRevision, "EntryNotFound"},
			wantRanges:   []string{""},
			wantRequests: 3,
			check: func(t *testing.T, e *env, errs []error) {
				if code := enricher.ErrorCode(errs[0]); code != enricher.ENOTFOUND {
					t.Errorf("got code %s, want %s", code, enricher.ENOTFOUND)
				}
				for _, name := range []string{"1_Pooling/config.json.part", manifestName} {
					if _, err := os.Stat(filepath.Join(e.c.Path(e.m), name)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: got stat error %v, want it absent", name, err)
					}
				}
			},
		},
		{
			name: "server errors are retried with backoff", attempts: 3, pulls: 1,
			configure: func(e *env) {
				e.hub.status["/"+e.m.ID+"/resolve/"+e.m.Revision+"/config.json"] = 503
			},
			wantRanges:   []string{""},
			wantRequests: 4,
			check: func(t *testing.T, e *env, _ []error) {
				if len(e.waits.delays) != 1 {
					t.Errorf("got waits %v, want one", e.waits.delays)
				}
			},
		},
		{
			name: "verified files are not fetched again", pulls: 2,
			wantRanges:   []string{""},
			wantRequests: 3,
		},
		{
			name: "stale .part is resumed, fails its hash, and is fetched again from zero", pulls: 1,
			setup: func(t *testing.T, e *env) {
				MustWriteDir(t, e.c.Path(e.m), map[string][]byte{"model.safetensors.part": make([]byte, 1000)})
			},
			wantRanges:   []string{"bytes=1000-", ""},
			wantRequests: 4,
		},
		{
			name: "stalled transfer is abandoned and resumed", attempts: 2, stall: 100 * time.Millisecond, pulls: 1,
			configure:    func(e *env) { e.hub.stallAfter = cut },
			wantRanges:   []string{"", "bytes=70000-"},
			wantRequests: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := testFiles()
			m := MustModel(t, "org/tiny", files)
			e := &env{m: m, c: Cache{Dir: t.TempDir(), Now: fixedNow}, hub: newFakeHub(m, files), cdn: newFakeHub(m, files), waits: &noWait{}, files: files}
			if tt.configure != nil {
				tt.configure(e)
			}
			if tt.setup != nil {
				tt.setup(t, e)
			}
			var (
				mu       sync.Mutex
				progress = map[string]int64{}
			)
			d := Downloader{
				BaseURL: startHub(t, e.hub), Attempts: tt.attempts, StallTimeout: tt.stall, Wait: e.waits.wait,
				Progress: func(file string, done, total int64) {
					mu.Lock()
					defer mu.Unlock()
					if done < 0 || done > total { // it may go back: a restart starts from zero
						t.Errorf("progress of %s: got %d of %d, want 0 to %d", file, done, total, total)
					}
					progress[file] = done
				},
			}
			var errs []error
			for range tt.pulls {
				errs = append(errs, d.Pull(context.Background(), e.c, e.m))
			}
			last := errs[len(errs)-1]
			if tt.wantErr == nil {
				if last != nil {
					t.Fatalf("got error %v, want none", last)
				}
				if err := e.c.Verify(context.Background(), e.m); err != nil {
					t.Errorf("cache after pull: got %v, want it to verify", err)
				}
				for _, f := range e.m.Files {
					if progress[f.Path] != f.Size {
						t.Errorf("progress of %s: got %d, want %d", f.Path, progress[f.Path], f.Size)
					}
				}
			} else {
				if last == nil {
					t.Fatalf("got no error, want one containing %q", tt.wantErr)
				}
				if msg, ok := containsAll(last.Error(), tt.wantErr...); !ok {
					t.Errorf("error %q lacks %q", last, msg)
				}
				if tt.wantErrIs != nil && !errors.Is(last, tt.wantErrIs) {
					t.Errorf("error %v is not %v", last, tt.wantErrIs)
				}
			}
			reqs := append(e.hub.log(), e.cdn.log()...)
			if len(reqs) != tt.wantRequests {
				t.Errorf("got %d requests %v, want %d", len(reqs), reqs, tt.wantRequests)
			}
			served := e.hub.log() // with a redirect, the Range that matters is the one the CDN saw
			if e.hub.redirect != "" {
				served = e.cdn.log()
			}
			var ranges []string
			for _, r := range served {
				if strings.HasSuffix(r.Path, "/model.safetensors") {
					ranges = append(ranges, r.Range)
				}
			}
			if strings.Join(ranges, "|") != strings.Join(tt.wantRanges, "|") {
				t.Errorf("got Range headers %q for model.safetensors, want %q", ranges, tt.wantRanges)
			}
			if tt.check != nil {
				tt.check(t, e, errs)
			}
		})
	}
}

func TestDownloader_URL(t *testing.T) {
	m := Model{ID: "org/name", Revision: testRevision}
	tests := []struct {
		name, base, path, want string
	}{
		{"default endpoint", "", "config.json", "https://huggingface.co/org/name/resolve/" + testRevision + "/config.json"},
		{"mirror with a trailing slash", "http://mirror.local/hf/", "1_Pooling/config.json", "http://mirror.local/hf/org/name/resolve/" + testRevision + "/1_Pooling/config.json"},
		{"escaped path", "http://h", "a b#c.json", "http://h/org/name/resolve/" + testRevision + "/a%20b%23c.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Downloader{BaseURL: tt.base}).URL(m, File{Path: tt.path}); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestContentRangeStart(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{"bytes 70000-199999/200000", 70000, true},
		{"bytes 0-9/10", 0, true},
		{"bytes */200000", 0, false},
		{"items 1-2/3", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := contentRangeStart(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
