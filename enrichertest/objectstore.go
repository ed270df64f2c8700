package enrichertest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ticket-enricher/enricher"
)

// TestObjectStore runs the enricher.ObjectStore contract against the stores
// that newStore returns; every subtest gets a fresh, empty store.
func TestObjectStore(t *testing.T, newStore func(t *testing.T) enricher.ObjectStore) {
	t.Run("PutGet", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := context.Background()
		tests := []struct {
			name string
			key  string
			data []byte
		}{
			{"json", "T-1.json", []byte(`{"ticket_id":"T-1"}`)},
			{"empty", "empty.json", []byte{}},
			{"binary", "bin.dat", []byte{0, 1, 2, 0xff, '\n', 0}},
			{"dots and dashes", "T_2.v1-a.json", []byte("x")},
			{"sub-folder", "tickets-raw/2024/06/T-3.json", []byte(`{"ticket_id":"T-3"}`)},
			{"sibling in sub-folder", "tickets-raw/2024/06/T-4.json", []byte(`{"ticket_id":"T-4"}`)},
			{"large", "large.bin", bytes.Repeat([]byte("0123456789abcdef"), 1<<14)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				MustNoError(t, s.PutObject(ctx, tt.key, tt.data), "put "+tt.key)
				got, err := s.GetObject(ctx, tt.key)
				MustNoError(t, err, "get "+tt.key)
				if !bytes.Equal(got, tt.data) {
					t.Errorf("get %q: got %d bytes %q, want %d bytes %q", tt.key, len(got), clip(got), len(tt.data), clip(tt.data))
				}
			})
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := context.Background()
		for i, data := range []string{"first version, the longest", "second", ""} {
			MustNoError(t, s.PutObject(ctx, "dir/obj.json", []byte(data)), fmt.Sprintf("put %d", i))
			got, err := s.GetObject(ctx, "dir/obj.json")
			MustNoError(t, err, fmt.Sprintf("get %d", i))
			if string(got) != data {
				t.Errorf("after put %d: got %q, want %q", i, got, data)
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := context.Background()
		MustNoError(t, s.PutObject(ctx, "folder/inner.json", []byte("x")), "put")
		for _, key := range []string{"missing.json", "folder/missing.json", "folder", "other/inner.json", "folder/inner.json/deeper"} {
			t.Run(key, func(t *testing.T) {
				got, err := s.GetObject(ctx, key)
				MustCode(t, err, enricher.ENOTFOUND)
				if len(got) != 0 {
					t.Errorf("get %q: got %q with the error, want no data", key, got)
				}
			})
		}
	})

	t.Run("EmptyKey", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := context.Background()
		MustCode(t, s.PutObject(ctx, "", []byte("x")), enricher.EINVALID)
		_, err := s.GetObject(ctx, "")
		MustCode(t, err, enricher.EINVALID)
	})

	t.Run("Isolation", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := context.Background()
		data := []byte("original")
		MustNoError(t, s.PutObject(ctx, "a.json", data), "put a")
		MustNoError(t, s.PutObject(ctx, "b.json", []byte("other")), "put b")
		data[0] = 'X' // the store must have copied the bytes
		got, err := s.GetObject(ctx, "a.json")
		MustNoError(t, err, "get a")
		if string(got) != "original" {
			t.Errorf("get a after changing the caller's slice: got %q, want %q", got, "original")
		}
		got[0] = 'Y' // and must hand out its own copy
		again, err := s.GetObject(ctx, "a.json")
		MustNoError(t, err, "get a again")
		if string(again) != "original" {
			t.Errorf("get a after changing a returned slice: got %q, want %q", again, "original")
		}
		b, err := s.GetObject(ctx, "b.json")
		MustNoError(t, err, "get b")
		if string(b) != "other" {
			t.Errorf("get b: got %q, want %q", b, "other")
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := context.Background()
		const writers, rounds = 6, 5
		// Writer w writes objects made only of byte 'a'+w, of a length
		// unique to w: a reader can tell a whole object from a torn one.
		payload := func(w int) []byte { return bytes.Repeat([]byte{byte('a' + w)}, 4096+w*1000) }
		MustNoError(t, s.PutObject(ctx, "shared.json", payload(0)), "first put")

		var wg sync.WaitGroup
		errs := make(chan error, writers*rounds*3)
		done := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				for range rounds {
					if err := s.PutObject(ctx, "shared.json", payload(w)); err != nil {
						errs <- fmt.Errorf("writer %d: put shared: %w", w, err)
					}
					own := fmt.Sprintf("own/%d.json", w)
					if err := s.PutObject(ctx, own, payload(w)); err != nil {
						errs <- fmt.Errorf("writer %d: put %s: %w", w, own, err)
					}
				}
			})
		}
		var readers sync.WaitGroup
		for r := range 2 {
			readers.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					got, err := s.GetObject(ctx, "shared.json")
					if err != nil {
						errs <- fmt.Errorf("reader %d: get shared: %w", r, err)
						return
					}
					if err := wholePayload(got, payload); err != nil {
						errs <- fmt.Errorf("reader %d: %w", r, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(done)
		readers.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		got, err := s.GetObject(ctx, "shared.json")
		MustNoError(t, err, "final get shared")
		if err := wholePayload(got, payload); err != nil {
			t.Errorf("final shared object: %v", err)
		}
		for w := range writers {
			got, err := s.GetObject(ctx, fmt.Sprintf("own/%d.json", w))
			MustNoError(t, err, fmt.Sprintf("get own/%d.json", w))
			if !bytes.Equal(got, payload(w)) {
				t.Errorf("own/%d.json: got %d bytes %q, want %d bytes %q", w, len(got), clip(got), len(payload(w)), clip(payload(w)))
			}
		}
	})
}

// wholePayload checks that got is exactly one writer's payload.
func wholePayload(got []byte, payload func(int) []byte) error {
	if len(got) == 0 {
		return fmt.Errorf("got an empty object, want one writer's whole payload")
	}
	w := int(got[0] - 'a')
	if w < 0 || w > 25 || !bytes.Equal(got, payload(w)) {
		return fmt.Errorf("got a torn object of %d bytes starting %q, want one writer's whole payload", len(got), clip(got))
	}
	return nil
}

// clip shortens data for failure messages.
func clip(data []byte) []byte {
	if len(data) > 40 {
		return data[:40]
	}
	return data
}
