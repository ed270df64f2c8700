package tensor

import "math"

// The pure-Go vector kernels. Each is the twin of an assembly kernel and
// computes the same thing in the same way up to summation order and FMA
// contraction; tests compare the two. Callers have checked lengths.

func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func addGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] += v
	}
}

func scaleGo(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// maxGo returns the largest element, or -Inf for an empty slice. NaNs are
// skipped; softmax still turns a row with a NaN into NaNs.
func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// expSumGo replaces x[i] with exp(x[i]-shift) and returns their sum: the
// middle pass of a softmax. The sum is kept in float64: a scalar float32
// running sum drifts by several ulps over a few hundred terms, where the
// 8-lane sum of the assembly (and PyTorch's) does not.
func expSumGo(x []float32, shift float32) float32 {
	var s float64
	for i, v := range x {
		e := expf(v - shift)
		x[i] = e
		s += float64(e)
	}
	return float32(s)
}

func expGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = expf(v)
	}
}

func geluGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = geluf(v)
	}
}

// Constants of expf, shared with the assembly (see vec_amd64.s): Cephes'
// single-precision exp, a degree-5 minimax polynomial on [-ln2/2, ln2/2]
// after x = n*ln2 + r, with ln2 split in two so n*ln2Hi is exact.
const (
	expLog2e  = 1.44269504088896341
	expLn2Hi  = 0.693359375
	expLn2Lo  = -2.12194440e-4
	expP0     = 1.9875691500e-4
	expP1     = 1.3981999507e-3
	expP2     = 8.3334519073e-3
	expP3     = 4.1665795894e-2
	expP4     = 1.6666665459e-1
	expP5     = 5.0000001201e-1
	expMaxArg = 88.72283905206835  // above: +Inf (float32 overflow)
	expMinArg = -87.33654475055310 // below: 0 (the result would be subnormal)
	expMaxN   = 127                // 2^n stays a normal float32
)

// expf is exp for float32 with a maximum error of about 2 ulp on
// [expMinArg, expMaxArg], +Inf above and 0 below (subnormal results are
// flushed, as softmax and GELU do not need them). It is several times
// faster than float32(math.Exp(float64(x))) and is what the assembly does
// lane by lane.
func expf(x float32) float32 {
	if x > expMaxArg {
		return float32(math.Inf(1))
	}
	if x < expMinArg {
		return 0
	}
	n := float32(math.RoundToEven(float64(x * expLog2e)))
	if n > expMaxN {
		n = expMaxN
	}
	r := x - n*expLn2Hi
	r -= n * expLn2Lo
	y := float32(expP0)
	y = y*r + expP1
	y = y*r + expP2
	y = y*r + expP3
	y = y*r + expP4
	y = y*r + expP5
	y = y*r + 1
	y = y*r + 1
	return y * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// Constants of erff: Abramowitz and Stegun 7.1.26, the approximation
// PyTorch's vectorised CPU erf uses, with an absolute error below 1.5e-7
// (GELU's error is then below 1e-7*|x|, under one float32 ulp of the result).
const (
	erfP  = 0.3275911
	erfA1 = 0.254829592
	erfA2 = -0.284496736
	erfA3 = 1.421413741
	erfA4 = -1.453152027
	erfA5 = 1.061405429

	rsqrt2 = math.Sqrt2 / 2
)

// erff is the error function in float32 (see the constants above).
func erff(x float32) float32 {
	a := float32(math.Abs(float64(x)))
	t := 1 / (erfP*a + 1)
	r := float32(erfA5)
	r = r*t + erfA4
	r = r*t + erfA3
	r = r*t + erfA2
	r = r*t + erfA1
	e := 1 - r*t*expf(-a*a)
	if math.Signbit(float64(x)) {
		return -e
	}
	return e
}

// geluf is GELU in its exact (erf) form, as BERT and BART use it:
// 0.5*x*(1+erf(x/sqrt2)), written x*(0.5+0.5*erf) as the assembly does.
func geluf(x float32) float32 {
	return x * (0.5 + 0.5*erff(x*rsqrt2))
}
