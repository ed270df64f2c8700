package enricher_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
)

// MustParseTicket parses s or stops the test.
func MustParseTicket(tb testing.TB, s string) enricher.Ticket {
	tb.Helper()
	t, err := enricher.ParseTicket([]byte(s))
	if err != nil {
		tb.Fatalf("ParseTicket(%s): %v", short(s), err)
	}
	return t
}

// MustMarshal marshals v with its MarshalJSON method or stops the test.
func MustMarshal(tb testing.TB, v json.Marshaler) []byte {
	tb.Helper()
	data, err := v.MarshalJSON()
	if err != nil {
		tb.Fatalf("MarshalJSON: %v", err)
	}
	return data
}

// MustError returns err as an *enricher.Error or stops the test.
func MustError(tb testing.TB, err error) *enricher.Error {
	tb.Helper()
	var e *enricher.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got error %v (%T), want an *enricher.Error", err, err)
	}
	return e
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// baseTicket is the valid ticket that ticketWith edits.
var baseTicket = [][2]string{
	{"ticket_id", `"T-1"`},
	{"subject", `"Login fails"`},
	{"body", `"I cannot log in"`},
	{"created_at", `1767534579`},
	{"customer_id", `"C-1"`},
}

// ticketWith returns the JSON of baseTicket with members replaced by the
// name/value pairs in kv (an empty value removes the member); names the
// base does not have are appended in the order given.
func ticketWith(kv ...string) string {
	if len(kv)%2 != 0 {
		panic("ticketWith: odd number of arguments")
	}
	members := append([][2]string(nil), baseTicket...)
next:
	for i := 0; i < len(kv); i += 2 {
		for j := range members {
			if members[j][0] == kv[i] {
				members[j][1] = kv[i+1]
				continue next
			}
		}
		members = append(members, [2]string{kv[i], kv[i+1]})
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for _, m := range members {
		if m[1] == "" {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		fmt.Fprintf(&b, `"%s":%s`, m[0], m[1]) // names are written as JSON already
	}
	b.WriteByte('}')
	return b.String()
}

// base returns the Ticket that baseTicket parses to, for tests to edit.
func base() enricher.Ticket {
	return enricher.Ticket{ID: "T-1", Subject: "Login fails", Body: "I cannot log in", CreatedAt: 1767534579, CustomerID: "C-1"}
}

func fields(kv ...string) []enricher.Field {
	var fs []enricher.Field
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, enricher.Field{Name: kv[i], Value: json.RawMessage(kv[i+1])})
	}
	return fs
}

// describe shows a ticket with its raw values as text, for failure messages.
func describe(t enricher.Ticket) string {
	extra := func(fs []enricher.Field) string {
		var parts []string
		for _, f := range fs {
			parts = append(parts, fmt.Sprintf("%s=%s", f.Name, f.Value))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	md := "nil"
	if t.Metadata != nil {
		md = fmt.Sprintf("{Source:%q Language:%q Tags:%#v Extra:%s}", t.Metadata.Source, t.Metadata.Language, t.Metadata.Tags, extra(t.Metadata.Extra))
	}
	return fmt.Sprintf("{ID:%q Subject:%q Body:%q Priority:%q PriorityRaw:%q CreatedAt:%d CustomerID:%q Metadata:%s Extra:%s}",
		t.ID, t.Subject, t.Body, t.Priority, t.PriorityRaw, t.CreatedAt, t.CustomerID, md, extra(t.Extra))
}

func unix(year int, month time.Month, day, hour, min, sec int) int64 {
	return time.Date(year, month, day, hour, min, sec, 0, time.UTC).Unix()
}

func TestParseTicket(t *testing.T) {
	edit := func(f func(*enricher.Ticket)) enricher.Ticket {
		tk := base()
		f(&tk)
		return tk
	}
	tests := []struct {
		name  string
		input string
		want  enricher.Ticket
	}{
		{"minimal", ticketWith(), base()},
		{"surrounding whitespace", "\n\t " + ticketWith() + " \r\n", base()},
		{"created_at zero", ticketWith("created_at", `0`), edit(func(t *enricher.Ticket) { t.CreatedAt = 0 })},
		{"created_at integral float", ticketWith("created_at", `1767534579.0`), base()},
		{"created_at exponent", ticketWith("created_at", `1.767534579e9`), base()},
		{"created_at RFC 3339 UTC", ticketWith("created_at", `"2026-01-31T09:30:00Z"`),
			edit(func(t *enricher.Ticket) { t.CreatedAt = unix(2026, 1, 31, 9, 30, 0) })},
		{"created_at RFC 3339 positive offset", ticketWith("created_at", `"2026-01-31T09:30:00+02:00"`),
			edit(func(t *enricher.Ticket) { t.CreatedAt = unix(2026, 1, 31, 7, 30, 0) })},
		{"created_at RFC 3339 negative offset", ticketWith("created_at", `"2026-01-31T09:30:00-05:30"`),
			edit(func(t *enricher.Ticket) { t.CreatedAt = unix(2026, 1, 31, 15, 0, 0) })},
		{"created_at fractional seconds truncated", ticketWith("created_at", `"2026-01-31T09:30:00.999999999Z"`),
			edit(func(t *enricher.Ticket) { t.CreatedAt = unix(2026, 1, 31, 9, 30, 0) })},
		{"created_at milliseconds fraction with offset", ticketWith("created_at", `"2026-01-31T09:30:59.5+01:00"`),
			edit(func(t *enricher.Ticket) { t.CreatedAt = unix(2026, 1, 31, 8, 30, 59) })},
		{"created_at epoch as RFC 3339", ticketWith("created_at", `"1970-01-01T00:00:00Z"`),
			edit(func(t *enricher.Ticket) { t.CreatedAt = 0 })},
		{"created_at last second of 9999", ticketWith("created_at", `253402300799`),
			edit(func(t *enricher.Ticket) { t.CreatedAt = 253402300799 })},
		{"subject only", ticketWith("body", ""), edit(func(t *enricher.Ticket) { t.Body = "" })},
		{"body only", ticketWith("subject", ""), edit(func(t *enricher.Ticket) { t.Subject = "" })},
		{"null subject", ticketWith("subject", `null`), edit(func(t *enricher.Ticket) { t.Subject = "" })},
		{"empty subject", ticketWith("subject", `""`), edit(func(t *enricher.Ticket) { t.Subject = "" })},
		{"escapes decoded", ticketWith("subject", `"caf\u00e9 \"quoted\"\n"`), edit(func(t *enricher.Ticket) { t.Subject = "café \"quoted\"\n" })},
		{"longest id", ticketWith("ticket_id", `"`+strings.Repeat("a", 128)+`"`), edit(func(t *enricher.Ticket) { t.ID = strings.Repeat("a", 128) })},
		{"id with dots dashes underscores", ticketWith("ticket_id", `"0a.b_c-D"`), edit(func(t *enricher.Ticket) { t.ID = "0a.b_c-D" })},
		{"priority normalized, raw kept", ticketWith("priority", `"High"`),
			edit(func(t *enricher.Ticket) { t.Priority, t.PriorityRaw = enricher.High, "High" })},
		{"priority already normal", ticketWith("priority", `"low"`),
			edit(func(t *enricher.Ticket) { t.Priority, t.PriorityRaw = enricher.Low, "low" })},
		{"priority P1", ticketWith("priority", `"P1"`),
			edit(func(t *enricher.Ticket) { t.Priority, t.PriorityRaw = enricher.Critical, "P1" })},
		{"priority unknown is absent, raw kept", ticketWith("priority", `"whatever"`),
			edit(func(t *enricher.Ticket) { t.PriorityRaw = "whatever" })},
		{"priority empty is absent", ticketWith("priority", `""`), base()},
		{"priority null is absent", ticketWith("priority", `null`), base()},
		{"priority_raw read back", ticketWith("priority", `"critical"`, "priority_raw", `"P1"`),
			edit(func(t *enricher.Ticket) { t.Priority, t.PriorityRaw = enricher.Critical, "P1" })},
		{"priority_raw before priority", ticketWith("priority_raw", `"sev 2"`, "priority", `"high"`),
			edit(func(t *enricher.Ticket) { t.Priority, t.PriorityRaw = enricher.High, "sev 2" })},
		{"priority_raw alone keeps unknown priority", ticketWith("priority_raw", `"whatever"`),
			edit(func(t *enricher.Ticket) { t.PriorityRaw = "whatever" })},
		{"priority_raw empty ignored", ticketWith("priority", `"High"`, "priority_raw", `""`),
			edit(func(t *enricher.Ticket) { t.Priority, t.PriorityRaw = enricher.High, "High" })},
		{"metadata", ticketWith("metadata", `{"source":"email","language":"de","tags":["vip","billing"]}`),
			edit(func(t *enricher.Ticket) {
				t.Metadata = &enricher.Metadata{Source: "email", Language: "de", Tags: []string{"vip", "billing"}}
			})},
		{"metadata empty", ticketWith("metadata", `{}`), edit(func(t *enricher.Ticket) { t.Metadata = &enricher.Metadata{} })},
		{"metadata null", ticketWith("metadata", `null`), base()},
		{"metadata empty tags", ticketWith("metadata", `{"tags":[]}`),
			edit(func(t *enricher.Ticket) { t.Metadata = &enricher.Metadata{Tags: []string{}} })},
		{"metadata null members", ticketWith("metadata", `{"source":null,"language":null,"tags":null}`),
			edit(func(t *enricher.Ticket) { t.Metadata = &enricher.Metadata{} })},
		{"metadata unknown members kept in order", ticketWith("metadata", `{"z":1,"source":"web","a":{"b" : [1, 2]}}`),
			edit(func(t *enricher.Ticket) {
				t.Metadata = &enricher.Metadata{Source: "web", Extra: fields("z", `1`, "a", `{"b":[1,2]}`)}
			})},
		{"unknown fields kept verbatim in order", ticketWith("zeta", `"last letter"`, "alpha", `[1, {"x" : null}, "<&>"]`, "num", `1.50e3`, "t", `true`),
			edit(func(t *enricher.Ticket) {
				t.Extra = fields("zeta", `"last letter"`, "alpha", `[1,{"x":null},"<&>"]`, "num", `1.50e3`, "t", `true`)
			})},
		{"unknown nested pretty-printed object compacted", "{\n" + `  "ticket_id": "T-1", "subject": "Login fails", "body": "I cannot log in",` + "\n" +
			`  "created_at": 1767534579, "customer_id": "C-1",` + "\n" + `  "ctx": {` + "\n" + `    "a": [1,` + "\n\t2]\n  }\n}",
			edit(func(t *enricher.Ticket) { t.Extra = fields("ctx", `{"a":[1,2]}`) })},
		{"unknown field before known ones", `{"first":1,"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","created_at":1767534579,"customer_id":"C-1"}`,
			edit(func(t *enricher.Ticket) { t.Extra = fields("first", `1`) })},
		{"escaped member name", ticketWith(`\u0078`, `1`), edit(func(t *enricher.Ticket) { t.Extra = fields("x", `1`) })},
		{"escaped known name", strings.Replace(ticketWith(), `"subject"`, `"\u0073ubject"`, 1), base()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := enricher.ParseTicket([]byte(tt.input))
			if err != nil {
				t.Fatalf("ParseTicket(%s): got error %v, want none", tt.input, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseTicket(%s):\n got %s\nwant %s", tt.input, describe(got), describe(tt.want))
			}
		})
	}
}

// wantDetail is a detail a test expects: the field exactly and a part of the
// reason, which is free text.
type wantDetail struct {
	field  string
	reason string
}

func TestParseTicket_invalid(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := []struct {
		name    string
		input   string
		details []wantDetail
		id      string // the ticket id the details carry
	}{
		// Not one JSON object.
		{"empty input", ``, []wantDetail{{"", "unexpected end of input"}}, ""},
		{"whitespace only", " \n ", []wantDetail{{"", "unexpected end of input"}}, ""},
		{"array", `[` + ticketWith() + `]`, []wantDetail{{"", "must be a JSON object, got an array"}}, ""},
		{"string", `"T-1"`, []wantDetail{{"", "must be a JSON object, got a string"}}, ""},
		{"number", `42`, []wantDetail{{"", "must be a JSON object, got a number"}}, ""},
		{"boolean", `true`, []wantDetail{{"", "must be a JSON object, got a boolean"}}, ""},
		{"null", `null`, []wantDetail{{"", "must be a JSON object, got null"}}, ""},
		{"unfinished object", `{"ticket_id":"T-1"`, []wantDetail{{"", "not valid JSON"}}, ""},
		{"bad syntax", `{"ticket_id":}`, []wantDetail{{"", "invalid character"}}, ""},
		{"missing comma", `{"ticket_id":"T-1" "subject":"x"}`, []wantDetail{{"", "not valid JSON"}}, ""},
		{"trailing comma", `{"ticket_id":"T-1",}`, []wantDetail{{"", "not valid JSON"}}, ""},
		{"trailing garbage", ticketWith() + ` x`, []wantDetail{{"", "unexpected data after the JSON object"}}, ""},
		{"trailing brace", ticketWith() + `}`, []wantDetail{{"", "unexpected data after the JSON object"}}, ""},
		{"trailing bracket", ticketWith() + `]`, []wantDetail{{"", "unexpected data after the JSON object"}}, ""},
		{"two objects", ticketWith() + "\n" + ticketWith(), []wantDetail{{"", "unexpected data after the JSON object"}}, ""},
		{"duplicate known field", `{"ticket_id":"T-1","ticket_id":"T-2","subject":"s","created_at":1,"customer_id":"c"}`,
			[]wantDetail{{"ticket_id", "more than once"}}, ""},
		{"duplicate unknown field", ticketWith("x", `1`, `\u0078`, `2`), []wantDetail{{"x", "more than once"}}, ""},
		{"duplicate metadata member", ticketWith("metadata", `{"source":"a","source":"b"}`),
			[]wantDetail{{"metadata.source", "more than once"}}, "T-1"},

		// ticket_id.
		{"ticket_id missing", ticketWith("ticket_id", ""), []wantDetail{{"ticket_id", "is required"}}, ""},
		{"ticket_id empty", ticketWith("ticket_id", `""`), []wantDetail{{"ticket_id", "must match"}}, ""},
		{"ticket_id null", ticketWith("ticket_id", `null`), []wantDetail{{"ticket_id", "must be a string"}}, ""},
		{"ticket_id number", ticketWith("ticket_id", `17`), []wantDetail{{"ticket_id", "must be a string"}}, ""},
		{"ticket_id too long", ticketWith("ticket_id", `"`+long+`"`), []wantDetail{{"ticket_id", "at most 128"}}, ""},
		{"ticket_id path traversal", ticketWith("ticket_id", `"../x"`), []wantDetail{{"ticket_id", `got "../x"`}}, ""},
		{"ticket_id slash", ticketWith("ticket_id", `"a/b"`), []wantDetail{{"ticket_id", `got "a/b"`}}, ""},
		{"ticket_id backslash", ticketWith("ticket_id", `"a\\b"`), []wantDetail{{"ticket_id", "must match"}}, ""},
		{"ticket_id leading dot", ticketWith("ticket_id", `".env"`), []wantDetail{{"ticket_id", "must match"}}, ""},
		{"ticket_id space", ticketWith("ticket_id", `"T 1"`), []wantDetail{{"ticket_id", "must match"}}, ""},
		{"ticket_id non-ASCII", ticketWith("ticket_id", `"tické"`), []wantDetail{{"ticket_id", "must match"}}, ""},
		{"ticket_id trailing newline", ticketWith("ticket_id", `"T-1\n"`), []wantDetail{{"ticket_id", "must match"}}, ""},

		// subject and body.
		{"subject and body missing", ticketWith("subject", "", "body", ""), []wantDetail{{"body", "subject and body must not both be empty"}}, "T-1"},
		{"subject and body empty", ticketWith("subject", `""`, "body", `""`), []wantDetail{{"body", "must not both be empty"}}, "T-1"},
		{"subject and body whitespace", ticketWith("subject", `" \t"`, "body", `"\n  "`), []wantDetail{{"body", "must not both be empty"}}, "T-1"},
		{"subject and body null", ticketWith("subject", `null`, "body", `null`), []wantDetail{{"body", "must not both be empty"}}, "T-1"},
		{"subject number", ticketWith("subject", `5`), []wantDetail{{"subject", "must be a string"}}, "T-1"},
		{"body array", ticketWith("body", `["a"]`), []wantDetail{{"body", "must be a string"}}, "T-1"},
		{"body object", ticketWith("body", `{"text":"a"}`), []wantDetail{{"body", "must be a string"}}, "T-1"},

		// priority.
		{"priority number", ticketWith("priority", `1`), []wantDetail{{"priority", "must be a string"}}, "T-1"},
		{"priority object", ticketWith("priority", `{"level":"high"}`), []wantDetail{{"priority", "must be a string"}}, "T-1"},
		{"priority_raw number", ticketWith("priority_raw", `1`), []wantDetail{{"priority_raw", "must be a string"}}, "T-1"},

		// created_at.
		{"created_at missing", ticketWith("created_at", ""), []wantDetail{{"created_at", "is required"}}, "T-1"},
		{"created_at null", ticketWith("created_at", `null`), []wantDetail{{"created_at", "Unix seconds"}}, "T-1"},
		{"created_at negative", ticketWith("created_at", `-1`), []wantDetail{{"created_at", "must not be negative"}}, "T-1"},
		{"created_at milliseconds", ticketWith("created_at", `1767534579000`), []wantDetail{{"created_at", "milliseconds"}}, "T-1"},
		{"created_at fraction", ticketWith("created_at", `1767534579.5`), []wantDetail{{"created_at", "an integer"}}, "T-1"},
		{"created_at huge", ticketWith("created_at", `1e300`), []wantDetail{{"created_at", "Unix seconds"}}, "T-1"},
		{"created_at boolean", ticketWith("created_at", `true`), []wantDetail{{"created_at", "Unix seconds"}}, "T-1"},
		{"created_at object", ticketWith("created_at", `{}`), []wantDetail{{"created_at", "Unix seconds"}}, "T-1"},
		{"created_at numeric string", ticketWith("created_at", `"1767534579"`), []wantDetail{{"created_at", "is not RFC 3339"}}, "T-1"},
		{"created_at words", ticketWith("created_at", `"yesterday"`), []wantDetail{{"created_at", `"yesterday" is not RFC 3339`}}, "T-1"},
		{"created_at date only", ticketWith("created_at", `"2026-01-31"`), []wantDetail{{"created_at", "is not RFC 3339"}}, "T-1"},
		{"created_at no zone", ticketWith("created_at", `"2026-01-31T09:30:00"`), []wantDetail{{"created_at", "is not RFC 3339"}}, "T-1"},
		{"created_at space separator", ticketWith("created_at", `"2026-01-31 09:30:00Z"`), []wantDetail{{"created_at", "is not RFC 3339"}}, "T-1"},
		{"created_at month 13", ticketWith("created_at", `"2026-13-01T00:00:00Z"`), []wantDetail{{"created_at", "is not RFC 3339"}}, "T-1"},
		{"created_at empty string", ticketWith("created_at", `""`), []wantDetail{{"created_at", "is not RFC 3339"}}, "T-1"},
		{"created_at before 1970", ticketWith("created_at", `"1969-12-31T23:59:59Z"`), []wantDetail{{"created_at", "before 1970"}}, "T-1"},
		{"created_at after 9999 once in UTC", ticketWith("created_at", `"9999-12-31T23:59:59-01:00"`), []wantDetail{{"created_at", "after 9999"}}, "T-1"},

		// customer_id.
		{"customer_id missing", ticketWith("customer_id", ""), []wantDetail{{"customer_id", "is required"}}, "T-1"},
		{"customer_id empty", ticketWith("customer_id", `""`), []wantDetail{{"customer_id", "must not be empty"}}, "T-1"},
		{"customer_id blank", ticketWith("customer_id", `"  "`), []wantDetail{{"customer_id", "must not be empty"}}, "T-1"},
		{"customer_id number", ticketWith("customer_id", `42`), []wantDetail{{"customer_id", "must be a string"}}, "T-1"},
		{"customer_id null", ticketWith("customer_id", `null`), []wantDetail{{"customer_id", "must be a string"}}, "T-1"},

		// metadata.
		{"metadata string", ticketWith("metadata", `"web"`), []wantDetail{{"metadata", "must be an object"}}, "T-1"},
		{"metadata array", ticketWith("metadata", `[]`), []wantDetail{{"metadata", "must be an object with source, language and tags, got an array"}}, "T-1"},
		{"metadata source number", ticketWith("metadata", `{"source":1}`), []wantDetail{{"metadata.source", "must be a string"}}, "T-1"},
		{"metadata language object", ticketWith("metadata", `{"language":{}}`), []wantDetail{{"metadata.language", "must be a string"}}, "T-1"},
		{"metadata tags string", ticketWith("metadata", `{"tags":"vip"}`), []wantDetail{{"metadata.tags", "must be an array of strings"}}, "T-1"},
		{"metadata tags numbers", ticketWith("metadata", `{"tags":[1,2]}`), []wantDetail{{"metadata.tags", "must be an array of strings"}}, "T-1"},
		{"metadata tags null element", ticketWith("metadata", `{"tags":["vip",null]}`), []wantDetail{{"metadata.tags", "must be an array of strings"}}, "T-1"},
		{"metadata tags object", ticketWith("metadata", `{"tags":{"a":"b"}}`), []wantDetail{{"metadata.tags", "must be an array of strings"}}, "T-1"},

		// Several problems at once: every one is reported, in input order,
		// then the required fields, then subject/body.
		{"several problems", `{"ticket_id":"T-9","subject":1,"created_at":-5,"metadata":{"tags":"x","source":2}}`,
			[]wantDetail{
				{"subject", "must be a string"},
				{"created_at", "must not be negative"},
				{"metadata.tags", "must be an array of strings"},
				{"metadata.source", "must be a string"},
				{"customer_id", "is required"},
				{"body", "must not both be empty"},
			}, "T-9"},
		{"bad id and bad field", ticketWith("ticket_id", `"../etc"`, "customer_id", `""`),
			[]wantDetail{{"ticket_id", "must match"}, {"customer_id", "must not be empty"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := enricher.ParseTicket([]byte(tt.input))
			if err == nil {
				t.Fatalf("ParseTicket(%s): got %s, want an error", short(tt.input), describe(got))
			}
			if !reflect.DeepEqual(got, enricher.Ticket{}) {
				t.Errorf("ParseTicket(%s) with error: got ticket %s, want the zero Ticket", short(tt.input), describe(got))
			}
			e := MustError(t, err)
			if e.Code != enricher.EINVALIDTICKET {
				t.Errorf("code: got %q, want %q", e.Code, enricher.EINVALIDTICKET)
			}
			if e.Message != "invalid ticket" {
				t.Errorf("message: got %q, want %q", e.Message, "invalid ticket")
			}
			checkDetails(t, e.Details, tt.details, tt.id)
		})
	}
}

func checkDetails(t *testing.T, got []enricher.Detail, want []wantDetail, id string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("details: got %d %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, d := range got {
		if d.Field != want[i].field {
			t.Errorf("detail %d field: got %q, want %q (reason %q)", i, d.Field, want[i].field, d.Reason)
		}
		if !strings.Contains(d.Reason, want[i].reason) {
			t.Errorf("detail %d reason: got %q, want it to contain %q", i, d.Reason, want[i].reason)
		}
		if d.TicketID != id {
			t.Errorf("detail %d ticket id: got %q, want %q", i, d.TicketID, id)
		}
		if d.Index != nil {
			t.Errorf("detail %d index: got %d, want none (ParseTicket sees one ticket)", i, *d.Index)
		}
	}
}

// padded returns a valid ticket of exactly size bytes, padding the body.
func padded(tb testing.TB, size int) []byte {
	tb.Helper()
	head := `{"ticket_id":"T-1","subject":"s","created_at":1,"customer_id":"c","body":"`
	pad := size - len(head) - len(`"}`)
	if pad < 0 {
		tb.Fatalf("padded(%d): too small", size)
	}
	data := []byte(head + strings.Repeat("x", pad) + `"}`)
	if len(data) != size {
		tb.Fatalf("padded(%d): got %d bytes", size, len(data))
	}
	return data
}

func TestParseTicket_size(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		wantCode string // "" for accepted
	}{
		{"exactly the limit", padded(t, enricher.MaxTicketSize), ""},
		{"one byte over", padded(t, enricher.MaxTicketSize+1), enricher.ETOOLARGE},
		{"one byte over with trailing space", append(padded(t, enricher.MaxTicketSize), ' '), enricher.ETOOLARGE},
		{"far over and invalid", bytes.Repeat([]byte("["), 1<<20), enricher.ETOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := enricher.ParseTicket(tt.data)
			if code := enricher.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("ParseTicket(%d bytes): got code %q (%v), want %q", len(tt.data), code, err, tt.wantCode)
			}
			if tt.wantCode == "" {
				if want := enricher.MaxTicketSize - len(`{"ticket_id":"T-1","subject":"s","created_at":1,"customer_id":"c","body":""}`); len(got.Body) != want {
					t.Errorf("body: got %d bytes, want %d", len(got.Body), want)
				}
				return
			}
			d := enricher.ErrorDetails(err)
			if len(d) != 1 || !strings.Contains(d[0].Reason, fmt.Sprint(len(tt.data))) || !strings.Contains(d[0].Reason, "256 KiB") {
				t.Errorf("details: got %+v, want one naming %d bytes and the 256 KiB limit", d, len(tt.data))
			}
		})
	}
}

func TestNormalizePriority(t *testing.T) {
	tests := []struct {
		raw  string
		want enricher.Urgency
	}{
		{"critical", enricher.Critical},
		{"Critical", enricher.Critical},
		{"URGENT", enricher.Critical},
		{"urgent", enricher.Critical},
		{"emergency", enricher.Critical},
		{"blocker", enricher.Critical},
		{"P0", enricher.Critical},
		{"P1", enricher.Critical},
		{"p1", enricher.Critical},
		{"Sev 1", enricher.Critical},
		{"sev-1", enricher.Critical},
		{"SEV_0", enricher.Critical},
		{"S1", enricher.Critical},
		{"Priority: P1", enricher.Critical},
		{"  highest  ", enricher.Critical},
		{"High", enricher.High},
		{"HIGH", enricher.High},
		{"high", enricher.High},
		{"important", enricher.High},
		{"major", enricher.High},
		{"P2", enricher.High},
		{"sev2", enricher.High},
		{"sev-2", enricher.High},
		{"Sev 2", enricher.High},
		{"sev.2", enricher.High},
		{"priority-high", enricher.High},
		{"medium", enricher.Medium},
		{"Med", enricher.Medium},
		{"normal", enricher.Medium},
		{"Normal", enricher.Medium},
		{"moderate", enricher.Medium},
		{"standard", enricher.Medium},
		{"p3", enricher.Medium},
		{"P3", enricher.Medium},
		{"sev3", enricher.Medium},
		{"low", enricher.Low},
		{"Low", enricher.Low},
		{"minor", enricher.Low},
		{"trivial", enricher.Low},
		{"lowest", enricher.Low},
		{"p4", enricher.Low},
		{"P5", enricher.Low},
		{"sev4", enricher.Low},
		{"\tlow\n", enricher.Low},
		{"", ""},
		{"   ", ""},
		{"whatever", ""},
		{"p6", ""},
		{"sev", ""},
		{"priority", ""},
		{"1", ""},
		{"highish", ""},
		{"not high", ""},
		{"P1 - Critical", ""},
		{"ｈｉｇｈ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			if got := enricher.NormalizePriority(tt.raw); got != tt.want {
				t.Errorf("NormalizePriority(%q): got %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestUrgency_Rank(t *testing.T) {
	tests := []struct {
		u    enricher.Urgency
		want int
	}{
		{enricher.Critical, 3},
		{enricher.High, 2},
		{enricher.Medium, 1},
		{enricher.Low, 0},
		{"", -1},
		{"High", -1},
		{"urgent", -1},
	}
	for _, tt := range tests {
		t.Run(string(tt.u), func(t *testing.T) {
			if got := tt.u.Rank(); got != tt.want {
				t.Errorf("Urgency(%q).Rank(): got %d, want %d", tt.u, got, tt.want)
			}
		})
	}
}

func TestUrgencies(t *testing.T) {
	got := enricher.Urgencies()
	want := []enricher.Urgency{enricher.Critical, enricher.High, enricher.Medium, enricher.Low}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Urgencies(): got %v, want %v", got, want)
	}
	got[0] = "changed"
	if again := enricher.Urgencies(); again[0] != enricher.Critical {
		t.Errorf("Urgencies() after the caller changed its copy: got %v, want a fresh list", again)
	}
}

func TestParseUrgency(t *testing.T) {
	tests := []struct {
		s      string
		want   enricher.Urgency
		wantOK bool
	}{
		{"critical", enricher.Critical, true},
		{"high", enricher.High, true},
		{"medium", enricher.Medium, true},
		{"low", enricher.Low, true},
		{"High", "", false},
		{"P1", "", false},
		{"", "", false},
		{" low", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			got, ok := enricher.ParseUrgency(tt.s)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("ParseUrgency(%q): got %q, %v; want %q, %v", tt.s, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTicket_Text(t *testing.T) {
	tests := []struct {
		name, subject, body, want string
	}{
		{"both", "Login fails", "I cannot log in", "Login fails. I cannot log in"},
		{"subject only", "Login fails", "", "Login fails"},
		{"body only", "", "I cannot log in", "I cannot log in"},
		{"neither", "", "", ""},
		{"subject ending in a period keeps both", "Help.", "Now", "Help.. Now"},
		{"whitespace is not trimmed", " a ", "b\n", " a . b\n"},
		{"unicode", "Überweisung", "fehlgeschlagen 💸", "Überweisung. fehlgeschlagen 💸"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := enricher.Ticket{Subject: tt.subject, Body: tt.body}
			if got := tk.Text(); got != tt.want {
				t.Errorf("Text() of subject %q body %q: got %q, want %q", tt.subject, tt.body, got, tt.want)
			}
		})
	}
}

func TestValidTicketID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"T-1", true},
		{"a", true},
		{"0", true},
		{"DEV-0001", true},
		{"a.b_c-d", true},
		{"a..b", true},
		{"a.", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"..\\x", false},
		{"a/b", false},
		{"/abs", false},
		{"-x", false},
		{"_x", false},
		{".hidden", false},
		{"a b", false},
		{"a\n", false},
		{"\na", false},
		{"a\x00", false},
		{"é", false},
		{"a%2Fb", false},
		{"a:b", false},
		{"a?b", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.20q", tt.id), func(t *testing.T) {
			if got := enricher.ValidTicketID(tt.id); got != tt.want {
				t.Errorf("ValidTicketID(%q): got %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestTicket_Key(t *testing.T) {
	tk := MustParseTicket(t, ticketWith("ticket_id", `"DEV-0001"`))
	if got, want := tk.Key(), "DEV-0001.json"; got != want {
		t.Errorf("Key(): got %q, want %q", got, want)
	}
	if got, want := enricher.ObjectKey("a.b"), "a.b.json"; got != want {
		t.Errorf("ObjectKey(%q): got %q, want %q", "a.b", got, want)
	}
}

func TestTicketIDFromKey(t *testing.T) {
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"DEV-0001.json", "DEV-0001", true},
		{"a.json.json", "a.json", true},
		{"a.b.json", "a.b", true},
		{"DEV-0001", "", false},
		{".json", "", false},
		{"../x.json", "", false},
		{"tickets-raw/a.json", "", false},
		{"a.JSON", "", false},
		{"a.json.tmp", "", false},
		{strings.Repeat("x", 129) + ".json", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := enricher.TicketIDFromKey(tt.key)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("TicketIDFromKey(%q): got %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.wantOK)
			}
			if ok && enricher.ObjectKey(got) != tt.key {
				t.Errorf("ObjectKey(TicketIDFromKey(%q)): got %q, want the key back", tt.key, enricher.ObjectKey(got))
			}
		})
	}
}

func TestTicket_MarshalJSON(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"minimal", ticketWith(),
			`{"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","created_at":1767534579,"customer_id":"C-1"}`},
		{"known fields in contract order whatever the input order",
			`{"customer_id":"C-1","metadata":{"tags":["a"],"language":"en","source":"web"},"created_at":"2026-01-31T09:30:00+01:00","priority":"p1","body":"b","subject":"s","ticket_id":"T-1"}`,
			`{"ticket_id":"T-1","subject":"s","body":"b","priority":"critical","priority_raw":"p1","created_at":1769848200,"customer_id":"C-1","metadata":{"source":"web","language":"en","tags":["a"]}}`},
		{"empty subject and body written", ticketWith("subject", `null`),
			`{"ticket_id":"T-1","subject":"","body":"I cannot log in","created_at":1767534579,"customer_id":"C-1"}`},
		{"priority equal to its level has no raw", ticketWith("priority", `"high"`),
			`{"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","priority":"high","created_at":1767534579,"customer_id":"C-1"}`},
		{"unknown priority keeps only the raw", ticketWith("priority", `"whatever"`),
			`{"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","priority_raw":"whatever","created_at":1767534579,"customer_id":"C-1"}`},
		{"empty priority is absent", ticketWith("priority", `""`),
			`{"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","created_at":1767534579,"customer_id":"C-1"}`},
		{"unknown fields after the known ones, verbatim and in order",
			`{"z":{"b":1,"a":[true,null]},"ticket_id":"T-1","subject":"s","a":"<&>\u00e9","created_at":1,"customer_id":"c","n":1.0e2}`,
			`{"ticket_id":"T-1","subject":"s","body":"","created_at":1,"customer_id":"c","z":{"b":1,"a":[true,null]},"a":"<&>\u00e9","n":1.0e2}`},
		{"pretty-printed unknown field on one line", "{\"ticket_id\":\"T-1\",\"subject\":\"s\",\"created_at\":1,\"customer_id\":\"c\",\n\"x\": {\n  \"y\": [\n    1,\n    2\n  ]\n}\n}",
			`{"ticket_id":"T-1","subject":"s","body":"","created_at":1,"customer_id":"c","x":{"y":[1,2]}}`},
		{"metadata omits empty known members, keeps unknown ones",
			ticketWith("metadata", `{"source":"","k":{"deep":[1, 2]},"language":null}`),
			`{"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","created_at":1767534579,"customer_id":"C-1","metadata":{"k":{"deep":[1,2]}}}`},
		{"metadata unknown members not HTML-escaped", ticketWith("metadata", `{"html":"<b>&"}`),
			`{"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","created_at":1767534579,"customer_id":"C-1","metadata":{"html":"<b>&"}}`},
		{"empty metadata object kept", ticketWith("metadata", `{}`),
			`{"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","created_at":1767534579,"customer_id":"C-1","metadata":{}}`},
		{"newlines in strings escaped", ticketWith("body", `"line1\nline2\r\n"`),
			`{"ticket_id":"T-1","subject":"Login fails","body":"line1\nline2\r\n","created_at":1767534579,"customer_id":"C-1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := MustParseTicket(t, tt.input)
			got := MustMarshal(t, tk)
			if string(got) != tt.want {
				t.Errorf("MarshalJSON of %s:\n got %s\nwant %s", short(tt.input), got, tt.want)
			}
			if bytes.ContainsAny(got, "\r\n") {
				t.Errorf("MarshalJSON: got %q, want one line", got)
			}
			viaEncoder, err := json.Marshal(tk)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if !json.Valid(viaEncoder) {
				t.Errorf("json.Marshal: got invalid JSON %s", viaEncoder)
			}
		})
	}
}

func TestTicket_MarshalJSON_handBuilt(t *testing.T) {
	tests := []struct {
		name    string
		ticket  enricher.Ticket
		want    string
		wantErr bool
	}{
		{"indented extra value compacted", enricher.Ticket{ID: "a", Subject: "s", CustomerID: "c", Extra: fields("x", "{\n  \"y\": 1\n}")},
			`{"ticket_id":"a","subject":"s","body":"","created_at":0,"customer_id":"c","x":{"y":1}}`, false},
		{"indented metadata extra compacted", enricher.Ticket{ID: "a", Subject: "s", CustomerID: "c", Metadata: &enricher.Metadata{Extra: fields("x", "[ 1,\n 2 ]")}},
			`{"ticket_id":"a","subject":"s","body":"","created_at":0,"customer_id":"c","metadata":{"x":[1,2]}}`, false},
		{"empty extra value is an error", enricher.Ticket{ID: "a", Extra: fields("x", "")}, "", true},
		{"invalid extra value is an error", enricher.Ticket{ID: "a", Extra: fields("x", "{")}, "", true},
		{"invalid metadata extra is an error", enricher.Ticket{ID: "a", Metadata: &enricher.Metadata{Extra: fields("x", "nope")}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ticket.MarshalJSON()
			if (err != nil) != tt.wantErr {
				t.Fatalf("MarshalJSON: got error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != tt.want {
				t.Errorf("MarshalJSON:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// roundTrip checks that a parsed ticket marshals to one line of JSON that
// parses back to the same ticket.
func roundTrip(tb testing.TB, tk enricher.Ticket) {
	tb.Helper()
	data := MustMarshal(tb, tk)
	if bytes.ContainsAny(data, "\r\n") {
		tb.Errorf("MarshalJSON: got %q, want one line", data)
	}
	again, err := enricher.ParseTicket(data)
	if err != nil {
		tb.Fatalf("ParseTicket(MarshalJSON(t)) of %s: %v", short(string(data)), err)
	}
	if !reflect.DeepEqual(again, tk) {
		tb.Errorf("ParseTicket(MarshalJSON(t)):\n got %s\nwant %s", describe(again), describe(tk))
	}
}

func TestTicket_MarshalJSON_roundTrip(t *testing.T) {
	inputs := []string{
		ticketWith(),
		ticketWith("priority", `"High"`),
		ticketWith("priority", `"high"`),
		ticketWith("priority", `"whatever"`),
		ticketWith("priority", `" high "`),
		ticketWith("priority", `""`),
		ticketWith("priority", `"Sev 1"`, "priority_raw", `"sev one"`),
		ticketWith("priority_raw", `"P1"`),
		ticketWith("priority", `"whatever"`, "priority_raw", `"P1"`),
		ticketWith("created_at", `"2026-01-31T09:30:00.5-08:00"`),
		ticketWith("subject", `""`, "body", `"only body <b>&amp;</b>"`),
		ticketWith("body", `"\u2028\u0000\ud83d\ude00"`),
		ticketWith("metadata", `{"tags":[],"x":{"y":"<z>"}}`),
		ticketWith("metadata", `{"source":"","language":"en","tags":["a","b"]}`),
		ticketWith("enrichment", `{"intent":"old"}`, "", `1`, "é", `"\u00e9"`),
		"{\n \"ticket_id\": \"T-1\",\n \"subject\": \"s\",\n \"created_at\": 1,\n \"customer_id\": \"c\",\n \"x\": [\n  1\n ]\n}",
	}
	for _, in := range inputs {
		t.Run(short(in), func(t *testing.T) {
			roundTrip(t, MustParseTicket(t, in))
		})
	}
}

// labeledPath is the development data set of DESIGN.md §2.4, shared by the
// whole repository.
const labeledPath = "../shared/data/tickets-labeled.jsonl"

func TestTicket_MarshalJSON_labeled(t *testing.T) {
	f, err := os.Open(labeledPath)
	if err != nil {
		t.Fatalf("open labeled data: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, enricher.MaxTicketSize+1)
	n := 0
	for sc.Scan() {
		tk := MustParseTicket(t, sc.Text())
		if len(tk.Extra) == 0 || tk.Extra[len(tk.Extra)-1].Name != "expected" {
			t.Errorf("line %d: got extra %s, want the unknown field \"expected\" preserved", n+1, describe(tk))
		}
		roundTrip(t, tk)
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read labeled data: %v", err)
	}
	if n != 160 {
		t.Errorf("labeled tickets: got %d, want 160", n)
	}
}

func FuzzParseTicket(f *testing.F) {
	seeds := []string{
		ticketWith(),
		ticketWith("priority", `"Sev 2"`, "metadata", `{"source":"email","tags":["a"],"x":{"y":[1,2]}}`, "extra", `[null,true,1e5]`),
		ticketWith("created_at", `"2026-01-31T09:30:00.123+05:45"`, "priority_raw", `"P1"`),
		ticketWith("created_at", `1.5e9`, "subject", `""`),
		ticketWith("ticket_id", `"../x"`, "created_at", `-1`),
		ticketWith("metadata", `{"tags":["a",null]}`),
		ticketWith("enrichment", `{"intent":"x"}`),
		`{"ticket_id":"a","ticket_id":"b"}`,
		ticketWith() + ` x`,
		`[{"ticket_id":"T-1"}]`,
		`{"ticket_id":"T-1","subject":"\ud800","body":"\xff\xfe","created_at":"0001-01-01T00:00:00Z","customer_id":"c"}`,
		`null`,
		``,
		`{`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := enricher.ParseTicket(data)
		if err != nil {
			e := MustError(t, err)
			if e.Code != enricher.EINVALIDTICKET && e.Code != enricher.ETOOLARGE {
				t.Fatalf("code: got %q, want %q or %q", e.Code, enricher.EINVALIDTICKET, enricher.ETOOLARGE)
			}
			if len(e.Details) == 0 {
				t.Fatalf("details: got none, want at least one for %v", err)
			}
			for _, d := range e.Details {
				if d.Reason == "" {
					t.Fatalf("detail %+v: got an empty reason", d)
				}
			}
			return
		}
		if !enricher.ValidTicketID(tk.ID) {
			t.Fatalf("accepted id %q, which ValidTicketID rejects", tk.ID)
		}
		if strings.TrimSpace(tk.Subject) == "" && strings.TrimSpace(tk.Body) == "" {
			t.Fatalf("accepted a ticket with subject %q and body %q", tk.Subject, tk.Body)
		}
		if strings.TrimSpace(tk.CustomerID) == "" {
			t.Fatalf("accepted customer_id %q", tk.CustomerID)
		}
		if tk.CreatedAt < 0 || tk.CreatedAt > 253402300799 {
			t.Fatalf("accepted created_at %d", tk.CreatedAt)
		}
		if tk.Priority != "" && tk.Priority.Rank() < 0 {
			t.Fatalf("accepted priority %q, not a level", tk.Priority)
		}
		out := MustMarshal(t, tk)
		if bytes.ContainsAny(out, "\r\n") {
			t.Fatalf("MarshalJSON: got %q, want one line", out)
		}
		if _, err := json.Marshal(tk); err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		again, err := enricher.ParseTicket(out)
		if len(out) > enricher.MaxTicketSize {
			// Re-encoding can grow a ticket (invalid UTF-8 becomes U+FFFD):
			// then the limit still holds.
			if enricher.ErrorCode(err) != enricher.ETOOLARGE {
				t.Fatalf("ParseTicket(%d bytes of MarshalJSON): got %v, want %s", len(out), err, enricher.ETOOLARGE)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseTicket(MarshalJSON(t)) of %q: %v", out, err)
		}
		if !reflect.DeepEqual(again, tk) {
			t.Fatalf("ParseTicket(MarshalJSON(t)):\n got %s\nwant %s", describe(again), describe(tk))
		}
	})
}

func BenchmarkParseTicket(b *testing.B) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"small", []byte(ticketWith("priority", `"P2"`, "metadata", `{"source":"web","language":"en","tags":["a","b"]}`))},
		{"unknown-fields", []byte(ticketWith("a", `{"b":[1,2,3],"c":"d"}`, "e", `"f"`, "g", `[{"h":1},{"i":2}]`))},
		{"max-size", padded(b, enricher.MaxTicketSize)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enricher.ParseTicket(in.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
