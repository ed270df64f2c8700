package dynamodb

import (
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ticket-enricher/enricher"
)

// Attribute names: the JSON names of enricher.Item (DESIGN.md §2.3), so the
// table reads the same from the console, the Python worker and this service.
const (
	attrTicketID          = "ticket_id"
	attrCreatedAt         = "created_at"
	attrSubject           = "subject"
	attrCustomerID        = "customer_id"
	attrPriority          = "priority"
	attrIntent            = "intent"
	attrIntentConfidence  = "intent_confidence"
	attrUrgency           = "urgency"
	attrUrgencyConfidence = "urgency_confidence"
	attrSummary           = "summary"
	attrSummaryMethod     = "summary_method"
	attrProcessedAt       = "processed_at"
	attrS3Key             = "s3_key"
	attrModelVersion      = "model_version"
	attrStatus            = "status"
	attrFailureCode       = "failure_code"
	attrFailureMessage    = "failure_message"
)

// marshalItem returns the attributes of it, or an EINVALID error for an item
// the table cannot hold faithfully. Empty strings and zero confidences are
// left out: DynamoDB rejects an empty string as an index key, and an item
// without urgency must lack the attribute to stay out of urgency-index. A
// failure is kept even with an empty code, so that "failed without a code"
// does not read back as "no failure".
func marshalItem(it enricher.Item) (map[string]types.AttributeValue, error) {
	if it.TicketID == "" {
		return nil, enricher.Errorf(enricher.EINVALID, "put item: empty ticket id")
	}
	if err := enricher.ValidProcessedAt(it.ProcessedAt); err != nil {
		return nil, enricher.Errorf(enricher.EINVALID, "put item %q: %w", it.TicketID, err)
	}
	if it.Urgency != "" {
		// ListItems reads the four partitions of urgency-index it
		// knows; an item under another value would never be listed.
		if _, ok := enricher.ParseUrgency(string(it.Urgency)); !ok {
			return nil, enricher.Errorf(enricher.EINVALID, "put item %q: unknown urgency %q (want critical, high, medium or low)", it.TicketID, it.Urgency)
		}
	}
	for name, f := range map[string]float64{attrIntentConfidence: it.IntentConfidence, attrUrgencyConfidence: it.UrgencyConfidence} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, enricher.Errorf(enricher.EINVALID, "put item %q: %s is %v, want a finite number", it.TicketID, name, f)
		}
	}
	av := map[string]types.AttributeValue{
		attrTicketID:  &types.AttributeValueMemberS{Value: it.TicketID},
		attrCreatedAt: &types.AttributeValueMemberN{Value: strconv.FormatInt(it.CreatedAt, 10)},
	}
	putS := func(name, v string) {
		if v != "" {
			av[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	putN := func(name string, f float64) {
		if f != 0 {
			av[name] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'g', -1, 64)}
		}
	}
	putS(attrSubject, it.Subject)
	putS(attrCustomerID, it.CustomerID)
	putS(attrPriority, string(it.Priority))
	putS(attrIntent, it.Intent)
	putN(attrIntentConfidence, it.IntentConfidence)
	putS(attrUrgency, string(it.Urgency))
	putN(attrUrgencyConfidence, it.UrgencyConfidence)
	putS(attrSummary, it.Summary)
	putS(attrSummaryMethod, it.SummaryMethod)
	putS(attrProcessedAt, it.ProcessedAt)
	putS(attrS3Key, it.S3Key)
	putS(attrModelVersion, it.ModelVersion)
	putS(attrStatus, string(it.Status))
	if it.Failure != nil {
		// Non-key attributes may be empty strings.
		av[attrFailureCode] = &types.AttributeValueMemberS{Value: it.Failure.Code}
		putS(attrFailureMessage, it.Failure.Message)
	}
	return av, nil
}

// unmarshalItem is the inverse of marshalItem. Unknown attributes are
// ignored, so that items written by other tools still read; an attribute of
// the wrong type is an error, because guessing would hide a corrupt table.
func unmarshalItem(av map[string]types.AttributeValue) (enricher.Item, error) {
	var (
		it  enricher.Item
		err error
	)
	str := func(name string) string {
		v, ok := av[name]
		if !ok || err != nil {
			return ""
		}
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			err = fmt.Errorf("attribute %s is %T, want a string", name, v)
			return ""
		}
		return s.Value
	}
	num := func(name string) float64 {
		v, ok := av[name]
		if !ok || err != nil {
			return 0
		}
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok {
			err = fmt.Errorf("attribute %s is %T, want a number", name, v)
			return 0
		}
		f, perr := strconv.ParseFloat(n.Value, 64)
		if perr != nil {
			err = fmt.Errorf("attribute %s: %w", name, perr)
		}
		return f
	}
	it.CreatedAt, err = createdAtOf(av)
	it.TicketID = str(attrTicketID)
	it.Subject = str(attrSubject)
	it.CustomerID = str(attrCustomerID)
	it.Priority = enricher.Urgency(str(attrPriority))
	it.Intent = str(attrIntent)
	it.IntentConfidence = num(attrIntentConfidence)
	it.Urgency = enricher.Urgency(str(attrUrgency))
	it.UrgencyConfidence = num(attrUrgencyConfidence)
	it.Summary = str(attrSummary)
	it.SummaryMethod = str(attrSummaryMethod)
	it.ProcessedAt = str(attrProcessedAt)
	it.S3Key = str(attrS3Key)
	it.ModelVersion = str(attrModelVersion)
	it.Status = enricher.Status(str(attrStatus))
	if _, ok := av[attrFailureCode]; ok {
		it.Failure = &enricher.Failure{Code: str(attrFailureCode), Message: str(attrFailureMessage)}
	}
	if err == nil && it.TicketID == "" {
		err = fmt.Errorf("attribute %s is missing", attrTicketID)
	}
	if err != nil {
		return enricher.Item{}, fmt.Errorf("decode item %q: %w", it.TicketID, err)
	}
	return it, nil
}

// createdAtOf reads the range key. Other writers (boto3 with a Decimal) may
// store an integral number as "1717243200.0" or in exponent form, so any
// integral decimal is accepted.
func createdAtOf(av map[string]types.AttributeValue) (int64, error) {
	v, ok := av[attrCreatedAt]
	if !ok {
		return 0, fmt.Errorf("attribute %s is missing", attrCreatedAt)
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is %T, want a number", attrCreatedAt, v)
	}
	if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
		return i, nil
	}
	r, ok := new(big.Rat).SetString(n.Value)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, fmt.Errorf("attribute %s is %q, want an integer", attrCreatedAt, n.Value)
	}
	return r.Num().Int64(), nil
}

// keyOf is the primary key of a ticket's item.
func keyOf(ticketID string, createdAt int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrTicketID:  &types.AttributeValueMemberS{Value: ticketID},
		attrCreatedAt: &types.AttributeValueMemberN{Value: strconv.FormatInt(createdAt, 10)},
	}
}
