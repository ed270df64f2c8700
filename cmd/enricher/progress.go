package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal, redrawn at most ten
// times a second. On anything else (a pipe, a file, CI logs) it draws
// nothing, so redirected output stays clean.
type progress struct {
	w       io.Writer
	label   string
	total   int // -1 when unknown: a counter instead of a bar
	n       int
	start   time.Time
	drawn   time.Time
	enabled bool
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total, start: time.Now(), enabled: isTerminal(w)}
}

// isTerminal reports whether w is a character device, which is how a
// terminal looks to a process without cgo or x/term.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) add(n int) {
	p.n += n
	if p.enabled && time.Since(p.drawn) > 100*time.Millisecond {
		p.draw()
	}
}

func (p *progress) done() {
	if p.enabled {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw() {
	p.drawn = time.Now()
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 1e-9)
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s: %d tickets (%.0f/s)", p.label, p.n, rate)
		return
	}
	const width = 30
	filled := min(width, p.n*width/p.total)
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d (%.0f/s)", p.label,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.n, p.total, rate)
}
