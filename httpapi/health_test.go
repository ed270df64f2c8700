package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestServer_Healthz(t *testing.T) {
	failing := []Check{{"db", func(context.Context) error { return errors.New("down") }}}
	for _, checks := range [][]Check{nil, failing} {
		e := newEnv(t, func(c *Config) { c.Checks = checks })
		rec := e.do("GET", "/healthz", "")
		if rec.Code != 200 {
			t.Fatalf("status with %d checks: got %d, want 200", len(checks), rec.Code)
		}
		assertJSONEqual(t, rec.Body.Bytes(), []byte(`{"status":"ok"}`))
	}
}

func TestServer_Readyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	deaf := func(context.Context) error { <-block; return nil } // ignores its context
	tests := []struct {
		name       string
		checks     []Check
		wantStatus int
		want       string
	}{
		{"no checks", nil, 200, `{"status":"ready","checks":{}}`},
		{"all ok", []Check{{"db", ok}, {"model", ok}}, 200, `{"status":"ready","checks":{"db":"ok","model":"ok"}}`},
		{"model not loaded", []Check{{"db", ok}, {"model", func(context.Context) error { return errors.New("model not loaded") }}}, 503,
			`{"status":"not_ready","checks":{"db":"ok","model":"model not loaded"}}`},
		{"check times out", []Check{{"db", hang}, {"model", ok}}, 503,
			`{"status":"not_ready","checks":{"db":"timed out after 20ms","model":"ok"}}`},
		{"check ignores its context", []Check{{"queue", deaf}}, 503,
			`{"status":"not_ready","checks":{"queue":"timed out after 20ms"}}`},
		{"check panics", []Check{{"db", func(context.Context) error { panic("nil table") }}}, 503,
			`{"status":"not_ready","checks":{"db":"check panicked: nil table"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Checks = tt.checks; c.ReadyTimeout = 20 * time.Millisecond })
			rec := e.do("GET", "/readyz", "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			assertJSONEqual(t, rec.Body.Bytes(), []byte(tt.want))
		})
	}
}
