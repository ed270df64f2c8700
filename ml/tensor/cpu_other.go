//go:build !amd64 || noasm

package tensor

// detectCPU reports no features: without assembly there is nothing to use
// them for, so only the pure-Go kernels are offered.
func detectCPU() cpuFeatures { return cpuFeatures{} }

// measuredMHz is unknown without assembly: the benchmarks fall back to
// /proc/cpuinfo.
func measuredMHz() float64 { return 0 }
