package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// rawFile assembles a file from a header text and a data section, so that
// malformed headers can be written by hand.
func rawFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// MustWrite writes tensors with Write and returns the file's bytes.
func MustWrite(tb testing.TB, tensors []Tensor, metadata map[string]string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, metadata); err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// MustParse parses data and fails the test on error.
func MustParse(tb testing.TB, data []byte) *File {
	tb.Helper()
	f, err := Parse(data)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return f
}

// f32Bytes encodes float32s little-endian.
func f32Bytes(vs ...float32) []byte {
	var out []byte
	for _, v := range vs {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	return out
}

// u16Bytes encodes 16-bit patterns little-endian.
func u16Bytes(vs ...uint16) []byte {
	var out []byte
	for _, v := range vs {
		out = binary.LittleEndian.AppendUint16(out, v)
	}
	return out
}

func TestParse_valid(t *testing.T) {
	tests := []struct {
		name     string
		tensors  []Tensor
		metadata map[string]string
	}{
		{name: "no tensors"},
		{name: "metadata only", metadata: map[string]string{"format": "pt", "note": `quotes " and <html>`}},
		{name: "one F32 matrix", tensors: []Tensor{{Name: "w", DType: F32, Shape: []int{2, 3}, Data: f32Bytes(1, 2, 3, 4, 5, 6)}}},
		{name: "scalar", tensors: []Tensor{{Name: "s", DType: F32, Shape: []int{}, Data: f32Bytes(7)}}},
		{name: "zero elements", tensors: []Tensor{
			{Name: "a", DType: F32, Shape: []int{0, 5}, Data: nil},
			{Name: "b", DType: F16, Shape: []int{3}, Data: u16Bytes(1, 2, 3)},
		}},
		{name: "mixed dtypes", metadata: map[string]string{"format": "pt"}, tensors: []Tensor{
			{Name: "embeddings.position_ids", DType: I64, Shape: []int{1, 2}, Data: make([]byte, 16)},
			{Name: "h", DType: F16, Shape: []int{1}, Data: u16Bytes(0x3c00)},
			{Name: "b", DType: BF16, Shape: []int{2}, Data: u16Bytes(0x3f80, 0xc000)},
			{Name: "f", DType: F32, Shape: []int{1}, Data: f32Bytes(1)},
			{Name: "u", DType: U8, Shape: []int{3}, Data: []byte{1, 2, 3}},
			{Name: "flag", DType: BOOL, Shape: []int{1}, Data: []byte{1}},
			{Name: "d", DType: F64, Shape: []int{1}, Data: make([]byte, 8)},
			{Name: "i", DType: I32, Shape: []int{1}, Data: make([]byte, 4)},
			{Name: "i8", DType: I8, Shape: []int{1}, Data: []byte{0xff}},
		}},
		{name: "unicode names", tensors: []Tensor{{Name: "poids.é\u200b😀", DType: U8, Shape: []int{1}, Data: []byte{9}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := MustWrite(t, tt.tensors, tt.metadata)
			if binary.LittleEndian.Uint64(data)%8 != 0 {
				t.Errorf("header length %d, want a multiple of 8", binary.LittleEndian.Uint64(data))
			}
			f := MustParse(t, data)
			defer f.Close()
			if got := f.Metadata(); len(got) != len(tt.metadata) || (len(got) > 0 && !reflect.DeepEqual(got, tt.metadata)) {
				t.Errorf("Metadata() = %v, want %v", got, tt.metadata)
			}
			infos := f.Tensors()
			if len(infos) != len(tt.tensors) {
				t.Fatalf("Tensors() has %d tensors, want %d", len(infos), len(tt.tensors))
			}
			for i := 1; i < len(infos); i++ {
				if infos[i-1].Name >= infos[i].Name {
					t.Errorf("Tensors() not sorted: %q before %q", infos[i-1].Name, infos[i].Name)
				}
			}
			for _, want := range tt.tensors {
				info, ok := f.Info(want.Name)
				if !ok {
					t.Fatalf("Info(%q) not found", want.Name)
				}
				if info.DType != want.DType || !reflect.DeepEqual(info.Shape, want.Shape) || info.Size != int64(len(want.Data)) {
					t.Errorf("Info(%q) = %s %v %d bytes, want %s %v %d bytes", want.Name, info.DType, info.Shape, info.Size, want.DType, want.Shape, len(want.Data))
				}
				if info.Offset%want.DType.Size() != 0 {
					t.Errorf("Info(%q).Offset = %d, want a multiple of %d", want.Name, info.Offset, want.DType.Size())
				}
				got, err := f.Bytes(want.Name)
				if err != nil {
					t.Fatalf("Bytes(%q): %v", want.Name, err)
				}
				if !bytes.Equal(got, want.Data) {
					t.Errorf("Bytes(%q) = %x, want %x", want.Name, got, want.Data)
				}
				if cap(got) != len(got) {
					t.Errorf("Bytes(%q) has cap %d, want %d (= len)", want.Name, cap(got), len(got))
				}
			}
		})
	}
}

func TestParse_malformed(t *testing.T) {
	valid := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	tests := []struct {
		name   string
		data   []byte
		tensor string   // FormatError.Tensor
		want   []string // substrings of the message
	}{
		{name: "empty", data: nil, want: []string{"file is 0 bytes, too short"}},
		{name: "truncated length", data: []byte{1, 0, 0}, want: []string{"file is 3 bytes"}},
		{name: "header longer than file", data: rawFile(valid, make([]byte, 8))[:20], want: []string{"header length 54 exceeds the 12 bytes that follow the length field"}},
		{name: "header over 100 MiB", data: binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1), want: []string{"exceeds the limit of 104857600 bytes"}},
		{name: "header length near 2^64", data: binary.LittleEndian.AppendUint64(nil, math.MaxUint64), want: []string{"header length 18446744073709551615 exceeds the limit"}},
		{name: "truncated data", data: rawFile(valid, make([]byte, 7)), tensor: "w", want: []string{"data_offsets [0, 8) end beyond the data section of 7 bytes"}},
		{name: "empty header", data: rawFile("", nil), want: []string{"header: not valid JSON"}},
		{name: "bad JSON", data: rawFile(`{"w":`, nil), want: []string{"header: not valid JSON"}},
		{name: "bad JSON inside", data: rawFile(`{"w":{"dtype":"F32",}}`, nil), want: []string{"header: not valid JSON"}},
		{name: "trailing garbage", data: rawFile(`{}x`, nil), want: []string{"after the JSON object"}},
		{name: "second object", data: rawFile(`{}{}`, nil), want: []string{"has data after the JSON object"}},
		{name: "invalid UTF-8", data: rawFile("{\"\xff\":1}", nil), want: []string{"not valid UTF-8"}},
		{name: "array header", data: rawFile(`[]`, nil), want: []string{"header: is a JSON array, want an object"}},
		{name: "string header", data: rawFile(`"x"`, nil), want: []string{"is a JSON string, want an object"}},
		{name: "null header", data: rawFile(`null`, nil), want: []string{"is a JSON null, want an object"}},
		{name: "duplicate tensor", data: rawFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{1, 2}), want: []string{`has key "w" twice`}},
		{name: "entry not object", data: rawFile(`{"w":[1]}`, nil), tensor: "w", want: []string{"entry is a JSON array, want an object with dtype, shape and data_offsets"}},
		{name: "missing dtype", data: rawFile(`{"w":{"shape":[1],"data_offsets":[0,1]}}`, []byte{1}), tensor: "w", want: []string{`missing field "dtype"`}},
		{name: "missing shape", data: rawFile(`{"w":{"dtype":"U8","data_offsets":[0,1]}}`, []byte{1}), tensor: "w", want: []string{`missing field "shape"`}},
		{name: "missing offsets", data: rawFile(`{"w":{"dtype":"U8","shape":[1]}}`, []byte{1}), tensor: "w", want: []string{`missing field "data_offsets"`}},
		{name: "extra field", data: rawFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"stride":[1]}}`, []byte{1}), tensor: "w", want: []string{`unexpected field "stride"`}},
		{name: "unknown dtype", data: rawFile(`{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)), tensor: "w", want: []string{`unknown dtype "F128"`, "known: BF16, BOOL, F16, F32"}},
		{name: "dtype not string", data: rawFile(`{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), tensor: "w", want: []string{"dtype 4 is not a string"}},
		{name: "dtype null", data: rawFile(`{"w":{"dtype":null,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), tensor: "w", want: []string{"dtype null is not a string"}},
		{name: "negative dim", data: rawFile(`{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, nil), tensor: "w", want: []string{"shape[0] = -1 is negative"}},
		{name: "fractional dim", data: rawFile(`{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, []byte{1}), tensor: "w", want: []string{"shape[0] = 1.5 is not a non-negative integer"}},
		{name: "exponent dim", data: rawFile(`{"w":{"dtype":"U8","shape":[1e3],"data_offsets":[0,1000]}}`, make([]byte, 1000)), tensor: "w", want: []string{"shape[0] = 1e3 is not a non-negative integer"}},
		{name: "string dim", data: rawFile(`{"w":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}}`, []byte{1}), tensor: "w", want: []string{`shape[0] = "1" is not`}},
		{name: "shape not array", data: rawFile(`{"w":{"dtype":"U8","shape":3,"data_offsets":[0,3]}}`, make([]byte, 3)), tensor: "w", want: []string{"shape 3 is not an array of integers"}},
		{name: "shape null", data: rawFile(`{"w":{"dtype":"U8","shape":null,"data_offsets":[0,1]}}`, []byte{1}), tensor: "w", want: []string{"shape null is not an array"}},
		{name: "dim beyond int64", data: rawFile(`{"w":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,1]}}`, []byte{1}), tensor: "w", want: []string{"shape[0] = 9223372036854775808 exceeds 2^63-1"}},
		{name: "shape overflow", data: rawFile(`{"w":{"dtype":"U8","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,1]}}`, []byte{1}), tensor: "w", want: []string{"shape [2147483647 2147483647 2147483647] overflows: it has more than 2^63-1 elements"}},
		{name: "byte size overflow", data: rawFile(`{"w":{"dtype":"F32","shape":[2147483647,2147483647,2],"data_offsets":[0,4]}}`, make([]byte, 4)), tensor: "w", want: []string{"overflows: 9223372028264841218 elements of F32 take more than 2^63-1 bytes"}},
		{name: "one offset", data: rawFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}}`, []byte{1}), tensor: "w", want: []string{"data_offsets has 1 numbers, want 2"}},
		{name: "negative offset", data: rawFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, []byte{1}), tensor: "w", want: []string{"data_offsets[0] = -1 is negative"}},
		{name: "reversed offsets", data: rawFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}`, []byte{1}), tensor: "w", want: []string{"data_offsets [1, 0) end before they begin"}},
		{name: "offsets out of range", data: rawFile(`{"w":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, make([]byte, 4)), tensor: "w", want: []string{"data_offsets [2, 6) end beyond the data section of 4 bytes"}},
		{name: "huge offsets", data: rawFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}`, []byte{1}), tensor: "w", want: []string{"end beyond the data section of 1 bytes"}},
		{name: "size mismatch", data: rawFile(`{"encoder.layer.0.attention.self.query.weight":{"dtype":"F32","shape":[384,384],"data_offsets":[0,100]}}`, make([]byte, 100)), tensor: "encoder.layer.0.attention.self.query.weight", want: []string{"data_offsets [0, 100) hold 100 bytes, want 589824 for F32 [384 384]"}},
		{name: "overlap", data: rawFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, make([]byte, 6)), tensor: "b", want: []string{`data_offsets [2, 6) overlap tensor "a" at [0, 4)`}},
		{name: "same range twice", data: rawFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, make([]byte, 4)), tensor: "b", want: []string{`overlap tensor "a"`}},
		{name: "empty tensor inside another", data: rawFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}`, make([]byte, 4)), tensor: "b", want: []string{`overlap tensor "a"`}},
		{name: "hole between", data: rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}`, make([]byte, 6)), tensor: "b", want: []string{"data section bytes [2, 4) before this tensor belong to no tensor", "forbids holes"}},
		{name: "hole at start", data: rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, make([]byte, 3)), tensor: "a", want: []string{"bytes [0, 1) before this tensor belong to no tensor"}},
		{name: "trailing bytes", data: rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 5)), want: []string{"data section bytes [2, 5) after the last tensor belong to no tensor"}},
		{name: "data without tensors", data: rawFile(`{}`, make([]byte, 1)), want: []string{"bytes [0, 1) after the last tensor"}},
		{name: "metadata not object", data: rawFile(`{"__metadata__":"pt"}`, nil), want: []string{"__metadata__: is a JSON string, want an object"}},
		{name: "metadata number value", data: rawFile(`{"__metadata__":{"format":"pt","epochs":3}}`, nil), want: []string{`__metadata__: value of "epochs" is 3, want a string`}},
		{name: "metadata null value", data: rawFile(`{"__metadata__":{"format":null}}`, nil), want: []string{`value of "format" is null, want a string`}},
		{name: "metadata nested", data: rawFile(`{"__metadata__":{"a":{"b":"c"}}}`, nil), want: []string{`value of "a" is {"b":"c"}, want a string`}},
		{name: "metadata duplicate key", data: rawFile(`{"__metadata__":{"a":"1","a":"2"}}`, nil), want: []string{`has key "a" twice`}},
		{name: "long value clipped", data: rawFile(`{"w":{"dtype":"`+strings.Repeat("X", 1000)+`","shape":[],"data_offsets":[0,1]}}`, []byte{1}), tensor: "w", want: []string{"unknown dtype"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.data)
			if err == nil {
				t.Fatalf("Parse succeeded with tensors %v, want an error", f.Tensors())
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error %T %q, want a *FormatError", err, err)
			}
			if fe.Tensor != tt.tensor {
				t.Errorf("FormatError.Tensor = %q, want %q (error %q)", fe.Tensor, tt.tensor, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "safetensors: ") {
				t.Errorf("error %q, want prefix %q", msg, "safetensors: ")
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q, want it to contain %q", msg, w)
				}
			}
			if len(msg) > 2000 {
				t.Errorf("error is %d bytes long, want at most 2000", len(msg))
			}
		})
	}
}

func TestParse_metadataNull(t *testing.T) {
	f := MustParse(t, rawFile(`{"__metadata__":null}`, nil))
	if got := f.Metadata(); got != nil {
		t.Errorf("Metadata() = %v, want nil", got)
	}
}

func TestParse_whitespace(t *testing.T) {
	// Leading and trailing JSON whitespace (the reference pads with spaces)
	// and whitespace inside arrays are valid JSON, so a valid file.
	f := MustParse(t, rawFile(" \n{ \"w\" : { \"dtype\" : \"U8\" , \"shape\" : [ 2 ] , \"data_offsets\" : [ 0 , 2 ] } }\t  ", []byte{7, 8}))
	got, err := f.Bytes("w")
	if err != nil || !bytes.Equal(got, []byte{7, 8}) {
		t.Errorf("Bytes(w) = %v, %v, want [7 8], nil", got, err)
	}
}

func TestFormatError_Error(t *testing.T) {
	tests := []struct {
		err  FormatError
		want string
	}{
		{FormatError{File: "model.safetensors", Tensor: "x.weight", Problem: "bad"}, `safetensors model.safetensors: tensor "x.weight": bad`},
		{FormatError{File: "m", Problem: "bad"}, `safetensors m: bad`},
		{FormatError{Tensor: "t", Problem: "bad"}, `safetensors: tensor "t": bad`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFile_Float32(t *testing.T) {
	data := MustWrite(t, []Tensor{
		{Name: "f32", DType: F32, Shape: []int{2, 2}, Data: f32Bytes(1, -2.5, float32(math.Inf(1)), 1e-45)},
		{Name: "f16", DType: F16, Shape: []int{4}, Data: u16Bytes(0x3c00, 0xc100, 0x0001, 0x7c00)},
		{Name: "bf16", DType: BF16, Shape: []int{3}, Data: u16Bytes(0x3f80, 0xc049, 0xff80)},
		{Name: "empty", DType: F32, Shape: []int{0}},
		{Name: "ids", DType: I64, Shape: []int{1}, Data: make([]byte, 8)},
	}, nil)
	// The same file shifted by one byte in memory, so that the F32 data is
	// not 4-byte aligned and Float32 must copy.
	shifted := make([]byte, len(data)+1)[1:]
	copy(shifted, data)

	tests := []struct {
		name   string
		tensor string
		want   []float32
	}{
		{"F32", "f32", []float32{1, -2.5, float32(math.Inf(1)), 1e-45}},
		{"F16", "f16", []float32{1, -2.5, 0x1p-24, float32(math.Inf(1))}},
		{"BF16", "bf16", []float32{1, -3.140625, float32(math.Inf(-1))}},
		{"empty", "empty", []float32{}},
	}
	for _, mem := range []struct {
		name      string
		data      []byte
		zeroCopy  bool
		alignment uintptr
	}{{"aligned", data, littleEndian(), 0}, {"unaligned", shifted, false, 1}} {
		f := MustParse(t, mem.data)
		for _, tt := range tests {
			t.Run(mem.name+"/"+tt.name, func(t *testing.T) {
				got, err := f.Float32(tt.tensor)
				if err != nil {
					t.Fatalf("Float32(%q): %v", tt.tensor, err)
				}
				if got == nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Float32(%q) = %v, want %v", tt.tensor, got, tt.want)
				}
				if tt.tensor != "f32" {
					return
				}
				raw, _ := f.Bytes(tt.tensor)
				aliased := unsafe.Pointer(&got[0]) == unsafe.Pointer(&raw[0])
				if aliased != mem.zeroCopy {
					t.Errorf("Float32(%q) aliases the file: %v, want %v", tt.tensor, aliased, mem.zeroCopy)
				}
			})
		}
	}

	f := MustParse(t, data)
	t.Run("I64 refused", func(t *testing.T) {
		_, err := f.Float32("ids")
		if err == nil || !strings.Contains(err.Error(), `tensor "ids": dtype I64 cannot be read as float32`) {
			t.Errorf("Float32(ids) error = %v, want a dtype error", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := f.Float32("nope")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Float32(nope) error = %v, want ErrNotFound", err)
		}
	})
}

func TestFile_Bytes(t *testing.T) {
	f := MustParse(t, MustWrite(t, []Tensor{{Name: "a", DType: U8, Shape: []int{2}, Data: []byte{1, 2}}, {Name: "b", DType: U8, Shape: []int{1}, Data: []byte{3}}}, nil))
	got, err := f.Bytes("a")
	if err != nil {
		t.Fatalf("Bytes(a): %v", err)
	}
	got = append(got, 99) // must not overwrite tensor b
	if b, _ := f.Bytes("b"); !bytes.Equal(b, []byte{3}) {
		t.Errorf("after append to a, Bytes(b) = %v, want [3]", b)
	}
	if _, err := f.Bytes("missing"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `tensor "missing"`) {
		t.Errorf("Bytes(missing) error = %v, want ErrNotFound naming the tensor", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := f.Bytes("a"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Bytes after Close error = %v, want a closed-file error", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
}

func TestFile_copies(t *testing.T) {
	f := MustParse(t, MustWrite(t, []Tensor{{Name: "a", DType: U8, Shape: []int{2}, Data: []byte{1, 2}}}, map[string]string{"k": "v"}))
	f.Metadata()["k"] = "changed"
	f.Tensors()[0].Shape[0] = 99
	info, _ := f.Info("a")
	info.Shape[0] = 98
	if got := f.Metadata()["k"]; got != "v" {
		t.Errorf("Metadata()[k] = %q after a caller's change, want %q", got, "v")
	}
	if got, _ := f.Info("a"); got.Shape[0] != 2 {
		t.Errorf("Info(a).Shape = %v after a caller's change, want [2]", got.Shape)
	}
	if _, ok := f.Info("b"); ok {
		t.Errorf("Info(b) found, want not found")
	}
}

func TestTensorInfo_Elements(t *testing.T) {
	tests := []struct {
		info TensorInfo
		want int64
	}{
		{TensorInfo{DType: F32, Shape: []int{2, 3}, Size: 24}, 6},
		{TensorInfo{DType: BF16, Shape: []int{}, Size: 2}, 1},
		{TensorInfo{DType: F16, Shape: []int{0}, Size: 0}, 0},
		{TensorInfo{DType: "X", Size: 8}, 0},
	}
	for _, tt := range tests {
		if got := tt.info.Elements(); got != tt.want {
			t.Errorf("%s %v Elements() = %d, want %d", tt.info.DType, tt.info.Shape, got, tt.want)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.safetensors", MustWrite(t, []Tensor{{Name: "w", DType: F32, Shape: []int{2}, Data: f32Bytes(0.5, 2)}}, map[string]string{"format": "pt"}))
	empty := write("empty.safetensors", nil)
	bad := write("bad.safetensors", rawFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)))

	t.Run("valid", func(t *testing.T) {
		f, err := Open(good)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		got, err := f.Float32("w")
		if err != nil || !reflect.DeepEqual(got, []float32{0.5, 2}) {
			t.Errorf("Float32(w) = %v, %v, want [0.5 2], nil", got, err)
		}
		if md := f.Metadata(); md["format"] != "pt" {
			t.Errorf("Metadata() = %v, want format=pt", md)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := f.Float32("w"); err == nil {
			t.Errorf("Float32 after Close succeeded, want an error")
		}
	})
	for _, tt := range []struct {
		name, path, want string
		format           bool
	}{
		{"empty file", empty, "empty.safetensors: file is 0 bytes", true},
		{"bad file", bad, `bad.safetensors: tensor "w": data_offsets [0, 8) hold 8 bytes, want 12 for F32 [3]`, true},
		{"directory", dir, "not a regular file", true},
		{"missing", filepath.Join(dir, "nope"), "open safetensors:", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Open(tt.path)
			if err == nil {
				f.Close()
				t.Fatalf("Open(%s) succeeded, want an error", tt.path)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error %q, want it to contain %q", err, tt.want)
			}
			var fe *FormatError
			if errors.As(err, &fe) != tt.format {
				t.Errorf("Open error is a FormatError: %v, want %v", !tt.format, tt.format)
			}
			if tt.format && fe.File != tt.path {
				t.Errorf("FormatError.File = %q, want %q", fe.File, tt.path)
			}
		})
	}
}

func TestWrite_errors(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"empty name", []Tensor{{Name: "", DType: U8, Shape: []int{0}}}, "empty name"},
		{"reserved name", []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{0}}}, "reserved"},
		{"duplicate", []Tensor{{Name: "a", DType: U8, Shape: []int{0}}, {Name: "a", DType: U8, Shape: []int{0}}}, `tensor "a" appears twice`},
		{"unknown dtype", []Tensor{{Name: "a", DType: "Q4", Shape: []int{0}}}, `unknown dtype "Q4"`},
		{"negative dim", []Tensor{{Name: "a", DType: U8, Shape: []int{-1}}}, "shape[0] = -1 is negative"},
		{"overflow", []Tensor{{Name: "a", DType: F32, Shape: []int{math.MaxInt, math.MaxInt, math.MaxInt, 4}}}, "overflows"},
		{"size mismatch", []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 7)}}, "7 bytes of data, want 8 for F32 [2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "write safetensors: ") {
				t.Errorf("Write error = %v, want %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing, want 0", buf.Len())
			}
		})
	}
}

// failWriter fails after n bytes, to check that Write reports write errors.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWrite_writerError(t *testing.T) {
	tensors := []Tensor{{Name: "a", DType: U8, Shape: []int{4}, Data: []byte{1, 2, 3, 4}}}
	for _, n := range []int{0, 8, 8 + 56} {
		if err := Write(&failWriter{n: n}, tensors, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("Write with a writer failing after %d bytes: error %v, want disk full", n, err)
		}
	}
}

func TestFile_Float32Shape(t *testing.T) {
	data := make([]byte, 6*4)
	for i := range 6 {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i)))
	}
	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{{Name: "w", DType: F32, Shape: []int{2, 3}, Data: data}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tensor string
		shape        []int
		wantErr      string
	}{
		{"right shape", "w", []int{2, 3}, ""},
		{"transposed", "w", []int{3, 2}, `tensor "w" has shape [2 3], want [3 2]`},
		{"flattened", "w", []int{6}, "has shape [2 3], want [6]"},
		{"missing", "b", []int{3}, `tensor "b" is missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Float32Shape(tt.tensor, tt.shape...)
			if tt.wantErr == "" {
				if err != nil || len(got) != 6 || got[5] != 5 {
					t.Fatalf("got %v, %v; want [0 1 2 3 4 5]", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.name == "missing" && !errors.Is(err, ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound in the chain", err)
			}
		})
	}
}
