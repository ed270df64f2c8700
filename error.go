package enricher

import (
	"errors"
	"fmt"
)

// Error codes are the stable, machine-readable part of every error the
// service reports. The HTTP layer maps each code to a status in one table,
// so adapters and the pipeline never think about HTTP.
const (
	ECONFLICT      = "conflict"        // the write lost to a newer one
	EINTERNAL      = "internal"        // a bug or an unexpected failure
	EINVALID       = "invalid_request" // the request itself is malformed
	EINVALIDTICKET = "invalid_ticket"  // a ticket breaks the contract of DESIGN.md §2.1
	ENOTFOUND      = "not_found"       // the thing asked for does not exist
	ENOTREADY      = "not_ready"       // a dependency (model, backend) is not available yet
	ETOOLARGE      = "too_large"       // a body or a ticket exceeds its size limit
	EUNAUTHORIZED  = "unauthorized"    // a bearer token is required and missing or wrong
)

// Detail names one thing wrong with an input: which ticket (by position and id
// when known), which field, and why. Clients show these to people, so Reason
// is a sentence fragment that says what is expected.
type Detail struct {
	Index    *int   `json:"index,omitempty"`
	TicketID string `json:"ticket_id,omitempty"`
	Field    string `json:"field,omitempty"`
	Reason   string `json:"reason"`
}

// Error is the service's error type: a code for programs, a message for
// people, details for inputs with several problems, and the cause for logs.
// It is what the API renders as {"error":{"code","message","details"}}.
type Error struct {
	Code    string
	Message string
	Details []Detail
	Err     error
}

// Errorf returns an *Error with the given code and a formatted message. A %w
// verb in format keeps the cause reachable through errors.Is and errors.As.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	cause := errors.Unwrap(err)
	if _, ok := err.(interface{ Unwrap() []error }); ok {
		cause = err // several %w: keep them all reachable
	}
	return &Error{Code: code, Message: err.Error(), Err: cause}
}

// Error implements error.
func (e *Error) Error() string {
	if len(e.Details) == 1 {
		d := e.Details[0]
		switch {
		case d.Field == "" && d.Reason == e.Message:
			return e.Message // a detail that only repeats the message, to carry an index
		case d.Field != "":
			return fmt.Sprintf("%s: %s: %s", e.Message, d.Field, d.Reason)
		}
		return fmt.Sprintf("%s: %s", e.Message, d.Reason)
	}
	if len(e.Details) > 1 {
		d := e.Details[0]
		if d.Field != "" {
			return fmt.Sprintf("%s (%d problems, first: %s: %s)", e.Message, len(e.Details), d.Field, d.Reason)
		}
		return fmt.Sprintf("%s (%d problems, first: %s)", e.Message, len(e.Details), d.Reason)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL
// for any other non-nil error, so that unknown failures are never reported as
// the client's fault.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of the first *Error in err's chain,
// or a generic text for other errors, whose wording may leak internals.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorDetails returns the details of the first *Error in err's chain.
func ErrorDetails(err error) []Detail {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}
