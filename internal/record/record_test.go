package record

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"contactstore/internal/wire"
)

func sampleContacts() []Contact {
	return []Contact{
		{ID: "c-1", Customer: "alice", Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)},
		{
			ID: "01J0000000000000000000000A", Customer: "bob@example.nl",
			Time:    time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", 3600)),
			Channel: "email", Direction: "inbound", Category: "complaint", Agent: "agent 7",
			Subject: "Bestelling", Body: "Beste klantenservice,\nmijn pakket is zoek.", Email: "bob@example.nl",
			Phone: "+31201234567", Rating: -3, Tags: []string{"a", "", "ç"},
			Attachments: []Attachment{{Name: "f.pdf", Type: "application/pdf", Data: []byte{0, 1, 2}}, {}},
			Meta:        []byte(`{"k":1}`),
		},
		{Customer: "x", Time: time.Unix(-1e10, 5).In(time.FixedZone("", -99999)), Rating: math.MaxInt32},
		{Rating: math.MinInt32},
		{},
	}
}

// normalized is c as Decode gives it back: empty lists and byte strings are absent.
func normalized(c Contact) Contact {
	if len(c.Tags) == 0 {
		c.Tags = nil
	}
	if len(c.Attachments) == 0 {
		c.Attachments = nil
	}
	c.Attachments = append([]Attachment(nil), c.Attachments...)
	for i := range c.Attachments {
		if len(c.Attachments[i].Data) == 0 {
			c.Attachments[i].Data = nil
		}
	}
	if len(c.Meta) == 0 {
		c.Meta = nil
	}
	return c
}

// sameContact compares two contacts, times by instant and zone offset.
func sameContact(a, b Contact) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	_, oa := a.Time.Zone()
	_, ob := b.Time.Zone()
	if oa != ob {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestRoundTrip(t *testing.T) {
	for i, c := range sampleContacts() {
		enc := Encode(nil, &c)
		if len(enc) > EncodedSize(&c) {
			t.Errorf("#%d: %d bytes, EncodedSize says at most %d", i, len(enc), EncodedSize(&c))
		}
		var got Contact
		if err := Decode(enc, &got); err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if !sameContact(got, normalized(c)) {
			t.Errorf("#%d: got %+v\nwant %+v", i, got, c)
		}
		if again := Encode(nil, &got); !bytes.Equal(again, enc) {
			t.Errorf("#%d: re-encoding differs", i)
		}
	}
}

func TestEncodeAppends(t *testing.T) {
	c := sampleContacts()[1]
	enc := Encode([]byte("prefix"), &c)
	if !bytes.HasPrefix(enc, []byte("prefix")) || !bytes.Equal(enc[6:], Encode(nil, &c)) {
		t.Fatal("Encode does not append to dst")
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(nil, &Contact{ID: "a", Customer: "b", Rating: 2, Tags: []string{"t"}})
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"bad version", []byte{2}},
		{"unknown field", []byte{Version, 99, 0}},
		{"fields out of order", []byte{Version, tagCustomer, 1, 'x', tagID, 1, 'y'}},
		{"repeated field", []byte{Version, tagID, 1, 'x', tagID, 1, 'y'}},
		{"empty string", []byte{Version, tagID, 0}},
		{"zero rating", []byte{Version, tagRating, 0}},
		{"rating beyond int32", append([]byte{Version, tagRating}, 0x80, 0x80, 0x80, 0x80, 0x10)},
		{"empty tag list", []byte{Version, tagTags, 0}},
		{"empty attachment list", []byte{Version, tagAttachments, 0}},
		{"empty meta", []byte{Version, tagMeta, 0}},
		{"string past the end", []byte{Version, tagID, 5, 'x'}},
		{"huge tag count", []byte{Version, tagTags, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"nanoseconds out of range", timeField(0, 1e9, 0)},
		{"zone offset out of range", timeField(0, 0, 100000)},
		{"negative zone offset out of range", timeField(0, 0, -100000)},
		{"zero time", timeField(time.Time{}.Unix(), 0, 0)},
		{"truncated", good[:len(good)-1]},
		{"non-minimal length", []byte{Version, tagID, 0x81, 0x00, 'x'}},
	} {
		var c Contact
		err := Decode(tc.in, &c)
		if err == nil {
			t.Errorf("%s: decoded %+v", tc.name, c)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v does not wrap ErrMalformed", tc.name, err)
		}
	}
}

// timeField is an encoding holding only a time field with these raw values.
func timeField(sec int64, nsec uint64, off int64) []byte {
	b := []byte{Version, tagTime}
	b = wire.AppendUvarint(b, zigzag(sec))
	b = wire.AppendUvarint(b, nsec)
	return wire.AppendUvarint(b, zigzag(off))
}

func TestDecodeErrorQuotesNoData(t *testing.T) {
	secret := "geheim-adres@example.nl"
	enc := Encode(nil, &Contact{Email: secret})
	for n := range len(enc) {
		var c Contact
		if err := Decode(enc[:n], &c); err != nil && strings.Contains(err.Error(), "geheim") {
			t.Fatalf("error quotes the data: %v", err)
		}
	}
}

func TestParseEnvelope(t *testing.T) {
	for _, tc := range []struct {
		codec byte
		dict  uint64
	}{{CodecNone, 0}, {CodecS2, 0}, {CodecS2Dict, 0}, {CodecS2Dict, 300}, {CodecS2Dict, math.MaxUint64}} {
		hdr := AppendEnvelopeHeader(nil, tc.codec, tc.dict)
		v := append(bytes.Clone(hdr), "sealed"...)
		e, err := ParseEnvelope(v)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if e.Codec != tc.codec || e.DictID != tc.dict || !bytes.Equal(e.Header, hdr) || string(e.Sealed) != "sealed" {
			t.Errorf("%+v: parsed %+v", tc, e)
		}
		// The header aliases v with a capped capacity: appending to it must not overwrite
		// the sealed payload.
		_ = append(e.Header, 'X')
		if string(e.Sealed) != "sealed" {
			t.Errorf("%+v: appending to Header overwrote Sealed", tc)
		}
	}
	for _, bad := range [][]byte{nil, {2, 0}, {EnvelopeVersion}, {EnvelopeVersion, 3}, {EnvelopeVersion, CodecS2Dict}, {EnvelopeVersion, CodecS2Dict, 0x80}} {
		if _, err := ParseEnvelope(bad); !errors.Is(err, ErrEnvelope) {
			t.Errorf("%x: err %v, want ErrEnvelope", bad, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range sampleContacts() {
		f.Add(Encode(nil, &c))
	}
	f.Add([]byte{})
	f.Add([]byte{Version})
	f.Add([]byte{Version, tagID, 0x81, 0x00, 'x'})
	f.Add([]byte{Version, tagTime, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var c Contact
		err := Decode(in, &c)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Canonical: what decodes re-encodes to the very same bytes.
		if enc := Encode(nil, &c); !bytes.Equal(enc, in) {
			t.Fatalf("decoded %+v\nre-encodes to %x\n       input %x", c, enc, in)
		}
		if n := EncodedSize(&c); n < len(in) {
			t.Fatalf("EncodedSize %d < %d", n, len(in))
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("c-1", "alice", int64(1740823200), uint32(0), int32(0), "email", "Onderwerp", "Tekst", "a@b.nl", "+3120", 3, "x,y", []byte("att"), []byte(`{"a":1}`))
	f.Add("", "", int64(0), uint32(0), int32(0), "", "", "", "", "", 0, "", []byte(nil), []byte(nil))
	f.Add("id", "c", int64(-62135596800), uint32(0), int32(0), "", "", "", "", "", 0, "", []byte(nil), []byte(nil))
	f.Add("id", "c", int64(math.MinInt64), uint32(999999999), int32(-50400), "chat", "", "ü", "", "", math.MinInt32, ",,", []byte{0}, []byte("{}"))
	f.Add("id", "c", int64(math.MaxInt64), uint32(1), int32(50400), "", "", "", "", "", math.MaxInt32, "t", []byte{}, []byte("m"))
	f.Fuzz(func(t *testing.T, id, cust string, sec int64, nsec uint32, off int32, channel, subject, body, email, phone string, rating int, tags string, data, meta []byte) {
		c := Contact{ID: id, Customer: cust, Channel: channel, Subject: subject, Body: body, Email: email, Phone: phone,
			Rating: int(int32(rating)), Meta: meta}
		tm := time.Unix(sec, int64(nsec%1e9))
		if o := int(off % 100000); o == 0 {
			tm = tm.UTC()
		} else {
			tm = tm.In(time.FixedZone("", o))
		}
		if !tm.IsZero() {
			c.Time = tm
		}
		if tags != "" {
			c.Tags = strings.Split(tags, ",")
		}
		if data != nil {
			c.Attachments = []Attachment{{Name: subject, Type: channel, Data: data}}
		}
		enc := Encode(nil, &c)
		var got Contact
		if err := Decode(enc, &got); err != nil {
			t.Fatalf("%+v does not decode: %v", c, err)
		}
		if !sameContact(got, normalized(c)) {
			t.Fatalf("got  %+v\nwant %+v", got, c)
		}
	})
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte{EnvelopeVersion, CodecNone, 1, 2, 3})
	f.Add([]byte{EnvelopeVersion, CodecS2})
	f.Add([]byte{EnvelopeVersion, CodecS2Dict, 0xac, 0x02, 9})
	f.Add([]byte{EnvelopeVersion, CodecS2Dict, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, v []byte) {
		e, err := ParseEnvelope(v)
		if err != nil {
			if !errors.Is(err, ErrEnvelope) {
				t.Fatalf("error %v is not ErrEnvelope", err)
			}
			return
		}
		if !bytes.Equal(append(bytes.Clone(e.Header), e.Sealed...), v) {
			t.Fatal("header and sealed payload are not the input")
		}
		if want := AppendEnvelopeHeader(nil, e.Codec, e.DictID); !bytes.Equal(e.Header, want) {
			t.Fatalf("header %x is not canonical (%x)", e.Header, want)
		}
		if e.Codec != CodecS2Dict && e.DictID != 0 {
			t.Fatal("dictionary id without a dictionary codec")
		}
	})
}
