package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"contactstore/bench/workload"
	"contactstore/crypto"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
)

// The expiry scenario: N contacts fall due on the same day, among live contacts that stay.
//
// Every contact of the workload gets a time within one UTC day (ExpiryDay). Live of them,
// spread evenly (one in eleven by default), are filed under the category LiveCategory, which the policy
// keeps for seven years; the others fall under the default term of 30 days, so their terms
// all end on the same day and they share one expiry bucket. Live and expiring contacts are
// interleaved: the same customers, the same day of contact time.
//
// Each peer is loaded with every contact and settled, then the harness moves past the day
// on which the expiring contacts' terms end and deletes them:
//
//   - "contactstore": store.Expire on a store whose Clock the harness sets (no background
//     expirer). The store destroys the bucket's key (one vault write), then cleans up: one
//     range deletion of the bucket's records, per-customer clean-up, and its background
//     hygiene (flush + compaction of the deleted ranges).
//   - "pebble-rangedel": plain Pebble, keys laid out by expiry day first: one DeleteRange
//     of the day's keys, then a manual compaction of that range.
//   - "pebble-pointdel": plain Pebble, keys ordered by contact time, live and expiring ones
//     interleaved, each value starting with its expiry instant (what an application without
//     a bucketed layout would keep): a scan of every key old enough to have expired, a
//     point deletion for each one past its expiry (batches of 1,000, fsync each), then a
//     manual compaction of the scanned range.
//
// The Pebble peers use the store's Pebble options (tunedOptions without block compression)
// and store the same number of keys and values as the store. Their values are random bytes
// (incompressible, like ciphertext); each contact's value is its JSON size times the
// store's sstable bytes per JSON byte, minus the key, so that each contact takes about as
// many bytes in their sstables as in the store's.

// Expiry peer names (PeerStore is the store).
const (
	PeerPebbleRangeDel = "pebble-rangedel"
	PeerPebblePointDel = "pebble-pointdel"
)

// ExpiryPeers lists the peers RunExpiry knows, in the order it runs them.
var ExpiryPeers = []string{PeerStore, PeerPebbleRangeDel, PeerPebblePointDel}

// DefaultExpiryN is the number of contacts that fall due together when ExpiryConfig.N is 0.
const DefaultExpiryN = 1_000_000

// LiveCategory is the category of the contacts that do not expire in the scenario.
const LiveCategory = "fiscal"

// ExpiryPolicy is the retention policy of the scenario: 30 days, fiscal records 7 years.
const ExpiryPolicy = `{"default":"P30D","rules":[{"category":"fiscal","retention":"P7Y"}]}`

// ExpiryDay is the UTC day every contact of the scenario happened on (a Monday). The
// expiring contacts' terms end on ExpiryDay + 30 days.
var ExpiryDay = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// expiryTerm and liveTerm are the policy's terms, as calendar units.
func expiryOfContact(t time.Time, live bool) time.Time {
	if live {
		return t.AddDate(7, 0, 0)
	}
	return t.AddDate(0, 0, 30)
}

// ExpiryConfig describes an expiry comparison. Zero fields take defaults.
type ExpiryConfig struct {
	// N is the number of contacts that fall due together (default 1,000,000).
	N int
	// Live is the number of contacts that stay (default N/10).
	Live int
	// Seed is the workload seed.
	Seed int64
	// Customers is the number of distinct customers (default (N+Live)/20, at least 1).
	Customers int
	// Batch is the number of contacts per Put or Pebble batch when loading (default 1,000).
	Batch int
	// Sync makes every loading batch durable (fsync), as Config.Sync does for ingest.
	// Loading is not measured; the deletions are always durable (the store is reopened
	// with fsync before expiry, and the Pebble peers commit their deletions with fsync).
	Sync bool
	// Scale also runs every peer with N/10 expiring contacts (and Live/10 live ones, and
	// Customers/10 customers), first, to show how the costs grow with N.
	Scale bool
	// Reference also loads the live contacts alone into a fresh instance of each peer, to
	// measure the size of the live data that the space should shrink back to.
	Reference bool
	// Dir is where each run gets its directories, Dir/<N>/<peer>, which must not exist yet.
	// Empty means a temporary directory. They are removed unless Keep is set.
	Dir string
	// Peers are the peers to run, by name (see ExpiryPeers); default all of them.
	Peers []string
	// Keep leaves the peers' directories in place (only when Dir is set).
	Keep bool
	// Sample is how many contacts of each kind (expiring, live) the verification checks
	// (default 1,000; for the store, the customers of that many contacts, at most 100).
	Sample int
}

func (c ExpiryConfig) withDefaults() (ExpiryConfig, error) {
	if c.N <= 0 {
		c.N = DefaultExpiryN
	}
	if c.Live <= 0 {
		c.Live = c.N / 10
	}
	if c.Customers <= 0 {
		c.Customers = max(1, (c.N+c.Live)/workload.DefaultPerCustomer)
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Sample <= 0 {
		c.Sample = 1000
	}
	if len(c.Peers) == 0 {
		c.Peers = ExpiryPeers
	}
	c.Peers = slices.Clone(c.Peers)
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if !slices.Contains(ExpiryPeers, p) {
			return c, fmt.Errorf("bench: unknown expiry peer %q (known: %v)", p, ExpiryPeers)
		}
		if seen[p] {
			return c, fmt.Errorf("bench: peer %q named twice", p)
		}
		seen[p] = true
	}
	// Run in ExpiryPeers order: the Pebble peers' value sizes come from the store's run.
	slices.SortFunc(c.Peers, func(a, b string) int {
		return slices.Index(ExpiryPeers, a) - slices.Index(ExpiryPeers, b)
	})
	return c, nil
}

// ExpiryResult is one peer's measurement at one N. Durations count from the start of the
// deletion (Expire, or the Pebble peer's first deletion); sizes are bytes of regular files
// under the peer's directory.
type ExpiryResult struct {
	Peer string `json:"peer"`
	// Expiring contacts fall due together; Live contacts stay.
	Expiring  int `json:"expiring"`
	Live      int `json:"live"`
	Customers int `json:"customers"`
	// InputBytes is the size of all the contacts as JSON; ValueBytes what the peer stored
	// as values (Pebble peers; for the store, 0: its records are compressed and sealed).
	InputBytes int64 `json:"input_bytes"`
	ValueBytes int64 `json:"value_bytes,omitempty"`
	Sync       bool  `json:"sync"`

	// Load is how long loading and settling took (not part of the measurement).
	Load time.Duration `json:"load_ns"`
	// DiskBefore is the settled size before the deletion; SSTBefore of it in sstables.
	DiskBefore int64 `json:"disk_before"`
	SSTBefore  int64 `json:"sst_before"`

	// Unreadable is the time until no copy of the expiring contacts could be read any more:
	// for the store, until Expire had destroyed the bucket's key (observed through the
	// store's log message; from then on every record of the bucket, in every copy of the
	// files, is noise); for the Pebble peers, until the deletions had committed (Pebble
	// reads return nothing, but the data stays in the files until compacted away).
	Unreadable time.Duration `json:"unreadable_ns"`
	// Deleted is the time until the deletion call returned: Expire with its clean-up
	// committed; for the Pebble peers the same as Unreadable.
	Deleted time.Duration `json:"deleted_ns"`
	// Reclaimed is the time until the directory first reached its final size (sampled
	// every 20 ms); Settled the time until the harness had seen the peer settle (store:
	// WaitHygiene, WaitForCompactions; Pebble: compaction of the range, WaitQuiet) and
	// the size stay put for three polls.
	Reclaimed time.Duration `json:"reclaimed_ns"`
	Settled   time.Duration `json:"settled_ns"`
	// CPU is the process's CPU time (user + system) from the deletion until settled.
	CPU time.Duration `json:"cpu_ns"`
	// DiskAfter is the size once settled; SSTAfter of it in sstables.
	DiskAfter int64 `json:"disk_after"`
	SSTAfter  int64 `json:"sst_after"`
	// AllocBefore and AllocAfter are what the files occupy on the file system (du; 0 where
	// the platform does not say). Pebble preallocates each write-ahead log to 110% of the
	// memtable size and keeps a few obsolete logs for recycling, so this can exceed the
	// file sizes by a few hundred MiB.
	AllocBefore int64 `json:"alloc_before,omitempty"`
	AllocAfter  int64 `json:"alloc_after,omitempty"`
	// LiveOnly is the settled size of a fresh instance holding only the live contacts
	// (ExpiryConfig.Reference; 0 otherwise).
	LiveOnly int64 `json:"live_only,omitempty"`

	// HiddenAtTerm (store): reads already hid every sampled expiring contact at its term,
	// before Expire ran.
	HiddenAtTerm bool `json:"hidden_at_term,omitempty"`
	// Expire is what store.Expire reported (store only).
	Expire *store.ExpireResult `json:"expire,omitempty"`
	// Verified says what the harness checked after the deletion, all of which held.
	Verified string `json:"verified"`
	// Method says how the peer deletes.
	Method string `json:"method"`
	// Dir is the peer's directory when ExpiryConfig.Keep left it in place.
	Dir string `json:"dir,omitempty"`
}

// RunExpiry runs the expiry scenario (see the comment at the top of expiry.go) for each
// peer, at N/10 first when cfg.Scale is set, then at N. progress, if not nil, receives a
// line about each step.
func RunExpiry(ctx context.Context, cfg ExpiryConfig, progress func(msg string)) ([]ExpiryResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	root := cfg.Dir
	if root == "" {
		if root, err = os.MkdirTemp("", "contactstore-bench-expiry-*"); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		cfg.Keep = false
		defer os.RemoveAll(root)
	} else if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	type size struct{ n, live, customers int }
	sizes := []size{{cfg.N, cfg.Live, cfg.Customers}}
	if cfg.Scale && cfg.N >= 10 {
		sizes = append([]size{{cfg.N / 10, max(1, cfg.Live/10), max(1, cfg.Customers/10)}}, sizes...)
	}
	for _, sz := range sizes {
		if _, err := os.Stat(filepath.Join(root, fmt.Sprint(sz.n))); err == nil {
			return nil, fmt.Errorf("bench: %s already exists: remove it or choose another directory", filepath.Join(root, fmt.Sprint(sz.n)))
		}
	}
	var results []ExpiryResult
	for _, sz := range sizes {
		c := cfg
		c.N, c.Live, c.Customers = sz.n, sz.live, sz.customers
		rs, err := runExpirySize(ctx, c, filepath.Join(root, fmt.Sprint(sz.n)), progress)
		results = append(results, rs...)
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// contactMeta is what the Pebble peers and the verification need of a contact.
type contactMeta struct {
	customer, id string
	t            time.Time
	size         int32 // JSON bytes
	live         bool
}

// expiryData is the generated workload of one run.
type expiryData struct {
	meta         []contactMeta
	inputBytes   int64
	liveContacts []store.Contact // kept for the store's live-only reference
}

// generateExpiry generates the run's contacts, handing them to fn in batches (fn may be
// nil), and returns what the other peers need of them.
func generateExpiry(ctx context.Context, cfg ExpiryConfig, fn func([]store.Contact) error) (*expiryData, error) {
	total := cfg.N + cfg.Live
	g := workload.New(workload.Config{
		Seed: cfg.Seed, Customers: cfg.Customers, WithIDs: true, Count: total,
		Start: ExpiryDay, Span: 24 * time.Hour,
	})
	d := &expiryData{meta: make([]contactMeta, 0, total)}
	if cfg.Reference {
		d.liveContacts = make([]store.Contact, 0, cfg.Live)
	}
	batch := make([]store.Contact, 0, cfg.Batch)
	flush := func() error {
		if fn != nil && len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	for i := range total {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c := g.Next()
		// Live contacts spread evenly: one in eleven when Live = N/10.
		isLive := (i+1)*cfg.Live/total > i*cfg.Live/total
		if isLive {
			c.Category = LiveCategory
			if cfg.Reference {
				d.liveContacts = append(d.liveContacts, c)
			}
		} else if c.Category == LiveCategory {
			c.Category = "" // the generator never uses it; be sure
		}
		js, err := json.Marshal(&c)
		if err != nil {
			return nil, err
		}
		d.inputBytes += int64(len(js))
		d.meta = append(d.meta, contactMeta{customer: c.Customer, id: c.ID, t: c.Time, size: int32(len(js)), live: isLive})
		batch = append(batch, c)
		if len(batch) == cfg.Batch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return d, nil
}

func runExpirySize(ctx context.Context, cfg ExpiryConfig, root string, progress func(string)) ([]ExpiryResult, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	say := func(peer, format string, args ...any) {
		progress(fmt.Sprintf("expiry N=%d, %s: ", cfg.N, peer) + fmt.Sprintf(format, args...))
	}
	var (
		results []ExpiryResult
		data    *expiryData
		scale   = 1.0 // Pebble values: JSON size × scale
	)
	finish := func(r *ExpiryResult, dir string, err error) error {
		if !cfg.Keep {
			if rerr := os.RemoveAll(dir); err == nil && rerr != nil {
				err = fmt.Errorf("bench: removing %s: %w", dir, rerr)
			}
		} else {
			r.Dir = dir
		}
		return err
	}
	for _, name := range cfg.Peers {
		dir := filepath.Join(root, name)
		var (
			r   ExpiryResult
			err error
		)
		switch name {
		case PeerStore:
			r, data, err = runStoreExpiry(ctx, cfg, dir, func(f string, a ...any) { say(name, f, a...) })
			if err == nil && data.inputBytes > 0 {
				scale = float64(r.SSTBefore) / float64(data.inputBytes)
			}
		default:
			if data == nil {
				say("workload", "generating %d contacts", cfg.N+cfg.Live)
				if data, err = generateExpiry(ctx, cfg, nil); err != nil {
					return results, err
				}
			}
			r, err = runPebbleExpiry(ctx, cfg, name, dir, data, scale, func(f string, a ...any) { say(name, f, a...) })
		}
		if err = finish(&r, dir, err); err != nil {
			return results, err
		}
		if cfg.Reference {
			say(name, "loading the %d live contacts alone", cfg.Live)
			ref := dir + "-live"
			var size int64
			if name == PeerStore {
				size, err = storeLiveOnly(ctx, cfg, ref, data.liveContacts)
			} else {
				size, err = pebbleLiveOnly(ctx, cfg, name, ref, data, scale)
			}
			var dummy ExpiryResult
			if err = finish(&dummy, ref, err); err != nil {
				return results, err
			}
			r.LiveOnly = size
		}
		results = append(results, r)
	}
	if !cfg.Keep {
		os.Remove(root)
	}
	return results, nil
}

// ---- the store ----

// expClock is the store's clock in the scenario, moved by the harness.
type expClock struct{ ns atomic.Int64 }

func (c *expClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *expClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func newExpClock(t time.Time) *expClock { c := &expClock{}; c.set(t); return c }

// keysDestroyedMsg is the message the store logs once Expire has replaced the vault
// without the due buckets' keys (store/expire.go). The harness times it; if the message
// ever changes, Unreadable is reported as unknown (0) rather than wrong.
const keysDestroyedMsg = "expiry: bucket keys destroyed"

// expiryLog is the store's slog handler in the scenario: it notes when the keys were
// destroyed and keeps error messages (the store logs no personal data).
type expiryLog struct {
	keysAt atomic.Int64
	mu     sync.Mutex
	errs   []string
}

func (h *expiryLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *expiryLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == keysDestroyedMsg {
		h.keysAt.CompareAndSwap(0, time.Now().UnixNano())
	}
	if r.Level >= slog.LevelError {
		h.mu.Lock()
		h.errs = append(h.errs, r.Message)
		h.mu.Unlock()
	}
	return nil
}
func (h *expiryLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *expiryLog) WithGroup(string) slog.Handler      { return h }

func (h *expiryLog) errors() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) == 0 {
		return nil
	}
	return fmt.Errorf("the store logged %d error(s), the first: %s", len(h.errs), h.errs[0])
}

func expiryStoreOptions(key *crypto.RootKey, clock store.Clock, log *expiryLog, create, noSync bool) *store.Options {
	return &store.Options{
		RootKey:         key,
		CreateIfMissing: create,
		ErrorIfExists:   create,
		NoSync:          noSync,
		Clock:           clock,
		ExpiryInterval:  -1, // the harness runs Expire itself
		Logger:          slog.New(log),
	}
}

// loadStore creates a store at dir with the scenario's policy, lets fill put contacts,
// settles it, and returns it reopened with fsync on.
func loadStore(ctx context.Context, cfg ExpiryConfig, dir string, key *crypto.RootKey, clock *expClock, log *expiryLog,
	fill func(put func([]store.Contact) error) error) (*store.Store, error) {
	s, err := store.Open(dir, expiryStoreOptions(key, clock, log, true, !cfg.Sync))
	if err != nil {
		return nil, err
	}
	pol, err := store.ParsePolicy([]byte(ExpiryPolicy))
	if err == nil {
		_, err = s.SetPolicy(ctx, pol)
	}
	if err == nil {
		err = fill(func(batch []store.Contact) error {
			res, err := s.Put(ctx, batch)
			if err == nil && (res.Expired != 0 || res.Added != len(batch)) {
				err = fmt.Errorf("bench: a batch of %d added %d, %d already expired", len(batch), res.Added, res.Expired)
			}
			return err
		})
	}
	if err == nil {
		err = s.Flush()
	}
	if err == nil {
		err = s.WaitForCompactions(ctx)
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	// Expiry runs in a store opened as in production: every commit fsynced.
	if s, err = store.Open(dir, expiryStoreOptions(key, clock, log, false, false)); err != nil {
		return nil, err
	}
	if err := s.WaitForCompactions(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func runStoreExpiry(ctx context.Context, cfg ExpiryConfig, dir string, say func(string, ...any)) (ExpiryResult, *expiryData, error) {
	r := ExpiryResult{Peer: PeerStore, Expiring: cfg.N, Live: cfg.Live, Customers: cfg.Customers, Sync: cfg.Sync,
		Method: "store.Expire (bucket key destroyed in one vault write, then one range deletion of the bucket's records and per-customer clean-up), then the store's hygiene (flush, compaction of the deleted ranges): WaitHygiene, WaitForCompactions"}
	key := crypto.NewRootKey(crypto.MustNewKey(), "bench key")
	clock := newExpClock(ExpiryDay.Add(24 * time.Hour)) // the day after every contact
	log := &expiryLog{}
	say("generating and loading %d contacts", cfg.N+cfg.Live)
	t0 := time.Now()
	var data *expiryData
	s, err := loadStore(ctx, cfg, dir, key, clock, log, func(put func([]store.Contact) error) error {
		var err error
		data, err = generateExpiry(ctx, cfg, put)
		return err
	})
	if err != nil {
		return r, data, fmt.Errorf("bench: %s: loading: %w", PeerStore, err)
	}
	defer s.Close()
	r.Load = time.Since(t0)
	r.InputBytes = data.inputBytes
	du, err := dirSize(dir)
	if err != nil {
		return r, data, err
	}
	r.DiskBefore, r.SSTBefore = du.Total, du.SST
	r.AllocBefore = allocSize(dir)

	sample := storeSample(data, cfg.Sample)
	if err := checkStoreReads(ctx, s, sample, false); err != nil {
		return r, data, fmt.Errorf("bench: %s: before expiry: %w", PeerStore, err)
	}
	// Past the day on which the expiring contacts' terms end.
	due := expiryOfContact(ExpiryDay, false)
	clock.set(due.Add(25 * time.Hour))
	if err := checkStoreReads(ctx, s, sample, true); err != nil {
		return r, data, fmt.Errorf("bench: %s: at term, before Expire: %w", PeerStore, err)
	}
	r.HiddenAtTerm = true

	say("expiring")
	watch := watchDisk(dir)
	cpu0, start := processCPU(), time.Now()
	res, err := s.Expire(ctx, time.Time{})
	r.Deleted = time.Since(start)
	if err != nil {
		watch.stop()
		return r, data, fmt.Errorf("bench: %s: Expire: %w", PeerStore, err)
	}
	if at := log.keysAt.Load(); at != 0 {
		r.Unreadable = time.Duration(at - start.UnixNano())
	}
	s.WaitHygiene()
	if err := s.WaitForCompactions(ctx); err != nil {
		watch.stop()
		return r, data, err
	}
	final, reached, err := watch.settle(ctx)
	r.Settled, r.CPU = time.Since(start), processCPU()-cpu0
	if err != nil {
		return r, data, err
	}
	r.Reclaimed = reached.Sub(start)
	r.Expire = &res
	du, err = dirSize(dir)
	if err != nil {
		return r, data, err
	}
	r.DiskAfter, r.SSTAfter = final, du.SST
	r.AllocAfter = allocSize(dir)

	// Verification, outside the measurement.
	if res.Buckets != 1 || res.Contacts != int64(cfg.N) || res.Held != 0 {
		return r, data, fmt.Errorf("bench: %s: Expire destroyed %d bucket(s) and removed %d contacts, want 1 and %d", PeerStore, res.Buckets, res.Contacts, cfg.N)
	}
	if err := checkStoreReads(ctx, s, sample, true); err != nil {
		return r, data, fmt.Errorf("bench: %s: after expiry: %w", PeerStore, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		return r, data, err
	}
	if st.Contacts != int64(cfg.Live) || st.Retention.Due != 0 || st.Retention.ExpiredThrough != due.Format(time.DateOnly) {
		return r, data, fmt.Errorf("bench: %s: after expiry the store counts %d contacts (want %d), %d due, expired through %q (want %s)",
			PeerStore, st.Contacts, cfg.Live, st.Retention.Due, st.Retention.ExpiredThrough, due.Format(time.DateOnly))
	}
	if err := log.errors(); err != nil {
		return r, data, fmt.Errorf("bench: %s: %w", PeerStore, err)
	}
	r.Verified = fmt.Sprintf("reads of %d customers: every expiring contact hidden at its term before Expire and gone after, every live one intact; customers left without contacts are not found; Stats counts %d contacts, none due",
		len(sample.customers), st.Contacts)
	return r, data, s.Close()
}

// storeSampleSet is the customers the store's verification reads, with their contact ids.
type storeSampleSet struct {
	customers []string
	expiring  map[string][]string
	live      map[string][]string
}

func storeSample(d *expiryData, n int) storeSampleSet {
	ss := storeSampleSet{expiring: map[string][]string{}, live: map[string][]string{}}
	want := min(100, n)
	step := max(1, len(d.meta)/want)
	for i := 0; i < len(d.meta) && len(ss.customers) < want; i += step {
		cu := d.meta[i].customer
		if _, ok := ss.expiring[cu]; !ok {
			ss.customers = append(ss.customers, cu)
			ss.expiring[cu] = nil
		}
	}
	for _, m := range d.meta {
		if _, ok := ss.expiring[m.customer]; !ok {
			continue
		}
		if m.live {
			ss.live[m.customer] = append(ss.live[m.customer], m.id)
		} else {
			ss.expiring[m.customer] = append(ss.expiring[m.customer], m.id)
		}
	}
	return ss
}

// checkStoreReads reads every sampled customer and checks that they have exactly their
// live contacts (expired) or all of them (!expired). A customer with nothing left must
// not be found.
func checkStoreReads(ctx context.Context, s *store.Store, ss storeSampleSet, expired bool) error {
	for i, cu := range ss.customers {
		want := slices.Clone(ss.live[cu])
		if !expired {
			want = append(want, ss.expiring[cu]...)
		}
		var got []string
		var rerr error
		for c, err := range s.Contacts(ctx, cu, store.TimeRange{}) {
			if err != nil {
				rerr = err
				break
			}
			got = append(got, c.ID)
		}
		if rerr != nil && !(errors.Is(rerr, store.ErrNotFound) && len(want) == 0 && got == nil) {
			return fmt.Errorf("sampled customer %d: %w", i, rerr)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("sampled customer %d: read %d contacts, want %d", i, len(got), len(want))
		}
	}
	return nil
}

func storeLiveOnly(ctx context.Context, cfg ExpiryConfig, dir string, live []store.Contact) (int64, error) {
	key := crypto.NewRootKey(crypto.MustNewKey(), "bench key")
	log := &expiryLog{}
	s, err := loadStore(ctx, cfg, dir, key, newExpClock(ExpiryDay.Add(24*time.Hour)), log, func(put func([]store.Contact) error) error {
		for lo := 0; lo < len(live); lo += cfg.Batch {
			if err := put(live[lo:min(lo+cfg.Batch, len(live))]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bench: %s: live-only reference: %w", PeerStore, err)
	}
	defer s.Close()
	du, err := dirSize(dir)
	if err != nil {
		return 0, err
	}
	return du.Total, s.Close()
}

// ---- plain Pebble ----

// pebbleExpiryKey returns a contact's key in a Pebble peer's layout: by expiry day first
// (rangedel) or by contact time first (pointdel).
func pebbleExpiryKey(dst []byte, name string, m *contactMeta) []byte {
	if name == PeerPebbleRangeDel {
		day := uint32(expiryOfContact(m.t, m.live).Unix() / 86400)
		dst = binary.BigEndian.AppendUint32(dst, day)
		dst = append(dst, m.customer...)
		dst = append(dst, 0)
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.t.UnixMicro()))
		return append(dst, m.id...)
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.t.UnixMicro()))
	dst = append(dst, m.customer...)
	dst = append(dst, 0)
	return append(dst, m.id...)
}

// dayRange returns the rangedel peer's bounds of one expiry day.
func dayRange(t time.Time) (lo, hi []byte) {
	d := uint32(t.Unix() / 86400)
	return binary.BigEndian.AppendUint32(nil, d), binary.BigEndian.AppendUint32(nil, d+1)
}

// loadPebble writes the contacts that keep selects into a new Pebble at dir, settles it
// and returns it reopened.
func loadPebble(ctx context.Context, cfg ExpiryConfig, name, dir string, d *expiryData, scale float64, keep func(*contactMeta) bool) (*pebble.DB, int64, error) {
	open := func() (*pebble.DB, error) {
		o := tunedOptions(false)
		o.Logger = quietLogger{}
		return pebble.Open(dir, o)
	}
	db, err := open()
	if err != nil {
		return nil, 0, err
	}
	wo := pebble.NoSync
	if cfg.Sync {
		wo = pebble.Sync
	}
	rng := rand.NewChaCha8([32]byte{byte(cfg.Seed), byte(cfg.Seed >> 8), byte(cfg.Seed >> 16), byte(cfg.Seed >> 24)})
	var (
		b      = db.NewBatch()
		inB    int
		key    []byte
		val    []byte
		values int64
	)
	commit := func() error {
		err := b.Commit(wo)
		b.Close()
		b, inB = db.NewBatch(), 0
		return err
	}
	for i := range d.meta {
		m := &d.meta[i]
		if !keep(m) {
			continue
		}
		if i%4096 == 0 && ctx.Err() != nil {
			b.Close()
			db.Close()
			return nil, 0, ctx.Err()
		}
		key = pebbleExpiryKey(key[:0], name, m)
		n := max(16, int(float64(m.size)*scale+0.5)-len(key))
		val = slices.Grow(val[:0], n)[:n]
		rng.Read(val)
		// Every value begins with its expiry instant, as the application would keep it.
		binary.BigEndian.PutUint64(val, uint64(expiryOfContact(m.t, m.live).UnixMicro()))
		values += int64(n)
		if err := b.Set(key, val, nil); err != nil {
			b.Close()
			db.Close()
			return nil, 0, err
		}
		if inB++; inB == cfg.Batch {
			if err := commit(); err != nil {
				b.Close()
				db.Close()
				return nil, 0, err
			}
		}
	}
	err = commit()
	b.Close()
	if err == nil {
		err = db.Flush()
	}
	if err == nil {
		err = WaitQuiet(ctx, PebbleIdle(db))
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, err
	}
	if db, err = open(); err != nil {
		return nil, 0, err
	}
	if err := WaitQuiet(ctx, PebbleIdle(db)); err != nil {
		db.Close()
		return nil, 0, err
	}
	return db, values, nil
}

func runPebbleExpiry(ctx context.Context, cfg ExpiryConfig, name, dir string, d *expiryData, scale float64, say func(string, ...any)) (ExpiryResult, error) {
	r := ExpiryResult{Peer: name, Expiring: cfg.N, Live: cfg.Live, Customers: cfg.Customers, Sync: cfg.Sync, InputBytes: d.inputBytes}
	switch name {
	case PeerPebbleRangeDel:
		r.Method = "keys by expiry day first; one DeleteRange of the day (fsync), then DB.Compact of that range"
	case PeerPebblePointDel:
		r.Method = "keys by contact time first, live and expiring interleaved; a scan of every key older than the shortest term, a point deletion of each one whose value's expiry has passed (batches of 1,000, fsync each), then DB.Compact of the scanned range"
	}
	say("loading %d contacts", cfg.N+cfg.Live)
	t0 := time.Now()
	db, values, err := loadPebble(ctx, cfg, name, dir, d, scale, func(*contactMeta) bool { return true })
	if err != nil {
		return r, fmt.Errorf("bench: %s: loading: %w", name, err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	r.Load, r.ValueBytes = time.Since(t0), values
	du, err := dirSize(dir)
	if err != nil {
		return r, err
	}
	r.DiskBefore, r.SSTBefore = du.Total, du.SST
	r.AllocBefore = allocSize(dir)

	now := expiryOfContact(ExpiryDay, false).Add(25 * time.Hour)
	say("expiring")
	watch := watchDisk(dir)
	cpu0, start := processCPU(), time.Now()
	var lo, hi []byte
	var deleted int
	switch name {
	case PeerPebbleRangeDel:
		lo, hi = dayRange(expiryOfContact(ExpiryDay, false))
		err = db.DeleteRange(lo, hi, pebble.Sync)
		deleted = -1
	case PeerPebblePointDel:
		// Every contact at least the shortest term old may have expired.
		lo, hi = nil, binary.BigEndian.AppendUint64(nil, uint64(now.AddDate(0, 0, -30).UnixMicro()))
		deleted, err = pointDeleteExpired(ctx, db, lo, hi, now, cfg.Batch)
	}
	r.Deleted = time.Since(start)
	r.Unreadable = r.Deleted
	if err != nil {
		watch.stop()
		return r, fmt.Errorf("bench: %s: deleting: %w", name, err)
	}
	if err == nil {
		err = db.Compact(ctx, orMin(lo), hi, false)
	}
	if err == nil {
		err = WaitQuiet(ctx, PebbleIdle(db))
	}
	if err != nil {
		watch.stop()
		return r, fmt.Errorf("bench: %s: compacting: %w", name, err)
	}
	final, reached, err := watch.settle(ctx)
	r.Settled, r.CPU = time.Since(start), processCPU()-cpu0
	if err != nil {
		return r, err
	}
	r.Reclaimed = reached.Sub(start)
	if du, err = dirSize(dir); err != nil {
		return r, err
	}
	r.DiskAfter, r.SSTAfter = final, du.SST
	r.AllocAfter = allocSize(dir)

	// Verification, outside the measurement.
	if deleted >= 0 && deleted != cfg.N {
		return r, fmt.Errorf("bench: %s: deleted %d keys, want %d", name, deleted, cfg.N)
	}
	checked, err := checkPebble(ctx, db, name, d, cfg.Sample)
	if err != nil {
		return r, fmt.Errorf("bench: %s: after expiry: %w", name, err)
	}
	r.Verified = checked
	err = db.Close()
	db = nil
	return r, err
}

// orMin turns a nil lower bound into the smallest key (DB.Compact wants one).
func orMin(k []byte) []byte {
	if k == nil {
		return []byte{}
	}
	return k
}

// pointDeleteExpired scans [lo, hi) and deletes every key whose value's expiry instant is
// not after now, in batches of batch deletions committed with fsync.
func pointDeleteExpired(ctx context.Context, db *pebble.DB, lo, hi []byte, now time.Time, batch int) (int, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	cut := uint64(now.UnixMicro())
	b := db.NewBatch()
	n, inB := 0, 0
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			break
		}
		if len(v) < 8 || binary.BigEndian.Uint64(v) > cut {
			continue
		}
		_ = b.Delete(it.Key(), nil)
		n++
		if inB++; inB == batch {
			if err := b.Commit(pebble.Sync); err != nil {
				b.Close()
				it.Close()
				return n, err
			}
			b.Close()
			b, inB = db.NewBatch(), 0
			if ctx.Err() != nil {
				b.Close()
				it.Close()
				return n, ctx.Err()
			}
		}
	}
	err = it.Close()
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	b.Close()
	return n, err
}

// checkPebble checks that sampled expiring keys are gone, sampled live keys are there,
// and that the database holds exactly the live keys.
func checkPebble(ctx context.Context, db *pebble.DB, name string, d *expiryData, sample int) (string, error) {
	var exp, live []int
	for i := range d.meta {
		if d.meta[i].live {
			live = append(live, i)
		} else {
			exp = append(exp, i)
		}
	}
	pick := func(idx []int) []int {
		step := max(1, len(idx)/max(1, sample))
		var out []int
		for i := 0; i < len(idx) && len(out) < sample; i += step {
			out = append(out, idx[i])
		}
		return out
	}
	var key []byte
	se, sl := pick(exp), pick(live)
	for _, i := range se {
		key = pebbleExpiryKey(key[:0], name, &d.meta[i])
		_, closer, err := db.Get(key)
		if err == nil {
			closer.Close()
			return "", fmt.Errorf("sampled expiring contact %d is still readable", i)
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			return "", err
		}
	}
	for _, i := range sl {
		key = pebbleExpiryKey(key[:0], name, &d.meta[i])
		_, closer, err := db.Get(key)
		if err != nil {
			return "", fmt.Errorf("sampled live contact %d: %w", i, err)
		}
		closer.Close()
	}
	it, err := db.NewIter(nil)
	if err != nil {
		return "", err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%65536 == 0 && ctx.Err() != nil {
			it.Close()
			return "", ctx.Err()
		}
	}
	if err := it.Close(); err != nil {
		return "", err
	}
	if n != len(live) {
		return "", fmt.Errorf("%d keys left, want the %d live ones", n, len(live))
	}
	return fmt.Sprintf("%d sampled expiring keys not found, %d sampled live keys found; %d keys left, all live", len(se), len(sl), n), nil
}

func pebbleLiveOnly(ctx context.Context, cfg ExpiryConfig, name, dir string, d *expiryData, scale float64) (int64, error) {
	db, _, err := loadPebble(ctx, cfg, name, dir, d, scale, func(m *contactMeta) bool { return m.live })
	if err != nil {
		return 0, fmt.Errorf("bench: %s: live-only reference: %w", name, err)
	}
	du, err := dirSize(dir)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return du.Total, err
}

// ---- disk watching ----

// allocSize returns the bytes the regular files under dir occupy on the file system (their
// blocks, as du counts them), or 0 where the platform does not report blocks.
func allocSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		// syscall.Stat_t.Blocks (512-byte units) on Unix; read by name to stay portable.
		v := reflect.ValueOf(fi.Sys())
		if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
			if f := v.Elem().FieldByName("Blocks"); f.IsValid() && f.CanInt() {
				total += f.Int() * 512
			}
		}
		return nil
	})
	return total
}

// diskWatch samples a directory's size every 20 ms from the start of a deletion, to find
// when it reached its final size.
type diskWatch struct {
	dir     string
	mu      sync.Mutex
	samples []diskSample
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type diskSample struct {
	at   time.Time
	size int64
}

const diskEvery = 20 * time.Millisecond

func watchDisk(dir string) *diskWatch {
	w := &diskWatch{dir: dir, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(diskEvery)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-t.C:
			}
			w.sample()
		}
	}()
	return w
}

func (w *diskWatch) sample() int64 {
	u, err := dirSize(w.dir)
	if err != nil {
		return -1
	}
	w.mu.Lock()
	w.samples = append(w.samples, diskSample{time.Now(), u.Total})
	w.mu.Unlock()
	return u.Total
}

func (w *diskWatch) stop() {
	w.once.Do(func() { close(w.quit); <-w.done })
}

// settle waits until the directory's size has stayed the same for three polls 50 ms apart
// (Pebble deletes obsolete files in the background), stops sampling, and returns the final
// size and when it was first reached for good: the first sample after the last one that
// differed from it.
func (w *diskWatch) settle(ctx context.Context) (int64, time.Time, error) {
	last, same := int64(-2), 0
	for same < 3 {
		size := w.sample()
		if size == last {
			same++
		} else {
			same = 0
		}
		last = size
		select {
		case <-ctx.Done():
			w.stop()
			return 0, time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	reached := w.samples[len(w.samples)-1].at
	for i := len(w.samples) - 1; i >= 0 && w.samples[i].size == last; i-- {
		reached = w.samples[i].at
	}
	return last, reached, nil
}

// ---- report ----

// ExpiryMarkdown renders expiry results as Markdown: a table of the measurements, a table
// of how they grow with N (when results for more than one N are present), and how each
// peer deletes.
func ExpiryMarkdown(results []ExpiryResult) string {
	if len(results) == 0 {
		return "No results.\n"
	}
	var b strings.Builder
	r0 := results[len(results)-1]
	load := "no fsync"
	if r0.Sync {
		load = "fsync per batch"
	}
	fmt.Fprintf(&b, "Expiry: %s contacts fall due on the same day (term P30D from contact times within one day); %s more (one in eleven, category %q, term P7Y) stay, in the same customers. Loaded in batches with %s, settled, then deleted with fsync.\n\n",
		thousands(float64(r0.Expiring)), thousands(float64(r0.Live)), LiveCategory, load)
	b.WriteString("| due together | peer | disk before | unreadable after | deletion returned | space reclaimed after | settled | CPU | disk after | of it sstables | live data alone | reclaimed | du before → after |\n")
	b.WriteString("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		unread := dur(r.Unreadable)
		if r.Unreadable == 0 {
			unread = "?"
		}
		if r.HiddenAtTerm {
			unread += " (reads: at term)"
		}
		alloc := "–"
		if r.AllocBefore > 0 {
			alloc = mib(r.AllocBefore) + " → " + mib(r.AllocAfter)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			thousands(float64(r.Expiring)), r.Peer, mib(r.DiskBefore), unread, dur(r.Deleted), dur(r.Reclaimed), dur(r.Settled),
			dur(r.CPU), mib(r.DiskAfter), mib(r.SSTAfter), liveOnly(r), reclaimedShare(r), alloc)
	}

	// Growth with N, per peer.
	byPeer := map[string][]ExpiryResult{}
	var order []string
	for _, r := range results {
		if _, ok := byPeer[r.Peer]; !ok {
			order = append(order, r.Peer)
		}
		byPeer[r.Peer] = append(byPeer[r.Peer], r)
	}
	if len(byPeer[order[0]]) > 1 {
		b.WriteString("\n| peer | due together | unreadable after | × | deletion returned | × | space reclaimed after | × |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, p := range order {
			rs := byPeer[p]
			for i, r := range rs {
				ratio := func(f func(ExpiryResult) time.Duration) string {
					if i == 0 || f(rs[0]) == 0 {
						return "1.00×"
					}
					return fmt.Sprintf("%.2f×", float64(f(r))/float64(f(rs[0])))
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", p, thousands(float64(r.Expiring)),
					dur(r.Unreadable), ratio(func(x ExpiryResult) time.Duration { return x.Unreadable }),
					dur(r.Deleted), ratio(func(x ExpiryResult) time.Duration { return x.Deleted }),
					dur(r.Reclaimed), ratio(func(x ExpiryResult) time.Duration { return x.Reclaimed }))
			}
		}
	}

	b.WriteString("\nHow each peer deletes:\n")
	for _, p := range order {
		fmt.Fprintf(&b, "- %s: %s.\n", p, byPeer[p][0].Method)
	}
	for _, r := range results {
		if r.Expire != nil {
			fmt.Fprintf(&b, "- %s at %s: Expire destroyed %d bucket key(s) (through %s), removed %s contacts and %s customers entirely.\n",
				r.Peer, thousands(float64(r.Expiring)), r.Expire.Buckets, r.Expire.Through,
				thousands(float64(r.Expire.Contacts)), thousands(float64(r.Expire.Customers)))
		}
	}
	b.WriteString("\nColumns: \"unreadable after\" counts from the start of the deletion until the contacts could not be read from any copy of the data: for the store until the bucket key was destroyed (reads hide each contact from its exact term on, before any job runs: \"reads: at term\" says the harness checked that); for Pebble until the deletions committed, although the bytes stay in the files until compacted. \"space reclaimed after\" is when the directory first reached its final size (sampled every 20 ms); \"settled\" when the harness had seen the peer quiet. \"reclaimed\" is the share of the space the expired contacts took (disk before − live data alone) that came back. Disk sizes are the sizes of the files; \"du\" is what they occupy on the file system, which includes the preallocation (110% of the memtable size) of each write-ahead log Pebble has written to and still keeps (obsolete logs are kept for recycling).\n")
	b.WriteString("\nVerified:\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- %s at %s: %s.\n", r.Peer, thousands(float64(r.Expiring)), r.Verified)
	}
	return b.String()
}

func liveOnly(r ExpiryResult) string {
	if r.LiveOnly == 0 {
		return "–"
	}
	return mib(r.LiveOnly)
}

func reclaimedShare(r ExpiryResult) string {
	if r.LiveOnly == 0 || r.DiskBefore <= r.LiveOnly {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(r.DiskBefore-r.DiskAfter)/float64(r.DiskBefore-r.LiveOnly))
}
