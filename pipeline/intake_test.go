package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/pipeline"
)

func TestIntake_Accept(t *testing.T) {
	at := time.Date(2026, 1, 31, 9, 30, 0, 0, time.UTC)
	raw := rawTicket("T-7")
	ticket := MustParseTicket(t, raw)

	tests := []struct {
		name       string
		notify     bool
		failPuts   int
		raw        []byte
		wantCode   string // "" for success
		wantStored bool
		wantSent   int
	}{
		{name: "embedded mode notifies", notify: true, raw: raw, wantStored: true, wantSent: 1},
		{name: "aws mode leaves it to S3", notify: false, raw: raw, wantStored: true, wantSent: 0},
		{name: "store failure sends nothing", notify: true, failPuts: 1, raw: raw, wantCode: enricher.EINTERNAL},
		{name: "no raw bytes", notify: true, raw: nil, wantCode: enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			store := newFakeStore("raw", rec)
			store.failPuts = tt.failPuts
			q := newFakeQueue(rec)
			in := &pipeline.Intake{Raw: store, Bucket: "tickets-raw", Now: func() time.Time { return at }}
			if tt.notify {
				in.Notify = q
			}
			err := in.Accept(context.Background(), ticket, tt.raw)
			if got := enricher.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("got error code %q (%v), want %q", got, err, tt.wantCode)
			}
			data, stored := store.get("T-7.json")
			if stored != tt.wantStored {
				t.Fatalf("got stored %v, want %v", stored, tt.wantStored)
			}
			if stored && !bytes.Equal(data, raw) {
				t.Errorf("got stored %s, want the raw bytes %s", data, raw)
			}
			msgs, _ := q.Receive(context.Background(), 10, 0)
			if len(msgs) != tt.wantSent {
				t.Fatalf("got %d notifications, want %d", len(msgs), tt.wantSent)
			}
			if tt.wantSent == 0 {
				return
			}
			if want := enricher.NewS3Notification("tickets-raw", "T-7.json", int64(len(raw)), at); !bytes.Equal(msgs[0].Body, want) {
				t.Errorf("got notification %s, want %s", msgs[0].Body, want)
			}
			refs, err := enricher.ParseNotification(msgs[0].Body)
			if want := []enricher.ObjectRef{{Bucket: "tickets-raw", Key: "T-7.json"}}; err != nil || !reflect.DeepEqual(refs, want) {
				t.Errorf("got refs %v, %v, want %v", refs, err, want)
			}
		})
	}
}

// failingQueue refuses to send, as a queue that is down would.
type failingQueue struct{ *fakeQueue }

func (failingQueue) Send(ctx context.Context, body []byte) error { return errTransient }

func TestIntake_Accept_notifyFailure(t *testing.T) {
	rec := &recorder{}
	store := newFakeStore("raw", rec)
	raw := rawTicket("T-8")
	in := &pipeline.Intake{Raw: store, Bucket: "tickets-raw", Notify: failingQueue{newFakeQueue(rec)}}
	err := in.Accept(context.Background(), MustParseTicket(t, raw), raw)
	if !errors.Is(err, errTransient) {
		t.Fatalf("got error %v, want it to wrap %v", err, errTransient)
	}
	if _, ok := store.get("T-8.json"); !ok {
		t.Errorf("got no raw object after a failed notification, want it kept for a retry")
	}
}
