package enricher

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// memory, so that `enricher enrich` runs in flat memory on any input size.
//
// A malformed line of JSON Lines is reported in that item's Err and scanning
// goes on with the next line; a malformed array cannot be resynchronized, so
// it ends the scan with an error from Err.
type TicketScanner struct {
	r       *bufio.Reader
	mode    byte // 0 before the first value, '[' for an array, '{' for objects/lines
	dec     *json.Decoder
	index   int
	cur     RawTicket
	err     error
	done    bool
	pending []byte
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
			s.dec = json.NewDecoder(s.r)
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
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			s.r.ReadByte()
			continue
		case 0xEF: // a UTF-8 byte order mark, as some editors write
			if bom, _ := s.r.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				s.r.Discard(3)
				continue
			}
		}
		return b[0], nil
	}
}

func (s *TicketScanner) scanArray() bool {
	if !s.dec.More() {
		if _, err := s.dec.Token(); err != nil {
			return s.fail(Errorf(EINVALIDTICKET, "invalid ticket array after item %d: %s", s.index, jsonReason(err)))
		}
		if _, err := s.dec.Token(); err != io.EOF {
			return s.fail(Errorf(EINVALIDTICKET, "unexpected data after the ticket array"))
		}
		s.done = true
		return false
	}
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return s.fail(Errorf(EINVALIDTICKET, "invalid ticket array at item %d: %s", s.index, jsonReason(err)))
	}
	s.cur = RawTicket{Index: s.index, Data: raw}
	s.index++
	return true
}

// scanLines reads JSON Lines. A value may span several lines (a single
// pretty-printed object): lines are joined while the text so far is an
// incomplete JSON value, and cut as soon as it is complete or plainly wrong.
func (s *TicketScanner) scanLines() bool {
	var buf []byte
	for {
		var (
			line []byte
			err  error
		)
		if s.pending != nil {
			line, s.pending = s.pending, nil
		} else if line, err = s.readLine(); err != nil && err != io.EOF {
			return s.fail(fmt.Errorf("read tickets: %w", err))
		}
		prev := len(buf)
		if len(bytes.TrimSpace(line)) > 0 || len(buf) > 0 {
			buf = append(buf, line...)
		}
		trimmed := bytes.TrimSpace(buf)
		if len(trimmed) > 0 {
			verr := validJSON(trimmed)
			switch {
			case verr == nil:
				return s.emit(trimmed, nil)
			case !errors.Is(verr, io.ErrUnexpectedEOF) && prev > 0 && bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")):
				// An unfinished line followed by a new object: the unfinished
				// part is the bad ticket; the new line is scanned on its own.
				s.pending = line
				return s.emit(bytes.TrimSpace(buf[:prev]), Errorf(EINVALIDTICKET, "invalid JSON: unexpected end of line"))
			case !errors.Is(verr, io.ErrUnexpectedEOF):
				return s.emit(trimmed, Errorf(EINVALIDTICKET, "invalid JSON: %s", verr))
			case len(trimmed) > MaxTicketSize:
				s.skipRestOfValue()
				return s.emit(nil, &Error{Code: ETOOLARGE, Message: "ticket too large",
					Details: []Detail{{Reason: fmt.Sprintf("more than %d bytes (256 KiB)", MaxTicketSize)}}})
			case err == io.EOF:
				return s.emit(trimmed, Errorf(EINVALIDTICKET, "invalid JSON: unexpected end of input"))
			}
		}
		if err == io.EOF {
			s.done = true
			return false
		}
	}
}

// readLine returns the next line including its newline; lines longer than
// the buffer come back in one piece, bounded by MaxTicketSize plus one
// buffer so that a huge line cannot exhaust memory.
func (s *TicketScanner) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			if len(line) > MaxTicketSize+1 {
				return line, nil
			}
			continue
		}
		return line, err
	}
}

func (s *TicketScanner) skipRestOfValue() {
	for {
		_, err := s.r.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return
		}
	}
}

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
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("unexpected end of input: %w", io.ErrUnexpectedEOF)
		}
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value on a line")
	}
	return nil
}
