// Package enrichertest holds the contract test suites of the enricher
// interfaces: one suite per interface, run by every implementation (the
// embedded sqlite and dir backends, and the AWS adapters against an
// emulator), so that all backends behave the same way where the service can
// tell the difference.
//
// The suites use real time, never an injected clock, because the AWS
// backends have none; they keep waits short (visibility timeouts of one or
// two seconds) and run their subtests in parallel, each on a fresh backend
// from the constructor, so a whole suite takes a few seconds.
package enrichertest

import (
	"errors"
	"testing"

	"github.com/ticket-enricher/enricher"
)

// MustCode fails the test unless err is an *enricher.Error (anywhere in its
// chain) with the given code.
func MustCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want an error with code %q", code)
	}
	var e *enricher.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got error %v (%T), want an *enricher.Error with code %q", err, err, code)
	}
	if e.Code != code {
		tb.Fatalf("got error code %q (%v), want %q", e.Code, err, code)
	}
}

// MustNoError fails the test if err is not nil; what names the operation.
func MustNoError(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: got error %v, want none", what, err)
	}
}
