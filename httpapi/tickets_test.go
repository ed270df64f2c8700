package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher"
)

// labeledData is the dev data set, from this package's directory.
const labeledData = "../../shared/data/tickets-labeled.jsonl"

// wantDetail is what one expected detail must say; index -1 means absent.
type wantDetail struct {
	index    int
	ticketID string
	field    string
	reason   string // substring
}

func checkDetails(tb testing.TB, got []enricher.Detail, want []wantDetail) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("details: got %d %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		d := got[i]
		switch {
		case w.index < 0 && d.Index != nil:
			tb.Errorf("details[%d].index: got %d, want none", i, *d.Index)
		case w.index >= 0 && (d.Index == nil || *d.Index != w.index):
			tb.Errorf("details[%d].index: got %v, want %d", i, fmtIndex(d.Index), w.index)
		}
		if d.TicketID != w.ticketID {
			tb.Errorf("details[%d].ticket_id: got %q, want %q", i, d.TicketID, w.ticketID)
		}
		if d.Field != w.field {
			tb.Errorf("details[%d].field: got %q, want %q", i, d.Field, w.field)
		}
		if !strings.Contains(d.Reason, w.reason) {
			tb.Errorf("details[%d].reason: got %q, want it to contain %q", i, d.Reason, w.reason)
		}
	}
}

func fmtIndex(p *int) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

func TestServer_PostTickets(t *testing.T) {
	a, b, c := ticketJSON("A-1"), ticketJSON("B-2"), ticketJSON("C-3")
	noCustomer := `{"ticket_id":"B-2","subject":"s","body":"b","created_at":1}`
	bigTicket := fmt.Sprintf(`{"ticket_id":"BIG","subject":"s","body":%q,"created_at":1,"customer_id":"c"}`, strings.Repeat("a", enricher.MaxTicketSize))
	pretty := "{\n  \"ticket_id\": \"P-1\",\n  \"subject\": \"Hi\",\n  \"body\": \"there\",\n  \"created_at\": \"2026-01-01T00:00:00Z\",\n  \"customer_id\": \"C\"\n}\n"

	tests := []struct {
		name        string
		body        string
		maxBody     int64
		wantStatus  int
		wantIDs     []string     // on 202
		wantRaws    []string     // on 202, when checked
		wantCode    string       // on errors
		wantDetails []wantDetail // on errors
	}{
		{name: "single object", body: a, wantStatus: 202, wantIDs: []string{"A-1"}, wantRaws: []string{a}},
		{name: "pretty single object", body: pretty, wantStatus: 202, wantIDs: []string{"P-1"}},
		{name: "array", body: "[" + a + ",\n " + b + "," + c + "]", wantStatus: 202, wantIDs: []string{"A-1", "B-2", "C-3"}, wantRaws: []string{a, b, c}},
		{name: "ndjson", body: a + "\n" + b + "\r\n\n" + c + "\n", wantStatus: 202, wantIDs: []string{"A-1", "B-2", "C-3"}, wantRaws: []string{a, b, c}},
		{name: "byte order mark", body: "\xef\xbb\xbf" + a, wantStatus: 202, wantIDs: []string{"A-1"}},
		{name: "invalid ticket in array", body: "[" + a + "," + noCustomer + "," + c + "]", wantStatus: 400, wantCode: enricher.EINVALIDTICKET,
			wantDetails: []wantDetail{{1, "B-2", "customer_id", "required"}}},
		{name: "several invalid tickets", body: `{"ticket_id":"-bad","subject":"s","created_at":1,"customer_id":"c"}` + "\n" + a + "\n" + `{"ticket_id":"D-4","created_at":-5,"customer_id":"c","body":"x"}`,
			wantStatus: 400, wantCode: enricher.EINVALIDTICKET,
			wantDetails: []wantDetail{{0, "", "ticket_id", "must match"}, {2, "D-4", "created_at", "negative"}}},
		{name: "malformed ndjson line", body: a + "\n{\"ticket_id\": nope}\n" + c, wantStatus: 400, wantCode: enricher.EINVALIDTICKET,
			wantDetails: []wantDetail{{1, "", "", "invalid JSON"}}},
		{name: "not an object", body: "[" + a + ", 42]", wantStatus: 400, wantCode: enricher.EINVALIDTICKET,
			wantDetails: []wantDetail{{1, "", "", "must be a JSON object"}}},
		{name: "duplicate id", body: a + "\n" + b + "\n" + a, wantStatus: 400, wantCode: enricher.EINVALIDTICKET,
			wantDetails: []wantDetail{{2, "A-1", "ticket_id", "index 0"}}},
		{name: "duplicate of an invalid ticket", body: noCustomer + "\n" + b, wantStatus: 400, wantCode: enricher.EINVALIDTICKET,
			wantDetails: []wantDetail{{0, "B-2", "customer_id", "required"}, {1, "B-2", "ticket_id", "index 0"}}},
		{name: "malformed array", body: "[" + a + "," + `{"ticket_id":`, wantStatus: 400, wantCode: enricher.EINVALIDTICKET,
			wantDetails: []wantDetail{{-1, "", "", "invalid ticket array"}}},
		{name: "data after array", body: "[" + a + "] x", wantStatus: 400, wantCode: enricher.EINVALIDTICKET,
			wantDetails: []wantDetail{{-1, "", "", "after the ticket array"}}},
		{name: "empty body", body: "", wantStatus: 400, wantCode: enricher.EINVALID, wantDetails: []wantDetail{}},
		{name: "blank body", body: " \n\t\r\n", wantStatus: 400, wantCode: enricher.EINVALID, wantDetails: []wantDetail{}},
		{name: "empty array", body: "[ ]", wantStatus: 400, wantCode: enricher.EINVALID, wantDetails: []wantDetail{}},
		{name: "body over the limit", body: a + "\n" + b + "\n" + c, maxBody: int64(len(a) + 10), wantStatus: 413, wantCode: enricher.ETOOLARGE,
			wantDetails: []wantDetail{{-1, "", "", fmt.Sprintf("limit of %d bytes", len(a)+10)}}},
		{name: "ticket over 256 KiB alone", body: bigTicket, wantStatus: 413, wantCode: enricher.ETOOLARGE,
			wantDetails: []wantDetail{{0, "", "", "256 KiB"}}},
		{name: "ticket over 256 KiB in ndjson", body: a + "\n" + bigTicket + "\n" + c, wantStatus: 413, wantCode: enricher.ETOOLARGE,
			wantDetails: []wantDetail{{1, "", "", "256 KiB"}}},
		{name: "ticket over 256 KiB in array", body: "[" + a + "," + bigTicket + "]", wantStatus: 413, wantCode: enricher.ETOOLARGE,
			wantDetails: []wantDetail{{1, "", "", "256 KiB"}}},
		{name: "big and invalid tickets together", body: noCustomer + "\n" + bigTicket, wantStatus: 413, wantCode: enricher.ETOOLARGE,
			wantDetails: []wantDetail{{0, "B-2", "customer_id", "required"}, {1, "", "", "256 KiB"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.MaxBodyBytes = tt.maxBody })
			rec := e.do("POST", "/v1/tickets", tt.body)
			if tt.wantStatus != 202 {
				p := decodeErrorBody(t, rec, tt.wantStatus, tt.wantCode)
				checkDetails(t, p.Details, tt.wantDetails)
				if ids := e.intake.ids(); len(ids) != 0 {
					t.Errorf("accepted: got %v, want nothing", ids)
				}
				return
			}
			if rec.Code != 202 {
				t.Fatalf("status: got %d, want 202; body %s", rec.Code, rec.Body)
			}
			got := decodeJSON[acceptedResponse](t, rec)
			if got.Accepted != len(tt.wantIDs) || !slices.Equal(got.TicketIDs, tt.wantIDs) {
				t.Errorf("response: got %d %v, want %d %v", got.Accepted, got.TicketIDs, len(tt.wantIDs), tt.wantIDs)
			}
			if ids := e.intake.ids(); !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("accepted: got %v, want %v", ids, tt.wantIDs)
			}
			for i, want := range tt.wantRaws {
				if got := e.intake.accepted[i].raw; got != want {
					t.Errorf("raw %d: got %q, want %q", i, got, want)
				}
			}
		})
	}
}

func TestServer_PostTickets_ManyProblems(t *testing.T) {
	var body strings.Builder
	const n = maxDetails + 50
	for range n {
		body.WriteString("{}\n")
	}
	e := newEnv(t, nil)
	p := decodeErrorBody(t, e.do("POST", "/v1/tickets", body.String()), 400, enricher.EINVALIDTICKET)
	if len(p.Details) != maxDetails+1 {
		t.Fatalf("details: got %d, want %d (the cap plus a summary)", len(p.Details), maxDetails+1)
	}
	// Each {} has 4 problems: 3 missing fields and an empty text.
	wantMore := fmt.Sprintf("%d more problems", 4*n-maxDetails)
	if last := p.Details[maxDetails].Reason; !strings.Contains(last, wantMore) {
		t.Errorf("last detail: got %q, want it to contain %q", last, wantMore)
	}
}

func TestServer_PostTickets_LabeledData(t *testing.T) {
	data, err := os.ReadFile(labeledData)
	if err != nil {
		t.Fatalf("read labeled data: %v", err)
	}
	var wantIDs []string
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var v struct {
			TicketID string `json:"ticket_id"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("labeled line: %v", err)
		}
		wantIDs = append(wantIDs, v.TicketID)
	}
	e := newEnv(t, nil)
	rec := e.do("POST", "/v1/tickets", string(data), "Content-Type", "application/x-ndjson")
	if rec.Code != 202 {
		t.Fatalf("status: got %d, want 202; body %s", rec.Code, rec.Body)
	}
	got := decodeJSON[acceptedResponse](t, rec)
	if got.Accepted != len(wantIDs) || !slices.Equal(got.TicketIDs, wantIDs) {
		t.Errorf("ids: got %d, want %d in file order", got.Accepted, len(wantIDs))
	}
	// Unknown fields (here "expected") reach the intake.
	if ex := e.intake.accepted[0].ticket.Extra; len(ex) != 1 || ex[0].Name != "expected" {
		t.Errorf("first ticket extra: got %+v, want the expected field", ex)
	}
}

func TestServer_PostTickets_AcceptFailure(t *testing.T) {
	body := ticketJSON("A-1") + "\n" + ticketJSON("B-2") + "\n" + ticketJSON("C-3")
	tests := []struct {
		name        string
		failAt      int
		err         error
		wantStatus  int
		wantCode    string
		wantAccepts []string
	}{
		{"backend not ready at third", 3, enricher.Errorf(enricher.ENOTREADY, "queue unavailable"), 503, enricher.ENOTREADY, []string{"A-1", "B-2"}},
		{"internal error at second", 2, fmt.Errorf("put object: disk /srv/raw full"), 500, enricher.EINTERNAL, []string{"A-1"}},
		{"internal error at first", 1, fmt.Errorf("boom at /srv"), 500, enricher.EINTERNAL, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.intake.failAt, e.intake.err = tt.failAt, tt.err
			rec := e.do("POST", "/v1/tickets", body, "X-Request-Id", "rid-accept")
			p := decodeErrorBody(t, rec, tt.wantStatus, tt.wantCode)
			var want []wantDetail
			for i, id := range tt.wantAccepts {
				want = append(want, wantDetail{i, id, "", "accepted"})
			}
			checkDetails(t, p.Details, want)
			if ids := e.intake.ids(); !slices.Equal(ids, tt.wantAccepts) {
				t.Errorf("accepted: got %v, want %v", ids, tt.wantAccepts)
			}
			if wantN := fmt.Sprintf("%d of 3 tickets were accepted", len(tt.wantAccepts)); !strings.Contains(p.Message, wantN) {
				t.Errorf("message: got %q, want it to contain %q", p.Message, wantN)
			}
			if tt.wantStatus == 500 {
				if strings.Contains(rec.Body.String(), "/srv") {
					t.Errorf("body: got %s, want no internal text", rec.Body)
				}
				if logs := e.logs.String(); !strings.Contains(logs, "/srv") || !strings.Contains(logs, "rid-accept") {
					t.Errorf("log: got %s, want the cause and the request id", logs)
				}
			}
		})
	}
}

func TestServer_GetTicket(t *testing.T) {
	enrichedObj := "{\n  \"ticket_id\": \"E-1\",\n  \"subject\": \"s\",\n  \"enrichment\": {\"intent\": \"login_issue\", \"embedding\": [0.5, -1]}\n}"
	tests := []struct {
		name       string
		id         string
		items      []enricher.Item
		raw        map[string]string
		enriched   map[string]string
		getErr     error
		storeErr   error
		wantStatus int
		wantCode   string // on errors
		want       string // JSON the body must equal, on 200
	}{
		{name: "enriched", id: "E-1", items: []enricher.Item{{TicketID: "E-1", Status: enricher.StatusEnriched}},
			enriched: map[string]string{"E-1.json": enrichedObj}, raw: map[string]string{"E-1.json": "{}"}, wantStatus: 200,
			want: `{"ticket_id":"E-1","status":"enriched","record":` + enrichedObj + `}`},
		{name: "enriched without status column", id: "E-1", items: []enricher.Item{{TicketID: "E-1"}},
			enriched: map[string]string{"E-1.json": enrichedObj}, wantStatus: 200,
			want: `{"ticket_id":"E-1","status":"enriched","record":` + enrichedObj + `}`},
		{name: "failed", id: "F-1", items: []enricher.Item{{TicketID: "F-1", Status: enricher.StatusFailed,
			Failure: &enricher.Failure{Code: "summarize_failed", Message: "text too long"}}},
			enriched: map[string]string{"F-1.json": "{}"}, wantStatus: 200,
			want: `{"ticket_id":"F-1","status":"failed","failure":{"code":"summarize_failed","message":"text too long"}}`},
		{name: "pending", id: "P-1", raw: map[string]string{"P-1.json": ticketJSON("P-1")}, wantStatus: 200,
			want: `{"ticket_id":"P-1","status":"pending"}`},
		{name: "never accepted", id: "N-1", wantStatus: 404, wantCode: enricher.ENOTFOUND},
		{name: "invalid id leading dash", id: "-x", wantStatus: 400, wantCode: enricher.EINVALID},
		{name: "invalid id with space", id: "a%20b", wantStatus: 400, wantCode: enricher.EINVALID},
		{name: "invalid id too long", id: strings.Repeat("a", 129), wantStatus: 400, wantCode: enricher.EINVALID},
		{name: "enriched object missing", id: "E-2", items: []enricher.Item{{TicketID: "E-2", Status: enricher.StatusEnriched}},
			wantStatus: 500, wantCode: enricher.EINTERNAL},
		{name: "enriched object corrupt", id: "E-3", items: []enricher.Item{{TicketID: "E-3", Status: enricher.StatusEnriched}},
			enriched: map[string]string{"E-3.json": `{"ticket_id":`}, wantStatus: 500, wantCode: enricher.EINTERNAL},
		{name: "table down", id: "A-1", getErr: fmt.Errorf("sqlite: database is locked"), wantStatus: 500, wantCode: enricher.EINTERNAL},
		{name: "table not ready", id: "A-1", getErr: enricher.Errorf(enricher.ENOTREADY, "table opening"), wantStatus: 503, wantCode: enricher.ENOTREADY},
		{name: "raw store down", id: "A-1", storeErr: fmt.Errorf("dir: io error"), wantStatus: 500, wantCode: enricher.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			for _, it := range tt.items {
				e.table.PutItem(t.Context(), it)
			}
			e.table.getErr = tt.getErr
			for k, v := range tt.raw {
				e.raw.PutObject(t.Context(), k, []byte(v))
			}
			for k, v := range tt.enriched {
				e.enriched.PutObject(t.Context(), k, []byte(v))
			}
			e.raw.err = tt.storeErr
			rec := e.do("GET", "/v1/tickets/"+tt.id, "")
			if tt.wantStatus != 200 {
				p := decodeErrorBody(t, rec, tt.wantStatus, tt.wantCode)
				if tt.wantStatus == 500 && p.Message != internalMessage {
					t.Errorf("message: got %q, want %q", p.Message, internalMessage)
				}
				return
			}
			if rec.Code != 200 {
				t.Fatalf("status: got %d, want 200; body %s", rec.Code, rec.Body)
			}
			assertJSONEqual(t, rec.Body.Bytes(), []byte(tt.want))
		})
	}
}

// assertJSONEqual compares two JSON texts as values, member order aside.
func assertJSONEqual(tb testing.TB, got, want []byte) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		tb.Fatalf("want is not JSON: %v: %s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("body: got %s, want %s", got, want)
	}
}

func TestServer_ListTickets(t *testing.T) {
	items := []enricher.Item{
		{TicketID: "T-1", CreatedAt: 100, Urgency: enricher.Critical, Intent: "login_issue", Status: enricher.StatusEnriched},
		{TicketID: "T-2", CreatedAt: 200, Urgency: enricher.Low, Intent: "login_issue", Status: enricher.StatusEnriched},
		{TicketID: "T-3", CreatedAt: 300, Urgency: enricher.Critical, Intent: "bug_report", Status: enricher.StatusEnriched},
		{TicketID: "T-4", CreatedAt: 400, Urgency: enricher.Critical, Intent: "login_issue", Status: enricher.StatusEnriched},
	}
	tests := []struct {
		name       string
		query      string
		listErr    error
		wantStatus int
		wantFilter *enricher.ListFilter // nil: the table must not be asked
		wantIDs    []string
		wantCursor string
		wantCode   string
		wantField  string
	}{
		{name: "no filter", query: "", wantStatus: 200,
			wantFilter: &enricher.ListFilter{Limit: enricher.DefaultListLimit}, wantIDs: []string{"T-4", "T-3", "T-2", "T-1"}},
		{name: "urgency and intent", query: "?urgency=critical&intent=login_issue", wantStatus: 200,
			wantFilter: &enricher.ListFilter{Urgency: enricher.Critical, Intent: "login_issue", Limit: enricher.DefaultListLimit}, wantIDs: []string{"T-4", "T-1"}},
		{name: "first page", query: "?limit=2", wantStatus: 200,
			wantFilter: &enricher.ListFilter{Limit: 2}, wantIDs: []string{"T-4", "T-3"}, wantCursor: "o2"},
		{name: "cursor passed through", query: "?limit=2&cursor=o2", wantStatus: 200,
			wantFilter: &enricher.ListFilter{Limit: 2, Cursor: "o2"}, wantIDs: []string{"T-2", "T-1"}},
		{name: "max limit", query: "?limit=500", wantStatus: 200,
			wantFilter: &enricher.ListFilter{Limit: 500}, wantIDs: []string{"T-4", "T-3", "T-2", "T-1"}},
		{name: "no match", query: "?intent=feature_request", wantStatus: 200,
			wantFilter: &enricher.ListFilter{Intent: "feature_request", Limit: enricher.DefaultListLimit}, wantIDs: []string{}},
		{name: "bad urgency", query: "?urgency=urgent", wantStatus: 400, wantCode: enricher.EINVALID, wantField: "urgency"},
		{name: "capitalized urgency", query: "?urgency=Critical", wantStatus: 400, wantCode: enricher.EINVALID, wantField: "urgency"},
		{name: "limit not a number", query: "?limit=ten", wantStatus: 400, wantCode: enricher.EINVALID, wantField: "limit"},
		{name: "limit fraction", query: "?limit=1.5", wantStatus: 400, wantCode: enricher.EINVALID, wantField: "limit"},
		{name: "limit zero", query: "?limit=0", wantStatus: 400, wantCode: enricher.EINVALID, wantField: "limit"},
		{name: "limit negative", query: "?limit=-3", wantStatus: 400, wantCode: enricher.EINVALID, wantField: "limit"},
		{name: "limit too big", query: "?limit=501", wantStatus: 400, wantCode: enricher.EINVALID, wantField: "limit"},
		{name: "bad cursor", query: "?cursor=garbage", wantStatus: 400, wantCode: enricher.EINVALID, wantField: "cursor",
			wantFilter: &enricher.ListFilter{Limit: enricher.DefaultListLimit, Cursor: "garbage"}},
		{name: "table down", query: "", listErr: fmt.Errorf("dynamodb: throttled"), wantStatus: 500, wantCode: enricher.EINTERNAL,
			wantFilter: &enricher.ListFilter{Limit: enricher.DefaultListLimit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			for _, it := range items {
				e.table.PutItem(t.Context(), it)
			}
			e.table.listErr = tt.listErr
			rec := e.do("GET", "/v1/tickets"+tt.query, "")
			switch {
			case tt.wantFilter == nil && e.table.gotFilter != nil:
				t.Errorf("table: got asked %+v, want not asked", *e.table.gotFilter)
			case tt.wantFilter != nil && (e.table.gotFilter == nil || *e.table.gotFilter != *tt.wantFilter):
				t.Errorf("filter: got %+v, want %+v", e.table.gotFilter, *tt.wantFilter)
			}
			if tt.wantStatus != 200 {
				p := decodeErrorBody(t, rec, tt.wantStatus, tt.wantCode)
				if tt.wantField != "" && (len(p.Details) != 1 || p.Details[0].Field != tt.wantField) {
					t.Errorf("details: got %+v, want one naming %q", p.Details, tt.wantField)
				}
				return
			}
			if rec.Code != 200 {
				t.Fatalf("status: got %d, want 200; body %s", rec.Code, rec.Body)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if _, has := raw["next_cursor"]; has != (tt.wantCursor != "") {
				t.Errorf("next_cursor present: got %v, want %v; body %s", has, tt.wantCursor != "", rec.Body)
			}
			got := decodeJSON[listResponse](t, rec)
			ids := []string{}
			for _, it := range got.Items {
				ids = append(ids, it.TicketID)
			}
			if !slices.Equal(ids, tt.wantIDs) || got.NextCursor != tt.wantCursor {
				t.Errorf("page: got %v %q, want %v %q", ids, got.NextCursor, tt.wantIDs, tt.wantCursor)
			}
			if string(raw["items"]) == "null" {
				t.Errorf("items: got null, want an array")
			}
		})
	}
}
