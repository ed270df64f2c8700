//go:build !amd64 || noasm

package tensor

// asmAvailable is false: this build has only the pure-Go kernels.
const asmAvailable = false

// kernelSetFor returns the kernels for isa, of which this build has only
// the pure-Go ones.
func kernelSetFor(isa ISA, _ cpuFeatures) (kernelSet, bool) {
	if isa == ISAGo {
		return goKernels(), true
	}
	return kernelSet{}, false
}
