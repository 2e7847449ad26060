package record

import (
	"errors"

	"contactstore/internal/wire"
)

// An envelope is a record's Pebble value: a small plaintext header that says how the payload
// was compressed, then the sealed payload (nonce, ciphertext, tag). The header is bound into
// the seal as associated data together with the Pebble key.
//
//	version:1 codec:1 [dict:uvarint if codec == CodecS2Dict] sealed...

// Envelope versions and codecs.
const (
	EnvelopeVersion = 1

	CodecNone   = 0 // payload is the encoded contact
	CodecS2     = 1 // payload is S2 block-compressed
	CodecS2Dict = 2 // payload is S2 block-compressed with a trained dictionary
)

// Envelope is a decoded envelope header.
type Envelope struct {
	Codec  byte
	DictID uint64
	Header []byte // the header bytes, aliasing the value
	Sealed []byte // the sealed payload, aliasing the value
}

// AppendEnvelopeHeader appends a header to dst.
func AppendEnvelopeHeader(dst []byte, codec byte, dict uint64) []byte {
	dst = append(dst, EnvelopeVersion, codec)
	if codec == CodecS2Dict {
		dst = wire.AppendUvarint(dst, dict)
	}
	return dst
}

// ErrEnvelope is returned for a value that is not an envelope this version can read.
var ErrEnvelope = errors.New("malformed record envelope")

// ParseEnvelope splits a Pebble value into header and sealed payload.
func ParseEnvelope(v []byte) (Envelope, error) {
	var e Envelope
	d := wire.NewDecoder(v)
	if d.Byte() != EnvelopeVersion {
		return e, ErrEnvelope
	}
	e.Codec = d.Byte()
	switch e.Codec {
	case CodecNone, CodecS2:
	case CodecS2Dict:
		e.DictID = d.Uvarint()
	default:
		return e, ErrEnvelope
	}
	if d.Err() != nil {
		return e, ErrEnvelope
	}
	n := len(v) - d.Len()
	e.Header, e.Sealed = v[:n:n], v[n:]
	return e, nil
}
