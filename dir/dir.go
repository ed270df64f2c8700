// Package dir is an enricher.ObjectStore kept in a directory: the embedded
// stand-in for an S3 bucket, so the service runs on a laptop with nothing to
// install.
//
// Every object is one file under the root, its key being its slash-separated
// path. Writes are atomic and durable: the data goes to a temporary file in
// the destination directory, is fsynced, renamed over the old object, and the
// directory is fsynced, so after a crash or a power cut a reader finds the old
// object or the new one, never a torn mix, and a write that returned is kept.
//
// Keys are checked before they touch the file system, so no key can name a
// file outside the root. Temporary files are named ".tmp-*"; keys with such a
// segment are refused, so a temporary file left by a crash is never visible as
// an object, and Open deletes the leftovers.
//
// Unlike S3, a key cannot be both an object and a "folder" of other objects:
// once "a/b" is an object, "a/b/c" cannot be stored (and the reverse), because
// a path is either a file or a directory.
package dir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ticket-enricher/enricher"
)

// tmpPrefix starts the name of every temporary file. Keys whose segments
// start with it are invalid, which is what keeps crash leftovers invisible.
const tmpPrefix = ".tmp-"

// errNotDir is what the file system reports when a path segment that must be
// a directory is a file.
const errNotDir = syscall.ENOTDIR

// errIsFolder is what the file system reports when a file would replace a
// directory.
const errIsFolder = syscall.EISDIR

// maxSegment is the longest path segment most file systems accept (NAME_MAX).
const maxSegment = 255

// File and directory permissions: objects are customer tickets, so only the
// owner of the process may read them.
const (
	filePerm = 0o600
	dirPerm  = 0o700
)

// Store is a directory object store. It is safe for concurrent use: writers of
// the same key race by rename, and the last rename wins whole.
type Store struct {
	root string
}

var _ enricher.ObjectStore = (*Store)(nil)

// Open returns the store rooted at root, creating the directory if needed,
// and deletes the temporary files that writes interrupted by a crash left
// behind.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, enricher.Errorf(enricher.EINVALID, "open object store: empty root directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("open object store %s: %w", root, err)
	}
	s := &Store{root: abs}
	if err := s.removeTemps(); err != nil {
		return nil, fmt.Errorf("open object store %s: %w", root, err)
	}
	return s, nil
}

// Root returns the absolute path of the store's directory.
func (s *Store) Root() string { return s.root }

// removeTemps deletes the ".tmp-*" files under the root. They can only come
// from writes that never reached their rename, so their data was never
// acknowledged to anyone.
func (s *Store) removeTemps() error {
	return filepath.WalkDir(s.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tmpPrefix) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove temporary file: %w", err)
			}
		}
		return nil
	})
}

// PutObject stores data under key, replacing any previous object atomically
// and durably (temp file, fsync, rename, fsync of the directory). Directories
// named by the key are created.
func (s *Store) PutObject(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put object %q: %w", key, err)
	}
	path, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := s.mkdirs(dir); err != nil {
		if errors.Is(err, errNotDir) {
			return enricher.Errorf(enricher.EINVALID, "put object %q: a prefix of the key is an object, so it cannot be a folder: %w", key, err)
		}
		return fmt.Errorf("put object %q: %w", key, err)
	}
	if err := writeFile(dir, path, data); err != nil {
		if errors.Is(err, errIsFolder) {
			return enricher.Errorf(enricher.EINVALID, "put object %q: the key is a folder of other objects: %w", key, err)
		}
		return fmt.Errorf("put object %q: %w", key, err)
	}
	return nil
}

// GetObject returns the object under key, or an ENOTFOUND error when there is
// none (including when key names a folder of other objects).
func (s *Store) GetObject(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get object %q: %w", key, err)
	}
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) || isDir(path):
		return nil, enricher.Errorf(enricher.ENOTFOUND, "get object %q: no such object: %w", key, err)
	}
	return nil, fmt.Errorf("get object %q: %w", key, err)
}

// isDir reports whether path is a directory: a "folder" of objects, which
// is not an object itself.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// path validates key and returns the file it names. It is the only place a
// key becomes a path, so it is the only place that must keep keys inside the
// root.
func (s *Store) path(key string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// validKey accepts relative, slash-separated keys whose segments are plain
// names: no empty, "." or ".." segment, no backslash or NUL, and no segment
// that could be a temporary file.
func validKey(key string) error {
	invalid := func(reason string) error {
		return enricher.Errorf(enricher.EINVALID, "invalid object key %q: %s", key, reason)
	}
	if key == "" {
		return invalid("empty")
	}
	if strings.ContainsRune(key, 0) {
		return invalid("contains NUL")
	}
	if strings.ContainsRune(key, '\\') {
		return invalid("contains a backslash")
	}
	if strings.HasPrefix(key, "/") {
		return invalid("absolute path")
	}
	if filepath.VolumeName(filepath.FromSlash(key)) != "" {
		return invalid("names a volume")
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return invalid("empty path segment")
		case seg == "." || seg == "..":
			return invalid(fmt.Sprintf("path segment %q", seg))
		case strings.HasPrefix(seg, tmpPrefix):
			return invalid(fmt.Sprintf("path segment starts with %q, reserved for temporary files", tmpPrefix))
		case len(seg) > maxSegment:
			return invalid(fmt.Sprintf("path segment longer than %d bytes", maxSegment))
		}
	}
	return nil
}

// mkdirs creates dir and its missing parents under the root, fsyncing each
// parent so that a new directory survives a power cut along with the object
// renamed into it.
func (s *Store) mkdirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("create directory %s: %w", dir, errNotDir)
		}
		return nil
	}
	if dir == s.root {
		return os.MkdirAll(dir, dirPerm)
	}
	parent := filepath.Dir(dir)
	if err := s.mkdirs(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, dirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// A concurrent writer created it; it must be a directory.
			if fi, statErr := os.Stat(dir); statErr == nil && fi.IsDir() {
				return nil
			}
			return fmt.Errorf("create directory %s: %w", dir, errNotDir)
		}
		if errors.Is(err, errNotDir) {
			return fmt.Errorf("create directory %s: %w", dir, errNotDir)
		}
		return fmt.Errorf("create directory: %w", err)
	}
	return syncDir(parent)
}

// writeFile replaces path with data: temp file in dir, write, fsync, rename,
// fsync dir. The temp file is removed on every failure path.
func writeFile(dir, path string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(filePerm); err != nil {
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		if fi, statErr := os.Stat(path); statErr == nil && fi.IsDir() {
			return fmt.Errorf("rename temporary file: %w", errIsFolder)
		}
		return fmt.Errorf("rename temporary file: %w", err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that the entries created or renamed in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync directory: %w", err)
	}
	return d.Close()
}
