package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

// RotateRootKey re-seals the key vault under a new root key. No record, data key or shard
// key changes; the old root key no longer opens the vault once this returns (a copy of the
// old vault file still opens with the old root key — keep that in mind for backups).
func (s *Store) RotateRootKey(ctx context.Context, newRoot crypto.KeyWrapper) error {
	if newRoot == nil {
		return fmt.Errorf("%w: a new root key is required", ErrInvalid)
	}
	s.vaultMu.Lock()
	cur := s.vault.Load()
	next := cur.Clone()
	next.Generation = cur.Generation + 1
	err := writeVault(ctx, s.fs, s.dir, next, newRoot)
	if err == nil {
		s.vault.Store(next)
		s.opts.RootKey = newRoot
	}
	s.vaultMu.Unlock()
	if err != nil {
		return err
	}
	if err := s.writeKeyRing(ctx); err != nil { // the key-ring is sealed under the root key too
		return err
	}
	return s.auditNow(true, audit.Entry{Kind: audit.KindKeys,
		Detail: fmt.Sprintf("root key rotated to %s; vault generation %d", crypto.Describe(newRoot), next.Generation)})
}

// VerifyErasure checks a receipt against this store: the signature verifies with the
// store's key, it names this store, the ledger holds its digest, and the store holds no
// data key for the pseudonym in any generation of its shard.
func (s *Store) VerifyErasure(ctx context.Context, rc *Receipt) error {
	if err := rc.Verify(s.PublicKey()); err != nil {
		return err
	}
	if rc.StoreID != s.StoreID() {
		return fmt.Errorf("contactstore: the receipt is of store %s, not of this store", rc.StoreID)
	}
	// Erase returns the receipt before its ledger entry and clean-up, which follow under the
	// gate: wait for them, so that a receipt verifies as soon as Erase has returned it.
	s.gate.RLock()
	defer s.gate.RUnlock()
	d, err := rc.Digest()
	if err != nil {
		return err
	}
	found := false
	s.ledger.mu.Lock()
	for _, e := range s.ledger.parsed.Entries {
		if e.Seq == rc.LedgerSeq && e.Customer == rc.Customer && e.Receipt == d {
			found = true
		}
	}
	s.ledger.mu.Unlock()
	if !found {
		return errors.New("contactstore: the erasure ledger has no entry with this receipt's digest")
	}
	raw, err := hex.DecodeString(rc.Customer)
	if err != nil || len(raw) != crypto.PseudonymSize {
		return errors.New("contactstore: the receipt's pseudonym is malformed")
	}
	var ps crypto.Pseudonym
	copy(ps[:], raw)
	// The shard may hold a key for the pseudonym again if the customer came back after the
	// erasure; such a key must be younger than the receipt.
	v := s.vault.Load()
	shard := crypto.ShardOf(ps, len(v.Shards))
	lo, hi := keys.DataKeyShard(shard)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return wrapErr("verify", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		_, gen, p, err := keys.ParseDataKey(it.Key())
		if err != nil || p != ps {
			continue
		}
		if gen != v.Shards[shard].Gen {
			return errors.New("contactstore: a data key of an old shard generation is still stored")
		}
		ck, err := crypto.UnwrapCustomerKey(&v.Shards[shard].Key, ps, shard, gen, it.Value())
		if err != nil {
			return fmt.Errorf("%w: a customer key does not open", ErrCorrupt)
		}
		created := ck.Created
		ck.DataKey.Wipe()
		if created < rc.Time.Unix() {
			return errors.New("contactstore: the store holds a data key for this pseudonym created before the erasure")
		}
	}
	return it.Error()
}
