package store

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"
	"contactstore/internal/ledger"
	"contactstore/internal/record"

	"github.com/cockroachdb/pebble/v2"
)

// The consistency checker (like bbolt's Tx.Check). It walks the whole key space read-only
// and reports what does not fit together: records that do not open under their keys, data
// keys that do not unwrap, index entries naming customers who are gone, erased customers
// with anything left, counters that disagree with what they count, broken hash chains.
//
// Consistency: Check takes, under the gate held shared for a moment, a Pebble snapshot, a
// copy of the key vault and the erasure ledger, and then checks that state while Puts,
// erasures and expiry go on. No exclusive operation (erasure, expiry step, hold, policy
// move) is half-way through at that moment, except the steps the store itself runs in
// several gate holds (an erasure's clean-up after its vault landed, an expired bucket's
// clean-up): Check reports those as warnings, not errors. The snapshot keeps Pebble from
// dropping the versions it pins until Check returns (they are sealed: an erasure meanwhile
// still makes them noise). Close waits for a running Check.
//
// Memory: one entry per customer (pseudonym, prefix, unwrapped data key, counts: about
// 250 bytes with the two maps that find it), so about 250 MB for a million customers;
// records, locators and index entries are streamed in chunks and not kept.

// CheckOptions selects what Check does; nil means a full check.
type CheckOptions struct {
	// Records opens (authenticates, decompresses and decodes) every record. Without it Check
	// is much faster: it checks the key space, the data keys, the counters and the chains,
	// but not the records' contents.
	Records bool
	// Examples is how many examples each problem keeps (default 5).
	Examples int
}

// CheckSeverity says whether a problem is an error or a warning.
type CheckSeverity string

// Severities.
const (
	// SeverityError: the store is inconsistent or damaged.
	SeverityError CheckSeverity = "error"
	// SeverityWarning: a clean-up the store finishes on its own (at the next expiry run or
	// Open) has not happened yet, or something Check does not know about.
	SeverityWarning CheckSeverity = "warning"
)

// CheckProblem is one kind of problem Check found: how often, and the first examples,
// named by key kind, shard and bucket numbers and hex pseudonyms or prefixes — never a
// plaintext value.
type CheckProblem struct {
	Kind     string        `json:"kind"`
	Severity CheckSeverity `json:"severity"`
	Count    int64         `json:"count"`
	Examples []string      `json:"examples,omitempty"`
}

// CheckReport is what Check found: what it examined and the problems.
type CheckReport struct {
	VaultGeneration  uint64 `json:"vault_generation"`
	Shards           int    `json:"shards"`
	Buckets          int    `json:"buckets"`
	Customers        int64  `json:"customers"`
	Records          int64  `json:"records"`
	RecordsOpened    int64  `json:"records_opened"`
	Locators         int64  `json:"locators"`
	Memberships      int64  `json:"memberships"`
	IndexEntries     int64  `json:"index_entries"`
	IndexMemberships int64  `json:"index_memberships"`
	Holds            int64  `json:"holds"`
	Objections       int64  `json:"objections"`
	Disclosures      int64  `json:"disclosures"`
	Receipts         int64  `json:"receipts"`
	Erased           int64  `json:"erased"`
	LedgerEntries    int64  `json:"ledger_entries"`
	AuditEntries     uint64 `json:"audit_entries"`
	// Problems, errors first, then by kind.
	Problems []CheckProblem `json:"problems"`
}

// OK reports whether Check found no error (warnings allowed).
func (r *CheckReport) OK() bool {
	for _, p := range r.Problems {
		if p.Severity == SeverityError {
			return false
		}
	}
	return true
}

// Problem returns the problem of a kind, or nil.
func (r *CheckReport) Problem(kind string) *CheckProblem {
	for i := range r.Problems {
		if r.Problems[i].Kind == kind {
			return &r.Problems[i]
		}
	}
	return nil
}

// Problem kinds.
const (
	ckMeta              = "meta"                 // store id, format, shard generations
	ckVaultGeneration   = "vault-generation"     // the vault file is not the store's current vault
	ckPolicy            = "policy"               // the stored policy does not verify
	ckErasurePending    = "erasure-pending"      // an erasure's clean-up has not finished (warning)
	ckLedger            = "ledger"               // the erasure ledger's chain does not verify
	ckLedgerTorn        = "ledger-torn"          // a torn last line (warning; cut at the next Open)
	ckLedgerNoReceipt   = "ledger-no-receipt"    // an erased entry without its stored receipt
	ckReceiptElsewhere  = "receipt-elsewhere"    // the same, for an erasure made after the backup this store was restored from
	ckReceipt           = "receipt"              // a stored receipt that does not verify or match
	ckDataKeyMalformed  = "data-key-malformed"   // a 'D' key of the wrong size or shard
	ckDataKeyStale      = "data-key-stale"       // a data key of an old shard generation
	ckDataKeyUnwrap     = "data-key-unwrap"      // a data key that does not unwrap
	ckPrefixShared      = "prefix-shared"        // two customers with one record prefix
	ckErasedDataKey     = "erased-has-data-key"  // an erased customer's (older) data key
	ckErasedHold        = "erased-has-hold"      // a hold of an erased customer
	ckErasedIndex       = "erased-has-index"     // an index entry naming an erased customer
	ckErasedSideData    = "erased-has-side-data" // objections or disclosures of one
	ckRecordKey         = "record-key-malformed" // an 'R' key of the wrong size
	ckRecordGone        = "record-gone-bucket"   // a record of a destroyed bucket (warning)
	ckRecordNoBucketKey = "record-no-bucket-key" // a live bucket without its key
	ckRecordOrphan      = "record-no-customer"   // no live customer has its prefix
	ckRecordOpen        = "record-open"          // fails authentication
	ckRecordDecode      = "record-decode"        // opens but does not decode
	ckRecordMismatch    = "record-key-mismatch"  // its id or time does not match its key
	ckRecordNoLocator   = "record-no-locator"
	ckLocatorMalformed  = "locator-malformed"
	ckLocatorOrphan     = "locator-no-customer"
	ckLocatorGone       = "locator-gone-bucket" // (warning)
	ckLocatorNoRecord   = "locator-no-record"
	ckMemberOrphan      = "membership-no-customer" // 'B' or 'E' of no live customer
	ckMemberCount       = "membership-count"       // 'B' count differs from the records
	ckMemberNoExpiry    = "membership-no-expiry"   // 'B' without its 'E'
	ckExpiryNoMember    = "expiry-no-membership"   // 'E' without its 'B'
	ckMemberGone        = "membership-gone-bucket" // (warning)
	ckCounterCustomer   = "counter-customer"       // S "c" differs from the memberships
	ckCounterBucket     = "counter-bucket"         // S "b" differs from the memberships
	ckCounterTotals     = "counter-totals"         // S "t" differs from what was counted
	ckCounterMalformed  = "counter-malformed"
	ckCounterCleanup    = "counter-cleanup" // a counter that a pending clean-up settles (warning)
	ckIndexMalformed    = "index-malformed"
	ckIndexNoCustomer   = "index-no-customer"    // 'I' naming no live customer
	ckIndexNoMember     = "index-no-membership"  // 'I' without a 'J' naming it
	ckIndexOfOrphan     = "index-of-no-customer" // 'J' of no live customer
	ckIndexOfNoEntry    = "index-of-no-entry"    // 'J' without its 'I'
	ckIndexOfGone       = "index-of-gone-bucket" // (warning)
	ckHold              = "hold"                 // a hold that does not open or fit
	ckHoldOrphan        = "hold-no-customer"
	ckObjection         = "objection"
	ckDisclosure        = "disclosure"
	ckSideOrphan        = "side-data-no-customer" // 'O' or 'T' of no live customer
	ckAudit             = "audit"                 // the audit chain does not verify
	ckUnknownKind       = "unknown-key-kind"      // (warning)
)

// warnings are the problem kinds that are warnings.
var warnings = map[string]bool{
	ckReceiptElsewhere: true,
	ckErasurePending:   true, ckLedgerTorn: true, ckRecordGone: true, ckLocatorGone: true,
	ckMemberGone: true, ckIndexOfGone: true, ckUnknownKind: true, ckCounterCleanup: true,
}

// pendingWarnings are the problem kinds that an erasure whose clean-up has not finished
// leaves (its customers' data under prefixes no live key names, counters not yet lowered):
// warnings while the erasure marker is there.
var pendingWarnings = map[string]bool{
	ckRecordOrphan: true, ckLocatorOrphan: true, ckMemberOrphan: true, ckIndexOfOrphan: true,
	ckIndexNoCustomer: true, ckErasedIndex: true, ckErasedHold: true, ckErasedSideData: true,
	ckSideOrphan: true, ckHoldOrphan: true, ckCounterCustomer: true, ckCounterBucket: true,
	ckCounterTotals: true, ckLedgerNoReceipt: true,
}

// checkChunk is how many keys one iterator serves before the walk re-opens it.
const checkChunk = 4096

// Check walks the whole store read-only and reports inconsistencies (see CheckReport).
// It returns an error only when it could not finish (I/O, ctx); what it found is in the
// report. opts nil means a full check (records opened).
func (s *Store) Check(ctx context.Context, opts *CheckOptions) (*CheckReport, error) {
	o := CheckOptions{Records: true}
	if opts != nil {
		o = *opts
	}
	if o.Examples <= 0 {
		o.Examples = 5
	}
	c := &checker{s: s, ctx: ctx, opts: o, rep: &CheckReport{}, probs: map[string]*CheckProblem{},
		byPrefix: map[[keys.PrefixSize]byte]*ckCustomer{}, byPS: map[crypto.Pseudonym]*ckCustomer{},
		erased: map[crypto.Pseudonym]time.Time{}, bucketSums: map[uint32]int64{}}
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.end()
	for _, step := range []func() error{c.checkMeta, c.checkLedger, c.checkReceipts, c.checkDataKeys,
		c.checkSideData, c.checkRecords, c.checkLocators, c.checkMemberships, c.checkExpiry,
		c.checkCounters, c.checkIndex, c.checkIndexOf, c.checkAudit, c.checkKinds} {
		if err := step(); err != nil {
			return nil, wrapErr("check", err)
		}
	}
	c.finish()
	return c.rep, nil
}

type ckCustomer struct {
	ps      crypto.Pseudonym
	shard   uint32
	prefix  [keys.PrefixSize]byte
	dk      crypto.Key
	created int64
	records int64 // records found under the prefix
	members int64 // the sum of its 'B' counts
	counter int64 // its S "c" counter
}

type checker struct {
	s    *Store
	ctx  context.Context
	opts CheckOptions
	rep  *CheckReport

	snap     *pebble.Snapshot
	v        *crypto.Vault // a copy, wiped at the end
	fileGen  uint64        // the vault file's generation
	fileErr  error
	ledgerB  []byte
	ledgerEr error

	probs map[string]*CheckProblem

	marker     *erasureMarker
	staleOK    map[[2]uint32]bool // shard generations a pending erasure replaces
	byPrefix   map[[keys.PrefixSize]byte]*ckCustomer
	byPS       map[crypto.Pseudonym]*ckCustomer
	erased     map[crypto.Pseudonym]time.Time
	digests    map[string]bool // receipt digests in the ledger
	bucketSums map[uint32]int64
	leftovers  bool  // something of a destroyed bucket is still there
	records    int64 // every 'R' key
	orphanRecs int64 // records of no live customer

	probe     *pebble.Iterator
	probeUses int
}

// begin takes the snapshot, the vault copy and the ledger, under the gate held shared.
func (c *checker) begin() error {
	s := c.s
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	s.wg.Add(1) // Close waits for Check (the committer and eraser keep the count above 0 here)
	// The snapshot first: a Put may add bucket keys meanwhile (never remove one), so the
	// vault copy taken next has every key the snapshot's records need.
	c.snap = s.db.NewSnapshot()
	s.vaultMu.Lock()
	c.v = s.vault.Load().Clone()
	data, err := readFile(s.fs, s.fs.PathJoin(s.dir, VaultFile))
	if err == nil {
		var h crypto.VaultHeader
		if h, err = crypto.ReadVaultHeader(data); err == nil {
			c.fileGen = h.Generation
			if h.StoreID != c.v.StoreID {
				err = errors.New("the vault file belongs to another store")
			}
		}
	}
	c.fileErr = err
	s.vaultMu.Unlock()
	c.ledgerB, c.ledgerEr = readWhole(s.fs, s.fs.PathJoin(s.dir, LedgerFile))
	return nil
}

func (c *checker) end() {
	if c.probe != nil {
		c.probe.Close()
	}
	if c.snap != nil {
		c.snap.Close()
	}
	for _, cu := range c.byPrefix {
		cu.dk.Wipe()
	}
	c.v.Wipe()
	c.s.wg.Done()
}

// problem records one occurrence of a problem kind with an example.
func (c *checker) problem(kind, format string, args ...any) {
	p := c.probs[kind]
	if p == nil {
		sev := SeverityError
		if warnings[kind] || (c.marker != nil && pendingWarnings[kind]) {
			sev = SeverityWarning
		}
		p = &CheckProblem{Kind: kind, Severity: sev}
		c.probs[kind] = p
	}
	p.Count++
	if len(p.Examples) < c.opts.Examples {
		p.Examples = append(p.Examples, fmt.Sprintf(format, args...))
	}
}

// finish fills in the report.
func (c *checker) finish() {
	r := c.rep
	r.VaultGeneration, r.Shards, r.Buckets = c.v.Generation, len(c.v.Shards), len(c.v.Buckets)
	r.Customers, r.Records, r.Erased = int64(len(c.byPrefix)), c.records, int64(len(c.erased))
	for _, p := range c.probs {
		r.Problems = append(r.Problems, *p)
	}
	slices.SortFunc(r.Problems, func(a, b CheckProblem) int {
		if a.Severity != b.Severity {
			if a.Severity == SeverityError {
				return -1
			}
			return 1
		}
		return cmpString(a.Kind, b.Kind)
	})
	if r.Problems == nil {
		r.Problems = []CheckProblem{}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// walk calls fn with every key and value in [lo, hi), re-opening its iterator every
// checkChunk keys and checking ctx between chunks.
func (c *checker) walk(lo, hi []byte, fn func(k, v []byte) error) error {
	for {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		it, err := c.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return err
		}
		n := 0
		var last []byte
		for ok := it.First(); ok && n < checkChunk; ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return err
			}
			if err := fn(it.Key(), v); err != nil {
				it.Close()
				return err
			}
			last = append(last[:0], it.Key()...)
			n++
		}
		if err := it.Close(); err != nil {
			return err
		}
		if n < checkChunk {
			return nil
		}
		lo = append(bytes.Clone(last), 0) // the immediate successor
	}
}

// get returns a copy of the value of k, or nil and false.
func (c *checker) get(k []byte) ([]byte, bool, error) {
	v, closer, err := c.snap.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	return out, true, closer.Close()
}

// scanPrefix calls fn with the keys and values that start with p (through a probe
// iterator, re-opened now and then), until fn returns false.
func (c *checker) scanPrefix(p []byte, fn func(k, v []byte) bool) error {
	if c.probe == nil || c.probeUses >= checkChunk {
		if c.probe != nil {
			if err := c.probe.Close(); err != nil {
				return err
			}
		}
		it, err := c.snap.NewIter(nil)
		if err != nil {
			return err
		}
		c.probe, c.probeUses = it, 0
	}
	c.probeUses++
	for ok := c.probe.SeekGE(p); ok && bytes.HasPrefix(c.probe.Key(), p); ok = c.probe.Next() {
		v, err := c.probe.ValueAndErr()
		if err != nil {
			return err
		}
		if !fn(c.probe.Key(), v) {
			break
		}
	}
	return c.probe.Error()
}

func (c *checker) counterAt(k []byte) ([]int64, bool, error) {
	v, ok, err := c.get(k)
	if err != nil || !ok {
		return nil, ok, err
	}
	n, err := decodeCounters(v)
	if err != nil {
		c.problem(ckCounterMalformed, "counter %x does not decode", k)
		return nil, false, nil
	}
	return n, true, nil
}

func first(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func hx(b []byte) string { return hex.EncodeToString(b) }

// gone says whether a bucket's records are gone (its key destroyed) — leftovers that the
// expirer or Open cleans up.
func (c *checker) gone(b uint32) bool { return bucketGone(c.v, b) }

// expired says whether a bucket is gone the ordinary way: a day through ExpiredThrough,
// or a hold bucket whose key a release destroyed. A live day bucket without its key is not.
func (c *checker) expired(b uint32) bool {
	return (keys.ExpiryBucket(b) && b <= c.v.ExpiredThrough) || keys.IsHold(b)
}

func (c *checker) checkMeta() error {
	if c.fileErr != nil {
		c.problem(ckVaultGeneration, "the vault file does not read: %v", c.fileErr)
	} else if c.fileGen != c.v.Generation {
		c.problem(ckVaultGeneration, "vault file generation %d, store's vault generation %d", c.fileGen, c.v.Generation)
	}
	id, ok, err := c.get(keys.Meta("store-id"))
	if err != nil {
		return err
	}
	if !ok || !bytes.Equal(id, c.v.StoreID[:]) {
		c.problem(ckMeta, "M store-id does not name the vault's store %x", c.v.StoreID)
	}
	f, ok, err := c.get(keys.Meta("format"))
	if err != nil {
		return err
	}
	if !ok || len(f) != 1 || f[0] != formatMajor {
		c.problem(ckMeta, "M format is not %d", formatMajor)
	}
	mv, ok, err := c.get(markerKey)
	if err != nil {
		return err
	}
	if ok {
		m := &erasureMarker{}
		if json.Unmarshal(mv, m) != nil {
			c.problem(ckMeta, "M erasing (the erasure marker) does not parse")
		} else {
			c.marker = m
			c.staleOK = map[[2]uint32]bool{}
			for _, sg := range m.Old {
				c.staleOK[[2]uint32{sg.Shard, sg.Gen}] = true
			}
			c.problem(ckErasurePending, "erasure intent %d: clean-up not finished (Open finishes it)", m.Intent)
		}
	}
	sg, ok, err := c.get(shardGensKey)
	if err != nil {
		return err
	}
	if ok && len(sg) == 8 && beU64(sg) != shardGenSum(c.v) && c.marker == nil {
		c.problem(ckMeta, "M shard-gens is %d, the vault's shard generations sum to %d", beU64(sg), shardGenSum(c.v))
	}
	pv, ok, err := c.get(policyKey)
	if err != nil {
		return err
	}
	if ok {
		if _, err := c.s.decodePolicy(pv); err != nil {
			c.problem(ckPolicy, "M policy: %v", err)
		}
	}
	return nil
}

func (c *checker) checkLedger() error {
	if errors.Is(c.ledgerEr, os.ErrNotExist) {
		c.ledgerB, c.ledgerEr = nil, nil
	}
	if c.ledgerEr != nil {
		c.problem(ckLedger, "the erasure ledger does not read: %v", c.ledgerEr)
		return nil
	}
	l, err := ledger.Parse(bytes.NewReader(c.ledgerB))
	c.ledgerB = nil
	if err != nil {
		c.problem(ckLedger, "%v", err)
		return nil
	}
	if l.Torn {
		c.problem(ckLedgerTorn, "the last line of the erasure ledger is torn (cut off at the next Open)")
	}
	c.rep.LedgerEntries = int64(len(l.Entries))
	c.digests = map[string]bool{}
	elsewhere := map[uint64]bool{}
	if v, ok, err := c.get(receiptsElsewhereKey); err != nil {
		return err
	} else if ok {
		var seqs []uint64
		if json.Unmarshal(v, &seqs) != nil {
			c.problem(ckLedger, "the list of receipts kept elsewhere does not parse")
		}
		for _, q := range seqs {
			elsewhere[q] = true
		}
	}
	for _, e := range l.Entries {
		if e.Kind != ledger.KindErased {
			continue
		}
		ps, err := parsePS(e.Customer)
		if err != nil {
			c.problem(ckLedger, "entry %d names a malformed pseudonym", e.Seq)
			continue
		}
		c.digests[e.Receipt] = true
		if t, ok := c.erased[ps]; !ok || e.Time.Before(t) {
			c.erased[ps] = e.Time
		}
		if _, ok, err := c.get(keys.Receipt(ps)); err != nil {
			return err
		} else if !ok && elsewhere[e.Seq] {
			c.problem(ckReceiptElsewhere, "entry %d: pseudonym %s was erased after the backup this store was restored from, and was not in it: its receipt stayed with the store that issued it", e.Seq, e.Customer)
		} else if !ok && !c.pendingReceipt(e.Customer) {
			c.problem(ckLedgerNoReceipt, "entry %d: no V receipt for pseudonym %s", e.Seq, e.Customer)
		}
	}
	return nil
}

// pendingReceipt: the pending erasure's clean-up stores this pseudonym's receipt.
func (c *checker) pendingReceipt(ps string) bool {
	if c.marker == nil {
		return false
	}
	for _, rc := range c.marker.Receipts {
		if rc != nil && rc.Customer == ps {
			return true
		}
	}
	return false
}

func (c *checker) checkReceipts() error {
	lo, hi := keys.Kind(keys.KindReceipt)
	pub := c.v.PublicKey()
	return c.walk(lo, hi, func(k, v []byte) error {
		c.rep.Receipts++
		if len(k) != 1+keys.PseudonymSize {
			c.problem(ckReceipt, "V key %x has the wrong size", k)
			return nil
		}
		ps := crypto.Pseudonym(k[1:])
		rc, err := crypto.ParseReceipt(v)
		if err != nil {
			c.problem(ckReceipt, "V %s does not parse", hx(ps[:]))
			return nil
		}
		if err := rc.Verify(pub); err != nil {
			c.problem(ckReceipt, "V %s: the signature does not verify", hx(ps[:]))
			return nil
		}
		if rc.Customer != hx(ps[:]) || rc.StoreID != c.v.StoreIDString() {
			c.problem(ckReceipt, "V %s: the receipt names another pseudonym or store", hx(ps[:]))
			return nil
		}
		d, err := rc.Digest()
		if err != nil || !c.digests[d] {
			c.problem(ckReceipt, "V %s: the erasure ledger has no entry with the receipt's digest", hx(ps[:]))
		}
		if t, ok := c.erased[ps]; !ok || rc.Time.Before(t) {
			c.erased[ps] = rc.Time
		}
		return nil
	})
}

func (c *checker) checkDataKeys() error {
	lo, hi := keys.Kind(keys.KindDataKey)
	return c.walk(lo, hi, func(k, v []byte) error {
		shard, gen, ps, err := keys.ParseDataKey(k)
		if err != nil || int(shard) >= len(c.v.Shards) || crypto.ShardOf(ps, len(c.v.Shards)) != shard {
			c.problem(ckDataKeyMalformed, "D key %x: malformed or in the wrong shard", k)
			return nil
		}
		sk := c.v.Shards[shard]
		if gen != sk.Gen {
			if c.staleOK[[2]uint32{shard, gen}] {
				return nil // the pending erasure's clean-up deletes it
			}
			c.problem(ckDataKeyStale, "D shard %d generation %d (current %d) pseudonym %s", shard, gen, sk.Gen, hx(ps[:]))
			return nil
		}
		ck, err := crypto.UnwrapCustomerKey(&sk.Key, ps, shard, gen, v)
		if err != nil {
			c.problem(ckDataKeyUnwrap, "D shard %d generation %d pseudonym %s does not unwrap", shard, gen, hx(ps[:]))
			return nil
		}
		defer ck.DataKey.Wipe()
		if at, ok := c.erased[ps]; ok && ck.Created < at.Unix() {
			c.problem(ckErasedDataKey, "D shard %d pseudonym %s: created before its erasure", shard, hx(ps[:]))
		}
		if other, dup := c.byPrefix[ck.Prefix]; dup {
			c.problem(ckPrefixShared, "pseudonyms %s and %s share prefix %s", hx(other.ps[:]), hx(ps[:]), hx(ck.Prefix[:]))
			return nil
		}
		cu := &ckCustomer{ps: ps, shard: shard, prefix: ck.Prefix, dk: ck.DataKey, created: ck.Created}
		c.byPrefix[ck.Prefix] = cu
		c.byPS[ps] = cu
		return nil
	})
}

// erasedOnly says whether a pseudonym is erased and has not come back since.
func (c *checker) erasedOnly(ps crypto.Pseudonym) bool {
	_, erased := c.erased[ps]
	return erased && c.byPS[ps] == nil
}

// checkSideData checks holds, objections and disclosures.
func (c *checker) checkSideData() error {
	lo, hi := keys.Kind(keys.KindHold)
	err := c.walk(lo, hi, func(k, v []byte) error {
		c.rep.Holds++
		if len(k) != 1+keys.PseudonymSize || len(v) < holdHeader {
			c.problem(ckHold, "H key %x: malformed", k)
			return nil
		}
		ps := crypto.Pseudonym(k[1:])
		cu := c.byPS[ps]
		switch {
		case c.erasedOnly(ps):
			c.problem(ckErasedHold, "H %s", hx(ps[:]))
			return nil
		case cu == nil:
			c.problem(ckHoldOrphan, "H %s", hx(ps[:]))
			return nil
		}
		pt, err := crypto.OpenCustomerData(&cu.dk, holdPurpose, v[holdHeader:], append(bytes.Clone(k), v[:holdHeader]...))
		if err != nil {
			c.problem(ckHold, "H %s: fails authentication", hx(ps[:]))
			return nil
		}
		var h holdRecord
		err = json.Unmarshal(pt, &h)
		clear(pt)
		e := holdEntryOf(v)
		switch {
		case err != nil:
			c.problem(ckHold, "H %s: does not decode", hx(ps[:]))
		case v[0] != holdActive && v[0] != holdReleased && v[0] != holdReleasing:
			c.problem(ckHold, "H %s: unknown state %d", hx(ps[:]), v[0])
		case !h.Since.Equal(e.since) || h.Bucket != e.bucket:
			c.problem(ckHold, "H %s: the readable header does not match the sealed hold", hx(ps[:]))
		case v[0] == holdActive && !keys.IsHold(h.Bucket):
			c.problem(ckHold, "H %s: bucket %d is not a hold bucket", hx(ps[:]), h.Bucket)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, kind := range []struct {
		kind    byte
		purpose string
		problem string
		count   *int64
	}{{keys.KindObject, objectionPurpose, ckObjection, &c.rep.Objections}, {keys.KindDisclos, disclosurePurpose, ckDisclosure, &c.rep.Disclosures}} {
		lo, hi := keys.Kind(kind.kind)
		err := c.walk(lo, hi, func(k, v []byte) error {
			*kind.count++
			if len(k) < 1+keys.PseudonymSize {
				c.problem(kind.problem, "%c key %x: malformed", kind.kind, k)
				return nil
			}
			ps := crypto.Pseudonym(k[1 : 1+keys.PseudonymSize])
			cu := c.byPS[ps]
			switch {
			case c.erasedOnly(ps):
				c.problem(ckErasedSideData, "%c %s", kind.kind, hx(ps[:]))
				return nil
			case cu == nil:
				c.problem(ckSideOrphan, "%c %s", kind.kind, hx(ps[:]))
				return nil
			}
			pt, err := crypto.OpenCustomerData(&cu.dk, kind.purpose, v, k)
			if err != nil {
				c.problem(kind.problem, "%c %s: fails authentication", kind.kind, hx(ps[:]))
				return nil
			}
			ok := json.Valid(pt)
			clear(pt)
			if !ok {
				c.problem(kind.problem, "%c %s: does not decode", kind.kind, hx(ps[:]))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// recordRun is the run of one customer's records in one bucket being walked.
type recordRun struct {
	bucket uint32
	prefix [keys.PrefixSize]byte
	n      int64
	cu     *ckCustomer
	rc     *crypto.RecordCipher
	on     bool
}

func (c *checker) checkRecords() error {
	lo, hi := keys.Kind(keys.KindRecord)
	var run recordRun
	err := c.walk(lo, hi, func(k, v []byte) error {
		c.records++
		pk, err := keys.ParseRecord(k)
		if err != nil {
			c.problem(ckRecordKey, "R key %x: malformed", k)
			return nil
		}
		if !run.on || run.bucket != pk.Bucket || run.prefix != pk.Prefix {
			if err := c.endRun(&run); err != nil {
				return err
			}
			run = recordRun{bucket: pk.Bucket, prefix: pk.Prefix, on: true, cu: c.byPrefix[pk.Prefix]}
		}
		run.n++
		if run.cu != nil {
			run.cu.records++
		} else {
			c.orphanRecs++
		}
		if c.gone(pk.Bucket) {
			return nil // reported once per run
		}
		if run.cu == nil {
			c.problem(ckRecordOrphan, "R bucket %d prefix %s", pk.Bucket, hx(pk.Prefix[:]))
			return nil
		}
		if err := c.checkLocatorOf(&pk); err != nil {
			return err
		}
		if c.opts.Records {
			c.openRecord(&run, k, v, &pk)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.endRun(&run)
}

// endRun checks a finished run against its membership entries.
func (c *checker) endRun(r *recordRun) error {
	if !r.on {
		return nil
	}
	if c.gone(r.bucket) {
		c.leftovers = true
		if c.expired(r.bucket) {
			c.problem(ckRecordGone, "%d record(s) in destroyed bucket %d, prefix %s (cleaned up by the next expiry or Open)", r.n, r.bucket, hx(r.prefix[:]))
		} else {
			c.problem(ckRecordNoBucketKey, "%d record(s) in bucket %d, prefix %s: the bucket has no key", r.n, r.bucket, hx(r.prefix[:]))
		}
		return nil
	}
	if r.cu == nil {
		return nil
	}
	n, ok, err := c.counterAt(keys.Bucket(r.prefix, r.bucket))
	if err != nil {
		return err
	}
	if !ok || first(n) != r.n {
		c.problem(ckMemberCount, "B prefix %s bucket %d counts %d, %d record(s) found", hx(r.prefix[:]), r.bucket, first(n), r.n)
	}
	return nil
}

// checkLocatorOf checks that a record has a locator that points at it: the locator's tag
// starts with the record key's tag.
func (c *checker) checkLocatorOf(pk *keys.ParsedRecord) error {
	p := append(append([]byte{keys.KindLocator}, pk.Prefix[:]...), pk.Tag[:]...)
	found := false
	err := c.scanPrefix(p, func(_, v []byte) bool {
		found = len(v) == locatorLen && beU32(v[0:4]) == pk.Bucket && beU64(v[4:12]) == pk.Time
		return !found
	})
	if err == nil && !found {
		c.problem(ckRecordNoLocator, "R bucket %d prefix %s tag %s", pk.Bucket, hx(pk.Prefix[:]), hx(pk.Tag[:]))
	}
	return err
}

// openRecord authenticates and decodes a record and checks it against its key.
func (c *checker) openRecord(r *recordRun, k, v []byte, pk *keys.ParsedRecord) {
	name := func() string {
		return fmt.Sprintf("R bucket %d prefix %s tag %s", pk.Bucket, hx(pk.Prefix[:]), hx(pk.Tag[:]))
	}
	if r.rc == nil {
		bk := c.v.Buckets[pk.Bucket]
		rk := crypto.DeriveRecordKey(&bk, &r.cu.dk, pk.Bucket)
		rc, err := crypto.NewRecordCipher(&rk)
		rk.Wipe()
		if err != nil {
			c.problem(ckRecordOpen, "%s: no cipher", name())
			return
		}
		r.rc = rc
	}
	env, err := record.ParseEnvelope(v)
	if err != nil {
		c.problem(ckRecordOpen, "%s: malformed envelope", name())
		return
	}
	pt, err := r.rc.Open(nil, env.Sealed, recordAAD(k, env.Header))
	if err != nil {
		c.problem(ckRecordOpen, "%s: fails authentication", name())
		return
	}
	c.rep.RecordsOpened++
	ct, err := c.s.decodePayload(env, pt)
	clear(pt)
	if err != nil {
		c.problem(ckRecordDecode, "%s: does not decode", name())
		return
	}
	tag := crypto.ContactTag(&r.cu.dk, ct.ID)
	if subtle.ConstantTimeCompare(tag[:keys.RecordTagSize], pk.Tag[:]) != 1 || keys.TimeKey(ct.Time) != pk.Time {
		c.problem(ckRecordMismatch, "%s: the contact's id or time does not match the key", name())
	}
}

func (c *checker) checkLocators() error {
	lo, hi := keys.Kind(keys.KindLocator)
	return c.walk(lo, hi, func(k, v []byte) error {
		c.rep.Locators++
		if len(k) != keys.LocatorLen || len(v) != locatorLen {
			c.problem(ckLocatorMalformed, "X key %x: malformed", k)
			return nil
		}
		prefix := [keys.PrefixSize]byte(k[1 : 1+keys.PrefixSize])
		bucket, t := beU32(v[0:4]), beU64(v[4:12])
		switch {
		case c.gone(bucket):
			c.leftovers = true
			c.problem(ckLocatorGone, "X prefix %s points into destroyed bucket %d", hx(prefix[:]), bucket)
			return nil
		case c.byPrefix[prefix] == nil:
			c.problem(ckLocatorOrphan, "X prefix %s", hx(prefix[:]))
			return nil
		}
		rk := keys.Record(bucket, prefix, t, k[1+keys.PrefixSize:])
		if _, ok, err := c.get(rk); err != nil {
			return err
		} else if !ok {
			c.problem(ckLocatorNoRecord, "X prefix %s tag %s → bucket %d", hx(prefix[:]), hx(k[1+keys.PrefixSize:]), bucket)
		}
		return nil
	})
}

func (c *checker) checkMemberships() error {
	lo, hi := keys.Kind(keys.KindBucket)
	return c.walk(lo, hi, func(k, v []byte) error {
		c.rep.Memberships++
		if len(k) != 1+keys.PrefixSize+4 {
			c.problem(ckMemberCount, "B key %x: malformed", k)
			return nil
		}
		prefix := [keys.PrefixSize]byte(k[1 : 1+keys.PrefixSize])
		bucket := beU32(k[1+keys.PrefixSize:])
		n, err := decodeCounters(v)
		if err != nil {
			c.problem(ckCounterMalformed, "B prefix %s bucket %d does not decode", hx(prefix[:]), bucket)
			return nil
		}
		cnt := first(n)
		cu := c.byPrefix[prefix]
		if cu != nil {
			cu.members += cnt
		}
		c.bucketSums[bucket] += cnt
		if c.gone(bucket) {
			c.leftovers = true
			c.problem(ckMemberGone, "B prefix %s bucket %d (destroyed)", hx(prefix[:]), bucket)
			return nil
		}
		if cu == nil {
			c.problem(ckMemberOrphan, "B prefix %s bucket %d", hx(prefix[:]), bucket)
			return nil
		}
		if cnt < 0 {
			c.problem(ckMemberCount, "B prefix %s bucket %d counts %d", hx(prefix[:]), bucket, cnt)
		}
		if _, ok, err := c.get(keys.Expiry(bucket, prefix)); err != nil {
			return err
		} else if !ok {
			c.problem(ckMemberNoExpiry, "B prefix %s bucket %d", hx(prefix[:]), bucket)
		}
		return nil
	})
}

func (c *checker) checkExpiry() error {
	lo, hi := keys.Kind(keys.KindExpiry)
	return c.walk(lo, hi, func(k, v []byte) error {
		if len(k) != 5+keys.PrefixSize {
			c.problem(ckExpiryNoMember, "E key %x: malformed", k)
			return nil
		}
		bucket := beU32(k[1:5])
		prefix := [keys.PrefixSize]byte(k[5:])
		if c.gone(bucket) {
			c.leftovers = true
			c.problem(ckMemberGone, "E bucket %d prefix %s (destroyed)", bucket, hx(prefix[:]))
			return nil
		}
		cu := c.byPrefix[prefix]
		if cu == nil {
			c.problem(ckMemberOrphan, "E bucket %d prefix %s", bucket, hx(prefix[:]))
			return nil
		}
		if len(v) == 4 && beU32(v) != cu.shard {
			c.problem(ckExpiryNoMember, "E bucket %d prefix %s names shard %d, the customer's is %d", bucket, hx(prefix[:]), beU32(v), cu.shard)
		}
		if _, ok, err := c.get(keys.Bucket(prefix, bucket)); err != nil {
			return err
		} else if !ok {
			c.problem(ckExpiryNoMember, "E bucket %d prefix %s", bucket, hx(prefix[:]))
		}
		return nil
	})
}

// counterProblem reports a counter mismatch: an error, or a warning while leftovers of
// destroyed buckets are being cleaned up (the clean-up moves the counters in steps).
func (c *checker) counterProblem(kind, format string, args ...any) {
	if c.leftovers {
		c.problem(ckCounterCleanup, format, args...)
		return
	}
	c.problem(kind, format, args...)
}

func (c *checker) checkCounters() error {
	lo := keys.Stat("c")
	var sumCustomers int64
	err := c.walk(lo, keys.Successor(lo), func(k, v []byte) error {
		if len(k) != len(lo)+keys.PrefixSize {
			c.problem(ckCounterMalformed, "S c key %x: malformed", k)
			return nil
		}
		n, err := decodeCounters(v)
		if err != nil {
			c.problem(ckCounterMalformed, "S c %x does not decode", k[len(lo):])
			return nil
		}
		prefix := [keys.PrefixSize]byte(k[len(lo):])
		cu := c.byPrefix[prefix]
		sumCustomers += first(n)
		if cu == nil {
			if first(n) != 0 {
				c.counterProblem(ckCounterCustomer, "S c prefix %s counts %d of no live customer", hx(prefix[:]), first(n))
			}
			return nil
		}
		cu.counter = first(n)
		return nil
	})
	if err != nil {
		return err
	}
	var sumRecords int64
	for _, cu := range c.byPrefix {
		sumRecords += cu.records
		if cu.counter != cu.members || cu.members != cu.records {
			c.counterProblem(ckCounterCustomer, "prefix %s: S c counts %d, its memberships %d, %d record(s) found", hx(cu.prefix[:]), cu.counter, cu.members, cu.records)
		}
	}
	blo := keys.Stat("b")
	err = c.walk(blo, keys.Successor(blo), func(k, v []byte) error {
		if len(k) != len(blo)+4 {
			c.problem(ckCounterMalformed, "S b key %x: malformed", k)
			return nil
		}
		n, err := decodeCounters(v)
		if err != nil {
			c.problem(ckCounterMalformed, "S b %x does not decode", k[len(blo):])
			return nil
		}
		b := beU32(k[len(blo):])
		if want := c.bucketSums[b]; first(n) != want && !(b == keys.NoExpiry && first(n) < 0) {
			c.counterProblem(ckCounterBucket, "S b bucket %d counts %d, its memberships %d", b, first(n), want)
		}
		delete(c.bucketSums, b)
		return nil
	})
	if err != nil {
		return err
	}
	for b, want := range c.bucketSums {
		if want != 0 {
			c.counterProblem(ckCounterBucket, "bucket %d has no S b counter, its memberships count %d", b, want)
		}
	}
	t, _, err := c.counterAt(totalsKey)
	if err != nil {
		return err
	}
	var tc, tu int64
	if len(t) > totCustomers {
		tc, tu = t[totContacts], t[totCustomers]
	} else if len(t) > 0 {
		tc = t[0]
	}
	if tc != sumCustomers || tc != sumRecords+c.orphanRecs {
		c.counterProblem(ckCounterTotals, "S t counts %d contact(s); customer counters %d, records %d", tc, sumCustomers, sumRecords+c.orphanRecs)
	}
	if tu != int64(len(c.byPrefix)) {
		c.counterProblem(ckCounterTotals, "S t counts %d customer(s), %d live data key(s)", tu, len(c.byPrefix))
	}
	return nil
}

func (c *checker) checkIndex() error {
	lo, hi := keys.Kind(keys.KindIndex)
	return c.walk(lo, hi, func(k, _ []byte) error {
		c.rep.IndexEntries++
		tok, ps, err := keys.ParseIndex(k)
		if err != nil {
			c.problem(ckIndexMalformed, "I key %x: malformed", k)
			return nil
		}
		cu := c.byPS[ps]
		switch {
		case c.erasedOnly(ps):
			c.problem(ckErasedIndex, "I token %s → erased pseudonym %s", hx(tok[:]), hx(ps[:]))
			return nil
		case cu == nil:
			c.problem(ckIndexNoCustomer, "I token %s → pseudonym %s", hx(tok[:]), hx(ps[:]))
			return nil
		}
		p := append(append([]byte{keys.KindIndexOf}, cu.prefix[:]...), tok[:]...)
		found := false
		err = c.scanPrefix(p, func(_, v []byte) bool {
			found = len(v) == 1+keys.PseudonymSize && bytes.Equal(v[1:], ps[:])
			return !found
		})
		if err == nil && !found {
			c.problem(ckIndexNoMember, "I token %s → pseudonym %s: no J entry", hx(tok[:]), hx(ps[:]))
		}
		return err
	})
}

func (c *checker) checkIndexOf() error {
	lo, hi := keys.Kind(keys.KindIndexOf)
	return c.walk(lo, hi, func(k, v []byte) error {
		c.rep.IndexMemberships++
		prefix, tok, bucket, err := keys.ParseIndexOf(k)
		if err != nil || len(v) != 1+keys.PseudonymSize {
			c.problem(ckIndexMalformed, "J key %x: malformed", k)
			return nil
		}
		ps := crypto.Pseudonym(v[1:])
		cu := c.byPrefix[prefix]
		switch {
		case c.gone(bucket):
			c.leftovers = true
			c.problem(ckIndexOfGone, "J prefix %s token %s bucket %d (destroyed)", hx(prefix[:]), hx(tok[:]), bucket)
			return nil
		case cu == nil:
			c.problem(ckIndexOfOrphan, "J prefix %s token %s bucket %d", hx(prefix[:]), hx(tok[:]), bucket)
			return nil
		case cu.ps != ps:
			c.problem(ckIndexMalformed, "J prefix %s names pseudonym %s, not its customer's", hx(prefix[:]), hx(ps[:]))
			return nil
		}
		if _, ok, err := c.get(keys.Index(tok, ps)); err != nil {
			return err
		} else if !ok {
			c.problem(ckIndexOfNoEntry, "J prefix %s token %s bucket %d", hx(prefix[:]), hx(tok[:]), bucket)
		}
		return nil
	})
}

func (c *checker) checkAudit() error {
	ver := audit.NewVerifier(c.v.PublicKey(), 1, "")
	broken := false
	lo, hi := keys.Kind(keys.KindAudit)
	err := c.walk(lo, hi, func(k, v []byte) error {
		if broken {
			return nil
		}
		e, err := audit.Decode(v)
		if err != nil || len(k) != 9 || beU64(k[1:]) != e.Seq {
			c.problem(ckAudit, "A key %x: malformed entry", k)
			broken = true
			return nil
		}
		if err := ver.Add(e); err != nil {
			c.problem(ckAudit, "%v", err)
			broken = true
		}
		return nil
	})
	c.rep.AuditEntries = ver.Entries
	return err
}

// checkKinds looks for keys of kinds the store does not write.
func (c *checker) checkKinds() error {
	known := string([]byte{keys.KindMeta, keys.KindDataKey, keys.KindRecord, keys.KindLocator, keys.KindBucket,
		keys.KindExpiry, keys.KindStat, keys.KindAudit, keys.KindReceipt, keys.KindHold, keys.KindObject,
		keys.KindDisclos, keys.KindIndex, keys.KindIndexOf})
	it, err := c.snap.NewIter(nil)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) == 0 {
			ok = it.Next()
			continue
		}
		if bytes.IndexByte([]byte(known), k[0]) < 0 {
			c.problem(ckUnknownKind, "keys of kind %q (0x%02x)", k[0], k[0])
		}
		if k[0] == 0xff {
			break
		}
		ok = it.SeekGE([]byte{k[0] + 1})
	}
	return it.Close()
}
