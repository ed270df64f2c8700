package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ticket-enricher/enricher"
)

// maxDetails bounds the details of one error response. A 32 MiB body of
// tiny broken tickets would otherwise make millions of details; a client
// fixing its input needs the first thousand, and the count of the rest.
const maxDetails = 1000

// batch is the validated content of a request body.
type batch struct {
	tickets []enricher.Ticket
	// raws holds each ticket's own bytes, as the scanner cut them; they are
	// what the raw store keeps.
	raws [][]byte
	// array is true when the body was a JSON array, which POST /v1/enrich
	// answers with an array even when it holds one ticket.
	array bool
}

// problems collects the details of a rejected batch, up to maxDetails.
type problems struct {
	details  []enricher.Detail
	dropped  int
	tooLarge bool
}

func (p *problems) add(ds ...enricher.Detail) {
	for _, d := range ds {
		if len(p.details) < maxDetails {
			p.details = append(p.details, d)
		} else {
			p.dropped++
		}
	}
}

// addErr adds the details of a ticket's error, each stamped with the
// ticket's index (ParseTicket cannot know it; the scanner already set it).
func (p *problems) addErr(index int, err error) {
	if enricher.ErrorCode(err) == enricher.ETOOLARGE {
		p.tooLarge = true
	}
	ds := enricher.ErrorDetails(err)
	if len(ds) == 0 {
		ds = []enricher.Detail{{Reason: enricher.ErrorMessage(err)}}
	}
	for _, d := range ds {
		if d.Index == nil {
			d.Index = intPtr(index)
		}
		p.add(d)
	}
}

func (p *problems) count() int { return len(p.details) + p.dropped }

func intPtr(i int) *int { return &i }

// readBatch reads and validates every ticket of the body: one JSON object,
// an array of objects, or JSON Lines. It returns an *enricher.Error when
// anything is wrong, listing every problem, so that a batch is taken whole
// or not at all and the client can fix all of it in one round.
func (s *Server) readBatch(w http.ResponseWriter, r *http.Request) (batch, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return batch{}, &enricher.Error{Code: enricher.ETOOLARGE, Message: "request body too large",
				Details: []enricher.Detail{{Reason: fmt.Sprintf("the body exceeds the limit of %d bytes; send fewer tickets per request", s.cfg.MaxBodyBytes)}},
				Err:     err}
		}
		return batch{}, &enricher.Error{Code: enricher.EINVALID, Message: "could not read the request body", Err: err}
	}
	content := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	if len(content) == 0 {
		return batch{}, enricher.Errorf(enricher.EINVALID, "request body is empty: send a ticket object, an array of tickets, or JSON Lines")
	}
	b := batch{array: content[0] == '['}

	var (
		probs problems
		seen  = map[string]int{} // ticket id -> index of its first occurrence
	)
	// checkDup records id at index, or reports it when an earlier ticket
	// has it; it returns whether id was new.
	checkDup := func(id string, index int) bool {
		if first, dup := seen[id]; dup {
			probs.add(enricher.Detail{Index: intPtr(index), TicketID: id, Field: "ticket_id",
				Reason: fmt.Sprintf("duplicate ticket_id: the ticket at index %d has the same id", first)})
			return false
		}
		seen[id] = index
		return true
	}
	sc := enricher.NewTicketScanner(bytes.NewReader(data))
	for sc.Scan() {
		rt := sc.Ticket()
		if rt.Err != nil {
			probs.addErr(rt.Index, rt.Err)
			continue
		}
		t, err := enricher.ParseTicket(rt.Data)
		if err != nil {
			probs.addErr(rt.Index, err)
			// An invalid ticket whose id could be read still claims it,
			// so the client learns of a duplicate before fixing the rest.
			if ds := enricher.ErrorDetails(err); len(ds) > 0 && ds[0].TicketID != "" {
				checkDup(ds[0].TicketID, rt.Index)
			}
			continue
		}
		if !checkDup(t.ID, rt.Index) {
			continue
		}
		if probs.count() == 0 {
			b.tickets = append(b.tickets, t)
			b.raws = append(b.raws, rt.Data)
		}
	}
	if err := sc.Err(); err != nil {
		// The scanner stops on a malformed array; its errors are
		// *enricher.Error. Anything else is a read error of the body.
		if _, ok := errors.AsType[*enricher.Error](err); !ok {
			return batch{}, &enricher.Error{Code: enricher.EINVALID, Message: "could not read the request body", Err: err}
		}
		// It names the item in its message; there is no ticket to index.
		probs.add(enricher.Detail{Reason: enricher.ErrorMessage(err)})
	}
	switch {
	case probs.count() > 0:
		if probs.dropped > 0 {
			probs.details = append(probs.details, enricher.Detail{Reason: fmt.Sprintf("%d more problems not listed", probs.dropped)})
		}
		code, msg := enricher.EINVALIDTICKET, "invalid tickets: nothing was accepted; see details"
		if probs.tooLarge {
			code, msg = enricher.ETOOLARGE, fmt.Sprintf("ticket too large (limit %d bytes): nothing was accepted; see details", enricher.MaxTicketSize)
		}
		return batch{}, &enricher.Error{Code: code, Message: msg, Details: probs.details}
	case len(b.tickets) == 0:
		return batch{}, enricher.Errorf(enricher.EINVALID, "no tickets in the request body")
	}
	return b, nil
}
