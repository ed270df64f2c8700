package safetensors

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"testing"
)

// fixturePath is written by tools/make_safetensors_fixture.py with the
// Python safetensors library; the values below repeat that script's.
const fixturePath = "testdata/fixture.safetensors"

// fixtureTensors are the fixture's tensors as Write input, in the script's
// terms, so that the same list checks reading and writing.
func fixtureTensors() []Tensor {
	var f32 []float32
	for i := range 6 {
		f32 = append(f32, float32(i)*0.25-0.5)
	}
	nan := math.Float32frombits(0x7fc00000) // numpy's NaN
	return []Tensor{
		{Name: "f32.matrix", DType: F32, Shape: []int{2, 3}, Data: f32Bytes(f32...)},
		{Name: "f32.special", DType: F32, Shape: []int{6}, Data: f32Bytes(float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 0x1p-149, math.MaxFloat32, nan)},
		{Name: "f16.values", DType: F16, Shape: []int{2, 5}, Data: u16Bytes(0x0000, 0x8000, 0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00)},
		{Name: "bf16.values", DType: BF16, Shape: []int{4}, Data: u16Bytes(0x3f80, 0xc049, 0x0001, 0x7f7f)},
		{Name: "i64.ids", DType: I64, Shape: []int{1, 4}, Data: []byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0}},
		{Name: "f32.empty", DType: F32, Shape: []int{0, 3}},
	}
}

func TestOpen_fixture(t *testing.T) {
	f, err := Open(fixturePath)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer f.Close()

	if got, want := f.Metadata(), map[string]string{"format": "pt"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Metadata() = %v, want %v", got, want)
	}
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	if want := []string{"bf16.values", "f16.values", "f32.empty", "f32.matrix", "f32.special", "i64.ids"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Tensors() names = %v, want %v", names, want)
	}
	for _, want := range fixtureTensors() {
		info, ok := f.Info(want.Name)
		if !ok {
			t.Errorf("Info(%q) not found", want.Name)
			continue
		}
		if info.DType != want.DType || !reflect.DeepEqual(info.Shape, want.Shape) {
			t.Errorf("Info(%q) = %s %v, want %s %v", want.Name, info.DType, info.Shape, want.DType, want.Shape)
		}
		got, err := f.Bytes(want.Name)
		if err != nil || !bytes.Equal(got, want.Data) {
			t.Errorf("Bytes(%q) = %x, %v, want %x", want.Name, got, err, want.Data)
		}
	}

	// The float values, as the Python script states them.
	nan := float32(math.NaN())
	tests := []struct {
		name string
		want []float32
	}{
		{"f32.matrix", []float32{-0.5, -0.25, 0, 0.25, 0.5, 0.75}},
		{"f32.special", []float32{float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 0x1p-149, math.MaxFloat32, nan}},
		{"f16.values", []float32{0, float32(math.Copysign(0, -1)), 1, -2, 0.333251953125, 65504, 0x1p-24, 0x1p-14, float32(math.Inf(1)), float32(math.Inf(-1))}},
		{"bf16.values", []float32{1, -3.140625, 0x1p-133, 0x1.fep127}},
		{"f32.empty", []float32{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Float32(tt.name)
			if err != nil {
				t.Fatalf("Float32: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Float32 has %d values, want %d", len(got), len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				same := math.Float32bits(g) == math.Float32bits(w) || (math.IsNaN(float64(g)) && math.IsNaN(float64(w)))
				if !same {
					t.Errorf("Float32[%d] = %v (%#08x), want %v (%#08x)", i, g, math.Float32bits(g), w, math.Float32bits(w))
				}
			}
		})
	}
}

// TestWrite_matchesPython checks that Write lays a file out exactly as the
// Python library does, which is what lets tools make fixtures in Go that
// Python reads.
func TestWrite_matchesPython(t *testing.T) {
	want, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	got := MustWrite(t, fixtureTensors(), map[string]string{"format": "pt"})
	if !bytes.Equal(got, want) {
		t.Errorf("Write produced %d bytes:\n%q\nwant the Python library's %d bytes:\n%q", len(got), got, len(want), want)
	}
}
