package safetensors

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, must
// reject with a *FormatError, and when it accepts, every tensor must lie
// inside the data section, be readable and be described consistently, since
// the engine slices memory with these offsets.
func FuzzParse(f *testing.F) {
	if fixture, err := os.ReadFile(fixturePath); err == nil {
		f.Add(fixture)
	}
	f.Add(rawFile(`{"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, []byte{0, 0x3c, 0, 0xc0}))
	f.Add(rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}`, []byte{1, 2, 3, 4}))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil))
	f.Add(rawFile(`{}`, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error %T %v, want a *FormatError", err, err)
			}
			return
		}
		n := binary.LittleEndian.Uint64(data)
		dataStart := int64(8 + n)
		var covered int64
		for _, ti := range file.Tensors() {
			if ti.Offset < dataStart || ti.Size < 0 || ti.Offset+ti.Size > int64(len(data)) {
				t.Fatalf("tensor %q at [%d, +%d) outside the data section [%d, %d)", ti.Name, ti.Offset, ti.Size, dataStart, len(data))
			}
			covered += ti.Size
			b, err := file.Bytes(ti.Name)
			if err != nil || int64(len(b)) != ti.Size {
				t.Fatalf("Bytes(%q) = %d bytes, %v, want %d bytes", ti.Name, len(b), err, ti.Size)
			}
			if ti.Elements()*ti.DType.Size() != ti.Size {
				t.Fatalf("tensor %q: %d elements of %s, but %d bytes", ti.Name, ti.Elements(), ti.DType, ti.Size)
			}
			switch ti.DType {
			case F32, F16, BF16:
				v, err := file.Float32(ti.Name)
				if err != nil || int64(len(v)) != ti.Elements() {
					t.Fatalf("Float32(%q) = %d values, %v, want %d", ti.Name, len(v), err, ti.Elements())
				}
			}
		}
		if covered != int64(len(data))-dataStart {
			t.Fatalf("tensors cover %d bytes, data section has %d", covered, int64(len(data))-dataStart)
		}
	})
}
