package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// Domain-separation labels: every derivation names its purpose, so that no two uses of one
// key can produce the same output.
const (
	labelRecordKey = "contactstore/v1/record-key"
	labelPseudonym = "contactstore/v1/pseudonym"
	labelContactID = "contactstore/v1/contact-id"
)

// DeriveRecordKey returns the key that seals a customer's records in one expiry bucket. It
// needs both the customer's data key and the bucket's key: destroying either makes the
// records noise.
func DeriveRecordKey(bucketKey, dataKey *Key, bucket uint32) Key {
	m := hmac.New(sha256.New, bucketKey[:])
	m.Write([]byte(labelRecordKey))
	m.Write(dataKey[:])
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], bucket)
	m.Write(b[:])
	var k Key
	m.Sum(k[:0])
	return k
}

// PseudonymSize is the size of a customer pseudonym.
const PseudonymSize = 16

// Pseudonym is a customer's keyed pseudonym: HMAC-SHA256(pseudonym key, customer id)
// truncated to 128 bits. Without the pseudonym key it reveals nothing of the id.
type Pseudonym [PseudonymSize]byte

// Pseudonymizer computes pseudonyms. It is not safe for concurrent use; make one per goroutine.
type Pseudonymizer struct {
	h hash.Hash
}

// NewPseudonymizer returns a Pseudonymizer under key.
func NewPseudonymizer(key *Key) *Pseudonymizer {
	m := hmac.New(sha256.New, key[:])
	return &Pseudonymizer{h: m}
}

// Of returns the pseudonym of a customer id.
func (p *Pseudonymizer) Of(customer string) Pseudonym {
	p.h.Reset()
	p.h.Write([]byte(labelPseudonym))
	p.h.Write([]byte(customer))
	var sum [sha256.Size]byte
	p.h.Sum(sum[:0])
	var ps Pseudonym
	copy(ps[:], sum[:])
	return ps
}

// ContactTagSize is the size of a contact-id tag.
const ContactTagSize = 16

// ContactTag returns a keyed tag of a contact id within one customer's history:
// HMAC-SHA256(data key, id) truncated to 128 bits. It is keyed by the customer's data key,
// so after an erasure nobody can link a tag to an id.
func ContactTag(dataKey *Key, id string) [ContactTagSize]byte {
	// HMAC written out (RFC 2104, a key shorter than SHA-256's block is zero-padded): the
	// same output as crypto/hmac without its per-call allocations and state set-up, since
	// this runs once per ingested contact.
	const bs = sha256.BlockSize
	const _ = uint(bs - KeySize) // the key fits one block: no pre-hashing
	var buf [bs + len(labelContactID) + 64]byte
	msg := buf[:0]
	if n := bs + len(labelContactID) + len(id); n > len(buf) {
		msg = make([]byte, 0, n)
	}
	msg = msg[:bs]
	for i := range bs {
		msg[i] = 0x36
	}
	for i, k := range dataKey {
		msg[i] ^= k
	}
	msg = append(msg, labelContactID...)
	msg = append(msg, id...)
	inner := sha256.Sum256(msg)
	var outer [bs + sha256.Size]byte
	for i := range bs {
		outer[i] = 0x5c
	}
	for i, k := range dataKey {
		outer[i] ^= k
	}
	copy(outer[bs:], inner[:])
	sum := sha256.Sum256(outer[:])
	clear(msg[:bs]) // the key-derived pad, wherever msg lives
	clear(outer[:bs])
	var t [ContactTagSize]byte
	copy(t[:], sum[:])
	return t
}

// deriveSubkey returns HMAC-SHA256(key, label): a key for one purpose.
func deriveSubkey(key *Key, label string) Key {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(label))
	var k Key
	m.Sum(k[:0])
	return k
}
