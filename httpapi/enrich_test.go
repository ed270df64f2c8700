package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher"
)

func TestServer_Enrich(t *testing.T) {
	a, b, c := ticketJSON("A-1"), ticketJSON("B-2"), ticketJSON("C-3")
	var ten []string
	var tenIDs []string
	for i := range 10 {
		id := fmt.Sprintf("T-%02d", i)
		ten = append(ten, ticketJSON(id))
		tenIDs = append(tenIDs, id)
	}
	tests := []struct {
		name       string
		body       string
		failID     string
		err        error
		wantStatus int
		wantArray  bool
		wantIDs    []string
		wantCode   string
		wantDetail *wantDetail
	}{
		{name: "single object", body: a, wantStatus: 200, wantIDs: []string{"A-1"}},
		{name: "single json line", body: a + "\n", wantStatus: 200, wantIDs: []string{"A-1"}},
		{name: "array of one", body: "[" + a + "]", wantStatus: 200, wantArray: true, wantIDs: []string{"A-1"}},
		{name: "array", body: "[" + a + "," + b + "," + c + "]", wantStatus: 200, wantArray: true, wantIDs: []string{"A-1", "B-2", "C-3"}},
		{name: "ndjson", body: c + "\n" + a + "\n" + b, wantStatus: 200, wantArray: true, wantIDs: []string{"C-3", "A-1", "B-2"}},
		{name: "ten keep their order", body: "[" + strings.Join(ten, ",") + "]", wantStatus: 200, wantArray: true, wantIDs: tenIDs},
		{name: "invalid ticket", body: a + "\n{\"ticket_id\":\"X\"}", wantStatus: 400, wantCode: enricher.EINVALIDTICKET},
		{name: "empty body", body: "", wantStatus: 400, wantCode: enricher.EINVALID},
		{name: "model not ready", body: a + "\n" + b, failID: "B-2", err: enricher.Errorf(enricher.ENOTREADY, "model loading"),
			wantStatus: 503, wantCode: enricher.ENOTREADY, wantDetail: &wantDetail{1, "B-2", "", "model loading"}},
		{name: "ticket rejected by the enricher", body: "[" + a + "," + b + "]", failID: "A-1",
			err:        &enricher.Error{Code: enricher.EINVALIDTICKET, Message: "invalid ticket", Details: []enricher.Detail{{Field: "body", Reason: "no words"}}},
			wantStatus: 400, wantCode: enricher.EINVALIDTICKET, wantDetail: &wantDetail{0, "A-1", "body", "no words"}},
		{name: "enricher broken", body: a, failID: "A-1", err: fmt.Errorf("tensor: shape mismatch at /models/x"),
			wantStatus: 500, wantCode: enricher.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.enricher.failID, e.enricher.err = tt.failID, tt.err
			rec := e.do("POST", "/v1/enrich", tt.body)
			if n := len(e.intake.ids()) + e.raw.puts + e.enriched.puts + len(e.table.items); n != 0 {
				t.Errorf("stored: got %d writes, want none", n)
			}
			if tt.wantStatus != 200 {
				p := decodeErrorBody(t, rec, tt.wantStatus, tt.wantCode)
				if tt.wantDetail != nil {
					checkDetails(t, p.Details, []wantDetail{*tt.wantDetail})
				}
				if tt.wantStatus == 500 && (p.Message != internalMessage || strings.Contains(rec.Body.String(), "/models")) {
					t.Errorf("body: got %s, want only %q", rec.Body, internalMessage)
				}
				if tt.wantCode == enricher.EINVALIDTICKET && tt.err == nil && e.enricher.calls != 0 {
					t.Errorf("enricher calls: got %d, want 0 for an invalid batch", e.enricher.calls)
				}
				return
			}
			if rec.Code != 200 {
				t.Fatalf("status: got %d, want 200; body %s", rec.Code, rec.Body)
			}
			type out struct {
				TicketID   string `json:"ticket_id"`
				Enrichment struct {
					Summary string `json:"summary"`
				} `json:"enrichment"`
			}
			var recs []out
			if tt.wantArray {
				recs = decodeJSON[[]out](t, rec)
			} else {
				var raw json.RawMessage = rec.Body.Bytes()
				if len(raw) == 0 || raw[0] != '{' {
					t.Fatalf("body: got %s, want an object", rec.Body)
				}
				recs = []out{decodeJSON[out](t, rec)}
			}
			if len(recs) != len(tt.wantIDs) {
				t.Fatalf("records: got %d, want %d; body %s", len(recs), len(tt.wantIDs), rec.Body)
			}
			for i, r := range recs {
				if r.TicketID != tt.wantIDs[i] || r.Enrichment.Summary != "summary of "+tt.wantIDs[i] {
					t.Errorf("record %d: got %q %q, want %q with its summary", i, r.TicketID, r.Enrichment.Summary, tt.wantIDs[i])
				}
			}
		})
	}
}
