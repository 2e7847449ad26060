// Package keys lays out contactstore's Pebble key space. Every key starts with a one-byte
// kind. No key holds plaintext personal data: customers appear as a keyed pseudonym (in
// data-key entries only) or as their random record prefix (everywhere else), contact ids as
// tags keyed by the customer's data key.
//
//	'M' name                                        metadata (store id, format version)
//	'D' shard:u32 gen:u32 pseudonym:16              wrapped customer key (crypto.CustomerKey)
//	'R' bucket:u32 prefix:16 time:u64 tag:8         sealed record
//	'X' prefix:16 tag:16                            contact-id locator → bucket, time, stats
//	'B' prefix:16 bucket:u32                        the customer has records in this bucket
//	                                                (value: a merged count of them)
//	'E' bucket:u32 prefix:16                        the bucket holds records of this customer
//	                                                (value: the customer's shard, u32)
//	'H' pseudonym:16                                legal hold (sealed under the customer key)
//	'O' pseudonym:16                                objections, Art. 21 (sealed likewise)
//	'T' pseudonym:16 time:u64                       a disclosure: an export to a recipient (sealed)
//	'S' name                                        aggregate counters (merged, no decryption)
//	'A' seq:u64                                     audit log entry (pseudonyms only)
//	'V' pseudonym:16                                signed erasure receipt of an erased customer
//	'I' token:16 pseudonym:16                       blind-index entry: a customer whose contacts
//	                                                carry the value behind the token
//	'J' prefix:16 token:16 bucket:u32               the customer's contacts in the bucket carry
//	                                                the token (value: the token's kind)
//
// Records are laid out bucket first, so that everything that expires together is one
// contiguous range that a range deletion can drop whole; within a bucket, one customer's
// records are contiguous and in time order.
package keys

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// Kinds.
const (
	KindMeta    = 'M'
	KindDataKey = 'D'
	KindRecord  = 'R'
	KindLocator = 'X'
	KindBucket  = 'B'
	KindExpiry  = 'E'
	KindStat    = 'S'
	KindAudit   = 'A'
	KindReceipt = 'V'
	KindHold    = 'H'
	KindObject  = 'O'
	KindDisclos = 'T'
	KindIndex   = 'I'
	KindIndexOf = 'J'
)

// Sizes.
const (
	PseudonymSize = 16
	PrefixSize    = 16
	RecordTagSize = 8
	LocatorTag    = 16
	TokenSize     = 16

	DataKeyLen = 1 + 4 + 4 + PseudonymSize
	RecordLen  = 1 + 4 + PrefixSize + 8 + RecordTagSize
	LocatorLen = 1 + PrefixSize + LocatorTag
	IndexLen   = 1 + TokenSize + PseudonymSize
	IndexOfLen = 1 + PrefixSize + TokenSize + 4
)

// NoExpiry is the bucket of records that no retention term ends (stored before any
// retention policy was set).
const NoExpiry = math.MaxUint32

// HoldBase is the first bucket of legal holds. Each hold gets a bucket of its own at or above
// HoldBase (and below NoExpiry): the customer's records are resealed into it when their own
// bucket expires, and its key is destroyed when the hold is released, so that copies of the
// held records in old files become noise then.
const HoldBase = 0xF0000000

// IsHold reports whether b is a legal hold's bucket.
func IsHold(b uint32) bool { return b >= HoldBase && b < NoExpiry }

// ExpiryBucket reports whether b is a bucket that expires (a day), not NoExpiry or a hold.
func ExpiryBucket(b uint32) bool { return b < HoldBase }

// Hold returns the key of a customer's legal hold.
func Hold(p [PseudonymSize]byte) []byte { return append([]byte{KindHold}, p[:]...) }

// Meta returns a metadata key.
func Meta(name string) []byte { return append([]byte{KindMeta}, name...) }

// Stat returns a counter key.
func Stat(name string) []byte { return append([]byte{KindStat}, name...) }

// DataKey returns the key of a customer's wrapped data key.
func DataKey(shard, gen uint32, p [PseudonymSize]byte) []byte {
	k := make([]byte, 0, DataKeyLen)
	k = append(k, KindDataKey)
	k = binary.BigEndian.AppendUint32(k, shard)
	k = binary.BigEndian.AppendUint32(k, gen)
	return append(k, p[:]...)
}

// DataKeyGen returns the bounds [lo, hi) of every data key of one shard generation.
func DataKeyGen(shard, gen uint32) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint32(append([]byte{KindDataKey}, binary.BigEndian.AppendUint32(nil, shard)...), gen)
	return lo, Successor(lo)
}

// DataKeyShard returns the bounds [lo, hi) of every data key of one shard.
func DataKeyShard(shard uint32) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint32([]byte{KindDataKey}, shard)
	return lo, Successor(lo)
}

// ParseDataKey splits a data-key key.
func ParseDataKey(k []byte) (shard, gen uint32, p [PseudonymSize]byte, err error) {
	if len(k) != DataKeyLen || k[0] != KindDataKey {
		return 0, 0, p, errors.New("not a data-key key")
	}
	copy(p[:], k[9:])
	return binary.BigEndian.Uint32(k[1:5]), binary.BigEndian.Uint32(k[5:9]), p, nil
}

// TimeKey maps a time to 8 bytes that sort like the time (microseconds, sign bit flipped).
func TimeKey(t time.Time) uint64 { return uint64(t.UnixMicro()) ^ (1 << 63) }

// TimeFromKey inverts TimeKey (to the microsecond).
func TimeFromKey(u uint64) time.Time { return time.UnixMicro(int64(u ^ (1 << 63))).UTC() }

// Record returns a record key.
func Record(bucket uint32, prefix [PrefixSize]byte, t uint64, tag []byte) []byte {
	k := make([]byte, 0, RecordLen)
	k = append(k, KindRecord)
	k = binary.BigEndian.AppendUint32(k, bucket)
	k = append(k, prefix[:]...)
	k = binary.BigEndian.AppendUint64(k, t)
	return append(k, tag[:RecordTagSize]...)
}

// RecordRange returns bounds [lo, hi) of one customer's records in a bucket with time keys
// in [from, to]; to = math.MaxUint64 means no upper bound.
func RecordRange(bucket uint32, prefix [PrefixSize]byte, from, to uint64) (lo, hi []byte) {
	base := make([]byte, 0, RecordLen)
	base = append(base, KindRecord)
	base = binary.BigEndian.AppendUint32(base, bucket)
	base = append(base, prefix[:]...)
	lo = binary.BigEndian.AppendUint64(append([]byte(nil), base...), from)
	if to == math.MaxUint64 {
		return lo, Successor(base)
	}
	return lo, binary.BigEndian.AppendUint64(append([]byte(nil), base...), to+1)
}

// BucketRange returns bounds [lo, hi) of every record of a bucket.
func BucketRange(bucket uint32) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint32([]byte{KindRecord}, bucket)
	return lo, Successor(lo)
}

// ParsedRecord is a record key taken apart.
type ParsedRecord struct {
	Bucket uint32
	Prefix [PrefixSize]byte
	Time   uint64
	Tag    [RecordTagSize]byte
}

// ParseRecord splits a record key.
func ParseRecord(k []byte) (ParsedRecord, error) {
	var r ParsedRecord
	if len(k) != RecordLen || k[0] != KindRecord {
		return r, errors.New("not a record key")
	}
	r.Bucket = binary.BigEndian.Uint32(k[1:5])
	copy(r.Prefix[:], k[5:21])
	r.Time = binary.BigEndian.Uint64(k[21:29])
	copy(r.Tag[:], k[29:])
	return r, nil
}

// Locator returns the key of a contact-id locator.
func Locator(prefix [PrefixSize]byte, tag [LocatorTag]byte) []byte {
	k := make([]byte, 0, LocatorLen)
	k = append(k, KindLocator)
	k = append(k, prefix[:]...)
	return append(k, tag[:]...)
}

// CustomerRange returns bounds [lo, hi) of one customer's keys of a customer-major kind
// (KindLocator, KindBucket).
func CustomerRange(kind byte, prefix [PrefixSize]byte) (lo, hi []byte) {
	lo = append([]byte{kind}, prefix[:]...)
	return lo, Successor(lo)
}

// Bucket returns a customer-bucket membership key.
func Bucket(prefix [PrefixSize]byte, bucket uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte{KindBucket}, prefix[:]...), bucket)
}

// Expiry returns a bucket-customer membership key.
func Expiry(bucket uint32, prefix [PrefixSize]byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{KindExpiry}, bucket), prefix[:]...)
}

// Kind returns bounds [lo, hi) of every key of one kind.
func Kind(kind byte) (lo, hi []byte) { return []byte{kind}, []byte{kind + 1} }

// Successor returns the smallest key greater than every key with prefix p.
func Successor(p []byte) []byte {
	s := append([]byte(nil), p...)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// Audit returns the key of an audit entry.
func Audit(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte{KindAudit}, seq) }

// Receipt returns the key of an erased customer's receipt.
func Receipt(p [PseudonymSize]byte) []byte { return append([]byte{KindReceipt}, p[:]...) }

// Objection returns the key of a customer's objections.
func Objection(p [PseudonymSize]byte) []byte { return append([]byte{KindObject}, p[:]...) }

// Disclosure returns the key of one disclosure of a customer's data.
func Disclosure(p [PseudonymSize]byte, t uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{KindDisclos}, p[:]...), t)
}

// Disclosures returns bounds [lo, hi) of a customer's disclosures.
func Disclosures(p [PseudonymSize]byte) (lo, hi []byte) {
	lo = append([]byte{KindDisclos}, p[:]...)
	return lo, Successor(lo)
}

// Index returns the key of a blind-index entry: token → pseudonym.
func Index(token [TokenSize]byte, ps [PseudonymSize]byte) []byte {
	k := make([]byte, 0, IndexLen)
	k = append(k, KindIndex)
	k = append(k, token[:]...)
	return append(k, ps[:]...)
}

// IndexRange returns bounds [lo, hi) of every index entry of one token.
func IndexRange(token [TokenSize]byte) (lo, hi []byte) {
	lo = append([]byte{KindIndex}, token[:]...)
	return lo, Successor(lo)
}

// ParseIndex splits an index entry's key.
func ParseIndex(k []byte) (token [TokenSize]byte, ps [PseudonymSize]byte, err error) {
	if len(k) != IndexLen || k[0] != KindIndex {
		return token, ps, errors.New("keys: not an index entry")
	}
	copy(token[:], k[1:])
	copy(ps[:], k[1+TokenSize:])
	return token, ps, nil
}

// IndexOf returns the key saying that a customer's contacts in a bucket carry a token.
func IndexOf(prefix [PrefixSize]byte, token [TokenSize]byte, bucket uint32) []byte {
	k := IndexOfKey(prefix, token, bucket)
	return k[:]
}

// IndexOfKey is IndexOf as a value, for callers that look a key up far more often than
// they keep one (no allocation).
func IndexOfKey(prefix [PrefixSize]byte, token [TokenSize]byte, bucket uint32) [IndexOfLen]byte {
	var k [IndexOfLen]byte
	k[0] = KindIndexOf
	copy(k[1:], prefix[:])
	copy(k[1+PrefixSize:], token[:])
	binary.BigEndian.PutUint32(k[1+PrefixSize+TokenSize:], bucket)
	return k
}

// ParseIndexOf splits a key made by IndexOf.
func ParseIndexOf(k []byte) (prefix [PrefixSize]byte, token [TokenSize]byte, bucket uint32, err error) {
	if len(k) != IndexOfLen || k[0] != KindIndexOf {
		return prefix, token, 0, errors.New("keys: not an index membership")
	}
	copy(prefix[:], k[1:])
	copy(token[:], k[1+PrefixSize:])
	return prefix, token, binary.BigEndian.Uint32(k[1+PrefixSize+TokenSize:]), nil
}
