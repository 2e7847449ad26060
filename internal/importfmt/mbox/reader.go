// Package mbox reads mail archives in the mbox family (RFC 4155: mboxo, mboxrd, mboxcl,
// mboxcl2) as a stream of importfmt.Items, one per message.
//
// # Splitting
//
// A message starts at a line beginning with "From " that either follows an empty line (or
// starts the input) or carries a valid asctime date ("From sender Tue May 24 07:57:27 2016").
// One level of ">From " quoting is removed from every line (mboxrd; for mboxo this is right
// except for lines that were ">From " originally, which no reader can tell apart).
// Content-Length headers (mboxcl, mboxcl2) are ignored: they are often stale after an archive
// is edited, and the separator rule above splits mboxcl files correctly whenever their bodies
// do not contain a "From " line after an empty line, which mboxcl writers quote anyway. An
// input that does not begin with a "From " line is read as one bare RFC 5322 message (an .eml).
// The reader holds at most one message in memory: a message longer than
// Options.MaxMessageBytes is skipped and reported as a *importfmt.RecordError.
//
// # Mapping
//
// The customer is the external party. When the From address is one of Options.Mailboxes the
// message is outbound, the customer is the first To (then Cc) address that is not the
// company's and Agent is the From display name (or address); otherwise the message is inbound
// and the customer is the From (or Sender) address. Customer is the address in lower case:
// local parts are case-sensitive in theory (RFC 5321) but not at any provider in practice, and
// splitting one person over two ids would let an erasure miss part of their data. Email is the
// address as written. Time is the Date header, else the date of the "From " line. SourceID is
// "mbox:" + Message-ID, or "mbox:sha256:" + the hex SHA-256 of the message (line endings
// normalised to LF) when there is none, so re-importing stores nothing twice. Body is the first
// text/plain part (format=flowed is unwrapped; further inline text/plain parts of a
// multipart/mixed are appended), else the first text/html part rendered as text. Other parts,
// including message/rfc822, become Attachments. Text without a charset, or with an unknown
// one, is kept when it is valid UTF-8 and read as windows-1252 otherwise. X-Gmail-Labels and
// X-Folder become Tags; Meta holds message_id, in_reply_to, and "incomplete" (a truncated or
// damaged MIME structure) and "attachments_dropped" when they apply.
package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"contactstore/internal/importfmt"
)

// DefaultMaxMessageBytes is the default for Options.MaxMessageBytes.
const DefaultMaxMessageBytes = 64 << 20

// DefaultMaxAttachments is the default for Options.MaxAttachments.
const DefaultMaxAttachments = 100

// Options configure a Reader.
type Options struct {
	// Mailboxes are the company's addresses ("support@example.com"), or "@example.com" for a
	// whole domain. Required: they decide which side of a message is the customer.
	Mailboxes []string
	// MaxMessageBytes bounds one message; a longer one is reported as a RecordError and
	// skipped. Zero means DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// MaxAttachments bounds the attachments kept per message; further ones are dropped and
	// counted in Meta. Zero means DefaultMaxAttachments; a negative value keeps none.
	MaxAttachments int
}

// maxDepth bounds the nesting of multipart and message parts.
const maxDepth = 16

// Reader reads the messages of one mbox. It implements importfmt.Reader.
type Reader struct {
	br       *bufio.Reader
	name     string
	maxBytes int64
	maxAtts  int
	company  companyMatcher
	dec      *mime.WordDecoder

	started bool
	eof     bool
	line    int   // complete lines consumed
	offset  int64 // bytes consumed
	record  int
	next    *separator // start of the message not yet read
	blank   bool       // the last complete line was empty
	buf     bytes.Buffer
	tooBig  bool // the current message is over maxBytes; buf holds nothing
	carry   bool // buf holds the first line of a bare message
	midLine bool // the carried line is not complete yet
}

var _ importfmt.Reader = (*Reader)(nil)

// separator is where a message starts: its "From " line, or the first line of a bare message.
type separator struct {
	line   int
	offset int64
	date   time.Time // zero when the line has none
}

// NewReader returns a Reader of r; name is the input's name in Positions.
func NewReader(r io.Reader, name string, opts Options) (*Reader, error) {
	company, err := newCompanyMatcher(opts.Mailboxes)
	if err != nil {
		return nil, fmt.Errorf("mbox: %w", err)
	}
	if opts.MaxMessageBytes < 0 {
		return nil, errors.New("mbox: MaxMessageBytes is negative")
	}
	rd := &Reader{
		br:       bufio.NewReaderSize(r, 64<<10),
		name:     name,
		maxBytes: opts.MaxMessageBytes,
		maxAtts:  opts.MaxAttachments,
		company:  company,
		dec:      newWordDecoder(),
	}
	if rd.maxBytes == 0 {
		rd.maxBytes = DefaultMaxMessageBytes
	}
	if rd.maxAtts == 0 {
		rd.maxAtts = DefaultMaxAttachments
	}
	return rd, nil
}

// Next returns the next message as an Item, a *importfmt.RecordError for a message that
// cannot be read (call Next again to go on), io.EOF after the last message, or another error
// when the input fails.
func (r *Reader) Next() (importfmt.Item, error) {
	if !r.started {
		r.started = true
		if err := r.begin(); err != nil {
			return importfmt.Item{}, err
		}
	}
	if r.next == nil {
		return importfmt.Item{}, io.EOF
	}
	start := *r.next
	r.next = nil
	if err := r.readMessage(); err != nil {
		return importfmt.Item{}, fmt.Errorf("mbox: reading %s: %w", r.name, err)
	}
	r.record++
	pos := importfmt.Position{File: r.name, Line: start.line, Record: r.record, Offset: start.offset}
	if r.tooBig {
		return importfmt.Item{}, &importfmt.RecordError{Pos: pos,
			Reason: fmt.Sprintf("message longer than MaxMessageBytes (%d)", r.maxBytes)}
	}
	item, reason := r.parse(trimSeparatorBlank(r.buf.Bytes()), start.date)
	if reason != "" {
		return importfmt.Item{}, &importfmt.RecordError{Pos: pos, Reason: reason}
	}
	item.Pos = pos
	return item, nil
}

// begin skips leading empty lines and finds the first message: a "From " line, or any other
// line, which starts a bare message.
func (r *Reader) begin() error {
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(chunk) > 0 {
			if isBlank(chunk) {
				r.consume(chunk)
			} else {
				r.buf.Reset()
				if bytes.HasPrefix(chunk, []byte("From ")) {
					r.next = &separator{line: r.line + 1, offset: r.offset, date: fromLineDate(chunk)}
					r.consume(chunk)
					return r.skipLine(chunk, err)
				}
				// A bare message: the line is its first; readMessage goes on from here.
				r.next = &separator{line: r.line + 1, offset: r.offset}
				r.tooBig = false
				data := chunk
				if isQuotedFrom(chunk) {
					data = chunk[1:]
				}
				r.append(data)
				r.consume(chunk)
				r.carry = true
				r.midLine = chunk[len(chunk)-1] != '\n'
				if err == io.EOF {
					r.eof = true
				}
				return readErr(err)
			}
		}
		if err == io.EOF {
			r.eof = true
			return nil
		}
		if err := readErr(err); err != nil {
			return err
		}
	}
}

// readErr keeps the errors that are fatal: not EOF and not a line longer than the buffer.
func readErr(err error) error {
	if err == nil || err == io.EOF || errors.Is(err, bufio.ErrBufferFull) {
		return nil
	}
	return err
}

// skipLine consumes the rest of a line whose first chunk was chunk (read with err).
func (r *Reader) skipLine(chunk []byte, err error) error {
	for errors.Is(err, bufio.ErrBufferFull) {
		chunk, err = r.br.ReadSlice('\n')
		r.consume(chunk)
	}
	if err == io.EOF {
		r.eof = true
		return nil
	}
	return readErr(err)
}

// consume accounts for chunk having been read.
func (r *Reader) consume(chunk []byte) {
	r.offset += int64(len(chunk))
	if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
		r.line++
		r.blank = isBlank(chunk)
	} else {
		r.blank = false
	}
}

// append adds chunk to the current message unless that makes it too long.
func (r *Reader) append(chunk []byte) {
	if r.tooBig {
		return
	}
	if int64(r.buf.Len()+len(chunk)) > r.maxBytes {
		r.tooBig = true
		r.buf.Reset()
		return
	}
	r.buf.Write(chunk)
}

// readMessage reads lines into r.buf up to the next separator, which it records in r.next,
// or to the end of the input.
func (r *Reader) readMessage() error {
	atStart := true
	if r.carry {
		r.carry = false
		atStart = !r.midLine
	} else {
		r.buf.Reset()
		r.tooBig = false
	}
	if r.eof {
		return nil
	}
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atStart && bytes.HasPrefix(chunk, []byte("From ")) {
				date := fromLineDate(chunk)
				if r.blank || !date.IsZero() {
					r.next = &separator{line: r.line + 1, offset: r.offset, date: date}
					r.consume(chunk)
					return r.skipLine(chunk, err)
				}
			}
			data := chunk
			if atStart && isQuotedFrom(chunk) {
				data = chunk[1:]
			}
			r.append(data)
			r.consume(chunk)
			atStart = chunk[len(chunk)-1] == '\n'
		}
		if err == io.EOF {
			r.eof = true
			return nil
		}
		if err := readErr(err); err != nil {
			return err
		}
	}
}

// isBlank reports whether line is an empty line ("\n" or "\r\n").
func isBlank(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// isQuotedFrom reports whether line is ">From ", ">>From ", ...: mboxrd quoting.
func isQuotedFrom(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return i > 0 && bytes.HasPrefix(line[i:], []byte("From "))
}

// trimSeparatorBlank removes the empty line that precedes a "From " separator: RFC 4155
// counts it as part of the separator, not of the message.
func trimSeparatorBlank(b []byte) []byte {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n\r\n")):
		return b[:len(b)-2]
	case bytes.HasSuffix(b, []byte("\n\n")):
		return b[:len(b)-1]
	}
	return b
}

// fromLineLayouts are the date forms seen on "From " lines, after the sender.
var fromLineLayouts = []string{
	"Mon Jan _2 15:04:05 2006",
	"Mon Jan _2 15:04:05 2006 -0700",
	"Mon Jan _2 15:04:05 -0700 2006",
	"Mon Jan _2 15:04:05 MST 2006",
	"Mon Jan _2 15:04 2006",
	"Mon, _2 Jan 2006 15:04:05 -0700",
}

// fromLineDate returns the date of a "From sender date" line, or the zero time.
func fromLineDate(line []byte) time.Time {
	if len(line) > 512 {
		return time.Time{}
	}
	f := strings.Fields(string(line[len("From "):]))
	if len(f) < 5 {
		return time.Time{}
	}
	// Usually "sender date"; Thunderbird writes "From - date"; some writers omit the sender.
	for _, skip := range []int{1, 0} {
		s := strings.Join(f[skip:], " ")
		for _, layout := range fromLineLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}
