// Package csvfmt reads contacts from a CSV file with a header row, one contact per row, as a
// stream of importfmt.Items.
//
// # Columns
//
// A field of the contact model (see Fields) takes the column whose name equals the field's
// name, ignoring case and surrounding spaces; Options.Mapping overrides that per field. A
// mapped column missing from the header is an error of NewReader. Columns that no field uses
// go to Meta as a JSON object {column: value} (empty values left out). A contact needs a
// customer: the customer column, else the email (in lower case), else the phone.
//
// # Values
//
// A UTF-8 byte order mark is skipped; UTF-16 input (with its byte order mark) is decoded.
// A value that is not valid UTF-8 is read as windows-1252, which is what spreadsheet programs
// write. Times are read with Options.TimeLayout, or else with the first of DefaultTimeLayouts
// that fits, in Options.Location when they carry no zone; 10 and 13 digit numbers are Unix
// seconds and milliseconds. An empty time in a mapped time column is an error; without a time
// column Time stays zero. Rating is a whole number from 1 to 10, or empty. Channel and
// Direction take common synonyms ("e-mail", "call", "incoming", "sent"); an unknown channel
// becomes "other" and an unknown direction empty. Tags are split on Options.TagSeparator,
// by default on both "," and ";".
//
// # Ids
//
// SourceID is "csv:" + the id column. Without an id column, or for a row with an empty id,
// it is "csv:sha256:" + the hex SHA-256 of the row's non-empty values, each with its column
// name, in column-name order: a re-import of the same rows, even with the columns reordered
// or empty columns added, gives the same ids, and identical rows share one.
//
// # Problems
//
// A row that cannot be read (a quoting error, a wrong number of fields, a bad time or rating,
// no customer) is returned as a *importfmt.RecordError with the line where the row starts and
// its record number (the header is not counted); Next goes on with the following row.
package csvfmt

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"contactstore/internal/importfmt"
)

// Fields are the contact fields a column can be mapped to.
var Fields = []string{"id", "customer", "time", "channel", "direction", "category", "agent",
	"subject", "body", "email", "phone", "rating", "tags"}

// DefaultMaxRecordBytes is the default for Options.MaxRecordBytes.
const DefaultMaxRecordBytes = 16 << 20

// Options configure a Reader. The zero value reads comma-separated UTF-8 with the default
// column mapping.
type Options struct {
	// Mapping maps a contact field (one of Fields) to a column name; it overrides the
	// default mapping by equal names. An empty column name unmaps the field.
	Mapping map[string]string
	// TimeLayout is the Go layout of the time column; empty means DefaultTimeLayouts.
	TimeLayout string
	// Location is the zone of times written without one; nil means UTC.
	Location *time.Location
	// Comma is the field separator; zero means ','. Spreadsheets in many European locales
	// write ';'.
	Comma rune
	// TagSeparator splits the tags column; empty means both "," and ";".
	TagSeparator string
	// MaxRecordBytes bounds one row, so that an unterminated quote cannot make the reader
	// hold the rest of a large file; a longer row is a fatal error. Zero means
	// DefaultMaxRecordBytes.
	MaxRecordBytes int64
}

// DefaultTimeLayouts are tried in order when Options.TimeLayout is empty. Day-first dates
// use dashes ("02-01-2006"); slashed dates are left out because 01/02/2006 means a different
// day in the US and in Europe: set TimeLayout for them.
var DefaultTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	"02-01-2006 15:04:05",
	"02-01-2006 15:04",
	"02-01-2006",
	time.RFC1123Z,
	time.RFC1123,
}

// Reader reads the rows of one CSV input. It implements importfmt.Reader.
type Reader struct {
	cr       *csv.Reader
	in       *countingReader
	name     string
	header   []string
	cols     map[string]int // field -> column index
	metaCols []int
	byName   []int // column indexes in name order, for digests
	opts     Options
	base     int64 // bytes before what the csv.Reader sees (a byte order mark)
	offsets  bool  // offsets are meaningful (not UTF-16)
	record   int
}

var _ importfmt.Reader = (*Reader)(nil)

// NewReader reads the header of r and returns a Reader of its rows; name is the input's name
// in Positions.
func NewReader(r io.Reader, name string, opts Options) (*Reader, error) {
	if opts.Comma == 0 {
		opts.Comma = ','
	}
	if !validComma(opts.Comma) {
		return nil, errors.New("csvfmt: Options.Comma is not a valid separator")
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.MaxRecordBytes == 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	rd := &Reader{name: name, opts: opts, offsets: true}
	br := bufio.NewReader(r)
	var src io.Reader = br
	switch head, _ := br.Peek(3); {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
		rd.base = 3
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		src = transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
		rd.offsets = false
	}
	rd.in = &countingReader{r: src, limit: opts.MaxRecordBytes + 64<<10}
	rd.cr = csv.NewReader(rd.in)
	rd.cr.Comma = opts.Comma
	rd.cr.FieldsPerRecord = -1
	rd.cr.ReuseRecord = true
	header, err := rd.cr.Read()
	if err == io.EOF {
		return nil, errors.New("csvfmt: no header row")
	}
	if err != nil {
		return nil, fmt.Errorf("csvfmt: header: %w", err)
	}
	rd.header = make([]string, len(header))
	for i, h := range header {
		rd.header[i] = strings.TrimSpace(fallbackText(h))
	}
	if err := rd.mapColumns(); err != nil {
		return nil, fmt.Errorf("csvfmt: %w", err)
	}
	return rd, nil
}

// validComma reports whether c can separate fields (as encoding/csv requires).
func validComma(c rune) bool {
	return c != '"' && c != '\r' && c != '\n' && utf8.ValidRune(c) && c != utf8.RuneError
}

// mapColumns resolves the default mapping and Options.Mapping against the header.
func (r *Reader) mapColumns() error {
	index := map[string]int{}
	for i, h := range r.header {
		if h == "" {
			continue
		}
		key := strings.ToLower(h)
		if _, dup := index[key]; dup {
			return fmt.Errorf("header: column %q appears twice", h)
		}
		index[key] = i
	}
	r.cols = map[string]int{}
	for _, f := range Fields {
		if i, ok := index[f]; ok {
			r.cols[f] = i
		}
	}
	for f, col := range r.opts.Mapping {
		if !isField(f) {
			return fmt.Errorf("mapping: unknown field %q", f)
		}
		col = strings.TrimSpace(col)
		if col == "" {
			delete(r.cols, f)
			continue
		}
		i, ok := index[strings.ToLower(col)]
		if !ok {
			return fmt.Errorf("mapping: column %q (for %s) is not in the header", col, f)
		}
		r.cols[f] = i
	}
	_, c := r.cols["customer"]
	_, e := r.cols["email"]
	_, p := r.cols["phone"]
	if !c && !e && !p {
		return errors.New("mapping: no column for the customer (map customer, email or phone)")
	}
	used := map[int]bool{}
	for _, i := range r.cols {
		used[i] = true
	}
	for i, h := range r.header {
		if h != "" && !used[i] {
			r.metaCols = append(r.metaCols, i)
		}
		if h != "" {
			r.byName = append(r.byName, i)
		}
	}
	sort.Slice(r.byName, func(a, b int) bool { return r.header[r.byName[a]] < r.header[r.byName[b]] })
	return nil
}

func isField(f string) bool {
	for _, g := range Fields {
		if f == g {
			return true
		}
	}
	return false
}

// ParseMapping parses a column mapping written as "field=Column,field=Column", e.g.
// "time=Date,customer=Email,body=Text". Spaces around names are ignored; column names cannot
// contain "," or "=". "field=" unmaps a field.
func ParseMapping(s string) (map[string]string, error) {
	m := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for _, pair := range strings.Split(s, ",") {
		f, col, ok := strings.Cut(pair, "=")
		f = strings.ToLower(strings.TrimSpace(f))
		if !ok || f == "" {
			return nil, fmt.Errorf("csvfmt: mapping %q: want field=Column", strings.TrimSpace(pair))
		}
		if !isField(f) {
			return nil, fmt.Errorf("csvfmt: mapping: unknown field %q (known: %s)", f, strings.Join(Fields, ", "))
		}
		if _, dup := m[f]; dup {
			return nil, fmt.Errorf("csvfmt: mapping: field %q given twice", f)
		}
		m[f] = strings.TrimSpace(col)
	}
	return m, nil
}

// Next returns the next row as an Item, a *importfmt.RecordError for a row that cannot be
// read (call Next again to go on), io.EOF after the last row, or another error when the
// input fails.
func (r *Reader) Next() (importfmt.Item, error) {
	start := r.cr.InputOffset()
	r.in.start = r.in.n
	rec, err := r.cr.Read()
	if err == io.EOF {
		return importfmt.Item{}, io.EOF
	}
	r.record++
	pos := importfmt.Position{File: r.name, Record: r.record, Offset: -1}
	if r.offsets {
		pos.Offset = r.base + start
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) && !errors.Is(err, errRecordTooLong) {
			pos.Line = pe.StartLine
			return importfmt.Item{}, &importfmt.RecordError{Pos: pos, Reason: pe.Err.Error()}
		}
		return importfmt.Item{}, fmt.Errorf("csvfmt: %s: %w", pos, err)
	}
	pos.Line, _ = r.cr.FieldPos(0)
	if len(rec) != len(r.header) {
		return importfmt.Item{}, &importfmt.RecordError{Pos: pos,
			Reason: fmt.Sprintf("%d fields, the header has %d", len(rec), len(r.header))}
	}
	item, reason := r.item(rec)
	if reason != "" {
		return importfmt.Item{}, &importfmt.RecordError{Pos: pos, Reason: reason}
	}
	item.Pos = pos
	return item, nil
}

// errRecordTooLong stops a row longer than Options.MaxRecordBytes.
var errRecordTooLong = errors.New("row longer than MaxRecordBytes")

// countingReader counts the bytes read and fails once one row has taken too many.
type countingReader struct {
	r     io.Reader
	n     int64 // bytes read
	start int64 // n when the current row began
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n-c.start > c.limit {
		return 0, errRecordTooLong
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
