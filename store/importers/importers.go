package importers

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Format names an input format.
type Format string

// The formats Import reads.
const (
	// JSONL is JSON Lines in the store's own contact form (what `ingest` reads by default).
	JSONL Format = "jsonl"
	// MBox is a mail archive in the mbox family, or a single RFC 5322 message.
	MBox Format = "mbox"
	// Zendesk is a Zendesk Support export: incremental ticket export pages, ticket
	// comments, users. It is read twice, so its inputs must be files.
	Zendesk Format = "zendesk"
	// Freshdesk is a Freshdesk API v2 export: tickets, conversations, contacts,
	// satisfaction ratings. It is read twice, so its inputs must be files.
	Freshdesk Format = "freshdesk"
	// HelpScout is Help Scout conversations with their threads embedded (HAL JSON).
	HelpScout Format = "helpscout"
	// CSV is a CSV file with a header row, one contact per row.
	CSV Format = "csv"
)

// Formats lists every Format, in the order the documentation presents them.
var Formats = []Format{JSONL, MBox, Zendesk, Freshdesk, HelpScout, CSV}

// ParseFormat returns the Format named s (case-insensitive; "" is JSONL).
func ParseFormat(s string) (Format, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return JSONL, nil
	}
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("importers: unknown format %q (known: %s)", s, strings.Join(names, ", "))
}

// twoPass reports whether the format's reader reads its inputs twice.
func (f Format) twoPass() bool { return f == Zendesk || f == Freshdesk }

// Input is one input of an import: a file, or a stream such as stdin.
type Input struct {
	// Name identifies the input in positions and messages, usually its path.
	Name string
	// Open returns a fresh reader of the whole input. The Zendesk and Freshdesk formats
	// call it twice (they join tickets and comments across files).
	Open func() (io.ReadCloser, error)
	// Size is the input's length in bytes, for progress; -1 when unknown.
	Size int64
	// once marks an input that can be opened only once (Stream).
	once bool
}

// File returns the Input of the file at path. Its size is taken now; an error to stat or
// open the file is returned by Open.
func File(path string) Input {
	size := int64(-1)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return Input{Name: path, Size: size, Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// ErrSinglePass is returned by the Open of a Stream input called a second time, and by
// Import when a format that reads its inputs twice (Zendesk, Freshdesk) is given one.
var ErrSinglePass = errors.New("importers: the input can be read only once")

// Stream returns an Input that reads r once, such as stdin; size is its length, -1 when
// unknown. Import does not close r.
func Stream(name string, r io.Reader, size int64) Input {
	var mu sync.Mutex
	opened := false
	return Input{Name: name, Size: size, once: true, Open: func() (io.ReadCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		if opened {
			return nil, ErrSinglePass
		}
		opened = true
		return io.NopCloser(r), nil
	}}
}

// DefaultBatchSize is the default for Options.BatchSize.
const DefaultBatchSize = 1000

// DefaultMaxProblems is the default for Options.MaxProblems.
const DefaultMaxProblems = 100

// batchBytes closes a batch early when its contacts hold this much data, so that a
// batch of large messages with attachments does not hold gigabytes.
const batchBytes = 32 << 20

// CSVOptions are the settings of the CSV format.
type CSVOptions struct {
	// Mapping maps a contact field (id, customer, time, channel, direction, category,
	// agent, subject, body, email, phone, rating, tags) to a column name; it overrides the
	// default of equal names. An empty column name unmaps the field. See ParseMapping.
	Mapping map[string]string
	// TimeLayout is the Go layout of the time column; empty means a list of common
	// layouts (RFC 3339, "2006-01-02 15:04:05", "02-01-2006", Unix seconds, ...).
	TimeLayout string
	// Location is the zone of times written without one; nil means UTC.
	Location *time.Location
	// Comma is the field separator; zero means ','.
	Comma rune
	// TagSeparator splits the tags column; empty means both "," and ";".
	TagSeparator string
}

// Options configure an Import. Only Format needs to be set (and Mailboxes for MBox).
type Options struct {
	// Format is the inputs' format; empty means JSONL.
	Format Format
	// Mailboxes are the company's addresses ("support@example.com") or whole domains
	// ("@example.com"). Required for MBox: they decide which side of a message is the
	// customer.
	Mailboxes []string
	// CSV configures the CSV format.
	CSV CSVOptions
	// HelpScoutMailboxes names Help Scout mailboxes by id, for the category of
	// conversations that carry only a mailboxId.
	HelpScoutMailboxes map[string]string
	// Categories maps source categories to retention categories (see ParseCategories);
	// nil keeps the source's categories.
	Categories map[string]string
	// SkipInvalid goes on past problems (counting them) instead of stopping at the first.
	SkipInvalid bool
	// BatchSize is the number of contacts per committed batch; zero means
	// DefaultBatchSize.
	BatchSize int
	// Progress, when set, is called with the import's progress at most about every 100ms
	// and once at the end, from the goroutine that called Import.
	Progress func(Progress)
	// MaxProblems bounds Result.Problems; zero means DefaultMaxProblems, a negative value
	// keeps none. Every problem is counted in Result.ProblemCount.
	MaxProblems int
}

// Progress is the state of a running import.
type Progress struct {
	// Bytes counts the input bytes read so far; Total is the sum of the inputs' sizes, 0
	// when one of them is unknown. The Zendesk and Freshdesk formats read their inputs
	// twice: both passes count, and Total is twice the inputs' size.
	Bytes, Total int64
	// Records counts the records read (contacts and problems); Stored the contacts
	// committed; Skipped the problems passed over.
	Records, Stored, Skipped int
	// Elapsed is the time since the import started.
	Elapsed time.Duration
}

// Problem is a record that could not be imported: where it is and what is wrong. It
// never holds a value of the record.
type Problem struct {
	// File is the input's name; Line the 1-based line where the record starts in
	// line-oriented formats (JSON Lines, CSV), else 0; Record the 1-based number of the
	// record (message, row, ticket, comment) in its input, 0 when unknown.
	File   string
	Line   int
	Record int
	// Reason names the fields and what is wrong with them.
	Reason string
}

// Position returns where the problem is: "FILE:LINE", "FILE:LINE (record N)" or
// "FILE: record N".
func (p Problem) Position() string {
	s := p.File
	if s == "" {
		s = "input"
	}
	switch {
	case p.Line > 0 && p.Record > 0:
		return fmt.Sprintf("%s:%d (record %d)", s, p.Line, p.Record)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d", s, p.Line)
	case p.Record > 0:
		return fmt.Sprintf("%s: record %d", s, p.Record)
	}
	return s
}

// String returns the position and the reason.
func (p Problem) String() string { return p.Position() + ": " + p.Reason }

// ProblemError is the error Import returns when it stops at a problem (without
// Options.SkipInvalid). Every contact read before the problem is committed.
type ProblemError struct {
	Problem
}

func (e *ProblemError) Error() string { return "importers: " + e.Problem.String() }

// Result tells what an Import did.
type Result struct {
	// Read counts the contacts read and valid; Added those new to the store, Replaced
	// those whose id was stored already (a re-import), Expired those not stored because
	// they are past their retention term already. Read = Added + Replaced + Expired once
	// everything read is committed.
	Read, Added, Replaced, Expired int
	// Skipped counts the problems passed over with Options.SkipInvalid.
	Skipped int
	// Unindexed counts e-mail and phone values stored but not indexed (they did not
	// normalise); see store.PutResult.
	Unindexed int
	// Bytes counts the input bytes read (both passes for Zendesk and Freshdesk).
	Bytes int64
	// Problems holds the first Options.MaxProblems problems, in input order;
	// ProblemCount counts all of them (including the one that stopped the import).
	Problems     []Problem
	ProblemCount int
	// Elapsed is how long the import took.
	Elapsed time.Duration
}

// Stored returns the number of contacts committed: Added + Replaced.
func (r Result) Stored() int { return r.Added + r.Replaced }
