package sqlite

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

func TestNewTable(t *testing.T) {
	_, err := NewTable(nil)
	enrichertest.MustCode(t, err, enricher.EINVALID)
}

func TestTable_PutItem(t *testing.T) {
	ctx := context.Background()
	tbl := MustTable(t, MustOpen(t))
	tests := []struct {
		name        string
		processedAt string
		wantCode    string
	}{
		{"FormatTime", enricher.FormatTime(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)), ""},
		{"empty (pending)", "", ""},
		{"no milliseconds", "2024-06-01T12:00:00Z", enricher.EINVALID},
		{"nanoseconds", "2024-06-01T12:00:00.000000001Z", enricher.EINVALID},
		{"offset", "2024-06-01T14:00:00.000+02:00", enricher.EINVALID},
		{"not a time", "yesterday", enricher.EINVALID},
		{"invalid date", "2024-02-30T12:00:00.000Z", enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "T-" + strings.ReplaceAll(tt.name, " ", "-")
			err := tbl.PutItem(ctx, enrichertest.NewItem(id, 1, enricher.Low, "bug_report", tt.processedAt))
			if tt.wantCode != "" {
				enrichertest.MustCode(t, err, tt.wantCode)
				if _, err := tbl.GetItem(ctx, id); enricher.ErrorCode(err) != enricher.ENOTFOUND {
					t.Errorf("after a refused put: got %v from GetItem, want ENOTFOUND", err)
				}
				return
			}
			enrichertest.MustNoError(t, err, "put")
		})
	}
	t.Run("conflict names both times", func(t *testing.T) {
		newer := enricher.FormatTime(time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC))
		older := enricher.FormatTime(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
		enrichertest.MustNoError(t, tbl.PutItem(ctx, enrichertest.NewItem("T-conflict", 1, enricher.Low, "bug_report", newer)), "put newer")
		err := tbl.PutItem(ctx, enrichertest.NewItem("T-conflict", 1, enricher.Low, "bug_report", older))
		enrichertest.MustCode(t, err, enricher.ECONFLICT)
		if msg := err.Error(); !strings.Contains(msg, newer) || !strings.Contains(msg, older) {
			t.Errorf("conflict error: got %q, want it to name %s and %s", msg, newer, older)
		}
	})
}

func TestTable_ListItems(t *testing.T) {
	ctx := context.Background()
	tbl := MustTable(t, MustOpen(t))
	for _, it := range []enricher.Item{
		enrichertest.NewItem("T-1", 100, enricher.High, "bug_report", ""),
		enrichertest.NewItem("T-2", 200, enricher.High, "bug_report", ""),
		enrichertest.NewItem("T-3", 300, enricher.Low, "bug_report", ""),
	} {
		enrichertest.MustNoError(t, tbl.PutItem(ctx, it), "put")
	}
	first, err := tbl.ListItems(ctx, enricher.ListFilter{Limit: 1})
	enrichertest.MustNoError(t, err, "first page")
	t.Run("cursor is the last item's sort key", func(t *testing.T) {
		c, err := enricher.DecodeCursor(first.NextCursor)
		enrichertest.MustNoError(t, err, "decode cursor")
		if c.CreatedAt != 300 || c.TicketID != "T-3" {
			t.Errorf("cursor: got %+v, want created_at 300 and ticket T-3", c)
		}
	})
	t.Run("cursor is a position under another filter", func(t *testing.T) {
		p, err := tbl.ListItems(ctx, enricher.ListFilter{Urgency: enricher.High, Cursor: first.NextCursor})
		enrichertest.MustNoError(t, err, "list")
		if got := ids(p.Items); got != "T-2 T-1" {
			t.Errorf("high after T-3: got %s, want T-2 T-1", got)
		}
	})
	bad := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct{ name, cursor string }{
		{"no ticket", bad(`{"c":1}`)},
		{"no created_at", bad(`{"t":"T-1"}`)},
		{"unknown field", bad(`{"c":1,"t":"T-1","x":2}`)},
		{"trailing data", bad(`{"c":1,"t":"T-1"}{}`)},
		{"wrong type", bad(`{"c":"1","t":"T-1"}`)},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte(`{"c":1,"t":"T-1"}`))},
		{"too long", strings.Repeat("A", 513)},
	} {
		t.Run("bad cursor "+c.name, func(t *testing.T) {
			_, err := tbl.ListItems(ctx, enricher.ListFilter{Cursor: c.cursor})
			enrichertest.MustCode(t, err, enricher.EINVALID)
		})
	}
}

func TestTable_ListItemsUsesIndexes(t *testing.T) {
	// Every list query must be an index range scan in the wanted order,
	// never a scan of the table followed by a sort.
	ctx := context.Background()
	db := MustOpen(t)
	tests := []struct {
		name      string
		where     string
		args      []any
		wantIndex string
	}{
		{"all", "", nil, "items_created"},
		{"all after cursor", "WHERE created_at <= ? AND (created_at < ? OR ticket_id < ?)", []any{1, 1, "T"}, "items_created"},
		{"urgency", "WHERE urgency = ?", []any{"high"}, "items_urgency"},
		{"urgency after cursor", "WHERE urgency = ? AND created_at <= ? AND (created_at < ? OR ticket_id < ?)", []any{"high", 1, 1, "T"}, "items_urgency"},
		{"intent", "WHERE intent = ?", []any{"bug_report"}, "items_intent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.read.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT "+itemColumns+" FROM items "+tt.where+" ORDER BY created_at DESC, ticket_id DESC LIMIT 51", tt.args...)
			enrichertest.MustNoError(t, err, "explain")
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				enrichertest.MustNoError(t, rows.Scan(&id, &parent, &notused, &detail), "scan plan")
				plan = append(plan, detail)
			}
			joined := strings.Join(plan, "; ")
			if !strings.Contains(joined, tt.wantIndex) || strings.Contains(joined, "TEMP B-TREE") {
				t.Errorf("plan: got %q, want %s without a temporary sort", joined, tt.wantIndex)
			}
		})
	}
}

func ids(items []enricher.Item) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = it.TicketID
	}
	return strings.Join(s, " ")
}
