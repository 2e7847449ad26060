package jsonstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Multi reads several inputs one after another, opening each afresh, as one stream of
// records. Readers that join records across files make one Multi per pass.
type Multi struct {
	inputs []Input
	keys   []string
	next   int
	cur    *Stream
	rc     io.ReadCloser
	err    error
}

// NewMulti returns a Multi over inputs with the given wrapper keys (see New).
func NewMulti(inputs []Input, wrapperKeys ...string) *Multi {
	return &Multi{inputs: inputs, keys: wrapperKeys}
}

// Next returns the next record of the current input, going on to the next input at the
// end of one; io.EOF after the last. Any other error is fatal and sticky.
func (m *Multi) Next() (Element, error) {
	for m.err == nil {
		if m.cur == nil {
			if m.next == len(m.inputs) {
				m.err = io.EOF
				break
			}
			in := m.inputs[m.next]
			m.next++
			if in.Open == nil {
				m.err = fmt.Errorf("%s: no Open function", in.Name)
				break
			}
			rc, err := in.Open()
			if err != nil {
				m.err = fmt.Errorf("%s: open: %w", in.Name, err)
				break
			}
			m.rc, m.cur = rc, New(rc, in.Name, m.keys...)
		}
		el, err := m.cur.Next()
		if err == nil {
			return el, nil
		}
		cerr := m.closeCurrent()
		if err != io.EOF {
			m.err = err
		} else if cerr != nil {
			m.err = cerr
		}
	}
	return Element{}, m.err
}

func (m *Multi) closeCurrent() error {
	if m.rc == nil {
		return nil
	}
	err := m.rc.Close()
	name := m.cur.Name()
	m.rc, m.cur = nil, nil
	if err != nil {
		return fmt.Errorf("%s: close: %w", name, err)
	}
	return nil
}

// Close closes the input being read, if any.
func (m *Multi) Close() error {
	if m.err == nil {
		m.err = errors.New("jsonstream: closed")
	}
	return m.closeCurrent()
}

// Text is a string field that exports sometimes write as a number or a boolean; it
// holds the JSON text of those. Null and absence give "".
type Text string

// ErrNotText is returned when a Text field holds an object or an array.
var ErrNotText = errors.New("not a string or a number")

// UnmarshalJSON implements json.Unmarshaler.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*t = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return ErrNotText
		}
		*t = Text(s)
	case b[0] == '{' || b[0] == '[':
		return ErrNotText
	default:
		*t = Text(b)
	}
	return nil
}

// Decode unmarshals a record into v and returns a reason fit for an
// importfmt.RecordError when it fails: the field and what is wrong, never a value.
func Decode(raw []byte, v any) (reason string, ok bool) {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return "", true
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		f := te.Field
		if f == "" {
			return "record is not a JSON object", false
		}
		return fmt.Sprintf("field %s: wrong JSON type", f), false
	}
	switch {
	case errors.Is(err, ErrBadID):
		return "an id field is not a string or an integer", false
	case errors.Is(err, ErrNotText):
		return "a text field holds an object or an array", false
	}
	return "record cannot be decoded", false
}
