package safetensors

import "math"

// Float16ToFloat32 converts an IEEE 754 half-precision value, given by its
// bits, to float32. Every half is exactly representable as a float32, so
// the conversion is exact, subnormals, infinities and signed zeros included;
// a NaN keeps its sign and payload (shifted into the top mantissa bits).
// F16 weights are converted once at load, so clarity wins over a table.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign) // signed zero
	}
	// Subnormal half, mant * 2^-24: normalize it, since it is a normal float32.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// BFloat16ToFloat32 converts a bfloat16 value, given by its bits, to
// float32. bfloat16 is the top half of a float32, so this is exact for every
// value, NaN payloads included.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// Float32ToFloat16 converts f to the nearest half-precision value, ties to
// even, as IEEE 754 and numpy do: values beyond the half range become
// infinity, tiny values become subnormals or zero. A NaN stays a NaN (quiet,
// sign and top payload bits kept). It is for tests and tools that write F16
// files; the engine only reads them.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15 // the half's biased exponent, if it were normal
	if e >= 0x1f {
		return sign | 0x7c00 // too large: overflows to infinity
	}
	if e >= 1 { // normal half: drop 13 mantissa bits, rounding to nearest even
		q := uint32(e)<<10 | mant>>13
		return sign | uint16(roundShifted(q, mant&0x1fff, 13))
	}
	// Subnormal half: the value in units of 2^-24 is full >> (14-e), with
	// full the float32's 24-bit significand. A float32 subnormal has e far
	// below -10 and rounds to zero with the rest.
	shift := uint32(14 - e)
	if shift > 24 {
		return sign // below half of the smallest subnormal: rounds to zero
	}
	full := mant | 0x800000
	q := full >> shift
	return sign | uint16(roundShifted(q, full&(1<<shift-1), shift))
}

// Float32ToBFloat16 converts f to the nearest bfloat16, ties to even, as
// PyTorch does; values beyond the range become infinity and a NaN stays a
// quiet NaN. It is for tests and tools that write BF16 files.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: truncate, and keep it a NaN
		return uint16(b>>16) | 0x40
	}
	return uint16(roundShifted(b>>16, b&0xffff, 16))
}

// roundShifted rounds q, a value whose low shift bits rem were cut off, to
// nearest with ties to even. A carry out of the mantissa correctly bumps the
// exponent (and the largest finite value to infinity).
func roundShifted(q, rem, shift uint32) uint32 {
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}
