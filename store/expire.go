package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

// Expiry (DESIGN.md §3). A bucket holds the contacts whose term ends on one UTC day. Once
// that day has passed, Expire
//
//  1. reseals held customers' records in the bucket into the hold bucket;
//  2. replaces the vault without the bucket's key (and raises its ExpiredThrough mark, so
//     that no key is ever made again for that day): from here every record in the bucket,
//     in every copy of the files, is noise. This step costs one vault write, whatever the
//     number of contacts in the bucket;
//  3. cleans up: one range deletion drops the bucket's records (they are contiguous, so
//     Pebble can drop whole tables), counters go down by the bucket's count, and each
//     customer in the bucket loses its membership — or, when that was their last contact,
//     everything: data key, locators, counters. The clean-up costs one step per customer in
//     the bucket, not per contact, except the locators of customers who stay (one scan of
//     their locators).
//
// A crash anywhere is safe: step 2 is atomic, and Open finishes the clean-up of every
// bucket whose key is gone but whose entries remain.

// ExpireResult tells what an expiry run did.
type ExpireResult struct {
	Now time.Time `json:"now"`
	// Buckets counts the expiry buckets (days) whose keys were destroyed; Through is the
	// last day now gone (YYYY-MM-DD), empty when nothing was due.
	Buckets int    `json:"buckets"`
	Through string `json:"through,omitempty"`
	// Contacts counts contacts removed for good; Customers counts customers whose last
	// contact expired and who were removed entirely (data key, locators, counters).
	Contacts  int64 `json:"contacts"`
	Customers int64 `json:"customers"`
	// Held counts held customers' contacts preserved in the hold bucket.
	Held int64 `json:"held"`
	// PolicyMoved and PolicyExpired count what an unfinished policy change moved or deleted
	// before the run (see SetPolicy).
	PolicyMoved   int64 `json:"policy_moved,omitempty"`
	PolicyExpired int64 `json:"policy_expired,omitempty"`
	// BackupKeys counts backup keys destroyed because their backup's term ended.
	BackupKeys int `json:"backup_keys,omitempty"`
}

// Expire runs expiry as of now (the zero time means the store's clock): every bucket whose
// day ended before now loses its key and its data. The background expirer calls it on its
// own; call it to catch up at once, or with a later instant to test a policy.
func (s *Store) Expire(ctx context.Context, now time.Time) (ExpireResult, error) {
	if now.IsZero() {
		now = s.opts.Clock.Now()
	}
	now = now.UTC()
	res := ExpireResult{Now: now}
	s.expireMu.Lock()
	defer s.expireMu.Unlock()
	if s.closed.Load() {
		return res, ErrClosed
	}
	var err error
	if res.BackupKeys, err = s.expireBackups(ctx, now); err != nil {
		return res, err
	}
	if s.policy.pending.Load() {
		m, err := s.migrate(ctx, now)
		res.PolicyMoved, res.PolicyExpired = m.moved, m.expired
		if err != nil {
			return res, err
		}
	}
	today := dayOf(now)
	if today == 0 {
		return res, nil
	}
	through := today - 1

	due, err := s.destroyDue(ctx, through, &res)
	if err != nil || len(due) == 0 {
		return res, err
	}
	// 3. Clean-up.
	res.Contacts, res.Customers, err = s.cleanupBuckets(due)
	return res, err
}

// destroyDue carries out steps 1 and 2 of Expire under the gate: held customers' records in
// the buckets due by through go to their holds' buckets, then the due buckets' keys are
// destroyed in one vault write and the run audited. It returns the buckets destroyed.
func (s *Store) destroyDue(ctx context.Context, through uint32, res *ExpireResult) ([]uint32, error) {
	s.gate.Lock()
	defer s.gate.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	v := s.vault.Load()
	var due []uint32
	dueSet := map[uint32]bool{}
	for b := range v.Buckets {
		if keys.ExpiryBucket(b) && b <= through {
			due = append(due, b)
			dueSet[b] = true
		}
	}
	slices.Sort(due)
	if len(due) == 0 && through <= v.ExpiredThrough {
		return nil, nil
	}
	// 1. Held customers' records in due buckets go to their holds' buckets first.
	pol := s.policy.cur.Load()
	for _, ps := range s.holds.list() {
		cu, err := s.lookupByPS(ps)
		if errors.Is(err, errNoCustomer) {
			continue
		}
		if err != nil {
			return nil, wrapErr("expire: a held customer", err)
		}
		hold, _ := s.holds.get(ps)
		bs, err := s.customerBuckets(cu)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if !dueSet[b] {
				continue
			}
			n, _, err := s.relocate(cu, b, func(c *Contact) (uint32, bool) {
				if pol != nil && !keeps(hold.since, true, expiryOf(pol.Policy, c.Category, c.Channel, c.Time)) {
					return b, false // past its term before the hold: it expires with its bucket
				}
				return hold.bucket, false
			})
			res.Held += n
			if err != nil {
				return nil, wrapErr("expire: preserving a held customer's contacts", err)
			}
		}
	}
	var count int64
	for _, b := range due {
		n, err := s.counter(bucketCountKey(b))
		if err != nil {
			return nil, err
		}
		if len(n) > 0 {
			count += n[0]
		}
	}
	// 2. Destroy the keys: one vault write.
	if err := s.destroyBuckets(due, through); err != nil {
		return nil, wrapErr("expire", err)
	}
	res.Buckets, res.Through = len(due), bucketDay(through).Format(time.DateOnly)
	detail := fmt.Sprintf("%d bucket key(s) destroyed, days through %s; %d held contact(s) preserved", len(due), res.Through, res.Held)
	if err := s.auditNow(true, audit.Entry{Kind: audit.KindExpire, Count: count, Detail: detail}); err != nil {
		return nil, err
	}
	s.log.Info("expiry: bucket keys destroyed", "buckets", len(due), "through", res.Through, "contacts", count)
	return due, nil
}

// expiryDue reports whether an expiry run would do anything at now.
func (s *Store) expiryDue(now time.Time) bool {
	if s.policy.pending.Load() || s.backupsDue(now) {
		return true
	}
	today := dayOf(now)
	for b := range s.vault.Load().Buckets {
		if keys.ExpiryBucket(b) && b < today {
			return true
		}
	}
	return false
}

// expirer runs expiry in the background every Options.ExpiryInterval.
func (s *Store) expirer(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTimer(min(interval, 2*time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.stopExpirer:
			return
		case <-t.C:
		}
		now := s.opts.Clock.Now()
		if s.expiryDue(now) {
			if _, err := s.Expire(bg, now); err != nil && !s.closed.Load() {
				s.log.Error("background expiry failed; it is retried", "err", err.Error())
			}
		}
		t.Reset(interval)
	}
}

// cleanupChunk is how many customers of an expired bucket one clean-up batch handles.
const cleanupChunk = 512

// cleanupBuckets removes what remains of buckets whose keys are gone.
func (s *Store) cleanupBuckets(buckets []uint32) (contacts, customers int64, err error) {
	var touched []keyRange
	defer func() { s.scheduleHygiene(touched) }()
	for _, bk := range buckets {
		elo, ehi := keys.Expiry(bk, [keys.PrefixSize]byte{}), keys.Successor(binary32(keys.KindExpiry, bk))
		cursor := elo
		for {
			type member struct {
				prefix [keys.PrefixSize]byte
				shard  uint32
			}
			var chunk []member
			it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: cursor, UpperBound: ehi})
			if err != nil {
				return contacts, customers, wrapErr("expire: clean-up", err)
			}
			for ok := it.First(); ok && len(chunk) < cleanupChunk; ok = it.Next() {
				k, v := it.Key(), it.Value()
				if len(k) != 5+keys.PrefixSize {
					continue
				}
				var m member
				copy(m.prefix[:], k[5:])
				if len(v) == 4 {
					m.shard = beU32(v)
				} else {
					m.shard = math.MaxUint32 // written before shards were kept: search every shard
				}
				chunk = append(chunk, m)
				cursor = append(bytes.Clone(k), 0)
			}
			if err := it.Close(); err != nil {
				return contacts, customers, wrapErr("expire: clean-up", err)
			}
			if len(chunk) == 0 {
				break
			}
			s.gate.Lock()
			if s.closed.Load() {
				s.gate.Unlock()
				return contacts, customers, ErrClosed
			}
			b := s.db.NewBatch()
			ctr := newCounterSet()
			var removed []crypto.Pseudonym
			var removedPfx [][keys.PrefixSize]byte
			var removedRecs int64 // their records in this bucket (no longer in its counter)
			err = func() error {
				for _, m := range chunk {
					n, err := s.counter(keys.Bucket(m.prefix, bk))
					if err != nil {
						return err
					}
					var cnt int64
					if len(n) > 0 {
						cnt = n[0]
					}
					_ = b.Delete(keys.Bucket(m.prefix, bk), nil)
					_ = b.Delete(keys.Expiry(bk, m.prefix), nil)
					cc, err := s.counter(customerCountKey(m.prefix))
					if err != nil {
						return err
					}
					left := -cnt
					if len(cc) > 0 {
						left += cc[0]
					}
					if left > 0 {
						ctr.addCustomer(m.prefix, -cnt)
						if err := s.dropLocators(b, m.prefix, bk); err != nil {
							return err
						}
						if err := s.dropIndex(b, m.prefix); err != nil {
							return err
						}
						continue
					}
					// That was the customer's last contact: remove them, unless held.
					ps, gen, shard, ok, err := s.findCustomer(m.shard, m.prefix)
					if err != nil {
						return err
					}
					if ok && s.holds.has(ps) {
						ctr.addCustomer(m.prefix, -cnt)
						if err := s.dropLocators(b, m.prefix, bk); err != nil {
							return err
						}
						if err := s.dropIndex(b, m.prefix); err != nil {
							return err
						}
						continue
					}
					// Their locators and memberships are small and hold no contact data: they
					// leave the files with Pebble's own compactions, not a compaction per
					// customer (only the bucket's records are compacted away at once).
					var small []keyRange
					if ok {
						if err := s.removeCustomer(b, shard, gen, ps, m.prefix, &small); err != nil {
							return err
						}
						removed = append(removed, ps)
					} else if n, err := s.deleteCustomerData(b, m.prefix, &small); err != nil {
						return err // no live data key names this prefix: an orphan
					} else {
						ctr.addTotals(-n, 0)
					}
					removedPfx = append(removedPfx, m.prefix)
					removedRecs += cnt
				}
				if err := ctr.apply(b); err != nil {
					return err
				}
				return commitBatch(b, pebble.Sync)
			}()
			b.Close()
			if err == nil {
				contacts += removedRecs
				customers += int64(len(removedPfx))
				for _, ps := range removed {
					s.customers.remove(ps)
				}
				for _, p := range removedPfx {
					s.records.forget(p)
				}
			}
			s.gate.Unlock()
			if err != nil {
				return contacts, customers, wrapErr("expire: clean-up", err)
			}
		}
		// The bucket's records, in one range deletion, and its counter.
		s.gate.Lock()
		if s.closed.Load() {
			s.gate.Unlock()
			return contacts, customers, ErrClosed
		}
		n, err := s.counter(bucketCountKey(bk))
		if err == nil {
			b := s.db.NewBatch()
			rlo, rhi := keys.BucketRange(bk)
			_ = b.DeleteRange(rlo, rhi, nil)
			_ = b.DeleteRange(elo, ehi, nil)
			_ = b.Delete(bucketCountKey(bk), nil)
			var cnt int64
			if len(n) > 0 {
				cnt = max(n[0], 0) // (stores from before per-bucket counters: the no-expiry bucket's may be negative)
			}
			ctr := newCounterSet()
			ctr.addTotals(-cnt, 0)
			_ = ctr.apply(b)
			err = commitBatch(b, pebble.Sync)
			b.Close()
			if err == nil {
				contacts += cnt
				touched = append(touched, keyRange{rlo, rhi}, keyRange{elo, ehi})
			}
		}
		s.gate.Unlock()
		if err != nil {
			return contacts, customers, wrapErr("expire: clean-up", err)
		}
	}
	return contacts, customers, nil
}

func binary32(kind byte, v uint32) []byte { return append([]byte{kind}, u32(v)...) }

// findCustomer finds the data key of a record prefix, in its shard (or, for entries
// written without one, in every shard).
func (s *Store) findCustomer(shard uint32, prefix [keys.PrefixSize]byte) (ps crypto.Pseudonym, gen, sh uint32, ok bool, err error) {
	if shard != math.MaxUint32 {
		ps, gen, ok, err = s.findPrefix(shard, prefix)
		return ps, gen, shard, ok, err
	}
	for i := range uint32(len(s.vault.Load().Shards)) {
		if ps, gen, ok, err = s.findPrefix(i, prefix); ok || err != nil {
			return ps, gen, i, ok, err
		}
	}
	return ps, 0, 0, false, nil
}

// dropLocators stages the deletion of a customer's locators that point into bucket bk.
func (s *Store) dropLocators(b *pebble.Batch, prefix [keys.PrefixSize]byte, bk uint32) error {
	lo, hi := keys.CustomerRange(keys.KindLocator, prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if len(v) == locatorLen && beU32(v[0:4]) == bk {
			_ = b.Delete(it.Key(), nil)
		}
	}
	return it.Close()
}

// bucketIDs lists the distinct buckets that keys of a bucket-major kind (R, E) name,
// seeking from one bucket to the next.
func (s *Store) bucketIDs(kind byte) ([]uint32, error) {
	lo, hi := keys.Kind(kind)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	var out []uint32
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 5 {
			ok = it.Next()
			continue
		}
		b := beU32(k[1:5])
		out = append(out, b)
		if b == math.MaxUint32 {
			break
		}
		ok = it.SeekGE(binary32(kind, b+1))
	}
	return out, it.Close()
}

// finishExpiry cleans up buckets whose keys are gone but whose entries remain: a clean-up
// a crash interrupted, or Pebble files older than the vault. Run at Open.
func (s *Store) finishExpiry() error {
	v := s.vault.Load()
	gone := map[uint32]bool{}
	for _, kind := range []byte{keys.KindRecord, keys.KindExpiry} {
		ids, err := s.bucketIDs(kind)
		if err != nil {
			return wrapErr("finishing expiry", err)
		}
		for _, b := range ids {
			if bucketGone(v, b) {
				gone[b] = true
			}
		}
	}
	lo := keys.Stat("b")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.Successor(lo)})
	if err != nil {
		return wrapErr("finishing expiry", err)
	}
	for it.First(); it.Valid(); it.Next() {
		if k := it.Key(); len(k) == len(lo)+4 {
			if b := beU32(k[len(lo):]); bucketGone(v, b) {
				gone[b] = true
			}
		}
	}
	if err := it.Close(); err != nil {
		return wrapErr("finishing expiry", err)
	}
	if len(gone) == 0 {
		return nil
	}
	ids := make([]uint32, 0, len(gone))
	for b := range gone {
		ids = append(ids, b)
	}
	slices.Sort(ids)
	s.log.Info("finishing the clean-up of expired buckets", "buckets", len(ids))
	contacts, customers, err := s.cleanupBuckets(ids)
	if err != nil {
		return err
	}
	return s.auditNow(true, audit.Entry{Kind: audit.KindExpire, Count: contacts,
		Detail: fmt.Sprintf("clean-up of %d expired bucket(s) finished at open; %d customer(s) removed", len(ids), customers)})
}
