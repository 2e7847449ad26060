package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"contactstore/internal/audit"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

type migrateResult struct{ moved, expired, scanned int64 }

// migrateChunk is how many customers' data keys a policy move reads per iterator.
const migrateChunk = 256

// migrate applies the policy in force to every stored contact: each customer's records are
// opened, their expiry computed under the new policy, and those whose day changed resealed
// into their new bucket; those past their term are deleted. Held customers are skipped (their
// records keep their buckets until expiry meets them). It holds the gate exclusively one
// customer at a time, so ingest goes on between customers. The caller holds expireMu.
//
// now is the instant the policy is applied as of (the clock, or Expire's now).
func (s *Store) migrate(ctx context.Context, now time.Time) (migrateResult, error) {
	var res migrateResult
	ps := s.policy.cur.Load()
	if ps == nil {
		return res, nil
	}
	lo, hi := keys.Kind(keys.KindDataKey)
	cursor := lo
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var chunk [][]byte
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: cursor, UpperBound: hi})
		if err != nil {
			return res, wrapErr("applying the retention policy", err)
		}
		for ok := it.First(); ok && len(chunk) < migrateChunk; ok = it.Next() {
			chunk = append(chunk, bytes.Clone(it.Key()))
		}
		if err := it.Close(); err != nil {
			return res, wrapErr("applying the retention policy", err)
		}
		if len(chunk) == 0 {
			break
		}
		cursor = append(bytes.Clone(chunk[len(chunk)-1]), 0)
		for _, k := range chunk {
			if err := s.migrateCustomer(k, ps, now, &res); err != nil {
				return res, err
			}
		}
	}
	// Done, unless the policy changed meanwhile (that change's own move follows).
	s.gate.Lock()
	defer s.gate.Unlock()
	if s.closed.Load() {
		return res, ErrClosed
	}
	if s.policy.cur.Load() != ps {
		return res, nil
	}
	// Nothing is left in the no-expiry bucket (a policy, once set, is never unset): its key
	// goes, and with it every copy of those records in old files.
	if _, ok := s.vault.Load().Buckets[keys.NoExpiry]; ok {
		lo, hi := keys.BucketRange(keys.NoExpiry)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return res, wrapErr("applying the retention policy", err)
		}
		left := it.First()
		if err := it.Close(); err != nil {
			return res, wrapErr("applying the retention policy", err)
		}
		if !left {
			if err := s.destroyBuckets([]uint32{keys.NoExpiry}, 0); err != nil {
				return res, err
			}
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Delete(policyPendingKey, nil)
	if err := s.commitWithAudit(b, audit.Entry{Kind: audit.KindPolicy, Count: res.moved + res.expired,
		Detail: fmt.Sprintf("retention policy version %d applied to stored contacts: %d examined, %d moved to another expiry day, %d past their term deleted",
			ps.Version, res.scanned, res.moved, res.expired)}); err != nil {
		return res, wrapErr("applying the retention policy", err)
	}
	s.policy.pending.Store(false)
	return res, nil
}

// heldThrough reports whether a hold placed at since keeps a contact that a policy change
// has put past its term: whether the contact was within its term, under the policy it was
// filed by, when the hold began. A contact filed before any policy had no term then.
func heldThrough(ps *policyState, bucket uint32, c *Contact, since time.Time) bool {
	if bucket == keys.NoExpiry || ps.Previous == nil {
		return true
	}
	return expiryOf(ps.Previous, c.Category, c.Channel, c.Time).After(since)
}

func (s *Store) migrateCustomer(dk []byte, ps *policyState, now time.Time, res *migrateResult) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	v := s.vault.Load()
	shard, gen, p, err := keys.ParseDataKey(dk)
	if err != nil || int(shard) >= len(v.Shards) || v.Shards[shard].Gen != gen {
		return nil // an old generation's key, about to be cleaned up
	}
	hold, held := s.holds.get(p)
	cu, err := s.lookupByPS(p)
	if errors.Is(err, errNoCustomer) {
		return nil
	}
	if err != nil {
		return err
	}
	bs, err := s.customerBuckets(cu)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if keys.IsHold(b) || bucketGone(v, b) {
			continue
		}
		moved, dropped, err := s.relocate(cu, b, func(c *Contact) (uint32, bool) {
			res.scanned++
			to, expired := placement(ps, s.vault.Load(), c, now, holdEntry{}, false)
			if expired && held && heldThrough(ps, b, c, hold.since) {
				return hold.bucket, false // the hold keeps it, whatever the new term says
			}
			return to, expired
		})
		res.moved += moved
		res.expired += dropped
		if err != nil {
			return wrapErr("applying the retention policy", err)
		}
	}
	if held {
		return nil
	}
	return s.removeIfEmpty(cu)
}
