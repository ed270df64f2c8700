package enricher_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
)

func ptr[T any](v T) *T { return &v }

// fullEnrichment has every stage filled, as a finished worker writes it.
func fullEnrichment() enricher.Enrichment {
	e := enricher.Enrichment{
		Embedding:      []float32{0.25, -1, 0},
		EmbeddingModel: "sentence-transformers/all-MiniLM-L6-v2",
		Summary:        "Customer cannot log in.",
		SummaryMethod:  "abstractive",
		SummaryModel:   "sshleifer/distilbart-cnn-6-6",
		ProcessedAt:    "2026-01-31T09:30:00.000Z",
		ModelVersion:   "v1",
		TimingsMS:      enricher.Timings{Embedding: ptr(2.5), Classification: ptr(0.25), Summarization: ptr(40.0), Total: 43},
	}
	e.SetClassification(enricher.Classification{
		Intent: "login_issue", IntentConfidence: 0.91, IntentEvidence: []string{"log in", "password"},
		Urgency: enricher.Critical, UrgencyConfidence: 0.88, UrgencyEvidence: []string{"priority: P1", "outage"},
	})
	return e
}

func TestRecord_MarshalJSON(t *testing.T) {
	const ticket = `"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","created_at":1767534579,"customer_id":"C-1"`
	bare := enricher.Enrichment{ProcessedAt: "2026-01-31T09:30:00.000Z", ModelVersion: "v1", TimingsMS: enricher.Timings{Total: 1.5}}
	classifiedOnly := bare
	classifiedOnly.SetClassification(enricher.Classification{Intent: "general_inquiry", Urgency: enricher.Low})
	tests := []struct {
		name   string
		ticket string
		enr    enricher.Enrichment
		want   string
	}{
		{"no stage ran: only the stage-independent members", ticketWith(), bare,
			`{` + ticket + `,"enrichment":{"processed_at":"2026-01-31T09:30:00.000Z","model_version":"v1","timings_ms":{"total":1.5}}}`},
		{"classification only: zero confidences and empty evidence are written", ticketWith(), classifiedOnly,
			`{` + ticket + `,"enrichment":{"intent":"general_inquiry","intent_confidence":0,"intent_evidence":[],"urgency":"low","urgency_confidence":0,"urgency_evidence":[],` +
				`"processed_at":"2026-01-31T09:30:00.000Z","model_version":"v1","timings_ms":{"total":1.5}}}`},
		{"every stage", ticketWith(), fullEnrichment(),
			`{` + ticket + `,"enrichment":{"embedding":[0.25,-1,0],"embedding_model":"sentence-transformers/all-MiniLM-L6-v2",` +
				`"intent":"login_issue","intent_confidence":0.91,"intent_evidence":["log in","password"],` +
				`"urgency":"critical","urgency_confidence":0.88,"urgency_evidence":["priority: P1","outage"],` +
				`"summary":"Customer cannot log in.","summary_method":"abstractive","summary_model":"sshleifer/distilbart-cnn-6-6",` +
				`"processed_at":"2026-01-31T09:30:00.000Z","model_version":"v1",` +
				`"timings_ms":{"embedding":2.5,"classification":0.25,"summarization":40,"total":43}}}`},
		{"raw fields in contract order, unknown ones, then enrichment",
			`{"x":{"y" : 1},"customer_id":"C-1","created_at":"2026-01-31T09:30:00Z","priority":"P1","subject":"s","ticket_id":"T-1","metadata":{"source":"web","m":1},"z":[]}`, bare,
			`{"ticket_id":"T-1","subject":"s","body":"","priority":"critical","priority_raw":"P1","created_at":1769851800,"customer_id":"C-1",` +
				`"metadata":{"source":"web","m":1},"x":{"y":1},"z":[],` +
				`"enrichment":{"processed_at":"2026-01-31T09:30:00.000Z","model_version":"v1","timings_ms":{"total":1.5}}}`},
		{"unknown priority keeps only the raw value", ticketWith("priority", `"whatever"`), bare,
			`{"ticket_id":"T-1","subject":"Login fails","body":"I cannot log in","priority_raw":"whatever","created_at":1767534579,"customer_id":"C-1",` +
				`"enrichment":{"processed_at":"2026-01-31T09:30:00.000Z","model_version":"v1","timings_ms":{"total":1.5}}}`},
		{"an enrichment in the input is replaced, not repeated", ticketWith("enrichment", `{"intent":"stale"}`, "after", `1`), bare,
			`{` + ticket + `,"after":1,"enrichment":{"processed_at":"2026-01-31T09:30:00.000Z","model_version":"v1","timings_ms":{"total":1.5}}}`},
		{"pretty-printed unknown field written on one line", "{\n" + ticket + ",\n \"note\": {\n  \"a\": [\n   1\n  ]\n }\n}", bare,
			`{` + ticket + `,"note":{"a":[1]},"enrichment":{"processed_at":"2026-01-31T09:30:00.000Z","model_version":"v1","timings_ms":{"total":1.5}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := enricher.Record{Ticket: MustParseTicket(t, tt.ticket), Enrichment: tt.enr}
			got := MustMarshal(t, rec)
			if string(got) != tt.want {
				t.Errorf("MarshalJSON:\n got %s\nwant %s", got, tt.want)
			}
			if bytes.ContainsAny(got, "\r\n") {
				t.Errorf("MarshalJSON: got %q, want one line", got)
			}
			// The pipeline uses json.Marshal; without HTML characters it
			// writes the same bytes.
			viaEncoder, err := json.Marshal(rec)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if !bytes.Equal(viaEncoder, got) {
				t.Errorf("json.Marshal:\n got %s\nwant %s", viaEncoder, got)
			}
		})
	}
}

// A record fed in again as a ticket (reprocessing enriched output) parses to
// its ticket plus the old enrichment as an unknown field; enriching that
// ticket again writes one "enrichment", the new one.
func TestRecord_MarshalJSON_reprocessed(t *testing.T) {
	rec := enricher.Record{Ticket: MustParseTicket(t, ticketWith("priority", `"Sev 2"`, "metadata", `{"tags":["a"]}`, "x", `1`)), Enrichment: fullEnrichment()}
	data := MustMarshal(t, rec)
	again := MustParseTicket(t, string(data))
	want := rec.Ticket
	want.Extra = append(slices.Clone(want.Extra), enricher.Field{Name: "enrichment", Value: MustMarshalValue(t, rec.Enrichment)})
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("ParseTicket(record):\n got %s\nwant %s", describe(again), describe(want))
	}
	newer := fullEnrichment()
	newer.ModelVersion = "v2"
	out := string(MustMarshal(t, enricher.Record{Ticket: again, Enrichment: newer}))
	if n := strings.Count(out, `"enrichment":`); n != 1 {
		t.Fatalf("re-enriched record: got %d \"enrichment\" members, want 1: %s", n, out)
	}
	if !strings.HasSuffix(out, `"model_version":"v2","timings_ms":{"embedding":2.5,"classification":0.25,"summarization":40,"total":43}}}`) {
		t.Errorf("re-enriched record: got %s, want the new enrichment last", out)
	}
	if _, err := enricher.ParseTicket([]byte(out)); err != nil {
		t.Errorf("ParseTicket(re-enriched record): %v", err)
	}
}

// MustMarshalValue marshals v with encoding/json or stops the test.
func MustMarshalValue(tb testing.TB, v any) json.RawMessage {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("json.Marshal(%T): %v", v, err)
	}
	return data
}

func TestEnrichment_SetClassification(t *testing.T) {
	tests := []struct {
		name                 string
		c                    enricher.Classification
		wantIntentEvidence   []string
		wantUrgencyEvidence  []string
		wantIntentConfidence float64
	}{
		{"nil evidence becomes empty", enricher.Classification{Intent: "general_inquiry", Urgency: enricher.Low}, []string{}, []string{}, 0},
		{"evidence kept", enricher.Classification{Intent: "bug_report", IntentConfidence: 0.5, IntentEvidence: []string{"crash"}, UrgencyEvidence: []string{"asap"}},
			[]string{"crash"}, []string{"asap"}, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e enricher.Enrichment
			e.SetClassification(tt.c)
			if e.IntentEvidence == nil || !reflect.DeepEqual(e.IntentEvidence, tt.wantIntentEvidence) {
				t.Errorf("IntentEvidence: got %#v, want %#v", e.IntentEvidence, tt.wantIntentEvidence)
			}
			if e.UrgencyEvidence == nil || !reflect.DeepEqual(e.UrgencyEvidence, tt.wantUrgencyEvidence) {
				t.Errorf("UrgencyEvidence: got %#v, want %#v", e.UrgencyEvidence, tt.wantUrgencyEvidence)
			}
			if e.IntentConfidence == nil || *e.IntentConfidence != tt.wantIntentConfidence {
				t.Errorf("IntentConfidence: got %v, want %v", e.IntentConfidence, tt.wantIntentConfidence)
			}
			if e.UrgencyConfidence == nil {
				t.Errorf("UrgencyConfidence: got nil, want set once classified")
			}
			if e.Intent != tt.c.Intent || e.Urgency != tt.c.Urgency {
				t.Errorf("Intent, Urgency: got %q, %q, want %q, %q", e.Intent, e.Urgency, tt.c.Intent, tt.c.Urgency)
			}
		})
	}
}

func TestRecord_Item(t *testing.T) {
	tests := []struct {
		name   string
		ticket string
		enr    enricher.Enrichment
		want   enricher.Item
	}{
		{"every stage", ticketWith("ticket_id", `"DEV-0001"`, "priority", `"P1"`), fullEnrichment(), enricher.Item{
			TicketID: "DEV-0001", CreatedAt: 1767534579, Subject: "Login fails", CustomerID: "C-1", Priority: enricher.Critical,
			Intent: "login_issue", IntentConfidence: 0.91, Urgency: enricher.Critical, UrgencyConfidence: 0.88,
			Summary: "Customer cannot log in.", SummaryMethod: "abstractive", ProcessedAt: "2026-01-31T09:30:00.000Z",
			S3Key: "DEV-0001.json", ModelVersion: "v1", Status: enricher.StatusEnriched,
		}},
		{"no classification, unknown priority", ticketWith("priority", `"whatever"`),
			enricher.Enrichment{ProcessedAt: "2026-01-31T09:30:00.000Z", ModelVersion: "v1"}, enricher.Item{
				TicketID: "T-1", CreatedAt: 1767534579, Subject: "Login fails", CustomerID: "C-1",
				ProcessedAt: "2026-01-31T09:30:00.000Z", S3Key: "T-1.json", ModelVersion: "v1", Status: enricher.StatusEnriched,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := enricher.Record{Ticket: MustParseTicket(t, tt.ticket), Enrichment: tt.enr}.Item()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Item():\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The item's JSON has exactly the columns of DESIGN.md §2.3 plus status, and
// never the embedding.
func TestItem_columns(t *testing.T) {
	item := enricher.Record{Ticket: MustParseTicket(t, ticketWith("priority", `"high"`)), Enrichment: fullEnrichment()}.Item()
	var cols map[string]json.RawMessage
	if err := json.Unmarshal(MustMarshalValue(t, item), &cols); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range cols {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{"created_at", "customer_id", "intent", "intent_confidence", "model_version", "priority", "processed_at",
		"s3_key", "status", "subject", "summary", "summary_method", "ticket_id", "urgency", "urgency_confidence"}
	if !slices.Equal(got, want) {
		t.Errorf("item columns:\n got %v\nwant %v", got, want)
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"UTC", time.Date(2026, 1, 31, 9, 30, 0, 0, time.UTC), "2026-01-31T09:30:00.000Z"},
		{"offset converted to UTC", time.Date(2026, 1, 31, 9, 30, 0, 0, time.FixedZone("X", 2*3600)), "2026-01-31T07:30:00.000Z"},
		{"milliseconds kept, the rest truncated", time.Date(2026, 1, 31, 9, 30, 0, 123_999_999, time.UTC), "2026-01-31T09:30:00.123Z"},
		{"zero milliseconds written", time.Date(2026, 1, 31, 9, 30, 0, 999_999, time.UTC), "2026-01-31T09:30:00.000Z"},
		{"day change", time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("Y", 3600)), "2025-12-31T23:30:00.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := enricher.FormatTime(tt.t); got != tt.want {
				t.Errorf("FormatTime(%v): got %q, want %q", tt.t, got, tt.want)
			}
		})
	}
	// Fixed precision keeps them ordered as strings.
	a := enricher.FormatTime(time.Date(2026, 1, 31, 9, 30, 0, 900_000_000, time.UTC))
	b := enricher.FormatTime(time.Date(2026, 1, 31, 9, 30, 1, 0, time.UTC))
	if a >= b {
		t.Errorf("FormatTime order: got %q >= %q, want earlier first", a, b)
	}
}
