// Command embed is the Go half of `make bench-embed`: it embeds a list of
// texts with ml/bert the way bench/embed/torch_embed.py does with
// sentence-transformers, so that bench/embed/run.py can time both engines
// as separate processes (each with its own RSS and cold start) on exactly
// the same work. It is a dev tool, not part of the product.
//
// Protocol (shared with torch_embed.py; run.py parses it):
//
//  1. load the model, embed texts[0] alone, print "FIRST" (the driver
//     measures cold start from spawn to this line);
//  2. one untimed warm-up pass over all texts at -batch;
//  3. one timed pass at -batch: texts in order, in chunks of -batch, one
//     Embed call per chunk; print one JSON line {"batch_ms": [...],
//     "total_s": ...} with the wall time of every call;
//  4. write the timed pass's vectors to -vectors as little-endian float32,
//     len(texts) rows of Dim values, so run.py can check both engines agree.
//
// The thread count is GOMAXPROCS (set by the driver's environment).
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/ticket-enricher/enricher/ml/bert"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/embed:", err)
		os.Exit(1)
	}
}

func run() error {
	model := flag.String("model", os.Getenv("MINILM_DIR"), "sentence-transformers model directory")
	textsPath := flag.String("texts", "", "JSON file with an array of texts")
	batch := flag.Int("batch", 1, "texts per Embed call")
	vectors := flag.String("vectors", "", "write the timed pass's vectors here (float32 LE)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed pass here")
	flag.Parse()
	if *textsPath == "" || *batch < 1 {
		return fmt.Errorf("usage: embed -texts FILE [-batch N] [-model DIR] [-vectors FILE] [-cpuprofile FILE]")
	}
	var texts []string
	raw, err := os.ReadFile(*textsPath)
	if err != nil {
		return fmt.Errorf("read texts: %w", err)
	}
	if err := json.Unmarshal(raw, &texts); err != nil || len(texts) == 0 {
		return fmt.Errorf("parse texts %s: want a non-empty JSON array of strings (%v)", *textsPath, err)
	}

	ctx := context.Background()
	m, err := bert.Load(*model)
	if err != nil {
		return fmt.Errorf("load model: %w", err)
	}
	if _, err := m.Embed(ctx, texts[:1]); err != nil {
		return fmt.Errorf("embed first text: %w", err)
	}
	fmt.Println("FIRST")

	if _, err := pass(ctx, m, texts, *batch, nil); err != nil { // warm-up
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("create profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start profile: %w", err)
		}
	}
	ms := make([]float64, 0, (len(texts)+*batch-1) / *batch)
	start := time.Now()
	vecs, err := pass(ctx, m, texts, *batch, &ms)
	total := time.Since(start)
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	line, err := json.Marshal(map[string]any{"batch_ms": ms, "total_s": total.Seconds(), "dim": m.Dim()})
	if err != nil {
		return fmt.Errorf("encode timings: %w", err)
	}
	fmt.Println(string(line))
	if *vectors != "" {
		return writeVectors(*vectors, vecs)
	}
	return nil
}

// pass embeds texts in order, batch at a time, appending each call's wall
// time in milliseconds to ms when ms is not nil.
func pass(ctx context.Context, m *bert.Model, texts []string, batch int, ms *[]float64) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += batch {
		t0 := time.Now()
		v, err := m.Embed(ctx, texts[i:min(i+batch, len(texts))])
		if err != nil {
			return nil, fmt.Errorf("embed texts %d..: %w", i, err)
		}
		if ms != nil {
			*ms = append(*ms, float64(time.Since(t0).Nanoseconds())/1e6)
		}
		out = append(out, v...)
	}
	return out, nil
}

func writeVectors(path string, vecs [][]float32) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create vectors: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, v := range vecs {
		if err := binary.Write(w, binary.LittleEndian, v); err != nil {
			f.Close()
			return fmt.Errorf("write vectors: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write vectors: %w", err)
	}
	return f.Close()
}
