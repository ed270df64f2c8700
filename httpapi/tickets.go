package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ticket-enricher/enricher"
)

// acceptedResponse is the 202 of POST /v1/tickets.
type acceptedResponse struct {
	Accepted  int      `json:"accepted"`
	TicketIDs []string `json:"ticket_ids"`
}

// handlePostTickets validates the whole batch, then accepts its tickets in
// input order. Validation comes first so that a bad batch stores nothing;
// a failure of the backend midway cannot be undone, so the error lists the
// tickets that were accepted and the client resends only the rest.
func (s *Server) handlePostTickets(w http.ResponseWriter, r *http.Request) {
	b, err := s.readBatch(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ids := make([]string, 0, len(b.tickets))
	for i, t := range b.tickets {
		if err := s.cfg.Intake.Accept(r.Context(), t, b.raws[i]); err != nil {
			s.writePartialAccept(w, r, b, i, err)
			return
		}
		ids = append(ids, t.ID)
	}
	s.writeJSON(w, r, http.StatusAccepted, acceptedResponse{Accepted: len(ids), TicketIDs: ids})
}

// writePartialAccept answers a batch whose ticket at index failed after the
// tickets before it were accepted: the status and code are the failure's,
// and the details list each accepted ticket by index and id.
func (s *Server) writePartialAccept(w http.ResponseWriter, r *http.Request, b batch, failed int, err error) {
	code := enricher.ErrorCode(err)
	status := statusOf(code)
	msg := enricher.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		s.logInternal(r, fmt.Errorf("accept ticket %q: %w", b.tickets[failed].ID, err))
		code, msg = enricher.EINTERNAL, internalMessage
	}
	details := make([]enricher.Detail, 0, failed)
	for i := range failed {
		details = append(details, enricher.Detail{Index: intPtr(i), TicketID: b.tickets[i].ID, Reason: "accepted"})
	}
	msg = fmt.Sprintf("%s: %d of %d tickets were accepted (listed in details); resend the others", msg, failed, len(b.tickets))
	s.writeErrorBody(w, r, status, code, msg, details)
}

// ticketResponse is the answer of GET /v1/tickets/{id}.
type ticketResponse struct {
	TicketID string            `json:"ticket_id"`
	Status   enricher.Status   `json:"status"`
	Record   json.RawMessage   `json:"record,omitempty"`
	Failure  *enricher.Failure `json:"failure,omitempty"`
}

// handleGetTicket reports where a ticket is: enriched (with its record),
// failed (with the reason), pending (accepted, the raw object exists, no
// item yet) or unknown.
func (s *Server) handleGetTicket(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !enricher.ValidTicketID(id) {
		s.writeError(w, r, &enricher.Error{Code: enricher.EINVALID, Message: "invalid ticket id",
			Details: []enricher.Detail{{Field: "ticket_id", Reason: "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"}}})
		return
	}
	item, err := s.cfg.Table.GetItem(ctx, id)
	switch {
	case enricher.ErrorCode(err) == enricher.ENOTFOUND:
		s.getPending(w, r, id)
		return
	case err != nil:
		s.writeError(w, r, fmt.Errorf("get item %q: %w", id, err))
		return
	}
	resp := ticketResponse{TicketID: id, Status: item.Status}
	switch item.Status {
	case enricher.StatusEnriched, "":
		resp.Status = enricher.StatusEnriched
		data, err := s.cfg.Enriched.GetObject(ctx, enricher.ObjectKey(id))
		if err != nil {
			// The item is written after the object, so a missing object is
			// a broken store, not a pending ticket.
			s.writeError(w, r, internal(fmt.Errorf("get enriched object %q: %w", id, err)))
			return
		}
		if !json.Valid(data) {
			s.writeError(w, r, internal(fmt.Errorf("enriched object %q is not valid JSON", id)))
			return
		}
		resp.Record = data
	case enricher.StatusFailed:
		resp.Failure = item.Failure
		if resp.Failure == nil {
			resp.Failure = &enricher.Failure{Code: enricher.EINTERNAL, Message: "no reason was recorded"}
		}
	}
	s.writeJSON(w, r, http.StatusOK, resp)
}

// internal marks err as a server fault even when its chain holds a client
// code (a store's ENOTFOUND about an object that must exist).
func internal(err error) error {
	return &enricher.Error{Code: enricher.EINTERNAL, Message: err.Error(), Err: err}
}

// getPending answers for a ticket without an item: pending when its raw
// object exists (accepted, not processed yet), else 404.
func (s *Server) getPending(w http.ResponseWriter, r *http.Request, id string) {
	_, err := s.cfg.Raw.GetObject(r.Context(), enricher.ObjectKey(id))
	switch {
	case enricher.ErrorCode(err) == enricher.ENOTFOUND:
		s.writeError(w, r, enricher.Errorf(enricher.ENOTFOUND, "ticket %q was never accepted", id))
	case err != nil:
		s.writeError(w, r, internal(fmt.Errorf("get raw object %q: %w", id, err)))
	default:
		s.writeJSON(w, r, http.StatusOK, ticketResponse{TicketID: id, Status: enricher.StatusPending})
	}
}

// listResponse is a page of GET /v1/tickets.
type listResponse struct {
	Items      []enricher.Item `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// handleListTickets lists table items newest first, filtered by urgency
// and intent. Parameters are checked here, where the client can be told
// which one is wrong; the cursor is opaque and only the table can judge it.
func (s *Server) handleListTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := enricher.ListFilter{Intent: q.Get("intent"), Cursor: q.Get("cursor"), Limit: enricher.DefaultListLimit}
	var bad []enricher.Detail
	if v := q.Get("urgency"); v != "" {
		u, ok := enricher.ParseUrgency(v)
		if !ok {
			bad = append(bad, enricher.Detail{Field: "urgency", Reason: fmt.Sprintf("must be one of critical, high, medium, low; got %q", truncate(v, 40))})
		}
		f.Urgency = u
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > enricher.MaxListLimit {
			bad = append(bad, enricher.Detail{Field: "limit", Reason: fmt.Sprintf("must be an integer from 1 to %d; got %q", enricher.MaxListLimit, truncate(v, 40))})
		}
		f.Limit = n
	}
	if len(bad) > 0 {
		s.writeError(w, r, &enricher.Error{Code: enricher.EINVALID, Message: "invalid query parameters", Details: bad})
		return
	}
	page, err := s.cfg.Table.ListItems(r.Context(), f)
	if err != nil {
		if enricher.ErrorCode(err) == enricher.EINVALID && f.Cursor != "" {
			err = &enricher.Error{Code: enricher.EINVALID, Message: "invalid cursor",
				Details: []enricher.Detail{{Field: "cursor", Reason: enricher.ErrorMessage(err)}}, Err: err}
		}
		s.writeError(w, r, err)
		return
	}
	resp := listResponse{Items: page.Items, NextCursor: page.NextCursor}
	if resp.Items == nil {
		resp.Items = []enricher.Item{}
	}
	s.writeJSON(w, r, http.StatusOK, resp)
}

// truncate shortens a client's value before it is echoed in an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
