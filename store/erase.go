package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"
	"contactstore/internal/ledger"

	"github.com/cockroachdb/pebble/v2"
)

// ErrErased is returned for a customer who was erased. The error says when.
var ErrErased = errors.New("contactstore: customer was erased")

// ErasedError tells when a customer was erased.
type ErasedError struct{ At time.Time }

func (e *ErasedError) Error() string {
	return "contactstore: customer was erased at " + e.At.UTC().Format(time.RFC3339)
}
func (e *ErasedError) Is(target error) bool { return target == ErrErased }

// Receipt is a signed proof of erasure.
type Receipt = crypto.Receipt

type eraseReq struct {
	customer string
	reason   string
	done     chan eraseRes
}

type eraseRes struct {
	receipt *Receipt
	err     error
}

// maxReason bounds an erasure reason. Only its SHA-256 is kept (in the receipt); the
// reason should say why ("Art. 17 request 2026-114"), not who.
const maxReason = 512

// Erase destroys a customer's data for good and returns a signed receipt.
//
// The customer's shard gets a new key under which the shard's other data keys are
// rewrapped; the key vault is replaced without the old shard key; only then is the erasure
// acknowledged. From that moment every copy of the customer's data key — in Pebble's WAL,
// tables or MANIFEST, live or copied elsewhere — is wrapped under a key that exists nowhere,
// so the customer's records are noise. Their records and locators are then deleted and the
// touched ranges compacted in the background (hygiene, not the guarantee).
//
// Concurrent erasures are batched into one vault replacement. An unknown customer gives
// ErrNotFound; one erased before gives an error wrapping ErrErased.
func (s *Store) Erase(ctx context.Context, customer, reason string) (*Receipt, error) {
	if customer == "" {
		return nil, fmt.Errorf("%w: erase: customer is required", ErrInvalid)
	}
	if len(reason) > maxReason {
		return nil, fmt.Errorf("%w: erase: reason longer than %d bytes", ErrInvalid, maxReason)
	}
	req := &eraseReq{customer: customer, reason: reason, done: make(chan eraseRes, 1)}
	for {
		// The gate, held shared, keeps Close from closing the channel under the send. Never
		// wait for room in the queue while holding it: the eraser needs the gate exclusively
		// before it takes the next requests, so a full queue would deadlock.
		s.gate.RLock()
		if s.closed.Load() {
			s.gate.RUnlock()
			return nil, ErrClosed
		}
		sent := false
		select {
		case s.erasures <- req:
			sent = true
		default:
		}
		s.gate.RUnlock()
		if sent {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	select {
	case r := <-req.done:
		return r.receipt, r.err
	case <-ctx.Done():
		// The erasure may still complete; its receipt is kept and a later Erase of the same
		// customer reports it.
		return nil, ctx.Err()
	}
}

func (s *Store) eraser() {
	defer s.wg.Done()
	for req := range s.erasures {
		group := []*eraseReq{req}
	drain:
		for len(group) < 256 {
			select {
			case r, ok := <-s.erasures:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		s.eraseGroup(group)
	}
}

// victim is one customer being erased.
type victim struct {
	reqs    []*eraseReq
	cu      *customer
	records int64
	receipt *Receipt
}

// erasureMarker is kept in Pebble between the first batch of an erasure and its clean-up,
// so that Open can finish or undo an erasure a crash interrupted. It holds no prefix and no
// customer id: only the ledger intent, the shard generations and the signed receipts.
type erasureMarker struct {
	Intent   uint64            `json:"intent"`
	Shards   []ledger.ShardGen `json:"shards"` // new generations
	Old      []ledger.ShardGen `json:"old"`    // generations being replaced
	Receipts []*crypto.Receipt `json:"receipts"`
	Vault    uint64            `json:"vault"` // vault generation the erasure creates
}

var markerKey = keys.Meta("erasing")

func (s *Store) eraseGroup(group []*eraseReq) {
	fail := func(reqs []*eraseReq, err error) {
		for _, r := range reqs {
			r.done <- eraseRes{err: err}
		}
	}
	s.gate.Lock()
	defer s.gate.Unlock()

	// Resolve every customer; answer the unknown and the already erased at once.
	byPS := map[crypto.Pseudonym]*victim{}
	var order []*victim
	for _, r := range group {
		ps := s.pseudonym(r.customer)
		if v := byPS[ps]; v != nil {
			v.reqs = append(v.reqs, r)
			continue
		}
		cu, err := s.lookupCustomer(r.customer, false)
		if err == nil && !cu.persisted.Load() {
			// Created by a Put that never committed: nothing of it is durable.
			s.customers.remove(ps)
			err = errNoCustomer
		}
		if errors.Is(err, errNoCustomer) {
			err = s.notFound(r.customer)
		}
		if err == nil && s.holds.has(ps) {
			// A legal hold defers the erasure: record the request, carry it out on release.
			err = s.deferErasure(cu, r.reason)
		}
		if err != nil {
			r.done <- eraseRes{err: err}
			continue
		}
		v := &victim{reqs: []*eraseReq{r}, cu: cu}
		byPS[ps] = v
		order = append(order, v)
	}
	if len(order) == 0 {
		return
	}
	all := func() []*eraseReq {
		var out []*eraseReq
		for _, v := range order {
			out = append(out, v.reqs...)
		}
		return out
	}
	if s.eraseBroken != nil {
		fail(all(), s.eraseBroken)
		return
	}
	receipts, finish, err := s.erase(order)
	if err != nil {
		fail(all(), err)
		return
	}
	for i, v := range order {
		for _, r := range v.reqs {
			r.done <- eraseRes{receipt: receipts[i]}
		}
	}
	if err := finish(); err != nil {
		s.log.Error("finishing an erasure failed; the next open completes it", "err", err.Error())
		s.eraseBroken = fmt.Errorf("contactstore: an earlier erasure could not be finished (%v); close and reopen the store", err)
	}
}

// erase carries out the erasure of victims (the gate is held exclusively).
func (s *Store) erase(victims []*victim) ([]*Receipt, func() error, error) {
	ctx := context.Background()
	now := s.opts.Clock.Now().UTC()
	cur := s.vault.Load()

	// New keys for every shard touched.
	type rot struct {
		shard    uint32
		old, new crypto.Shard
	}
	rots := map[uint32]*rot{}
	var shardList []uint32
	for _, v := range victims {
		if rots[v.cu.shard] == nil {
			k, err := crypto.NewKey()
			if err != nil {
				return nil, nil, err
			}
			old := cur.Shards[v.cu.shard]
			rots[v.cu.shard] = &rot{shard: v.cu.shard, old: old, new: crypto.Shard{Gen: old.Gen + 1, Key: k}}
			shardList = append(shardList, v.cu.shard)
		}
	}
	slices.Sort(shardList)
	erasedPS := map[crypto.Pseudonym]bool{}
	for _, v := range victims {
		erasedPS[v.cu.ps] = true
		n, err := s.counter(customerCountKey(v.cu.key.Prefix))
		if err != nil {
			return nil, nil, err
		}
		if len(n) > 0 {
			v.records = n[0]
		}
	}

	// 1. Ledger intent (pseudonyms and target generations), fsynced.
	intent := &ledger.Entry{Time: now, Kind: ledger.KindIntent}
	marker := erasureMarker{Vault: cur.Generation + 1}
	for _, v := range victims {
		intent.Customers = append(intent.Customers, hexPS(v.cu.ps))
	}
	for _, sh := range shardList {
		r := rots[sh]
		intent.Shards = append(intent.Shards, ledger.ShardGen{Shard: sh, Gen: r.new.Gen})
		marker.Old = append(marker.Old, ledger.ShardGen{Shard: sh, Gen: r.old.Gen})
	}
	marker.Shards = intent.Shards
	// The intent is sealed now (its sequence number and hash go into the marker and the
	// receipts) and written — fsynced — concurrently with the first Pebble batch; both are
	// durable before the vault changes.
	prepared, err := s.ledger.prepare(intent)
	if err != nil {
		return nil, nil, err
	}
	marker.Intent = intent.Seq
	intentDone := make(chan error, 1)
	intentStarted := false
	startIntent := func() {
		if !intentStarted {
			intentStarted = true
			go func() { intentDone <- s.ledger.write(prepared) }()
		}
	}
	// abort closes the intent if it was written; an unwritten intent needs nothing.
	abort := func(cause error) error {
		if !intentStarted {
			return cause
		}
		if err := <-intentDone; err != nil {
			return errors.Join(cause, err)
		}
		return s.abortErasure(intent.Seq, cause)
	}

	// 2. Rewrap the shards' other data keys under the new keys, stage the audit entry and the
	// marker with the signed receipts; one synced batch.
	b := s.db.NewBatch()
	defer b.Close()
	rewrapped := 0
	for _, sh := range shardList {
		r := rots[sh]
		lo, hi := keys.DataKeyGen(sh, r.old.Gen)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return nil, nil, abort(wrapErr("erase", err))
		}
		for it.First(); it.Valid(); it.Next() {
			_, _, ps, err := keys.ParseDataKey(it.Key())
			if err != nil {
				continue
			}
			if erasedPS[ps] {
				continue
			}
			ck, err := crypto.UnwrapCustomerKey(&r.old.Key, ps, sh, r.old.Gen, it.Value())
			if err != nil {
				it.Close()
				return nil, nil, abort(fmt.Errorf("%w: a customer key in shard %d does not open", ErrCorrupt, sh))
			}
			w, err := crypto.WrapCustomerKey(&r.new.Key, ps, sh, r.new.Gen, ck)
			ck.DataKey.Wipe()
			if err != nil {
				it.Close()
				return nil, nil, abort(err)
			}
			_ = b.Set(keys.DataKey(sh, r.new.Gen, ps), w, nil)
			rewrapped++
		}
		if err := it.Close(); err != nil {
			return nil, nil, abort(wrapErr("erase", err))
		}
	}
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	ledgerNext := intent.Seq + 1 // the erased entries follow the intent
	priv := cur.SigningKey()
	var customers []string
	var total int64
	for i, v := range victims {
		rc := &crypto.Receipt{
			Version:      1,
			StoreID:      cur.StoreIDString(),
			Customer:     hexPS(v.cu.ps),
			Time:         now,
			ReasonSHA256: crypto.ReasonDigest(v.reqs[0].reason),
			Destroyed: crypto.Destroyed{
				Records: v.records, IndexEntries: v.records, DataKeys: 1,
				Shard: v.cu.shard, ShardGenFrom: rots[v.cu.shard].old.Gen, ShardGenTo: rots[v.cu.shard].new.Gen,
			},
			VaultBefore: cur.Generation,
			VaultAfter:  cur.Generation + 1,
			LedgerSeq:   ledgerNext + uint64(i),
			LedgerHash:  intent.Hash,
			AuditSeq:    s.audit.seq + 1,
		}
		if err := rc.Sign(priv); err != nil {
			return nil, nil, abort(err)
		}
		v.receipt = rc
		marker.Receipts = append(marker.Receipts, rc)
		customers = append(customers, rc.Customer)
		total += v.records
	}
	st, err := s.stageAudit(b, audit.Entry{Time: now, Kind: audit.KindErase, Customers: customers, Count: total,
		Detail: fmt.Sprintf("ledger intent %d; %d shard(s) rotated; %d data keys rewrapped", intent.Seq, len(shardList), rewrapped)})
	if err != nil {
		return nil, nil, abort(err)
	}
	mj, err := json.Marshal(&marker)
	if err != nil {
		return nil, nil, abort(err)
	}
	_ = b.Set(markerKey, mj, nil)
	startIntent()
	if err := commitBatch(b, pebble.Sync); err != nil {
		return nil, nil, abort(wrapErr("erase: writing the rewrapped keys", err))
	}
	s.audit.apply(st)
	if err := <-intentDone; err != nil {
		// The rewrapped keys are durable but the intent is not: undo them (the vault has not
		// changed) and report. There is no intent to close.
		return nil, nil, s.undoErasure(&marker, false, err)
	}

	// 3. The new vault: from here on the old shard keys are gone and the erasure holds.
	err = s.updateVault(ctx, func(v *crypto.Vault) error {
		for _, sh := range shardList {
			v.Shards[sh] = rots[sh].new
		}
		return nil
	})
	if err != nil && !s.vaultLanded(marker.Vault) {
		return nil, nil, s.undoErasure(&marker, true, err)
	}
	if err != nil {
		// The new vault is in place but its rename may not be durable (the directory sync
		// failed). Only a durable vault makes the erasure hold; until then nothing may be
		// cleaned up, or a crash could bring back the old vault with keys deleted. Try the
		// sync once more; if it still fails, leave everything to the next Open.
		if serr := syncDir(s.fs, s.dir); serr != nil {
			s.eraseBroken = fmt.Errorf("contactstore: the key vault's directory could not be synced (%v); close and reopen the store", serr)
			return nil, nil, wrapErr("erase: the new key vault is not durable yet", errors.Join(err, serr))
		}
	}

	// The erasure holds: acknowledge. 4. The ledger's "erased" entries and the clean-up
	// follow before the next erasure starts; a failure there is finished by the next Open
	// (the marker stays until the clean-up has committed).
	s.forget(victims, shardList)
	for _, v := range victims {
		s.ledger.markErased(v.receipt.Customer, now)
	}
	out := make([]*Receipt, len(victims))
	for i, v := range victims {
		out[i] = v.receipt
	}
	finish := func() error { return s.completeErasure(&marker, victims) }
	return out, finish, nil
}

// vaultLanded reports whether the vault file on disk has generation gen (a failed
// replacement may have landed nonetheless, for example when only the directory sync failed).
func (s *Store) vaultLanded(gen uint64) bool {
	data, err := readFile(s.fs, s.fs.PathJoin(s.dir, VaultFile))
	if err != nil {
		return false
	}
	h, err := crypto.ReadVaultHeader(data)
	return err == nil && h.Generation == gen
}

// abortErasure closes a ledger intent whose erasure changed nothing durable yet.
func (s *Store) abortErasure(intent uint64, cause error) error {
	if err := s.ledger.append(&ledger.Entry{Time: s.opts.Clock.Now(), Kind: ledger.KindAborted, Intent: intent}); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// undoErasure removes the rewrapped keys and the marker of an erasure whose vault
// replacement did not happen, and closes the intent.
func (s *Store) undoErasure(m *erasureMarker, intentWritten bool, cause error) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, sg := range m.Shards {
		lo, hi := keys.DataKeyGen(sg.Shard, sg.Gen)
		_ = b.DeleteRange(lo, hi, nil)
	}
	_ = b.Delete(markerKey, nil)
	if err := commitBatch(b, pebble.Sync); err != nil {
		return errors.Join(cause, wrapErr("undoing an erasure", err))
	}
	if !intentWritten {
		return cause
	}
	return s.abortErasure(m.Intent, cause)
}

// forget drops erased customers and every cached key of the rotated shards.
func (s *Store) forget(victims []*victim, shards []uint32) {
	for _, v := range victims {
		s.customers.remove(v.cu.ps)
		s.records.forget(v.cu.key.Prefix)
		// The key is not wiped here: a read that began before the erasure may still hold
		// this customer and derive record keys from it; wiping it under that read made the
		// read fail as corrupt. Nothing reaches it once the read ends.
	}
	rotated := map[uint32]bool{}
	for _, sh := range shards {
		rotated[sh] = true
	}
	s.customers.dropShards(rotated)
}

// completeErasure appends the ledger's "erased" entries that are missing, stores the
// receipts, deletes the old shard generations and the erased customers' data, and removes
// the marker. victims may be nil (recovery): the erased customers' data is then found as
// orphans.
func (s *Store) completeErasure(m *erasureMarker, victims []*victim) error {
	var entries []*ledger.Entry
	s.ledger.mu.Lock()
	have := map[string]bool{}
	for _, e := range s.ledger.parsed.Entries {
		if e.Kind == ledger.KindErased && e.Intent == m.Intent {
			have[e.Customer] = true
		}
	}
	s.ledger.mu.Unlock()
	for _, rc := range m.Receipts {
		if have[rc.Customer] {
			continue
		}
		d, err := rc.Digest()
		if err != nil {
			return err
		}
		entries = append(entries, &ledger.Entry{Time: rc.Time, Kind: ledger.KindErased, Customer: rc.Customer, Intent: m.Intent, Receipt: d})
	}
	if len(entries) > 0 {
		if err := s.ledger.append(entries...); err != nil {
			return err
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	var touched []keyRange
	for _, sg := range m.Old {
		lo, hi := keys.DataKeyGen(sg.Shard, sg.Gen)
		_ = b.DeleteRange(lo, hi, nil)
		touched = append(touched, keyRange{lo, hi})
	}
	for _, rc := range m.Receipts {
		enc, err := json.Marshal(rc)
		if err != nil {
			return err
		}
		ps, err := parsePS(rc.Customer)
		if err != nil {
			return err
		}
		_ = b.Set(keys.Receipt(ps), enc, nil)
		_ = b.Delete(keys.Hold(ps), nil) // a released hold whose deferred erasure this is
		deletePseudonymData(b, ps)
	}
	var prefixes [][keys.PrefixSize]byte
	if victims != nil {
		for _, v := range victims {
			prefixes = append(prefixes, v.cu.key.Prefix)
		}
	} else {
		var err error
		if prefixes, err = s.orphanPrefixes(); err != nil {
			return err
		}
	}
	var removed int64
	for _, p := range prefixes {
		n, err := s.deleteCustomerData(b, p, &touched)
		if err != nil {
			return err
		}
		removed += n
	}
	ctr := newCounterSet()
	ctr.addTotals(-removed, -int64(len(m.Receipts)))
	if err := ctr.apply(b); err != nil {
		return err
	}
	_ = b.Delete(markerKey, nil)
	_ = b.Set(shardGensKey, u64(shardGenSum(s.vault.Load())), nil)
	if err := commitBatch(b, pebble.Sync); err != nil {
		return wrapErr("erase: clean-up (finished at the next open)", err)
	}
	s.scheduleHygiene(touched)
	return nil
}

// deleteCustomerData stages the deletion of everything filed under a record prefix:
// records in every bucket, locators, bucket memberships and the per-customer counter, and
// lowers the bucket counters by the customer's records in them. It returns how many records
// the customer counter said there were; the caller lowers the totals.
func (s *Store) deleteCustomerData(b *pebble.Batch, p [keys.PrefixSize]byte, touched *[]keyRange) (int64, error) {
	if err := s.deleteIndex(b, p, touched); err != nil {
		return 0, err
	}
	v := s.vault.Load()
	lo, hi := keys.CustomerRange(keys.KindBucket, p)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != len(lo)+4 {
			continue
		}
		bucket := binary.BigEndian.Uint32(k[len(lo):])
		// The bucket's counter loses the customer's records in it (expiry subtracts what a
		// bucket's counter says from the totals).
		if val, err := it.ValueAndErr(); err == nil {
			if c, err := decodeCounters(val); err == nil && len(c) > 0 && c[0] > 0 {
				_ = b.Merge(bucketCountKey(bucket), encodeCounters([]int64{-c[0]}), nil)
			}
		}
		if !bucketGone(v, bucket) {
			// (An expired bucket's records go with the bucket, in one range deletion.)
			rlo, rhi := keys.RecordRange(bucket, p, 0, ^uint64(0))
			_ = b.DeleteRange(rlo, rhi, nil)
			*touched = append(*touched, keyRange{rlo, rhi})
		}
		_ = b.Delete(keys.Expiry(bucket, p), nil)
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	_ = b.DeleteRange(lo, hi, nil)
	xlo, xhi := keys.CustomerRange(keys.KindLocator, p)
	_ = b.DeleteRange(xlo, xhi, nil)
	*touched = append(*touched, keyRange{xlo, xhi}, keyRange{lo, hi})
	var n int64
	if c, err := s.counter(customerCountKey(p)); err == nil && len(c) > 0 {
		n = c[0]
	}
	_ = b.Delete(customerCountKey(p), nil)
	return n, nil
}

// orphanPrefixes finds record prefixes that no live customer key names: what an erasure
// interrupted after its vault replacement left behind. It unwraps every customer key.
func (s *Store) orphanPrefixes() ([][keys.PrefixSize]byte, error) {
	live := map[[keys.PrefixSize]byte]bool{}
	v := s.vault.Load()
	lo, hi := keys.Kind(keys.KindDataKey)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	for it.First(); it.Valid(); it.Next() {
		sh, gen, ps, err := keys.ParseDataKey(it.Key())
		if err != nil || int(sh) >= len(v.Shards) || v.Shards[sh].Gen != gen {
			continue
		}
		ck, err := crypto.UnwrapCustomerKey(&v.Shards[sh].Key, ps, sh, gen, it.Value())
		if err != nil {
			continue
		}
		live[ck.Prefix] = true
		ck.DataKey.Wipe()
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	var out [][keys.PrefixSize]byte
	blo, bhi := keys.Kind(keys.KindBucket)
	it, err = s.db.NewIter(&pebble.IterOptions{LowerBound: blo, UpperBound: bhi})
	if err != nil {
		return nil, err
	}
	var last [keys.PrefixSize]byte
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 1+keys.PrefixSize+4 {
			continue
		}
		var p [keys.PrefixSize]byte
		copy(p[:], k[1:])
		if p != last && !live[p] {
			out = append(out, p)
		}
		last = p
	}
	return out, it.Close()
}

// recoverErasure finishes or undoes an erasure that a crash interrupted, and resolves
// ledger intents that never reached Pebble.
func (s *Store) recoverErasure(ctx context.Context) error {
	val, closer, err := s.db.Get(markerKey)
	if err != nil && !errors.Is(err, pebble.ErrNotFound) {
		return wrapErr("reading the erasure marker", err)
	}
	var m *erasureMarker
	if err == nil {
		m = &erasureMarker{}
		derr := json.Unmarshal(bytes.Clone(val), m)
		closer.Close()
		if derr != nil {
			return fmt.Errorf("%w: the erasure marker does not parse", ErrCorrupt)
		}
	}
	if m != nil {
		v := s.vault.Load()
		landed := true
		for _, sg := range m.Shards {
			// Landed if the vault has the target generation or a later one (a later erasure of
			// the same shard can only have followed this one's vault).
			if int(sg.Shard) >= len(v.Shards) || v.Shards[sg.Shard].Gen < sg.Gen {
				landed = false
			}
		}
		if landed {
			s.log.Info("finishing an erasure interrupted by a crash", "intent", m.Intent)
			if err := s.completeErasure(m, nil); err != nil {
				return err
			}
		} else {
			s.log.Info("undoing an erasure interrupted before its vault replacement", "intent", m.Intent)
			if err := s.undoErasure(m, s.ledger.has(m.Intent), nil); err != nil {
				return err
			}
		}
	}
	// Intents with no marker: the crash came before the rewrapped keys were written.
	for _, e := range s.ledger.parsed.Pending() {
		if m != nil && e.Seq == m.Intent {
			continue
		}
		if err := s.abortErasure(e.Seq, nil); err != nil {
			return err
		}
	}
	return nil
}

func parsePS(h string) ([keys.PseudonymSize]byte, error) {
	var p [keys.PseudonymSize]byte
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != keys.PseudonymSize {
		return p, fmt.Errorf("%w: malformed pseudonym", ErrCorrupt)
	}
	copy(p[:], b)
	return p, nil
}

// ErasureReceipt returns the stored receipt of an erased customer, or ErrNotFound.
func (s *Store) ErasureReceipt(customer string) (*Receipt, error) {
	// The receipt is stored by the clean-up that follows an erasure's acknowledgement, under
	// the gate: wait for it, so that Erase's receipt is found as soon as Erase has returned.
	s.gate.RLock()
	defer s.gate.RUnlock()
	ps := s.pseudonym(customer)
	val, closer, err := s.db.Get(keys.Receipt(ps))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, wrapErr("reading a receipt", err)
	}
	defer closer.Close()
	return crypto.ParseReceipt(val)
}

// shardGensKey records, in Pebble, the sum of the vault's shard generations as of the last
// completed erasure. A vault whose sum is larger than Pebble's means Pebble's files are older
// than the vault (a file-level restore, a copy): reconcileKeys then removes what the vault's
// keys no longer open.
var shardGensKey = keys.Meta("shard-gens")

func shardGenSum(v *crypto.Vault) uint64 {
	var n uint64
	for _, sh := range v.Shards {
		n += uint64(sh.Gen)
	}
	return n
}

// reconcileKeys brings Pebble files that are older than the key vault in line with it: data
// keys of shard generations the vault no longer has are deleted (they are wrapped under
// destroyed keys), and so is everything filed under a record prefix that no live data key
// names. What the vault's keys still open is served as before; erased customers read as
// erased. In the normal case it costs one Get.
func (s *Store) reconcileKeys() error {
	v := s.vault.Load()
	want := shardGenSum(v)
	val, closer, err := s.db.Get(shardGensKey)
	switch {
	case err == nil:
		have := beU64(bytes.Clone(val))
		closer.Close()
		if have == want {
			return nil
		}
	case !errors.Is(err, pebble.ErrNotFound):
		return wrapErr("reading store metadata", err)
	}
	s.log.Info("the Pebble files are older than the key vault; removing what its keys no longer open")
	b := s.db.NewBatch()
	defer b.Close()
	lo, hi := keys.Kind(keys.KindDataKey)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return wrapErr("reconciling keys", err)
	}
	stale := map[ledger.ShardGen]bool{}
	var staleKeys int64
	for it.First(); it.Valid(); it.Next() {
		sh, gen, _, err := keys.ParseDataKey(it.Key())
		if err != nil {
			continue
		}
		if int(sh) >= len(v.Shards) || v.Shards[sh].Gen != gen {
			stale[ledger.ShardGen{Shard: sh, Gen: gen}] = true
			staleKeys++
		}
	}
	if err := it.Close(); err != nil {
		return wrapErr("reconciling keys", err)
	}
	var touched []keyRange
	for sg := range stale {
		lo, hi := keys.DataKeyGen(sg.Shard, sg.Gen)
		_ = b.DeleteRange(lo, hi, nil)
		touched = append(touched, keyRange{lo, hi})
	}
	orphans, err := s.orphanPrefixes()
	if err != nil {
		return wrapErr("reconciling keys", err)
	}
	var removed int64
	for _, p := range orphans {
		n, err := s.deleteCustomerData(b, p, &touched)
		if err != nil {
			return wrapErr("reconciling keys", err)
		}
		removed += n
	}
	ctr := newCounterSet()
	ctr.addTotals(-removed, -staleKeys)
	if err := ctr.apply(b); err != nil {
		return err
	}
	_ = b.Set(shardGensKey, u64(want), nil)
	if err := commitBatch(b, pebble.Sync); err != nil {
		return wrapErr("reconciling keys", err)
	}
	s.scheduleHygiene(touched)
	return nil
}
