package tensor

// goMR is the pure-Go micro-kernel's row count. With 4 rows and 4 columns
// at a time its 16 accumulators fit arm64's 32 FP registers.
const goMR = 4

// microGo is the pure-Go micro-kernel (see microKernel). It walks the
// panel 4 columns at a time with a 4x4 block of scalar accumulators.
func microGo(kc int, a, b, c []float32, ldc, mr, nrValid int, alpha, beta float32) {
	a = a[:kc*goMR]
	b = b[:kc*nr]
	for j0 := 0; j0 < nrValid; j0 += 4 {
		var c00, c01, c02, c03 float32
		var c10, c11, c12, c13 float32
		var c20, c21, c22, c23 float32
		var c30, c31, c32, c33 float32
		for p := range kc {
			ap := a[p*goMR : p*goMR+4 : p*goMR+4]
			bp := b[p*nr+j0 : p*nr+j0+4 : p*nr+j0+4]
			a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
			b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
			c00 += a0 * b0
			c01 += a0 * b1
			c02 += a0 * b2
			c03 += a0 * b3
			c10 += a1 * b0
			c11 += a1 * b1
			c12 += a1 * b2
			c13 += a1 * b3
			c20 += a2 * b0
			c21 += a2 * b1
			c22 += a2 * b2
			c23 += a2 * b3
			c30 += a3 * b0
			c31 += a3 * b1
			c32 += a3 * b2
			c33 += a3 * b3
		}
		acc := [4][4]float32{
			{c00, c01, c02, c03},
			{c10, c11, c12, c13},
			{c20, c21, c22, c23},
			{c30, c31, c32, c33},
		}
		w := min(4, nrValid-j0)
		for i := range mr {
			row := c[i*ldc+j0:][:w]
			for j := range row {
				v := alpha * acc[i][j]
				if beta != 0 {
					v += beta * row[j]
				}
				row[j] = v
			}
		}
	}
}
