package classify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	enricher "github.com/ticket-enricher/enricher"
)

// maxLabeledSize bounds the labeled file Evaluate reads into memory (it
// keeps the bytes to report line numbers). Labeled sets are hand-made and
// small; a larger input is almost certainly the wrong file.
const maxLabeledSize = 256 << 20

// Report is the outcome of Evaluate: accuracies, per-class precision and
// recall, confusion matrices and the misclassified tickets. Its fields are
// exported so that `enricher eval --json` can print it as is.
type Report struct {
	// ModelVersion is the classifier's Version, so that a report says what
	// it measured.
	ModelVersion    string
	N               int
	IntentCorrect   int
	UrgencyCorrect  int
	IntentAccuracy  float64
	UrgencyAccuracy float64
	Intent          Confusion
	Urgency         Confusion
	IntentClasses   []ClassStats
	UrgencyClasses  []ClassStats
	// Misses lists the tickets with a wrong intent or urgency, in input
	// order.
	Misses []Miss
}

// Confusion is a confusion matrix: Counts[i][j] tickets expected to be
// Labels[i] were predicted Labels[j] (rows expected, columns predicted).
type Confusion struct {
	Labels []string
	Counts [][]int
}

// ClassStats are the per-class numbers that accuracy hides: how many
// tickets of the class there were (Support), how many were predicted as it,
// and precision and recall (0 when undefined).
type ClassStats struct {
	Label     string
	Support   int
	Predicted int
	Correct   int
	Precision float64
	Recall    float64
}

// Miss is one ticket the classifier got (partly) wrong, with what it saw.
type Miss struct {
	TicketID          string
	Line              int
	ExpectedIntent    string
	PredictedIntent   string
	IntentConfidence  float64
	IntentEvidence    []string
	ExpectedUrgency   enricher.Urgency
	PredictedUrgency  enricher.Urgency
	UrgencyConfidence float64
	UrgencyEvidence   []string
}

// Evaluate classifies every ticket of a labeled file and compares the
// result with its label. The input is JSON Lines or a JSON array of tickets
// (DESIGN.md §2.1), each with an extra member
// "expected": {"intent": "...", "urgency": "..."}. An invalid ticket or a
// missing or unknown label is an error naming its line, ticket and reason:
// a report over a silently shortened set would be misleading.
func Evaluate(ctx context.Context, c *Classifier, r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxLabeledSize+1))
	if err != nil {
		return nil, fmt.Errorf("read labeled tickets: %w", err)
	}
	if len(data) > maxLabeledSize {
		return nil, enricher.Errorf(enricher.ETOOLARGE, "read labeled tickets: more than %d MiB", maxLabeledSize>>20)
	}
	rep := newReport(c)
	intentIndex := map[string]int{}
	for i, l := range rep.Intent.Labels {
		intentIndex[l] = i
	}
	sc := enricher.NewTicketScanner(bytes.NewReader(data))
	pos := 0 // where the search for the next ticket's bytes starts
	for sc.Scan() {
		raw := sc.Ticket()
		line := 0
		if len(raw.Data) > 0 {
			if at := bytes.Index(data[pos:], raw.Data); at >= 0 {
				line = bytes.Count(data[:pos+at], []byte("\n")) + 1
				pos += at + len(raw.Data)
			}
		}
		where := fmt.Sprintf("ticket %d (line %d)", raw.Index+1, line)
		if raw.Err != nil {
			return nil, enricher.Errorf(enricher.EINVALID, "evaluate: %s: %s", where, raw.Err)
		}
		t, err := enricher.ParseTicket(raw.Data)
		if err != nil {
			return nil, enricher.Errorf(enricher.EINVALID, "evaluate: %s: %s", where, err)
		}
		where = fmt.Sprintf("ticket %d %q (line %d)", raw.Index+1, t.ID, line)
		wantIntent, wantUrgency, err := parseLabel(t, intentIndex)
		if err != nil {
			return nil, enricher.Errorf(enricher.EINVALID, "evaluate: %s: %s", where, err)
		}
		got, err := c.Classify(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s: %w", where, err)
		}
		rep.add(t.ID, line, wantIntent, wantUrgency, got, intentIndex)
	}
	if err := sc.Err(); err != nil {
		return nil, enricher.Errorf(enricher.EINVALID, "evaluate: %s", err)
	}
	if rep.N == 0 {
		return nil, enricher.Errorf(enricher.EINVALID, "evaluate: no labeled tickets in the input")
	}
	rep.finish()
	return rep, nil
}

// parseLabel reads the "expected" member of a labeled ticket.
func parseLabel(t enricher.Ticket, intents map[string]int) (string, enricher.Urgency, error) {
	var raw json.RawMessage
	for _, f := range t.Extra {
		if f.Name == "expected" {
			raw = f.Value
		}
	}
	if raw == nil {
		return "", "", fmt.Errorf(`label: the "expected" member is missing`)
	}
	var want struct {
		Intent  *string `json:"intent"`
		Urgency *string `json:"urgency"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		return "", "", fmt.Errorf(`label: "expected" must be {"intent": "...", "urgency": "..."}: %v`, err)
	}
	switch {
	case want.Intent == nil:
		return "", "", fmt.Errorf("label: expected.intent is missing")
	case want.Urgency == nil:
		return "", "", fmt.Errorf("label: expected.urgency is missing")
	}
	if _, ok := intents[*want.Intent]; !ok {
		names := make([]string, 0, len(intents))
		for n := range intents {
			names = append(names, n)
		}
		slices.Sort(names)
		return "", "", fmt.Errorf("label: expected.intent %q is not an intent of the taxonomy (%s)", *want.Intent, strings.Join(names, ", "))
	}
	u, ok := enricher.ParseUrgency(*want.Urgency)
	if !ok {
		return "", "", fmt.Errorf("label: expected.urgency %q must be one of critical, high, medium, low", *want.Urgency)
	}
	return *want.Intent, u, nil
}

func newReport(c *Classifier) *Report {
	rep := &Report{ModelVersion: c.Version()}
	rep.Intent.Labels = slices.Clone(c.intentNames)
	for _, u := range enricher.Urgencies() {
		rep.Urgency.Labels = append(rep.Urgency.Labels, string(u))
	}
	for _, m := range []*Confusion{&rep.Intent, &rep.Urgency} {
		m.Counts = make([][]int, len(m.Labels))
		for i := range m.Counts {
			m.Counts[i] = make([]int, len(m.Labels))
		}
	}
	return rep
}

func (rep *Report) add(id string, line int, wantIntent string, wantUrgency enricher.Urgency, got enricher.Classification, intents map[string]int) {
	rep.N++
	rep.Intent.Counts[intents[wantIntent]][intents[got.Intent]]++
	rep.Urgency.Counts[3-wantUrgency.Rank()][3-got.Urgency.Rank()]++
	intentOK, urgencyOK := got.Intent == wantIntent, got.Urgency == wantUrgency
	if intentOK {
		rep.IntentCorrect++
	}
	if urgencyOK {
		rep.UrgencyCorrect++
	}
	if !intentOK || !urgencyOK {
		rep.Misses = append(rep.Misses, Miss{
			TicketID: id, Line: line,
			ExpectedIntent: wantIntent, PredictedIntent: got.Intent,
			IntentConfidence: got.IntentConfidence, IntentEvidence: got.IntentEvidence,
			ExpectedUrgency: wantUrgency, PredictedUrgency: got.Urgency,
			UrgencyConfidence: got.UrgencyConfidence, UrgencyEvidence: got.UrgencyEvidence,
		})
	}
}

func (rep *Report) finish() {
	rep.IntentAccuracy = float64(rep.IntentCorrect) / float64(rep.N)
	rep.UrgencyAccuracy = float64(rep.UrgencyCorrect) / float64(rep.N)
	rep.IntentClasses = rep.Intent.stats()
	rep.UrgencyClasses = rep.Urgency.stats()
}

func (m Confusion) stats() []ClassStats {
	out := make([]ClassStats, len(m.Labels))
	for i, l := range m.Labels {
		s := ClassStats{Label: l, Correct: m.Counts[i][i]}
		for j := range m.Labels {
			s.Support += m.Counts[i][j]
			s.Predicted += m.Counts[j][i]
		}
		if s.Predicted > 0 {
			s.Precision = float64(s.Correct) / float64(s.Predicted)
		}
		if s.Support > 0 {
			s.Recall = float64(s.Correct) / float64(s.Support)
		}
		out[i] = s
	}
	return out
}

// WriteText writes the report as a table for a terminal: the accuracies,
// per-class precision and recall, both confusion matrices (rows expected,
// columns predicted, zeros as dots so the diagonal stands out) and the
// misses with their evidence.
func (rep *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Evaluated %d tickets with %s\n", rep.N, rep.ModelVersion)
	ew.printf("Intent accuracy:  %.3f (%d/%d)\n", rep.IntentAccuracy, rep.IntentCorrect, rep.N)
	ew.printf("Urgency accuracy: %.3f (%d/%d)\n", rep.UrgencyAccuracy, rep.UrgencyCorrect, rep.N)
	for _, part := range []struct {
		title   string
		classes []ClassStats
		m       Confusion
	}{{"Intent", rep.IntentClasses, rep.Intent}, {"Urgency", rep.UrgencyClasses, rep.Urgency}} {
		ew.printf("\n%s classes\n", part.title)
		width := 0
		for _, s := range part.classes {
			width = max(width, len(s.Label))
		}
		tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%-*s\tsupport\tpredicted\tprecision\trecall\t\n", width, "")
		for _, s := range part.classes {
			fmt.Fprintf(tw, "%-*s\t%d\t%d\t%.2f\t%.2f\t\n", width, s.Label, s.Support, s.Predicted, s.Precision, s.Recall)
		}
		tw.Flush()
		ew.printf("\n%s confusion (rows expected, columns predicted)\n", part.title)
		part.m.write(ew)
	}
	if len(rep.Misses) > 0 {
		ew.printf("\nMisses (%d)\n", len(rep.Misses))
	}
	for _, m := range rep.Misses {
		ew.printf("%s (line %d)\n", m.TicketID, m.Line)
		mark := "ok"
		if m.PredictedIntent != m.ExpectedIntent {
			mark = "WRONG, expected " + m.ExpectedIntent
		}
		ew.printf("  intent  %-18s %.2f %s  %s\n", m.PredictedIntent, m.IntentConfidence, mark, strings.Join(m.IntentEvidence, ", "))
		mark = "ok"
		if m.PredictedUrgency != m.ExpectedUrgency {
			mark = "WRONG, expected " + string(m.ExpectedUrgency)
		}
		ew.printf("  urgency %-18s %.2f %s  %s\n", m.PredictedUrgency, m.UrgencyConfidence, mark, strings.Join(m.UrgencyEvidence, ", "))
	}
	return ew.err
}

// write prints the matrix. Column headers are the labels when they are
// short, and numbers keyed to the row labels otherwise, so that ten intents
// still fit a terminal.
func (m Confusion) write(w io.Writer) {
	short := true
	for _, l := range m.Labels {
		short = short && len(l) <= 8
	}
	rows := make([]string, len(m.Labels))
	width := 0
	for i, l := range m.Labels {
		rows[i] = l
		if !short {
			rows[i] = fmt.Sprintf("%d %s", i+1, l)
		}
		width = max(width, len(rows[i]))
	}
	// Labels are padded here so they read left-aligned; tabwriter
	// right-aligns the counts.
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t", width, "")
	for i, l := range m.Labels {
		if short {
			fmt.Fprintf(tw, "%s\t", l)
		} else {
			fmt.Fprintf(tw, "%d\t", i+1)
		}
	}
	fmt.Fprint(tw, "\n")
	for i, row := range m.Counts {
		fmt.Fprintf(tw, "%-*s\t", width, rows[i])
		for _, n := range row {
			if n == 0 {
				fmt.Fprint(tw, ".\t")
			} else {
				fmt.Fprintf(tw, "%d\t", n)
			}
		}
		fmt.Fprint(tw, "\n")
	}
	tw.Flush()
}

// errWriter keeps the first write error so WriteText can report it once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
