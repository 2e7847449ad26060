// Package export defines contactstore's data-portability stream (GDPR Art. 15 and 20): JSON
// Lines, one header object, one object per contact, and a trailer that counts the contacts
// and carries the SHA-256 of every byte before the trailer line, so that a recipient can
// tell a whole stream from a cut one.
//
//	{"type":"header","format":1,"store_id":…,"customer":…,"recipient":…,"country":…,…}
//	{"type":"contact","id":…,"customer":…,"time":…,…}
//	…
//	{"type":"trailer","contacts":2,"sha256":"…"}
package export

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Format is the stream's format version.
const Format = 1

// Line types.
const (
	TypeHeader  = "header"
	TypeContact = "contact"
	TypeTrailer = "trailer"
)

// Header opens a stream.
type Header struct {
	Type        string    `json:"type"` // "header"
	Format      int       `json:"format"`
	StoreID     string    `json:"store_id"`
	Customer    string    `json:"customer"`
	Recipient   string    `json:"recipient"`
	Country     string    `json:"country"`
	LegalGround string    `json:"legal_ground"` // e.g. "eea", "adequacy", "scc"
	LegalBasis  string    `json:"legal_basis"`  // the guard's reason, in words
	Created     time.Time `json:"created"`
	// Art. 15(1)(d): how long the data is kept.
	Retention *Retention `json:"retention"`
	// Art. 15(1)(c): to whom the customer's data was disclosed before this export.
	Disclosures []Disclosure `json:"disclosures"`
	// Objections in force (Art. 21) and a legal hold, if any.
	Objections []string  `json:"objections,omitempty"`
	HeldSince  time.Time `json:"held_since,omitzero"`
}

// Retention states the retention policy in force for the customer's contacts.
type Retention struct {
	Policy json.RawMessage `json:"policy"` // the policy's JSON form; null: none set (kept until one is)
	Note   string          `json:"note"`
}

// Disclosure is one earlier export of the customer's data.
type Disclosure struct {
	Time      time.Time `json:"time"`
	Recipient string    `json:"recipient"`
	Country   string    `json:"country"`
	Ground    string    `json:"legal_ground"`
	Contacts  int64     `json:"contacts"`
	SHA256    string    `json:"sha256,omitempty"`
}

// Trailer closes a stream.
type Trailer struct {
	Type     string `json:"type"` // "trailer"
	Contacts int64  `json:"contacts"`
	SHA256   string `json:"sha256"` // of every byte before the trailer line
}

// Writer writes a stream's lines and keeps the count and digest the trailer needs.
type Writer struct {
	w        io.Writer
	h        hash.Hash
	n        int64 // bytes before the trailer
	contacts int64
	state    int // 0 want header, 1 contacts, 2 done
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, h: sha256.New()} }

// HeaderLine encodes a header as its line (newline included).
func HeaderLine(h *Header) ([]byte, error) {
	h.Type, h.Format = TypeHeader, Format
	if h.Disclosures == nil {
		h.Disclosures = []Disclosure{}
	}
	return line(h)
}

// ContactLine encodes a contact (any value whose JSON form is an object) as its line, with
// "type":"contact" first.
func ContactLine(c any) ([]byte, error) {
	b, err := line(c) // no HTML escaping, as in the header
	if err != nil {
		return nil, err
	}
	b = b[:len(b)-1] // the encoder's newline
	if len(b) < 2 || b[0] != '{' {
		return nil, errors.New("export: a contact must encode as a JSON object")
	}
	out := make([]byte, 0, len(b)+20)
	out = append(out, `{"type":"contact"`...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, b[1:]...)
	return append(out, '\n'), nil
}

func line(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteLine writes a header or contact line made by HeaderLine or ContactLine.
func (w *Writer) WriteLine(l []byte, contact bool) error {
	switch {
	case w.state == 0 && contact, w.state == 2:
		return errors.New("export: line out of order")
	case w.state == 0:
		w.state = 1
	case !contact:
		return errors.New("export: a second header")
	default:
		w.contacts++
	}
	w.h.Write(l)
	w.n += int64(len(l))
	_, err := w.w.Write(l)
	return err
}

// Close writes the trailer and returns it.
func (w *Writer) Close() (Trailer, []byte, error) {
	if w.state != 1 {
		return Trailer{}, nil, errors.New("export: trailer out of order")
	}
	w.state = 2
	t := Trailer{Type: TypeTrailer, Contacts: w.contacts, SHA256: hex.EncodeToString(w.h.Sum(nil))}
	l, err := line(&t)
	if err != nil {
		return t, nil, err
	}
	_, err = w.w.Write(l)
	return t, l, err
}

// Bytes returns how many bytes were written before the trailer.
func (w *Writer) Bytes() int64 { return w.n }

// Summary is what Verify found in a stream.
type Summary struct {
	Header   Header
	Contacts int64
	Trailer  Trailer
	Bytes    int64 // the whole stream
}

// MaxLine bounds one line when reading (a contact may carry attachments up to 64 MiB,
// base64-encoded).
const MaxLine = 96 << 20

// Verify reads a whole stream and checks it: a header first, contact lines, then a trailer
// whose count and digest match what came before it, and nothing after. It calls each, if
// not nil, with every contact line's JSON (without the newline). Memory is bounded by the
// longest line.
func Verify(r io.Reader, each func(contact []byte) error) (Summary, error) {
	var s Summary
	br := bufio.NewReaderSize(r, 64<<10)
	h := sha256.New()
	lineNo := 0
	for {
		l, err := readLine(br)
		if errors.Is(err, io.EOF) && len(l) == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return s, fmt.Errorf("line %d: %w", lineNo+1, err)
		}
		lineNo++
		s.Bytes += int64(len(l))
		if s.Trailer.Type != "" {
			return s, fmt.Errorf("line %d: data after the trailer", lineNo)
		}
		if len(l) == 0 || l[len(l)-1] != '\n' {
			return s, fmt.Errorf("line %d: the stream ends in the middle of a line (cut short?)", lineNo)
		}
		body := l[:len(l)-1]
		var probe struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(body, &probe); err != nil {
			return s, fmt.Errorf("line %d: not a JSON object: %v", lineNo, err)
		}
		switch {
		case lineNo == 1:
			if probe.Type != TypeHeader {
				return s, fmt.Errorf("line 1: the stream must start with a header, not %q", probe.Type)
			}
			if err := json.Unmarshal(body, &s.Header); err != nil {
				return s, fmt.Errorf("line 1: header: %v", err)
			}
			if s.Header.Format != Format {
				return s, fmt.Errorf("line 1: unsupported format %d", s.Header.Format)
			}
		case probe.Type == TypeContact:
			s.Contacts++
			if each != nil {
				if err := each(body); err != nil {
					return s, fmt.Errorf("line %d: %w", lineNo, err)
				}
			}
		case probe.Type == TypeTrailer:
			if err := json.Unmarshal(body, &s.Trailer); err != nil {
				return s, fmt.Errorf("line %d: trailer: %v", lineNo, err)
			}
			if s.Trailer.Contacts != s.Contacts {
				return s, fmt.Errorf("line %d: the trailer counts %d contacts, the stream has %d", lineNo, s.Trailer.Contacts, s.Contacts)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != s.Trailer.SHA256 {
				return s, fmt.Errorf("line %d: the trailer's SHA-256 does not match the stream (%s)", lineNo, got)
			}
			// Byte for byte as a Writer writes it: no other member, spelling or order.
			if want, err := line(&s.Trailer); err != nil || !bytes.Equal(want, l) {
				return s, fmt.Errorf("line %d: the trailer is not in its canonical form", lineNo)
			}
			continue
		default:
			return s, fmt.Errorf("line %d: unexpected line type %q", lineNo, probe.Type)
		}
		h.Write(l)
	}
	if lineNo == 0 {
		return s, errors.New("empty stream")
	}
	if s.Trailer.Type == "" {
		return s, fmt.Errorf("no trailer after %d contacts: the stream is incomplete", s.Contacts)
	}
	return s, nil
}

// readLine reads one line, newline included, up to MaxLine bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		frag, err := br.ReadSlice('\n')
		out = append(out, frag...)
		if len(out) > MaxLine {
			return nil, fmt.Errorf("longer than %d bytes", MaxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return out, err
	}
}
