package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/ticket-enricher/enricher"
)

// enrichWorkers is how many tickets of one request are enriched at once.
// The enricher micro-batches concurrent calls, so a few in flight fill its
// batches; more would only queue inside it.
const enrichWorkers = 4

// handleEnrich enriches the body's tickets synchronously and stores
// nothing: a single object in gives a record out; an array or several JSON
// Lines give an array of records in input order.
func (s *Server) handleEnrich(w http.ResponseWriter, r *http.Request) {
	b, err := s.readBatch(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	records, err := s.enrichAll(r.Context(), b.tickets)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !b.array && len(records) == 1 {
		s.writeJSON(w, r, http.StatusOK, records[0])
		return
	}
	s.writeJSON(w, r, http.StatusOK, records)
}

// enrichAll enriches tickets with up to enrichWorkers calls in flight and
// returns the records in input order. The first failure cancels the rest
// and is returned, naming its ticket.
func (s *Server) enrichAll(ctx context.Context, tickets []enricher.Ticket) ([]enricher.Record, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		records  = make([]enricher.Record, len(tickets))
		next     = make(chan int)
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		stopped  bool
	)
	for range min(enrichWorkers, len(tickets)) {
		wg.Go(func() {
			for i := range next {
				rec, err := s.cfg.Enricher.Enrich(ctx, tickets[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = ticketError(i, tickets[i].ID, err)
						cancel()
					}
					mu.Unlock()
					continue
				}
				records[i] = rec
			}
		})
	}
feed:
	for i := range tickets {
		select {
		case next <- i:
		case <-ctx.Done():
			stopped = true
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && stopped {
		// The client went away before every ticket was handed out.
		firstErr = fmt.Errorf("enrich tickets: %w", context.Cause(ctx))
	}
	return records, firstErr
}

// ticketError names the ticket that err is about, keeping its code, so
// that a client error (a ticket the model rejects) points at the ticket and
// a server error keeps its cause for the log.
func ticketError(index int, id string, err error) error {
	if statusOf(enricher.ErrorCode(err)) == http.StatusInternalServerError {
		return fmt.Errorf("enrich ticket %q: %w", id, err)
	}
	e := &enricher.Error{Code: enricher.ErrorCode(err), Message: enricher.ErrorMessage(err),
		Err: fmt.Errorf("enrich ticket %q: %w", id, err)}
	for _, d := range enricher.ErrorDetails(err) {
		if d.Index == nil {
			d.Index = intPtr(index)
		}
		if d.TicketID == "" {
			d.TicketID = id
		}
		e.Details = append(e.Details, d)
	}
	if len(e.Details) == 0 {
		e.Details = []enricher.Detail{{Index: intPtr(index), TicketID: id, Reason: e.Message}}
	}
	return e
}
