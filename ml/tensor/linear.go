package tensor

// Linear is a dense layer as PyTorch's nn.Linear stores it: y = x Wᵀ + b,
// W of shape [Out, In]. W is packed once, when the model loads, so every
// forward pass runs MatMulPacked without repacking; both models in ml/ build
// on it.
type Linear struct {
	W       *PackedB
	Bias    []float32
	In, Out int
}

// NewLinear packs w ([out, in], row-major) with its bias ([out], or nil).
func NewLinear(w, bias []float32, in, out int) Linear {
	return Linear{W: PackB(true, w, in, in, out), Bias: bias, In: in, Out: out}
}

// Forward sets dst[rows, Out] = x[rows, In] Wᵀ + b with the kernels k.
func (l *Linear) Forward(k *Kernels, dst, x []float32, rows int) {
	k.MatMulPacked(dst[:rows*l.Out], x[:rows*l.In], l.W, l.Bias, rows)
}
