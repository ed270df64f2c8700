package enricher_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/ticket-enricher/enricher"
)

// scanned is what a test expects of one item: its bytes, or the code of
// its error ("" for none).
type scanned struct {
	data string
	code string
}

// MustScanAll scans r to the end, checking what must hold of every scan:
// indices count up from 0, an item has bytes or an error, an error's details
// carry the item's index. It returns the items and Err.
func MustScanAll(tb testing.TB, r io.Reader) ([]enricher.RawTicket, error) {
	tb.Helper()
	sc := enricher.NewTicketScanner(r)
	var items []enricher.RawTicket
	for sc.Scan() {
		it := sc.Ticket()
		if it.Index != len(items) {
			tb.Fatalf("item %d: got index %d, want %d", len(items), it.Index, len(items))
		}
		checkItem(tb, it)
		items = append(items, it)
	}
	if sc.Scan() {
		tb.Fatalf("Scan after the end: got true, want false")
	}
	return items, sc.Err()
}

func checkItem(tb testing.TB, it enricher.RawTicket) {
	tb.Helper()
	if it.Err == nil {
		if len(it.Data) == 0 {
			tb.Fatalf("item %d: got no data and no error", it.Index)
		}
		return
	}
	details := enricher.ErrorDetails(it.Err)
	if len(details) == 0 {
		tb.Fatalf("item %d: error %v has no details", it.Index, it.Err)
	}
	for _, d := range details {
		if d.Index == nil || *d.Index != it.Index {
			tb.Fatalf("item %d: detail %+v does not carry the item's index", it.Index, d)
		}
	}
}

func TestTicketScanner_Scan(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	ok := func(data string) scanned { return scanned{data: data} }
	bad := func(data string) scanned { return scanned{data: data, code: enricher.EINVALIDTICKET} }
	tests := []struct {
		name    string
		input   string
		want    []scanned
		wantErr string // code of Err, "" for a clean end
	}{
		{"empty", "", nil, ""},
		{"blank lines only", "\n \r\n\t\n", nil, ""},
		{"single object", `{"a":1}`, []scanned{ok(`{"a":1}`)}, ""},
		{"single object with spaces and newline", "  {\"a\":1}  \n", []scanned{ok(`{"a":1}`)}, ""},
		{"pretty-printed object", "{\n  \"a\": 1,\n  \"b\": [\n    1\n  ]\n}\n",
			[]scanned{ok("{\n  \"a\": 1,\n  \"b\": [\n    1\n  ]\n}")}, ""},
		{"pretty-printed object with nested objects starting lines", "{\n \"a\": [\n  {\n   \"b\": 1\n  },\n  {\"c\": 2}\n ],\n \"d\":\n {}\n}",
			[]scanned{ok("{\n \"a\": [\n  {\n   \"b\": 1\n  },\n  {\"c\": 2}\n ],\n \"d\":\n {}\n}")}, ""},
		{"pretty-printed objects one after another", "{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n",
			[]scanned{ok("{\n \"a\": 1\n}"), ok("{\n \"a\": 2\n}")}, ""},
		{"pretty-printed object then JSON Lines", "{\n \"a\": 1\n}\n{\"a\":2}\n{\"a\":3}\n",
			[]scanned{ok("{\n \"a\": 1\n}"), ok(`{"a":2}`), ok(`{"a":3}`)}, ""},
		{"strings with brackets, quotes and escapes", "{\n \"a\": \"}]{[\\\"\\\\\",\n \"b\": \"\\u007d\"\n}\n{\"c\":\"{\"}\n",
			[]scanned{ok("{\n \"a\": \"}]{[\\\"\\\\\",\n \"b\": \"\\u007d\"\n}"), ok(`{"c":"{"}`)}, ""},
		{"array", `[{"a":1},{"b":2}]`, []scanned{ok(`{"a":1}`), ok(`{"b":2}`)}, ""},
		{"array with whitespace", "\n [\n  {\"a\": 1} ,\n\n  {\"b\": 2}\n ]\n\n",
			[]scanned{ok(`{"a": 1}`), ok(`{"b": 2}`)}, ""},
		{"empty array", `[]`, nil, ""},
		{"empty array with whitespace", " [ \n ] \n", nil, ""},
		{"nested array", `[{"a":[{"b":[1,{"c":{}}]}]},{"d":"]"}]`,
			[]scanned{ok(`{"a":[{"b":[1,{"c":{}}]}]}`), ok(`{"d":"]"}`)}, ""},
		{"array of values that are not objects", `[1,"x",null,[]]`,
			[]scanned{ok(`1`), ok(`"x"`), ok(`null`), ok(`[]`)}, ""},
		{"JSON Lines", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}",
			[]scanned{ok(`{"a":1}`), ok(`{"a":2}`), ok(`{"a":3}`)}, ""},
		{"JSON Lines with blank lines and CRLF", "\r\n{\"a\":1}\r\n\r\n\n{\"a\":2}\r\n  \t\r\n{\"a\":3}\r\n\r\n",
			[]scanned{ok(`{"a":1}`), ok(`{"a":2}`), ok(`{"a":3}`)}, ""},
		{"bad line reported, next lines scanned", "{\"a\":1}\n{\"a\":}\n{\"a\":3}\n",
			[]scanned{ok(`{"a":1}`), bad(`{"a":}`), ok(`{"a":3}`)}, ""},
		{"garbage line", "hello\n{\"a\":1}\n", []scanned{bad(`hello`), ok(`{"a":1}`)}, ""},
		{"unfinished line followed by a good line", "{\"a\":1,\"b\":2\n{\"a\":2}\n",
			[]scanned{bad(`{"a":1,"b":2`), ok(`{"a":2}`)}, ""},
		{"unfinished line continued by the next", "{\"a\":1,\"b\":\n{\"a\":2}\n",
			[]scanned{bad("{\"a\":1,\"b\":\n{\"a\":2}")}, ""},
		{"unfinished string followed by a good line", "{\"a\":\"x\r\n  {\"a\":2}\n",
			[]scanned{bad(`{"a":"x`), ok(`{"a":2}`)}, ""},
		{"unfinished lines followed by a good line", "{\"a\":[\n1,\n{\"a\":2}\n{\"a\":3}\n",
			[]scanned{bad("{\"a\":[\n1,\n{\"a\":2}"), ok(`{"a":3}`)}, ""},
		{"unfinished string followed by a line that is not an object", "{\"a\":\"x\n\"y\"}\n{\"a\":3}\n",
			[]scanned{bad("{\"a\":\"x\n\"y\"}"), ok(`{"a":3}`)}, ""},
		{"last line unfinished", "{\"a\":1}\n{\"a\":", []scanned{ok(`{"a":1}`), bad(`{"a":`)}, ""},
		{"last value unfinished over lines", "{\"a\":1}\n{\n \"a\": [\n", []scanned{ok(`{"a":1}`), bad("{\n \"a\": [")}, ""},
		{"stray closing brace", "{\"a\":1}}\n{\"a\":2}\n", []scanned{bad(`{"a":1}}`), ok(`{"a":2}`)}, ""},
		{"stray closing bracket", "{\"a\":1}]\n", []scanned{bad(`{"a":1}]`)}, ""},
		{"two objects on a line", "{\"a\":1} {\"a\":2}\n{\"a\":3}\n", []scanned{bad(`{"a":1} {"a":2}`), ok(`{"a":3}`)}, ""},
		{"junk after a pretty-printed object", "{\n\"a\":1\n} x\n{\"b\":2}\n", []scanned{bad("{\n\"a\":1\n} x"), ok(`{"b":2}`)}, ""},
		{"values that are not objects, one a line", "42\n\"x\"\nnull\n", []scanned{ok(`42`), ok(`"x"`), ok(`null`)}, ""},
		{"BOM then object", bom + `{"a":1}`, []scanned{ok(`{"a":1}`)}, ""},
		{"BOM then array", bom + ` [{"a":1}]`, []scanned{ok(`{"a":1}`)}, ""},
		{"BOM then JSON Lines", bom + "{\"a\":1}\n{\"a\":2}\n", []scanned{ok(`{"a":1}`), ok(`{"a":2}`)}, ""},
		{"BOM alone", bom, nil, ""},
		{"a lone 0xEF is not a BOM", " \xef[", []scanned{bad("\xef[")}, ""},
		{"a cut BOM is not a BOM", "\xef\xbb{\"a\":1}", []scanned{bad("\xef\xbb{\"a\":1}")}, ""},
		{"BOM in the middle is data", "{\"a\":1}\n" + bom + "{\"a\":2}\n", []scanned{ok(`{"a":1}`), bad(bom + `{"a":2}`)}, ""},
		{"malformed array: unfinished", `[{"a":1},{"b":`, []scanned{ok(`{"a":1}`)}, enricher.EINVALIDTICKET},
		{"malformed array: missing comma", `[{"a":1} {"b":2}]`, []scanned{ok(`{"a":1}`)}, enricher.EINVALIDTICKET},
		{"malformed array: trailing comma", `[{"a":1},]`, []scanned{ok(`{"a":1}`)}, enricher.EINVALIDTICKET},
		{"malformed array: bad item", `[{"a":1},{"b":}]`, []scanned{ok(`{"a":1}`)}, enricher.EINVALIDTICKET},
		{"malformed array: unclosed", "[{\"a\":1}\n", []scanned{ok(`{"a":1}`)}, enricher.EINVALIDTICKET},
		{"malformed array: only a bracket", `[`, nil, enricher.EINVALIDTICKET},
		{"data after the array", "[{\"a\":1}] x", []scanned{ok(`{"a":1}`)}, enricher.EINVALIDTICKET},
		{"two arrays", "[{\"a\":1}]\n[{\"b\":2}]", []scanned{ok(`{"a":1}`)}, enricher.EINVALIDTICKET},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := MustScanAll(t, strings.NewReader(tt.input))
			if code := enricher.ErrorCode(err); code != tt.wantErr {
				t.Errorf("Err(): got %q (%v), want %q", code, err, tt.wantErr)
			}
			got := make([]scanned, len(items))
			for i, it := range items {
				got[i] = scanned{data: string(it.Data), code: enricher.ErrorCode(it.Err)}
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("items of %q:\n got %q\nwant %q", tt.input, got, tt.want)
			}
		})
	}
}

// hugeValue returns a one-line JSON object of about n bytes.
func hugeValue(n int) string {
	return `{"ticket_id":"big","body":"` + strings.Repeat("x", n) + `"}`
}

// prettyValue returns a JSON object of about n bytes over many short lines.
func prettyValue(n int) string {
	var b strings.Builder
	b.WriteString("{\n \"a\": [\n")
	for b.Len() < n {
		b.WriteString("  1,\n")
	}
	b.WriteString("  1\n ]\n}")
	return b.String()
}

func TestTicketScanner_Scan_tooLarge(t *testing.T) {
	good := `{"a":1}`
	atLimit := string(padded(t, enricher.MaxTicketSize))
	tooLarge := scanned{code: enricher.ETOOLARGE}
	tests := []struct {
		name    string
		input   string
		want    []scanned
		wantErr string
	}{
		{"line at the limit", atLimit + "\n" + good, []scanned{{data: atLimit}, {data: good}}, ""},
		{"line one byte over", string(padded(t, enricher.MaxTicketSize+1)) + "\n" + good, []scanned{tooLarge, {data: good}}, ""},
		{"complete line over the limit", good + "\n" + hugeValue(300<<10) + "\n" + good, []scanned{{data: good}, tooLarge, {data: good}}, ""},
		{"complete line far over the limit", hugeValue(3<<20) + "\n" + good, []scanned{tooLarge, {data: good}}, ""},
		{"unfinished line over the limit", hugeValue(270 << 10)[:270<<10] + "\n" + good, []scanned{tooLarge, {data: good}}, ""},
		{"unfinished line far over the limit", hugeValue(3 << 20)[:3<<20] + "\n" + good + "\n" + good, []scanned{tooLarge, {data: good}, {data: good}}, ""},
		{"blank tail over the limit", `{"a":1` + strings.Repeat(" ", 1<<20) + "}\n" + good, []scanned{tooLarge, {data: good}}, ""},
		{"pretty-printed value over the limit", prettyValue(300<<10) + "\n" + good + "\n", []scanned{tooLarge, {data: good}}, ""},
		{"pretty-printed value just under the limit", prettyValue(250<<10) + "\n" + good, []scanned{{data: prettyValue(250 << 10)}, {data: good}}, ""},
		{"last line over the limit", good + "\n" + hugeValue(300<<10), []scanned{{data: good}, tooLarge}, ""},
		{"array item at the limit", "[" + atLimit + "," + good + "]", []scanned{{data: atLimit}, {data: good}}, ""},
		{"array item over the limit", "[" + good + "," + hugeValue(300<<10) + "," + good + "]", []scanned{{data: good}, tooLarge, {data: good}}, ""},
		{"array item too large to read past", "[" + good + "," + hugeValue(1<<20) + "," + good + "]", []scanned{{data: good}}, enricher.ETOOLARGE},
		{"array item far over the limit", "[" + hugeValue(20<<20) + "]", nil, enricher.ETOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := MustScanAll(t, strings.NewReader(tt.input))
			if code := enricher.ErrorCode(err); code != tt.wantErr {
				t.Errorf("Err(): got %q (%v), want %q", code, err, tt.wantErr)
			}
			if len(items) != len(tt.want) {
				t.Fatalf("items: got %d, want %d", len(items), len(tt.want))
			}
			for i, it := range items {
				got := scanned{data: string(it.Data), code: enricher.ErrorCode(it.Err)}
				if got != tt.want[i] {
					t.Errorf("item %d: got %.60q (%d bytes) code %q, want %.60q (%d bytes) code %q",
						i, got.data, len(got.data), got.code, tt.want[i].data, len(tt.want[i].data), tt.want[i].code)
				}
			}
			for _, it := range items {
				if it.Err == nil {
					if _, err := enricher.ParseTicket(it.Data); enricher.ErrorCode(err) == enricher.ETOOLARGE {
						t.Errorf("item %d: the scanner passed %d bytes that ParseTicket finds too large", it.Index, len(it.Data))
					}
				}
			}
		})
	}
}

// chunkReader returns one chunk per Read, then err: it shows whether the
// scanner reads further than it must.
type chunkReader struct {
	chunks []string
	err    error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, r.err
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// A ticket is handed out as soon as its last line has arrived, so that
// `enricher enrich -` answers a pipe line by line; a read error ends the scan
// with that error.
func TestTicketScanner_Scan_noReadAhead(t *testing.T) {
	errStop := errors.New("read past the ticket")
	tests := []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"JSON Lines", []string{"{\"a\":1}\n", "{\"a\":2}\n"}, []string{`{"a":1}`, `{"a":2}`}},
		{"pretty-printed", []string{"{\n", "  \"a\": [\n", "    {}\n", "  ]\n", "}\n"}, []string{"{\n  \"a\": [\n    {}\n  ]\n}"}},
		{"array", []string{"[{\"a\":1}", ",{\"a\":2}"}, []string{`{"a":1}`, `{"a":2}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := enricher.NewTicketScanner(&chunkReader{chunks: tt.chunks, err: errStop})
			for i, want := range tt.want {
				if !sc.Scan() {
					t.Fatalf("Scan %d: got false (%v), want %s", i, sc.Err(), want)
				}
				if got := string(sc.Ticket().Data); got != want || sc.Ticket().Err != nil {
					t.Fatalf("Scan %d: got %q (%v), want %q", i, got, sc.Ticket().Err, want)
				}
			}
			if sc.Scan() {
				t.Fatalf("Scan after the data: got %q, want false", sc.Ticket().Data)
			}
			if err := sc.Err(); !errors.Is(err, errStop) || enricher.ErrorCode(err) != enricher.EINTERNAL {
				t.Errorf("Err(): got %v (code %q), want the read error with code %q", err, enricher.ErrorCode(err), enricher.EINTERNAL)
			}
		})
	}
}

// ticketStream generates n small tickets as JSON Lines or as one array,
// without holding them.
type ticketStream struct {
	n, next int
	array   bool
	buf     []byte
	state   int // 0 before, 1 tickets, 2 after
	read    int64
}

func (s *ticketStream) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		switch {
		case s.state == 0:
			s.state = 1
			if s.array {
				s.buf = append(s.buf, "[\n"...)
			}
		case s.state == 1 && s.next < s.n:
			if s.array && s.next > 0 {
				s.buf = append(s.buf, ",\n"...)
			}
			s.buf = fmt.Appendf(s.buf, `{"ticket_id":"S-%d","subject":"Ticket %d","body":"I cannot log in since the update, please help.","created_at":%d,"customer_id":"C-%d"}`,
				s.next, s.next, 1767534579+s.next, s.next%97)
			if !s.array {
				s.buf = append(s.buf, '\n')
			}
			s.next++
		case s.state == 1:
			s.state = 2
			if s.array {
				s.buf = append(s.buf, "\n]\n"...)
			}
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	s.read += int64(n)
	return n, nil
}

func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func TestTicketScanner_Scan_streaming(t *testing.T) {
	const n = 100_000
	for _, array := range []bool{false, true} {
		t.Run(fmt.Sprintf("array=%v", array), func(t *testing.T) {
			src := &ticketStream{n: n, array: array}
			before := heapAlloc()
			var peak int64
			sc := enricher.NewTicketScanner(src)
			count := 0
			for sc.Scan() {
				it := sc.Ticket()
				if it.Index != count || it.Err != nil {
					t.Fatalf("item %d: got index %d, error %v", count, it.Index, it.Err)
				}
				if count%100 == 0 {
					tk := MustParseTicket(t, string(it.Data))
					if want := fmt.Sprintf("S-%d", count); tk.ID != want {
						t.Fatalf("item %d: got id %q, want %q", count, tk.ID, want)
					}
				}
				if count%25_000 == 0 {
					peak = max(peak, heapAlloc()-before)
				}
				count++
			}
			if err := sc.Err(); err != nil {
				t.Fatalf("Err(): %v", err)
			}
			if count != n {
				t.Fatalf("tickets: got %d, want %d", count, n)
			}
			// Holding the tickets would take at least the input's size; a
			// streaming scanner holds one ticket and its buffers.
			if limit := src.read / 8; peak > limit {
				t.Errorf("heap while scanning %d bytes: got %d bytes more than before, want under %d", src.read, peak, limit)
			}
		})
	}
}

// A value of very many short lines costs time linear in its size: this is
// the case that used to validate the joined text after every line.
func TestTicketScanner_Scan_manyShortLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("{\"a\":[\n")
	for range 60_000 {
		b.WriteString("1,\n")
	}
	b.WriteString("1]}\n{\"b\":2}\n")
	items, err := MustScanAll(t, strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("Err(): %v", err)
	}
	if len(items) != 2 || items[0].Err != nil || items[1].Err != nil {
		t.Fatalf("items: got %d (%v), want 2 without errors", len(items), items)
	}
	if got, want := len(items[0].Data), b.Len()-len("\n{\"b\":2}\n"); got != want {
		t.Errorf("first item: got %d bytes, want %d", got, want)
	}
}

// A syntax error deep in a value spanning many lines is cut at the line
// where it appears, even when the scanner only validates now and then.
func TestTicketScanner_Scan_errorDeepInLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("{\n")
	for range 1000 {
		b.WriteString("\"k\":1,\n")
	}
	b.WriteString("\"bad\" 1,\n")
	for range 10 {
		b.WriteString("\"k\":1,\n")
	}
	b.WriteString("\"k\":1}\n{\"good\":true}\n")
	input := b.String()
	items, err := MustScanAll(t, strings.NewReader(input))
	if err != nil {
		t.Fatalf("Err(): %v", err)
	}
	want := reference([]byte(input))
	if len(items) != len(want) {
		t.Fatalf("items: got %d, want %d", len(items), len(want))
	}
	if len(items) != 13 {
		t.Errorf("items: got %d, want 13 (the broken value, 11 stray lines, the good one)", len(items))
	}
	for i, it := range items {
		if string(it.Data) != string(want[i].data) || (it.Err != nil) != want[i].bad {
			t.Errorf("item %d: got %.40q (error %v), want %.40q (error %v)", i, it.Data, it.Err, want[i].data, want[i].bad)
		}
	}
	if !strings.HasSuffix(string(items[0].Data), `"bad" 1,`) {
		t.Errorf("first item: got ...%q, want it to end at the broken line", items[0].Data[len(items[0].Data)-20:])
	}
}

// refItem is one item of the reference cutting of JSON Lines.
type refItem struct {
	data []byte
	bad  bool
}

// reference cuts JSON Lines by the rules TicketScanner documents, in the
// plainest way: validate the joined text after every line. It is quadratic
// and ignores the size limit; tests compare the scanner with it.
func reference(input []byte) []refItem {
	const space = " \t\r\n"
	var lines [][]byte
	for len(input) > 0 {
		i := bytes.IndexByte(input, '\n')
		if i < 0 {
			i = len(input) - 1
		}
		lines, input = append(lines, input[:i+1]), input[i+1:]
	}
	check := func(text []byte) (complete, unfinished bool) {
		dec := json.NewDecoder(bytes.NewReader(text))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return false, err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)
		}
		return len(bytes.Trim(text[dec.InputOffset():], space)) == 0, false
	}
	var items []refItem
	for i := 0; i < len(lines); {
		var buf []byte
		cut := false
		for ; i < len(lines) && !cut; i++ {
			prev := len(buf)
			if len(bytes.Trim(lines[i], space)) > 0 || len(buf) > 0 {
				buf = append(buf, lines[i]...)
			}
			text := bytes.Trim(buf, space)
			if len(text) == 0 {
				continue
			}
			complete, unfinished := check(text)
			switch {
			case complete:
				items, cut = append(items, refItem{data: text}), true
			case unfinished:
			case prev > 0 && bytes.HasPrefix(bytes.TrimLeft(lines[i], space), []byte("{")):
				items, cut = append(items, refItem{data: bytes.Trim(buf[:prev], space), bad: true}), true
				i-- // the line starts the next value
			default:
				items, cut = append(items, refItem{data: text, bad: true}), true
			}
		}
		if !cut {
			if text := bytes.Trim(buf, space); len(text) > 0 {
				items = append(items, refItem{data: text, bad: true})
			}
		}
	}
	return items
}

func FuzzTicketScanner(f *testing.F) {
	seeds := []string{
		"",
		`{"ticket_id":"T-1","subject":"s","created_at":1,"customer_id":"c"}`,
		"{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":",
		"{\n  \"a\": [\n    {\"b\": 1},\n    2\n  ]\n}\n{\"c\":3}\n",
		"{\"a\":1,\"b\":\n{\"a\":2}\n",
		"{\"a\":\"x\n\"y\"}\n}}\n",
		"\xEF\xBB\xBF[{\"a\":1}, {\"b\":[2]}]",
		"[{\"a\":1},]",
		"[1,\"x\",null]",
		"[] x",
		"hello\n42\n\"s\"\ntrue\n",
		"{\"a\":1}} {\"b\":2}\n",
		"{\"s\":\"\\\"{[\"}\n{\n\"t\":\n\"\\\\\"\n}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := enricher.NewTicketScanner(bytes.NewReader(data))
		var items []enricher.RawTicket
		for sc.Scan() {
			it := sc.Ticket()
			if it.Index != len(items) {
				t.Fatalf("item %d: got index %d", len(items), it.Index)
			}
			checkItem(t, it)
			if it.Err == nil && !json.Valid(it.Data) {
				t.Fatalf("item %d: got invalid JSON %q without an error", it.Index, it.Data)
			}
			items = append(items, it)
			// Every item consumes at least one byte of input.
			if len(items) > len(data) {
				t.Fatalf("got %d items from %d bytes: the scanner does not advance", len(items), len(data))
			}
		}
		if sc.Scan() {
			t.Fatalf("Scan after the end: got true")
		}
		err := sc.Err()
		if err != nil && enricher.ErrorCode(err) == enricher.EINTERNAL {
			t.Fatalf("Err(): got %v with code %q, want a client error", err, enricher.ErrorCode(err))
		}

		if len(data) > enricher.MaxTicketSize {
			return // the reference knows no size limit
		}
		// Blanks and byte order marks before the first value are skipped.
		body := bytes.TrimLeft(data, " \t\r\n")
		for bom := []byte("\xEF\xBB\xBF"); bytes.HasPrefix(body, bom); {
			body = bytes.TrimLeft(body[len(bom):], " \t\r\n")
		}
		if bytes.HasPrefix(body, []byte("[")) {
			// An array: the items of a valid array, or an error.
			var want []json.RawMessage
			if json.Unmarshal(body, &want) != nil {
				if err == nil {
					t.Fatalf("invalid array %q: got no error", data)
				}
				return
			}
			if err != nil {
				t.Fatalf("valid array %q: got error %v", data, err)
			}
			if len(items) != len(want) {
				t.Fatalf("array %q: got %d items, want %d", data, len(items), len(want))
			}
			for i := range want {
				if !bytes.Equal(items[i].Data, want[i]) {
					t.Fatalf("array %q item %d: got %q, want %q", data, i, items[i].Data, want[i])
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("JSON Lines: got Err %v, want errors only per item", err)
		}
		want := reference(body)
		if len(items) != len(want) {
			t.Fatalf("JSON Lines %q: got %d items, want %d (%+v)", data, len(items), len(want), want)
		}
		for i, w := range want {
			if !bytes.Equal(items[i].Data, w.data) || (items[i].Err != nil) != w.bad {
				t.Fatalf("JSON Lines %q item %d: got %q (error %v), want %q (error %v)", data, i, items[i].Data, items[i].Err, w.data, w.bad)
			}
		}
	})
}

func BenchmarkTicketScanner_Scan(b *testing.B) {
	lines := func(n int) string {
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, `{"ticket_id":"B-%d","subject":"Cannot log in","body":"Since the update the login page spins forever. Please help, our whole team is blocked.","priority":"P2","created_at":1767534579,"customer_id":"C-1","metadata":{"source":"web","tags":["login"]}}`+"\n", i)
		}
		return sb.String()
	}
	ndjson := lines(1000)
	array := "[" + strings.ReplaceAll(strings.TrimSuffix(ndjson, "\n"), "\n", ",\n") + "]"
	var pretty strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&pretty, "{\n  \"ticket_id\": \"B-%d\",\n  \"subject\": \"Cannot log in\",\n  \"body\": \"Since the update the login page spins forever.\",\n  \"created_at\": 1767534579,\n  \"customer_id\": \"C-1\",\n  \"metadata\": {\n    \"tags\": [\n      \"login\"\n    ]\n  }\n}\n", i)
	}
	inputs := []struct {
		name, data string
	}{
		{"ndjson", ndjson},
		{"array", array},
		{"pretty", pretty.String()},
		{"short-lines-256KiB", prettyValue(250 << 10)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			tickets := 0
			for b.Loop() {
				sc := enricher.NewTicketScanner(strings.NewReader(in.data))
				for sc.Scan() {
					if sc.Ticket().Err != nil {
						b.Fatal(sc.Ticket().Err)
					}
					tickets++
				}
				if sc.Err() != nil {
					b.Fatal(sc.Err())
				}
			}
			b.ReportMetric(float64(tickets)/b.Elapsed().Seconds(), "tickets/s")
		})
	}
}
