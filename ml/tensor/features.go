package tensor

import "strings"

// cpuFeatures are the instruction-set extensions the kernels can use, as
// detected once at start-up; see detectCPU.
type cpuFeatures struct {
	avx, avx2, fma, f16c                  bool
	avx512f, avx512dq, avx512bw, avx512vl bool
}

// detected is read-only after package initialisation: it describes the
// machine, which does not change while the process runs.
var detected = detectCPU()

// Features lists the CPU features the kernels can use on this machine, for
// start-up logs and benchmark reports: "avx512f,avx512dq,avx512bw,avx512vl,
// avx2,fma,f16c" on a recent x86, "none" on arm64 or with the noasm tag.
// A feature counts only if the OS also saves its registers (XGETBV).
func Features() string {
	return detected.String()
}

func (f cpuFeatures) String() string {
	var names []string
	add := func(ok bool, name string) {
		if ok {
			names = append(names, name)
		}
	}
	add(f.avx512f, "avx512f")
	add(f.avx512dq, "avx512dq")
	add(f.avx512bw, "avx512bw")
	add(f.avx512vl, "avx512vl")
	add(f.avx2, "avx2")
	add(f.fma, "fma")
	add(f.f16c, "f16c")
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// hasAVX2 reports whether the AVX2+FMA kernels can run.
func (f cpuFeatures) hasAVX2() bool { return f.avx && f.avx2 && f.fma }

// hasAVX512 reports whether the AVX-512 SGEMM micro-kernel can run; it
// needs only AVX-512F, but the vector kernels it is paired with are AVX2.
func (f cpuFeatures) hasAVX512() bool { return f.hasAVX2() && f.avx512f }
