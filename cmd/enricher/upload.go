package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/s3"
)

func runUpload(ctx context.Context, args []string, io stdio) error {
	var (
		u         uploader
		to        string
		awsf      awsFlags
		bucketRaw string
	)
	fs := newFlagSet("upload", "[flags] FILE...",
		"Sends tickets (JSON object, array or JSON Lines files) to a running service, in batches,\n"+
			"or with --to s3 straight into the raw bucket (one object per ticket, <ticket_id>.json),\n"+
			"whose notifications then feed the workers. Each ticket is checked locally first: invalid\n"+
			"ones are reported with their file and position and not sent; the rest are sent, and the\n"+
			"command prints how many were accepted. Shows a progress bar when stdout is a terminal.\n"+
			"Exit status 1 if any ticket was rejected.",
		"  enricher upload ../shared/data/tickets-labeled.jsonl\n"+
			"  enricher upload --api http://10.0.0.5:8080 --token \"$TOKEN\" tickets/*.json\n"+
			"  AWS_ENDPOINT_URL=http://127.0.0.1:5000 enricher upload --to s3 tickets.jsonl",
		io.err)
	awsf.register(fs)
	fs.StringVar(&bucketRaw, "bucket-raw", env("S3_BUCKET_RAW", "tickets-raw"), "raw bucket, with --to s3 (env S3_BUCKET_RAW)")
	fs.StringVar(&u.api, "api", env("ENRICHER_API", "http://127.0.0.1:8080"), "base URL of the service (env ENRICHER_API)")
	fs.StringVar(&u.token, "token", env("ENRICHER_AUTH_TOKEN", ""), "bearer token, if the service requires one (env ENRICHER_AUTH_TOKEN)")
	fs.IntVar(&u.batch, "batch", 100, "tickets per request")
	fs.StringVar(&to, "to", "api", "destination: api (the service at --api) or s3 (the raw bucket)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch to {
	case "api":
		u.dest = strings.TrimRight(u.api, "/")
		u.send = u.post
	case "s3":
		cfg, err := awsf.config(ctx)
		if err != nil {
			return err
		}
		store, err := s3.New(cfg, bucketRaw, awsf.s3Options())
		if err != nil {
			return err
		}
		u.dest = "s3://" + bucketRaw
		u.send = func(ctx context.Context, batch []rawUpload) (int, error) { return putObjects(ctx, store, batch) }
	default:
		return fmt.Errorf("--to must be api or s3, got %q", to)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("no FILE given")
	}
	if u.batch < 1 {
		return fmt.Errorf("--batch must be at least 1, got %d", u.batch)
	}
	u.api = u.dest
	u.client = &http.Client{Timeout: 60 * time.Second}
	u.log = io.err

	total := -1
	if isTerminal(io.out) {
		total = countTickets(fs.Args())
	}
	u.progress = newProgress(io.out, "upload", total)
	for _, path := range fs.Args() {
		if err := u.uploadFile(ctx, path); err != nil {
			u.progress.done()
			return err
		}
	}
	u.progress.done()
	fmt.Fprintf(io.out, "uploaded %d tickets to %s (%d rejected)\n", u.accepted, u.dest, u.rejected)
	if u.rejected > 0 {
		return fmt.Errorf("%d tickets rejected: %w", u.rejected, errInput)
	}
	return nil
}

// rawUpload is one validated ticket on its way.
type rawUpload struct {
	id   string
	data []byte
}

// uploader sends validated tickets in batches to a destination: POST
// /v1/tickets as NDJSON, or the raw bucket.
type uploader struct {
	send       func(ctx context.Context, batch []rawUpload) (accepted int, err error)
	dest       string
	api, token string
	batch      int
	client     *http.Client
	log        io.Writer
	progress   *progress

	accepted, rejected int
}

func (u *uploader) uploadFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var (
		batch []rawUpload
		first = -1
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := u.send(ctx, batch)
		u.accepted += n
		u.progress.add(n)
		if err != nil {
			return fmt.Errorf("%s: tickets %d-%d: %w", path, first, first+len(batch)-1, err)
		}
		batch, first = batch[:0], -1
		return nil
	}
	sc := enricher.NewTicketScanner(f)
	for sc.Scan() {
		raw := sc.Ticket()
		err := raw.Err
		var t enricher.Ticket
		if err == nil {
			t, err = enricher.ParseTicket(raw.Data)
		}
		if err != nil {
			u.rejected++
			fmt.Fprintf(u.log, "%s: ticket %d: %v\n", path, raw.Index, err)
			continue
		}
		if first < 0 {
			first = raw.Index
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw.Data); err != nil {
			return fmt.Errorf("%s: ticket %d: %w", path, raw.Index, err)
		}
		batch = append(batch, rawUpload{id: t.ID, data: compact.Bytes()})
		if len(batch) == u.batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return flush()
}

// post sends one batch to the API as NDJSON, retrying connection failures
// and 5xx with backoff: accepting a ticket twice is harmless (same object,
// same result).
func (u *uploader) post(ctx context.Context, batch []rawUpload) (int, error) {
	var body bytes.Buffer
	for _, t := range batch {
		body.Write(t.data)
		body.WriteByte('\n')
	}
	var lastErr error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 500 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.api+"/v1/tickets", bytes.NewReader(body.Bytes()))
		if err != nil {
			return 0, fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		if u.token != "" {
			req.Header.Set("Authorization", "Bearer "+u.token)
		}
		resp, err := u.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			lastErr = fmt.Errorf("%w (is the service running? start it with 'enricher serve' or set --api)", err)
			continue
		}
		respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusAccepted:
			var ok struct {
				Accepted int `json:"accepted"`
			}
			if err := json.Unmarshal(respBody, &ok); err != nil {
				return 0, fmt.Errorf("read response: %w", err)
			}
			return ok.Accepted, nil
		case resp.StatusCode >= 500:
			lastErr = fmt.Errorf("service answered %s: %s", resp.Status, apiErrorText(respBody))
			continue
		}
		return 0, fmt.Errorf("service answered %s: %s", resp.Status, apiErrorText(respBody))
	}
	return 0, lastErr
}

// putObjects writes each ticket of batch to the raw bucket as
// <ticket_id>.json, a few at a time; the SDK retries transient errors.
func putObjects(ctx context.Context, store enricher.ObjectStore, batch []rawUpload) (int, error) {
	var (
		mu   sync.Mutex
		done int
		wg   sync.WaitGroup
		errs = make(chan error, len(batch))
		sem  = make(chan struct{}, 8)
	)
	for _, t := range batch {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := store.PutObject(ctx, enricher.ObjectKey(t.id), t.data); err != nil {
				errs <- fmt.Errorf("put %s: %w", t.id, err)
				return
			}
			mu.Lock()
			done++
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	return done, <-errs
}

// apiErrorText renders an error body of the API, {"error":{...}}, for a
// person; other bodies are shown as they are.
func apiErrorText(body []byte) string {
	var e struct {
		Error errorBody `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return strings.TrimSpace(string(body))
	}
	msg := e.Error.Code + ": " + e.Error.Message
	for _, d := range e.Error.Details {
		msg += "; " + strings.TrimPrefix(d.Field+": "+d.Reason, ": ")
	}
	return msg
}

// countTickets counts the tickets in the files, for the progress bar's total;
// it returns -1 when a file cannot be read (the upload will say why).
func countTickets(paths []string) int {
	total := 0
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return -1
		}
		sc := enricher.NewTicketScanner(f)
		for sc.Scan() {
			total++
		}
		f.Close()
		if sc.Err() != nil {
			return -1
		}
	}
	return total
}
