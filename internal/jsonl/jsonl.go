// Package jsonl reads JSON Lines: one JSON value per line, blank lines ignored. It reports
// problems by line number and never quotes the line's content (it may be personal data).
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxLine bounds one line: a 64 MiB contact as base64 in JSON, with room to spare.
const DefaultMaxLine = 96 << 20

// LineError reports a problem on one line.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads JSON Lines.
type Reader struct {
	r      *bufio.Reader
	max    int
	line   int
	buf    []byte
	bytes  int64
	strict bool
}

// NewReader returns a Reader over r with lines of at most max bytes (DefaultMaxLine if
// max <= 0). Unknown object fields are errors (a typo in a field name must not silently
// drop data).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &Reader{r: bufio.NewReaderSize(r, 1<<20), max: max, strict: true}
}

// Line returns the number of the line read last (1-based).
func (r *Reader) Line() int { return r.line }

// BytesRead returns how many input bytes have been consumed.
func (r *Reader) BytesRead() int64 { return r.bytes }

// Next decodes the next non-blank line into v. It returns io.EOF at the end of input and a
// *LineError for a line that is too long, not valid JSON, or does not fit v.
func (r *Reader) Next(v any) error {
	for {
		line, err := r.readLine()
		if err != nil {
			return err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		if r.strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(v); err != nil {
			return &LineError{Line: r.line, Err: describe(err)}
		}
		if dec.More() {
			return &LineError{Line: r.line, Err: errors.New("more than one JSON value on the line")}
		}
		if _, err := dec.Token(); err != io.EOF {
			return &LineError{Line: r.line, Err: errors.New("trailing data after the JSON value")}
		}
		return nil
	}
}

func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.r.ReadSlice('\n')
		r.bytes += int64(len(chunk))
		if len(r.buf)+len(chunk) > r.max+1 {
			r.line++
			// Skip the rest of the line so that a caller that continues is resynchronised.
			for errors.Is(err, bufio.ErrBufferFull) {
				chunk, err = r.r.ReadSlice('\n')
				r.bytes += int64(len(chunk))
			}
			return nil, &LineError{Line: r.line, Err: fmt.Errorf("line longer than %d bytes", r.max)}
		}
		r.buf = append(r.buf, chunk...)
		switch {
		case err == nil:
			r.line++
			return r.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			r.line++
			return r.buf, nil
		default:
			return nil, fmt.Errorf("reading line %d: %w", r.line+1, err)
		}
	}
}

// describe turns encoding/json's errors into messages that name the problem and field but
// never quote the input.
func describe(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Errorf("field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return fmt.Errorf("expected %s, got JSON %s", te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: unexpected end of line")
	}
	// Other errors (of time.Time and []byte parsing) quote the input; replace them.
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "json: unknown field "):
		// The field name is structure, not content; keep it.
		return errors.New(strings.TrimPrefix(msg, "json: "))
	case strings.Contains(msg, "parsing time"):
		return errors.New("field \"time\": not an RFC 3339 time")
	case strings.Contains(msg, "illegal base64"):
		return errors.New("attachment data: not valid base64")
	}
	return errors.New("does not decode")
}
