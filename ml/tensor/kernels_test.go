package tensor

import (
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestFeatures(t *testing.T) {
	got := Features()
	if got == "" {
		t.Fatal("Features: got empty string, want a list or \"none\"")
	}
	known := map[string]bool{"avx512f": true, "avx512dq": true, "avx512bw": true, "avx512vl": true, "avx2": true, "fma": true, "f16c": true}
	if got != "none" {
		for _, name := range strings.Split(got, ",") {
			if !known[name] {
				t.Errorf("Features: got unknown feature %q in %q", name, got)
			}
		}
	}
	if want := detected.String(); got != want {
		t.Errorf("Features: got %q, want %q", got, want)
	}
	if !asmAvailable && got != "none" {
		t.Errorf("Features without assembly: got %q, want none", got)
	}
}

func TestCPUFeatures_String(t *testing.T) {
	cases := []struct {
		f    cpuFeatures
		want string
	}{
		{cpuFeatures{}, "none"},
		{cpuFeatures{avx: true, avx2: true, fma: true}, "avx2,fma"},
		{cpuFeatures{avx: true, avx2: true, fma: true, f16c: true, avx512f: true, avx512bw: true, avx512vl: true, avx512dq: true},
			"avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c"},
	}
	for _, c := range cases {
		if got := c.f.String(); got != c.want {
			t.Errorf("String: got %q, want %q", got, c.want)
		}
	}
}

func TestNew(t *testing.T) {
	cases := []struct {
		isa    ISA
		wantOK bool
	}{
		{ISAGo, true},
		{ISAAuto, true},
		{ISAAVX2, asmAvailable && detected.hasAVX2()},
		{ISAAVX512, asmAvailable && detected.hasAVX512()},
		{ISA(99), false},
	}
	for _, c := range cases {
		t.Run(c.isa.String(), func(t *testing.T) {
			k, err := New(Options{ISA: c.isa})
			if c.wantOK {
				if err != nil {
					t.Fatalf("New(%v): got error %v, want none", c.isa, err)
				}
				if c.isa != ISAAuto && k.ISA() != c.isa {
					t.Errorf("ISA: got %v, want %v", k.ISA(), c.isa)
				}
				if k.ISA() == ISAAuto {
					t.Errorf("ISA: got auto, want a concrete kernel set")
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("New(%v): got error %v, want ErrUnsupported", c.isa, err)
			}
		})
	}
}

func TestAutoISA(t *testing.T) {
	avx2 := cpuFeatures{avx: true, avx2: true, fma: true}
	avx512 := cpuFeatures{avx: true, avx2: true, fma: true, avx512f: true}
	asm := func(isa ISA) ISA {
		if !asmAvailable {
			return ISAGo
		}
		return isa
	}
	cases := []struct {
		name  string
		f     cpuFeatures
		noAsm bool
		want  ISA
	}{
		{"nothing", cpuFeatures{}, false, ISAGo},
		{"avx without fma", cpuFeatures{avx: true, avx2: true}, false, ISAGo},
		{"avx2", avx2, false, asm(ISAAVX2)},
		{"avx512", avx512, false, asm(ISAAVX512)},
		{"avx512 forced to go", avx512, true, ISAGo},
		{"avx512f without OS avx state", cpuFeatures{avx512f: true, avx2: true, fma: true}, false, ISAGo},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := autoISA(c.f, c.noAsm); got != c.want {
				t.Errorf("autoISA: got %v, want %v", got, c.want)
			}
		})
	}
}

func TestNoAsmFromEnv(t *testing.T) {
	cases := []struct {
		value string
		want  bool
	}{{"", false}, {"0", false}, {"1", true}, {"yes", true}}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			t.Setenv(NoAsmEnv, c.value)
			if got := noAsmFromEnv(); got != c.want {
				t.Errorf("noAsmFromEnv with %q: got %v, want %v", c.value, got, c.want)
			}
			k, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c.want && k.ISA() != ISAGo {
				t.Errorf("New with %s=%q: got %v, want go", NoAsmEnv, c.value, k.ISA())
			}
		})
	}
}

func TestDefault(t *testing.T) {
	// Default was chosen at start-up from the same inputs.
	if got, want := Default().ISA(), autoISA(detected, noAsmFromEnv()); got != want {
		t.Errorf("Default().ISA(): got %v, want %v", got, want)
	}
	if got := Default().String(); !strings.HasPrefix(got, Default().ISA().String()+" (cpu: ") {
		t.Errorf("String: got %q, want the ISA and the CPU features", got)
	}
}

func TestKernels_workers(t *testing.T) {
	cases := []struct {
		par, want int
	}{{3, 3}, {1, 1}, {0, runtime.GOMAXPROCS(0)}, {-1, runtime.GOMAXPROCS(0)}}
	for _, c := range cases {
		k, err := New(Options{ISA: ISAGo, Parallelism: c.par})
		if err != nil {
			t.Fatal(err)
		}
		if got := k.workers(); got != c.want {
			t.Errorf("Parallelism %d: got %d workers, want %d", c.par, got, c.want)
		}
	}
}

func TestISA_String(t *testing.T) {
	cases := map[ISA]string{ISAAuto: "auto", ISAGo: "go", ISAAVX2: "avx2", ISAAVX512: "avx512", ISA(42): "ISA(42)"}
	for isa, want := range cases {
		if got := isa.String(); got != want {
			t.Errorf("String: got %q, want %q", got, want)
		}
	}
}

// TestKernels_complete checks that every kernel set fills every slot, so
// that no ISA can reach a nil function.
func TestKernels_complete(t *testing.T) {
	for _, k := range allKernels(t, 1) {
		v := reflect.ValueOf(k.set)
		for i := range v.NumField() {
			f := v.Field(i)
			if f.Kind() == reflect.Func && f.IsNil() {
				t.Errorf("%s: got nil %s, want a kernel", k.ISA(), v.Type().Field(i).Name)
			}
		}
		if k.set.mr <= 0 || mcBlock%k.set.mr != 0 {
			t.Errorf("%s: got MR %d, want a positive divisor of mcBlock %d", k.ISA(), k.set.mr, mcBlock)
		}
	}
}
