// Package record is the versioned binary codec of a contact: what is compressed and sealed
// into a Pebble value. The encoding is canonical — one contact has exactly one encoding —
// so that decode-then-encode returns the input byte for byte.
//
// Layout (version 1): a version byte, then the present fields in increasing tag order, each
// as a tag byte and its value. Strings and byte strings are a uvarint length and the bytes.
// Absent fields are not written, so absent stays absent on the way out.
package record

import (
	"errors"
	"fmt"
	"time"

	"contactstore/internal/wire"
)

// Version is the codec version written by Encode.
const Version = 1

// Contact mirrors store.Contact field for field.
type Contact struct {
	ID, Customer string
	Time         time.Time
	Channel      string
	Direction    string
	Category     string
	Agent        string
	Subject      string
	Body         string
	Email        string
	Phone        string
	Rating       int
	Tags         []string
	Attachments  []Attachment
	Meta         []byte
}

// Attachment mirrors store.Attachment.
type Attachment struct {
	Name, Type string
	Data       []byte
}

const (
	tagID = iota + 1
	tagCustomer
	tagTime
	tagChannel
	tagDirection
	tagCategory
	tagAgent
	tagSubject
	tagBody
	tagEmail
	tagPhone
	tagRating
	tagTags
	tagAttachments
	tagMeta
)

// Encode appends the encoding of c to dst.
func Encode(dst []byte, c *Contact) []byte {
	dst = append(dst, Version)
	str := func(tag byte, s string) {
		if s != "" {
			dst = append(dst, tag)
			dst = wire.AppendString(dst, s)
		}
	}
	str(tagID, c.ID)
	str(tagCustomer, c.Customer)
	if !c.Time.IsZero() {
		dst = append(dst, tagTime)
		dst = appendTime(dst, c.Time)
	}
	str(tagChannel, c.Channel)
	str(tagDirection, c.Direction)
	str(tagCategory, c.Category)
	str(tagAgent, c.Agent)
	str(tagSubject, c.Subject)
	str(tagBody, c.Body)
	str(tagEmail, c.Email)
	str(tagPhone, c.Phone)
	if c.Rating != 0 {
		dst = append(dst, tagRating)
		dst = wire.AppendUvarint(dst, zigzag(int64(c.Rating)))
	}
	if len(c.Tags) > 0 {
		dst = append(dst, tagTags)
		dst = wire.AppendUvarint(dst, uint64(len(c.Tags)))
		for _, t := range c.Tags {
			dst = wire.AppendString(dst, t)
		}
	}
	if len(c.Attachments) > 0 {
		dst = append(dst, tagAttachments)
		dst = wire.AppendUvarint(dst, uint64(len(c.Attachments)))
		for _, a := range c.Attachments {
			dst = wire.AppendString(dst, a.Name)
			dst = wire.AppendString(dst, a.Type)
			dst = wire.AppendBytes(dst, a.Data)
		}
	}
	if len(c.Meta) > 0 {
		dst = append(dst, tagMeta)
		dst = wire.AppendBytes(dst, c.Meta)
	}
	return dst
}

// EncodedSize returns an upper bound of len(Encode(nil, c)), for sizing buffers.
func EncodedSize(c *Contact) int {
	n := 1 + 16*11 + 32 + len(c.ID) + len(c.Customer) + len(c.Channel) + len(c.Direction) +
		len(c.Category) + len(c.Agent) + len(c.Subject) + len(c.Body) + len(c.Email) + len(c.Phone) + len(c.Meta)
	for _, t := range c.Tags {
		n += len(t) + 10
	}
	for _, a := range c.Attachments {
		n += len(a.Name) + len(a.Type) + len(a.Data) + 30
	}
	return n
}

// time: seconds since the epoch (zigzag), nanoseconds, and the zone offset in seconds
// (zigzag), so that a contact comes back with the offset it was given in.
func appendTime(dst []byte, t time.Time) []byte {
	_, off := t.Zone()
	dst = wire.AppendUvarint(dst, zigzag(t.Unix()))
	dst = wire.AppendUvarint(dst, uint64(t.Nanosecond()))
	return wire.AppendUvarint(dst, zigzag(int64(off)))
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// ErrMalformed wraps every decoding failure.
var ErrMalformed = errors.New("malformed record")

// Decode parses an encoding made by Encode. Strings are copied; Attachments' Data and Meta
// alias b when copy is false.
func Decode(b []byte, c *Contact) error {
	*c = Contact{}
	d := wire.NewDecoder(b)
	if v := d.Byte(); d.Err() == nil && v != Version {
		return fmt.Errorf("%w: unsupported version %d", ErrMalformed, v)
	}
	last := byte(0)
	for d.Len() > 0 && d.Err() == nil {
		tag := d.Byte()
		if tag <= last {
			return fmt.Errorf("%w: field %d out of order", ErrMalformed, tag)
		}
		last = tag
		switch tag {
		case tagID:
			c.ID = nonEmpty(d)
		case tagCustomer:
			c.Customer = nonEmpty(d)
		case tagTime:
			sec := unzigzag(d.Uvarint())
			nsec := d.Uvarint()
			off := unzigzag(d.Uvarint())
			if d.Err() != nil {
				break
			}
			if nsec >= 1e9 || off <= -100000 || off >= 100000 {
				return fmt.Errorf("%w: bad time", ErrMalformed)
			}
			t := time.Unix(sec, int64(nsec))
			if off == 0 {
				t = t.UTC()
			} else {
				t = t.In(time.FixedZone("", int(off)))
			}
			if t.IsZero() {
				return fmt.Errorf("%w: zero time", ErrMalformed)
			}
			c.Time = t
		case tagChannel:
			c.Channel = nonEmpty(d)
		case tagDirection:
			c.Direction = nonEmpty(d)
		case tagCategory:
			c.Category = nonEmpty(d)
		case tagAgent:
			c.Agent = nonEmpty(d)
		case tagSubject:
			c.Subject = nonEmpty(d)
		case tagBody:
			c.Body = nonEmpty(d)
		case tagEmail:
			c.Email = nonEmpty(d)
		case tagPhone:
			c.Phone = nonEmpty(d)
		case tagRating:
			u := d.Uvarint()
			r := unzigzag(u)
			if d.Err() == nil && (r == 0 || r < -1<<31 || r > 1<<31-1) {
				return fmt.Errorf("%w: bad rating", ErrMalformed)
			}
			c.Rating = int(r)
		case tagTags:
			n := d.Count(1)
			if d.Err() == nil && n == 0 {
				return fmt.Errorf("%w: empty tag list", ErrMalformed)
			}
			c.Tags = make([]string, n)
			for i := range c.Tags {
				c.Tags[i] = d.String()
			}
		case tagAttachments:
			n := d.Count(3)
			if d.Err() == nil && n == 0 {
				return fmt.Errorf("%w: empty attachment list", ErrMalformed)
			}
			c.Attachments = make([]Attachment, n)
			for i := range c.Attachments {
				a := &c.Attachments[i]
				a.Name = d.String()
				a.Type = d.String()
				if data := d.Bytes(); len(data) > 0 {
					a.Data = data
				}
			}
		case tagMeta:
			c.Meta = d.Bytes()
			if d.Err() == nil && len(c.Meta) == 0 {
				return fmt.Errorf("%w: empty meta", ErrMalformed)
			}
		default:
			return fmt.Errorf("%w: unknown field %d", ErrMalformed, tag)
		}
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// nonEmpty reads a string that the encoder would have written: empty strings are never
// encoded, so one is malformed input (and would break canonical round trips).
func nonEmpty(d *wire.Decoder) string {
	s := d.Bytes()
	if d.Err() == nil && len(s) == 0 {
		d.Fixed(-1) // records ErrTruncated-like failure
	}
	return string(s)
}
