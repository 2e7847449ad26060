package store

import (
	"context"
	"fmt"
	"math"

	"contactstore/crypto"
	"contactstore/internal/keys"
	"contactstore/internal/record"

	"github.com/cockroachdb/pebble/v2"
)

// Moving records between buckets: a policy change, a legal hold meeting an expiring bucket,
// and a hold's release reseal records under another bucket's key. The payload is not
// recompressed: the record is opened, its compressed payload resealed under the new key and
// bound to the new Pebble key. Callers hold the gate exclusively, so that no Put replaces a
// record while it moves.

// openedRecord is a record opened for a move.
type openedRecord struct {
	key     []byte
	pk      keys.ParsedRecord
	env     record.Envelope
	payload []byte // authenticated, still compressed
	c       Contact
}

// openForMove authenticates and decodes a record, keeping its payload for resealing.
func (s *Store) openForMove(cu *customer, key, val []byte) (*openedRecord, error) {
	pk, env, pt, err := s.openSealed(cu, key, val)
	if err != nil {
		return nil, err
	}
	c, err := s.decodePayload(env, pt)
	if err != nil {
		return nil, err
	}
	env.Header = append([]byte(nil), env.Header...)
	env.Sealed = nil
	return &openedRecord{key: key, pk: pk, env: env, payload: pt, c: c}, nil
}

// moveRecord stages the move of an opened record into bucket to: the record resealed under
// its new key, the old one deleted, the locator and memberships updated.
func (s *Store) moveRecord(b *pebble.Batch, cu *customer, r *openedRecord, to uint32, ctr *counterSet) error {
	rc, err := s.recordCipher(cu, to)
	if err != nil {
		return wrapErr("resealing a record", err)
	}
	tag := crypto.ContactTag(&cu.key.DataKey, r.c.ID)
	nk := keys.Record(to, cu.key.Prefix, r.pk.Time, tag[:])
	val := make([]byte, 0, len(r.env.Header)+len(r.payload)+crypto.RecordOverhead)
	val = append(val, r.env.Header...)
	if val, err = rc.Seal(val, r.payload, recordAAD(nk, r.env.Header)); err != nil {
		return wrapErr("resealing a record", err)
	}
	_ = b.Delete(r.key, nil)
	_ = b.Set(nk, val, nil)
	lv := make([]byte, 0, locatorLen)
	lv = append(lv, u32(to)...)
	lv = append(lv, u64(r.pk.Time)...)
	lv = append(lv, channelCode(r.c.Channel), byte(r.c.Rating))
	_ = b.Set(keys.Locator(cu.key.Prefix, tag), lv, nil)
	_ = b.Set(keys.Expiry(to, cu.key.Prefix), expiryValue(cu.shard), nil)
	s.stageIndexTerms(b, cu, &r.c, to)
	ctr.addRecord(cu.key.Prefix, r.pk.Bucket, -1)
	ctr.addRecord(cu.key.Prefix, to, 1)
	return nil
}

// dropRecord stages the deletion of an opened record that is past its term.
func (s *Store) dropRecord(b *pebble.Batch, cu *customer, r *openedRecord, ctr *counterSet) {
	tag := crypto.ContactTag(&cu.key.DataKey, r.c.ID)
	_ = b.Delete(r.key, nil)
	_ = b.Delete(keys.Locator(cu.key.Prefix, tag), nil)
	ctr.addRecord(cu.key.Prefix, r.pk.Bucket, -1)
	ctr.addCustomer(cu.key.Prefix, -1)
	ctr.addTotals(-1, 0)
}

// moveBatch is how many records a move stages per Pebble batch.
const moveBatch = 2048

// relocate moves or drops every record of one customer in bucket from, as decide says:
// a bucket to move it to, or drop. It commits every moveBatch records (each batch
// consistent on its own) and then removes the customer's membership of from if nothing is
// left there. The gate is held exclusively.
func (s *Store) relocate(cu *customer, from uint32, decide func(c *Contact) (to uint32, drop bool)) (moved, dropped int64, err error) {
	lo, hi := keys.RecordRange(from, cu.key.Prefix, 0, math.MaxUint64)
	src := &source{lo: lo, hi: hi}
	for {
		if err := s.fill(src); err != nil {
			return moved, dropped, err
		}
		if len(src.kvs) == 0 {
			break
		}
		b := s.db.NewBatch()
		ctr := newCounterSet()
		type op struct {
			r    *openedRecord
			to   uint32
			drop bool
		}
		var ops []op
		need := map[uint32]bool{}
		for _, kv := range src.kvs {
			r, err := s.openForMove(cu, kv.k, kv.v)
			if err != nil {
				b.Close()
				return moved, dropped, err
			}
			to, drop := decide(&r.c)
			if !drop && to == from {
				continue
			}
			if !drop {
				need[to] = true
			}
			ops = append(ops, op{r, to, drop})
		}
		if err := s.ensureBuckets(bg, need); err != nil {
			b.Close()
			return moved, dropped, err
		}
		for _, o := range ops {
			if o.drop {
				s.dropRecord(b, cu, o.r, ctr)
				dropped++
				continue
			}
			if err := s.moveRecord(b, cu, o.r, o.to, ctr); err != nil {
				b.Close()
				return moved, dropped, err
			}
			moved++
		}
		if len(ops) > 0 {
			if err := ctr.apply(b); err != nil {
				b.Close()
				return moved, dropped, err
			}
			err = commitBatch(b, pebble.Sync)
		}
		b.Close()
		if err != nil {
			return moved, dropped, wrapErr("moving records", err)
		}
	}
	if moved+dropped == 0 {
		return 0, 0, nil
	}
	return moved, dropped, s.dropEmptyMembership(cu, from)
}

// dropEmptyMembership deletes a customer's membership of a bucket that holds none of its
// records any more.
func (s *Store) dropEmptyMembership(cu *customer, bucket uint32) error {
	lo, hi := keys.RecordRange(bucket, cu.key.Prefix, 0, math.MaxUint64)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	any := it.First()
	if err := it.Close(); err != nil || any {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Delete(keys.Bucket(cu.key.Prefix, bucket), nil)
	_ = b.Delete(keys.Expiry(bucket, cu.key.Prefix), nil)
	return wrapErr("moving records", commitBatch(b, pebble.Sync))
}

// customerEmpty reports whether a customer has no records left in any bucket.
func (s *Store) customerEmpty(prefix [keys.PrefixSize]byte) (bool, error) {
	n, err := s.counter(customerCountKey(prefix))
	if err != nil {
		return false, err
	}
	return len(n) == 0 || n[0] <= 0, nil
}

// removeCustomer stages the removal of everything of a customer: data key, records,
// locators, memberships, counters (totals included). The gate is held exclusively.
func (s *Store) removeCustomer(b *pebble.Batch, shard, gen uint32, ps crypto.Pseudonym, prefix [keys.PrefixSize]byte, touched *[]keyRange) error {
	_ = b.Delete(keys.DataKey(shard, gen, ps), nil)
	deletePseudonymData(b, ps)
	n, err := s.deleteCustomerData(b, prefix, touched)
	if err != nil {
		return err
	}
	ctr := newCounterSet()
	ctr.addTotals(-n, -1)
	return ctr.apply(b)
}

// findPrefix finds the data key in a shard whose customer key has the given record prefix.
func (s *Store) findPrefix(shard uint32, prefix [keys.PrefixSize]byte) (ps crypto.Pseudonym, gen uint32, ok bool, err error) {
	v := s.vault.Load()
	if int(shard) >= len(v.Shards) {
		return ps, 0, false, fmt.Errorf("%w: shard %d out of range", ErrCorrupt, shard)
	}
	sk := v.Shards[shard]
	lo, hi := keys.DataKeyGen(shard, sk.Gen)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return ps, 0, false, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		_, _, p, err := keys.ParseDataKey(it.Key())
		if err != nil {
			continue
		}
		ck, err := crypto.UnwrapCustomerKey(&sk.Key, p, shard, sk.Gen, it.Value())
		if err != nil {
			continue
		}
		match := ck.Prefix == prefix
		ck.DataKey.Wipe()
		if match {
			return p, sk.Gen, true, nil
		}
	}
	return ps, 0, false, it.Error()
}

var bg = context.Background()
