// Package jsonstream reads the records of helpdesk JSON exports one at a time, in memory
// bounded by the largest single record, for the zendesk, freshdesk and helpscout readers.
//
// An input may be
//   - a top-level JSON array of records: [{...}, {...}];
//   - a wrapper object holding the records in arrays under known keys, as the APIs return
//     them: {"tickets": [...], "next_page": ...}, {"_embedded": {"conversations": [...]}};
//   - one or more top-level objects in a row (JSON Lines, or a single record per file).
//
// A top-level object is a wrapper when its first key is one of the caller's wrapper keys or a
// pagination key (count, next_page, end_of_stream, total, page, _links, ...), or when it
// starts with "_embedded" whose own first key is a wrapper key; otherwise it is a record
// (so a record whose keys are sorted, with its "comments" or "_embedded" first, still reads
// as a record unless that first key is a wrapper key of the caller). Inside a wrapper, arrays under wrapper keys are streamed element by
// element (also inside "_embedded"), an object under a wrapper key is one record, and all other
// values are skipped. Everything else about the records is the caller's business.
//
// The package also holds the small helpers the three readers share: [ID], [ParseTime],
// [HTMLText] and [Input].
package jsonstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"contactstore/internal/importfmt"
)

// SyntaxError reports malformed JSON: the input cannot be read further. It names the
// position only, never the offending bytes.
type SyntaxError struct {
	File   string
	Offset int64
}

func (e *SyntaxError) Error() string {
	f := e.File
	if f == "" {
		f = "input"
	}
	return fmt.Sprintf("%s: malformed JSON near byte offset %d", f, e.Offset)
}

// Element is one record read from an input.
type Element struct {
	// Key is the wrapper key the record was found under ("tickets", "comments"), or ""
	// for records in a top-level array or standing alone at the top level.
	Key string
	// Raw is the record's JSON text, an object in well-formed inputs (elements of other
	// types are passed on too: the caller reports them).
	Raw json.RawMessage
	// Pos is the record's position: File, Record (1-based, counted over the whole input)
	// and Offset (the byte offset of the record's first byte).
	Pos importfmt.Position
}

// paginationKeys mark a top-level object as a wrapper when they come first.
var paginationKeys = map[string]bool{
	"count": true, "next_page": true, "previous_page": true, "end_time": true,
	"end_of_stream": true, "after_cursor": true, "after_url": true, "before_cursor": true,
	"before_url": true, "total": true, "page": true, "_links": true, "_embedded": true,
	"meta": true, "links": true,
}

// frame is one open wrapper object or array the stream is inside.
type frame struct {
	array bool   // inside an array of records
	key   string // the wrapper key of the array
	depth int    // nesting of wrapper objects: 1 top level, 2 inside _embedded
}

// Stream yields the records of one input. It is not safe for concurrent use.
type Stream struct {
	dec    *json.Decoder
	name   string
	keys   map[string]bool
	stack  []frame
	record int
	err    error
}

// New returns a Stream over r. name is used in positions; wrapperKeys are the keys under
// which wrapper objects hold records.
func New(r io.Reader, name string, wrapperKeys ...string) *Stream {
	keys := make(map[string]bool, len(wrapperKeys))
	for _, k := range wrapperKeys {
		keys[k] = true
	}
	dec := json.NewDecoder(skipBOM(r))
	dec.UseNumber()
	return &Stream{dec: dec, name: name, keys: keys}
}

// Name returns the input's name as given to New.
func (s *Stream) Name() string { return s.name }

// Next returns the next record, io.EOF after the last one, or a *SyntaxError (or a read
// error from the underlying reader) when the input cannot be read further. Errors are
// sticky.
func (s *Stream) Next() (Element, error) {
	if s.err != nil {
		return Element{}, s.err
	}
	el, err := s.next()
	if err != nil {
		s.err = err
	}
	return el, err
}

func (s *Stream) next() (Element, error) {
	for {
		if len(s.stack) == 0 {
			return s.topLevel()
		}
		top := &s.stack[len(s.stack)-1]
		if top.array {
			if s.dec.More() {
				return s.element(top.key)
			}
			if err := s.delim(']'); err != nil {
				return Element{}, err
			}
			s.stack = s.stack[:len(s.stack)-1]
			continue
		}
		if !s.dec.More() {
			if err := s.delim('}'); err != nil {
				return Element{}, err
			}
			s.stack = s.stack[:len(s.stack)-1]
			continue
		}
		key, err := s.key()
		if err != nil {
			return Element{}, err
		}
		el, ok, err := s.wrapperValue(key, top.depth)
		if ok || err != nil {
			return el, err
		}
	}
}

// topLevel starts the next top-level value.
func (s *Stream) topLevel() (Element, error) {
	start := s.dec.InputOffset()
	tok, err := s.dec.Token()
	if err == io.EOF {
		return Element{}, io.EOF
	}
	if err != nil {
		return Element{}, s.syntax(err)
	}
	switch tok {
	case json.Delim('['):
		s.stack = append(s.stack, frame{array: true})
		return s.next()
	case json.Delim('{'):
		start = s.dec.InputOffset() - 1
	default:
		return Element{}, &SyntaxError{File: s.name, Offset: start}
	}
	if !s.dec.More() { // {} alone: an empty record
		if err := s.delim('}'); err != nil {
			return Element{}, err
		}
		s.record++
		return Element{Raw: json.RawMessage("{}"), Pos: s.pos(start)}, nil
	}
	key, err := s.key()
	if err != nil {
		return Element{}, err
	}
	if key == "_embedded" {
		return s.embeddedFirst(start)
	}
	if s.keys[key] || paginationKeys[key] {
		s.stack = append(s.stack, frame{depth: 1})
		el, ok, err := s.wrapperValue(key, 1)
		if ok || err != nil {
			return el, err
		}
		return s.next()
	}
	return s.rebuild(key, start)
}

// embeddedFirst handles a top-level object whose first key is "_embedded": a wrapper when
// the first key inside _embedded is a wrapper key ({"_embedded": {"conversations": [...]}}),
// otherwise a record that happens to start with its own _embedded (sorted keys).
func (s *Stream) embeddedFirst(start int64) (Element, error) {
	off := s.dec.InputOffset()
	tok, err := s.dec.Token()
	if err != nil {
		return Element{}, s.syntax(err)
	}
	if tok != json.Delim('{') { // not an object: a record with an odd _embedded
		var b bytes.Buffer
		b.WriteString(`{"_embedded":`)
		if err := s.scalarOrArray(&b, tok, off); err != nil {
			return Element{}, err
		}
		return s.finishRecord(&b, start)
	}
	if !s.dec.More() {
		if err := s.delim('}'); err != nil {
			return Element{}, err
		}
		var b bytes.Buffer
		b.WriteString(`{"_embedded":{}`)
		return s.finishRecord(&b, start)
	}
	inner, err := s.key()
	if err != nil {
		return Element{}, err
	}
	if s.keys[inner] {
		s.stack = append(s.stack, frame{depth: 1}, frame{depth: 2})
		el, ok, err := s.wrapperValue(inner, 2)
		if ok || err != nil {
			return el, err
		}
		return s.next()
	}
	var b bytes.Buffer
	b.WriteString(`{"_embedded":{`)
	if err := s.members(&b, inner); err != nil {
		return Element{}, err
	}
	return s.finishRecord(&b, start)
}

// scalarOrArray writes a value whose first token tok was already read: a scalar, or an
// array whose '[' was consumed.
func (s *Stream) scalarOrArray(b *bytes.Buffer, tok json.Token, off int64) error {
	if tok == json.Delim('[') {
		b.WriteByte('[')
		for i := 0; s.dec.More(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			var v json.RawMessage
			if err := s.dec.Decode(&v); err != nil {
				return s.syntax(err)
			}
			b.Write(v)
		}
		if err := s.delim(']'); err != nil {
			return err
		}
		b.WriteByte(']')
		return nil
	}
	if _, ok := tok.(json.Delim); ok {
		return &SyntaxError{File: s.name, Offset: off}
	}
	v, err := json.Marshal(tok)
	if err != nil {
		return &SyntaxError{File: s.name, Offset: off}
	}
	b.Write(v)
	return nil
}

// finishRecord copies the remaining members of a top-level record object into b.
func (s *Stream) finishRecord(b *bytes.Buffer, start int64) (Element, error) {
	if s.dec.More() {
		key, err := s.key()
		if err != nil {
			return Element{}, err
		}
		b.WriteByte(',')
		if err := s.members(b, key); err != nil {
			return Element{}, err
		}
	} else {
		if err := s.delim('}'); err != nil {
			return Element{}, err
		}
		b.WriteByte('}')
	}
	s.record++
	return Element{Raw: b.Bytes(), Pos: s.pos(start)}, nil
}

// wrapperValue handles the value under key in a wrapper object: it starts streaming an
// array of records, returns a single record, descends into _embedded, or skips the value.
// ok is true when el is a record.
func (s *Stream) wrapperValue(key string, depth int) (el Element, ok bool, err error) {
	embedded := key == "_embedded" && depth == 1
	if !s.keys[key] && !embedded {
		return Element{}, false, s.skip()
	}
	tok, err := s.dec.Token()
	if err != nil {
		return Element{}, false, s.syntax(err)
	}
	switch {
	case tok == json.Delim('{') && embedded:
		s.stack = append(s.stack, frame{depth: 2})
	case tok == json.Delim('{'):
		el, err := s.object(key, s.dec.InputOffset()-1)
		return el, err == nil, err
	case tok == json.Delim('['):
		s.stack = append(s.stack, frame{array: true, key: key})
	}
	// A scalar under a wrapper key was consumed by Token: nothing to do.
	return Element{}, false, nil
}

// element decodes the next value as one record.
func (s *Stream) element(key string) (Element, error) {
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return Element{}, s.syntax(err)
	}
	s.record++
	end := s.dec.InputOffset()
	return Element{Key: key, Raw: raw, Pos: s.pos(end - int64(len(raw)))}, nil
}

// rebuild reads the rest of a top-level record object whose '{' and first key were
// already consumed and returns the object's text.
func (s *Stream) rebuild(first string, start int64) (Element, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if err := s.members(&b, first); err != nil {
		return Element{}, err
	}
	s.record++
	return Element{Raw: b.Bytes(), Pos: s.pos(start)}, nil
}

// object reads the rest of an object record whose '{' was already consumed.
func (s *Stream) object(key string, start int64) (Element, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if s.dec.More() {
		first, err := s.key()
		if err != nil {
			return Element{}, err
		}
		if err := s.members(&b, first); err != nil {
			return Element{}, err
		}
	} else {
		if err := s.delim('}'); err != nil {
			return Element{}, err
		}
		b.WriteByte('}')
	}
	s.record++
	return Element{Key: key, Raw: b.Bytes(), Pos: s.pos(start)}, nil
}

// members copies an object's members, starting with the already-read key, and its
// closing brace into b.
func (s *Stream) members(b *bytes.Buffer, key string) error {
	for {
		q, _ := json.Marshal(key) // a string always marshals
		b.Write(q)
		b.WriteByte(':')
		var v json.RawMessage
		if err := s.dec.Decode(&v); err != nil {
			return s.syntax(err)
		}
		b.Write(v)
		if !s.dec.More() {
			break
		}
		b.WriteByte(',')
		var err error
		if key, err = s.key(); err != nil {
			return err
		}
	}
	if err := s.delim('}'); err != nil {
		return err
	}
	b.WriteByte('}')
	return nil
}

func (s *Stream) key() (string, error) {
	off := s.dec.InputOffset()
	tok, err := s.dec.Token()
	if err != nil {
		return "", s.syntax(err)
	}
	k, ok := tok.(string)
	if !ok {
		return "", &SyntaxError{File: s.name, Offset: off}
	}
	return k, nil
}

func (s *Stream) delim(want json.Delim) error {
	off := s.dec.InputOffset()
	tok, err := s.dec.Token()
	if err != nil {
		return s.syntax(err)
	}
	if tok != want {
		return &SyntaxError{File: s.name, Offset: off}
	}
	return nil
}

// skip reads past the next value, whatever it is.
func (s *Stream) skip() error {
	var v json.RawMessage
	if err := s.dec.Decode(&v); err != nil {
		return s.syntax(err)
	}
	return nil
}

func (s *Stream) pos(off int64) importfmt.Position {
	return importfmt.Position{File: s.name, Record: s.record, Offset: off}
}

// syntax turns a decoder error into a *SyntaxError, keeping read errors of the underlying
// reader as they are.
func (s *Stream) syntax(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &SyntaxError{File: s.name, Offset: se.Offset}
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return &SyntaxError{File: s.name, Offset: s.dec.InputOffset()}
	case errors.As(err, new(*json.UnmarshalTypeError)):
		return &SyntaxError{File: s.name, Offset: s.dec.InputOffset()}
	}
	return fmt.Errorf("%s: %w", s.name, err)
}
