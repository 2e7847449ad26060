package crypto

import (
	"encoding/binary"
	"fmt"

	"contactstore/internal/wire"
)

// PrefixSize is the size of a customer's random record prefix.
const PrefixSize = 16

// CustomerKey is what a wrapped data key protects: the customer's data key, the random
// prefix under which the customer's records, counters and index entries are filed, when the
// customer was first seen, and the customer id itself (so that the store can name its
// customers without keeping the ids anywhere in the clear).
//
// The prefix is random rather than derived from the pseudonym on purpose: the only link
// between a customer id and the prefix is this sealed value. After an erasure destroys the
// shard key it was wrapped under, old copies of Pebble's files still hold records under the
// prefix, but nobody — not even with the root key — can tell whose they were.
type CustomerKey struct {
	DataKey  Key
	Prefix   [PrefixSize]byte
	Created  int64 // unix seconds
	Customer string
}

// String, Format and GoString print neither the key, nor the prefix that links records to
// the customer, nor the customer id (personal data).
func (CustomerKey) String() string             { return "CustomerKey(redacted)" }
func (CustomerKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("CustomerKey(redacted)")) }
func (CustomerKey) GoString() string           { return "CustomerKey(redacted)" }

const dataKeyVersion = 1

func dataKeyAAD(p Pseudonym, shard, gen uint32) []byte {
	aad := make([]byte, 0, 48)
	aad = append(aad, "contactstore/v1/data-key"...)
	aad = append(aad, p[:]...)
	aad = binary.BigEndian.AppendUint32(aad, shard)
	aad = binary.BigEndian.AppendUint32(aad, gen)
	return aad
}

// WrapCustomerKey seals ck under a shard key. The associated data binds the pseudonym, the
// shard and its generation, so the value opens only where it was written.
func WrapCustomerKey(shardKey *Key, p Pseudonym, shard, gen uint32, ck *CustomerKey) ([]byte, error) {
	pt := make([]byte, 0, KeySize+PrefixSize+10+len(ck.Customer)+2)
	pt = append(pt, ck.DataKey[:]...)
	pt = append(pt, ck.Prefix[:]...)
	pt = wire.AppendU64(pt, uint64(ck.Created))
	pt = wire.AppendString(pt, ck.Customer)
	defer clear(pt)
	return sealX([]byte{dataKeyVersion}, shardKey, pt, dataKeyAAD(p, shard, gen))
}

// UnwrapCustomerKey opens a value made by WrapCustomerKey.
func UnwrapCustomerKey(shardKey *Key, p Pseudonym, shard, gen uint32, wrapped []byte) (*CustomerKey, error) {
	if len(wrapped) < 1 || wrapped[0] != dataKeyVersion {
		return nil, fmt.Errorf("wrapped data key: unsupported version")
	}
	pt, err := openX(nil, shardKey, wrapped[1:], dataKeyAAD(p, shard, gen))
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	d := wire.NewDecoder(pt)
	ck := &CustomerKey{}
	copy(ck.DataKey[:], d.Fixed(KeySize))
	copy(ck.Prefix[:], d.Fixed(PrefixSize))
	ck.Created = int64(d.U64())
	ck.Customer = d.String()
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("wrapped data key: %v", err)
	}
	return ck, nil
}

// ShardOf returns the shard of a pseudonym among n shards.
func ShardOf(p Pseudonym, n int) uint32 {
	return uint32(binary.BigEndian.Uint64(p[:8]) % uint64(n))
}

const labelDictionary = "contactstore/v1/dictionary"

// SealDictionary seals a trained compression dictionary under the dictionary key. Even
// though the store trains dictionaries only from text many customers share, a dictionary is
// made of contact fragments and is sealed like a record.
func SealDictionary(dictKey *Key, id uint64, dict []byte) ([]byte, error) {
	return sealX(nil, dictKey, dict, binary.BigEndian.AppendUint64([]byte(labelDictionary), id))
}

// OpenDictionary opens a value made by SealDictionary.
func OpenDictionary(dictKey *Key, id uint64, sealed []byte) ([]byte, error) {
	return openX(nil, dictKey, sealed, binary.BigEndian.AppendUint64([]byte(labelDictionary), id))
}

const labelCustomerData = "contactstore/v1/customer-data/"

// SealCustomerData seals a customer's side data (a legal hold and its reason, a deferred
// erasure request) under a key derived from the customer's data key and purpose, with aad
// bound in (the store passes the Pebble key). Erasing the customer makes it noise too.
func SealCustomerData(dataKey *Key, purpose string, plaintext, aad []byte) ([]byte, error) {
	k := deriveSubkey(dataKey, labelCustomerData+purpose)
	defer k.Wipe()
	return sealX(nil, &k, plaintext, aad)
}

// OpenCustomerData opens a value made by SealCustomerData; ErrOpen if it does not
// authenticate.
func OpenCustomerData(dataKey *Key, purpose string, sealed, aad []byte) ([]byte, error) {
	k := deriveSubkey(dataKey, labelCustomerData+purpose)
	defer k.Wipe()
	return openX(nil, &k, sealed, aad)
}
