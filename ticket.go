package enricher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxTicketSize is the largest raw ticket accepted, in bytes (DESIGN.md §2.1).
// It bounds the memory one ticket can take in every stage, including the
// tokenizers, which are the costliest per byte.
const MaxTicketSize = 256 << 10

// Urgency is one of the four levels shared by a ticket's explicit priority
// and the classified urgency. The zero value means "not given".
type Urgency string

// The urgency levels, most urgent first.
const (
	Critical Urgency = "critical"
	High     Urgency = "high"
	Medium   Urgency = "medium"
	Low      Urgency = "low"
)

// Urgencies lists the levels most urgent first; it is the order reports and
// confusion matrices use.
func Urgencies() []Urgency { return []Urgency{Critical, High, Medium, Low} }

// Rank orders levels: Critical is 3, Low is 0, and an unknown level is -1.
func (u Urgency) Rank() int {
	switch u {
	case Critical:
		return 3
	case High:
		return 2
	case Medium:
		return 1
	case Low:
		return 0
	}
	return -1
}

// ParseUrgency returns the level named exactly by s ("critical", "high",
// "medium", "low"), for query parameters and labels where messy values are
// a mistake rather than something to interpret.
func ParseUrgency(s string) (Urgency, bool) {
	u := Urgency(s)
	return u, u.Rank() >= 0
}

// priorityAliases maps the messy priorities that help desks send, after
// lower-casing and removing spaces, dashes and underscores, to a level. P1 and
// sev1 are the top of most incident scales, so they mean critical.
var priorityAliases = map[string]Urgency{
	"critical": Critical, "crit": Critical, "urgent": Critical, "emergency": Critical,
	"blocker": Critical, "highest": Critical, "p0": Critical, "p1": Critical,
	"sev0": Critical, "sev1": Critical, "s0": Critical, "s1": Critical,
	"high": High, "important": High, "major": High, "p2": High, "sev2": High, "s2": High,
	"medium": Medium, "med": Medium, "normal": Medium, "moderate": Medium, "standard": Medium,
	"p3": Medium, "sev3": Medium, "s3": Medium,
	"low": Low, "minor": Low, "lowest": Low, "trivial": Low,
	"p4": Low, "p5": Low, "sev4": Low, "sev5": Low, "s4": Low, "s5": Low,
}

// NormalizePriority maps a messy priority ("High", "URGENT", "P1", "sev 2",
// "normal") to a level. It returns "" for empty or unknown values, which the
// contract treats as "no priority given".
func NormalizePriority(raw string) Urgency {
	key := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '.', '\t':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(raw)))
	key = strings.TrimPrefix(key, "priority")
	key = strings.TrimPrefix(key, ":")
	return priorityAliases[key]
}

// Field is a JSON member kept verbatim: the unknown fields of a ticket, which
// the contract says are preserved, in the order they arrived.
type Field struct {
	Name  string
	Value json.RawMessage
}

// Metadata is the optional metadata object of a ticket. Unknown members are
// kept in Extra so that nothing a client sent is lost.
type Metadata struct {
	Source   string
	Language string
	Tags     []string
	Extra    []Field
}

// Ticket is a raw ticket that passed validation (DESIGN.md §2.1). Only
// ParseTicket makes one, so a Ticket value is always valid.
type Ticket struct {
	ID      string
	Subject string
	Body    string
	// Priority is the normalized level, or "" when none or an unknown one
	// was given.
	Priority Urgency
	// PriorityRaw is the priority exactly as given ("" when absent), kept
	// because normalization loses information people may search for. It is
	// written as "priority_raw" when it differs from Priority, and read back
	// from that member, so that a record fed in again keeps its original.
	PriorityRaw string
	// CreatedAt is in Unix seconds, whichever form the input used.
	CreatedAt  int64
	CustomerID string
	Metadata   *Metadata
	// Extra holds unknown top-level fields, verbatim and in input order.
	Extra []Field
}

// Text is what the models see: subject + ". " + body, or whichever of the
// two is not empty, exactly as the Python worker builds it so that vectors
// stay comparable with existing indexes.
func (t Ticket) Text() string {
	switch {
	case t.Subject == "":
		return t.Body
	case t.Body == "":
		return t.Subject
	}
	return t.Subject + ". " + t.Body
}

// Key is the object key of the ticket in the raw and enriched stores. The id
// pattern guarantees it cannot escape its prefix.
func (t Ticket) Key() string { return ObjectKey(t.ID) }

// ObjectKey returns the object key for a ticket id: "<id>.json".
func ObjectKey(id string) string { return id + ".json" }

// TicketIDFromKey is the inverse of ObjectKey; ok is false for keys that
// cannot have come from a valid ticket.
func TicketIDFromKey(key string) (id string, ok bool) {
	id, found := strings.CutSuffix(key, ".json")
	return id, found && ValidTicketID(id)
}

var ticketIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidTicketID reports whether id matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$,
// the only ids that are safe as object keys and file names.
func ValidTicketID(id string) bool { return ticketIDPattern.MatchString(id) }

// maxReasonableUnix is 9999-12-31; larger created_at values are almost always
// milliseconds, which deserve their own message.
const maxReasonableUnix = 253402300799

// ParseTicket decodes and validates one raw ticket. Parsing is strict: the
// input must be a single JSON object of at most MaxTicketSize bytes, with no
// duplicate members and the types of §2.1. On failure it returns an *Error
// with code EINVALIDTICKET (or ETOOLARGE) whose details name every bad field,
// and the ticket id when one could be read.
func ParseTicket(data []byte) (Ticket, error) {
	if len(data) > MaxTicketSize {
		return Ticket{}, &Error{Code: ETOOLARGE, Message: "ticket too large",
			Details: []Detail{{Reason: fmt.Sprintf("%d bytes exceeds the limit of %d bytes (256 KiB)", len(data), MaxTicketSize)}}}
	}
	members, err := decodeObject(data)
	if err != nil {
		d := Detail{Reason: err.Error()}
		var fe *fieldError
		if errors.As(err, &fe) {
			d = Detail{Field: fe.field, Reason: fe.reason}
		}
		return Ticket{}, &Error{Code: EINVALIDTICKET, Message: "invalid ticket", Details: []Detail{d}, Err: err}
	}
	var (
		t      Ticket
		errs   []Detail
		rawPri string
	)
	bad := func(field, format string, args ...any) {
		errs = append(errs, Detail{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	for _, m := range members {
		seen[m.Name] = true
		switch m.Name {
		case "ticket_id":
			var s string
			if err := decodeString(m.Value, &s); err != nil {
				bad("ticket_id", "must be a string")
			} else if !ValidTicketID(s) {
				bad("ticket_id", "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (letters, digits, '.', '_', '-'; at most 128), got %q", truncate(s, 40))
			} else {
				t.ID = s
			}
		case "subject":
			if !isNull(m.Value) && decodeString(m.Value, &t.Subject) != nil {
				bad("subject", "must be a string")
			}
		case "body":
			if !isNull(m.Value) && decodeString(m.Value, &t.Body) != nil {
				bad("body", "must be a string")
			}
		case "priority":
			if isNull(m.Value) {
				break
			}
			if decodeString(m.Value, &t.PriorityRaw) != nil {
				bad("priority", "must be a string such as \"high\", \"P1\" or \"sev2\"")
				break
			}
			t.Priority = NormalizePriority(t.PriorityRaw)
		case "priority_raw":
			// Written by MarshalJSON when normalization changed the value:
			// reading it back makes ParseTicket(Marshal(t)) equal t.
			if !isNull(m.Value) && decodeString(m.Value, &rawPri) != nil {
				bad("priority_raw", "must be a string (the priority as originally given)")
			}
		case "created_at":
			ts, reason := parseCreatedAt(m.Value)
			if reason != "" {
				bad("created_at", "%s", reason)
			}
			t.CreatedAt = ts
		case "customer_id":
			if decodeString(m.Value, &t.CustomerID) != nil {
				bad("customer_id", "must be a string")
			} else if strings.TrimSpace(t.CustomerID) == "" {
				bad("customer_id", "must not be empty")
			}
		case "metadata":
			if isNull(m.Value) {
				break
			}
			md, details := parseMetadata(m.Value)
			errs = append(errs, details...)
			t.Metadata = md
		default:
			t.Extra = append(t.Extra, m)
		}
	}
	if rawPri != "" {
		t.PriorityRaw = rawPri
	}
	for _, f := range []string{"ticket_id", "created_at", "customer_id"} {
		if !seen[f] {
			bad(f, "is required")
		}
	}
	if strings.TrimSpace(t.Subject) == "" && strings.TrimSpace(t.Body) == "" {
		bad("body", "subject and body must not both be empty")
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i].TicketID = t.ID
		}
		return Ticket{}, &Error{Code: EINVALIDTICKET, Message: "invalid ticket", Details: errs}
	}
	return t, nil
}

func parseCreatedAt(v json.RawMessage) (int64, string) {
	const want = "must be Unix seconds (an integer) or an RFC 3339 string such as \"2026-01-31T09:30:00Z\""
	switch {
	case isNull(v):
		return 0, want
	case v[0] == '"':
		var s string
		if decodeString(v, &s) != nil {
			return 0, want
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Sprintf("%s; %q is not RFC 3339", want, truncate(s, 40))
		}
		// The same range as integers, so that the stored seconds read back.
		switch n := ts.Unix(); {
		case n < 0:
			return 0, fmt.Sprintf("must not be before 1970-01-01T00:00:00Z, got %q", truncate(s, 40))
		case n > maxReasonableUnix:
			return 0, fmt.Sprintf("must not be after 9999-12-31T23:59:59Z, got %q", truncate(s, 40))
		default:
			return n, ""
		}
	default:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			if f, ferr := strconv.ParseFloat(string(v), 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1e15 {
				n = int64(f)
			} else {
				return 0, want
			}
		}
		switch {
		case n < 0:
			return 0, "must not be negative"
		case n > maxReasonableUnix:
			return 0, fmt.Sprintf("%d is too large for Unix seconds (milliseconds? divide by 1000)", n)
		}
		return n, ""
	}
}

func parseMetadata(v json.RawMessage) (*Metadata, []Detail) {
	if len(v) > 0 && v[0] != '{' {
		return nil, []Detail{{Field: "metadata", Reason: "must be an object with source, language and tags, got " + describeValue(v)}}
	}
	members, err := decodeObject(v)
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return nil, []Detail{{Field: "metadata." + fe.field, Reason: fe.reason}}
		}
		return nil, []Detail{{Field: "metadata", Reason: "must be an object: " + err.Error()}}
	}
	var (
		md   Metadata
		errs []Detail
	)
	for _, m := range members {
		switch m.Name {
		case "source":
			if !isNull(m.Value) && decodeString(m.Value, &md.Source) != nil {
				errs = append(errs, Detail{Field: "metadata.source", Reason: "must be a string"})
			}
		case "language":
			if !isNull(m.Value) && decodeString(m.Value, &md.Language) != nil {
				errs = append(errs, Detail{Field: "metadata.language", Reason: "must be a string"})
			}
		case "tags":
			if isNull(m.Value) {
				break
			}
			tags, ok := parseTags(m.Value)
			if !ok {
				errs = append(errs, Detail{Field: "metadata.tags", Reason: "must be an array of strings"})
			}
			md.Tags = tags
		default:
			md.Extra = append(md.Extra, m)
		}
	}
	return &md, errs
}

// parseTags decodes an array of strings; json.Unmarshal alone would turn a
// null element into "" and so accept a tag that is not a string.
func parseTags(v json.RawMessage) ([]string, bool) {
	var elems []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &elems) != nil {
		return nil, false
	}
	tags := make([]string, len(elems))
	for i, e := range elems {
		if decodeString(e, &tags[i]) != nil {
			return nil, false
		}
	}
	return tags, true
}

// fieldError is a decoding error that belongs to one member, so that the
// detail can name it.
type fieldError struct{ field, reason string }

func (e *fieldError) Error() string { return e.reason + " (field " + strconv.Quote(e.field) + ")" }

// decodeObject reads data as exactly one JSON object and returns its members
// in order, rejecting duplicate names (which encoding/json would silently
// resolve to the last one) and anything after the object.
func decodeObject(data []byte) ([]Field, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %s", jsonReason(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("must be a JSON object, got %s", describeToken(tok))
	}
	var members []Field
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %s", jsonReason(err))
		}
		name := tok.(string) // inside an object, Token always yields a string key or an error
		if seen[name] {
			return nil, &fieldError{field: name, reason: "appears more than once; each field may be given only once"}
		}
		seen[name] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not valid JSON in field %q: %s", name, jsonReason(err))
		}
		// Compact, so a preserved value never carries a newline into JSON Lines output.
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, fmt.Errorf("not valid JSON in field %q: %s", name, jsonReason(err))
		}
		members = append(members, Field{Name: name, Value: c.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON: %s", jsonReason(err))
	}
	// Anything but the end of input is an error: a Token error here is
	// garbage such as "}" or "x" after the object, not a clean end.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON object")
	}
	return members, nil
}

func jsonReason(err error) string {
	if err.Error() == "EOF" {
		return "unexpected end of input"
	}
	return err.Error()
}

func describeToken(tok any) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// describeValue names the kind of a valid JSON value for error messages.
func describeValue(v json.RawMessage) string {
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isNull(v json.RawMessage) bool { return string(v) == "null" }

func decodeString(v json.RawMessage, s *string) error {
	if len(v) == 0 || v[0] != '"' {
		return fmt.Errorf("not a string")
	}
	return json.Unmarshal(v, s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// MarshalJSON writes the ticket in its normalized form: priority as the
// level (priority_raw keeps the original when it differs), created_at in
// Unix seconds, and the unknown fields after the known ones.
func (t Ticket) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	w := objectWriter{buf: &b}
	w.open()
	t.writeFields(&w, false)
	return w.close()
}

// writeFields writes the ticket's members. With inRecord, an unknown field
// named "enrichment" is left out: a Record replaces the enrichment the input
// carried with its own, rather than writing the name twice.
func (t Ticket) writeFields(w *objectWriter, inRecord bool) {
	w.field("ticket_id", t.ID)
	w.field("subject", t.Subject)
	w.field("body", t.Body)
	if t.Priority != "" {
		w.field("priority", t.Priority)
	}
	if t.PriorityRaw != "" && t.PriorityRaw != string(t.Priority) {
		w.field("priority_raw", t.PriorityRaw)
	}
	w.field("created_at", t.CreatedAt)
	w.field("customer_id", t.CustomerID)
	if t.Metadata != nil {
		// Not w.field: json.Marshal would re-encode the metadata's preserved
		// members with HTML escaping, so they would no longer be verbatim.
		data, err := t.Metadata.MarshalJSON()
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("marshal metadata: %w", err)
		}
		w.raw("metadata", data)
	}
	for _, f := range t.Extra {
		if !inRecord || f.Name != "enrichment" {
			w.rawValue(f.Name, f.Value)
		}
	}
}

// MarshalJSON writes the known members, omitting empty ones, then the
// unknown members verbatim.
func (m *Metadata) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	w := objectWriter{buf: &b}
	w.open()
	if m.Source != "" {
		w.field("source", m.Source)
	}
	if m.Language != "" {
		w.field("language", m.Language)
	}
	if m.Tags != nil {
		w.field("tags", m.Tags)
	}
	for _, f := range m.Extra {
		w.rawValue(f.Name, f.Value)
	}
	return w.close()
}

// objectWriter writes a JSON object member by member, keeping the order the
// contract documents (encoding/json sorts map keys, which would scatter the
// unknown fields among the known ones).
type objectWriter struct {
	buf *bytes.Buffer
	n   int
	err error
}

func (w *objectWriter) open() { w.buf.WriteByte('{') }

func (w *objectWriter) field(name string, v any) {
	if w.err != nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		w.err = fmt.Errorf("marshal %s: %w", name, err)
		return
	}
	w.raw(name, data)
}

// rawValue writes a preserved value compacted, so that a Ticket built by
// hand with an indented or invalid value still yields one line of valid JSON.
func (w *objectWriter) rawValue(name string, v json.RawMessage) {
	if w.err != nil {
		return
	}
	var c bytes.Buffer
	if err := json.Compact(&c, v); err != nil {
		w.err = fmt.Errorf("marshal %s: %w", name, err)
		return
	}
	w.raw(name, c.Bytes())
}

func (w *objectWriter) raw(name string, v json.RawMessage) {
	if w.n > 0 {
		w.buf.WriteByte(',')
	}
	w.n++
	key, _ := json.Marshal(name)
	w.buf.Write(key)
	w.buf.WriteByte(':')
	w.buf.Write(v)
}

func (w *objectWriter) close() ([]byte, error) {
	w.buf.WriteByte('}')
	return w.buf.Bytes(), w.err
}
