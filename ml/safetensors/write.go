package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
)

// Tensor is one tensor to write: its name, dtype, shape and raw
// little-endian bytes (len(Data) must equal the elements times the dtype's
// size).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Write writes tensors and metadata as a safetensors file. It lays the file
// out as the reference Python/Rust implementation does (tensors ordered by
// decreasing dtype then name, so every tensor is aligned to its element
// size; header padded with spaces to a multiple of 8 bytes; metadata first,
// in key order), so that its output is byte-for-byte what the Python library
// writes for the same input with at most one metadata key (and names without
// control characters, which the two JSON encoders escape differently). It exists for
// tests, fixtures and tools; the service only reads weights.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order := make([]Tensor, len(tensors))
	copy(order, tensors)
	seen := make(map[string]bool, len(tensors))
	for _, t := range order {
		if err := checkTensor(t, seen); err != nil {
			return fmt.Errorf("write safetensors: %w", err)
		}
	}
	slices.SortStableFunc(order, func(a, b Tensor) int {
		return cmp.Or(cmp.Compare(dtypes[b.DType].rank, dtypes[a.DType].rank), cmp.Compare(a.Name, b.Name))
	})

	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		h.WriteString(`"__metadata__":{`)
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, metadata[k])
		}
		h.WriteByte('}')
	}
	var offset int64
	for i, t := range order {
		if i > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":`)
		writeJSONString(&h, string(t.DType))
		h.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := offset + int64(len(t.Data))
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return fmt.Errorf("write safetensors: header is %d bytes, over the %d-byte limit readers enforce", h.Len(), MaxHeaderSize)
	}

	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(h.Len()))
	if _, err := w.Write(n[:]); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	for _, t := range order {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("write safetensors: tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// checkTensor refuses what the reader would refuse, so that Write never
// produces a file Open rejects.
func checkTensor(t Tensor, seen map[string]bool) error {
	switch {
	case t.Name == "":
		return fmt.Errorf("a tensor has an empty name")
	case t.Name == metadataKey:
		return fmt.Errorf("tensor name %q is reserved for metadata", t.Name)
	case seen[t.Name]:
		return fmt.Errorf("tensor %q appears twice", t.Name)
	case !t.DType.Known():
		return fmt.Errorf("tensor %q: unknown dtype %q (known: %s)", t.Name, t.DType, knownDTypes())
	}
	seen[t.Name] = true
	n := int64(1)
	for i, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("tensor %q: shape[%d] = %d is negative", t.Name, i, d)
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return fmt.Errorf("tensor %q: shape %v overflows", t.Name, t.Shape)
		}
		n *= int64(d)
	}
	if n > math.MaxInt64/t.DType.Size() {
		return fmt.Errorf("tensor %q: shape %v overflows", t.Name, t.Shape)
	}
	if want := n * t.DType.Size(); int64(len(t.Data)) != want {
		return fmt.Errorf("tensor %q: %d bytes of data, want %d for %s %v", t.Name, len(t.Data), want, t.DType, t.Shape)
	}
	return nil
}

// writeJSONString writes s as a JSON string without HTML escaping, as the
// reference writer does (encoding/json would turn "<" into "\u003c").
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes; writes to a Buffer cannot fail
	b.Truncate(b.Len() - 1) // Encode appends a newline
}
