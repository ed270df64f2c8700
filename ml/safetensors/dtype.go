// Package safetensors reads and writes the safetensors weight format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header that names every tensor with its dtype, shape and byte
// range, then the raw little-endian tensor data.
//
// The reader exists so that the embedding engine can load model weights
// without Python and without copying 90 MB into the Go heap: Open memory-maps
// the file and hands out views into it. Because the offsets in a file decide
// which memory we read, every field of the header is checked before any of it
// is used, and a malformed file is rejected with an error that names the file,
// the tensor and the problem.
package safetensors

import (
	"fmt"
	"slices"
	"strings"
)

// DType is the element type of a tensor, spelled as in the safetensors
// header ("F32", "F16", "BF16", ...). It is a string, not an enum, so that an
// unknown dtype read from a file can still be named in the error.
type DType string

// The dtypes this package recognizes. F32, F16 and BF16 can be read as
// float32 (the engine's compute type); the others are recognized so that
// files holding them (a BERT checkpoint carries I64 position ids) still
// validate, their raw bytes can be read, and errors can name them.
const (
	F64    DType = "F64"
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	BOOL   DType = "BOOL"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
)

// dtypeInfo holds what the reader and the writer need per dtype: the element
// size for validating byte ranges, and the rank the reference implementation
// sorts tensors by when it lays out the data section (larger rank first), so
// that Write produces the same bytes as the Python library.
type dtypeInfo struct {
	size int64
	rank int
}

// dtypes is a constant table (never written): the rank follows the order of
// the Dtype enum in the reference Rust implementation.
var dtypes = map[DType]dtypeInfo{
	BOOL:   {1, 0},
	U8:     {1, 4},
	I8:     {1, 5},
	F8E5M2: {1, 6},
	F8E4M3: {1, 7},
	I16:    {2, 9},
	U16:    {2, 10},
	F16:    {2, 11},
	BF16:   {2, 12},
	I32:    {4, 13},
	U32:    {4, 14},
	F32:    {4, 15},
	F64:    {8, 17},
	I64:    {8, 18},
	U64:    {8, 19},
}

// Size returns the size of one element in bytes, or 0 if the dtype is not
// one this package recognizes, so callers can validate before they index.
func (d DType) Size() int64 { return dtypes[d].size }

// Known reports whether the package recognizes d; a file with any other
// dtype is rejected because its byte ranges could not be checked.
func (d DType) Known() bool { _, ok := dtypes[d]; return ok }

// knownDTypes lists the recognized dtypes for error messages, so that a
// person reading "unknown dtype" also learns what would have worked.
func knownDTypes() string {
	names := make([]string, 0, len(dtypes))
	for d := range dtypes {
		names = append(names, string(d))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// FormatError reports a file that breaks the safetensors format. It is a
// type, not just a message, so that a model loader can tell a corrupt file
// (re-download it) from an I/O failure (retry) with errors.As.
type FormatError struct {
	File    string // the path given to Open; empty for Parse
	Tensor  string // the tensor at fault; empty when the problem is not one tensor's
	Problem string // what is wrong, with the values that are wrong
}

// Error formats as `safetensors FILE: tensor "NAME": PROBLEM`, leaving out
// the parts that are empty.
func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("safetensors")
	if e.File != "" {
		b.WriteString(" ")
		b.WriteString(e.File)
	}
	b.WriteString(": ")
	if e.Tensor != "" {
		fmt.Fprintf(&b, "tensor %q: ", e.Tensor)
	}
	b.WriteString(e.Problem)
	return b.String()
}
