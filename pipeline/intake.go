package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/ticket-enricher/enricher"
)

// Intake accepts validated tickets: it writes the raw bytes to the raw store
// under enricher.ObjectKey(id) and then, when Notify is set, announces the
// object on the queue. Writing first means a notification never names an
// object that does not exist.
//
// On AWS, Notify is nil: the bucket's own notification tells SQS. The
// embedded mode has no bucket notifications, so Notify is its queue and it
// sends the very message S3 would (enricher.NewS3Notification), which keeps
// one path in the worker.
type Intake struct {
	Raw enricher.ObjectStore
	// Bucket is the raw bucket's name, written in the notification.
	Bucket string
	Notify enricher.Queue
	// Now is the clock of the notification's eventTime; nil means time.Now.
	Now func() time.Time
}

// Accept stores raw, the bytes t was parsed from, and announces it. The
// raw bytes are kept rather than a re-encoding of t so that the worker sees
// exactly what the client sent. If the notification cannot be sent, the raw
// object stays and the error is returned: the caller may retry, and a
// retried Accept rewrites the same object.
func (in *Intake) Accept(ctx context.Context, t enricher.Ticket, raw []byte) error {
	if len(raw) == 0 {
		return enricher.Errorf(enricher.EINVALID, "accept ticket %s: no raw bytes", t.ID)
	}
	key := enricher.ObjectKey(t.ID)
	if err := in.Raw.PutObject(ctx, key, raw); err != nil {
		return fmt.Errorf("store raw ticket %s: %w", t.ID, err)
	}
	if in.Notify == nil {
		return nil
	}
	now := in.Now
	if now == nil {
		now = time.Now
	}
	if err := in.Notify.Send(ctx, enricher.NewS3Notification(in.Bucket, key, int64(len(raw)), now())); err != nil {
		return fmt.Errorf("notify ticket %s: %w", t.ID, err)
	}
	return nil
}
