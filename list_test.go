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

func TestListFilter_PageSize(t *testing.T) {
	tests := []struct {
		limit, want int
		wantErr     bool
	}{
		{0, enricher.DefaultListLimit, false},
		{1, 1, false},
		{enricher.MaxListLimit, enricher.MaxListLimit, false},
		{enricher.MaxListLimit + 1, enricher.MaxListLimit, false},
		{-1, 0, true},
	}
	for _, tt := range tests {
		got, err := enricher.ListFilter{Limit: tt.limit}.PageSize()
		if tt.wantErr {
			if enricher.ErrorCode(err) != enricher.EINVALID {
				t.Errorf("PageSize(%d): got error %v, want code %s", tt.limit, err, enricher.EINVALID)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("PageSize(%d) = %d, %v; want %d", tt.limit, got, err, tt.want)
		}
	}
}

func TestValidProcessedAt(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"", true},
		{"2026-01-31T09:30:00.000Z", true},
		{"2026-01-31T09:30:00Z", false},          // not fixed width: would sort wrong
		{"2026-01-31T09:30:00.000+01:00", false}, // not UTC
		{"yesterday", false},
	}
	for _, tt := range tests {
		if err := enricher.ValidProcessedAt(tt.in); (err == nil) != tt.ok {
			t.Errorf("ValidProcessedAt(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}
