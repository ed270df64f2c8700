package httpapi

import (
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
)

// A batch of JSON Lines is accepted whole, or rejected whole with one
// detail per problem.
func ExampleNew() {
	srv, err := New(Config{
		Intake: &fakeIntake{}, Table: &fakeTable{}, Raw: &fakeStore{}, Enriched: &fakeStore{}, Enricher: &fakeEnricher{},
		AuthToken: "s3cret",
	})
	if err != nil {
		log.Fatal(err)
	}
	post := func(body string) {
		req := httptest.NewRequest("POST", "/v1/tickets", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer s3cret")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body)
	}
	post(`{"ticket_id":"T-1","subject":"Cannot log in","body":"Reset mail never comes","created_at":1767225600,"customer_id":"C-1"}
{"ticket_id":"T-2","subject":"Invoice twice","body":"","created_at":"2026-01-01T10:00:00Z","customer_id":"C-2"}`)
	post(`{"ticket_id":"T-3","subject":"Hi","created_at":1767225600}
{"ticket_id":"T-3","subject":"Hi","created_at":1767225600,"customer_id":"C-3"}`)
	// Output:
	// 202 {"accepted":2,"ticket_ids":["T-1","T-2"]}
	// 400 {"error":{"code":"invalid_ticket","message":"invalid tickets: nothing was accepted; see details","details":[{"index":0,"ticket_id":"T-3","field":"customer_id","reason":"is required"},{"index":1,"ticket_id":"T-3","field":"ticket_id","reason":"duplicate ticket_id: the ticket at index 0 has the same id"}]}}
}
