package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"slices"
	"testing"

	"github.com/ticket-enricher/enricher"
)

// FuzzPostTickets sends any body to POST /v1/tickets: the answer must be
// 202, 400 or 413 with a well-formed body, never a 500 or a panic, and a
// rejected batch must store nothing.
func FuzzPostTickets(f *testing.F) {
	a, b := ticketJSON("A-1"), ticketJSON("B-2")
	for _, seed := range []string{
		a, "[" + a + "," + b + "]", a + "\n" + b + "\n", "", " ", "[]", "[", "{", "}", "]", "null", `"x"`, "42",
		"[1,2]", "[{}]", "{}", a + "\n" + a, "[" + a + "," + a + "]", "\xef\xbb\xbf" + a, "[" + a + "] x",
		`{"ticket_id":"A","subject":"s","created_at":1e3,"customer_id":"c"}`,
		`{"ticket_id":"A","subject":"s","created_at":"2026-13-01","customer_id":"c","metadata":{"tags":[1]}}`,
		a + "\n{\"ticket_id\":\n" + b, "[\n" + a + "\n,\n" + b + "\n]", "{\"a\":1,\"a\":2}", "\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	if data, err := os.ReadFile(labeledData); err == nil {
		lines := bytes.SplitN(data, []byte("\n"), 4)
		f.Add(bytes.Join(lines[:3], []byte("\n")))
	} else {
		f.Fatalf("read labeled data: %v", err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 4 << 10 })
		req := httptest.NewRequest("POST", "/v1/tickets", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type: got %q, want application/json", ct)
		}
		switch rec.Code {
		case 202:
			var got acceptedResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("202 body: %v: %s", err, rec.Body)
			}
			if got.Accepted == 0 || got.Accepted != len(got.TicketIDs) || !slices.Equal(got.TicketIDs, e.intake.ids()) {
				t.Errorf("202: got %d %v, intake got %v; want the same non-empty ids", got.Accepted, got.TicketIDs, e.intake.ids())
			}
		case 400:
			code := codeOf(rec.Body.Bytes())
			if code != enricher.EINVALID && code != enricher.EINVALIDTICKET {
				t.Errorf("400 code: got %q, want invalid_request or invalid_ticket; body %s", code, rec.Body)
			}
			decodeErrorBody(t, rec, 400, code)
		case 413:
			decodeErrorBody(t, rec, 413, enricher.ETOOLARGE)
		default:
			t.Fatalf("status: got %d, want 202, 400 or 413; body %s", rec.Code, rec.Body)
		}
		if rec.Code != 202 && len(e.intake.ids()) != 0 {
			t.Errorf("accepted on %d: got %v, want nothing", rec.Code, e.intake.ids())
		}
	})
}

// codeOf reads the code of an error body, so that the shape check can run
// on either code of a 400; decodeErrorBody checks the rest.
func codeOf(body []byte) string {
	var v errorBody
	json.Unmarshal(body, &v)
	return v.Error.Code
}
