// Package importfmt reads other tools' exports — mail archives, helpdesk exports, CSV — as a
// stream of neutral Items. It knows nothing of the store: store/importers maps Items to
// contacts, applies the caller's category mapping and writes them. Each format lives in its
// own subpackage and returns a Reader.
package importfmt

import (
	"encoding/json"
	"fmt"
	"time"
)

// Item is one contact as read from a source, before it is mapped to the store's model.
// Every string is valid UTF-8 (sources in other charsets are decoded).
type Item struct {
	// Pos is where the item came from, for error messages and progress.
	Pos Position
	// SourceID is the source's stable identifier of this contact (a Message-ID, a comment
	// or conversation id, prefixed with the format, e.g. "zendesk:comment:123"). The store
	// uses it as the contact's ID, so importing the same export twice stores nothing twice.
	SourceID string
	// Customer is the external party's identifier in the source: the requester's id or
	// address. Required.
	Customer string
	Time     time.Time
	// Channel uses the store's vocabulary: email, phone, chat, social, letter, web, other;
	// empty when the source does not say.
	Channel string
	// Direction is inbound (from the customer), outbound (to the customer) or internal
	// (private notes), empty when unknown.
	Direction string
	// Category is the source's own classification (ticket type, group, mailbox, folder),
	// as it appears there; the importer's caller maps it to a retention category.
	Category string
	Agent    string
	Subject  string
	Body     string
	// Email and Phone are the customer's address and number as used in this contact.
	Email string
	Phone string
	// Rating is the customer's mark on the store's scale 1..10 (0 = none). Sources with
	// other scales map onto it (documented in each format).
	Rating      int
	Tags        []string
	Attachments []Attachment
	// Meta holds the source's further fields worth keeping (ticket id, status, ...) as a
	// JSON object, or nil.
	Meta json.RawMessage
}

// Attachment is a file that came with an item.
type Attachment struct {
	Name string
	Type string
	Data []byte
}

// Position says where in the input an item or a problem is. File is the input's name as
// given by the caller; Line is 1-based when the format is line-oriented (CSV, JSON Lines);
// Record is the 1-based number of the item (message, ticket, comment) in the file.
type Position struct {
	File   string
	Line   int
	Record int
	Offset int64 // byte offset in the input where the record starts, -1 if unknown
}

func (p Position) String() string {
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

// Reader yields the items of one input in order. Next returns io.EOF after the last item.
// A *RecordError means one record could not be read: the caller may report it and call
// Next again to go on with the following record. Any other error is fatal for the input.
type Reader interface {
	Next() (Item, error)
}

// RecordError is a problem with one record. Reason names fields and what is wrong with
// them, never their values: those are personal data.
type RecordError struct {
	Pos    Position
	Reason string
}

func (e *RecordError) Error() string { return e.Pos.String() + ": " + e.Reason }
