package importers

import (
	"errors"
	"fmt"
	"io"

	"contactstore/internal/importfmt"
	"contactstore/internal/importfmt/csvfmt"
	"contactstore/internal/importfmt/freshdesk"
	"contactstore/internal/importfmt/helpscout"
	"contactstore/internal/importfmt/jsonstream"
	"contactstore/internal/importfmt/mbox"
	"contactstore/internal/importfmt/zendesk"
	"contactstore/internal/jsonl"
	"contactstore/store"
)

// InputError is a failure that ends the reading of an input: it cannot be opened or
// read, or its syntax is broken beyond one record (malformed JSON, a CSV header that does
// not fit the mapping). Import returns it after committing every contact read before.
type InputError struct {
	// Name is the input's name; empty when Err names it already.
	Name string
	Err  error
}

func (e *InputError) Error() string {
	if e.Name == "" {
		return "importers: " + e.Err.Error()
	}
	return "importers: " + e.Name + ": " + e.Err.Error()
}

func (e *InputError) Unwrap() error { return e.Err }

// source yields contacts: a *importfmt.RecordError is a problem with one record (next may
// be called again), io.EOF the end, any other error is fatal.
type source interface {
	next() (store.Contact, importfmt.Position, error)
	close() error
}

// counter counts the bytes read through it. Only the importing goroutine uses it.
type counter struct{ n int64 }

type countingReader struct {
	r io.Reader
	c *counter
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.c.n += int64(n)
	return n, err
}

type countingReadCloser struct {
	countingReader
	io.Closer
}

// counted wraps in's Open so that every byte read counts in c.
func counted(in Input, c *counter) Input {
	open := in.Open
	in.Open = func() (io.ReadCloser, error) {
		if open == nil {
			return nil, errors.New("no Open function")
		}
		rc, err := open()
		if err != nil {
			return nil, err
		}
		return &countingReadCloser{countingReader{rc, c}, rc}, nil
	}
	return in
}

// newSource returns the source of inputs in opts.Format.
func newSource(inputs []Input, opts *Options, c *counter) (source, error) {
	jsInputs := func() []jsonstream.Input {
		js := make([]jsonstream.Input, len(inputs))
		for i, in := range inputs {
			ci := counted(in, c)
			js[i] = jsonstream.Input{Name: ci.Name, Open: ci.Open}
		}
		return js
	}
	switch opts.Format {
	case Zendesk:
		rd, err := zendesk.NewReader(jsInputs(), zendesk.Options{})
		if err != nil {
			return nil, &InputError{Err: err}
		}
		return &itemSource{rd: rd, closer: rd.Close}, nil
	case Freshdesk:
		rd, err := freshdesk.NewReader(jsInputs(), freshdesk.Options{})
		if err != nil {
			return nil, &InputError{Err: err}
		}
		return &itemSource{rd: rd, closer: rd.Close}, nil
	}
	var open func(r io.Reader, name string) (source, error)
	switch opts.Format {
	case JSONL:
		open = func(r io.Reader, name string) (source, error) {
			return &jsonlSource{rd: jsonl.NewReader(r, 0), name: name}, nil
		}
	case MBox:
		mo := mbox.Options{Mailboxes: opts.Mailboxes}
		open = func(r io.Reader, name string) (source, error) {
			rd, err := mbox.NewReader(r, name, mo)
			if err != nil {
				return nil, err
			}
			return &itemSource{rd: rd}, nil
		}
	case HelpScout:
		ho := helpscout.Options{Mailboxes: opts.HelpScoutMailboxes}
		open = func(r io.Reader, name string) (source, error) {
			rd := helpscout.NewReader(r, name, ho)
			return &itemSource{rd: rd, closer: rd.Close}, nil
		}
	case CSV:
		co := csvfmt.Options{Mapping: opts.CSV.Mapping, TimeLayout: opts.CSV.TimeLayout,
			Location: opts.CSV.Location, Comma: opts.CSV.Comma, TagSeparator: opts.CSV.TagSeparator}
		open = func(r io.Reader, name string) (source, error) {
			rd, err := csvfmt.NewReader(r, name, co)
			if err != nil {
				return nil, err
			}
			return &itemSource{rd: rd}, nil
		}
	default:
		return nil, fmt.Errorf("importers: unknown format %q", opts.Format)
	}
	seq := &sequence{open: open}
	for _, in := range inputs {
		seq.inputs = append(seq.inputs, counted(in, c))
	}
	return seq, nil
}

// sequence reads per-input sources one input after another.
type sequence struct {
	inputs []Input
	open   func(r io.Reader, name string) (source, error)
	cur    source
	rc     io.ReadCloser
	name   string
}

func (s *sequence) next() (store.Contact, importfmt.Position, error) {
	for {
		if s.cur == nil {
			if len(s.inputs) == 0 {
				return store.Contact{}, importfmt.Position{}, io.EOF
			}
			in := s.inputs[0]
			s.inputs = s.inputs[1:]
			if err := s.start(in); err != nil {
				return store.Contact{}, importfmt.Position{File: in.Name}, err
			}
		}
		c, pos, err := s.cur.next()
		if err == io.EOF {
			if err := s.finish(); err != nil {
				return store.Contact{}, pos, err
			}
			continue
		}
		var re *importfmt.RecordError
		if err != nil && !errors.As(err, &re) {
			err = &InputError{Name: s.name, Err: err}
		}
		return c, pos, err
	}
}

func (s *sequence) start(in Input) error {
	rc, err := in.Open()
	if err != nil {
		return &InputError{Name: in.Name, Err: err}
	}
	src, err := s.open(rc, in.Name)
	if err != nil {
		rc.Close()
		return &InputError{Name: in.Name, Err: err}
	}
	s.cur, s.rc, s.name = src, rc, in.Name
	return nil
}

// finish closes the current input.
func (s *sequence) finish() error {
	err := s.cur.close()
	if cerr := s.rc.Close(); err == nil {
		err = cerr
	}
	name := s.name
	s.cur, s.rc, s.name = nil, nil, ""
	if err != nil {
		return &InputError{Name: name, Err: err}
	}
	return nil
}

func (s *sequence) close() error {
	if s.cur == nil {
		return nil
	}
	return s.finish()
}

// jsonlSource reads contacts in the store's own JSON form, one per line.
type jsonlSource struct {
	rd   *jsonl.Reader
	name string
}

func (j *jsonlSource) next() (store.Contact, importfmt.Position, error) {
	var c store.Contact
	err := j.rd.Next(&c)
	pos := importfmt.Position{File: j.name, Line: j.rd.Line(), Offset: -1}
	var le *jsonl.LineError
	if errors.As(err, &le) {
		return c, pos, &importfmt.RecordError{Pos: pos, Reason: le.Err.Error()}
	}
	return c, pos, err
}

func (j *jsonlSource) close() error { return nil }

// itemSource maps the Items of an importfmt.Reader to contacts.
type itemSource struct {
	rd     importfmt.Reader
	closer func() error
}

func (s *itemSource) next() (store.Contact, importfmt.Position, error) {
	it, err := s.rd.Next()
	if err != nil {
		return store.Contact{}, it.Pos, err
	}
	return toContact(&it), it.Pos, nil
}

func (s *itemSource) close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer()
}

// toContact maps an Item to the store's model (before the category mapping).
func toContact(it *importfmt.Item) store.Contact {
	c := store.Contact{
		ID:        it.SourceID,
		Customer:  it.Customer,
		Time:      it.Time.UTC(),
		Channel:   it.Channel,
		Direction: it.Direction,
		Category:  it.Category,
		Agent:     it.Agent,
		Subject:   it.Subject,
		Body:      it.Body,
		Email:     it.Email,
		Phone:     it.Phone,
		Rating:    it.Rating,
		Tags:      it.Tags,
		Meta:      it.Meta,
	}
	if len(it.Attachments) > 0 {
		c.Attachments = make([]store.Attachment, len(it.Attachments))
		for i, a := range it.Attachments {
			c.Attachments[i] = store.Attachment{Name: a.Name, Type: a.Type, Data: a.Data}
		}
	}
	return c
}
