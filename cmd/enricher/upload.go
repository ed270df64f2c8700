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
	"time"

	enricher "github.com/ticket-enricher/enricher"
)

func runUpload(ctx context.Context, args []string, io stdio) error {
	var u uploader
	var to string
	fs := newFlagSet("upload", "[flags] FILE...",
		"Sends tickets (JSON object, array or JSON Lines files) to a running service, in batches.\n"+
			"Each ticket is checked locally first: invalid ones are reported with their file and\n"+
			"position and not sent; the rest are sent, and the command prints how many were accepted.\n"+
			"Shows a progress bar when stdout is a terminal. Exit status 1 if any ticket was rejected.",
		"  enricher upload ../shared/data/tickets-labeled.jsonl\n"+
			"  enricher upload --api http://10.0.0.5:8080 --token \"$TOKEN\" tickets/*.json",
		io.err)
	fs.StringVar(&u.api, "api", env("ENRICHER_API", "http://127.0.0.1:8080"), "base URL of the service (env ENRICHER_API)")
	fs.StringVar(&u.token, "token", env("ENRICHER_AUTH_TOKEN", ""), "bearer token, if the service requires one (env ENRICHER_AUTH_TOKEN)")
	fs.IntVar(&u.batch, "batch", 100, "tickets per request")
	fs.StringVar(&to, "to", "api", "destination: api (straight to S3 is not built yet)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if to != "api" {
		return fmt.Errorf("--to %q is not available: only uploads to the API are built so far (S3 is issue 4)", to)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("no FILE given")
	}
	if u.batch < 1 {
		return fmt.Errorf("--batch must be at least 1, got %d", u.batch)
	}
	u.api = strings.TrimRight(u.api, "/")
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
	fmt.Fprintf(io.out, "uploaded %d tickets to %s (%d rejected)\n", u.accepted, u.api, u.rejected)
	if u.rejected > 0 {
		return fmt.Errorf("%d tickets rejected: %w", u.rejected, errInput)
	}
	return nil
}

// uploader sends tickets to POST /v1/tickets as NDJSON batches.
type uploader struct {
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
		body  bytes.Buffer
		n     int
		first = -1
	)
	flush := func() error {
		if n == 0 {
			return nil
		}
		err := u.post(ctx, body.Bytes(), n)
		if err != nil {
			return fmt.Errorf("%s: tickets %d-%d: %w", path, first, first+n-1, err)
		}
		body.Reset()
		n, first = 0, -1
		return nil
	}
	sc := enricher.NewTicketScanner(f)
	for sc.Scan() {
		raw := sc.Ticket()
		err := raw.Err
		if err == nil {
			_, err = enricher.ParseTicket(raw.Data)
		}
		if err != nil {
			u.rejected++
			fmt.Fprintf(u.log, "%s: ticket %d: %v\n", path, raw.Index, err)
			continue
		}
		if first < 0 {
			first = raw.Index
		}
		if err := json.Compact(&body, raw.Data); err != nil {
			return fmt.Errorf("%s: ticket %d: %w", path, raw.Index, err)
		}
		body.WriteByte('\n')
		if n++; n == u.batch {
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

// post sends one batch, retrying connection failures and 5xx with backoff:
// accepting a ticket twice is harmless (same object, same result).
func (u *uploader) post(ctx context.Context, body []byte, n int) error {
	var lastErr error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 500 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.api+"/v1/tickets", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		if u.token != "" {
			req.Header.Set("Authorization", "Bearer "+u.token)
		}
		resp, err := u.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
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
				return fmt.Errorf("read response: %w", err)
			}
			u.accepted += ok.Accepted
			u.progress.add(n)
			return nil
		case resp.StatusCode >= 500:
			lastErr = fmt.Errorf("service answered %s: %s", resp.Status, apiErrorText(respBody))
			continue
		}
		return fmt.Errorf("service answered %s: %s", resp.Status, apiErrorText(respBody))
	}
	return lastErr
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
