package record_test

import (
	"math/rand/v2"
	"testing"

	"contactstore/bench/workload"
	"contactstore/internal/record"
	"contactstore/store"
)

func toRecord(c *store.Contact) record.Contact {
	r := record.Contact{
		ID: c.ID, Customer: c.Customer, Time: c.Time, Channel: c.Channel, Direction: c.Direction,
		Category: c.Category, Agent: c.Agent, Subject: c.Subject, Body: c.Body, Email: c.Email,
		Phone: c.Phone, Rating: c.Rating, Tags: c.Tags, Meta: c.Meta,
	}
	for _, a := range c.Attachments {
		r.Attachments = append(r.Attachments, record.Attachment{Name: a.Name, Type: a.Type, Data: a.Data})
	}
	return r
}

// benchContacts returns a typical workload contact whose encoding is about 1 KiB, and the
// same contact with a 64 KiB attachment.
func benchContacts(b *testing.B) map[string]record.Contact {
	g := workload.New(workload.Config{Seed: 1, WithIDs: true, AttachmentRate: workload.None})
	for range 10_000 {
		c := g.Next()
		r := toRecord(&c)
		if n := len(record.Encode(nil, &r)); n < 900 || n > 1200 || len(r.Tags) == 0 || len(r.Meta) == 0 {
			continue
		}
		att := r
		data := make([]byte, 64<<10)
		rand.NewChaCha8([32]byte{1}).Read(data)
		att.Attachments = []record.Attachment{{Name: "factuur-2024-0042.pdf", Type: "application/pdf", Data: data}}
		return map[string]record.Contact{"1KiB": r, "64KiBAttachment": att}
	}
	b.Fatal("no contact of about 1 KiB in the workload")
	return nil
}

var benchCases = []string{"1KiB", "64KiBAttachment"}

func BenchmarkEncode(b *testing.B) {
	cs := benchContacts(b)
	for _, name := range benchCases {
		c := cs[name]
		b.Run(name, func(b *testing.B) {
			buf := record.Encode(nil, &c)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = record.Encode(buf[:0], &c)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	cs := benchContacts(b)
	for _, name := range benchCases {
		c := cs[name]
		b.Run(name, func(b *testing.B) {
			enc := record.Encode(nil, &c)
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				var out record.Contact
				if err := record.Decode(enc, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
