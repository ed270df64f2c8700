package tensor

import (
	"math"
	"testing"
)

func TestLinear_Forward(t *testing.T) {
	tests := []struct {
		name          string
		rows, in, out int
		bias          bool
	}{
		{"one row", 1, 7, 5, true},
		{"no bias", 3, 16, 33, false},
		{"tile edges", 13, 70, 45, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, x := make([]float32, tt.out*tt.in), make([]float32, tt.rows*tt.in)
			for i := range w {
				w[i] = float32(math.Sin(float64(i)))
			}
			for i := range x {
				x[i] = float32(math.Cos(float64(i)))
			}
			var bias []float32
			if tt.bias {
				bias = make([]float32, tt.out)
				for i := range bias {
					bias[i] = float32(i) / 10
				}
			}
			l := NewLinear(w, bias, tt.in, tt.out)
			got := make([]float32, tt.rows*tt.out)
			l.Forward(Default(), got, x, tt.rows)
			for r := range tt.rows {
				for o := range tt.out {
					var want float64
					for i := range tt.in {
						want += float64(x[r*tt.in+i]) * float64(w[o*tt.in+i])
					}
					if bias != nil {
						want += float64(bias[o])
					}
					if d := math.Abs(float64(got[r*tt.out+o]) - want); d > 1e-4 {
						t.Fatalf("y[%d,%d] = %g, want %g", r, o, got[r*tt.out+o], want)
					}
				}
			}
		})
	}
}
