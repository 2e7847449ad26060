package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

// Legal holds. A held customer's contacts neither expire nor can be erased: when one of
// their buckets expires, their records in it are resealed into the hold bucket first; an
// erasure requested meanwhile is recorded (sealed) and carried out when the hold is released.
// A hold lives under 'H' pseudonym: a state byte, then the hold — since when, why, and any
// deferred erasure — sealed under a key derived from the customer's data key.

// ErrHeld: the customer is under a legal hold. Erase returns a *HeldError wrapping it: the
// erasure request is recorded and will be carried out when the hold is released.
var ErrHeld = errors.New("contactstore: customer is under a legal hold")

// ErrNotHeld: Release or HoldStatus named a customer who is not under a legal hold.
var ErrNotHeld = errors.New("contactstore: customer is not under a legal hold")

// HeldError tells an erasure that it was deferred by a legal hold.
type HeldError struct {
	Since time.Time // when the hold was placed
}

func (e *HeldError) Error() string {
	return "contactstore: customer is under a legal hold since " + e.Since.UTC().Format(time.RFC3339) +
		"; the erasure request is recorded and will be carried out when the hold is released"
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// HoldInfo describes a legal hold.
type HoldInfo struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
	// ErasureRequested is when an erasure was requested during the hold (zero: none); it is
	// carried out when the hold is released.
	ErasureRequested time.Time `json:"erasure_requested,omitzero"`
}

const (
	holdActive    = 1
	holdReleased  = 2 // released; its deferred erasure has not completed yet
	holdReleasing = 3 // released; its contacts are not all back on their days yet
	holdPurpose   = "hold"
)

type holdRecord struct {
	Since         time.Time `json:"since"`
	Bucket        uint32    `json:"bucket"`
	Reason        string    `json:"reason"`
	Updated       time.Time `json:"updated"`
	EraseAt       time.Time `json:"erase_at,omitzero"`
	EraseReason   string    `json:"erase_reason,omitempty"`
	ErasePending  bool      `json:"erase_pending,omitempty"`
	ReleasedAt    time.Time `json:"released_at,omitzero"`
	ReleaseReason string    `json:"release_reason,omitempty"`
}

// holdSet is the set of customers under an active hold (pseudonyms only) with the instant
// each hold was placed, kept in memory. A hold keeps the contacts whose term had not ended
// when it was placed; it does not bring back contacts already past their term.
type holdSet struct {
	mu sync.RWMutex
	m  map[crypto.Pseudonym]holdEntry
}

// holdEntry is what the store keeps in memory of a hold: when it was placed and its bucket.
type holdEntry struct {
	since  time.Time
	bucket uint32
}

func (h *holdSet) has(ps crypto.Pseudonym) bool {
	_, ok := h.get(ps)
	return ok
}

// get returns a customer's hold (false: not held).
func (h *holdSet) get(ps crypto.Pseudonym) (holdEntry, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	e, ok := h.m[ps]
	return e, ok
}

func (h *holdSet) set(ps crypto.Pseudonym, e holdEntry, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[crypto.Pseudonym]holdEntry{}
	}
	if on {
		h.m[ps] = e
	} else {
		delete(h.m, ps)
	}
}

// buckets returns the buckets of the active holds.
func (h *holdSet) buckets() map[uint32]bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[uint32]bool, len(h.m))
	for _, e := range h.m {
		out[e.bucket] = true
	}
	return out
}

// keeps reports whether a hold placed at since keeps a contact whose term ends at exp.
func keeps(since time.Time, held bool, exp time.Time) bool {
	return held && exp.After(since)
}

func (h *holdSet) list() []crypto.Pseudonym {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]crypto.Pseudonym, 0, len(h.m))
	for ps := range h.m {
		out = append(out, ps)
	}
	return out
}

func (h *holdSet) len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.m)
}

// loadHolds reads which customers are held, which releases a crash interrupted, and which
// released holds still owe an erasure.
func (s *Store) loadHolds() (pending []crypto.Pseudonym, err error) {
	lo, hi := keys.Kind(keys.KindHold)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, wrapErr("reading legal holds", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 1+keys.PseudonymSize || len(v) < holdHeader {
			return nil, fmt.Errorf("%w: a legal hold entry is malformed", ErrCorrupt)
		}
		var ps crypto.Pseudonym
		copy(ps[:], k[1:])
		switch v[0] {
		case holdActive:
			s.holds.set(ps, holdEntryOf(v), true)
		case holdReleased:
			pending = append(pending, ps)
		case holdReleasing:
			pending = append(pending, ps)
			s.releasing = append(s.releasing, holdEntryOf(v).bucket)
		default:
			return nil, fmt.Errorf("%w: a legal hold entry has unknown state %d", ErrCorrupt, v[0])
		}
	}
	return pending, wrapErr("reading legal holds", it.Error())
}

// verifyHolds opens every active hold: the state and date that loadHolds read in the clear
// are bound into the sealed part, so a hold changed outside the store is refused here.
func (s *Store) verifyHolds() error {
	for _, ps := range s.holds.list() {
		cu, err := s.lookupByPS(ps)
		if errors.Is(err, errNoCustomer) {
			continue // removed with an older vault; nothing is kept for it
		}
		if err != nil {
			return err
		}
		state, h, err := s.readHold(cu)
		if err != nil {
			return err
		}
		if e, _ := s.holds.get(ps); state != holdActive || !h.Since.Equal(e.since) || h.Bucket != e.bucket {
			return fmt.Errorf("%w: a legal hold's readable header does not match its sealed content", ErrCorrupt)
		}
		if bucketGone(s.vault.Load(), h.Bucket) {
			// Pebble's files are older than the vault: this hold was released since, and its
			// bucket's key destroyed. It still holds here; give it a new bucket.
			if err := s.newHoldBucket(h); err != nil {
				return err
			}
			b := s.db.NewBatch()
			err := s.stageHold(b, cu, holdActive, h)
			if err == nil {
				err = commitBatch(b, pebble.Sync)
			}
			b.Close()
			if err != nil {
				return wrapErr("renewing a legal hold's bucket", err)
			}
			s.holds.set(ps, holdEntry{h.Since, h.Bucket}, true)
		}
	}
	return s.dropStaleHoldKeys()
}

// dropStaleHoldKeys destroys hold bucket keys that no active hold names: left by a crash
// between a hold's release (or placement) and the vault write that follows it.
func (s *Store) dropStaleHoldKeys() error {
	live := s.holds.buckets()
	for _, b := range s.releasing {
		live[b] = true // its contacts move back when the release is finished
	}
	var stale []uint32
	for b := range s.vault.Load().Buckets {
		if keys.IsHold(b) && !live[b] {
			stale = append(stale, b)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	return s.destroyBuckets(stale, 0)
}

// destroyBuckets removes bucket keys from the vault in one write, and raises its
// ExpiredThrough mark to through (0: leaves it).
func (s *Store) destroyBuckets(ids []uint32, through uint32) error {
	err := s.updateVault(bg, func(v *crypto.Vault) error {
		for _, b := range ids {
			if k, ok := v.Buckets[b]; ok {
				k.Wipe()
				delete(v.Buckets, b)
			}
		}
		v.ExpiredThrough = max(v.ExpiredThrough, through)
		return nil
	})
	if err != nil {
		return wrapErr("destroying bucket keys", err)
	}
	set := map[uint32]bool{}
	for _, b := range ids {
		set[b] = true
	}
	s.records.forgetBuckets(set)
	// The committer's memory of written index entries may name these buckets; a bucket id
	// is never keyed again, but forgetting is cheap and keeps the rule simple. Every caller
	// holds the gate exclusively (or runs in Open before the committer starts), so the
	// committer is idle.
	s.idxSeen = indexSeen{}
	return nil
}

// newHoldBucket gives a hold a bucket of its own, with a fresh key (one vault write).
func (s *Store) newHoldBucket(h *holdRecord) error {
	err := s.updateVault(bg, func(v *crypto.Vault) error {
		for {
			r, err := crypto.NewKey()
			if err != nil {
				return err
			}
			id := keys.HoldBase + beU32(r[:4])%(keys.NoExpiry-keys.HoldBase)
			if _, used := v.Buckets[id]; used {
				continue
			}
			k, err := crypto.NewKey()
			if err != nil {
				return err
			}
			v.Buckets[id] = k
			h.Bucket = id
			return nil
		}
	})
	return wrapErr("making a legal hold's key", err)
}

// readHold reads and opens a customer's hold (state 0: none).
func (s *Store) readHold(cu *customer) (byte, *holdRecord, error) {
	k := keys.Hold(cu.ps)
	val, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, wrapErr("reading a legal hold", err)
	}
	defer closer.Close()
	if len(val) < holdHeader {
		return 0, nil, fmt.Errorf("%w: a legal hold entry is malformed", ErrCorrupt)
	}
	pt, err := crypto.OpenCustomerData(&cu.key.DataKey, holdPurpose, val[holdHeader:], append(k, val[:holdHeader]...))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: a legal hold failed authentication", ErrCorrupt)
	}
	defer clear(pt)
	var h holdRecord
	if err := json.Unmarshal(pt, &h); err != nil {
		return 0, nil, fmt.Errorf("%w: a legal hold does not decode", ErrCorrupt)
	}
	return val[0], &h, nil
}

func (s *Store) stageHold(b *pebble.Batch, cu *customer, state byte, h *holdRecord) error {
	pt, err := json.Marshal(h)
	if err != nil {
		return err
	}
	defer clear(pt)
	k := keys.Hold(cu.ps)
	hdr := append([]byte{state}, u64(uint64(h.Since.UnixMicro()))...)
	hdr = append(hdr, u32(h.Bucket)...)
	sealed, err := crypto.SealCustomerData(&cu.key.DataKey, holdPurpose, pt, append(k, hdr...))
	if err != nil {
		return err
	}
	return b.Set(k, append(hdr, sealed...), nil)
}

// holdHeader is the readable head of a hold entry: state, since (µs since 1970) and the
// hold's bucket, which Open needs without opening every held customer's key. They are bound
// into the sealed part as associated data.
const holdHeader = 1 + 8 + 4

func holdEntryOf(v []byte) holdEntry {
	return holdEntry{since: time.UnixMicro(int64(beU64(v[1:9]))).UTC(), bucket: beU32(v[9:13])}
}

// commitWithAudit commits b with audit entries, synced.
func (s *Store) commitWithAudit(b *pebble.Batch, entries ...audit.Entry) error {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	st, err := s.stageAudit(b, entries...)
	if err != nil {
		return err
	}
	if err := commitBatch(b, pebble.Sync); err != nil {
		return err
	}
	s.audit.apply(st)
	return nil
}

// lockedCustomer takes the gate exclusively and resolves a stored customer; the caller
// unlocks the gate.
func (s *Store) lockedCustomer(op, customer string) (*customer, error) {
	s.gate.Lock()
	if customer == "" {
		return nil, fmt.Errorf("%w: %s: customer is required", ErrInvalid, op)
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	cu, err := s.lookupCustomer(customer, false)
	if err == nil && !cu.persisted.Load() {
		err = errNoCustomer
	}
	if errors.Is(err, errNoCustomer) {
		err = s.notFound(customer)
	}
	return cu, err
}

// Hold places a customer under a legal hold: from now on their contacts do not expire and
// cannot be erased (an erasure request is recorded and carried out on release). The reason
// (a matter number, not personal data, at most 512 bytes) is sealed; the audit log records
// the hold with the customer's pseudonym and the reason's SHA-256. Holding a customer who is
// held already replaces the reason and keeps the original date.
func (s *Store) Hold(ctx context.Context, customer, reason string) error {
	if reason == "" {
		return fmt.Errorf("%w: hold: a reason is required", ErrInvalid)
	}
	if len(reason) > maxReason {
		return fmt.Errorf("%w: hold: reason longer than %d bytes", ErrInvalid, maxReason)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cu, err := s.lockedCustomer("hold", customer)
	defer s.gate.Unlock()
	if err != nil {
		return err
	}
	now := s.opts.Clock.Now().UTC()
	state, h, err := s.readHold(cu)
	if err != nil {
		return err
	}
	if h == nil {
		h = &holdRecord{Since: now.Truncate(time.Microsecond)}
	}
	if state == holdReleased {
		// Held again before a deferred erasure ran: the request waits for this hold too.
		h.Since, h.ReleasedAt, h.ReleaseReason = now.Truncate(time.Microsecond), time.Time{}, ""
	}
	if state != holdActive {
		// The key first: a crash before the hold commits leaves a key no hold names, which
		// the next Open destroys.
		if err := s.newHoldBucket(h); err != nil {
			return err
		}
	}
	h.Reason, h.Updated = reason, now
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.stageHold(b, cu, holdActive, h); err != nil {
		return err
	}
	detail := "reason sha256:" + crypto.ReasonDigest(reason)
	if state == holdActive {
		detail = "reason replaced; " + detail
	}
	if err := s.commitWithAudit(b, audit.Entry{Kind: audit.KindHold, Customers: []string{hexPS(cu.ps)}, Detail: detail}); err != nil {
		return wrapErr("placing a legal hold", err)
	}
	s.holds.set(cu.ps, holdEntry{h.Since, h.Bucket}, true)
	return nil
}

// HoldStatus returns a customer's legal hold, or ErrNotHeld.
func (s *Store) HoldStatus(customer string) (*HoldInfo, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	cu, err := s.lookupCustomer(customer, false)
	if errors.Is(err, errNoCustomer) {
		return nil, s.notFound(customer)
	}
	if err != nil {
		return nil, err
	}
	state, h, err := s.readHold(cu)
	if err != nil {
		return nil, err
	}
	if state != holdActive {
		return nil, ErrNotHeld
	}
	return &HoldInfo{Since: h.Since, Reason: h.Reason, ErasureRequested: h.EraseAt}, nil
}

// ReleaseResult tells what releasing a hold did.
type ReleaseResult struct {
	// Resealed counts held contacts moved back to their expiry buckets; Expired counts those
	// past their term, deleted on release.
	Resealed int64 `json:"resealed"`
	Expired  int64 `json:"expired"`
	// Receipt is the receipt of the erasure that was requested during the hold and has now
	// been carried out (nil when none was requested).
	Receipt *Receipt `json:"receipt,omitempty"`
}

// Release lifts a customer's legal hold. Contacts that the hold kept past their term are
// deleted; the others go back to their expiry buckets. An erasure requested during the hold
// is carried out now and its receipt returned (if the store stops first, the next Open
// carries it out).
func (s *Store) Release(ctx context.Context, customer string) (ReleaseResult, error) {
	var res ReleaseResult
	if err := ctx.Err(); err != nil {
		return res, err
	}
	cu, err := s.lockedCustomer("release", customer)
	if err != nil {
		s.gate.Unlock()
		return res, err
	}
	state, h, err := s.readHold(cu)
	if err == nil && state != holdActive {
		err = ErrNotHeld
	}
	if err == nil {
		// First the decision, durably: from here the hold keeps nothing, and if the store
		// stops before the release is finished, Open finishes it.
		b := s.db.NewBatch()
		if err = s.stageHold(b, cu, holdReleasing, h); err == nil {
			err = wrapErr("releasing a legal hold", commitBatch(b, pebble.Sync))
		}
		b.Close()
	}
	if err != nil {
		s.gate.Unlock()
		return res, err
	}
	s.holds.set(cu.ps, holdEntry{}, false)
	res, err = s.finishRelease(cu, h)
	s.gate.Unlock()
	if err != nil || h.EraseAt.IsZero() {
		return res, err
	}
	rc, err := s.Erase(ctx, customer, h.EraseReason)
	res.Receipt = rc
	return res, err
}

// finishRelease moves a released hold's contacts back to their days (deleting those past
// their term), closes the hold — or leaves it as a pending erasure — and destroys the hold's
// key. Every step can be repeated: Open calls it for a release a crash interrupted. The gate
// is held exclusively.
func (s *Store) finishRelease(cu *customer, h *holdRecord) (ReleaseResult, error) {
	var res ReleaseResult
	erase := !h.EraseAt.IsZero()
	now := s.opts.Clock.Now().UTC()
	pol := s.policy.cur.Load()
	var err error
	res.Resealed, res.Expired, err = s.relocate(cu, h.Bucket, func(c *Contact) (uint32, bool) {
		return placement(pol, s.vault.Load(), c, now, holdEntry{}, false)
	})
	if err != nil {
		return res, wrapErr("releasing a legal hold", err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if erase {
		h.ReleasedAt, h.ErasePending = now, true
		if err := s.stageHold(b, cu, holdReleased, h); err != nil {
			return res, err
		}
	} else {
		_ = b.Delete(keys.Hold(cu.ps), nil)
	}
	detail := fmt.Sprintf("%d contact(s) back to their expiry buckets, %d past their term deleted", res.Resealed, res.Expired)
	if erase {
		detail += "; the erasure requested during the hold follows"
	}
	if err := s.commitWithAudit(b, audit.Entry{Kind: audit.KindRelease, Customers: []string{hexPS(cu.ps)}, Count: res.Resealed + res.Expired, Detail: detail}); err != nil {
		return res, wrapErr("releasing a legal hold", err)
	}
	// The hold's key goes: copies of the held records in old files are noise from here.
	if err := s.destroyBuckets([]uint32{h.Bucket}, 0); err != nil {
		return res, err
	}
	lo, hi := keys.BucketRange(h.Bucket)
	s.scheduleHygiene([]keyRange{{lo, hi}})
	if !erase {
		return res, s.removeIfEmpty(cu)
	}
	return res, nil
}

// removeIfEmpty removes a customer left with no records (not held). Gate held exclusively.
func (s *Store) removeIfEmpty(cu *customer) error {
	empty, err := s.customerEmpty(cu.key.Prefix)
	if err != nil || !empty || s.holds.has(cu.ps) {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	var touched []keyRange
	if err := s.removeCustomer(b, cu.shard, cu.gen, cu.ps, cu.key.Prefix, &touched); err != nil {
		return err
	}
	if err := commitBatch(b, pebble.Sync); err != nil {
		return wrapErr("removing a customer with no contacts left", err)
	}
	s.customers.remove(cu.ps)
	s.records.forget(cu.key.Prefix)
	s.scheduleHygiene(touched)
	return nil
}

// deferErasure records an erasure requested during a hold (the eraser holds the gate).
func (s *Store) deferErasure(cu *customer, reason string) error {
	state, h, err := s.readHold(cu)
	if err != nil {
		return err
	}
	if state != holdActive {
		return nil // released meanwhile: erase
	}
	now := s.opts.Clock.Now().UTC()
	if h.EraseAt.IsZero() {
		h.EraseAt = now
	}
	h.EraseReason = reason
	b := s.db.NewBatch()
	defer b.Close()
	if err := s.stageHold(b, cu, holdActive, h); err != nil {
		return err
	}
	if err := s.commitWithAudit(b, audit.Entry{Kind: audit.KindErasePend, Customers: []string{hexPS(cu.ps)},
		Detail: "erasure requested during a legal hold; carried out on release; reason sha256:" + crypto.ReasonDigest(reason)}); err != nil {
		return wrapErr("recording an erasure request", err)
	}
	return &HeldError{Since: h.Since}
}

// finishReleasedErasures carries out erasures whose hold was released before a crash.
func (s *Store) finishReleasedErasures(ctx context.Context, pending []crypto.Pseudonym) error {
	for _, ps := range pending {
		cu, err := s.lookupByPS(ps)
		if errors.Is(err, errNoCustomer) {
			b := s.db.NewBatch()
			_ = b.Delete(keys.Hold(ps), nil)
			err = commitBatch(b, pebble.Sync)
			b.Close()
			if err != nil {
				return wrapErr("clearing a released hold", err)
			}
			continue
		}
		if err != nil {
			return err
		}
		state, h, err := s.readHold(cu)
		if err != nil {
			return err
		}
		if h == nil {
			continue
		}
		if state == holdReleasing {
			s.log.Info("finishing a legal hold's release interrupted by a crash")
			s.gate.Lock()
			_, err := s.finishRelease(cu, h)
			s.gate.Unlock()
			if err != nil {
				return err
			}
			if h.EraseAt.IsZero() {
				continue
			}
		}
		s.log.Info("carrying out an erasure deferred by a released legal hold")
		if _, err := s.Erase(ctx, cu.key.Customer, h.EraseReason); err != nil {
			return err
		}
	}
	return nil
}
