package classify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	enricher "github.com/ticket-enricher/enricher"
)

// labeledLine is a labeled ticket as a JSON line.
func labeledLine(id, subject, body, priority, intent, urgency string) string {
	m := map[string]any{"ticket_id": id, "subject": subject, "body": body, "created_at": 1767534579,
		"customer_id": "C-1", "expected": map[string]any{"intent": intent, "urgency": urgency}}
	if priority != "" {
		m["priority"] = priority
	}
	data, _ := json.Marshal(m)
	return string(data)
}

func TestEvaluate(t *testing.T) {
	c := MustClassifier(t)
	input := strings.Join([]string{
		labeledLine("A-1", "Can't log in", "I can't log in, my password is rejected.", "", "login_issue", "high"),
		labeledLine("A-2", "Charged twice", "I was charged twice this month, please refund one charge.", "medium", "payment_issue", "medium"),
		"",
		labeledLine("A-3", "Outage", "The whole site is down for all users, nobody can work.", "", "feature_request", "critical"),
	}, "\n") + "\n"
	rep, err := Evaluate(context.Background(), c, strings.NewReader(input))
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	if rep.N != 3 {
		t.Fatalf("N: got %d, want 3", rep.N)
	}
	if rep.IntentCorrect != 2 || rep.IntentAccuracy != 2.0/3 {
		t.Errorf("intent: got %d correct (%.3f), want 2 (0.667)", rep.IntentCorrect, rep.IntentAccuracy)
	}
	if rep.UrgencyCorrect != 3 || rep.UrgencyAccuracy != 1 {
		t.Errorf("urgency: got %d correct (%.3f), want 3 (1.000)", rep.UrgencyCorrect, rep.UrgencyAccuracy)
	}
	if len(rep.Misses) != 1 || rep.Misses[0].TicketID != "A-3" || rep.Misses[0].Line != 4 ||
		rep.Misses[0].ExpectedIntent != "feature_request" {
		t.Errorf("misses: got %+v, want A-3 on line 4 expected feature_request", rep.Misses)
	}
	// Rows are expected, columns predicted.
	row := indexOf(rep.Intent.Labels, "feature_request")
	col := indexOf(rep.Intent.Labels, rep.Misses[0].PredictedIntent)
	if rep.Intent.Counts[row][col] != 1 {
		t.Errorf("confusion[feature_request][%s]: got %d, want 1", rep.Misses[0].PredictedIntent, rep.Intent.Counts[row][col])
	}
	if got := rep.Urgency.Labels; strings.Join(got, ",") != "critical,high,medium,low" {
		t.Errorf("urgency labels: got %v, want critical,high,medium,low", got)
	}
	for _, s := range rep.IntentClasses {
		if s.Label == "login_issue" && (s.Support != 1 || s.Precision != 1 || s.Recall != 1) {
			t.Errorf("login_issue stats: got %+v, want support 1, precision 1, recall 1", s)
		}
		if s.Label == "feature_request" && (s.Support != 1 || s.Recall != 0) {
			t.Errorf("feature_request stats: got %+v, want support 1, recall 0", s)
		}
	}
	if rep.ModelVersion != c.Version() {
		t.Errorf("model version: got %q, want %q", rep.ModelVersion, c.Version())
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestEvaluate_array(t *testing.T) {
	c := MustClassifier(t)
	input := "[" + labeledLine("B-1", "Slow", "Every page takes 30 seconds to load.", "", "performance_issue", "high") + "]"
	rep, err := Evaluate(context.Background(), c, strings.NewReader(input))
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	if rep.N != 1 || rep.IntentCorrect != 1 {
		t.Errorf("got N=%d intent correct=%d, want 1 and 1", rep.N, rep.IntentCorrect)
	}
}

func TestEvaluate_errors(t *testing.T) {
	c := MustClassifier(t)
	good := labeledLine("E-1", "Can't log in", "password rejected", "", "login_issue", "high")
	tests := []struct {
		name    string
		input   string
		wantErr []string
	}{
		{"missing label", good + "\n" + `{"ticket_id":"E-2","body":"hi","created_at":1,"customer_id":"c"}` + "\n",
			[]string{"ticket 2", `"E-2"`, "line 2", `"expected" member is missing`}},
		{"unknown intent", labeledLine("E-3", "", "hello", "", "billing", "low") + "\n",
			[]string{"line 1", `expected.intent "billing" is not an intent`}},
		{"bad urgency", labeledLine("E-4", "", "hello", "", "general_inquiry", "urgent") + "\n",
			[]string{`expected.urgency "urgent"`}},
		{"missing urgency", `{"ticket_id":"E-5","body":"hi","created_at":1,"customer_id":"c","expected":{"intent":"general_inquiry"}}` + "\n",
			[]string{"expected.urgency is missing"}},
		{"label of the wrong shape", `{"ticket_id":"E-6","body":"hi","created_at":1,"customer_id":"c","expected":"login_issue"}` + "\n",
			[]string{`"expected" must be {"intent"`}},
		{"invalid ticket", good + "\n\n" + `{"ticket_id":"E 7","body":"hi","created_at":1,"customer_id":"c","expected":{}}` + "\n",
			[]string{"ticket 2", "line 3", "ticket_id"}},
		{"broken JSON line", good + "\n" + `{"ticket_id": "E-8", "body": ` + "\n" + good + "\n",
			[]string{"ticket 2", "invalid JSON"}},
		{"empty input", "\n\n", []string{"no labeled tickets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(context.Background(), c, strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
			if enricher.ErrorCode(err) != enricher.EINVALID {
				t.Errorf("code: got %s, want %s", enricher.ErrorCode(err), enricher.EINVALID)
			}
		})
	}
}

func TestReport_WriteText(t *testing.T) {
	c := MustClassifier(t)
	input := labeledLine("W-1", "Can't log in", "I can't log in, my password is rejected.", "", "login_issue", "high") + "\n" +
		labeledLine("W-2", "Refund", "Please refund the double charge.", "", "bug_report", "low") + "\n"
	rep, err := Evaluate(context.Background(), c, strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	out := b.String()
	for _, want := range []string{
		"Evaluated 2 tickets with keywords-2/",
		"Intent accuracy:  0.500 (1/2)",
		"Intent confusion (rows expected, columns predicted)",
		"Urgency confusion (rows expected, columns predicted)",
		"1 login_issue ",
		"critical  high  medium  low\n",
		"W-2 (line 2)",
		"WRONG, expected bug_report",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err := rep.WriteText(failingWriter{}); err == nil {
		t.Errorf("WriteText to a failing writer: got nil, want the write error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

// MustHeldOutClassifier returns a classifier over the embedded taxonomy
// whose lexicons learned from the embedded examples minus those that skip
// says to leave out, so that an evaluation never measures tickets the
// classifier learned from.
func MustHeldOutClassifier(tb testing.TB, skip func(Example) bool) *Classifier {
	tb.Helper()
	tax, err := Default()
	if err != nil {
		tb.Fatalf("Default: %v", err)
	}
	all, err := DefaultExamples()
	if err != nil {
		tb.Fatalf("DefaultExamples: %v", err)
	}
	var keep []Example
	for _, e := range all {
		if !skip(e) {
			keep = append(keep, e)
		}
	}
	if len(keep) == len(all) {
		tb.Fatalf("held-out classifier: nothing was left out of %d examples", len(all))
	}
	c, err := NewWithExamples(tax, keep)
	if err != nil {
		tb.Fatalf("NewWithExamples: %v", err)
	}
	return c
}

// heldOutHalves evaluates a labeled file in two halves by the parity of
// the ticket number, each with a classifier that did not learn from that
// half, and returns the reports of the even half, the odd half and both.
func heldOutHalves(t *testing.T, path string) [3]*Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the labeled set %s: %v", path, err)
	}
	var halves [2]bytes.Buffer
	ids := [2]map[string]bool{{}, {}}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		tk, err := enricher.ParseTicket(line)
		if err != nil {
			t.Fatalf("parse labeled ticket: %v", err)
		}
		n := 0
		if i := strings.LastIndexAny(tk.ID, "-_"); i >= 0 {
			fmt.Sscanf(tk.ID[i+1:], "%d", &n)
		}
		halves[n%2].Write(line)
		halves[n%2].WriteByte('\n')
		ids[n%2][tk.ID] = true
	}
	var out [3]*Report
	var both Report
	for i := range halves {
		c := MustHeldOutClassifier(t, func(e Example) bool { return ids[i][e.ID] })
		rep, err := Evaluate(context.Background(), c, &halves[i])
		if err != nil {
			t.Fatalf("Evaluate half %d: %v", i, err)
		}
		out[i] = rep
		both.N += rep.N
		both.IntentCorrect += rep.IntentCorrect
		both.UrgencyCorrect += rep.UrgencyCorrect
	}
	both.IntentAccuracy = float64(both.IntentCorrect) / float64(both.N)
	both.UrgencyAccuracy = float64(both.UrgencyCorrect) / float64(both.N)
	out[2] = &both
	for i, name := range []string{"even half", "odd half", "both"} {
		t.Logf("%-9s N=%3d intent %.3f urgency %.3f", name, out[i].N, out[i].IntentAccuracy, out[i].UrgencyAccuracy)
	}
	return out
}

// TestEvaluate_labeledSet holds the classifier to the accuracy floor on the
// shared labeled set (DESIGN.md §5 targets 0.85 / 0.75; these are the hard
// floors). A missing file is a failure: the floor cannot be checked without
// it. The set is among the embedded examples, so each half is measured
// with a classifier that did not learn from it (see heldOutHalves); the
// vocabulary was tuned looking at the even half, so the odd half is the
// honest number.
func TestEvaluate_labeledSet(t *testing.T) {
	reps := heldOutHalves(t, labeledPath)
	rep := reps[2]
	if rep.N < 100 {
		t.Errorf("N: got %d tickets, want the full labeled set (160)", rep.N)
	}
	if rep.IntentAccuracy < 0.80 {
		t.Errorf("intent accuracy: got %.3f, want >= 0.80", rep.IntentAccuracy)
	}
	if rep.UrgencyAccuracy < 0.70 {
		t.Errorf("urgency accuracy: got %.3f, want >= 0.70", rep.UrgencyAccuracy)
	}
}

// TestEvaluate_syntheticB holds the classifier to a floor on
// testdata/synthetic-b.jsonl, 300 tickets written blind by someone
// following the labeling conventions of the shared set. Like the labeled
// set, each half is measured with a classifier that did not learn from it.
// The even half guided the method and the vocabulary; the floors are set
// just under what the odd half, never looked at, reached (intent 0.727,
// urgency 0.733), so they catch a regression, not noise.
func TestEvaluate_syntheticB(t *testing.T) {
	reps := heldOutHalves(t, "testdata/synthetic-b.jsonl")
	if n := reps[2].N; n != 300 {
		t.Errorf("N: got %d tickets, want 300", n)
	}
	odd := reps[1]
	if odd.IntentAccuracy < 0.70 {
		t.Errorf("odd half intent accuracy: got %.3f, want >= 0.70", odd.IntentAccuracy)
	}
	if odd.UrgencyAccuracy < 0.70 {
		t.Errorf("odd half urgency accuracy: got %.3f, want >= 0.70", odd.UrgencyAccuracy)
	}
}

// TestEvaluate_holdoutA measures generalization to a writer the classifier
// never learned from: testdata/holdout-a.jsonl holds 200 tickets written
// blind, which nobody tuned on; they were measured (intent 0.785, urgency
// 0.815) before being added to the examples. The classifier here learns
// from every example except that set, so the figure stays honest.
func TestEvaluate_holdoutA(t *testing.T) {
	data, err := os.ReadFile("testdata/holdout-a.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	c := MustHeldOutClassifier(t, func(e Example) bool { return strings.HasPrefix(e.ID, "HOA-") })
	rep, err := Evaluate(context.Background(), c, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	t.Logf("holdout-a N=%d intent %.3f urgency %.3f", rep.N, rep.IntentAccuracy, rep.UrgencyAccuracy)
	if rep.N != 200 {
		t.Errorf("N: got %d tickets, want 200", rep.N)
	}
	if rep.IntentAccuracy < 0.75 {
		t.Errorf("intent accuracy: got %.3f, want >= 0.75", rep.IntentAccuracy)
	}
	if rep.UrgencyAccuracy < 0.75 {
		t.Errorf("urgency accuracy: got %.3f, want >= 0.75", rep.UrgencyAccuracy)
	}
}
