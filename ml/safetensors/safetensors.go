package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"unsafe"
)

// ErrNotFound is wrapped by the errors of Bytes and Float32 when the file has
// no tensor of the name asked for, so a model loader can say "this is not the
// model you think it is" rather than "the file is corrupt".
var ErrNotFound = errors.New("no such tensor")

// TensorInfo describes one tensor of a file, after validation.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	// Offset is where the tensor's bytes start, counted from the start of the
	// file (not of the data section, as data_offsets are), so that tools can
	// judge alignment and find the bytes with any reader.
	Offset int64
	// Size is the tensor's length in bytes: the product of Shape times the
	// dtype's size, which the header's data_offsets were checked to match.
	Size int64
}

// Elements returns the number of elements, the product of the shape (1 for a
// scalar), which was checked not to overflow when the file was parsed.
func (t TensorInfo) Elements() int64 {
	if s := t.DType.Size(); s > 0 {
		return t.Size / s
	}
	return 0
}

// File is a validated safetensors file whose tensor data is read in place.
// Slices returned by Bytes, and the zero-copy slices of Float32, point into
// the file's memory: they are read-only (writing to a memory-mapped file's
// slice crashes the process) and valid only until Close. A File is safe for
// concurrent use by several goroutines; Close must come after all of them.
type File struct {
	name   string
	data   []byte
	unmap  func([]byte) error // nil when data is not ours to release (Parse)
	header *header
	byName map[string]int // index into header.tensors
	closed bool
}

// Open memory-maps the file at path read-only and validates its header.
// Mapping instead of reading lets the 90 MB weights of a model be shared
// with the page cache and paged in as the engine touches them, which keeps
// both start-up time and resident memory low. On systems without mmap the
// file is read into memory instead, with the same behavior.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &FormatError{File: path, Problem: fmt.Sprintf("not a regular file (mode %v)", st.Mode())}
	}
	if st.Size() > math.MaxInt {
		return nil, &FormatError{File: path, Problem: fmt.Sprintf("file is %d bytes, too large to map on this platform", st.Size())}
	}
	data, unmap, err := mapFile(f, int(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("open safetensors %s: %w", path, err)
	}
	file, err := newFile(path, data)
	if err != nil {
		if unmap != nil {
			_ = unmap(data) // the validation error is the one that matters
		}
		return nil, err
	}
	file.unmap = unmap
	return file, nil
}

// Parse validates data as a safetensors file held in memory. The File reads
// tensors from data in place (it does not copy), so data must not be
// modified while the File is in use. It exists for tests, fuzzing and
// callers that already hold the bytes (an embedded or downloaded model).
func Parse(data []byte) (*File, error) {
	return newFile("", data)
}

func newFile(name string, data []byte) (*File, error) {
	h, err := parseHeader(name, data)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]int, len(h.tensors))
	for i, t := range h.tensors {
		byName[t.Name] = i
	}
	return &File{name: name, data: data, header: h, byName: byName}, nil
}

// Close releases the mapping. Every slice obtained from the File becomes
// invalid, which is why it is not done by a finalizer behind the caller's
// back. Close is idempotent.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	data := f.data
	f.data = nil
	if f.unmap == nil {
		return nil
	}
	if err := f.unmap(data); err != nil {
		return fmt.Errorf("close safetensors %s: %w", f.name, err)
	}
	return nil
}

// Metadata returns a copy of the header's free-form __metadata__ map (nil
// when there is none); a copy, so that callers cannot change what other
// goroutines see.
func (f *File) Metadata() map[string]string { return maps.Clone(f.header.metadata) }

// Tensors lists every tensor, sorted by name so that listings and tools are
// deterministic. The result is a copy.
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.header.tensors))
	for i, t := range f.header.tensors {
		t.Shape = slices.Clone(t.Shape)
		out[i] = t
	}
	return out
}

// Info describes the tensor called name, so that a loader can check a
// weight's dtype and shape before reading it.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.header.tensors[i]
	t.Shape = slices.Clone(t.Shape)
	return t, true
}

// Bytes returns the raw little-endian bytes of a tensor of any recognized
// dtype, as a zero-copy, read-only view into the file. Its capacity equals
// its length, so an append copies instead of overwriting the next tensor.
func (f *File) Bytes(name string) ([]byte, error) {
	t, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	return f.data[t.Offset : t.Offset+t.Size : t.Offset+t.Size], nil
}

// Float32 returns a tensor as float32s, the engine's compute type. An F32
// tensor is returned without copying when the host is little-endian and
// the data is 4-byte aligned (always so for files written by the reference
// implementation, which orders tensors by decreasing element size); the
// result is then read-only like Bytes. Otherwise, and for F16 and BF16,
// which are converted exactly, the result is a new slice.
func (f *File) Float32(name string) ([]float32, error) {
	t, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	b := f.data[t.Offset : t.Offset+t.Size]
	n := int(t.Elements())
	switch t.DType {
	case F32:
		if n == 0 {
			return []float32{}, nil
		}
		if littleEndian() && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
			return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), nil
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case F16:
		out := make([]float32, n)
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	case BF16:
		out := make([]float32, n)
		for i := range out {
			out[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("read safetensors %s: tensor %q: dtype %s cannot be read as float32 (F32, F16 and BF16 can)", f.display(), name, t.DType)
}

// Float32Shape is Float32 for a tensor that must have exactly the given
// shape, as a model's loader expects of every weight: a missing tensor or
// another shape is an error naming both shapes, before any data is read.
func (f *File) Float32Shape(name string, shape ...int) ([]float32, error) {
	t, err := f.tensor(name)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("read safetensors %s: tensor %q is missing: %w", f.display(), name, ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("read safetensors %s: tensor %q has shape %v, want %v", f.display(), name, t.Shape, shape)
	}
	return f.Float32(name)
}

// tensor finds a tensor for the readers, failing on a closed File rather
// than handing out a slice of unmapped memory.
func (f *File) tensor(name string) (TensorInfo, error) {
	if f.closed {
		return TensorInfo{}, fmt.Errorf("read safetensors %s: tensor %q: file is closed", f.display(), name)
	}
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, fmt.Errorf("read safetensors %s: tensor %q: %w", f.display(), name, ErrNotFound)
	}
	return f.header.tensors[i], nil
}

// display names the file in errors; Parse has no path.
func (f *File) display() string {
	if f.name == "" {
		return "(in memory)"
	}
	return f.name
}

// littleEndian reports the host byte order, which decides whether F32 data
// (always little-endian in the file) can be used in place.
func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}
