package tensor_test

import (
	"fmt"

	"github.com/ticket-enricher/enricher/ml/tensor"
)

// A linear layer as PyTorch stores it: y = x W^T + b, with W [out, in].
func ExampleMatMulTransBBias() {
	x := []float32{ // 2 tokens, 3 features
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // 2 outputs x 3 inputs
		1, 0, -1,
		0.5, 0.5, 0.5,
	}
	b := []float32{10, 20}
	y := make([]float32, 2*2)
	tensor.MatMulTransBBias(y, x, w, b, 2, 2, 3)
	fmt.Println(y)
	// Output: [8 23 8 27.5]
}

// Packing a weight once saves the packing on every call.
func ExamplePackB() {
	w := []float32{1, 2, 3, 4, 5, 6} // 2 outputs x 3 inputs
	pw := tensor.PackB(true, w, 3, 3, 2)
	x := []float32{1, 1, 1}
	y := make([]float32, 2)
	tensor.MatMulPacked(y, x, pw, nil, 1)
	fmt.Println(y)
	// Output: [6 15]
}

func ExampleSoftmax() {
	scores := []float32{1, 1, 1, 1, 0, 0}
	tensor.Softmax(scores, 2) // three rows of two
	fmt.Println(scores)
	// Output: [0.5 0.5 0.5 0.5 0.5 0.5]
}

// The kernels can be pinned to pure Go, for instance to compare against
// the assembly.
func ExampleNew() {
	k, err := tensor.New(tensor.Options{ISA: tensor.ISAGo, Parallelism: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(k.ISA(), k.Dot([]float32{1, 2, 3}, []float32{4, 5, 6}))
	// Output: go 32
}
