package enrichertest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
)

// processedAt returns the contract timestamp of d after the processing time
// the table suite's items start from.
func processedAt(d time.Duration) string {
	return enricher.FormatTime(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC).Add(d))
}

// NewItem returns an enriched item with every field set, for tests of
// tables: the fields that vary between tests are arguments.
func NewItem(id string, createdAt int64, urgency enricher.Urgency, intent, processedAt string) enricher.Item {
	return enricher.Item{
		TicketID:          id,
		CreatedAt:         createdAt,
		Subject:           "Subject of " + id,
		CustomerID:        "cust-" + id,
		Priority:          enricher.High,
		Intent:            intent,
		IntentConfidence:  0.875,
		Urgency:           urgency,
		UrgencyConfidence: 0.625,
		Summary:           "Summary of " + id,
		SummaryMethod:     "extractive",
		ProcessedAt:       processedAt,
		S3Key:             enricher.ObjectKey(id),
		ModelVersion:      "test-1",
		Status:            enricher.StatusEnriched,
	}
}

// TestTable runs the enricher.Table contract against the tables that
// newTable returns; every subtest gets a fresh, empty table.
func TestTable(t *testing.T, newTable func(t *testing.T) enricher.Table) {
	t.Run("PutGet", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		ctx := context.Background()
		failed := enricher.Item{
			TicketID:    "T-failed",
			CreatedAt:   1717243200,
			Subject:     "Broken",
			CustomerID:  "c-9",
			ProcessedAt: processedAt(0),
			S3Key:       "T-failed.json",
			Status:      enricher.StatusFailed,
			Failure:     &enricher.Failure{Code: "model_error", Message: "summarizer failed: out of memory"},
		}
		pending := enricher.Item{TicketID: "T-pending", CreatedAt: 1717243201, CustomerID: "c-1", Status: enricher.StatusPending}
		unicode := NewItem("T-unicode", 1717243202, enricher.Low, "general_inquiry", processedAt(time.Second))
		unicode.Subject, unicode.Summary = "Ärger mit 日本語 \"quotes\" ' and \n newlines", "résumé ✓"
		for _, want := range []enricher.Item{
			NewItem("T-1", 1717243200, enricher.Critical, "login_issue", processedAt(0)),
			failed,
			pending,
			unicode,
		} {
			t.Run(want.TicketID, func(t *testing.T) {
				MustNoError(t, tbl.PutItem(ctx, want), "put")
				got, err := tbl.GetItem(ctx, want.TicketID)
				MustNoError(t, err, "get")
				if !reflect.DeepEqual(got, want) {
					t.Errorf("get %s:\n got %+v\nwant %+v", want.TicketID, got, want)
				}
			})
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		_, err := tbl.GetItem(context.Background(), "T-none")
		MustCode(t, err, enricher.ENOTFOUND)
	})

	t.Run("PutInvalid", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		MustCode(t, tbl.PutItem(context.Background(), NewItem("", 1, enricher.Low, "bug_report", processedAt(0))), enricher.EINVALID)
	})

	t.Run("ConditionalPut", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		ctx := context.Background()
		version := func(summary, at string) enricher.Item {
			it := NewItem("T-c", 1717243200, enricher.High, "bug_report", at)
			it.Summary = summary
			return it
		}
		steps := []struct {
			name     string
			put      enricher.Item
			wantCode string // "" for success
			stored   string // summary stored afterwards
		}{
			{"pending first", enricher.Item{TicketID: "T-c", CreatedAt: 1717243200, Status: enricher.StatusPending, Summary: "pending"}, "", "pending"},
			{"result replaces pending", version("v2", processedAt(2*time.Second)), "", "v2"},
			{"pending after result loses", enricher.Item{TicketID: "T-c", CreatedAt: 1717243200, Status: enricher.StatusPending, Summary: "pending again"}, enricher.ECONFLICT, "v2"},
			{"older loses", version("v1", processedAt(time.Second)), enricher.ECONFLICT, "v2"},
			{"older by a millisecond loses", version("v1b", processedAt(2*time.Second-time.Millisecond)), enricher.ECONFLICT, "v2"},
			{"equal overwrites (retry)", version("v2 retried", processedAt(2*time.Second)), "", "v2 retried"},
			{"newer wins", version("v3", processedAt(3*time.Second)), "", "v3"},
			{"newer by a day wins", version("v4", processedAt(24*time.Hour)), "", "v4"},
		}
		for _, s := range steps {
			err := tbl.PutItem(ctx, s.put)
			if s.wantCode == "" {
				MustNoError(t, err, s.name)
			} else {
				MustCode(t, err, s.wantCode)
			}
			got, err := tbl.GetItem(ctx, "T-c")
			MustNoError(t, err, s.name+": get")
			if got.Summary != s.stored {
				t.Errorf("%s: got stored summary %q, want %q", s.name, got.Summary, s.stored)
			}
		}
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		ctx := context.Background()
		const writers = 8
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range 5 {
					it := NewItem("T-race", 1717243200, enricher.Low, "bug_report", processedAt(time.Duration(i*writers+w)*time.Second))
					it.Summary = fmt.Sprintf("writer %d put %d", w, i)
					if err := tbl.PutItem(ctx, it); err != nil && enricher.ErrorCode(err) != enricher.ECONFLICT {
						t.Errorf("writer %d put %d: got error %v, want none or %s", w, i, err, enricher.ECONFLICT)
					}
				}
			})
		}
		wg.Wait()
		got, err := tbl.GetItem(ctx, "T-race")
		MustNoError(t, err, "get")
		if want := processedAt((5*writers - 1) * time.Second); got.ProcessedAt != want {
			t.Errorf("after racing puts: got processed_at %s, want the latest %s", got.ProcessedAt, want)
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		ctx := context.Background()
		items := listFixture()
		MustPutItems(t, tbl, items)
		tests := []struct {
			name    string
			urgency enricher.Urgency
			intent  string
		}{
			{"all", "", ""},
			{"by urgency", enricher.Critical, ""},
			{"by other urgency", enricher.Low, ""},
			{"by intent", "", "login_issue"},
			{"by urgency and intent", enricher.High, "payment_issue"},
			{"no match", enricher.Medium, "security_concern"},
			{"unknown intent", "", "no_such_intent"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page, err := tbl.ListItems(ctx, enricher.ListFilter{Urgency: tt.urgency, Intent: tt.intent})
				MustNoError(t, err, "list")
				want := expectedOrder(items, tt.urgency, tt.intent)
				if got := idsOf(page.Items); !slices.Equal(got, want) {
					t.Errorf("list %s:\n got %v\nwant %v", tt.name, got, want)
				}
				if page.NextCursor != "" {
					t.Errorf("list %s: got next cursor %q on the only page, want none", tt.name, page.NextCursor)
				}
				for _, it := range page.Items {
					if w := itemByID(items, it.TicketID); !reflect.DeepEqual(it, w) {
						t.Errorf("list %s: item %s:\n got %+v\nwant %+v", tt.name, it.TicketID, it, w)
					}
				}
			})
		}
	})

	t.Run("UnknownUrgency", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		_, err := tbl.ListItems(context.Background(), enricher.ListFilter{Urgency: "urgent"})
		MustCode(t, err, enricher.EINVALID)
	})

	t.Run("Pagination", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		items := listFixture()
		MustPutItems(t, tbl, items)
		for _, tt := range []struct {
			name    string
			urgency enricher.Urgency
			intent  string
			limit   int
		}{
			{"all by 1", "", "", 1},
			{"all by 3", "", "", 3},
			{"all by 4", "", "", 4},
			{"all in one exact page", "", "", len(items)},
			{"urgency by 2", enricher.Critical, "", 2},
			{"intent by 2", "", "login_issue", 2},
			{"both by 1", enricher.High, "payment_issue", 1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				want := expectedOrder(items, tt.urgency, tt.intent)
				got := MustListAll(t, tbl, enricher.ListFilter{Urgency: tt.urgency, Intent: tt.intent, Limit: tt.limit}, tt.limit)
				if !slices.Equal(idsOf(got), want) {
					t.Errorf("pages of %d:\n got %v\nwant %v", tt.limit, idsOf(got), want)
				}
			})
		}
	})

	t.Run("PaginationWithConcurrentInserts", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		ctx := context.Background()
		items := listFixture()
		MustPutItems(t, tbl, items)
		want := expectedOrder(items, "", "")
		var got []string
		f := enricher.ListFilter{Limit: 3}
		for page := 0; ; page++ {
			p, err := tbl.ListItems(ctx, f)
			MustNoError(t, err, fmt.Sprintf("list page %d", page))
			got = append(got, idsOf(p.Items)...)
			if p.NextCursor == "" {
				break
			}
			// A newer ticket arrives between pages: it belongs before
			// the cursor, so it must not appear in later pages nor
			// shift them.
			MustNoError(t, tbl.PutItem(ctx, NewItem(fmt.Sprintf("T-new-%d", page), 1717300000+int64(page), enricher.Low, "bug_report", processedAt(0))), "put newer")
			f.Cursor = p.NextCursor
			if page > len(items) {
				t.Fatalf("got more than %d pages, want pagination to end", page)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages with inserts in between:\n got %v\nwant %v", got, want)
		}
	})

	t.Run("Limits", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		ctx := context.Background()
		items := make([]enricher.Item, enricher.MaxListLimit+1)
		for i := range items {
			items[i] = NewItem(fmt.Sprintf("T-%04d", i), 1717243200+int64(i), enricher.Medium, "bug_report", processedAt(0))
		}
		MustPutItems(t, tbl, items)
		for _, tt := range []struct {
			name  string
			limit int
			want  int
		}{
			{"default", 0, enricher.DefaultListLimit},
			{"one", 1, 1},
			{"explicit", 120, 120},
			{"max", enricher.MaxListLimit, enricher.MaxListLimit},
			{"above max is capped", enricher.MaxListLimit + 100, enricher.MaxListLimit},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p, err := tbl.ListItems(ctx, enricher.ListFilter{Limit: tt.limit})
				MustNoError(t, err, "list")
				if len(p.Items) != tt.want {
					t.Errorf("limit %d: got %d items, want %d", tt.limit, len(p.Items), tt.want)
				}
				if p.NextCursor == "" {
					t.Errorf("limit %d of %d items: got no next cursor, want one", tt.limit, len(items))
				}
				if len(p.Items) > 0 && p.Items[0].TicketID != items[len(items)-1].TicketID {
					t.Errorf("limit %d: got first item %s, want the newest %s", tt.limit, p.Items[0].TicketID, items[len(items)-1].TicketID)
				}
			})
		}
		t.Run("negative", func(t *testing.T) {
			_, err := tbl.ListItems(ctx, enricher.ListFilter{Limit: -1})
			MustCode(t, err, enricher.EINVALID)
		})
	})

	t.Run("BadCursor", func(t *testing.T) {
		t.Parallel()
		tbl := newTable(t)
		ctx := context.Background()
		MustPutItems(t, tbl, listFixture())
		for _, c := range []string{"%%%not base64%%%", "bm90IGEgY3Vyc29y", "e30", "AAAA", strings.Repeat("A", 5000)} {
			t.Run(c[:min(len(c), 16)], func(t *testing.T) {
				_, err := tbl.ListItems(ctx, enricher.ListFilter{Cursor: c})
				MustCode(t, err, enricher.EINVALID)
			})
		}
	})
}

// listFixture returns items over several urgencies, intents and creation
// times, with ties on created_at that the ticket id must order.
func listFixture() []enricher.Item {
	type row struct {
		id      string
		created int64
		urgency enricher.Urgency
		intent  string
	}
	rows := []row{
		{"T-a", 1717000000, enricher.Critical, "login_issue"},
		{"T-b", 1717000100, enricher.High, "payment_issue"},
		{"T-c", 1717000100, enricher.Critical, "payment_issue"}, // tie with T-b
		{"T-d", 1717000200, enricher.Low, "login_issue"},
		{"T-e", 1717000300, enricher.High, "payment_issue"},
		{"T-f", 1717000300, enricher.High, "payment_issue"}, // tie with T-e
		{"T-g", 1717000300, enricher.Medium, "bug_report"},  // three-way tie
		{"T-h", 1717000400, enricher.Critical, "login_issue"},
		{"T-i", 1716000000, enricher.Low, "feature_request"},
		{"T-j", 1718000000, enricher.Critical, "security_concern"},
		{"T-k", 1717000050, enricher.High, "login_issue"},
		{"T-l", 1717000250, enricher.Medium, "payment_issue"},
		{"T-m", 1717000400, enricher.Critical, "bug_report"}, // tie with T-h
	}
	items := make([]enricher.Item, 0, len(rows)+1)
	for i, r := range rows {
		items = append(items, NewItem(r.id, r.created, r.urgency, r.intent, processedAt(time.Duration(i)*time.Second)))
	}
	// A failed ticket has no urgency and no intent: it is listed only
	// without filters.
	items = append(items, enricher.Item{TicketID: "T-x", CreatedAt: 1717000350, CustomerID: "c", ProcessedAt: processedAt(0),
		Status: enricher.StatusFailed, Failure: &enricher.Failure{Code: "invalid_ticket", Message: "body: not a string"}})
	return items
}

// expectedOrder filters items as ListItems must and sorts them newest first,
// ties broken by ticket id, descending.
// expectedOrder is what ListItems returns: the items with an urgency (a
// table lists tickets by urgency; failed tickets have none and are found by
// id), filtered, newest first.
func expectedOrder(items []enricher.Item, urgency enricher.Urgency, intent string) []string {
	var sel []enricher.Item
	for _, it := range items {
		if it.Urgency != "" && (urgency == "" || it.Urgency == urgency) && (intent == "" || it.Intent == intent) {
			sel = append(sel, it)
		}
	}
	slices.SortFunc(sel, func(a, b enricher.Item) int {
		if a.CreatedAt != b.CreatedAt {
			return compareInt(b.CreatedAt, a.CreatedAt)
		}
		return strings.Compare(b.TicketID, a.TicketID)
	})
	return idsOf(sel)
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func idsOf(items []enricher.Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.TicketID
	}
	return ids
}

func itemByID(items []enricher.Item, id string) enricher.Item {
	for _, it := range items {
		if it.TicketID == id {
			return it
		}
	}
	return enricher.Item{}
}

// MustPutItems puts items with a few concurrent writers, failing the test on
// any error.
func MustPutItems(tb testing.TB, tbl enricher.Table, items []enricher.Item) {
	tb.Helper()
	ctx := context.Background()
	const writers = 8
	errs := make(chan error, len(items))
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < len(items); i += writers {
				if err := tbl.PutItem(ctx, items[i]); err != nil {
					errs <- fmt.Errorf("put %s: %w", items[i].TicketID, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// MustListAll follows the cursors from the first page of f to the last,
// failing the test if a page is larger than limit, if a non-last page is
// empty, or if an item appears twice.
func MustListAll(tb testing.TB, tbl enricher.Table, f enricher.ListFilter, limit int) []enricher.Item {
	tb.Helper()
	ctx := context.Background()
	var all []enricher.Item
	seen := map[string]bool{}
	for page := 0; ; page++ {
		p, err := tbl.ListItems(ctx, f)
		if err != nil {
			tb.Fatalf("list page %d: got error %v, want none", page, err)
		}
		if len(p.Items) > limit {
			tb.Fatalf("page %d: got %d items, want at most %d", page, len(p.Items), limit)
		}
		for _, it := range p.Items {
			if seen[it.TicketID] {
				tb.Fatalf("page %d: got %s again, want no duplicates across pages", page, it.TicketID)
			}
			seen[it.TicketID] = true
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all
		}
		if len(p.Items) == 0 {
			tb.Fatalf("page %d: got no items and next cursor %q, want items or the end", page, p.NextCursor)
		}
		if page > 10000 {
			tb.Fatalf("got more than %d pages, want pagination to end", page)
		}
		f.Cursor = p.NextCursor
	}
}
