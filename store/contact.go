package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Channel values a Contact may carry.
const (
	ChannelEmail  = "email"
	ChannelPhone  = "phone"
	ChannelChat   = "chat"
	ChannelSocial = "social"
	ChannelLetter = "letter"
	ChannelWeb    = "web"
	ChannelOther  = "other"
)

// Direction values a Contact may carry.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
	DirectionInternal = "internal"
)

// DefaultCategory is the retention class of a contact that names none.
const DefaultCategory = "general"

// Channels lists the valid channels in their canonical order.
var Channels = []string{ChannelEmail, ChannelPhone, ChannelChat, ChannelSocial, ChannelLetter, ChannelWeb, ChannelOther}

// Directions lists the valid directions.
var Directions = []string{DirectionInbound, DirectionOutbound, DirectionInternal}

// Contact is one customer contact: an e-mail, chat, call, social-media message, letter or
// web form. Its JSON form is the one the CLI reads and writes; absent fields stay absent.
//
// Customer and Time are required. Everything in a Contact is personal data and never
// reaches disk in the clear.
type Contact struct {
	// ID identifies the contact within its customer's history. Ingesting a contact with an
	// ID that is already stored replaces it instead of adding a second copy. Without one the
	// store assigns a time-ordered ID (26 characters, Crockford base32, ULID layout).
	ID string `json:"id,omitempty"`
	// Customer is the helpdesk's identifier of the customer. Required.
	Customer string `json:"customer"`
	// Time is when the contact happened. Required; retention terms run from it.
	Time time.Time `json:"time"`
	// Channel is one of email, phone, chat, social, letter, web, other.
	Channel string `json:"channel,omitempty"`
	// Direction is inbound, outbound or internal.
	Direction string `json:"direction,omitempty"`
	// Category is the retention class; empty means "general".
	Category string `json:"category,omitempty"`
	// Agent is the employee who handled the contact.
	Agent   string `json:"agent,omitempty"`
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body,omitempty"`
	// Email and Phone are the customer's address and number as used in this contact.
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Rating is the customer's mark for the service, 1 to 10; 0 means none given.
	Rating      int          `json:"rating,omitempty"`
	Tags        []string     `json:"tags,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Meta holds any further structured data as a JSON object, kept byte for byte.
	Meta json.RawMessage `json:"meta,omitempty"`
}

// Attachment is a file that came with a contact. Data is base64 in the JSON form.
type Attachment struct {
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
	Data []byte `json:"data,omitempty"`
}

// Limits on a single contact. They keep one record well inside Pebble's comfortable value
// sizes and bound the memory a malformed input can make the store allocate.
const (
	MaxContactBytes = 64 << 20 // the whole contact, attachments included
	MaxIDBytes      = 256
	MaxCustomerLen  = 256
	MaxShortField   = 1024 // channel, direction, category, agent, e-mail, phone, each tag
)

// ValidationError reports what is wrong with a contact. It names fields, never their values.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports the first problem with c, or nil. It does not change c; Normalize fills
// in defaults.
func (c *Contact) Validate() error {
	if c.Customer == "" {
		return invalid("customer", "is required")
	}
	if len(c.Customer) > MaxCustomerLen {
		return invalid("customer", "longer than %d bytes", MaxCustomerLen)
	}
	if c.Time.IsZero() {
		return invalid("time", "is required (RFC 3339)")
	}
	if y := c.Time.Year(); y < 1900 || y > 9999 {
		return invalid("time", "year %d is out of range 1900-9999", y)
	}
	if len(c.ID) > MaxIDBytes {
		return invalid("id", "longer than %d bytes", MaxIDBytes)
	}
	if c.Channel != "" && !oneOf(c.Channel, Channels) {
		return invalid("channel", "must be one of %s", strings.Join(Channels, ", "))
	}
	if c.Direction != "" && !oneOf(c.Direction, Directions) {
		return invalid("direction", "must be one of %s", strings.Join(Directions, ", "))
	}
	if c.Rating != 0 && (c.Rating < 1 || c.Rating > 10) {
		return invalid("rating", "must be between 1 and 10")
	}
	for _, f := range [...]struct{ name, v string }{{"id", c.ID}, {"customer", c.Customer},
		{"channel", c.Channel}, {"direction", c.Direction}, {"category", c.Category}, {"agent", c.Agent},
		{"email", c.Email}, {"phone", c.Phone}, {"subject", c.Subject}, {"body", c.Body}} {
		if !utf8.ValidString(f.v) {
			return invalid(f.name, "is not valid UTF-8")
		}
	}
	for _, f := range []struct {
		name string
		v    string
	}{{"category", c.Category}, {"agent", c.Agent}, {"email", c.Email}, {"phone", c.Phone}} {
		if len(f.v) > MaxShortField {
			return invalid(f.name, "longer than %d bytes", MaxShortField)
		}
	}
	for i, t := range c.Tags {
		if len(t) > MaxShortField || !utf8.ValidString(t) {
			return invalid(fmt.Sprintf("tags[%d]", i), "must be valid UTF-8 of at most %d bytes", MaxShortField)
		}
	}
	for i, a := range c.Attachments {
		if !utf8.ValidString(a.Name) || !utf8.ValidString(a.Type) {
			return invalid(fmt.Sprintf("attachments[%d]", i), "name and type must be valid UTF-8")
		}
	}
	if len(c.Meta) > 0 {
		m := bytes.TrimSpace(c.Meta)
		if len(m) == 0 || m[0] != '{' || !json.Valid(m) {
			return invalid("meta", "must be a JSON object")
		}
	}
	if c.size() > MaxContactBytes {
		return invalid("contact", "larger than %d bytes", MaxContactBytes)
	}
	return nil
}

func (c *Contact) size() int {
	n := len(c.ID) + len(c.Customer) + len(c.Channel) + len(c.Direction) + len(c.Category) +
		len(c.Agent) + len(c.Subject) + len(c.Body) + len(c.Email) + len(c.Phone) + len(c.Meta)
	for _, t := range c.Tags {
		n += len(t)
	}
	for _, a := range c.Attachments {
		n += len(a.Name) + len(a.Type) + len(a.Data)
	}
	return n
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
