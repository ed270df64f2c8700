package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/pipeline"
)

func MustParseTicket(tb testing.TB, data []byte) enricher.Ticket {
	tb.Helper()
	t, err := enricher.ParseTicket(data)
	if err != nil {
		tb.Fatalf("ParseTicket(%s): %v", data, err)
	}
	return t
}

func TestEnricher_Enrich(t *testing.T) {
	t0 := time.Date(2026, 1, 31, 9, 30, 0, 0, time.UTC)
	ticket := MustParseTicket(t, rawTicket("T-1"))

	t.Run("classification stage", func(t *testing.T) {
		e := &pipeline.Enricher{Classifier: fakeClassifier{}, ModelVersion: "kw-1", Now: stepClock(t0, 250*time.Microsecond)}
		rec, err := e.Enrich(context.Background(), ticket)
		if err != nil {
			t.Fatalf("Enrich: %v", err)
		}
		en := rec.Enrichment
		if en.Intent != "login_issue" || en.Urgency != enricher.Critical {
			t.Errorf("got intent %q urgency %q, want login_issue critical", en.Intent, en.Urgency)
		}
		if en.IntentConfidence == nil || *en.IntentConfidence != 0.9 {
			t.Errorf("got intent confidence %v, want 0.9", en.IntentConfidence)
		}
		if en.ModelVersion != "kw-1" {
			t.Errorf("got model version %q, want kw-1", en.ModelVersion)
		}
		// Readings: start, stage begin, stage end, end; 0.25 ms apart.
		if want := enricher.FormatTime(t0.Add(750 * time.Microsecond)); en.ProcessedAt != want {
			t.Errorf("got processed_at %q, want %q", en.ProcessedAt, want)
		}
		if en.TimingsMS.Classification == nil || *en.TimingsMS.Classification != 0.25 {
			t.Errorf("got classification timing %v, want 0.25", en.TimingsMS.Classification)
		}
		if en.TimingsMS.Total != 0.75 {
			t.Errorf("got total timing %v, want 0.75", en.TimingsMS.Total)
		}
		if !reflect.DeepEqual(rec.Ticket, ticket) {
			t.Errorf("got ticket %+v, want the input %+v", rec.Ticket, ticket)
		}

		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatalf("marshal record: %v", err)
		}
		var out struct {
			Enrichment map[string]json.RawMessage `json:"enrichment"`
			Channel    string                     `json:"channel"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("unmarshal %s: %v", data, err)
		}
		for _, k := range []string{"embedding", "embedding_model", "summary", "summary_method", "summary_model"} {
			if v, ok := out.Enrichment[k]; ok {
				t.Errorf("enrichment has %q = %s, want it absent (stage not built)", k, v)
			}
		}
		for _, k := range []string{"intent", "intent_confidence", "intent_evidence", "urgency", "urgency_confidence", "urgency_evidence", "processed_at", "model_version"} {
			if _, ok := out.Enrichment[k]; !ok {
				t.Errorf("enrichment lacks %q in %s", k, data)
			}
		}
		var timings map[string]float64
		if err := json.Unmarshal(out.Enrichment["timings_ms"], &timings); err != nil {
			t.Fatalf("unmarshal timings_ms: %v", err)
		}
		if want := map[string]float64{"classification": 0.25, "total": 0.75}; !reflect.DeepEqual(timings, want) {
			t.Errorf("got timings_ms %v, want %v", timings, want)
		}
		if out.Channel != "email" {
			t.Errorf("got unknown field channel %q, want it preserved as email", out.Channel)
		}
	})

	t.Run("embedding stage", func(t *testing.T) {
		emb := &textEmbedder{}
		e := &pipeline.Enricher{Embedder: emb, EmbeddingModel: "test/mini", Classifier: fakeClassifier{},
			Now: stepClock(t0, 250*time.Microsecond)}
		rec, err := e.Enrich(context.Background(), ticket)
		if err != nil {
			t.Fatalf("Enrich: %v", err)
		}
		en := rec.Enrichment
		if want := []string{ticket.Text()}; !reflect.DeepEqual(emb.got, want) {
			t.Errorf("embedded %q, want the ticket text %q", emb.got, want)
		}
		if want := []float32{float32(len(ticket.Text())), 1}; !reflect.DeepEqual(en.Embedding, want) || en.EmbeddingModel != "test/mini" {
			t.Errorf("got embedding %v from %q, want %v from test/mini", en.Embedding, en.EmbeddingModel, want)
		}
		// Readings: start, embed begin/end, classify begin/end, end.
		if en.TimingsMS.Embedding == nil || *en.TimingsMS.Embedding != 0.25 || en.TimingsMS.Total != 1.25 {
			t.Errorf("got embedding timing %v total %v, want 0.25 and 1.25", en.TimingsMS.Embedding, en.TimingsMS.Total)
		}
		item, _ := json.Marshal(rec.Item())
		if strings.Contains(string(item), "embedding") {
			t.Errorf("table item %s carries the embedding, want it only in the record", item)
		}
	})

	t.Run("embedding error", func(t *testing.T) {
		cause := errors.New("model not loaded")
		e := &pipeline.Enricher{Embedder: &textEmbedder{err: cause}, Classifier: fakeClassifier{}}
		if _, err := e.Enrich(context.Background(), ticket); !errors.Is(err, cause) {
			t.Fatalf("got error %v, want it to wrap %v", err, cause)
		}
	})

	t.Run("no stages", func(t *testing.T) {
		e := &pipeline.Enricher{ModelVersion: "none", Now: stepClock(t0, time.Millisecond)}
		rec, err := e.Enrich(context.Background(), ticket)
		if err != nil {
			t.Fatalf("Enrich: %v", err)
		}
		en := rec.Enrichment
		if en.Intent != "" || en.IntentConfidence != nil || en.TimingsMS.Classification != nil {
			t.Errorf("got intent %q confidence %v timing %v, want all absent", en.Intent, en.IntentConfidence, en.TimingsMS.Classification)
		}
		if en.TimingsMS.Total != 1 {
			t.Errorf("got total %v, want 1", en.TimingsMS.Total)
		}
	})

	t.Run("stage error", func(t *testing.T) {
		cause := errors.New("model not loaded")
		e := &pipeline.Enricher{Classifier: fakeClassifier{err: cause}}
		rec, err := e.Enrich(context.Background(), ticket)
		if !errors.Is(err, cause) {
			t.Fatalf("got error %v, want it to wrap %v", err, cause)
		}
		if rec.Ticket.ID != "" {
			t.Errorf("got a record for ticket %q with an error, want none", rec.Ticket.ID)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		e := &pipeline.Enricher{Classifier: fakeClassifier{}}
		if _, err := e.Enrich(ctx, ticket); !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want context.Canceled", err)
		}
	})
}

func ExampleEnricher_Enrich() {
	ticket, err := enricher.ParseTicket([]byte(`{"ticket_id":"T-1","subject":"Cannot log in",
		"body":"The reset link is broken","priority":"URGENT","created_at":"2026-01-31T09:30:00Z","customer_id":"C-42"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	e := &pipeline.Enricher{
		Classifier:   fakeClassifier{},
		ModelVersion: "keywords-v1",
		Now:          stepClock(time.Date(2026, 1, 31, 9, 31, 0, 0, time.UTC), 300*time.Microsecond),
	}
	rec, err := e.Enrich(context.Background(), ticket)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.MarshalIndent(rec.Enrichment, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "intent": "login_issue",
	//   "intent_confidence": 0.9,
	//   "intent_evidence": [
	//     "log in"
	//   ],
	//   "urgency": "critical",
	//   "urgency_confidence": 0.8,
	//   "urgency_evidence": [
	//     "priority: URGENT"
	//   ],
	//   "processed_at": "2026-01-31T09:31:00.000Z",
	//   "model_version": "keywords-v1",
	//   "timings_ms": {
	//     "classification": 0.3,
	//     "total": 0.9
	//   }
	// }
}

// textEmbedder embeds a text as [len(text), 1] and remembers what it saw.
type textEmbedder struct {
	got []string
	err error
}

func (e *textEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	if e.err != nil {
		return nil, e.err
	}
	e.got = append(e.got, texts...)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t)), 1}
	}
	return out, nil
}
