package enricher

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// RawTicket is one ticket cut out of a batch, not yet validated: its position
// in the input, its bytes, and the reason it could not be cut cleanly, if any.
type RawTicket struct {
	Index int
	Data  []byte
	Err   error
}

// TicketScanner reads tickets from a stream holding one JSON object, a JSON
// array of objects, or JSON Lines, without reading the whole stream into
// memory, so that `enricher enrich` runs in flat memory on any input size:
// it holds at most one ticket, bounded by MaxTicketSize, at a time.
//
// A malformed line of JSON Lines is reported in that item's Err and scanning
// goes on with the next line; a malformed array cannot be resynchronized, so
// it ends the scan with an error from Err. A ticket over MaxTicketSize is an
// item whose Err has code ETOOLARGE; in an array, an item too large to be
// read past in bounded memory (MaxTicketSize plus 64 KiB) ends the scan.
type TicketScanner struct {
	r     *bufio.Reader
	mode  byte // 0 before the first value, '[' for an array, '{' for objects/lines
	dec   *json.Decoder
	lim   *boundedReader // the decoder's source in array mode
	index int
	cur   RawTicket
	err   error
	done  bool
	// pending holds lines read ahead of the last ticket, scanned before
	// the reader; pendingPartial says its last line continues in the reader.
	pending        []byte
	pendingPartial bool
}

// NewTicketScanner returns a scanner over r.
func NewTicketScanner(r io.Reader) *TicketScanner {
	return &TicketScanner{r: bufio.NewReaderSize(r, 64<<10)}
}

// Scan advances to the next ticket, which Ticket then returns. It returns
// false at the end of the input or on an error that stops the scan.
func (s *TicketScanner) Scan() bool {
	if s.done {
		return false
	}
	if s.mode == 0 {
		c, err := s.peekNonSpace()
		if err == io.EOF {
			s.done = true
			return false
		} else if err != nil {
			return s.fail(fmt.Errorf("read tickets: %w", err))
		}
		switch c {
		case '[':
			s.mode = '['
			s.lim = &boundedReader{r: s.r}
			s.dec = json.NewDecoder(s.lim)
			s.lim.limit = arrayItemLimit
			if _, err := s.dec.Token(); err != nil {
				return s.fail(Errorf(EINVALIDTICKET, "invalid ticket array: %s", jsonReason(err)))
			}
		default:
			s.mode = '{'
		}
	}
	if s.mode == '[' {
		return s.scanArray()
	}
	return s.scanLines()
}

// Ticket returns the ticket found by the last call to Scan.
func (s *TicketScanner) Ticket() RawTicket { return s.cur }

// Err returns the error that stopped the scan, or nil at a clean end.
func (s *TicketScanner) Err() error { return s.err }

func (s *TicketScanner) fail(err error) bool {
	s.err, s.done = err, true
	return false
}

func (s *TicketScanner) peekNonSpace() (byte, error) {
	for {
		b, err := s.r.Peek(1)
		if err != nil {
			return 0, err
		}
		// Copy the byte: b aliases the reader's buffer, which the Peek(3)
		// below may shift, and b[0] would then be another byte.
		c := b[0]
		switch c {
		case ' ', '\t', '\r', '\n':
			s.r.ReadByte()
			continue
		case 0xEF: // a UTF-8 byte order mark, as some editors write
			if bom, _ := s.r.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				s.r.Discard(3)
				continue
			}
		}
		return c, nil
	}
}

// arrayItemLimit is how far the decoder may read past the start of an array
// item: the item itself plus room for the separators around it.
const arrayItemLimit = MaxTicketSize + 64<<10

// errItemTooLarge stops the array decoder when an item outgrows
// arrayItemLimit, before it can buffer the item whole.
var errItemTooLarge = errors.New("ticket array item too large")

// boundedReader lets the array decoder read only up to limit bytes in all;
// the scanner moves limit forward before each item. The decoder reads more
// only when the value it scans is unfinished, so the bytes it holds are
// bounded by the item's size plus one read.
type boundedReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		return 0, errItemTooLarge
	}
	if room := b.limit - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func (s *TicketScanner) scanArray() bool {
	s.lim.limit = s.dec.InputOffset() + arrayItemLimit
	if !s.dec.More() {
		if _, err := s.dec.Token(); err != nil {
			return s.failArray(err, "invalid ticket array after item %d: %s")
		}
		s.lim.limit = math.MaxInt64 // only whitespace may follow; its length does not matter
		if _, err := s.dec.Token(); err != io.EOF {
			return s.fail(Errorf(EINVALIDTICKET, "unexpected data after the ticket array"))
		}
		s.done = true
		return false
	}
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return s.failArray(err, "invalid ticket array at item %d: %s")
	}
	if len(raw) > MaxTicketSize {
		return s.emit(nil, tooLarge())
	}
	s.cur = RawTicket{Index: s.index, Data: raw}
	s.index++
	return true
}

func (s *TicketScanner) failArray(err error, format string) bool {
	if errors.Is(err, errItemTooLarge) {
		idx := s.index
		return s.fail(&Error{Code: ETOOLARGE, Message: "ticket too large", Err: err,
			Details: []Detail{{Index: &idx, Reason: fmt.Sprintf("ticket array item %d is more than %d bytes (256 KiB)", s.index, MaxTicketSize)}}})
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) && !errors.Is(err, io.ErrUnexpectedEOF) && err != io.EOF {
		return s.fail(fmt.Errorf("read tickets: %w", err))
	}
	return s.fail(Errorf(EINVALIDTICKET, format, s.index, jsonReason(err)))
}

// scanLines reads JSON Lines. A value may span several lines (a single
// pretty-printed object): lines are joined while the text so far is an
// incomplete JSON value, and cut at the first line where it is complete or
// plainly wrong. When a line is wrong only because the line before it was
// unfinished and it starts a new object, the unfinished part is the bad
// ticket and the new line is scanned on its own.
//
// Validating the joined text after every line would cost quadratic time in
// the lines of one value (seconds for a 256 KiB object of short lines), so
// the text is validated only when a cheap bracket count says it may be
// complete or broken, when it has doubled since the last validation, and at
// the end; cut then finds the line where it first stopped being a prefix.
func (s *TicketScanner) scanLines() bool {
	var (
		buf     []byte // the lines of the value so far, leading space removed
		ends    []int  // ends[i] is where line i ends in buf
		checked int    // len(buf) at the last validation
		tr      depthTracker
	)
	for {
		line, partial, err := s.nextLine()
		if err != nil && err != io.EOF {
			return s.fail(fmt.Errorf("read tickets: %w", err))
		}
		eof := err == io.EOF
		if len(buf) == 0 {
			line = bytes.TrimLeft(line, " \t\r\n")
		}
		if len(line) > 0 {
			buf = append(buf, line...)
			ends = append(ends, len(buf))
			tr.feed(line)
		}
		if len(buf) > 0 && (eof || partial || tr.maybeDone() || len(buf) >= 2*checked || len(buf) > MaxTicketSize) {
			checked, tr.brokenString = len(buf), false
			text := trimRight(buf)
			verr := validJSON(text)
			switch {
			case !errors.Is(verr, io.ErrUnexpectedEOF):
				return s.cut(buf, ends, partial)
			case len(buf) > MaxTicketSize: // buf, not text: trailing blanks take memory too
				if err := s.skipTooLarge(partial, len(ends) > 1, &tr); err != nil {
					return s.fail(fmt.Errorf("read tickets: %w", err))
				}
				return s.emit(nil, tooLarge())
			case eof:
				return s.emit(text, Errorf(EINVALIDTICKET, "invalid JSON: unexpected end of input"))
			}
		}
		if eof {
			s.done = true
			return false
		}
	}
}

// cut emits the first value of buf, which validJSON found complete or wrong,
// and keeps the lines after it for the next Scan. Whether a prefix of whole
// lines is unfinished is monotone (unfinished, then complete or wrong for
// good), so the first line where it stops being unfinished is a binary
// search away; most often it is the last line, which is tried first.
func (s *TicketScanner) cut(buf []byte, ends []int, lastPartial bool) bool {
	prefix := func(k int) []byte { return trimRight(buf[:ends[k]]) }
	unfinished := func(k int) bool { return errors.Is(validJSON(prefix(k)), io.ErrUnexpectedEOF) }
	last := len(ends) - 1
	k := last
	if last > 0 && !unfinished(last-1) {
		k = sort.Search(last, func(i int) bool { return !unfinished(i) })
	}
	text := prefix(k)
	verr := validJSON(text)
	lineStart := 0
	if k > 0 {
		lineStart = ends[k-1]
	}
	switch {
	case verr == nil:
		s.keep(buf[ends[k]:], lastPartial)
		if len(text) > MaxTicketSize {
			return s.emit(nil, tooLarge())
		}
		return s.emit(text, nil)
	case k > 0 && bytes.HasPrefix(bytes.TrimLeft(buf[lineStart:ends[k]], " \t\r\n"), []byte("{")):
		s.keep(buf[lineStart:], lastPartial)
		return s.emit(prefix(k-1), Errorf(EINVALIDTICKET, "invalid JSON: unexpected end of line"))
	default:
		s.keep(buf[ends[k]:], lastPartial)
		return s.emit(text, Errorf(EINVALIDTICKET, "invalid JSON: %s", verr))
	}
}

// keep puts lines read ahead back in front of the reader.
func (s *TicketScanner) keep(rest []byte, lastPartial bool) {
	if len(rest) == 0 {
		return
	}
	s.pending = append(bytes.Clone(rest), s.pending...)
	if len(s.pending) == len(rest) {
		s.pendingPartial = lastPartial
	}
}

// nextLine returns the next line, from pending first, and whether it was
// cut short because it is longer than the buffer allows.
func (s *TicketScanner) nextLine() (line []byte, partial bool, err error) {
	if len(s.pending) > 0 {
		if i := bytes.IndexByte(s.pending, '\n'); i >= 0 {
			line, s.pending = s.pending[:i+1], s.pending[i+1:]
			return line, false, nil
		}
		line, s.pending = s.pending, nil
		return line, s.pendingPartial, nil
	}
	return s.readLine()
}

// readLine returns the next line including its newline; lines longer than
// the buffer come back in one piece, bounded by MaxTicketSize plus one
// buffer so that a huge line cannot exhaust memory, with partial set. A line
// that fits the buffer is returned without a copy: it is valid only until
// the next read.
func (s *TicketScanner) readLine() ([]byte, bool, error) {
	chunk, err := s.r.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return chunk, false, err
	}
	line := bytes.Clone(chunk)
	for {
		chunk, err := s.r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			if len(line) > MaxTicketSize+1 {
				return line, true, nil
			}
			continue
		}
		return line, false, err
	}
}

// skipTooLarge discards the rest of a value over MaxTicketSize: the rest of
// its line if the line was cut short, and, for a value spanning lines (a
// pretty-printed object), the lines up to where its brackets balance.
func (s *TicketScanner) skipTooLarge(partial, multiline bool, tr *depthTracker) error {
	for {
		if !partial && (!multiline || tr.depth <= 0) {
			return nil
		}
		var (
			chunk []byte
			err   error
		)
		if len(s.pending) > 0 {
			chunk, partial, err = s.nextLine()
		} else {
			chunk, err = s.r.ReadSlice('\n')
			partial = err == bufio.ErrBufferFull
			if partial {
				err = nil
			}
		}
		tr.feed(chunk)
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

func tooLarge() *Error {
	return &Error{Code: ETOOLARGE, Message: "ticket too large",
		Details: []Detail{{Reason: fmt.Sprintf("more than %d bytes (256 KiB)", MaxTicketSize)}}}
}

// depthTracker counts brackets outside strings, line by line: a cheap guess
// of when joined lines may form a complete value (depth back to zero) or a
// broken one (a string running into a line end, which JSON forbids).
type depthTracker struct {
	depth        int
	inString     bool
	escaped      bool
	brokenString bool
}

func (t *depthTracker) feed(p []byte) {
	for _, c := range p {
		if t.inString {
			switch {
			case t.escaped:
				t.escaped = false
			case c == '\\':
				t.escaped = true
			case c == '"':
				t.inString = false
			case c == '\n':
				t.inString, t.brokenString = false, true
			}
			continue
		}
		switch c {
		case '"':
			t.inString = true
		case '{', '[':
			t.depth++
		case '}', ']':
			t.depth--
		}
	}
}

func (t *depthTracker) maybeDone() bool { return t.depth <= 0 || t.inString || t.brokenString }

func trimRight(b []byte) []byte { return bytes.TrimRight(b, " \t\r\n") }

func (s *TicketScanner) emit(data []byte, err error) bool {
	s.cur = RawTicket{Index: s.index, Data: bytes.Clone(data), Err: err}
	if err != nil {
		idx := s.index
		var e *Error
		if errors.As(err, &e) {
			for i := range e.Details {
				e.Details[i].Index = &idx
			}
			if len(e.Details) == 0 {
				e.Details = []Detail{{Index: &idx, Reason: e.Message}}
			}
		}
	}
	s.index++
	return true
}

// validJSON reports whether data is exactly one JSON value; the error wraps
// io.ErrUnexpectedEOF when data is a valid but unfinished prefix.
func validJSON(data []byte) error {
	if json.Valid(data) {
		return nil // the common case, without a decoder's allocations
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("unexpected end of input: %w", io.ErrUnexpectedEOF)
		}
		return err
	}
	// Not dec.More: it is false for a stray "}" or "]", which is still
	// something after the value.
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
		return fmt.Errorf("more than one JSON value on a line")
	}
	return nil
}
