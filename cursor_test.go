package enricher_test

import (
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher"
)

func TestDecodeCursor(t *testing.T) {
	valid := enricher.EncodeCursor(enricher.Item{TicketID: "T-9", CreatedAt: 42})
	for _, tt := range []struct {
		name   string
		cursor string
		want   enricher.ListPosition
		ok     bool
	}{
		{"encoded", valid, enricher.ListPosition{CreatedAt: 42, TicketID: "T-9"}, true},
		{"zero created_at", enricher.EncodeCursor(enricher.Item{TicketID: "T-9"}), enricher.ListPosition{TicketID: "T-9"}, true},
		{"not base64", "%%%", enricher.ListPosition{}, false},
		{"padded base64", valid + "=", enricher.ListPosition{}, false},
		{"empty object", "e30", enricher.ListPosition{}, false},
		{"no ticket id", "eyJjIjoxfQ", enricher.ListPosition{}, false},                    // {"c":1}
		{"unknown field", "eyJjIjoxLCJ0IjoiVCIsIngiOjF9", enricher.ListPosition{}, false}, // {"c":1,"t":"T","x":1}
		{"trailing data", "eyJjIjoxLCJ0IjoiVCJ9e30", enricher.ListPosition{}, false},      // {"c":1,"t":"T"}{}
		{"too long", strings.Repeat("A", 513), enricher.ListPosition{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := enricher.DecodeCursor(tt.cursor)
			if !tt.ok {
				if code := enricher.ErrorCode(err); code != enricher.EINVALID {
					t.Errorf("got error %v (code %q), want code %q", err, code, enricher.EINVALID)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
