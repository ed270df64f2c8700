package enricher_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"testing"

	"github.com/ticket-enricher/enricher"
)

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"an *Error", enricher.Errorf(enricher.ENOTFOUND, "ticket %s not found", "T-1"), enricher.ENOTFOUND},
		{"wrapped *Error", fmt.Errorf("get item: %w", enricher.Errorf(enricher.ECONFLICT, "newer result")), enricher.ECONFLICT},
		{"*Error wrapping another *Error: the outer code", enricher.Errorf(enricher.ENOTREADY, "model: %w", enricher.Errorf(enricher.ENOTFOUND, "file")), enricher.ENOTREADY},
		{"joined errors: the first *Error", errors.Join(errors.New("x"), enricher.Errorf(enricher.ETOOLARGE, "big")), enricher.ETOOLARGE},
		{"plain error", errors.New("disk on fire"), enricher.EINTERNAL},
		{"io.EOF", io.EOF, enricher.EINTERNAL},
		{"every code", &enricher.Error{Code: enricher.EUNAUTHORIZED}, enricher.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := enricher.ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v): got %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"an *Error", enricher.Errorf(enricher.EINVALID, "limit must be at most %d", 500), "limit must be at most 500"},
		{"wrapped: the *Error's message, not the wrapper's", fmt.Errorf("list items: %w", enricher.Errorf(enricher.EINVALID, "bad cursor")), "bad cursor"},
		{"details do not change the message", &enricher.Error{Code: enricher.EINVALIDTICKET, Message: "invalid ticket", Details: []enricher.Detail{{Field: "f", Reason: "r"}}}, "invalid ticket"},
		{"plain error hidden", errors.New("open /var/secret/db: permission denied"), "internal error"},
		{"nil", nil, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := enricher.ErrorMessage(tt.err); got != tt.want {
				t.Errorf("ErrorMessage(%v): got %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorDetails(t *testing.T) {
	details := []enricher.Detail{{Field: "ticket_id", Reason: "is required"}, {Field: "body", Reason: "must be a string"}}
	tests := []struct {
		name string
		err  error
		want []enricher.Detail
	}{
		{"an *Error", &enricher.Error{Code: enricher.EINVALIDTICKET, Details: details}, details},
		{"wrapped", fmt.Errorf("ticket 3: %w", &enricher.Error{Code: enricher.EINVALIDTICKET, Details: details}), details},
		{"no details", enricher.Errorf(enricher.ENOTFOUND, "gone"), nil},
		{"plain error", errors.New("x"), nil},
		{"nil", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := enricher.ErrorDetails(tt.err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ErrorDetails(%v): got %+v, want %+v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorf(t *testing.T) {
	errA, errB := errors.New("cause A"), errors.New("cause B")
	tests := []struct {
		name        string
		err         *enricher.Error
		wantMessage string
		wantIs      []error
		wantNotIs   []error
		wantNoCause bool
	}{
		{"no cause", enricher.Errorf(enricher.EINVALID, "bad %s %d", "limit", 7), "bad limit 7", nil, []error{errA}, true},
		{"one %w", enricher.Errorf(enricher.ENOTFOUND, "read object: %w", fs.ErrNotExist), "read object: file does not exist", []error{fs.ErrNotExist}, []error{errA}, false},
		{"two %w keep both", enricher.Errorf(enricher.EINTERNAL, "store: %w; notify: %w", errA, errB), "store: cause A; notify: cause B", []error{errA, errB}, nil, false},
		{"%v does not wrap", enricher.Errorf(enricher.EINTERNAL, "store: %v", errA), "store: cause A", nil, []error{errA}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Message != tt.wantMessage {
				t.Errorf("Message: got %q, want %q", tt.err.Message, tt.wantMessage)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(tt.err, target) {
					t.Errorf("errors.Is(%v, %v): got false, want true", tt.err, target)
				}
			}
			for _, target := range tt.wantNotIs {
				if errors.Is(tt.err, target) {
					t.Errorf("errors.Is(%v, %v): got true, want false", tt.err, target)
				}
			}
			if got := tt.err.Unwrap() == nil; got != tt.wantNoCause {
				t.Errorf("Unwrap() == nil: got %v, want %v", got, tt.wantNoCause)
			}
		})
	}
}

func TestError_Error(t *testing.T) {
	tests := []struct {
		name string
		err  *enricher.Error
		want string
	}{
		{"message only", &enricher.Error{Code: enricher.ENOTFOUND, Message: "ticket T-1 not found"}, "ticket T-1 not found"},
		{"one detail with a field", &enricher.Error{Message: "invalid ticket", Details: []enricher.Detail{{Field: "ticket_id", Reason: "is required"}}},
			"invalid ticket: ticket_id: is required"},
		{"one detail without a field", &enricher.Error{Message: "invalid ticket", Details: []enricher.Detail{{Reason: "must be a JSON object"}}},
			"invalid ticket: must be a JSON object"},
		{"one detail repeating the message", &enricher.Error{Message: "invalid JSON: unexpected end of line", Details: []enricher.Detail{{Index: new(int), Reason: "invalid JSON: unexpected end of line"}}},
			"invalid JSON: unexpected end of line"},
		{"several details", &enricher.Error{Message: "invalid ticket", Details: []enricher.Detail{{Field: "subject", Reason: "must be a string"}, {Field: "body", Reason: "x"}}},
			"invalid ticket (2 problems, first: subject: must be a string)"},
		{"several details, the first without a field", &enricher.Error{Message: "invalid tickets", Details: []enricher.Detail{{Reason: "not valid JSON"}, {Field: "body", Reason: "x"}, {Reason: "y"}}},
			"invalid tickets (3 problems, first: not valid JSON)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error(): got %q, want %q", got, tt.want)
			}
		})
	}
}
