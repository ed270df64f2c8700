package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize bounds the JSON header (100 MiB). A real header is a few
// kilobytes per hundred tensors; the bound stops a corrupt length field from
// making us parse, or allocate for, the whole file as JSON.
const MaxHeaderSize = 100 << 20

// metadataKey is the one header key that is not a tensor.
const metadataKey = "__metadata__"

// header is the validated content of a safetensors header.
type header struct {
	metadata map[string]string
	tensors  []TensorInfo // sorted by name
}

// parseHeader validates data as a whole safetensors file and returns its
// header. name is only used in errors. Nothing in data is trusted: every
// length, offset and shape is checked against the data actually present, so
// that slicing data with the returned offsets cannot go out of range.
func parseHeader(name string, data []byte) (*header, error) {
	fail := func(tensor, format string, args ...any) error {
		return &FormatError{File: name, Tensor: tensor, Problem: fmt.Sprintf(format, args...)}
	}
	if len(data) < 8 {
		return nil, fail("", "file is %d bytes, too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, fail("", "header length %d exceeds the limit of %d bytes (100 MiB)", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fail("", "header length %d exceeds the %d bytes that follow the length field", n, len(data)-8)
	}
	raw := data[8 : 8+n]
	dataStart := int64(8 + n)
	dataLen := int64(len(data)) - dataStart
	if !utf8.Valid(raw) {
		return nil, fail("", "header is not valid UTF-8")
	}
	members, err := decodeObject(raw)
	if err != nil {
		return nil, fail("", "header: %v", err)
	}

	h := &header{}
	spans := make([]span, 0, len(members))
	for _, m := range members {
		if m.key == metadataKey {
			md, err := parseMetadata(m.value)
			if err != nil {
				return nil, fail("", "%s: %v", metadataKey, err)
			}
			h.metadata = md
			continue
		}
		t, begin, problem := parseTensor(m.key, m.value, dataLen)
		if problem != "" {
			return nil, fail(m.key, "%s", problem)
		}
		t.Offset = dataStart + begin
		h.tensors = append(h.tensors, t)
		spans = append(spans, span{name: m.key, begin: begin, end: begin + t.Size})
	}
	if err := checkCoverage(spans, dataLen); err != nil {
		return nil, fail(err.tensor, "%s", err.problem)
	}
	slices.SortFunc(h.tensors, func(a, b TensorInfo) int { return cmp.Compare(a.Name, b.Name) })
	return h, nil
}

// parseTensor validates one tensor entry and returns it with its begin
// offset within the data section; problem is empty when the entry is valid.
// Returning a string keeps the file and tensor names in one place (the
// caller's FormatError).
func parseTensor(name string, value json.RawMessage, dataLen int64) (t TensorInfo, begin int64, problem string) {
	t.Name = name
	members, err := decodeObject(value)
	if err != nil {
		return t, 0, fmt.Sprintf("entry %v with dtype, shape and data_offsets", err)
	}
	var dtypeRaw, shapeRaw, offsetsRaw json.RawMessage
	for _, m := range members {
		switch m.key {
		case "dtype":
			dtypeRaw = m.value
		case "shape":
			shapeRaw = m.value
		case "data_offsets":
			offsetsRaw = m.value
		default:
			return t, 0, fmt.Sprintf("unexpected field %q (a tensor entry has only dtype, shape and data_offsets)", m.key)
		}
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"dtype", dtypeRaw}, {"shape", shapeRaw}, {"data_offsets", offsetsRaw}} {
		if f.raw == nil {
			return t, 0, fmt.Sprintf("missing field %q", f.name)
		}
	}

	dtype, ok := jsonString(dtypeRaw)
	if !ok {
		return t, 0, fmt.Sprintf("dtype %s is not a string", clip(dtypeRaw))
	}
	t.DType = DType(dtype)
	if !t.DType.Known() {
		return t, 0, fmt.Sprintf("unknown dtype %q (known: %s)", dtype, knownDTypes())
	}

	shape, problem := parseInts("shape", shapeRaw)
	if problem != "" {
		return t, 0, problem
	}
	t.Shape = make([]int, len(shape))
	for i, d := range shape {
		if d > math.MaxInt {
			return t, 0, fmt.Sprintf("shape[%d] = %d does not fit in an int", i, d)
		}
		t.Shape[i] = int(d)
	}
	numel, ok := elements(shape)
	if !ok {
		return t, 0, fmt.Sprintf("shape %v overflows: it has more than 2^63-1 elements", t.Shape)
	}
	size := t.DType.Size()
	if numel > math.MaxInt64/size {
		return t, 0, fmt.Sprintf("shape %v overflows: %d elements of %s take more than 2^63-1 bytes", t.Shape, numel, t.DType)
	}
	t.Size = numel * size

	offsets, problem := parseInts("data_offsets", offsetsRaw)
	if problem != "" {
		return t, 0, problem
	}
	if len(offsets) != 2 {
		return t, 0, fmt.Sprintf("data_offsets has %d numbers, want 2 ([begin, end])", len(offsets))
	}
	begin, end := offsets[0], offsets[1]
	switch {
	case begin > end:
		return t, 0, fmt.Sprintf("data_offsets [%d, %d) end before they begin", begin, end)
	case end > dataLen:
		return t, 0, fmt.Sprintf("data_offsets [%d, %d) end beyond the data section of %d bytes", begin, end, dataLen)
	case end-begin != t.Size:
		return t, 0, fmt.Sprintf("data_offsets [%d, %d) hold %d bytes, want %d for %s %v", begin, end, end-begin, t.Size, t.DType, t.Shape)
	}
	return t, begin, ""
}

// elements multiplies the dimensions of a shape, reporting false on int64
// overflow. A shape with a zero dimension has zero elements whatever the
// other dimensions are.
func elements(shape []int64) (int64, bool) {
	if slices.Contains(shape, 0) {
		return 0, true
	}
	n := int64(1)
	for _, d := range shape {
		if n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// parseInts decodes a JSON array of non-negative integers. It reads each
// number from its text, not through float64, so that 2^53+1 is not silently
// rounded and 1.5 or 1e3 are rejected rather than truncated.
func parseInts(field string, raw json.RawMessage) ([]int64, string) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil || elems == nil {
		return nil, fmt.Sprintf("%s %s is not an array of integers", field, clip(raw))
	}
	out := make([]int64, len(elems))
	for i, e := range elems {
		e = bytes.TrimSpace(e)
		v, err := strconv.ParseInt(string(e), 10, 64)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange) && len(e) > 0 && e[0] != '-':
			return nil, fmt.Sprintf("%s[%d] = %s exceeds 2^63-1", field, i, clip(e))
		case err != nil:
			return nil, fmt.Sprintf("%s[%d] = %s is not a non-negative integer", field, i, clip(e))
		case v < 0:
			return nil, fmt.Sprintf("%s[%d] = %d is negative", field, i, v)
		}
		out[i] = v
	}
	return out, ""
}

// parseMetadata decodes the optional string-to-string map. null is accepted
// as "no metadata", as the reference implementation does.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	members, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	md := make(map[string]string, len(members))
	for _, m := range members {
		s, ok := jsonString(m.value)
		if !ok {
			return nil, fmt.Errorf("value of %q is %s, want a string", m.key, clip(m.value))
		}
		md[m.key] = s
	}
	return md, nil
}

// jsonString decodes a JSON string. Unlike json.Unmarshal into a string it
// rejects null, which would otherwise pass as "".
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte{'"'}) || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// span is one tensor's byte range in the data section.
type span struct {
	name       string
	begin, end int64
}

// coverageError is a span problem with the tensor it belongs to.
type coverageError struct {
	tensor, problem string
}

// checkCoverage rejects overlapping tensors and bytes that belong to no
// tensor. Overlaps would let two weights alias; holes are what the format's
// specification forbids ("the data section is the concatenation of the
// tensors"), and the reference implementation rejects them too, so a file
// with holes was not made by a conforming writer.
func checkCoverage(spans []span, dataLen int64) *coverageError {
	slices.SortFunc(spans, func(a, b span) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	var next int64
	prev := -1
	for i, s := range spans {
		switch {
		case s.begin < next:
			p := spans[prev]
			return &coverageError{s.name, fmt.Sprintf("data_offsets [%d, %d) overlap tensor %q at [%d, %d)", s.begin, s.end, p.name, p.begin, p.end)}
		case s.begin > next:
			return &coverageError{s.name, fmt.Sprintf("data section bytes [%d, %d) before this tensor belong to no tensor (the format forbids holes in the data section)", next, s.begin)}
		}
		next = s.end
		prev = i
	}
	if next != dataLen {
		return &coverageError{"", fmt.Sprintf("data section bytes [%d, %d) after the last tensor belong to no tensor (the format forbids holes in the data section)", next, dataLen)}
	}
	return nil
}

// member is one key and value of a JSON object, in file order.
type member struct {
	key   string
	value json.RawMessage
}

// decodeObject splits a JSON object into its members. It exists because
// encoding/json would silently keep the last of two equal keys, and a header
// that names a tensor twice is ambiguous about which bytes it means.
func decodeObject(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("is a JSON %s, want an object", jsonKind(tok))
	}
	var members []member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not valid JSON: object key is %v", tok)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		if seen[key] {
			return nil, fmt.Errorf("has key %q twice", key)
		}
		seen[key] = true
		members = append(members, member{key, value})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("has invalid data after the JSON object: %v", err)
		}
		return nil, fmt.Errorf("has data after the JSON object (%v)", tok)
	}
	return members, nil
}

// jsonKind names the JSON type of the first token of a value.
func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

// clip shortens a JSON value quoted in an error, so that a corrupt header
// cannot turn one error message into megabytes.
func clip(raw []byte) string {
	const max = 40
	if len(raw) <= max {
		return string(raw)
	}
	return string(raw[:max]) + "..."
}
