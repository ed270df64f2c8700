package safetensors

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// refHalf computes the value of a half-precision bit pattern from the IEEE
// 754 definition in float64 arithmetic, independently of the bit shuffling
// in Float16ToFloat32.
func refHalf(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	case 0:
		return sign * math.Ldexp(frac/1024, -14)
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// refBFloat computes the value of a bfloat16 bit pattern the same way.
func refBFloat(b uint16) float64 {
	sign := 1.0
	if b&0x8000 != 0 {
		sign = -1
	}
	exp := int(b>>7) & 0xff
	frac := float64(b & 0x7f)
	switch exp {
	case 0xff:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	case 0:
		return sign * math.Ldexp(frac/128, -126)
	}
	return sign * math.Ldexp(1+frac/128, exp-127)
}

// checkConversion compares got with the float64 reference: same bits for
// numbers (so -0 differs from +0), and for NaNs a NaN with the same sign.
func checkConversion(t *testing.T, name string, bits uint16, got float32, want float64) {
	t.Helper()
	if math.IsNaN(want) {
		if !math.IsNaN(float64(got)) || math.Signbit(float64(got)) != (bits&0x8000 != 0) {
			t.Errorf("%s(%#04x) = %v (%#08x), want a NaN with the same sign", name, bits, got, math.Float32bits(got))
		}
		return
	}
	if w := float32(want); float64(w) != want || math.Float32bits(got) != math.Float32bits(w) {
		t.Errorf("%s(%#04x) = %v (%#08x), want %v (%#08x)", name, bits, got, math.Float32bits(got), want, math.Float32bits(w))
	}
}

func TestFloat16ToFloat32(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		checkConversion(t, "Float16ToFloat32", h, Float16ToFloat32(h), refHalf(h))
	}
}

func TestBFloat16ToFloat32(t *testing.T) {
	for i := range 1 << 16 {
		b := uint16(i)
		checkConversion(t, "BFloat16ToFloat32", b, BFloat16ToFloat32(b), refBFloat(b))
	}
}

// nearestTable rounds by searching values, not by bit arithmetic, so it
// checks the rounding of Float32ToFloat16 and Float32ToBFloat16 another way.
type nearestTable struct {
	bits   []uint16  // non-negative finite patterns, increasing
	values []float64 // their values
	inf    uint16    // +infinity
	limit  float64   // the value one step past the largest finite
}

func newNearestTable(value func(uint16) float64, inf uint16, limit float64) nearestTable {
	var tab nearestTable
	for b := uint16(0); b < inf; b++ {
		tab.bits = append(tab.bits, b)
		tab.values = append(tab.values, value(b))
	}
	tab.bits = append(tab.bits, inf) // rounding treats infinity as the next step
	tab.values = append(tab.values, limit)
	tab.inf = inf
	return tab
}

// nearest returns the pattern whose value is nearest to x, ties to the even
// pattern; at or past limit the result is infinity.
func (tab nearestTable) nearest(x float32) uint16 {
	v := float64(x)
	var sign uint16
	if math.Signbit(v) {
		sign, v = 0x8000, -v
	}
	if math.IsInf(v, 1) || v >= tab.values[len(tab.values)-1] {
		return sign | tab.inf
	}
	i := sort.SearchFloat64s(tab.values, v) // values[i-1] < v <= values[i]
	if tab.values[i] == v {
		return sign | tab.bits[i]
	}
	lo, hi := i-1, i
	dlo, dhi := v-tab.values[lo], tab.values[hi]-v
	switch {
	case dlo < dhi:
		return sign | tab.bits[lo]
	case dhi < dlo:
		return sign | tab.bits[hi]
	case tab.bits[lo]%2 == 0:
		return sign | tab.bits[lo]
	}
	return sign | tab.bits[hi]
}

// roundingInputs returns float32s that probe every rounding decision: each
// finite pattern's value, the midpoints between neighbors and the float32s
// just beside them, values past the largest finite, plus random float32s
// of every magnitude.
func roundingInputs(tab nearestTable, n int) []float32 {
	var xs []float32
	for i := 1; i < len(tab.values); i++ {
		lo, hi := tab.values[i-1], tab.values[i]
		mid := float32((lo + hi) / 2) // exact: one bit more than a half or bfloat16
		xs = append(xs, float32(lo), mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, float32(math.Inf(1))))
	}
	xs = append(xs, float32(math.Inf(1)), math.MaxFloat32, 1e-45, 0)
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		x := math.Float32frombits(r.Uint32())
		if !math.IsNaN(float64(x)) {
			xs = append(xs, x)
		}
	}
	for _, x := range xs[:len(xs):len(xs)] {
		xs = append(xs, -x)
	}
	return xs
}

func TestFloat32ToFloat16(t *testing.T) {
	tab := newNearestTable(refHalf, 0x7c00, 65536)
	for _, x := range roundingInputs(tab, 200000) {
		if got, want := Float32ToFloat16(x), tab.nearest(x); got != want {
			t.Errorf("Float32ToFloat16(%v = %#08x) = %#04x, want %#04x", x, math.Float32bits(x), got, want)
		}
	}
	// Every half survives a round trip, NaNs as quiet NaNs.
	for i := range 1 << 16 {
		h := uint16(i)
		want := h
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			want = h | 0x200
		}
		if got := Float32ToFloat16(Float16ToFloat32(h)); got != want {
			t.Errorf("Float32ToFloat16(Float16ToFloat32(%#04x)) = %#04x, want %#04x", h, got, want)
		}
	}
}

func TestFloat32ToBFloat16(t *testing.T) {
	tab := newNearestTable(refBFloat, 0x7f80, math.Ldexp(1, 128))
	for _, x := range roundingInputs(tab, 200000) {
		if got, want := Float32ToBFloat16(x), tab.nearest(x); got != want {
			t.Errorf("Float32ToBFloat16(%v = %#08x) = %#04x, want %#04x", x, math.Float32bits(x), got, want)
		}
	}
	for i := range 1 << 16 {
		b := uint16(i)
		want := b
		if b&0x7f80 == 0x7f80 && b&0x7f != 0 {
			want = b | 0x40
		}
		if got := Float32ToBFloat16(BFloat16ToFloat32(b)); got != want {
			t.Errorf("Float32ToBFloat16(BFloat16ToFloat32(%#04x)) = %#04x, want %#04x", b, got, want)
		}
	}
	// A NaN whose payload sits only in the low 16 bits must stay a NaN.
	if got := Float32ToBFloat16(math.Float32frombits(0x7f800001)); got&0x7f80 != 0x7f80 || got&0x7f == 0 {
		t.Errorf("Float32ToBFloat16(NaN 0x7f800001) = %#04x, want a NaN", got)
	}
	if got := Float32ToFloat16(math.Float32frombits(0xff800001)); got&0x7c00 != 0x7c00 || got&0x3ff == 0 || got&0x8000 == 0 {
		t.Errorf("Float32ToFloat16(NaN 0xff800001) = %#04x, want a negative NaN", got)
	}
}
