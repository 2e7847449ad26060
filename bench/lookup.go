package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"contactstore/bench/workload"
	"contactstore/crypto"
	"contactstore/index"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
)

// The lookup scenario: find the customer behind an e-mail address or a phone number
// (DESIGN.md §4, the blind indexes), in a store of many customers.
//
// N contacts of Customers customers are generated from the seed and spread over the
// customers round-robin (contact i belongs to customer i mod Customers, so that every
// customer has N/Customers contacts, give or take one; the workload's own skew would leave
// most of a million customers without any). A contact that the workload gave an e-mail
// address or a phone number carries its new customer's primary address or number, as the
// workload writes it. Each peer is loaded in turn (fsync per batch), settled, and then
// answers the same Lookups lookups:
//
//   - 90% hits, alternately e-mail addresses and phone numbers of random customers
//     (uniformly among the customers with a contact carrying one; phone numbers only among
//     those the store's normaliser reads in region NL: UK national numbers, for instance,
//     are not indexed); the customer must be among the customers returned (addresses and
//     numbers can be shared: the workload's UK mobile numbers come from a range of 1,000);
//   - 10% misses (each lookup is one with probability 1/10), alternately addresses and NL
//     numbers no contact carries: nothing may be returned.
//
// The peers:
//
//   - "contactstore": store.Find(index.Email(a)) or Find(index.Phone(n)) on a store opened
//     with PhoneRegion "NL": the value normalised (e-mail: IDNA domain; phone:
//     libphonenumber to E.164), its HMAC token looked up, each customer's sealed key opened
//     and checked for a live contact, the lookup audited.
//   - "pebble-tuned-nocompress": plain Pebble with the store's options, the contacts as in
//     the get scenario plus a plaintext secondary index written in the same batch:
//     "e:" lower-cased address "\x00" customer and "p:" digits of the number "\x00"
//     customer, both with empty values; a lookup is one prefix iteration. The physical
//     limit: no normalisation beyond that, no cryptography.
//   - "sqlite-aesgcm": the SQLite peer of the ingest scenario (WAL, per-record AES-GCM)
//     plus what a team would build for lookups, a blind index in SQLite:
//     idx(token BLOB, customer TEXT, PRIMARY KEY (token, customer)) WITHOUT ROWID, the
//     token HMAC-SHA256 (truncated to 16 bytes) of the kind and the value normalised as for
//     Pebble, written in the contacts' transaction; a lookup is one prepared SELECT.

// Defaults of the lookup scenario.
const (
	DefaultLookupCustomers = 1_000_000
	DefaultLookupLookups   = 10_000
)

// LookupPeers lists the peers RunLookup can run, in order; all of them by default.
var LookupPeers = []string{PeerStore, PeerPebbleTunedNoCompress, PeerSQLiteAESGCM}

// lookupRegion is the phone region the store indexes with and the misses are made in.
const lookupRegion = "NL"

// LookupConfig describes a lookup comparison. Zero fields take defaults.
type LookupConfig struct {
	// N is the number of contacts loaded (default Customers).
	N int
	// Customers is the number of customers (default 1,000,000, or N when N is set).
	Customers int
	// Seed is the workload seed; it also draws the lookups.
	Seed int64
	// Lookups is the number of lookups per peer (default 10,000).
	Lookups int
	// Batch is the number of contacts per batch when loading (default 1,000).
	Batch int
	// Peers are the peers to run (see LookupPeers; default all).
	Peers []string
	// Dir is where the peers' directories go (Dir/<peer>, which must not exist). Empty
	// means a temporary directory. Each peer's directory is removed once it is measured
	// unless Keep is set.
	Dir  string
	Keep bool
}

func (cfg LookupConfig) withDefaults() (LookupConfig, error) {
	switch {
	case cfg.Customers <= 0 && cfg.N <= 0:
		cfg.Customers = DefaultLookupCustomers
	case cfg.Customers <= 0:
		cfg.Customers = cfg.N
	}
	if cfg.N <= 0 {
		cfg.N = cfg.Customers
	}
	if cfg.Lookups <= 0 {
		cfg.Lookups = DefaultLookupLookups
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if len(cfg.Peers) == 0 {
		cfg.Peers = LookupPeers
	}
	seen := map[string]bool{}
	for _, p := range cfg.Peers {
		if !slices.Contains(LookupPeers, p) {
			return cfg, fmt.Errorf("bench: lookup: unknown peer %q (want %s)", p, strings.Join(LookupPeers, ", "))
		}
		if seen[p] {
			return cfg, fmt.Errorf("bench: lookup: peer %q named twice", p)
		}
		seen[p] = true
	}
	return cfg, nil
}

// LookupResult is one peer's measurement.
type LookupResult struct {
	Peer string `json:"peer"`
	// N is the number of contacts, Customers the number of customers (each has contacts).
	N          int   `json:"n"`
	Customers  int   `json:"customers"`
	InputBytes int64 `json:"input_bytes"`
	// Emails, Phones and Misses count the lookups of each kind.
	Emails int `json:"emails"`
	Phones int `json:"phones"`
	Misses int `json:"misses"`
	// Returned is the number of customer ids all lookups returned, MostReturned the most
	// one lookup returned.
	Returned     int64 `json:"returned"`
	MostReturned int   `json:"most_returned"`
	// Latency is over every lookup; EmailLatency, PhoneLatency and MissLatency over those
	// of one kind (their Elapsed is the sum of their latencies).
	Latency      LatencyStats `json:"latency"`
	EmailLatency LatencyStats `json:"email_latency"`
	PhoneLatency LatencyStats `json:"phone_latency"`
	MissLatency  LatencyStats `json:"miss_latency"`
	Mem          MemPeak      `json:"mem"`
	// Load is the time the peer took to write every contact (generation excluded), Settle
	// the time to settle it afterwards.
	Load     time.Duration `json:"load_ns"`
	Settle   time.Duration `json:"settle_ns"`
	Disk     int64         `json:"disk"`
	Verified string        `json:"verified"`
	Method   string        `json:"method"`
}

// lookupOp is one lookup: a kind, the value as a customer wrote it, and the customer it
// must find ("" for a miss).
type lookupOp struct {
	kind  index.Kind
	value string
	want  string
}

// lookupTruth is what the generated contacts carry, per customer index.
type lookupTruth struct {
	email, phone []bool
	inputBytes   int64
}

// lookupData generates the scenario's contacts batch by batch, the same every time.
type lookupData struct {
	seed             int64
	n, customers     int
	batch            int
	truth            *lookupTruth // filled by the first pass
	customersWithAny int
}

// each generates the contacts and passes them to put a batch at a time. The first call
// records the truth.
func (d *lookupData) each(ctx context.Context, put func([]store.Contact) error) error {
	g := workload.New(workload.Config{Seed: d.seed, Customers: d.customers, WithIDs: true, Count: d.n})
	var t *lookupTruth
	if d.truth == nil {
		t = &lookupTruth{email: make([]bool, d.customers), phone: make([]bool, d.customers)}
	}
	buf := make([]store.Contact, 0, d.batch)
	for i := range d.n {
		c := g.Next()
		k := i % d.customers
		id, _, email, phone := g.Customer(k)
		c.Customer = id
		if c.Email != "" {
			c.Email = email
		}
		if c.Phone != "" {
			c.Phone = phone
		}
		if t != nil {
			t.email[k] = t.email[k] || c.Email != ""
			t.phone[k] = t.phone[k] || c.Phone != ""
		}
		buf = append(buf, c)
		if len(buf) == d.batch || i == d.n-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if t != nil {
				n, err := jsonSize(buf)
				if err != nil {
					return err
				}
				t.inputBytes += n
			}
			if err := put(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if t != nil {
		d.truth = t
		d.customersWithAny = min(d.n, d.customers)
	}
	return nil
}

// lookups draws k lookups from the seed with the truth.
func (d *lookupData) lookups(k int) ([]lookupOp, error) {
	g := workload.New(workload.Config{Seed: d.seed, Customers: d.customers, WithIDs: true, Count: d.n})
	norm := index.Normalizer{Region: lookupRegion}
	var emails, phones []int32
	for i := range min(d.n, d.customers) {
		if d.truth.email[i] {
			emails = append(emails, int32(i))
		}
		if d.truth.phone[i] {
			phones = append(phones, int32(i))
		}
	}
	r := rand.New(rand.NewPCG(uint64(d.seed), 0x6c6f6f6b7570))
	ops := make([]lookupOp, 0, k)
	misses, hits := 0, 0
	for len(ops) < k {
		if r.IntN(10) == 0 {
			ops = append(ops, missOp(r, misses))
			misses++
			continue
		}
		hits++
		if hits%2 == 1 {
			if len(emails) == 0 {
				return nil, errors.New("bench: lookup: no contact carries an e-mail address: load more contacts")
			}
			c := emails[r.IntN(len(emails))]
			id, _, email, _ := g.Customer(int(c))
			ops = append(ops, lookupOp{kind: index.KindEmail, value: email, want: id})
			continue
		}
		// A customer whose number the store indexes; a bounded number of tries.
		found := false
		for range 100 {
			if len(phones) == 0 {
				break
			}
			c := phones[r.IntN(len(phones))]
			id, _, _, phone := g.Customer(int(c))
			if _, err := norm.Normalize(index.KindPhone, phone); err != nil {
				continue
			}
			ops = append(ops, lookupOp{kind: index.KindPhone, value: phone, want: id})
			found = true
			break
		}
		if !found {
			return nil, errors.New("bench: lookup: too few contacts carry a phone number the store indexes: load more contacts")
		}
	}
	return ops, nil
}

// missOp returns the i-th lookup no contact can answer: alternately an address at a domain
// the workload never uses and an NL number in the 088 range, which it never writes.
func missOp(r *rand.Rand, i int) lookupOp {
	if i%2 == 0 {
		return lookupOp{kind: index.KindEmail, value: fmt.Sprintf("absent.%d@nowhere-%d.example", r.IntN(1e9), i)}
	}
	return lookupOp{kind: index.KindPhone, value: fmt.Sprintf("088-%07d", r.IntN(1e7))}
}

// checkFound verifies a lookup's answer. The error names the lookup by position and kind,
// never by its value.
func checkFound(i int, op lookupOp, got []string) error {
	if op.want == "" {
		if len(got) != 0 {
			return fmt.Errorf("lookup %d (%s, a miss) returned %d customers, want none", i, op.kind, len(got))
		}
		return nil
	}
	if !slices.Contains(got, op.want) {
		return fmt.Errorf("lookup %d (%s) returned %d customers, not the one whose contact carries the value", i, op.kind, len(got))
	}
	return nil
}

// lookupPeer is a peer of the lookup scenario.
type lookupPeer interface {
	put(ctx context.Context, batch []store.Contact) error
	settle(ctx context.Context) error
	find(ctx context.Context, kind index.Kind, value string) ([]string, error)
	close()
	method() string
}

func openLookupPeer(name, dir string) (lookupPeer, error) {
	switch name {
	case PeerStore:
		return openStoreLookup(dir)
	case PeerPebbleTunedNoCompress:
		p, err := openPebblePeer(dir, true, func() *pebble.Options { return tunedOptions(false) })
		if err != nil {
			return nil, err
		}
		return &pebbleLookup{p}, nil
	case PeerSQLiteAESGCM:
		return openSQLiteLookup(dir)
	}
	return nil, fmt.Errorf("bench: lookup: unknown peer %q", name)
}

// ---- contactstore ----

type storeLookup struct{ s *store.Store }

func openStoreLookup(dir string) (*storeLookup, error) {
	s, err := store.Open(dir, &store.Options{
		RootKey:         crypto.NewRootKey(crypto.MustNewKey(), "bench key"),
		CreateIfMissing: true,
		ErrorIfExists:   true,
		ExpiryInterval:  -1,
		PhoneRegion:     lookupRegion,
		Logger:          slog.New(&expiryLog{}),
	})
	if err != nil {
		return nil, err
	}
	return &storeLookup{s}, nil
}

func (p *storeLookup) put(ctx context.Context, batch []store.Contact) error {
	_, err := p.s.Put(ctx, batch)
	return err
}

func (p *storeLookup) settle(ctx context.Context) error {
	if err := p.s.Flush(); err != nil {
		return err
	}
	return p.s.WaitForCompactions(ctx)
}

func (p *storeLookup) find(ctx context.Context, kind index.Kind, value string) ([]string, error) {
	t := index.Email(value)
	if kind == index.KindPhone {
		t = index.Phone(value)
	}
	return p.s.Find(ctx, t)
}

func (p *storeLookup) close() { p.s.Close() }

func (p *storeLookup) method() string {
	return "store.Find: the value normalised (e-mail: IDNA; phone: libphonenumber, region NL, to E.164), its HMAC token's entries iterated, each customer's sealed key opened and checked for a live contact, the lookup audited"
}

// ---- plain Pebble with a plaintext index ----

type pebbleLookup struct{ p *pebblePeer }

// pebbleIndexKey appends the plaintext index key of a value: "e:" or "p:", the value
// normalised (e-mail lower-cased, phone digits only), a zero byte, then the customer.
func pebbleIndexKey(dst []byte, kind index.Kind, value, customer string) []byte {
	if kind == index.KindPhone {
		dst = append(dst, "p:"...)
		for i := range len(value) {
			if value[i] >= '0' && value[i] <= '9' {
				dst = append(dst, value[i])
			}
		}
	} else {
		dst = append(dst, "e:"...)
		dst = append(dst, strings.ToLower(value)...)
	}
	dst = append(dst, 0)
	return append(dst, customer...)
}

func (p *pebbleLookup) put(ctx context.Context, batch []store.Contact) error {
	b := p.p.db.NewBatch()
	defer b.Close()
	key := make([]byte, 0, 128)
	for i := range batch {
		c := &batch[i]
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		key = PebbleKey(key[:0], c)
		if err := b.Set(key, v, nil); err != nil {
			return err
		}
		for _, t := range []struct {
			kind  index.Kind
			value string
		}{{index.KindEmail, c.Email}, {index.KindPhone, c.Phone}} {
			if t.value == "" {
				continue
			}
			key = pebbleIndexKey(key[:0], t.kind, t.value, c.Customer)
			if err := b.Set(key, nil, nil); err != nil {
				return err
			}
		}
	}
	return b.Commit(p.p.wo)
}

func (p *pebbleLookup) settle(ctx context.Context) error {
	if err := p.p.db.Flush(); err != nil {
		return err
	}
	return WaitQuiet(ctx, PebbleIdle(p.p.db))
}

func (p *pebbleLookup) find(_ context.Context, kind index.Kind, value string) ([]string, error) {
	lo := pebbleIndexKey(nil, kind, value, "")
	hi := append(slices.Clone(lo[:len(lo)-1]), 1)
	it, err := p.p.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	var ids []string
	for ok := it.First(); ok; ok = it.Next() {
		ids = append(ids, string(it.Key()[len(lo):]))
	}
	return ids, it.Close()
}

func (p *pebbleLookup) close() { p.p.close() }

func (p *pebbleLookup) method() string {
	return "one prefix iteration over plaintext index keys (e: lower-cased address or p: digits of the number, then the customer), written with the contacts"
}

// ---- SQLite with a blind index ----

const sqliteIndexSchema = `CREATE TABLE IF NOT EXISTS idx (
	token    BLOB NOT NULL,
	customer TEXT NOT NULL,
	PRIMARY KEY (token, customer)
) WITHOUT ROWID`

type sqliteLookup struct {
	p        *sqlitePeer
	insIdx   *sql.Stmt
	sel      *sql.Stmt
	tokenMAC hash.Hash // for find only: one lookup at a time
}

func openSQLiteLookup(dir string) (*sqliteLookup, error) {
	p, err := openSQLitePeer(PeerSQLiteAESGCM, dir, true)
	if err != nil {
		return nil, err
	}
	l := &sqliteLookup{p: p, tokenMAC: hmac.New(sha256.New, p.macKey)}
	if _, err := p.db.Exec(sqliteIndexSchema); err != nil {
		p.close()
		return nil, fmt.Errorf("bench: sqlite: %w", err)
	}
	if err := l.prepare(); err != nil {
		p.close()
		return nil, err
	}
	return l, nil
}

func (l *sqliteLookup) prepare() error {
	var err error
	if l.insIdx, err = l.p.db.Prepare(`INSERT OR IGNORE INTO idx (token, customer) VALUES (?, ?)`); err != nil {
		return fmt.Errorf("bench: sqlite: %w", err)
	}
	if l.sel, err = l.p.db.Prepare(`SELECT customer FROM idx WHERE token = ?`); err != nil {
		return fmt.Errorf("bench: sqlite: %w", err)
	}
	return nil
}

// sqliteToken appends the blind-index token of a value: HMAC-SHA256 of the kind's letter
// and the value normalised as for Pebble, truncated to 16 bytes.
func sqliteToken(dst []byte, mac hash.Hash, kind index.Kind, value string) []byte {
	k := pebbleIndexKey(nil, kind, value, "")
	mac.Reset()
	mac.Write(k[:len(k)-1])
	var sum [sha256.Size]byte
	return append(dst, mac.Sum(sum[:0])[:sqlitePseudonymSize]...)
}

func (l *sqliteLookup) put(ctx context.Context, batch []store.Contact) error {
	rows, err := l.p.encode(batch)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, l.p.macKey)
	type idxRow struct {
		token    []byte
		customer string
	}
	var idx []idxRow
	for i := range batch {
		c := &batch[i]
		if c.Email != "" {
			idx = append(idx, idxRow{sqliteToken(nil, mac, index.KindEmail, c.Email), c.Customer})
		}
		if c.Phone != "" {
			idx = append(idx, idxRow{sqliteToken(nil, mac, index.KindPhone, c.Phone), c.Customer})
		}
	}
	tx, err := l.p.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	ins, insIdx := tx.StmtContext(ctx, l.p.ins), tx.StmtContext(ctx, l.insIdx)
	for i := range rows {
		r := &rows[i]
		if _, err := ins.ExecContext(ctx, r.customer, r.time, r.id, r.value); err != nil {
			tx.Rollback()
			return err
		}
	}
	for _, r := range idx {
		if _, err := insIdx.ExecContext(ctx, r.token, r.customer); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (l *sqliteLookup) settle(ctx context.Context) error { return l.p.checkpoint(ctx) }

func (l *sqliteLookup) find(ctx context.Context, kind index.Kind, value string) ([]string, error) {
	tok := sqliteToken(make([]byte, 0, sqlitePseudonymSize), l.tokenMAC, kind, value)
	rows, err := l.sel.QueryContext(ctx, tok)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (l *sqliteLookup) close() {
	for _, s := range []*sql.Stmt{l.insIdx, l.sel} {
		if s != nil {
			s.Close()
		}
	}
	l.p.close()
}

func (l *sqliteLookup) method() string {
	return "one prepared SELECT customer FROM idx WHERE token = ? (idx: HMAC-SHA256 token of the lower-cased address or the number's digits, 16 bytes, and the customer id; primary key (token, customer), WITHOUT ROWID), written in the contacts' transaction"
}

// RunLookup runs the lookup scenario (see the comment at the top of lookup.go) and returns
// one result per peer in cfg.Peers order. progress, if not nil, receives a line about each
// step, and about every tenth of a peer's load.
func RunLookup(ctx context.Context, cfg LookupConfig, progress func(string)) ([]LookupResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	say := func(f string, a ...any) {
		progress(fmt.Sprintf("lookup C=%d: ", cfg.Customers) + fmt.Sprintf(f, a...))
	}
	root := cfg.Dir
	if root == "" {
		if root, err = os.MkdirTemp("", "contactstore-bench-lookup-*"); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		cfg.Keep = false
		defer os.RemoveAll(root)
	}
	for _, p := range cfg.Peers {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return nil, fmt.Errorf("bench: %s already exists: remove it or choose another directory", filepath.Join(root, p))
		}
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	d := &lookupData{seed: cfg.Seed, n: cfg.N, customers: cfg.Customers, batch: cfg.Batch}
	var (
		ops     []lookupOp
		results []LookupResult
	)
	for _, name := range cfg.Peers {
		dir := filepath.Join(root, name)
		r, err := runLookupPeer(ctx, name, dir, d, &ops, cfg.Lookups, say)
		if !cfg.Keep {
			os.RemoveAll(dir)
		}
		if err != nil {
			return results, fmt.Errorf("bench: lookup %s: %w", name, err)
		}
		results = append(results, r)
	}
	return results, nil
}

// runLookupPeer loads, settles and measures one peer. The first peer's load records the
// truth, from which *ops is drawn.
func runLookupPeer(ctx context.Context, name, dir string, d *lookupData, ops *[]lookupOp, k int, say func(string, ...any)) (LookupResult, error) {
	r := LookupResult{Peer: name, N: d.n}
	p, err := openLookupPeer(name, dir)
	if err != nil {
		return r, err
	}
	defer p.close()
	r.Method = p.method()
	say("%s: loading %s contacts of %s customers", name, thousands(float64(d.n)), thousands(float64(min(d.n, d.customers))))
	done, step := 0, max(d.n/10, 1)
	err = d.each(ctx, func(b []store.Contact) error {
		t := time.Now()
		err := p.put(ctx, b)
		r.Load += time.Since(t)
		if done/step != (done+len(b))/step && done+len(b) < d.n {
			say("%s: loaded %s of %s contacts", name, thousands(float64(done+len(b))), thousands(float64(d.n)))
		}
		done += len(b)
		return err
	})
	if err != nil {
		return r, err
	}
	say("%s: settling", name)
	t := time.Now()
	if err := p.settle(ctx); err != nil {
		return r, fmt.Errorf("settling: %w", err)
	}
	r.Settle = time.Since(t)
	r.Customers, r.InputBytes = d.customersWithAny, d.truth.inputBytes
	if *ops == nil {
		if *ops, err = d.lookups(k); err != nil {
			return r, err
		}
	}
	du, err := dirSize(dir)
	if err != nil {
		return r, err
	}
	r.Disk = du.Total
	say("%s: %s lookups", name, thousands(float64(len(*ops))))
	if err := measureLookups(ctx, p, *ops, &r); err != nil {
		return r, err
	}
	return r, nil
}

// measureLookups runs the lookups, verifies every answer and fills r's counts, latencies
// and memory.
func measureLookups(ctx context.Context, p lookupPeer, ops []lookupOp, r *LookupResult) error {
	lat := make([]time.Duration, len(ops))
	var byKind [3][]time.Duration // email, phone, miss
	mw := WatchMemory(0)
	start := time.Now()
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			mw.Stop()
			return err
		}
		t := time.Now()
		got, err := p.find(ctx, op.kind, op.value)
		lat[i] = time.Since(t)
		if err != nil {
			mw.Stop()
			return fmt.Errorf("lookup %d (%s): %w", i, op.kind, err)
		}
		if err := checkFound(i, op, got); err != nil {
			mw.Stop()
			return err
		}
		r.Returned += int64(len(got))
		r.MostReturned = max(r.MostReturned, len(got))
		switch {
		case op.want == "":
			r.Misses++
			byKind[2] = append(byKind[2], lat[i])
		case op.kind == index.KindEmail:
			r.Emails++
			byKind[0] = append(byKind[0], lat[i])
		default:
			r.Phones++
			byKind[1] = append(byKind[1], lat[i])
		}
	}
	elapsed := time.Since(start)
	r.Mem = mw.Stop()
	r.Latency = latencyStats(lat, elapsed)
	sum := func(d []time.Duration) (s time.Duration) {
		for _, x := range d {
			s += x
		}
		return s
	}
	r.EmailLatency = latencyStats(byKind[0], sum(byKind[0]))
	r.PhoneLatency = latencyStats(byKind[1], sum(byKind[1]))
	r.MissLatency = latencyStats(byKind[2], sum(byKind[2]))
	r.Verified = fmt.Sprintf("each of the %s hits returned the customer whose contact carries the value, each of the %s misses returned none",
		thousands(float64(r.Emails+r.Phones)), thousands(float64(r.Misses)))
	return nil
}
