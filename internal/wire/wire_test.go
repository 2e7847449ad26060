package wire

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = AppendUvarint(b, 0)
	b = AppendUvarint(b, math.MaxUint64)
	b = AppendBytes(b, []byte("bytes"))
	b = AppendString(b, "")
	b = AppendString(b, "string")
	b = AppendU32(b, 0xdeadbeef)
	b = AppendU64(b, math.MaxUint64-1)
	b = append(b, 7, 'f', 'i', 'x')
	d := NewDecoder(b)
	if v := d.Uvarint(); v != 0 {
		t.Errorf("uvarint %d", v)
	}
	if v := d.Uvarint(); v != math.MaxUint64 {
		t.Errorf("uvarint %d", v)
	}
	if v := d.Bytes(); string(v) != "bytes" {
		t.Errorf("bytes %q", v)
	}
	if v := d.String(); v != "" {
		t.Errorf("string %q", v)
	}
	if v := d.String(); v != "string" {
		t.Errorf("string %q", v)
	}
	if v := d.U32(); v != 0xdeadbeef {
		t.Errorf("u32 %x", v)
	}
	if v := d.U64(); v != math.MaxUint64-1 {
		t.Errorf("u64 %x", v)
	}
	if v := d.Byte(); v != 7 {
		t.Errorf("byte %d", v)
	}
	if v := d.Fixed(3); string(v) != "fix" {
		t.Errorf("fixed %q", v)
	}
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		read func(d *Decoder)
		want error
	}{
		{"uvarint empty", nil, func(d *Decoder) { d.Uvarint() }, ErrTruncated},
		{"uvarint cut", []byte{0x80}, func(d *Decoder) { d.Uvarint() }, ErrTruncated},
		{"uvarint too long", bytes.Repeat([]byte{0xff}, 11), func(d *Decoder) { d.Uvarint() }, ErrOverflow},
		{"uvarint over-long zero", []byte{0x80, 0x00}, func(d *Decoder) { d.Uvarint() }, ErrOverflow},
		{"uvarint over-long one", []byte{0x81, 0x80, 0x00}, func(d *Decoder) { d.Uvarint() }, ErrOverflow},
		{"byte", nil, func(d *Decoder) { d.Byte() }, ErrTruncated},
		{"u32", []byte{1, 2, 3}, func(d *Decoder) { d.U32() }, ErrTruncated},
		{"u64", []byte{1, 2, 3, 4, 5, 6, 7}, func(d *Decoder) { d.U64() }, ErrTruncated},
		{"fixed negative", []byte{1}, func(d *Decoder) { d.Fixed(-1) }, ErrTruncated},
		{"bytes past end", []byte{3, 'a', 'b'}, func(d *Decoder) { d.Bytes() }, ErrTruncated},
		{"bytes huge length", AppendUvarint(nil, math.MaxUint64), func(d *Decoder) { d.Bytes() }, ErrTruncated},
		{"count too big", []byte{3, 0, 0, 0, 0, 0}, func(d *Decoder) { d.Count(2) }, ErrOverflow},
		{"count huge", AppendUvarint(nil, math.MaxUint64), func(d *Decoder) { d.Count(1) }, ErrOverflow},
	} {
		d := NewDecoder(tc.in)
		tc.read(d)
		if !errors.Is(d.Err(), tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, d.Err(), tc.want)
		}
		if !errors.Is(d.Done(), tc.want) {
			t.Errorf("%s: Done %v, want %v", tc.name, d.Done(), tc.want)
		}
		// The first error sticks; later reads give zero values.
		if d.Byte() != 0 || d.Uvarint() != 0 || d.Bytes() != nil || d.Count(1) != 0 || d.Len() != 0 {
			t.Errorf("%s: reads after an error return data", tc.name)
		}
	}
}

func TestCountBound(t *testing.T) {
	b := AppendUvarint(nil, 3)
	b = append(b, make([]byte, 6)...)
	d := NewDecoder(b)
	if n := d.Count(2); n != 3 || d.Err() != nil {
		t.Fatalf("count %d, %v", n, d.Err())
	}
	d = NewDecoder(b)
	if n := d.Count(0); n != 3 || d.Err() != nil { // minSize < 1 counts as 1
		t.Fatalf("count %d, %v", n, d.Err())
	}
}

func TestTrailing(t *testing.T) {
	d := NewDecoder([]byte{1, 2})
	d.Byte()
	if d.Done() == nil {
		t.Fatal("trailing byte accepted")
	}
	if r := d.Rest(); !bytes.Equal(r, []byte{2}) || d.Len() != 0 || d.Done() != nil {
		t.Fatalf("rest %v", r)
	}
}

func TestAliasingCapped(t *testing.T) {
	in := []byte{2, 'a', 'b', 'c'}
	d := NewDecoder(in)
	p := d.Bytes()
	_ = append(p, 'X') // must not write into the input
	if in[3] != 'c' {
		t.Fatal("appending to a returned slice overwrote the input")
	}
}

// FuzzDecoder interprets ops as a sequence of reads over data. A decoder never panics,
// never returns more bytes than its input holds, never lets Count promise more elements
// than the input can hold, and Len only shrinks.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 1}, []byte{5, 2})
	f.Add(AppendUvarint(nil, math.MaxUint64), []byte{0, 7, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2}, []byte{7, 3, 4, 9})
	f.Add([]byte{0x80, 0x00}, []byte{0})
	f.Add([]byte{}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data, ops []byte) {
		d := NewDecoder(data)
		consumed := 0
		for i, op := range ops {
			before := d.Len()
			var got int // bytes returned to the caller
			switch op % 9 {
			case 0:
				v := d.Uvarint()
				if d.Err() == nil {
					// Canonical: the value re-encodes to exactly the bytes read.
					if enc := AppendUvarint(nil, v); len(enc) != before-d.Len() || !bytes.Equal(enc, data[consumed:consumed+len(enc)]) {
						t.Fatalf("uvarint %d read from %x is not canonical", v, data[consumed:consumed+before-d.Len()])
					}
				}
			case 1:
				d.Byte()
			case 2:
				d.U32()
			case 3:
				d.U64()
			case 4:
				n := 0
				if i+1 < len(ops) {
					n = int(int8(ops[i+1]))
				}
				got = len(d.Fixed(n))
			case 5:
				got = len(d.Bytes())
			case 6:
				got = len(d.String())
			case 7:
				minSize := int(op / 9)
				n := d.Count(minSize)
				if minSize < 1 {
					minSize = 1
				}
				if n < 0 || n*minSize > d.Len() {
					t.Fatalf("Count(%d) = %d with %d bytes left", minSize, n, d.Len())
				}
			case 8:
				got = len(d.Rest())
			}
			if d.Len() > before {
				t.Fatalf("Len grew from %d to %d", before, d.Len())
			}
			if got > before-d.Len() {
				t.Fatalf("returned %d bytes but consumed %d", got, before-d.Len())
			}
			if d.Err() != nil && (d.Len() != 0 || d.Byte() != 0) {
				t.Fatal("reads after an error")
			}
			consumed += before - d.Len()
		}
		if consumed+d.Len() != len(data) {
			t.Fatalf("consumed %d + left %d != %d", consumed, d.Len(), len(data))
		}
	})
}
