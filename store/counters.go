package store

import (
	"encoding/binary"
	"errors"
	"io"
	"time"

	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

// Aggregate counters live in Pebble as merge operands: vectors of signed integers that
// Pebble adds up during reads and compactions, so that ingest never reads them back. They
// hold counts only — no pseudonym, no contact data.

// counterMerger sums counter vectors element by element.
var counterMerger = &pebble.Merger{
	Name: "contactstore.counters.v1",
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		v, err := decodeCounters(value)
		if err != nil {
			return nil, err
		}
		return &counterValue{v: v}, nil
	},
}

type counterValue struct{ v []int64 }

func (c *counterValue) add(value []byte) error {
	o, err := decodeCounters(value)
	if err != nil {
		return err
	}
	for len(c.v) < len(o) {
		c.v = append(c.v, 0)
	}
	for i, x := range o {
		c.v[i] += x
	}
	return nil
}

func (c *counterValue) MergeNewer(value []byte) error { return c.add(value) }
func (c *counterValue) MergeOlder(value []byte) error { return c.add(value) }
func (c *counterValue) Finish(bool) ([]byte, io.Closer, error) {
	return encodeCounters(c.v), nil, nil
}

const maxCounters = 64

func encodeCounters(v []int64) []byte {
	b := make([]byte, 0, len(v)*2)
	for _, x := range v {
		b = binary.AppendVarint(b, x)
	}
	return b
}

func decodeCounters(b []byte) ([]int64, error) {
	var v []int64
	for len(b) > 0 {
		x, n := binary.Varint(b)
		if n <= 0 || len(v) == maxCounters {
			return nil, errors.New("malformed counter value")
		}
		v = append(v, x)
		b = b[n:]
	}
	return v, nil
}

// Counter vectors.
//
//	S "t"                          totals: contacts, customers
//	S "r" channel:1 month:u32      per channel and month of contact: contacts, rated,
//	                               sum of ratings, then how many of each mark 1..10
//	S "c" prefix:16                one customer's contacts
//	S "b" bucket:u32               contacts in one expiry bucket
//	B prefix:16 bucket:u32         one customer's contacts in one bucket
const (
	totContacts  = 0
	totCustomers = 1

	rContacts = 0
	rRated    = 1
	rSum      = 2
	rHist     = 3 // 10 slots
	rLen      = rHist + 10
)

var totalsKey = keys.Stat("t")

// customerCountKey is the key of a customer's record counter: S "c" prefix → records.
func customerCountKey(prefix [keys.PrefixSize]byte) []byte {
	return append(keys.Stat("c"), prefix[:]...)
}

func ratingKey(channel byte, month uint32) []byte {
	k := keys.Stat("r")
	k = append(k, channel)
	return binary.BigEndian.AppendUint32(k, month)
}

func monthOf(t time.Time) uint32 {
	t = t.UTC()
	return uint32(t.Year()*12 + int(t.Month()) - 1)
}

// ratingID names a rating counter without allocating its key per contact.
type ratingID struct {
	channel byte
	month   uint32
}

type counterSet struct {
	totals    []int64
	rating    map[ratingID][]int64
	customers map[[keys.PrefixSize]byte]int64
	buckets   map[uint32]int64   // S "b" bucket: contacts in the bucket
	members   map[memberID]int64 // B prefix:bucket: the customer's contacts in the bucket
}

type memberID struct {
	prefix [keys.PrefixSize]byte
	bucket uint32
}

func newCounterSet() *counterSet {
	return &counterSet{totals: make([]int64, 2), rating: map[ratingID][]int64{},
		customers: map[[keys.PrefixSize]byte]int64{}, buckets: map[uint32]int64{}, members: map[memberID]int64{}}
}

// addRecord counts n contacts of a customer in a bucket (n < 0: removed).
func (c *counterSet) addRecord(prefix [keys.PrefixSize]byte, bucket uint32, n int64) {
	c.buckets[bucket] += n
	c.members[memberID{prefix, bucket}] += n
}

// bucketCountKey is the key of a bucket's contact counter: S "b" bucket → contacts.
func bucketCountKey(b uint32) []byte { return binary.BigEndian.AppendUint32(keys.Stat("b"), b) }

// expiryValue is the value of an E key: the customer's shard, so that the expirer can find
// the data key of a customer whose last contact expired without unwrapping every key.
func expiryValue(shard uint32) []byte { return u32(shard) }

func (c *counterSet) addCustomer(prefix [keys.PrefixSize]byte, n int64) { c.customers[prefix] += n }

func (c *counterSet) addTotals(contacts, customers int64) {
	c.totals[totContacts] += contacts
	c.totals[totCustomers] += customers
}

func (c *counterSet) addContact(channel byte, t time.Time, rating int, sign int64) {
	k := ratingID{channel, monthOf(t)}
	v := c.rating[k]
	if v == nil {
		v = make([]int64, rLen)
		c.rating[k] = v
	}
	v[rContacts] += sign
	if rating >= 1 && rating <= 10 {
		v[rRated] += sign
		v[rSum] += sign * int64(rating)
		v[rHist+rating-1] += sign
	}
}

func (c *counterSet) apply(b *pebble.Batch) error {
	return c.each(func(k, v []byte) error { return b.Merge(k, v, nil) })
}

// appendOps appends the counters' merges to ops, for a batch written in key order.
func (c *counterSet) appendOps(ops []batchOp) []batchOp {
	_ = c.each(func(k, v []byte) error {
		ops = append(ops, batchOp{kind: opMerge, key: k, val: v})
		return nil
	})
	return ops
}

// each calls merge with every counter's key and operand.
func (c *counterSet) each(merge func(k, v []byte) error) error {
	if c.totals[0] != 0 || c.totals[1] != 0 {
		if err := merge(totalsKey, encodeCounters(c.totals)); err != nil {
			return err
		}
	}
	for k, v := range c.rating {
		if err := merge(ratingKey(k.channel, k.month), encodeCounters(v)); err != nil {
			return err
		}
	}
	for p, n := range c.customers {
		if n != 0 {
			if err := merge(customerCountKey(p), encodeCounters([]int64{n})); err != nil {
				return err
			}
		}
	}
	for bk, n := range c.buckets {
		if n != 0 {
			if err := merge(bucketCountKey(bk), encodeCounters([]int64{n})); err != nil {
				return err
			}
		}
	}
	for m, n := range c.members {
		// Even a zero: a commit group that placed a contact in a bucket and then replaced it
		// (the same id twice, the second time due another day) wrote the bucket's E entry,
		// and the B entry must exist beside it (with its count, 0) until expiry clears both.
		if err := merge(keys.Bucket(m.prefix, m.bucket), encodeCounters([]int64{n})); err != nil {
			return err
		}
	}
	return nil
}

func u32(v uint32) []byte   { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte   { return binary.BigEndian.AppendUint64(nil, v) }
func beU32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func beU64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
