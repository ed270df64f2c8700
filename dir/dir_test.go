package dir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// MustOpen opens a store in a new temporary directory.
func MustOpen(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "objects"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	return s
}

func TestStore_Contract(t *testing.T) {
	enrichertest.TestObjectStore(t, func(t *testing.T) enricher.ObjectStore { return MustOpen(t) })
}

func TestOpen(t *testing.T) {
	t.Run("creates the root", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "a", "b")
		s, err := Open(root)
		enrichertest.MustNoError(t, err, "open")
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			t.Errorf("stat root: got %v, want a directory", err)
		}
		if !filepath.IsAbs(s.Root()) {
			t.Errorf("root: got %q, want an absolute path", s.Root())
		}
	})
	t.Run("empty root", func(t *testing.T) {
		_, err := Open("")
		enrichertest.MustCode(t, err, enricher.EINVALID)
	})
	t.Run("root is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		enrichertest.MustNoError(t, os.WriteFile(f, []byte("x"), 0o600), "write file")
		if _, err := Open(f); err == nil {
			t.Errorf("open a file as root: got no error, want one")
		}
	})
	t.Run("removes leftover temporary files", func(t *testing.T) {
		root := t.TempDir()
		s, err := Open(root)
		enrichertest.MustNoError(t, err, "open")
		ctx := context.Background()
		enrichertest.MustNoError(t, s.PutObject(ctx, "sub/keep.json", []byte("kept")), "put")
		// What a crash between create and rename leaves behind.
		leftovers := []string{filepath.Join(root, ".tmp-123"), filepath.Join(root, "sub", ".tmp-456")}
		for _, f := range leftovers {
			enrichertest.MustNoError(t, os.WriteFile(f, []byte("half"), 0o600), "write leftover")
		}
		s, err = Open(root)
		enrichertest.MustNoError(t, err, "reopen")
		for _, f := range leftovers {
			if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("leftover %s after reopen: got %v, want it removed", f, err)
			}
		}
		got, err := s.GetObject(ctx, "sub/keep.json")
		enrichertest.MustNoError(t, err, "get kept object")
		if string(got) != "kept" {
			t.Errorf("kept object: got %q, want %q", got, "kept")
		}
	})
}

func TestStore_Keys(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	tests := []struct {
		key      string
		wantCode string // "" when the key is valid
	}{
		{"T-1.json", ""},
		{"tickets-raw/T-1.json", ""},
		{"a/b/c/d.json", ""},
		{".hidden", ""},
		{"...", ""},
		{"with space.json", ""},
		{"", enricher.EINVALID},
		{"/etc/passwd", enricher.EINVALID},
		{"../escape.json", enricher.EINVALID},
		{"a/../../escape.json", enricher.EINVALID},
		{"a/..", enricher.EINVALID},
		{"..", enricher.EINVALID},
		{".", enricher.EINVALID},
		{"./a.json", enricher.EINVALID},
		{"a//b.json", enricher.EINVALID},
		{"a/", enricher.EINVALID},
		{`..\escape.json`, enricher.EINVALID},
		{`a\b.json`, enricher.EINVALID},
		{"nul\x00.json", enricher.EINVALID},
		{".tmp-123", enricher.EINVALID},
		{"sub/.tmp-abc", enricher.EINVALID},
		{strings.Repeat("x", 256), enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.key, "/", "|"), func(t *testing.T) {
			err := s.PutObject(ctx, tt.key, []byte("data"))
			if tt.wantCode == "" {
				enrichertest.MustNoError(t, err, "put")
				got, err := s.GetObject(ctx, tt.key)
				enrichertest.MustNoError(t, err, "get")
				if string(got) != "data" {
					t.Errorf("get %q: got %q, want %q", tt.key, got, "data")
				}
				return
			}
			enrichertest.MustCode(t, err, tt.wantCode)
			if !strings.Contains(err.Error(), "invalid object key") {
				t.Errorf("put %q: got error %q, want it to name the invalid key", tt.key, err)
			}
			_, err = s.GetObject(ctx, tt.key)
			enrichertest.MustCode(t, err, tt.wantCode)
		})
	}
	// Nothing was written outside the root.
	parent := filepath.Dir(s.Root())
	entries, err := os.ReadDir(parent)
	enrichertest.MustNoError(t, err, "read parent")
	if len(entries) != 1 || entries[0].Name() != filepath.Base(s.Root()) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("root's parent holds %v, want only the root", names)
	}
}

func TestStore_TempFilesInvisible(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	// A temporary file of an interrupted write is on disk...
	tmp := filepath.Join(s.Root(), ".tmp-999")
	enrichertest.MustNoError(t, os.WriteFile(tmp, []byte("torn"), 0o600), "write temp")
	// ...but no key reaches it.
	_, err := s.GetObject(ctx, ".tmp-999")
	enrichertest.MustCode(t, err, enricher.EINVALID)

	// A successful put leaves no temporary file behind.
	enrichertest.MustNoError(t, os.Remove(tmp), "remove temp")
	enrichertest.MustNoError(t, s.PutObject(ctx, "sub/x.json", []byte("x")), "put")
	var temps []string
	err = filepath.WalkDir(s.Root(), func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tmpPrefix) {
			temps = append(temps, path)
		}
		return err
	})
	enrichertest.MustNoError(t, err, "walk")
	if len(temps) != 0 {
		t.Errorf("after a put: got temporary files %v, want none", temps)
	}
}

func TestStore_PutObject(t *testing.T) {
	ctx := context.Background()
	t.Run("file mode", func(t *testing.T) {
		s := MustOpen(t)
		enrichertest.MustNoError(t, s.PutObject(ctx, "a/b.json", []byte("x")), "put")
		fi, err := os.Stat(filepath.Join(s.Root(), "a", "b.json"))
		enrichertest.MustNoError(t, err, "stat")
		if fi.Mode().Perm() != filePerm {
			t.Errorf("file mode: got %v, want %v", fi.Mode().Perm(), os.FileMode(filePerm))
		}
	})
	t.Run("object where a folder is", func(t *testing.T) {
		s := MustOpen(t)
		enrichertest.MustNoError(t, s.PutObject(ctx, "a/b.json", []byte("x")), "put")
		enrichertest.MustCode(t, s.PutObject(ctx, "a", []byte("y")), enricher.EINVALID)
	})
	t.Run("folder where an object is", func(t *testing.T) {
		s := MustOpen(t)
		enrichertest.MustNoError(t, s.PutObject(ctx, "a", []byte("x")), "put")
		enrichertest.MustCode(t, s.PutObject(ctx, "a/b.json", []byte("y")), enricher.EINVALID)
		got, err := s.GetObject(ctx, "a")
		enrichertest.MustNoError(t, err, "get")
		if string(got) != "x" {
			t.Errorf("object after the refused put: got %q, want %q", got, "x")
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		s := MustOpen(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.PutObject(cctx, "a.json", []byte("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("put: got %v, want context.Canceled", err)
		}
		if _, err := s.GetObject(ctx, "a.json"); enricher.ErrorCode(err) != enricher.ENOTFOUND {
			t.Errorf("get after a canceled put: got %v, want ENOTFOUND", err)
		}
	})
}

func TestStore_GetObject(t *testing.T) {
	s := MustOpen(t)
	_, err := s.GetObject(context.Background(), "missing.json")
	enrichertest.MustCode(t, err, enricher.ENOTFOUND)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("get missing: got %v, want it to wrap fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("get missing: got %q, want it to name the key", err)
	}
}

// BenchmarkStore_PutObject measures a durable put of an enriched record
// (about 4 KiB): every put fsyncs the file and its directory, so the disk's
// sync latency bounds it.
func BenchmarkStore_PutObject(b *testing.B) {
	s := MustOpen(b)
	ctx := context.Background()
	data := []byte(strings.Repeat(`{"embedding":[0.0123456,-0.0456789]}`, 4096/36))
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		if err := s.PutObject(ctx, fmt.Sprintf("tickets-enriched/T-%07d.json", i), data); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}
