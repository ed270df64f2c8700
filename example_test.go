package enricher_test

import (
	"fmt"
	"strings"

	"github.com/ticket-enricher/enricher"
)

func ExampleParseTicket() {
	t, err := enricher.ParseTicket([]byte(`{
		"ticket_id": "DEV-0042",
		"subject": "Checkout broken",
		"body": "Card payments fail since this morning.",
		"priority": "Sev 1",
		"created_at": "2026-01-31T09:30:00+01:00",
		"customer_id": "CUST-7",
		"channel": {"name": "chat", "agent": null}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Priority, t.CreatedAt)
	out, _ := t.MarshalJSON()
	fmt.Println(string(out))
	// Output:
	// critical 1769848200
	// {"ticket_id":"DEV-0042","subject":"Checkout broken","body":"Card payments fail since this morning.","priority":"critical","priority_raw":"Sev 1","created_at":1769848200,"customer_id":"CUST-7","channel":{"name":"chat","agent":null}}
}

// Every problem of an invalid ticket is reported, each naming its field.
func ExampleParseTicket_errors() {
	_, err := enricher.ParseTicket([]byte(`{"ticket_id":"../etc/passwd","subject":" ","created_at":1769851800000,"customer_id":"CUST-7","metadata":{"tags":"vip"}}`))
	fmt.Println(enricher.ErrorCode(err))
	for _, d := range enricher.ErrorDetails(err) {
		fmt.Printf("%s: %s\n", d.Field, d.Reason)
	}
	// Output:
	// invalid_ticket
	// ticket_id: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (letters, digits, '.', '_', '-'; at most 128), got "../etc/passwd"
	// created_at: 1769851800000 is too large for Unix seconds (milliseconds? divide by 1000)
	// metadata.tags: must be an array of strings
	// body: subject and body must not both be empty
}

func ExampleNormalizePriority() {
	for _, raw := range []string{"High", "URGENT", "P1", "p3", "sev-2", "Sev 1", "normal", "minor", "", "whatever"} {
		fmt.Printf("%q -> %q\n", raw, enricher.NormalizePriority(raw))
	}
	// Output:
	// "High" -> "high"
	// "URGENT" -> "critical"
	// "P1" -> "critical"
	// "p3" -> "medium"
	// "sev-2" -> "high"
	// "Sev 1" -> "critical"
	// "normal" -> "medium"
	// "minor" -> "low"
	// "" -> ""
	// "whatever" -> ""
}

func ExampleTicket_Text() {
	for _, t := range []enricher.Ticket{
		{Subject: "Login fails", Body: "I cannot log in since the update."},
		{Subject: "Login fails"},
		{Body: "I cannot log in since the update."},
	} {
		fmt.Println(t.Text())
	}
	// Output:
	// Login fails. I cannot log in since the update.
	// Login fails
	// I cannot log in since the update.
}

// A bad line of JSON Lines is an item with an error; the lines after it are
// still read.
func ExampleTicketScanner() {
	input := `{"ticket_id":"A-1","subject":"s","created_at":1,"customer_id":"c"}
{"ticket_id":"A-2","subject":"cut off here
{"ticket_id":"A-3","subject":"s","created_at":2,"customer_id":"c"}
`
	sc := enricher.NewTicketScanner(strings.NewReader(input))
	for sc.Scan() {
		raw := sc.Ticket()
		if raw.Err != nil {
			fmt.Println(raw.Index, enricher.ErrorCode(raw.Err), raw.Err)
			continue
		}
		t, err := enricher.ParseTicket(raw.Data)
		fmt.Println(raw.Index, t.ID, err)
	}
	fmt.Println("scan error:", sc.Err())
	// Output:
	// 0 A-1 <nil>
	// 1 invalid_ticket invalid JSON: unexpected end of line
	// 2 A-3 <nil>
	// scan error: <nil>
}
