// Package wire holds the small binary encoding helpers that every on-disk format of
// contactstore is built from: unsigned varints, length-prefixed byte strings and fixed-width
// big-endian integers. A Decoder never panics and never allocates more than its input holds:
// every length is checked against what remains before it is used.
package wire

import (
	"encoding/binary"
	"errors"
)

// ErrTruncated is returned when an input ends before the value being read.
var ErrTruncated = errors.New("truncated input")

// ErrOverflow is returned when a varint does not fit in 64 bits or a length is implausible.
var ErrOverflow = errors.New("malformed length")

// AppendUvarint appends v as an unsigned varint.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendBytes appends a uvarint length followed by p.
func AppendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// AppendString appends a uvarint length followed by s.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendU32 appends v as 4 big-endian bytes.
func AppendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendU64 appends v as 8 big-endian bytes.
func AppendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// Decoder reads values from a byte slice. The first error sticks: later reads return zero
// values and Err reports it.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a Decoder over b. Byte slices it returns alias b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns the first error met, if any.
func (d *Decoder) Err() error { return d.err }

// Len returns the number of bytes not yet read.
func (d *Decoder) Len() int { return len(d.b) }

// Rest returns the unread bytes and consumes them.
func (d *Decoder) Rest() []byte {
	r := d.b
	d.b = nil
	return r
}

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n == 0 {
		d.fail(ErrTruncated)
		return 0
	}
	if n < 0 {
		d.fail(ErrOverflow)
		return 0
	}
	if n > 1 && d.b[n-1] == 0 {
		// An over-long encoding (trailing zero groups): AppendUvarint never writes one, and
		// accepting it would give one value two encodings, breaking canonical formats.
		d.fail(ErrOverflow)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail(ErrTruncated)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// U32 reads 4 big-endian bytes.
func (d *Decoder) U32() uint32 {
	p := d.Fixed(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

// U64 reads 8 big-endian bytes.
func (d *Decoder) U64() uint64 {
	p := d.Fixed(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

// Fixed reads exactly n bytes, aliasing the input.
func (d *Decoder) Fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail(ErrTruncated)
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

// Bytes reads a uvarint length and that many bytes, aliasing the input.
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(ErrTruncated)
		return nil
	}
	return d.Fixed(int(n))
}

// String reads a uvarint length and that many bytes as a string (a copy).
func (d *Decoder) String() string { return string(d.Bytes()) }

// Count reads a uvarint element count and checks that at least minSize bytes per element
// remain, so that a forged count cannot make the caller allocate more than the input holds.
func (d *Decoder) Count(minSize int) int {
	n := d.Uvarint()
	if d.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail(ErrOverflow)
		return 0
	}
	return int(n)
}

// Done reports an error if any input remains unread or an error occurred.
func (d *Decoder) Done() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return errors.New("trailing bytes")
	}
	return nil
}
