package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/awstest"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// emulator is one moto server shared by the subtests of a top-level test,
// each on its own table.
type emulator struct {
	srv    *awstest.Server
	cfg    aws.Config
	client *awsdynamodb.Client
	n      atomic.Int64
}

// MustEmulator starts moto for the test.
func MustEmulator(tb testing.TB) *emulator {
	tb.Helper()
	srv := awstest.Start(tb)
	cfg := srv.Config(tb)
	return &emulator{srv: srv, cfg: cfg, client: awsdynamodb.NewFromConfig(cfg)}
}

// name returns a table name no other subtest uses.
func (e *emulator) name() string { return fmt.Sprintf("tickets-%d", e.n.Add(1)) }

// MustTable creates a fresh table with EnsureTable and returns the adapter
// over it.
func (e *emulator) MustTable(tb testing.TB) *Table {
	tb.Helper()
	name := e.name()
	created, err := EnsureTable(context.Background(), e.client, name)
	if err != nil {
		tb.Fatalf("ensure table %s: %v\n%s", name, err, e.srv.Logs())
	}
	if !created {
		tb.Fatalf("ensure table %s: got created false for a new table, want true", name)
	}
	tbl, err := New(e.cfg, name)
	if err != nil {
		tb.Fatalf("new table %s: %v", name, err)
	}
	return tbl
}

// MustStored returns every item the table holds for a ticket, read straight
// from DynamoDB, bypassing GetItem's choice of the newest.
func MustStored(tb testing.TB, tbl *Table, ticketID string) []enricher.Item {
	tb.Helper()
	avs, err := tbl.query(context.Background(), ticketID, nil)
	if err != nil {
		tb.Fatalf("query items of %s: %v", ticketID, err)
	}
	items := make([]enricher.Item, len(avs))
	for i, av := range avs {
		if items[i], err = unmarshalItem(av); err != nil {
			tb.Fatalf("decode item of %s: %v", ticketID, err)
		}
	}
	return items
}

// at returns the contract timestamp s seconds after a fixed time.
func at(s int) string {
	return enricher.FormatTime(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second))
}

// failedItem is the item of a ticket that failed before its created_at was
// known.
func failedItem(id, processedAt string) enricher.Item {
	return enricher.Item{TicketID: id, ProcessedAt: processedAt, S3Key: id + ".json", Status: enricher.StatusFailed,
		Failure: &enricher.Failure{Code: "model_error", Message: "out of memory"}}
}

func TestTable_Contract(t *testing.T) {
	e := MustEmulator(t)
	enrichertest.TestTable(t, func(t *testing.T) enricher.Table { return e.MustTable(t) })
}

func TestNew(t *testing.T) {
	cfg := aws.Config{Region: awstest.Region}
	for _, tt := range []struct {
		name     string
		table    string
		wantCode string
	}{
		{"default", "tickets", ""},
		{"dots dashes underscores", "my.tickets-v2_x", ""},
		{"empty", "", enricher.EINVALID},
		{"too short", "ab", enricher.EINVALID},
		{"slash", "a/b/c", enricher.EINVALID},
		{"too long", strings.Repeat("t", 256), enricher.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := New(cfg, tt.table)
			if tt.wantCode != "" {
				enrichertest.MustCode(t, err, tt.wantCode)
				return
			}
			enrichertest.MustNoError(t, err, "new")
			if tbl.name != tt.table {
				t.Errorf("got table name %q, want %q", tbl.name, tt.table)
			}
		})
	}
}

func TestTable_PutItem(t *testing.T) {
	e := MustEmulator(t)
	ctx := context.Background()
	enriched := func(id string, createdAt int64, processedAt string) enricher.Item {
		return enrichertest.NewItem(id, createdAt, enricher.High, "bug_report", processedAt)
	}
	pending := enricher.Item{TicketID: "T-1", CreatedAt: 0, Status: enricher.StatusPending}
	tests := []struct {
		name     string
		puts     []enricher.Item
		lastCode string        // code of the last put, "" for success
		want     enricher.Item // the one item stored afterwards
	}{
		{"failed then enriched replaces", []enricher.Item{failedItem("T-1", at(1)), enriched("T-1", 1717243200, at(2))}, "", enriched("T-1", 1717243200, at(2))},
		{"enriched then older failed loses", []enricher.Item{enriched("T-1", 1717243200, at(2)), failedItem("T-1", at(1))}, enricher.ECONFLICT, enriched("T-1", 1717243200, at(2))},
		{"enriched then newer failed replaces", []enricher.Item{enriched("T-1", 1717243200, at(1)), failedItem("T-1", at(2))}, "", failedItem("T-1", at(2))},
		{"equal processed_at under another created_at replaces", []enricher.Item{failedItem("T-1", at(1)), enriched("T-1", 1717243200, at(1))}, "", enriched("T-1", 1717243200, at(1))},
		{"pending then enriched replaces", []enricher.Item{pending, enriched("T-1", 1717243200, at(1))}, "", enriched("T-1", 1717243200, at(1))},
		{"pending after enriched loses", []enricher.Item{enriched("T-1", 1717243200, at(1)), pending}, enricher.ECONFLICT, enriched("T-1", 1717243200, at(1))},
		{"pending twice overwrites", []enricher.Item{pending, pending}, "", pending},
		{"three created_at in turn leave one", []enricher.Item{failedItem("T-1", at(1)), enriched("T-1", 5, at(2)), enriched("T-1", 1717243200, at(3))}, "", enriched("T-1", 1717243200, at(3))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tbl := e.MustTable(t)
			var err error
			for i, it := range tt.puts {
				err = tbl.PutItem(ctx, it)
				if i < len(tt.puts)-1 {
					enrichertest.MustNoError(t, err, fmt.Sprintf("put %d", i))
				}
			}
			if tt.lastCode == "" {
				enrichertest.MustNoError(t, err, "last put")
			} else {
				enrichertest.MustCode(t, err, tt.lastCode)
			}
			stored := MustStored(t, tbl, "T-1")
			if len(stored) != 1 || !equalItems(stored[0], tt.want) {
				t.Fatalf("got stored items %+v, want exactly %+v", stored, tt.want)
			}
			got, err := tbl.GetItem(ctx, "T-1")
			enrichertest.MustNoError(t, err, "get")
			if !equalItems(got, tt.want) {
				t.Errorf("get: got %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("conflict names both times", func(t *testing.T) {
		t.Parallel()
		tbl := e.MustTable(t)
		enrichertest.MustNoError(t, tbl.PutItem(ctx, enriched("T-1", 1717243200, at(9))), "put newer")
		err := tbl.PutItem(ctx, failedItem("T-1", at(3)))
		enrichertest.MustCode(t, err, enricher.ECONFLICT)
		if msg := err.Error(); !strings.Contains(msg, at(9)) || !strings.Contains(msg, at(3)) {
			t.Errorf("conflict error: got %q, want it to name %s and %s", msg, at(9), at(3))
		}
	})

	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		tbl := e.MustTable(t)
		nan := enriched("T-nan", 1, at(0))
		nan.UrgencyConfidence = float64(0) / zero()
		urgent := enriched("T-urgent", 1, at(0))
		urgent.Urgency = "urgent"
		for _, tt := range []struct {
			name string
			item enricher.Item
		}{
			{"empty id", enriched("", 1, at(0))},
			{"processed_at without milliseconds", enriched("T-ms", 1, "2024-06-01T12:00:00Z")},
			{"processed_at with an offset", enriched("T-off", 1, "2024-06-01T14:00:00.000+02:00")},
			{"unknown urgency", urgent},
			{"NaN confidence", nan},
		} {
			t.Run(tt.name, func(t *testing.T) {
				enrichertest.MustCode(t, tbl.PutItem(ctx, tt.item), enricher.EINVALID)
				if tt.item.TicketID != "" {
					if stored := MustStored(t, tbl, tt.item.TicketID); len(stored) != 0 {
						t.Errorf("after a refused put: got %d stored items, want 0", len(stored))
					}
				}
			})
		}
	})

	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		tbl := e.MustTable(t)
		big := enriched("T-big", 1, at(0))
		big.Summary = strings.Repeat("x", 410*1024)
		enrichertest.MustCode(t, tbl.PutItem(ctx, big), enricher.ETOOLARGE)
	})

	t.Run("racing writes under two created_at converge to one item", func(t *testing.T) {
		t.Parallel()
		tbl := e.MustTable(t)
		const writers, rounds = 6, 3
		for round := range rounds {
			id := fmt.Sprintf("T-race-%d", round)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					// Half the writers record a failure under
					// created_at 0, half the result under the
					// real time, each with its own processed_at.
					it := enriched(id, 1717243200, at(w))
					if w%2 == 0 {
						it = failedItem(id, at(w))
					}
					if err := tbl.PutItem(ctx, it); err != nil && enricher.ErrorCode(err) != enricher.ECONFLICT {
						t.Errorf("writer %d: got error %v, want none or %s", w, err, enricher.ECONFLICT)
					}
				})
			}
			wg.Wait()
			stored := MustStored(t, tbl, id)
			if len(stored) != 1 || stored[0].ProcessedAt != at(writers-1) {
				t.Errorf("round %d: got stored items %+v, want one with processed_at %s", round, stored, at(writers-1))
			}
		}
	})
}

// zero hides a constant zero from the compiler, which refuses 0/0.
func zero() float64 { return 0 }

// equalItems compares items field by field, failures by value.
func equalItems(a, b enricher.Item) bool {
	fa, fb := a.Failure, b.Failure
	a.Failure, b.Failure = nil, nil
	if a != b {
		return false
	}
	if fa == nil || fb == nil {
		return fa == fb
	}
	return *fa == *fb
}

func TestTable_ListItems(t *testing.T) {
	e := MustEmulator(t)
	ctx := context.Background()

	t.Run("ties in the index are ordered by ticket id across pages", func(t *testing.T) {
		t.Parallel()
		tbl := e.MustTable(t)
		// Seven tickets share one created_at, more than one query
		// page of the smaller limits holds, and were written in an
		// order unrelated to their ids.
		var items []enricher.Item
		for i, id := range []string{"T-d", "T-g", "T-a", "T-f", "T-c", "T-e", "T-b"} {
			items = append(items, enrichertest.NewItem(id, 1717000000, enricher.Critical, "bug_report", at(i)))
		}
		items = append(items,
			enrichertest.NewItem("T-newest", 1717000100, enricher.Critical, "bug_report", at(0)),
			enrichertest.NewItem("T-oldest", 1716000000, enricher.Critical, "bug_report", at(0)),
			enrichertest.NewItem("T-other", 1717000000, enricher.Low, "bug_report", at(0)),
		)
		for _, it := range items {
			enrichertest.MustNoError(t, tbl.PutItem(ctx, it), "put "+it.TicketID)
		}
		wantCritical := []string{"T-newest", "T-g", "T-f", "T-e", "T-d", "T-c", "T-b", "T-a", "T-oldest"}
		wantAll := []string{"T-newest", "T-other", "T-g", "T-f", "T-e", "T-d", "T-c", "T-b", "T-a", "T-oldest"}
		for _, tt := range []struct {
			urgency enricher.Urgency
			limit   int
			want    []string
		}{
			{enricher.Critical, 1, wantCritical},
			{enricher.Critical, 2, wantCritical},
			{enricher.Critical, 3, wantCritical},
			{enricher.Critical, 50, wantCritical},
			{"", 1, wantAll},
			{"", 4, wantAll},
			{"", 50, wantAll},
		} {
			t.Run(fmt.Sprintf("%s by %d", cmpOr(string(tt.urgency), "all"), tt.limit), func(t *testing.T) {
				got := enrichertest.MustListAll(t, tbl, enricher.ListFilter{Urgency: tt.urgency, Limit: tt.limit}, tt.limit)
				if ids := idsOf(got); !slices.Equal(ids, tt.want) {
					t.Errorf("got %v, want %v", ids, tt.want)
				}
			})
		}
	})

	t.Run("a filter that drops most items still fills the page", func(t *testing.T) {
		t.Parallel()
		tbl := e.MustTable(t)
		var items []enricher.Item
		for i := range 40 {
			items = append(items, enrichertest.NewItem(fmt.Sprintf("T-%02d", i), 1717000000+int64(i), enricher.High, "bug_report", at(0)))
		}
		items = append(items, enrichertest.NewItem("T-rare", 1716000000, enricher.High, "security_concern", at(0)))
		enrichertest.MustPutItems(t, tbl, items)
		for _, tt := range []struct {
			name    string
			urgency enricher.Urgency
			intent  string
			want    []string
		}{
			{"rare intent at the end", "", "security_concern", []string{"T-rare"}},
			{"rare intent by urgency", enricher.High, "security_concern", []string{"T-rare"}},
			{"no match", enricher.High, "login_issue", nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p, err := tbl.ListItems(ctx, enricher.ListFilter{Urgency: tt.urgency, Intent: tt.intent, Limit: 1})
				enrichertest.MustNoError(t, err, "list")
				if ids := idsOf(p.Items); !slices.Equal(ids, tt.want) || p.NextCursor != "" {
					t.Errorf("got %v with next cursor %q, want %v and no cursor", ids, p.NextCursor, tt.want)
				}
			})
		}
	})

	t.Run("items without urgency are found by id only", func(t *testing.T) {
		t.Parallel()
		tbl := e.MustTable(t)
		enrichertest.MustNoError(t, tbl.PutItem(ctx, enrichertest.NewItem("T-ok", 1717000000, enricher.Medium, "bug_report", at(0))), "put enriched")
		enrichertest.MustNoError(t, tbl.PutItem(ctx, failedItem("T-failed", at(0))), "put failed")
		p, err := tbl.ListItems(ctx, enricher.ListFilter{})
		enrichertest.MustNoError(t, err, "list")
		if ids := idsOf(p.Items); !slices.Equal(ids, []string{"T-ok"}) {
			t.Errorf("list: got %v, want [T-ok]", ids)
		}
		if _, err := tbl.GetItem(ctx, "T-failed"); err != nil {
			t.Errorf("get T-failed: got %v, want the item", err)
		}
	})
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func idsOf(items []enricher.Item) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.TicketID)
	}
	return ids
}

// TestTable_MissingTable checks that a table that was never set up is
// ENOTREADY, which tells the operator to run `enricher setup`.
func TestTable_MissingTable(t *testing.T) {
	e := MustEmulator(t)
	tbl, err := New(e.cfg, "never-created")
	enrichertest.MustNoError(t, err, "new")
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"PutItem", func() error { return tbl.PutItem(ctx, failedItem("T-1", at(0))) }},
		{"GetItem", func() error { _, err := tbl.GetItem(ctx, "T-1"); return err }},
		{"ListItems", func() error { _, err := tbl.ListItems(ctx, enricher.ListFilter{}); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) { enrichertest.MustCode(t, tt.call(), enricher.ENOTREADY) })
	}
}

// fakeAPI is a DynamoDB client at the seam of Table: Query returns pages,
// one per call, then nothing; PutItem answers with the errors in putErrs,
// one per call, then succeeds.
type fakeAPI struct {
	mu      sync.Mutex
	pages   []*awsdynamodb.QueryOutput
	putErrs []error
	puts    int
}

func (f *fakeAPI) Query(context.Context, *awsdynamodb.QueryInput, ...func(*awsdynamodb.Options)) (*awsdynamodb.QueryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pages) == 0 {
		return &awsdynamodb.QueryOutput{}, nil
	}
	out := f.pages[0]
	f.pages = f.pages[1:]
	return out, nil
}

func (f *fakeAPI) PutItem(context.Context, *awsdynamodb.PutItemInput, ...func(*awsdynamodb.Options)) (*awsdynamodb.PutItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	if len(f.putErrs) > 0 {
		err := f.putErrs[0]
		f.putErrs = f.putErrs[1:]
		return nil, err
	}
	return &awsdynamodb.PutItemOutput{}, nil
}

func (f *fakeAPI) DeleteItem(context.Context, *awsdynamodb.DeleteItemInput, ...func(*awsdynamodb.Options)) (*awsdynamodb.DeleteItemOutput, error) {
	return &awsdynamodb.DeleteItemOutput{}, nil
}

func (f *fakeAPI) TransactWriteItems(context.Context, *awsdynamodb.TransactWriteItemsInput, ...func(*awsdynamodb.Options)) (*awsdynamodb.TransactWriteItemsOutput, error) {
	return &awsdynamodb.TransactWriteItemsOutput{}, nil
}

// TestTable_PutItemRetries checks the races DynamoDB reports instead of
// serializing, which moto never produces: PutItem starts over on them, up to
// maxAttempts, and on nothing else.
func TestTable_PutItemRetries(t *testing.T) {
	txConflict := &types.TransactionConflictException{Message: aws.String("transaction in progress")}
	canceled := func(code string) error {
		return &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String(code)}}}
	}
	other := errors.New("connection reset")
	for _, tt := range []struct {
		name      string
		errs      []error
		wantCode  string // "" for success
		wantPuts  int
		wantCause error
	}{
		{"conflict once", []error{txConflict}, "", 2, nil},
		{"cancelled by a transaction conflict", []error{canceled("TransactionConflict"), canceled("ThrottlingError")}, "", 3, nil},
		{"conflicts until the last attempt", slices.Repeat([]error{txConflict}, maxAttempts-1), "", maxAttempts, nil},
		{"conflicts past the last attempt", slices.Repeat([]error{txConflict}, maxAttempts), enricher.EINTERNAL, maxAttempts, txConflict},
		{"condition failure is a conflict, not retried", []error{&types.ConditionalCheckFailedException{}}, enricher.ECONFLICT, 1, nil},
		{"cancelled by a condition is a conflict", []error{canceled("ConditionalCheckFailed")}, enricher.ECONFLICT, 1, nil},
		{"other errors are not retried", []error{other}, enricher.EINTERNAL, 1, other},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeAPI{putErrs: slices.Clone(tt.errs)}
			tbl := &Table{client: fake, name: "tickets"}
			err := tbl.PutItem(context.Background(), failedItem("T-1", at(0)))
			if tt.wantCode == "" {
				enrichertest.MustNoError(t, err, "put")
			} else if got := enricher.ErrorCode(err); got != tt.wantCode {
				t.Errorf("got error %v (code %s), want code %s", err, got, tt.wantCode)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("got error %v, want it to wrap %v", err, tt.wantCause)
			}
			if fake.puts != tt.wantPuts {
				t.Errorf("got %d put calls, want %d", fake.puts, tt.wantPuts)
			}
		})
	}
}

// TestTable_ListItemsTies checks the order of items that share created_at
// when the index returns them out of ticket id order and split across
// pages, as DynamoDB may (it orders an index by its keys only; moto happens
// to return ties sorted).
func TestTable_ListItemsTies(t *testing.T) {
	page := func(last bool, items ...enricher.Item) *awsdynamodb.QueryOutput {
		out := &awsdynamodb.QueryOutput{}
		for _, it := range items {
			av, err := marshalItem(it)
			if err != nil {
				t.Fatalf("marshal %s: %v", it.TicketID, err)
			}
			out.Items = append(out.Items, av)
		}
		if !last {
			out.LastEvaluatedKey = keyOf(items[len(items)-1].TicketID, items[len(items)-1].CreatedAt)
		}
		return out
	}
	item := func(id string, createdAt int64) enricher.Item {
		return enrichertest.NewItem(id, createdAt, enricher.Critical, "bug_report", at(0))
	}
	pages := func() []*awsdynamodb.QueryOutput {
		return []*awsdynamodb.QueryOutput{
			page(false, item("T-b", 100), item("T-d", 100)),
			page(false, item("T-c", 100)),
			page(true, item("T-a", 90)),
		}
	}
	for _, tt := range []struct {
		name   string
		cursor string
		want   []string
	}{
		{"first page", "", []string{"T-d", "T-c", "T-b", "T-a"}},
		{"after a tie", enricher.EncodeCursor(item("T-c", 100)), []string{"T-b", "T-a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tbl := &Table{client: &fakeAPI{pages: pages()}, name: "tickets"}
			p, err := tbl.ListItems(context.Background(), enricher.ListFilter{Urgency: enricher.Critical, Cursor: tt.cursor})
			enrichertest.MustNoError(t, err, "list")
			if ids := idsOf(p.Items); !slices.Equal(ids, tt.want) || p.NextCursor != "" {
				t.Errorf("got %v with next cursor %q, want %v and none", ids, p.NextCursor, tt.want)
			}
		})
	}
}
