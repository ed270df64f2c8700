package dynamodb

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/enrichertest"
)

func TestMarshalItem(t *testing.T) {
	full := enrichertest.NewItem("T-1", 1717243200, enricher.High, "bug_report", at(0))
	full.IntentConfidence, full.UrgencyConfidence = 0.1, 1.0/3
	failed := failedItem("T-2", at(1))
	noCode := failedItem("T-3", at(1))
	noCode.Failure = &enricher.Failure{}
	for _, tt := range []struct {
		name    string
		item    enricher.Item
		present []string
		absent  []string
	}{
		{"enriched", full, []string{"urgency", "intent_confidence", "status", "processed_at"}, []string{"failure_code", "failure_message"}},
		{"failed has no urgency", failed, []string{"failure_code", "failure_message", "created_at"}, []string{"urgency", "intent", "subject", "urgency_confidence", "priority"}},
		{"failure without code or message", noCode, []string{"failure_code"}, []string{"failure_message"}},
		{"pending", enricher.Item{TicketID: "T-4", Status: enricher.StatusPending}, []string{"status"}, []string{"processed_at", "s3_key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			av, err := marshalItem(tt.item)
			enrichertest.MustNoError(t, err, "marshal")
			for _, n := range tt.present {
				if _, ok := av[n]; !ok {
					t.Errorf("got no attribute %s, want it", n)
				}
			}
			for _, n := range tt.absent {
				if v, ok := av[n]; ok {
					t.Errorf("got attribute %s = %v, want it absent", n, v)
				}
			}
			got, err := unmarshalItem(av)
			enrichertest.MustNoError(t, err, "unmarshal")
			if !equalItems(got, tt.item) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.item)
			}
		})
	}
}

func TestUnmarshalItem(t *testing.T) {
	n := func(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	for _, tt := range []struct {
		name        string
		av          map[string]types.AttributeValue
		wantCreated int64
		wantErr     string // part of the error, "" for none
	}{
		{"integer", map[string]types.AttributeValue{"ticket_id": s("T"), "created_at": n("1717243200")}, 1717243200, ""},
		{"decimal from boto3", map[string]types.AttributeValue{"ticket_id": s("T"), "created_at": n("1717243200.0")}, 1717243200, ""},
		{"exponent", map[string]types.AttributeValue{"ticket_id": s("T"), "created_at": n("1.7172432E9")}, 1717243200, ""},
		{"unknown attributes ignored", map[string]types.AttributeValue{"ticket_id": s("T"), "created_at": n("1"), "embedding": s("x")}, 1, ""},
		{"fractional created_at", map[string]types.AttributeValue{"ticket_id": s("T"), "created_at": n("1.5")}, 0, "want an integer"},
		{"created_at a string", map[string]types.AttributeValue{"ticket_id": s("T"), "created_at": s("1")}, 0, "want a number"},
		{"missing created_at", map[string]types.AttributeValue{"ticket_id": s("T")}, 0, "created_at is missing"},
		{"missing ticket_id", map[string]types.AttributeValue{"created_at": n("1")}, 0, "ticket_id is missing"},
		{"confidence a string", map[string]types.AttributeValue{"ticket_id": s("T"), "created_at": n("1"), "intent_confidence": s("high")}, 0, "intent_confidence"},
		{"urgency a number", map[string]types.AttributeValue{"ticket_id": s("T"), "created_at": n("1"), "urgency": n("3")}, 0, "urgency"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			it, err := unmarshalItem(tt.av)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			enrichertest.MustNoError(t, err, "unmarshal")
			if it.CreatedAt != tt.wantCreated {
				t.Errorf("got created_at %d, want %d", it.CreatedAt, tt.wantCreated)
			}
		})
	}
}
