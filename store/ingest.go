package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"
	"contactstore/internal/record"

	"github.com/cockroachdb/pebble/v2"
	"github.com/klauspost/compress/s2"
)

// PutResult tells what a Put stored.
type PutResult struct {
	// IDs holds each contact's id in input order; the store assigned those that had none.
	IDs []string
	// Added counts contacts new to the store; Replaced counts those whose id was stored
	// already and whose record was replaced (re-ingesting never duplicates).
	Added, Replaced int
	// Expired counts contacts that were not stored because the retention policy puts them
	// past their term already (their customer not under a legal hold). Storing them would
	// keep data longer than the policy allows.
	Expired int
	// Unindexed counts e-mail and phone values that could not be normalised (an address
	// without a domain, a number without a country code in a store without a phone region):
	// their contacts are stored, but Find cannot reach them through those values.
	Unindexed int
}

// item is one contact on its way through sealing and commit.
type item struct {
	c        Contact
	cu       *customer
	assigned bool // the store assigned the id: no earlier version can exist
	bucket   uint32
	tk       uint64
	tag      [crypto.ContactTagSize]byte
	channel  byte
	key, val []byte

	terms     [maxContactTerms]indexTerm // blind-index terms, computed by the sealing worker
	nterms    uint8
	unindexed uint8 // e-mail or phone values that did not normalise

	// The contact-id locator as a sealing worker found it (nil: none), and the commit
	// sequence number before that lookup; see commitGroup.
	prev      []byte
	lookupSeq uint64 // read before the customer's persisted flag
}

type commitReq struct {
	items    []item
	added    int
	replaced int
	done     chan error
}

// Put stores contacts atomically: when it returns nil every one of them is durable (unless
// Options.NoSync), and when it returns an error none is stored. Concurrent Puts are sealed
// in parallel and group-committed. An invalid contact fails the whole call with ErrInvalid,
// naming its position and field.
func (s *Store) Put(ctx context.Context, contacts []Contact) (PutResult, error) {
	var res PutResult
	if len(contacts) == 0 {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	items := make([]item, len(contacts))
	now := s.opts.Clock.Now()
	for i := range contacts {
		if err := contacts[i].Validate(); err != nil {
			return res, fmt.Errorf("%w: contact %d: %v", ErrInvalid, i, err)
		}
		it := &items[i]
		it.c = contacts[i]
		if it.c.ID == "" {
			it.c.ID = newULID(now)
			it.assigned = true
		}
		if it.c.Category == "" {
			it.c.Category = DefaultCategory
		}
		it.channel = channelCode(it.c.Channel)
		it.tk = keys.TimeKey(it.c.Time)
	}

	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closed.Load() {
		return res, ErrClosed
	}
	// Place every contact in its expiry bucket under the policy in force. The gate keeps
	// expiry out until the batch has committed, so no bucket used here loses its key first.
	now = s.opts.Clock.Now()
	pol, v := s.policy.cur.Load(), s.vault.Load()
	// Each distinct customer's pseudonym (an HMAC) is computed once per Put, for both the
	// hold check and the key lookup.
	pss := make(map[string]crypto.Pseudonym)
	psOf := func(id string) crypto.Pseudonym {
		ps, ok := pss[id]
		if !ok {
			ps = s.pseudonym(id)
			pss[id] = ps
		}
		return ps
	}
	live := items
	if pol != nil {
		need := map[uint32]bool{}
		dropped := make([]bool, len(items))
		type hold struct {
			e    holdEntry
			held bool
		}
		heldPS := map[string]hold{}
		for i := range items {
			it := &items[i]
			h, ok := heldPS[it.c.Customer]
			if !ok {
				h.e, h.held = s.holds.get(psOf(it.c.Customer))
				heldPS[it.c.Customer] = h
			}
			b, expired := placement(pol, v, &it.c, now, h.e, h.held)
			if expired {
				res.Expired++
				dropped[i] = true
				continue
			}
			it.bucket = b
			need[b] = true
		}
		if res.Expired > 0 {
			live = make([]item, 0, len(items)-res.Expired)
			for i := range items {
				if !dropped[i] {
					live = append(live, items[i])
				}
			}
		}
		if err := s.ensureBuckets(ctx, need); err != nil {
			return res, err
		}
	} else {
		for i := range items {
			items[i].bucket = keys.NoExpiry
		}
		// Its key is destroyed once a policy has moved its contacts out; Pebble files older
		// than that (a restored copy) have no policy, and get a new one.
		if _, ok := v.Buckets[keys.NoExpiry]; !ok {
			if err := s.ensureBuckets(ctx, map[uint32]bool{keys.NoExpiry: true}); err != nil {
				return res, err
			}
		}
	}
	res.IDs = make([]string, len(items))
	for i := range items {
		res.IDs[i] = items[i].c.ID
	}
	if len(live) == 0 {
		return res, nil
	}
	resolved := make(map[string]*customer)
	for i := range live {
		id := live[i].c.Customer
		cu := resolved[id]
		if cu == nil {
			var err error
			if cu, err = s.lookupPS(psOf(id), id, true); err != nil {
				return res, err
			}
			resolved[id] = cu
		}
		live[i].cu = cu
	}
	if err := s.sealer.seal(live); err != nil {
		return res, err
	}
	req := &commitReq{items: live, done: make(chan error, 1)}
	s.commits <- req
	if err := <-req.done; err != nil {
		return res, err
	}
	res.Added, res.Replaced = req.added, req.replaced
	for i := range live {
		res.Unindexed += int(live[i].unindexed)
	}
	return res, nil
}

func channelCode(ch string) byte {
	if i := slices.Index(Channels, ch); i >= 0 {
		return byte(i + 1)
	}
	return 0
}

// sealer is a pool of goroutines that encode, compress and seal records.
type sealer struct {
	s     *Store
	tasks chan sealTask
	wg    sync.WaitGroup
}

type sealTask struct {
	items []item
	done  *sync.WaitGroup
	err   *error
	mu    *sync.Mutex
}

const sealChunk = 32

func newSealer(s *Store, workers int) *sealer {
	sl := &sealer{s: s, tasks: make(chan sealTask, workers*4)}
	for range workers {
		sl.wg.Add(1)
		go sl.work()
	}
	return sl
}

func (sl *sealer) close() {
	close(sl.tasks)
	sl.wg.Wait()
}

// seal seals every item, spreading chunks over the workers.
func (sl *sealer) seal(items []item) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	if len(items) <= sealChunk {
		var buf sealBuf
		return sl.sealItems(items, &buf)
	}
	for lo := 0; lo < len(items); lo += sealChunk {
		hi := min(lo+sealChunk, len(items))
		wg.Add(1)
		sl.tasks <- sealTask{items: items[lo:hi], done: &wg, err: &firstErr, mu: &mu}
	}
	wg.Wait()
	return firstErr
}

type sealBuf struct {
	enc, comp []byte
	look      []int // items whose stored locator is to be looked up
}

func (sl *sealer) work() {
	defer sl.wg.Done()
	var buf sealBuf
	for t := range sl.tasks {
		if err := sl.sealItems(t.items, &buf); err != nil {
			t.mu.Lock()
			if *t.err == nil {
				*t.err = err
			}
			t.mu.Unlock()
		}
		t.done.Done()
	}
}

func (sl *sealer) sealItems(items []item, buf *sealBuf) error {
	s := sl.s
	buf.look = buf.look[:0]
	if err := sl.sealEach(items, buf); err != nil {
		return err
	}
	return s.lookupLocators(items, buf.look)
}

// lookupLocators finds the stored locators of items[look...]: one iterator for the chunk,
// its keys visited in order with bloom-filtered prefix seeks, costs a fraction of a Get per
// key (each Get builds and tears down an iterator of its own). The iterator is opened after
// every item's lookupSeq was read, so it sees at least what those sequence numbers promise.
func (s *Store) lookupLocators(items []item, look []int) error {
	if len(look) == 0 {
		return nil
	}
	type lookup struct {
		key []byte
		i   int
	}
	ls := make([]lookup, len(look))
	for j, i := range look {
		ls[j] = lookup{keys.Locator(items[i].cu.key.Prefix, items[i].tag), i}
	}
	slices.SortFunc(ls, func(a, b lookup) int { return bytes.Compare(a.key, b.key) })
	lo, hi := keys.Kind(keys.KindLocator)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return wrapErr("reading a contact locator", err)
	}
	for _, l := range ls {
		if it.SeekPrefixGE(l.key) && bytes.Equal(it.Key(), l.key) {
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return wrapErr("reading a contact locator", err)
			}
			items[l.i].prev = slices.Clone(v)
		}
	}
	return wrapErr("reading a contact locator", it.Close())
}

func (sl *sealer) sealEach(items []item, buf *sealBuf) error {
	s := sl.s
	for i := range items {
		it := &items[i]
		rc, err := s.recordCipher(it.cu, it.bucket)
		if err != nil {
			return wrapErr("sealing a record", err)
		}
		it.tag = crypto.ContactTag(&it.cu.key.DataKey, it.c.ID)
		n, skipped := s.contactTerms(it.cu, &it.c, &it.terms)
		it.nterms, it.unindexed = uint8(n), uint8(skipped)
		it.key = keys.Record(it.bucket, it.cu.key.Prefix, it.tk, it.tag[:])
		if !it.assigned {
			it.lookupSeq = s.commitSeq.Load()
		}
		if !it.assigned && it.cu.persisted.Load() {
			// Look up an earlier version here, in parallel, rather than in the committer. A
			// customer whose key was not committed when lookupSeq was read had no stored
			// contacts then; later groups are covered by the committer's recent locators.
			buf.look = append(buf.look, i)
		}

		rec := toRecord(&it.c)
		buf.enc = record.Encode(buf.enc[:0], &rec)
		payload, codec, dictID := buf.enc, byte(record.CodecNone), uint64(0)
		if s.opts.Compression != "none" && len(buf.enc) > 64 {
			need := s2.MaxEncodedLen(len(buf.enc))
			if cap(buf.comp) < need {
				buf.comp = make([]byte, need)
			}
			var c []byte
			if d := s.dicts.current.Load(); d != nil && s.opts.Compression == "s2dict" {
				c, codec, dictID = d.d.Encode(buf.comp[:need], buf.enc), record.CodecS2Dict, d.id
			} else {
				if s.dicts.collecting.Load() && !it.cu.persisted.Load() {
					s.offerSample(it.cu.ps, buf.enc)
				}
				c, codec = s2.Encode(buf.comp[:need], buf.enc), record.CodecS2
			}
			if len(c) < len(buf.enc) {
				payload = c
			} else {
				codec, dictID = record.CodecNone, 0
			}
		}
		val := make([]byte, 0, 12+len(payload)+crypto.RecordOverhead)
		val = record.AppendEnvelopeHeader(val, codec, dictID)
		hdrLen := len(val)
		aad := recordAAD(it.key, val[:hdrLen])
		val, err = rc.Seal(val, payload, aad)
		if err != nil {
			return wrapErr("sealing a record", err)
		}
		it.val = val
		if cap(buf.enc) > 1<<20 { // do not keep huge buffers after a large contact
			buf.enc, buf.comp = nil, nil
		}
	}
	return nil
}

// recordAAD binds a record's Pebble key and envelope header.
func recordAAD(key, hdr []byte) []byte {
	aad := make([]byte, 0, len(key)+len(hdr))
	aad = append(aad, key...)
	return append(aad, hdr...)
}

func toRecord(c *Contact) record.Contact {
	r := record.Contact{
		ID: c.ID, Customer: c.Customer, Time: c.Time, Channel: c.Channel, Direction: c.Direction,
		Category: c.Category, Agent: c.Agent, Subject: c.Subject, Body: c.Body, Email: c.Email,
		Phone: c.Phone, Rating: c.Rating, Tags: c.Tags, Meta: c.Meta,
	}
	if len(c.Attachments) > 0 {
		r.Attachments = make([]record.Attachment, len(c.Attachments))
		for i, a := range c.Attachments {
			r.Attachments[i] = record.Attachment{Name: a.Name, Type: a.Type, Data: a.Data}
		}
	}
	return r
}

func fromRecord(r *record.Contact) Contact {
	c := Contact{
		ID: r.ID, Customer: r.Customer, Time: r.Time, Channel: r.Channel, Direction: r.Direction,
		Category: r.Category, Agent: r.Agent, Subject: r.Subject, Body: r.Body, Email: r.Email,
		Phone: r.Phone, Rating: r.Rating, Tags: r.Tags, Meta: r.Meta,
	}
	if len(r.Attachments) > 0 {
		c.Attachments = make([]Attachment, len(r.Attachments))
		for i, a := range r.Attachments {
			c.Attachments[i] = Attachment{Name: a.Name, Type: a.Type, Data: a.Data}
		}
	}
	return c
}

// committer applies commit requests in arrival order, several per Pebble batch and fsync.
func (s *Store) committer() {
	defer s.wg.Done()
	var stopped error // set once Pebble's commit pipeline has failed: every later commit fails
	for req := range s.commits {
		group := []*commitReq{req}
		size := len(req.items)
	drain:
		for size < 16384 {
			select {
			case r, ok := <-s.commits:
				if !ok {
					break drain
				}
				group = append(group, r)
				size += len(r.items)
			default:
				break drain
			}
		}
		err := stopped
		if err == nil {
			err = s.commitGroup(group)
			if errors.Is(err, errWritesStopped) {
				stopped = err
			}
		}
		for _, r := range group {
			r.done <- err
		}
	}
}

// locator values: bucket:u32 time:u64 channel:1 rating:1
const locatorLen = 4 + 8 + 1 + 1

// batchOp is one write of a commit group, collected so that the group's writes reach
// Pebble in key order.
type batchOp struct {
	kind     byte // opSet, opDelete, opMerge
	key, val []byte
}

const (
	opSet = iota
	opDelete
	opMerge
)

// opOrder is what sortOps sorts: a small value without pointers, cheap to move.
type opOrder struct {
	hi, lo uint64 // the key's first 16 bytes, big-endian, zero-padded
	i      uint32 // position in the group's write order
}

// sortOps returns ops ordered by key, keeping the order of writes to one key. Pebble
// applies a batch to its memtable in batch order, and its skiplist inserter reuses the
// previous insert's position: in key order, each insert starts next to the previous one
// instead of searching the whole memtable, which was most of the committer's time.
func sortOps(ops []batchOp) []batchOp {
	order := make([]opOrder, len(ops))
	for i := range ops {
		var p [16]byte
		copy(p[:], ops[i].key)
		order[i] = opOrder{binary.BigEndian.Uint64(p[:8]), binary.BigEndian.Uint64(p[8:]), uint32(i)}
	}
	// An unstable sort with the write order as tie-break: cheaper than a stable sort. The
	// keys' first 16 bytes decide most comparisons without touching the keys. Zero padding
	// keeps the order: a key shorter than 16 bytes that ties on them is a prefix of the
	// other key, or the same bytes, and bytes.Compare decides.
	slices.SortFunc(order, func(a, b opOrder) int {
		if a.hi != b.hi {
			return cmp.Compare(a.hi, b.hi)
		}
		if a.lo != b.lo {
			return cmp.Compare(a.lo, b.lo)
		}
		if c := bytes.Compare(ops[a.i].key, ops[b.i].key); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	sorted := make([]batchOp, len(ops))
	for j, o := range order {
		sorted[j] = ops[o.i]
	}
	return sorted
}

func applyOps(b *pebble.Batch, ops []batchOp) error {
	for i := range ops {
		op := &ops[i]
		var err error
		switch op.kind {
		case opSet:
			err = b.Set(op.key, op.val, nil)
		case opDelete:
			err = b.Delete(op.key, nil)
		case opMerge:
			err = b.Merge(op.key, op.val, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) commitGroup(group []*commitReq) error {
	// Size the batch up front: growing it by doubling copied every record again and again.
	size, n := 1024, 0
	for _, req := range group {
		n += len(req.items)
		for i := range req.items {
			it := &req.items[i]
			// record, locator, memberships and counters, with Pebble's per-entry overhead
			size += len(it.key) + len(it.val) + 3*keys.LocatorLen + 160 + int(it.nterms)*(keys.IndexOfLen+keys.IndexLen+40)
		}
	}
	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	ops := make([]batchOp, 0, 2*n+64)
	locs := make(map[string][]byte, n)
	locBuf := make([]byte, 0, n*locatorLen) // every locator value of the group, in one piece
	member := make(map[memberID]struct{})
	idxGroup := make(map[[keys.IndexOfLen]byte]struct{})
	ctr := newCounterSet()
	v := s.vault.Load()
	var created []*customer
	var err error
	seenNew := make(map[*customer]bool)
	for _, req := range group {
		req.added, req.replaced = 0, 0
		for i := range req.items {
			it := &req.items[i]
			cu := it.cu
			if !cu.persisted.Load() && !seenNew[cu] {
				seenNew[cu] = true
				created = append(created, cu)
				ops = append(ops, batchOp{kind: opSet, key: cu.dataKeyKey(), val: cu.wrapped})
				ctr.addTotals(0, 1)
			}
			if m := (memberID{cu.key.Prefix, it.bucket}); !has(member, m) {
				member[m] = struct{}{}
				ops = append(ops, batchOp{kind: opSet, key: keys.Expiry(it.bucket, cu.key.Prefix), val: expiryValue(cu.shard)})
			}
			for _, t := range it.terms[:it.nterms] {
				// Most contacts repeat a (customer, value, day) already written: build the key
				// on the stack and allocate only for one that is written.
				jk := keys.IndexOfKey(cu.key.Prefix, t.token, it.bucket)
				if !s.idxSeen.has(jk) && !has(idxGroup, jk) {
					idxGroup[jk] = struct{}{}
					key := jk
					ops = append(ops, batchOp{kind: opSet, key: key[:], val: indexOfValue(t.kind, cu.ps)},
						batchOp{kind: opSet, key: keys.Index(t.token, cu.ps)})
				}
			}
			lk := keys.Locator(cu.key.Prefix, it.tag)
			isNew := true
			if !it.assigned {
				old, ok := locs[string(lk)]
				if !ok {
					old, err = s.recent.resolve(s.db, lk, it)
					if err != nil {
						return wrapErr("commit: reading a contact locator", err)
					}
				}
				// A locator into a bucket whose key is gone names a contact that expired: the
				// expirer has counted it out already; this one is new.
				if len(old) == locatorLen && !bucketGone(v, beU32(old[0:4])) {
					isNew = false
					ob, ot := beU32(old[0:4]), beU64(old[4:12])
					oldKey := keys.Record(ob, cu.key.Prefix, ot, it.tag[:])
					if string(oldKey) != string(it.key) {
						ops = append(ops, batchOp{kind: opDelete, key: oldKey})
					}
					ctr.addContact(old[12], keys.TimeFromKey(ot), int(old[13]), -1)
					ctr.addRecord(cu.key.Prefix, ob, -1)
				}
			}
			o := len(locBuf)
			locBuf = binary.BigEndian.AppendUint32(locBuf, it.bucket)
			locBuf = binary.BigEndian.AppendUint64(locBuf, it.tk)
			locBuf = append(locBuf, it.channel, byte(it.c.Rating))
			lv := locBuf[o:len(locBuf):len(locBuf)]
			locs[string(lk)] = lv
			ops = append(ops, batchOp{kind: opSet, key: lk, val: lv}, batchOp{kind: opSet, key: it.key, val: it.val})
			ctr.addContact(it.channel, it.c.Time, it.c.Rating, 1)
			ctr.addRecord(cu.key.Prefix, it.bucket, 1)
			if isNew {
				req.added++
				ctr.addTotals(1, 0)
				ctr.addCustomer(cu.key.Prefix, 1)
			} else {
				req.replaced++
			}
		}
	}
	ops = ctr.appendOps(ops)
	if err := applyOps(b, sortOps(ops)); err != nil {
		return wrapErr("commit", err)
	}
	// One audit entry per commit group: how many contacts, for which pseudonyms.
	var count int64
	pss := make([]string, 0, 64)
	seenPS := make(map[*customer]bool)
	for _, req := range group {
		count += int64(len(req.items))
		for i := range req.items {
			if cu := req.items[i].cu; !seenPS[cu] {
				seenPS[cu] = true
				pss = append(pss, hexPS(cu.ps))
			}
		}
	}
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	st, err := s.stageAudit(b, audit.Entry{Kind: audit.KindIngest, Customers: pss, Count: count})
	if err != nil {
		return wrapErr("commit", err)
	}
	wo := pebble.Sync
	if s.opts.NoSync {
		wo = pebble.NoSync
	}
	if err := commitBatch(b, wo); err != nil {
		return wrapErr("commit", err)
	}
	s.audit.apply(st)
	// Mark new customers persisted before publishing the sequence number: a worker that
	// reads a sequence number at or after this group's must see them persisted (and look
	// their contacts up).
	for _, cu := range created {
		cu.persisted.Store(true)
		cu.wrapped = nil
	}
	for k := range idxGroup {
		s.idxSeen.add(k)
	}
	s.recent.committed(s.commitSeq.Add(1), locs)
	return nil
}

func has[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// errWritesStopped marks a commit failure after which Pebble cannot commit again.
var errWritesStopped = errors.New("writes stopped; close and reopen the store")

// commitBatch commits b. Pebble treats a failed WAL write or sync as fatal: it reports it
// through Logger.Fatalf, whose panic (quietLogger) becomes an error here instead of killing
// the process. Pebble's commit pipeline is unusable after that, so the committer refuses
// every later commit; what was acknowledged before is durable, and a reopen recovers.
func commitBatch(b *pebble.Batch, wo *pebble.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if re, ok := r.(runtime.Error); ok {
				panic(re)
			}
			err = fmt.Errorf("%w: %v", errWritesStopped, r)
		}
	}()
	return b.Commit(wo)
}

// newULID returns a time-ordered id: 48 bits of milliseconds and 80 random bits in
// Crockford base32 (the ULID layout).
func newULID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var out [26]byte
	// 128 bits → 26 base32 digits, most significant first (the top digit holds 3 bits).
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// recentLocators lets sealing workers look up contact-id locators in parallel, before their
// batch reaches the committer. A lookup can miss a locator that a group committed after it;
// the committer therefore remembers the locators written by its last few groups with their
// sequence numbers and prefers those over a lookup that is older. A lookup older than the
// remembered window is repeated. Only the committer goroutine uses it.
type recentLocators struct {
	groups []recentGroup // the remembered groups' locators, oldest first
	floor  uint64        // groups with a sequence number <= floor are forgotten
}

// recentGroup is one committed group's locators. Keeping each group's map, instead of
// merging them into one, makes remembering a group free; a lookup only consults the
// groups committed after it was made, usually none.
type recentGroup struct {
	seq  uint64
	locs map[string][]byte
}

const recentGroups = 16

func (r *recentLocators) resolve(db *pebble.DB, lk []byte, it *item) ([]byte, error) {
	for i := len(r.groups) - 1; i >= 0; i-- {
		g := &r.groups[i]
		if g.seq <= it.lookupSeq || g.seq <= r.floor {
			break
		}
		if v, ok := g.locs[string(lk)]; ok {
			return v, nil
		}
	}
	if it.lookupSeq >= r.floor {
		return it.prev, nil
	}
	v, closer, err := db.Get(lk)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return slices.Clone(v), nil
}

// committed remembers the locators of the group committed with sequence number seq. The
// map must not change afterwards.
func (r *recentLocators) committed(seq uint64, locs map[string][]byte) {
	r.groups = append(r.groups, recentGroup{seq: seq, locs: locs})
	if len(r.groups) > recentGroups {
		r.groups[0] = recentGroup{}
		r.groups = r.groups[1:]
		r.floor = seq - recentGroups
	}
}

// reset forgets everything: the next lookups older than now are repeated.
func (r *recentLocators) reset(seq uint64) {
	clear(r.groups)
	r.groups = nil
	r.floor = seq
}
