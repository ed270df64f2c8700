package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// crashChildEnv names the database a re-executed test binary writes to until
// it is killed; see TestDB_SurvivesKill.
const crashChildEnv = "ENRICHER_SQLITE_CRASH_CHILD_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

// MustOpen opens a new database in a temporary directory, closed when the
// test ends.
func MustOpen(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "data", "enricher.db"))
	if err != nil {
		tb.Fatalf("open database: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close database: %v", err)
		}
	})
	return db
}

// MustQueue returns the queue name of db, failing the test on error.
func MustQueue(tb testing.TB, db *DB, name string, opts QueueOptions) *Queue {
	tb.Helper()
	q, err := NewQueue(db, name, opts)
	if err != nil {
		tb.Fatalf("new queue %s: %v", name, err)
	}
	return q
}

// MustTable returns the table of db, failing the test on error.
func MustTable(tb testing.TB, db *DB) *Table {
	tb.Helper()
	tbl, err := NewTable(db)
	if err != nil {
		tb.Fatalf("new table: %v", err)
	}
	return tbl
}

func TestQueue_Contract(t *testing.T) {
	// All the contract's queues share one database, as the service's
	// queue and dead-letter queue do, which also checks that named queues
	// are independent.
	db := MustOpen(t)
	var n atomic.Int64
	enrichertest.TestQueue(t, func(t *testing.T, visibility time.Duration, maxReceives int) enricher.Queue {
		return MustQueue(t, db, fmt.Sprintf("contract-%d", n.Add(1)), QueueOptions{VisibilityTimeout: visibility, MaxReceiveCount: maxReceives})
	})
}

func TestTable_Contract(t *testing.T) {
	enrichertest.TestTable(t, func(t *testing.T) enricher.Table { return MustTable(t, MustOpen(t)) })
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("creates parent directories", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "c.db")
		db, err := Open(ctx, path)
		enrichertest.MustNoError(t, err, "open")
		defer db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("stat %s: got %v, want the database file", path, err)
		}
	})
	t.Run("odd characters in the path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "we?ird #name%20.db")
		db, err := Open(ctx, path)
		enrichertest.MustNoError(t, err, "open")
		defer db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("stat %s: got %v, want the database file at exactly that path", path, err)
		}
	})
	t.Run("WAL and schema version", func(t *testing.T) {
		db := MustOpen(t)
		var mode string
		enrichertest.MustNoError(t, db.read.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode), "journal_mode")
		if mode != "wal" {
			t.Errorf("journal mode: got %q, want %q", mode, "wal")
		}
		var sync int
		enrichertest.MustNoError(t, db.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync), "synchronous")
		if sync != 1 {
			t.Errorf("synchronous: got %d, want 1 (NORMAL)", sync)
		}
		var fk int
		enrichertest.MustNoError(t, db.write.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk), "foreign_keys")
		if fk != 1 {
			t.Errorf("foreign_keys: got %d, want 1", fk)
		}
		v, err := db.SchemaVersion(ctx)
		enrichertest.MustNoError(t, err, "schema version")
		if v != len(migrations) {
			t.Errorf("schema version: got %d, want %d", v, len(migrations))
		}
	})
	t.Run("read pool is read-only", func(t *testing.T) {
		db := MustOpen(t)
		if _, err := db.read.ExecContext(ctx, "DELETE FROM items"); err == nil {
			t.Errorf("write on the read pool: got no error, want query_only to refuse it")
		}
	})
	t.Run("newer schema is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new.db")
		db, err := Open(ctx, path)
		enrichertest.MustNoError(t, err, "open")
		_, err = db.write.ExecContext(ctx, "UPDATE schema_version SET version = ?", len(migrations)+1)
		enrichertest.MustNoError(t, err, "bump version")
		enrichertest.MustNoError(t, db.Close(), "close")
		db, err = Open(ctx, path)
		if err == nil {
			db.Close()
			t.Fatalf("open a database of a newer schema: got no error, want one")
		}
		if !strings.Contains(err.Error(), "newer than this program") {
			t.Errorf("open a database of a newer schema: got %v, want it to say the schema is newer", err)
		}
	})
	t.Run("empty path", func(t *testing.T) {
		_, err := Open(ctx, "")
		enrichertest.MustCode(t, err, enricher.EINVALID)
	})
}

func TestDB_Reopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "enricher.db")
	db, err := Open(ctx, path)
	enrichertest.MustNoError(t, err, "open")
	q := MustQueue(t, db, "jobs", QueueOptions{})
	for i := range 3 {
		enrichertest.MustNoError(t, q.Send(ctx, fmt.Appendf(nil, "m%d", i)), "send")
	}
	inFlight := enrichertest.MustReceiveN(t, q, 1, time.Second)[0]
	item := enrichertest.NewItem("T-keep", 1717000000, enricher.High, "bug_report", enricher.FormatTime(time.Now()))
	enrichertest.MustNoError(t, MustTable(t, db).PutItem(ctx, item), "put item")
	enrichertest.MustNoError(t, db.Close(), "close")

	db, err = Open(ctx, path)
	enrichertest.MustNoError(t, err, "reopen")
	defer db.Close()
	got, err := MustTable(t, db).GetItem(ctx, "T-keep")
	enrichertest.MustNoError(t, err, "get item after reopen")
	if got.Summary != item.Summary || got.ProcessedAt != item.ProcessedAt {
		t.Errorf("item after reopen: got %+v, want %+v", got, item)
	}
	q = MustQueue(t, db, "jobs", QueueOptions{})
	msgs := enrichertest.MustReceiveN(t, q, 2, time.Second)
	if string(msgs[0].Body) != "m1" || string(msgs[1].Body) != "m2" {
		t.Errorf("messages after reopen: got %q, %q; want m1, m2 (m0 still in flight)", msgs[0].Body, msgs[1].Body)
	}
	// The receipt of the receive before the restart still works.
	enrichertest.MustNoError(t, q.Ack(ctx, inFlight.Receipt), "ack with a receipt from before the restart")
	st, err := q.Stats(ctx)
	enrichertest.MustNoError(t, err, "stats")
	if st.InFlight != 2 || st.Visible != 0 {
		t.Errorf("stats after reopen: got %+v, want 2 in flight and 0 visible", st)
	}
}

// crashChild is the body of the re-executed test binary: it sends messages
// and puts items as fast as it can, printing the index of each once Send
// and PutItem have returned, until the parent kills it.
func crashChild(path string) int {
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	q, err := NewQueue(db, "crash", QueueOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tbl, _ := NewTable(db)
	w := bufio.NewWriter(os.Stdout)
	for i := range 1_000_000 {
		if err := q.Send(ctx, fmt.Appendf(nil, "m%07d", i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if err := tbl.PutItem(ctx, enrichertest.NewItem(fmt.Sprintf("T-%07d", i), int64(i), enricher.Low, "bug_report", "")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Fprintln(w, i)
		w.Flush()
	}
	return 0
}

func TestDB_SurvivesKill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	enrichertest.MustNoError(t, err, "stdout pipe")
	enrichertest.MustNoError(t, cmd.Start(), "start child")

	// Kill the child mid-stream, after it has reported 300 writes.
	sc := bufio.NewScanner(out)
	acked := -1
	for sc.Scan() {
		i, err := strconv.Atoi(sc.Text())
		enrichertest.MustNoError(t, err, "parse child output")
		acked = i
		if acked == 299 {
			enrichertest.MustNoError(t, cmd.Process.Kill(), "kill child")
		}
	}
	_ = cmd.Wait()
	if acked < 299 {
		t.Fatalf("child reported %d writes before exiting, want at least 300; stderr: %s", acked+1, stderr.String())
	}

	db, err := Open(ctx, path)
	enrichertest.MustNoError(t, err, "open after kill")
	defer db.Close()
	q := MustQueue(t, db, "crash", QueueOptions{})
	st, err := q.Stats(ctx)
	enrichertest.MustNoError(t, err, "stats")
	// Every reported write is there; at most one more (committed but
	// killed before it was reported).
	if st.Visible < acked+1 || st.Visible > acked+2 {
		t.Fatalf("messages after kill: got %d, want %d or %d", st.Visible, acked+1, acked+2)
	}
	msgs, err := q.Receive(ctx, st.Visible, 0)
	enrichertest.MustNoError(t, err, "receive")
	for i := 0; i <= acked; i++ {
		if want := fmt.Sprintf("m%07d", i); string(msgs[i].Body) != want {
			t.Fatalf("message %d after kill: got %q, want %q", i, msgs[i].Body, want)
		}
	}
	tbl := MustTable(t, db)
	for _, i := range []int{0, acked / 2, acked} {
		if _, err := tbl.GetItem(ctx, fmt.Sprintf("T-%07d", i)); err != nil {
			t.Errorf("item %d of %d reported after kill: got error %v, want it stored", i, acked+1, err)
		}
	}
}

func TestDB_ConcurrentLoad(t *testing.T) {
	// Many goroutines on the queue and the table at once: no "database is
	// locked", no message lost or delivered twice.
	ctx := context.Background()
	db := MustOpen(t)
	q := MustQueue(t, db, "load", QueueOptions{VisibilityTimeout: time.Minute})
	tbl := MustTable(t, db)
	const producers, consumers, perProducer = 8, 8, 50
	total := producers * perProducer
	var (
		wg       sync.WaitGroup
		received sync.Map
		count    atomic.Int64
	)
	for p := range producers {
		wg.Go(func() {
			for i := range perProducer {
				if err := q.Send(ctx, fmt.Appendf(nil, "p%d-%d", p, i)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for c := range consumers {
		wg.Go(func() {
			for count.Load() < int64(total) && time.Now().Before(deadline) {
				msgs, err := q.Receive(ctx, 5, 100*time.Millisecond)
				if err != nil {
					t.Errorf("receive: %v", err)
					return
				}
				for _, m := range msgs {
					if _, dup := received.LoadOrStore(string(m.Body), c); dup {
						t.Errorf("message %s delivered twice", m.Body)
					}
					id := "T-" + strings.ReplaceAll(string(m.Body), "-", "_")
					if err := tbl.PutItem(ctx, enrichertest.NewItem(id, 1, enricher.Low, "bug_report", enricher.FormatTime(time.Now()))); err != nil {
						t.Errorf("put item: %v", err)
					}
					if _, err := tbl.ListItems(ctx, enricher.ListFilter{Urgency: enricher.Low, Limit: 5}); err != nil {
						t.Errorf("list items: %v", err)
					}
					if err := q.Ack(ctx, m.Receipt); err != nil {
						t.Errorf("ack: %v", err)
					}
					count.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := count.Load(); got != int64(total) {
		t.Errorf("received %d messages, want %d", got, total)
	}
	st, err := q.Stats(ctx)
	enrichertest.MustNoError(t, err, "stats")
	if st != (QueueStats{}) {
		t.Errorf("stats after acking everything: got %+v, want all zero", st)
	}
}
