package tensor

// transposeFunc copies a block of rows (eight for transpose8, four for
// transpose4) of src into columns of dst:
//
//	dst[p*ldd+r] = src[r*lds+p]  for r < rows, p < kc
//
// Packing is mostly such transposes: the rows of a transposed B (a weight
// stored [out, in]) become the columns of a B panel (ldd = nr), and rows of
// A become the columns of an A panel (ldd = MR).
type transposeFunc func(dst []float32, ldd int, src []float32, lds, kc int)

// transpose8Go is the pure-Go transpose of eight rows: eight sequential
// reads and one run of eight written per k.
func transpose8Go(dst []float32, ldd int, src []float32, lds, kc int) {
	if kc == 0 {
		return
	}
	dst = dst[:(kc-1)*ldd+8]
	c0 := src[:kc]
	c1 := src[lds:][:kc]
	c2 := src[2*lds:][:kc]
	c3 := src[3*lds:][:kc]
	c4 := src[4*lds:][:kc]
	c5 := src[5*lds:][:kc]
	c6 := src[6*lds:][:kc]
	c7 := src[7*lds:][:kc]
	for p := range kc {
		out := dst[p*ldd : p*ldd+8 : p*ldd+8]
		out[0], out[1], out[2], out[3] = c0[p], c1[p], c2[p], c3[p]
		out[4], out[5], out[6], out[7] = c4[p], c5[p], c6[p], c7[p]
	}
}

// transpose4Go is transpose8Go for four rows.
func transpose4Go(dst []float32, ldd int, src []float32, lds, kc int) {
	if kc == 0 {
		return
	}
	dst = dst[:(kc-1)*ldd+4]
	c0 := src[:kc]
	c1 := src[lds:][:kc]
	c2 := src[2*lds:][:kc]
	c3 := src[3*lds:][:kc]
	for p := range kc {
		out := dst[p*ldd : p*ldd+4 : p*ldd+4]
		out[0], out[1], out[2], out[3] = c0[p], c1[p], c2[p], c3[p]
	}
}
