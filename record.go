package enricher

import (
	"bytes"
	"fmt"
	"time"
)

// Classification is what the classifiers conclude about a ticket: intent and
// urgency, each with a confidence in [0,1] and the evidence behind it, so a
// person can see why and a program can threshold.
type Classification struct {
	Intent            string
	IntentConfidence  float64
	IntentEvidence    []string
	Urgency           Urgency
	UrgencyConfidence float64
	UrgencyEvidence   []string
}

// Timings are the milliseconds each stage took. Stages that did not run are
// nil and absent from the JSON, never zero (DESIGN.md §2.2).
type Timings struct {
	Embedding      *float64 `json:"embedding,omitempty"`
	Classification *float64 `json:"classification,omitempty"`
	Summarization  *float64 `json:"summarization,omitempty"`
	Total          float64  `json:"total"`
}

// Enrichment is the "enrichment" member of an enriched record (DESIGN.md
// §2.2). A stage that is not built or did not run leaves its fields empty,
// and they are omitted: nothing is ever filled with a placeholder. Evidence
// is omitted only when nil (omitzero): an empty list from a classifier that
// ran is written as [].
type Enrichment struct {
	Embedding         []float32 `json:"embedding,omitempty"`
	EmbeddingModel    string    `json:"embedding_model,omitempty"`
	Intent            string    `json:"intent,omitempty"`
	IntentConfidence  *float64  `json:"intent_confidence,omitempty"`
	IntentEvidence    []string  `json:"intent_evidence,omitzero"`
	Urgency           Urgency   `json:"urgency,omitempty"`
	UrgencyConfidence *float64  `json:"urgency_confidence,omitempty"`
	UrgencyEvidence   []string  `json:"urgency_evidence,omitzero"`
	Summary           string    `json:"summary,omitempty"`
	SummaryMethod     string    `json:"summary_method,omitempty"`
	SummaryModel      string    `json:"summary_model,omitempty"`
	ProcessedAt       string    `json:"processed_at"`
	ModelVersion      string    `json:"model_version"`
	TimingsMS         Timings   `json:"timings_ms"`
}

// SetClassification copies c into the enrichment. Evidence lists are never
// null in the output, so clients can iterate them without a check.
func (e *Enrichment) SetClassification(c Classification) {
	e.Intent = c.Intent
	e.IntentConfidence = &c.IntentConfidence
	e.IntentEvidence = nonNil(c.IntentEvidence)
	e.Urgency = c.Urgency
	e.UrgencyConfidence = &c.UrgencyConfidence
	e.UrgencyEvidence = nonNil(c.UrgencyEvidence)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Record is an enriched record: every raw field, plus the enrichment. It is
// what the enriched store holds and what the API and `enricher enrich` return.
type Record struct {
	Ticket     Ticket
	Enrichment Enrichment
}

// MarshalJSON writes the ticket's fields followed by "enrichment". An
// "enrichment" member the raw ticket carried (a record fed in again) is
// replaced, not repeated: a name given twice is invalid for ParseTicket and
// ambiguous for every other reader.
func (r Record) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	w := objectWriter{buf: &b}
	w.open()
	r.Ticket.writeFields(&w, true)
	w.field("enrichment", r.Enrichment)
	return w.close()
}

// Item returns the table item for the record: the columns of DESIGN.md §2.3,
// without the embedding, which would blow DynamoDB's item size.
func (r Record) Item() Item {
	e := r.Enrichment
	it := Item{
		TicketID:      r.Ticket.ID,
		CreatedAt:     r.Ticket.CreatedAt,
		Subject:       r.Ticket.Subject,
		CustomerID:    r.Ticket.CustomerID,
		Priority:      r.Ticket.Priority,
		Intent:        e.Intent,
		Urgency:       e.Urgency,
		Summary:       e.Summary,
		SummaryMethod: e.SummaryMethod,
		ProcessedAt:   e.ProcessedAt,
		S3Key:         r.Ticket.Key(),
		ModelVersion:  e.ModelVersion,
		Status:        StatusEnriched,
	}
	if e.IntentConfidence != nil {
		it.IntentConfidence = *e.IntentConfidence
	}
	if e.UrgencyConfidence != nil {
		it.UrgencyConfidence = *e.UrgencyConfidence
	}
	return it
}

// Status is where a ticket is in its life: accepted and waiting, enriched,
// or failed with a reason.
type Status string

// The statuses of GET /v1/tickets/{id}.
const (
	StatusPending  Status = "pending"
	StatusEnriched Status = "enriched"
	StatusFailed   Status = "failed"
)

// Failure says why a ticket could not be enriched.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Item is a row of the tickets table (DESIGN.md §2.3). Status and Failure
// extend the contract so that a ticket whose enrichment failed is visible
// with its reason instead of lost; failed items have no urgency and so stay
// out of the urgency index.
type Item struct {
	TicketID          string   `json:"ticket_id"`
	CreatedAt         int64    `json:"created_at"`
	Subject           string   `json:"subject"`
	CustomerID        string   `json:"customer_id"`
	Priority          Urgency  `json:"priority,omitempty"`
	Intent            string   `json:"intent,omitempty"`
	IntentConfidence  float64  `json:"intent_confidence,omitempty"`
	Urgency           Urgency  `json:"urgency,omitempty"`
	UrgencyConfidence float64  `json:"urgency_confidence,omitempty"`
	Summary           string   `json:"summary,omitempty"`
	SummaryMethod     string   `json:"summary_method,omitempty"`
	ProcessedAt       string   `json:"processed_at"`
	S3Key             string   `json:"s3_key,omitempty"`
	ModelVersion      string   `json:"model_version,omitempty"`
	Status            Status   `json:"status"`
	Failure           *Failure `json:"failure,omitempty"`
}

// timeLayout is FormatTime's layout: RFC 3339 in UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatTime formats t as the contract's timestamps are: RFC 3339 in UTC with
// millisecond precision. Fixed precision keeps them sortable as strings,
// which the table's "newer result wins" rule relies on.
func FormatTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

// ValidProcessedAt accepts "" (a pending item, older than any result) and
// timestamps that FormatTime could have written, the only ones that compare
// correctly as strings; every Table checks ProcessedAt with it before a
// conditional write.
func ValidProcessedAt(s string) error {
	if s == "" {
		return nil
	}
	tm, err := time.Parse(timeLayout, s)
	if err != nil || FormatTime(tm) != s {
		return fmt.Errorf("processed_at %q is not RFC 3339 UTC with milliseconds (%s)", s, "2006-01-02T15:04:05.000Z")
	}
	return nil
}
