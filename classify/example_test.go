package classify_test

import (
	"context"
	"fmt"

	enricher "github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/classify"
)

func Example() {
	tax, err := classify.Default()
	if err != nil {
		panic(err)
	}
	c, err := classify.New(tax)
	if err != nil {
		panic(err)
	}
	t, err := enricher.ParseTicket([]byte(`{
		"ticket_id": "T-1001",
		"subject": "Can't log in",
		"body": "No problem with billing, but since this morning I can't log in: the 2FA code is rejected.",
		"priority": "P3",
		"created_at": 1767534579,
		"customer_id": "C-7"
	}`))
	if err != nil {
		panic(err)
	}
	got, err := c.Classify(context.Background(), t)
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Intent, got.IntentEvidence)
	fmt.Println(got.Urgency, got.UrgencyEvidence)
	// Output:
	// login_issue [log in 2fa code similar tickets: 0.61]
	// high [priority: P3 can not since this morning similar tickets: high 0.70]
}
