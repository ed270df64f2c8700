package models

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	enricher "github.com/ticket-enricher/enricher"
)

// DefaultEndpoint is the Hugging Face Hub. HF_ENDPOINT, which
// huggingface_hub also reads, points the download at a mirror instead.
const DefaultEndpoint = "https://huggingface.co"

// Downloader fetches model files from the Hub, or anything that serves the
// Hub's file URLs ({BaseURL}/{id}/resolve/{revision}/{path}). The zero
// value is ready to use.
type Downloader struct {
	// BaseURL is the Hub or a mirror; empty means DefaultEndpoint.
	BaseURL string
	// Client makes the requests and follows redirects (the Hub sends large
	// files to a CDN). Nil means a client without an overall timeout, since
	// a large file on a slow link takes long; stalls are caught by
	// StallTimeout instead.
	Client *http.Client
	// Progress, when set, is told how much of each file is on disk: on
	// every chunk, and once with done == total for files already intact.
	Progress func(file string, done, total int64)
	// Attempts is how many times one file is tried before Pull gives up on
	// network errors, 5xx, 408 and 429; 0 means 5. Each attempt resumes.
	Attempts int
	// StallTimeout aborts an attempt when no byte arrives for that long; 0
	// means one minute.
	StallTimeout time.Duration
	// Wait sleeps between attempts; nil means a timer that ends early when
	// ctx is done. Tests inject one that records the delays.
	Wait func(ctx context.Context, d time.Duration) error
}

// URL is where the Hub serves the file at the model's pinned revision.
func (d Downloader) URL(m Model, f File) string {
	base := strings.TrimRight(d.BaseURL, "/")
	if base == "" {
		base = DefaultEndpoint
	}
	segs := strings.Split(m.ID+"/resolve/"+m.Revision+"/"+f.Path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return base + "/" + strings.Join(segs, "/")
}

// Pull downloads every file of the model that is not already intact in the
// cache, then writes the manifest. Each file is written to <file>.part and
// hashed as it streams; an interrupted .part is resumed with a Range
// request on the next attempt or the next Pull. Only a file whose size and
// SHA-256 match is renamed into place; one that does not is deleted, and
// the error names the file and both hashes.
func (d Downloader) Pull(ctx context.Context, c Cache, m Model) error {
	if err := m.Validate(); err != nil {
		return enricher.Errorf(enricher.EINVALID, "pull model: %w", err)
	}
	inst := c.installer(m)
	if err := inst.prepare(); err != nil {
		return err
	}
	for _, f := range m.Files {
		if inst.intact(f) {
			d.progress(f.Path, f.Size, f.Size)
			continue
		}
		if err := inst.begin(f); err != nil {
			return err
		}
		if err := d.fetch(ctx, inst, f); err != nil {
			return err
		}
	}
	return inst.commit()
}

func (d Downloader) progress(file string, done, total int64) {
	if d.Progress != nil {
		d.Progress(file, done, total)
	}
}

// errRetry marks a failure worth another attempt (the network, the server
// being busy); anything else stops the pull at once.
type errRetry struct {
	err   error
	after time.Duration // the server's Retry-After, if any
}

func (e *errRetry) Error() string { return e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }

// fetch gets one file into place, retrying transient failures with
// exponential backoff. A resumed file that fails its hash is fetched once
// more from the start: the old .part may have come from another revision.
func (d Downloader) fetch(ctx context.Context, inst *installer, f File) error {
	attempts := d.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	restarted := false
	for attempt := 1; ; attempt++ {
		resumed, err := d.fetchOnce(ctx, inst, f)
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("download %s: %w", f.Path, ctxErr)
		}
		if errors.Is(err, ErrCorrupt) && resumed && !restarted {
			restarted = true
			attempt--
			continue // the .part is gone; start over from zero
		}
		var retry *errRetry
		if !errors.As(err, &retry) {
			return err
		}
		if attempt >= attempts {
			return fmt.Errorf("download %s of %s after %d attempts: %w", f.Path, inst.m.ID, attempt, retry.err)
		}
		delay := min(500*time.Millisecond<<(attempt-1), 30*time.Second)
		if retry.after > 0 {
			delay = min(retry.after, time.Minute)
		}
		if err := d.wait(ctx, delay); err != nil {
			return fmt.Errorf("download %s: %w", f.Path, err)
		}
	}
}

func (d Downloader) wait(ctx context.Context, delay time.Duration) error {
	if d.Wait != nil {
		return d.Wait(ctx, delay)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fetchOnce makes one attempt. It reports whether it continued an earlier
// .part, so that a hash mismatch after a resume can be told apart from a
// bad file on the server.
func (d Downloader) fetchOnce(ctx context.Context, inst *installer, f File) (resumed bool, err error) {
	part := inst.target(f) + ".part"
	w, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", part, err)
	}
	done := false
	defer func() {
		if done {
			return // finish closed it, and renamed or removed it
		}
		st, serr := w.Stat()
		w.Close()
		if serr == nil && st.Size() == 0 {
			os.Remove(part) // nothing to resume: leave no litter
		}
	}()
	h, have, err := resumeHash(w, f.Size)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", part, err)
	}
	resumed = have > 0
	if have < f.Size {
		if have, err = d.get(ctx, inst.m, f, w, h, have); err != nil {
			return resumed, err
		}
	}
	if have < f.Size {
		return resumed, &errRetry{err: fmt.Errorf("download %s: the server ended the file at %d of %d bytes", f.Path, have, f.Size)}
	}
	done = true
	return resumed, inst.finish(w, h.Sum(nil), f, "downloaded from "+d.URL(inst.m, f))
}

// resumeHash hashes what an earlier attempt left in the .part and leaves
// the file positioned at its end. A .part longer than the file cannot be
// a prefix of it and is emptied.
func resumeHash(w *os.File, size int64) (hash.Hash, int64, error) {
	h := sha256.New()
	st, err := w.Stat()
	if err != nil {
		return nil, 0, err
	}
	have := st.Size()
	if have > size {
		if err := w.Truncate(0); err != nil {
			return nil, 0, err
		}
		have = 0
	}
	if _, err := io.Copy(h, io.NewSectionReader(w, 0, have)); err != nil {
		return nil, 0, err
	}
	if _, err := w.Seek(have, io.SeekStart); err != nil {
		return nil, 0, err
	}
	return h, have, nil
}

// get requests the rest of the file from byte have on and appends it to w
// and h; it returns how many bytes w now holds.
func (d Downloader) get(ctx context.Context, m Model, f File, w *os.File, h hash.Hash, have int64) (int64, error) {
	u := d.URL(m, f)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return have, fmt.Errorf("download %s: %w", f.Path, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	client := d.Client
	if client == nil {
		client = &http.Client{}
	}
	stall := d.StallTimeout
	if stall <= 0 {
		stall = time.Minute
	}
	watchdog := time.AfterFunc(stall, cancel)
	defer watchdog.Stop()
	resp, err := client.Do(req)
	if err != nil {
		return have, &errRetry{err: fmt.Errorf("GET %s: %w", u, err)}
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
		if have > 0 { // the server ignored Range: take the whole file again
			if err := restart(w, h); err != nil {
				return 0, fmt.Errorf("restart %s: %w", f.Path, err)
			}
			have = 0
		}
	case http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			if err := restart(w, h); err != nil {
				return 0, fmt.Errorf("restart %s: %w", f.Path, err)
			}
			return 0, &errRetry{err: fmt.Errorf("GET %s: asked for bytes from %d, got Content-Range %q; starting over", u, have, resp.Header.Get("Content-Range"))}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if err := restart(w, h); err != nil {
			return 0, fmt.Errorf("restart %s: %w", f.Path, err)
		}
		return 0, &errRetry{err: fmt.Errorf("GET %s: range from byte %d not satisfiable; starting over", u, have)}
	default:
		return have, statusError(resp, u, m, f)
	}

	body := &stallReader{r: resp.Body, timer: watchdog, d: stall}
	sink := &progressWriter{w: io.MultiWriter(w, h), done: have, total: f.Size, file: f.Path, report: d.progress}
	n, err := io.Copy(sink, io.LimitReader(body, f.Size-have+1))
	have += n
	if err != nil {
		if ctx.Err() != nil && !watchdog.Stop() {
			err = fmt.Errorf("no data for %s: %w", stall, err)
		}
		return have, &errRetry{err: fmt.Errorf("GET %s: at byte %d of %d: %w", u, have, f.Size, err)}
	}
	if have > f.Size {
		if err := restart(w, h); err != nil {
			return 0, fmt.Errorf("restart %s: %w", f.Path, err)
		}
		return 0, notReady(ErrCorrupt, "model %s: %s from %s is longer than the registered %d bytes; it was deleted and not used",
			m.ID, f.Path, u, f.Size)
	}
	return have, nil
}

// restart empties the .part and the running hash.
func restart(w *os.File, h hash.Hash) error {
	h.Reset()
	if err := w.Truncate(0); err != nil {
		return err
	}
	_, err := w.Seek(0, io.SeekStart)
	return err
}

// contentRangeStart parses the first byte of "bytes START-END/TOTAL".
func contentRangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil && n >= 0
}

// statusError turns a failed response into an error that says what was
// asked for. The Hub explains 404s in X-Error-Code and X-Error-Message
// (RepoNotFound, RevisionNotFound, EntryNotFound); they are passed on.
func statusError(resp *http.Response, u string, m Model, f File) error {
	why := resp.Header.Get("X-Error-Message")
	if code := resp.Header.Get("X-Error-Code"); code != "" {
		why = strings.TrimSpace(code + " " + why)
	}
	if why != "" {
		why = " (" + why + ")"
	}
	switch s := resp.StatusCode; {
	case s == http.StatusNotFound:
		return enricher.Errorf(enricher.ENOTFOUND, "GET %s: 404 Not Found%s: the Hub has no %s in %s at revision %s",
			u, why, f.Path, m.ID, m.Revision)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return fmt.Errorf("GET %s: %s%s: the repository %s is private or gated", u, resp.Status, why, m.ID)
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &errRetry{err: fmt.Errorf("GET %s: %s%s", u, resp.Status, why), after: time.Duration(after) * time.Second}
	}
	return fmt.Errorf("GET %s: unexpected %s%s", u, resp.Status, why)
}

// stallReader pushes the watchdog back on every read that returns data, so
// a slow but moving transfer goes on and a silent one is cancelled.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.d)
	}
	return n, err
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	file        string
	report      func(file string, done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.report(p.file, min(p.done, p.total), p.total) // the one byte past the end that detects an over-long file is not progress
	return n, err
}
