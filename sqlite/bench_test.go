package sqlite

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// benchBody is a typical message: an S3 object-created notification.
var benchBody = []byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"tickets-raw"},"object":{"key":"T-000123.json","size":512}}}]}`)

// BenchmarkQueue_SendReceiveAck measures the queue's round trip: one message
// enqueued, received and acknowledged per message, alone, in batches of 10,
// and from parallel goroutines.
func BenchmarkQueue_SendReceiveAck(b *testing.B) {
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		q := MustQueue(b, MustOpen(b), "bench", QueueOptions{})
		for b.Loop() {
			if err := q.Send(ctx, benchBody); err != nil {
				b.Fatal(err)
			}
			msgs, err := q.Receive(ctx, 1, 0)
			if err != nil || len(msgs) != 1 {
				b.Fatalf("receive: got %d messages, error %v", len(msgs), err)
			}
			if err := q.Ack(ctx, msgs[0].Receipt); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("batch10", func(b *testing.B) {
		q := MustQueue(b, MustOpen(b), "bench", QueueOptions{})
		for b.Loop() {
			for range 10 {
				if err := q.Send(ctx, benchBody); err != nil {
					b.Fatal(err)
				}
			}
			msgs, err := q.Receive(ctx, 10, 0)
			if err != nil || len(msgs) != 10 {
				b.Fatalf("receive: got %d messages, error %v", len(msgs), err)
			}
			for _, m := range msgs {
				if err := q.Ack(ctx, m.Receipt); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("parallel", func(b *testing.B) {
		q := MustQueue(b, MustOpen(b), "bench", QueueOptions{})
		var done atomic.Int64
		b.SetParallelism(4) // 4 goroutines per core, like a worker pool
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := q.Send(ctx, benchBody); err != nil {
					b.Error(err)
					return
				}
				// Another goroutine may take this message; each takes
				// exactly one, so all are consumed.
				for {
					msgs, err := q.Receive(ctx, 1, time.Second)
					if err != nil {
						b.Error(err)
						return
					}
					if len(msgs) == 1 {
						if err := q.Ack(ctx, msgs[0].Receipt); err != nil {
							b.Error(err)
						}
						done.Add(1)
						break
					}
				}
			}
		})
		b.ReportMetric(float64(done.Load())/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkTable_PutItem measures writing one enriched item (a new ticket
// each time, so every put inserts and updates the indexes).
func BenchmarkTable_PutItem(b *testing.B) {
	ctx := context.Background()
	tbl := MustTable(b, MustOpen(b))
	at := enricher.FormatTime(time.Now())
	i := 0
	for b.Loop() {
		it := enrichertest.NewItem(fmt.Sprintf("T-%09d", i), int64(1717000000+i), enricher.Urgencies()[i%4], "bug_report", at)
		if err := tbl.PutItem(ctx, it); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkTable_ListItems measures a dashboard page: 50 items of one
// urgency out of 10,000.
func BenchmarkTable_ListItems(b *testing.B) {
	ctx := context.Background()
	tbl := MustTable(b, MustOpen(b))
	items := make([]enricher.Item, 10000)
	at := enricher.FormatTime(time.Now())
	for i := range items {
		items[i] = enrichertest.NewItem(fmt.Sprintf("T-%09d", i), int64(1717000000+i), enricher.Urgencies()[i%4], "bug_report", at)
	}
	enrichertest.MustPutItems(b, tbl, items)
	for b.Loop() {
		p, err := tbl.ListItems(ctx, enricher.ListFilter{Urgency: enricher.High})
		if err != nil || len(p.Items) != enricher.DefaultListLimit {
			b.Fatalf("list: got %d items, error %v", len(p.Items), err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}
