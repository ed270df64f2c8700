package enricher

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// maxCursorLen bounds the cursors DecodeCursor reads; real ones are short.
const maxCursorLen = 512

// ListPosition is where a page of items ends: the sort key of its last
// item. Every Table lists newest first by (created_at, ticket_id), so they
// share one cursor format, and a cursor stays valid across filters.
type ListPosition struct {
	CreatedAt int64
	TicketID  string
}

type cursorJSON struct {
	CreatedAt *int64 `json:"c"`
	TicketID  string `json:"t"`
}

// EncodeCursor returns the opaque cursor of the page that ends with it.
func EncodeCursor(it Item) string {
	b, _ := json.Marshal(cursorJSON{CreatedAt: &it.CreatedAt, TicketID: it.TicketID}) // cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the position in s, or an EINVALID error for anything
// EncodeCursor could not have written.
func DecodeCursor(s string) (ListPosition, error) {
	invalid := Errorf(EINVALID, "list items: invalid cursor %q: pass the next_cursor of the previous page unchanged", truncate(s, 40))
	if len(s) > maxCursorLen {
		return ListPosition{}, invalid
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return ListPosition{}, invalid
	}
	var c cursorJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.CreatedAt == nil || c.TicketID == "" || dec.More() {
		return ListPosition{}, invalid
	}
	return ListPosition{CreatedAt: *c.CreatedAt, TicketID: c.TicketID}, nil
}
