package bert

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// Parity thresholds against sentence-transformers (issue 3).
const (
	minCosine  = 0.9999
	maxAbsDiff = 1e-4
)

// cacheDir is where the Makefile fetches the real weights (gitignored),
// relative to this package's directory.
const cacheDir = "../../.cache/models/sentence-transformers/all-MiniLM-L6-v2"

// golden is one line of testdata/golden.jsonl, written by
// tools/embed_golden.py with sentence-transformers.
type golden struct {
	Text      string    `json:"text"`
	IDs       []int32   `json:"ids"`
	Embedding []float32 `json:"embedding"`
}

// miniLMDir returns the directory of the real all-MiniLM-L6-v2 weights:
// MINILM_DIR, else the repo-local cache. It fails the test (never skips)
// when neither holds them, saying how to get them.
func miniLMDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("MINILM_DIR")
	if dir == "" {
		dir = cacheDir
	}
	for _, f := range []string{weightsFile, vocabFile, configFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			tb.Fatalf("the real all-MiniLM-L6-v2 weights are needed: %v\n"+
				"get them with `make models` from the repo root (it fills .cache/models, which is used when MINILM_DIR is unset), "+
				"or point MINILM_DIR at a directory filled by `enricher models pull`", err)
		}
	}
	return dir
}

// mustLoadMiniLM loads the real model.
func mustLoadMiniLM(tb testing.TB) *Model {
	tb.Helper()
	dir := miniLMDir(tb)
	m, err := Load(dir)
	if err != nil {
		tb.Fatalf("Load(%s): %v", dir, err)
	}
	return m
}

// mustReadGolden reads testdata/golden.jsonl.
func mustReadGolden(tb testing.TB) []golden {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden.jsonl"))
	if err != nil {
		tb.Fatalf("open golden file (make it with tools/embed_golden.py): %v", err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		var g golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			tb.Fatalf("golden line %d: %v", len(out)+1, err)
		}
		if len(g.Embedding) != 384 {
			tb.Fatalf("golden line %d has %d dims, want 384", len(out)+1, len(g.Embedding))
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read golden: %v", err)
	}
	return out
}

// compare returns the cosine of a and b and their largest absolute
// difference, in float64.
func compare(a, b []float32) (cos, maxDiff float64) {
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
		maxDiff = math.Max(maxDiff, math.Abs(x-y))
	}
	return dot / math.Sqrt(na*nb), maxDiff
}

func TestModel_Embed_parity(t *testing.T) {
	m := mustLoadMiniLM(t)
	gold := mustReadGolden(t)
	if len(gold) < 300 {
		t.Fatalf("golden file has %d texts, want at least 300", len(gold))
	}
	texts := make([]string, len(gold))
	for i, g := range gold {
		texts[i] = g.Text
	}

	t.Run("token ids", func(t *testing.T) {
		bad := 0
		for _, g := range gold {
			if got := m.tok.Encode(g.Text); !slices.Equal(got, g.IDs) {
				if bad == 0 {
					t.Errorf("Encode(%.60q) = %v, want %v", g.Text, got, g.IDs)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d texts tokenize differently", bad, len(gold))
		}
	})

	// One call for all texts exercises grouping; batches of 32 and single
	// texts are what the service sends.
	for _, batch := range []int{len(texts), 32, 1} {
		t.Run("batch "+strconv.Itoa(batch), func(t *testing.T) {
			var got [][]float32
			for i := 0; i < len(texts); i += batch {
				vecs, err := m.Embed(context.Background(), texts[i:min(i+batch, len(texts))])
				if err != nil {
					t.Fatalf("Embed: %v", err)
				}
				got = append(got, vecs...)
			}
			worstCos, worstDiff, failed := 1.0, 0.0, 0
			for i := range texts {
				cos, diff := compare(got[i], gold[i].Embedding)
				worstCos, worstDiff = math.Min(worstCos, cos), math.Max(worstDiff, diff)
				if cos < minCosine || diff > maxAbsDiff {
					if failed == 0 {
						t.Errorf("Embed(%.80q): cosine %.7f, max abs diff %.2e; want cosine >= %g and diff <= %g",
							texts[i], cos, diff, minCosine, maxAbsDiff)
					}
					failed++
				}
			}
			t.Logf("%d texts, batch %d: worst cosine %.9f (1-cos %.1e), max abs diff %.3e", len(texts), batch, worstCos, 1-worstCos, worstDiff)
			if failed > 0 {
				t.Errorf("%d of %d texts fail parity", failed, len(texts))
			}
		})
	}
}
