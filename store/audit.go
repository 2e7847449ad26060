package store

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"iter"
	"sync"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

// AuditEntry is one entry of the audit log, as Audit returns it.
type AuditEntry = audit.Entry

// checkpointEvery is how many entries may follow a signed checkpoint before the next.
const checkpointEvery = 256

// auditor appends to the audit log kept in Pebble under 'A' keys. Appends are serialised:
// the caller holds mu from staging entries into a batch until the batch has committed.
type auditor struct {
	mu    sync.Mutex
	seq   uint64 // last committed entry
	head  string // its hash
	since int    // entries since the last checkpoint
}

func (s *Store) loadAudit() error {
	lo, hi := keys.Kind(keys.KindAudit)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return wrapErr("reading the audit log", err)
	}
	defer it.Close()
	a := &s.audit
	if it.Last() {
		e, err := audit.Decode(it.Value())
		if err != nil {
			return wrapErr("reading the audit log", err)
		}
		a.seq, a.head = e.Seq, e.Hash
	}
	return wrapErr("reading the audit log", it.Error())
}

// staged is what stageAudit computed; apply it after the batch commits.
type staged struct {
	seq   uint64
	head  string
	since int
}

// stageAudit adds entries (and a checkpoint when one is due) to b. The caller holds
// s.audit.mu and calls s.audit.apply(st) once b has committed.
func (s *Store) stageAudit(b *pebble.Batch, entries ...audit.Entry) (staged, error) {
	a := &s.audit
	st := staged{seq: a.seq, head: a.head, since: a.since}
	add := func(e audit.Entry) error {
		st.seq++
		e.Seq = st.seq
		enc, err := audit.Seal(&e, st.head)
		if err != nil {
			return err
		}
		st.head = e.Hash
		return b.Set(keys.Audit(e.Seq), enc, nil)
	}
	for _, e := range entries {
		if e.Time.IsZero() {
			e.Time = s.opts.Clock.Now()
		}
		if err := add(e); err != nil {
			return st, err
		}
		st.since++
	}
	if st.since >= checkpointEvery {
		// The signature covers the checkpoint's own sequence number, the one add gives it.
		if err := add(audit.Checkpoint(st.seq+1, s.opts.Clock.Now(), st.head, s.vault.Load().SigningKey())); err != nil {
			return st, err
		}
		st.since = 0
	}
	return st, nil
}

func (a *auditor) apply(st staged) {
	a.seq, a.head, a.since = st.seq, st.head, st.since
}

// auditNow appends entries in a batch of their own. Reads are audited without fsync (they
// become durable with the next synced write); everything else is synced.
func (s *Store) auditNow(sync bool, entries ...audit.Entry) error {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	st, err := s.stageAudit(b, entries...)
	if err != nil {
		return wrapErr("audit", err)
	}
	wo := pebble.NoSync
	if sync && !s.opts.NoSync {
		wo = pebble.Sync
	}
	if err := commitBatch(b, wo); err != nil {
		return wrapErr("audit", err)
	}
	s.audit.apply(st)
	return nil
}

func hexPS(p crypto.Pseudonym) string { return hex.EncodeToString(p[:]) }

// PublicKey returns the store's Ed25519 public key, which verifies erasure receipts and
// audit checkpoints.
func (s *Store) PublicKey() ed25519.PublicKey { return s.vault.Load().PublicKey() }

// Pseudonym returns the pseudonym (hex) under which the store knows a customer id: the name
// receipts and the audit log use.
func (s *Store) Pseudonym(customer string) string { return hexPS(s.pseudonym(customer)) }

// Audit returns the audit log in order, optionally only the entries that name one customer.
func (s *Store) Audit(ctx context.Context, customer string) iter.Seq2[AuditEntry, error] {
	want := ""
	if customer != "" {
		want = s.Pseudonym(customer)
	}
	return func(yield func(AuditEntry, error) bool) {
		lo, hi := keys.Kind(keys.KindAudit)
		for {
			it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
			if err != nil {
				yield(AuditEntry{}, wrapErr("audit", err))
				return
			}
			var chunk []audit.Entry
			var last []byte
			for ok := it.First(); ok && len(chunk) < readChunk; ok = it.Next() {
				e, err := audit.Decode(it.Value())
				if err != nil {
					it.Close()
					yield(AuditEntry{}, wrapErr("audit", err))
					return
				}
				chunk = append(chunk, *e)
				last = append(last[:0], it.Key()...)
			}
			if err := it.Close(); err != nil {
				yield(AuditEntry{}, wrapErr("audit", err))
				return
			}
			for _, e := range chunk {
				if err := ctx.Err(); err != nil {
					yield(AuditEntry{}, err)
					return
				}
				if want != "" && !mentions(e, want) {
					continue
				}
				if !yield(e, nil) {
					return
				}
			}
			if len(chunk) < readChunk {
				return
			}
			lo = append(last, 0)
		}
	}
}

func mentions(e audit.Entry, ps string) bool {
	for _, c := range e.Customers {
		if c == ps {
			return true
		}
	}
	return false
}

// AuditReport is the result of VerifyAudit.
type AuditReport struct {
	Entries        uint64 `json:"entries"`
	First          uint64 `json:"first"`
	Last           uint64 `json:"last"`
	LastCheckpoint uint64 `json:"last_checkpoint"`
	Unsigned       uint64 `json:"unsigned_tail"` // entries after the last checkpoint
}

// VerifyAudit walks the whole audit log: sequence, hash chain and checkpoint signatures. An
// entry changed, removed or reordered gives an error wrapping audit.ErrCorrupt.
func (s *Store) VerifyAudit(ctx context.Context) (AuditReport, error) {
	// The chain is verified from entry 1 and the zero hash: removing the oldest entries is
	// detected like any other removal. (An audit term that trims old entries will need a
	// signed anchor for the new start.)
	v := audit.NewVerifier(s.PublicKey(), 1, "")
	var rep AuditReport
	rep.First = 1
	for e, err := range s.Audit(ctx, "") {
		if err != nil {
			return rep, err
		}
		if err := v.Add(&e); err != nil {
			return rep, fmt.Errorf("contactstore: %w", err)
		}
		rep.Last = e.Seq
	}
	rep.Entries, rep.LastCheckpoint = v.Entries, v.LastCheckpoint
	if rep.Last > rep.LastCheckpoint {
		rep.Unsigned = rep.Last - rep.LastCheckpoint
	}
	return rep, nil
}
