package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"

	"contactstore/bench/workload"
	"contactstore/crypto"
	"contactstore/internal/export"
	"contactstore/store"

	"filippo.io/age"
	"github.com/cockroachdb/pebble/v2"
)

// The export scenario: one customer with N contacts (default 100,000), exported whole.
//
// The contacts come from the workload generator with one customer (realistic sizes: chats,
// e-mails with quoted threads, attachments). They are loaded once, without fsync, into each
// peer that needs them, and settled (flushed, compactions finished); loading is not
// measured. Then each peer exports the customer's whole history to io.Discard (counting the
// bytes), Rounds times, the peers in rotating order:
//
//   - "contactstore": Store.Export, plain: the transfer guard (an audited decision), the
//     header (retention terms, earlier disclosures), the records read in bounded chunks with
//     fresh iterators, each opened (AES-256-GCM), decompressed and decoded, then encoded as
//     a JSON line and hashed (SHA-256) for the trailer; the disclosure is recorded (fsync).
//   - "contactstore-age": the same, the stream encrypted to one age X25519 recipient.
//   - "pebble-tuned-nocompress" (and "pebble-tuned", Snappy blocks, on request): plain Pebble
//     with the store's options holding each contact as json.Marshal(contact) in plaintext
//     under customer "/" time "/" id; one iterator over the customer's range writes a header,
//     one JSON line per value and a trailer, hashing every line as the store does. This is
//     the cost of the stream alone: no decryption, no decompression, no decoding, no guard.
//   - "sqlite-aesgcm": the SQLite peer of the ingest scenario (see sqlite.go: one WITHOUT
//     ROWID table keyed by HMAC pseudonyms of customer and id and the time, each value
//     json.Marshal(contact) sealed with AES-256-GCM); one query over the customer's
//     primary-key range in time order, each value opened and written as a JSON line and
//     hashed, header and trailer as the Pebble peer. Loaded in the same batches without
//     fsync (synchronous=NORMAL), then settled with PRAGMA wal_checkpoint(TRUNCATE).
//
// Before the measured rounds every peer's stream is checked once (which also warms the
// caches): the store's plain stream, and its age stream after decryption, pass export.Verify
// with N contacts in time order whose ids are the generated ones; the Pebble and SQLite
// streams pass export.Verify with the N generated ids (SQLite's in time order too).
//
// Memory is sampled every 5 ms from a baseline taken after a GC: the heap in use (spans
// holding objects, garbage included: what the process needs from the Go heap), the live heap
// (what each GC found reachable) and the resident set size. Pebble's block cache is not in
// the Go heap when cgo is on; it is in the RSS, up to its size (512 MiB), and shared by every
// reader of the store, so the checking pass fills it before the measured rounds.

// Export peer names (PeerStore is the store's plain export; PeerPebbleTunedNoCompress and
// PeerPebbleTuned the plain Pebble peers).
const PeerStoreAge = "contactstore-age"

// ExportPeers lists the peers RunExport knows.
var ExportPeers = []string{PeerStore, PeerStoreAge, PeerPebbleTunedNoCompress, PeerPebbleTuned, PeerSQLiteAESGCM}

// DefaultExportPeers are the peers run when ExportConfig.Peers is empty.
var DefaultExportPeers = []string{PeerStore, PeerStoreAge, PeerPebbleTunedNoCompress, PeerSQLiteAESGCM}

// Defaults of the export scenario.
const (
	DefaultExportN      = 100_000
	DefaultExportRounds = 3
)

// exportRecipient is the recipient of the scenario's exports: a Dutch law firm (EEA).
const (
	exportRecipient = "Advocatenkantoor Jansen"
	exportCountry   = "NL"
)

// ExportConfig describes an export comparison. Zero fields take defaults.
type ExportConfig struct {
	// N is the number of contacts of the one customer (default 100,000).
	N int
	// Seed is the workload seed.
	Seed int64
	// Batch is the number of contacts per Put or Pebble batch when loading (default 1,000).
	Batch int
	// Rounds is how many times each peer exports (default 3); the report gives the median
	// time and the highest memory.
	Rounds int
	// Dir is where the peers' directories go, Dir/<store or pebble peer>, which must not
	// exist yet. Empty means a temporary directory. They are removed unless Keep is set.
	Dir string
	// Peers are the peers to run, by name (see ExportPeers); default DefaultExportPeers.
	Peers []string
	// Keep leaves the peers' directories in place (only when Dir is set).
	Keep bool
}

func (c ExportConfig) withDefaults() (ExportConfig, error) {
	if c.N <= 0 {
		c.N = DefaultExportN
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Rounds <= 0 {
		c.Rounds = DefaultExportRounds
	}
	if len(c.Peers) == 0 {
		c.Peers = DefaultExportPeers
	}
	c.Peers = slices.Clone(c.Peers)
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if !slices.Contains(ExportPeers, p) {
			return c, fmt.Errorf("bench: unknown export peer %q (known: %v)", p, ExportPeers)
		}
		if seen[p] {
			return c, fmt.Errorf("bench: peer %q named twice", p)
		}
		seen[p] = true
	}
	return c, nil
}

// ExportRun is one measured export.
type ExportRun struct {
	Elapsed time.Duration `json:"elapsed_ns"`
	// CPU is the process's CPU time (user + system) during the export.
	CPU time.Duration `json:"cpu_ns"`
	Mem MemPeak       `json:"mem"`
}

// ExportResult is one peer's measurement. MB means 10^6 bytes.
type ExportResult struct {
	Peer     string `json:"peer"`
	Contacts int64  `json:"contacts"`
	// InputBytes is the size of the generated contacts as JSON (json.Marshal).
	InputBytes int64 `json:"input_bytes"`
	// StreamBytes is the size of the plain JSON Lines stream, header and trailer included;
	// OutBytes what was written to the writer (for age, the ciphertext).
	StreamBytes int64 `json:"stream_bytes"`
	OutBytes    int64 `json:"out_bytes"`
	Rounds      int   `json:"rounds"`
	// Elapsed and CPU are the medians over the rounds; ContactsPerSec and MBPerSec (plain
	// stream bytes) follow from Elapsed.
	Elapsed        time.Duration `json:"elapsed_ns"`
	CPU            time.Duration `json:"cpu_ns"`
	ContactsPerSec float64       `json:"contacts_per_sec"`
	MBPerSec       float64       `json:"mb_per_sec"`
	// Mem is the highest of the rounds' memory peaks (see MemPeak.Max).
	Mem MemPeak `json:"mem"`
	// Runs are the rounds' measurements, in the order they ran.
	Runs []ExportRun `json:"runs"`
	// Load is how long generating, loading and settling took (shared by peers loaded
	// together; not measured); Disk the settled size of the peer's directory.
	Load time.Duration `json:"load_ns"`
	Disk int64         `json:"disk"`
	// Verified says what the harness checked, all of which held; Method how the peer
	// exports.
	Verified string `json:"verified"`
	Method   string `json:"method"`
	// Dir is the peer's directory when ExportConfig.Keep left it in place.
	Dir string `json:"dir,omitempty"`
}

// ---- memory ----

// MemPeak is what a MemWatch saw: each figure's baseline when watching began and its
// highest sample. Bytes.
type MemPeak struct {
	// HeapInuse: bytes in heap spans holding objects, reachable or not yet swept (as
	// runtime.MemStats.HeapInuse): the Go heap the process needs.
	BaseHeapInuse uint64 `json:"base_heap_inuse"`
	PeakHeapInuse uint64 `json:"peak_heap_inuse"`
	// HeapLive: what the last GC found reachable; it changes only at each GC.
	BaseHeapLive uint64 `json:"base_heap_live"`
	PeakHeapLive uint64 `json:"peak_heap_live"`
	// RSS: the process's resident set size (0 where /proc/self/statm is missing).
	BaseRSS uint64 `json:"base_rss"`
	PeakRSS uint64 `json:"peak_rss"`
	// Allocs is the number of bytes allocated on the Go heap while watching; GCs the number
	// of garbage collections that completed.
	Allocs uint64 `json:"allocs"`
	GCs    uint64 `json:"gcs"`
}

// HeapInuse, HeapLive and RSS return how far each figure rose above its baseline.
func (m MemPeak) HeapInuse() uint64 { return sub0(m.PeakHeapInuse, m.BaseHeapInuse) }
func (m MemPeak) HeapLive() uint64  { return sub0(m.PeakHeapLive, m.BaseHeapLive) }
func (m MemPeak) RSS() uint64       { return sub0(m.PeakRSS, m.BaseRSS) }

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Max returns, for each figure, the baseline and peak of the watch in which it rose
// highest; Allocs and GCs are the highest of any watch.
func (m MemPeak) Max(o MemPeak) MemPeak {
	if o.HeapInuse() > m.HeapInuse() {
		m.BaseHeapInuse, m.PeakHeapInuse = o.BaseHeapInuse, o.PeakHeapInuse
	}
	if o.HeapLive() > m.HeapLive() {
		m.BaseHeapLive, m.PeakHeapLive = o.BaseHeapLive, o.PeakHeapLive
	}
	if o.RSS() > m.RSS() || m.PeakRSS == 0 {
		m.BaseRSS, m.PeakRSS = o.BaseRSS, o.PeakRSS
	}
	m.Allocs, m.GCs = max(m.Allocs, o.Allocs), max(m.GCs, o.GCs)
	return m
}

// MemWatch samples the Go heap and the RSS every few milliseconds. Start one with
// WatchMemory.
type MemWatch struct {
	samples []metrics.Sample
	peak    MemPeak
	allocs0 uint64
	gcs0    uint64
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// runtime/metrics names: heap in use = objects + unused slots of in-use spans.
const (
	mHeapObjects = "/memory/classes/heap/objects:bytes"
	mHeapUnused  = "/memory/classes/heap/unused:bytes"
	mHeapLive    = "/gc/heap/live:bytes"
	mAllocs      = "/gc/heap/allocs:bytes"
	mGCs         = "/gc/cycles/total:gc-cycles"
)

// WatchMemory runs a GC, returns freed memory to the operating system, takes the baseline
// and samples every interval (5 ms if interval ≤ 0) until Stop. Reading runtime/metrics
// does not stop the world.
func WatchMemory(interval time.Duration) *MemWatch {
	if interval <= 0 {
		interval = 5 * time.Millisecond
	}
	runtime.GC()
	debug.FreeOSMemory()
	w := &MemWatch{
		samples: []metrics.Sample{{Name: mHeapObjects}, {Name: mHeapUnused}, {Name: mHeapLive}, {Name: mAllocs}, {Name: mGCs}},
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	inuse, live, rss, allocs, gcs := w.read()
	w.peak = MemPeak{BaseHeapInuse: inuse, PeakHeapInuse: inuse, BaseHeapLive: live, PeakHeapLive: live, BaseRSS: rss, PeakRSS: rss}
	w.allocs0, w.gcs0 = allocs, gcs
	go w.loop(interval)
	return w
}

func (w *MemWatch) read() (inuse, live, rss, allocs, gcs uint64) {
	metrics.Read(w.samples)
	u := func(i int) uint64 {
		if w.samples[i].Value.Kind() == metrics.KindUint64 {
			return w.samples[i].Value.Uint64()
		}
		return 0
	}
	return u(0) + u(1), u(2), residentBytes(), u(3), u(4)
}

func (w *MemWatch) loop(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			w.sample()
		}
	}
}

func (w *MemWatch) sample() {
	inuse, live, rss, allocs, gcs := w.read()
	w.peak.PeakHeapInuse = max(w.peak.PeakHeapInuse, inuse)
	w.peak.PeakHeapLive = max(w.peak.PeakHeapLive, live)
	w.peak.PeakRSS = max(w.peak.PeakRSS, rss)
	w.peak.Allocs, w.peak.GCs = allocs-w.allocs0, gcs-w.gcs0
}

// Stop ends sampling after a last sample and returns what was seen. Later calls return the
// same.
func (w *MemWatch) Stop() MemPeak {
	w.once.Do(func() {
		close(w.quit)
		<-w.done
		w.sample()
	})
	return w.peak
}

// ---- the run ----

// countingWriter counts what is written and discards it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// exportData is what loading learned of the generated contacts.
type exportData struct {
	customer   string
	n          int64
	inputBytes int64
	idSum      uint64 // sum of FNV-64a of the ids: the same set gives the same sum
}

func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// exportStore is the store peer's store and what its variants need.
type exportStore struct {
	dir string
	key *crypto.RootKey
	log *expiryLog
	s   *store.Store
}

func (e *exportStore) options(create, noSync bool) *store.Options {
	return &store.Options{
		RootKey:         e.key,
		CreateIfMissing: create,
		ErrorIfExists:   create,
		NoSync:          noSync,
		ExpiryInterval:  -1,
		Logger:          slog.New(e.log),
	}
}

// RunExport runs the export scenario (see the comment at the top of export.go) and returns
// one result per peer in cfg.Peers order. progress, if not nil, receives a line about each
// step.
func RunExport(ctx context.Context, cfg ExportConfig, progress func(msg string)) ([]ExportResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	say := func(format string, args ...any) {
		progress(fmt.Sprintf("export N=%d: ", cfg.N) + fmt.Sprintf(format, args...))
	}
	root := cfg.Dir
	if root == "" {
		if root, err = os.MkdirTemp("", "contactstore-bench-export-*"); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		cfg.Keep = false
		defer os.RemoveAll(root)
	} else if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	// The directories: one store for both store variants, one per Pebble peer.
	dirOf := func(peer string) string {
		if peer == PeerStoreAge {
			peer = PeerStore
		}
		return filepath.Join(root, peer)
	}
	var dirs []string
	for _, p := range cfg.Peers {
		if d := dirOf(p); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			return nil, fmt.Errorf("bench: %s already exists: remove it or choose another directory", d)
		}
	}

	var (
		st  *exportStore
		pbs = map[string]*pebblePeer{}
		sqs = map[string]*sqlitePeer{}
	)
	defer func() {
		if st != nil && st.s != nil {
			st.s.Close()
		}
		for _, p := range pbs {
			p.close()
		}
		for _, p := range sqs {
			p.close()
		}
		if !cfg.Keep {
			for _, d := range dirs {
				os.RemoveAll(d)
			}
		}
	}()

	// Load every peer in one pass over the generated contacts.
	say("generating and loading %s contacts of one customer into %s", thousands(float64(cfg.N)), strings.Join(dirNames(dirs), ", "))
	t0 := time.Now()
	for _, p := range cfg.Peers {
		switch p {
		case PeerStore, PeerStoreAge:
			if st == nil {
				st = &exportStore{dir: dirOf(p), key: crypto.NewRootKey(crypto.MustNewKey(), "bench key"), log: &expiryLog{}}
				if st.s, err = store.Open(st.dir, st.options(true, true)); err != nil {
					return nil, fmt.Errorf("bench: %s: %w", PeerStore, err)
				}
			}
		case PeerSQLiteAESGCM:
			if sqs[p], err = openSQLitePeer(p, dirOf(p), false); err != nil {
				return nil, fmt.Errorf("bench: %s: %w", p, err)
			}
		default:
			po := func() *pebble.Options { return tunedOptions(p == PeerPebbleTuned) }
			if pbs[p], err = openPebblePeer(dirOf(p), false, po); err != nil {
				return nil, fmt.Errorf("bench: %s: %w", p, err)
			}
		}
	}
	data, err := loadExport(ctx, cfg, st, pbs, sqs)
	if err != nil {
		return nil, err
	}
	load := time.Since(t0)

	results := make([]ExportResult, len(cfg.Peers))
	for i, p := range cfg.Peers {
		results[i] = ExportResult{Peer: p, Contacts: data.n, InputBytes: data.inputBytes, Rounds: cfg.Rounds, Load: load,
			Method: exportMethod(p)}
		du, err := dirSize(dirOf(p))
		if err != nil {
			return nil, err
		}
		results[i].Disk = du.Total
		if cfg.Keep {
			results[i].Dir = dirOf(p)
		}
	}

	// Check every peer's stream once (this warms the caches too).
	var ident *age.X25519Identity
	if slices.Contains(cfg.Peers, PeerStoreAge) {
		if ident, err = age.GenerateX25519Identity(); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	for i, p := range cfg.Peers {
		say("%s: checking the stream", p)
		var err error
		switch p {
		case PeerStore:
			results[i].Verified, err = verifyStoreExport(ctx, st.s, data, nil)
		case PeerStoreAge:
			results[i].Verified, err = verifyStoreExport(ctx, st.s, data, ident)
		case PeerSQLiteAESGCM:
			results[i].Verified, err = verifyStreamExport(ctx, sqs[p].export, data, true)
		default:
			results[i].Verified, err = verifyPebbleExport(ctx, pbs[p].db, data)
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", p, err)
		}
	}

	// The measured rounds, the peers in rotating order.
	for round := range cfg.Rounds {
		for k := range cfg.Peers {
			i := (k + round) % len(cfg.Peers)
			p := cfg.Peers[i]
			say("%s: export %d of %d", p, round+1, cfg.Rounds)
			var (
				run           ExportRun
				stream, out   int64
				contacts      int64
				err           error
				w             = &countingWriter{}
				mem           = WatchMemory(5 * time.Millisecond)
				cpu0, started = processCPU(), time.Now()
			)
			switch p {
			case PeerStore, PeerStoreAge:
				o := store.ExportOptions{Recipient: exportRecipient, Country: exportCountry}
				if p == PeerStoreAge {
					o.AgeRecipients = []string{ident.Recipient().String()}
				}
				var res store.ExportResult
				res, err = st.s.Export(ctx, data.customer, w, o)
				contacts, stream = res.Contacts, res.Bytes
			case PeerSQLiteAESGCM:
				contacts, stream, _, err = sqs[p].export(ctx, data.customer, w)
			default:
				contacts, stream, _, err = PebbleExport(ctx, pbs[p].db, data.customer, w)
			}
			run.Elapsed, run.CPU = time.Since(started), processCPU()-cpu0
			run.Mem = mem.Stop()
			out = w.n
			if err != nil {
				return nil, fmt.Errorf("bench: %s: export: %w", p, err)
			}
			if contacts != data.n {
				return nil, fmt.Errorf("bench: %s: exported %d contacts, want %d", p, contacts, data.n)
			}
			r := &results[i]
			r.StreamBytes, r.OutBytes = stream, out
			r.Runs = append(r.Runs, run)
		}
	}
	for i := range results {
		summarizeExport(&results[i])
	}
	if st != nil {
		if err := st.log.errors(); err != nil {
			return results, fmt.Errorf("bench: %s: %w", PeerStore, err)
		}
	}
	return results, nil
}

func dirNames(dirs []string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = filepath.Base(d)
	}
	return out
}

func exportMethod(peer string) string {
	const storeM = "Store.Export to io.Discard: the transfer guard (an audited decision, fsync), the header (retention terms, earlier disclosures), " +
		"the records read in bounded chunks with fresh iterators, each opened (AES-256-GCM), decompressed and decoded, encoded as a JSON line and hashed (SHA-256); " +
		"the disclosure recorded (fsync)"
	switch peer {
	case PeerStore:
		return storeM
	case PeerStoreAge:
		return storeM + "; the stream encrypted to one age X25519 recipient (ChaCha20-Poly1305, 64 KiB chunks)"
	case PeerSQLiteAESGCM:
		return "SQLite (modernc.org/sqlite, WAL), one WITHOUT ROWID table keyed by HMAC pseudonyms of customer and id and the time, each value json.Marshal(contact) sealed with AES-256-GCM: " +
			"one query over the customer's primary-key range in time order, each value opened, written as a JSON line and hashed (SHA-256), header and trailer"
	case PeerPebbleTuned:
		return "plain Pebble with the store's options but Snappy blocks, json.Marshal(contact) stored under customer/time/id: " +
			"one iterator over the customer's range, each value written as a JSON line and hashed (SHA-256), header and trailer"
	}
	return "plain Pebble with the store's options (no block compression), json.Marshal(contact) stored under customer/time/id: " +
		"one iterator over the customer's range, each value written as a JSON line and hashed (SHA-256), header and trailer"
}

// summarizeExport sets the medians and peaks from the runs.
func summarizeExport(r *ExportResult) {
	if len(r.Runs) == 0 {
		return
	}
	el := make([]time.Duration, len(r.Runs))
	cpu := make([]time.Duration, len(r.Runs))
	for i, run := range r.Runs {
		el[i], cpu[i] = run.Elapsed, run.CPU
		if i == 0 {
			r.Mem = run.Mem
		} else {
			r.Mem = r.Mem.Max(run.Mem)
		}
	}
	r.Elapsed, r.CPU = median(el), median(cpu)
	if s := r.Elapsed.Seconds(); s > 0 {
		r.ContactsPerSec = float64(r.Contacts) / s
		r.MBPerSec = float64(r.StreamBytes) / 1e6 / s
	}
}

// median returns the middle value (the lower of the two middle ones for an even count).
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// loadExport generates cfg.N contacts of one customer and writes them to the store (if st
// is set) and to each Pebble peer, in batches without fsync, then settles everyone and
// reopens the store with fsync on, as in production. The SQLite peers (sqs) are loaded the
// same way and settled with a WAL checkpoint; they stay open.
func loadExport(ctx context.Context, cfg ExportConfig, st *exportStore, pbs map[string]*pebblePeer, sqs map[string]*sqlitePeer) (*exportData, error) {
	g := workload.New(workload.Config{Seed: cfg.Seed, Customers: 1, WithIDs: true, Count: cfg.N})
	d := &exportData{}
	batch := make([]store.Contact, 0, cfg.Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if st != nil {
			res, err := st.s.Put(ctx, batch)
			if err != nil {
				return fmt.Errorf("bench: %s: loading: %w", PeerStore, err)
			}
			if res.Added != len(batch) {
				return fmt.Errorf("bench: %s: a batch of %d added %d", PeerStore, len(batch), res.Added)
			}
		}
		for name, p := range pbs {
			if err := p.put(ctx, batch); err != nil {
				return fmt.Errorf("bench: %s: loading: %w", name, err)
			}
		}
		for name, p := range sqs {
			if err := p.put(ctx, batch); err != nil {
				return fmt.Errorf("bench: %s: loading: %w", name, err)
			}
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	for i := range cfg.N {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c := g.Next()
		if i == 0 {
			d.customer = c.Customer
		} else if c.Customer != d.customer {
			return nil, errors.New("bench: the workload gave a second customer")
		}
		js, err := json.Marshal(&c)
		if err != nil {
			return nil, err
		}
		d.inputBytes += int64(len(js))
		d.idSum += idHash(c.ID)
		d.n++
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
	for name, p := range pbs {
		if err := p.db.Flush(); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", name, err)
		}
		if err := WaitQuiet(ctx, PebbleIdle(p.db)); err != nil {
			return nil, err
		}
	}
	for name, p := range sqs {
		if err := p.checkpoint(ctx); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", name, err)
		}
	}
	if st != nil {
		s := st.s
		err := s.Flush()
		if err == nil {
			err = s.WaitForCompactions(ctx)
		}
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		st.s = nil
		if err != nil {
			return nil, fmt.Errorf("bench: %s: settling: %w", PeerStore, err)
		}
		if st.s, err = store.Open(st.dir, st.options(false, false)); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", PeerStore, err)
		}
		if err := st.s.WaitForCompactions(ctx); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// verifyStoreExport exports the customer once (to identity's recipient if set) through a
// pipe into export.Verify (after age decryption) and checks the stream against the
// generated contacts.
func verifyStoreExport(ctx context.Context, s *store.Store, d *exportData, identity *age.X25519Identity) (string, error) {
	o := store.ExportOptions{Recipient: exportRecipient, Country: exportCountry}
	if identity != nil {
		o.AgeRecipients = []string{identity.Recipient().String()}
	}
	pr, pw := io.Pipe()
	type verdict struct {
		sum   export.Summary
		ids   uint64
		plain int64
		err   error
	}
	done := make(chan verdict, 1)
	go func() {
		var v verdict
		var r io.Reader = pr
		if identity != nil {
			if r, v.err = age.Decrypt(pr, identity); v.err != nil {
				pr.CloseWithError(v.err)
				done <- v
				return
			}
		}
		cr := &countingReader{r: r}
		var last time.Time
		v.sum, v.err = export.Verify(cr, func(line []byte) error {
			var c struct {
				ID       string    `json:"id"`
				Customer string    `json:"customer"`
				Time     time.Time `json:"time"`
			}
			if err := json.Unmarshal(line, &c); err != nil {
				return err
			}
			if c.Customer != d.customer {
				return errors.New("a contact of another customer")
			}
			if c.Time.Before(last) {
				return errors.New("contacts out of time order")
			}
			last = c.Time
			v.ids += idHash(c.ID)
			return nil
		})
		if v.err == nil {
			_, v.err = io.Copy(io.Discard, r) // age checks the last chunk at EOF
		}
		v.plain = cr.n
		pr.CloseWithError(cmpOr(v.err, io.EOF))
		done <- v
	}()
	res, err := s.Export(ctx, d.customer, pw, o)
	pw.CloseWithError(cmpOr(err, io.EOF))
	v := <-done
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	if v.err != nil {
		return "", fmt.Errorf("the stream does not verify: %w", v.err)
	}
	if v.sum.Contacts != d.n || res.Contacts != d.n || v.ids != d.idSum || v.sum.Trailer.SHA256 != res.SHA256 || v.plain != res.Bytes {
		return "", fmt.Errorf("the stream has %d contacts (Export says %d, want %d), ids match %v, digest match %v, %d bytes (Export says %d)",
			v.sum.Contacts, res.Contacts, d.n, v.ids == d.idSum, v.sum.Trailer.SHA256 == res.SHA256, v.plain, res.Bytes)
	}
	what := "the stream"
	if identity != nil {
		what = "the stream, decrypted with the age identity,"
	}
	return fmt.Sprintf("%s passes export.Verify (header, count and SHA-256 in the trailer, nothing after it) with %s contacts of the customer in time order, exactly the generated ids",
		what, thousands(float64(d.n))), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// verifyPebbleExport runs PebbleExport into export.Verify and checks the ids.
func verifyPebbleExport(ctx context.Context, db *pebble.DB, d *exportData) (string, error) {
	return verifyStreamExport(ctx, func(ctx context.Context, customer string, w io.Writer) (int64, int64, string, error) {
		return PebbleExport(ctx, db, customer, w)
	}, d, false)
}

// verifyStreamExport runs a peer's export (PebbleExport or a SQLite peer's) into
// export.Verify and checks the ids, the customer, and with inOrder the time order.
func verifyStreamExport(ctx context.Context, exp func(ctx context.Context, customer string, w io.Writer) (contacts, written int64, digest string, err error),
	d *exportData, inOrder bool) (string, error) {
	var buf bytes.Buffer
	n, written, sum, err := exp(ctx, d.customer, &buf)
	if err != nil {
		return "", err
	}
	if written != int64(buf.Len()) {
		return "", fmt.Errorf("the export says %d bytes, wrote %d", written, buf.Len())
	}
	var (
		ids  uint64
		last time.Time
	)
	s, err := export.Verify(&buf, func(line []byte) error {
		var c struct {
			ID       string    `json:"id"`
			Customer string    `json:"customer"`
			Time     time.Time `json:"time"`
		}
		if err := json.Unmarshal(line, &c); err != nil {
			return err
		}
		if c.Customer != d.customer {
			return errors.New("a contact of another customer")
		}
		if inOrder && c.Time.Before(last) {
			return errors.New("contacts out of time order")
		}
		last = c.Time
		ids += idHash(c.ID)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("the stream does not verify: %w", err)
	}
	if n != d.n || s.Contacts != d.n || ids != d.idSum || s.Trailer.SHA256 != sum {
		return "", fmt.Errorf("the scan yields %d contacts (want %d), ids match %v", n, d.n, ids == d.idSum)
	}
	what := ""
	if inOrder {
		what = " in time order"
	}
	return fmt.Sprintf("the stream passes export.Verify with %s contacts%s, exactly the generated ids", thousands(float64(d.n)), what), nil
}

// PebbleExport is the plain-Pebble peer's export: one iterator over the customer's keys
// (customer "/" …, see PebbleKey), a header line, each value (a contact's JSON object) as a
// contact line of the export format, and a trailer with the count and the SHA-256 of every
// line before it, each line written to w with its own Write as Store.Export does. It
// returns the number of contacts, the bytes written and the digest.
func PebbleExport(ctx context.Context, db *pebble.DB, customer string, w io.Writer) (contacts, written int64, digest string, err error) {
	lo := []byte(customer + "/")
	hi := []byte(customer + "0") // '0' follows '/'
	st, err := newRawStream(w, customer)
	if err != nil {
		return 0, 0, "", err
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return st.abort(err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if st.n%4096 == 0 && ctx.Err() != nil {
			it.Close()
			return st.abort(ctx.Err())
		}
		v, err := it.ValueAndErr()
		if err == nil {
			err = st.contact(v)
		}
		if err != nil {
			it.Close()
			return st.abort(err)
		}
	}
	if err := it.Close(); err != nil {
		return st.abort(err)
	}
	return st.close()
}

// rawStream writes a raw peer's export stream through export.Writer (which keeps the count
// and digest and writes the trailer), from contacts' JSON objects as stored: each is spliced
// into a contact line, not re-encoded.
type rawStream struct {
	w    *export.Writer
	out  *byteCount
	line []byte
	n    int64
}

type byteCount struct {
	w io.Writer
	n int64
}

func (c *byteCount) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// newRawStream writes the header.
func newRawStream(w io.Writer, customer string) (*rawStream, error) {
	out := &byteCount{w: w}
	st := &rawStream{w: export.NewWriter(out), out: out, line: make([]byte, 0, 64<<10)}
	hdr, err := export.HeaderLine(&export.Header{Customer: customer, Recipient: exportRecipient, Country: exportCountry,
		Created: time.Now().UTC()})
	if err == nil {
		err = st.w.WriteLine(hdr, false)
	}
	return st, err
}

// contact writes one contact line from a stored JSON object.
func (st *rawStream) contact(js []byte) error {
	if len(js) < 2 || js[0] != '{' {
		return errors.New("bench: a value is not a JSON object")
	}
	st.line = append(st.line[:0], `{"type":"contact"`...)
	if len(js) > 2 {
		st.line = append(st.line, ',')
	}
	st.line = append(st.line, js[1:]...)
	st.line = append(st.line, '\n')
	if err := st.w.WriteLine(st.line, true); err != nil {
		return err
	}
	st.n++
	return nil
}

// close writes the trailer and returns the count, the bytes written and the digest.
func (st *rawStream) close() (contacts, written int64, digest string, err error) {
	t, _, err := st.w.Close()
	return st.n, st.out.n, t.SHA256, err
}

func (st *rawStream) abort(err error) (contacts, written int64, digest string, _ error) {
	return st.n, st.out.n, "", err
}

// ---- report ----

// ExportMarkdown renders export results as Markdown: a table of the measurements, the
// ratios to the plain Pebble peer, how each peer exports and what was verified.
func ExportMarkdown(results []ExportResult) string {
	if len(results) == 0 {
		return "No results.\n"
	}
	var b strings.Builder
	r0 := results[0]
	fmt.Fprintf(&b, "Export: one customer with %s contacts (%.1f MB of JSON), exported whole to io.Discard; median of %d round(s), the peers in rotating order.\n\n",
		thousands(float64(r0.Contacts)), float64(r0.InputBytes)/1e6, r0.Rounds)
	b.WriteString("| peer | contacts/s | MB/s | elapsed | CPU | CPU µs/contact | stream | written | heap in use: base → peak (+Δ) | live heap peak (+Δ) | RSS: base → peak (+Δ) | allocated/contact | GCs | disk |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		m := r.Mem
		perContact := func(v float64) float64 {
			if r.Contacts == 0 {
				return 0
			}
			return v / float64(r.Contacts)
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f | %s | %s | %.1f | %s | %s | %s → %s (+%s) | %s (+%s) | %s → %s (+%s) | %s | %d | %s |\n",
			r.Peer, thousands(r.ContactsPerSec), r.MBPerSec, dur(r.Elapsed), dur(r.CPU), perContact(float64(r.CPU.Microseconds())),
			mib(r.StreamBytes), mib(r.OutBytes),
			mib(int64(m.BaseHeapInuse)), mib(int64(m.PeakHeapInuse)), mib(int64(m.HeapInuse())),
			mib(int64(m.PeakHeapLive)), mib(int64(m.HeapLive())),
			mib(int64(m.BaseRSS)), mib(int64(m.PeakRSS)), mib(int64(m.RSS())),
			kib(perContact(float64(m.Allocs))), m.GCs, mib(r.Disk))
	}
	if len(results) > 1 {
		fmt.Fprintf(&b, "\n| row ÷ column: elapsed (CPU) |")
		for _, c := range results {
			fmt.Fprintf(&b, " %s |", c.Peer)
		}
		b.WriteString("\n|---|")
		for range results {
			b.WriteString("--:|")
		}
		b.WriteByte('\n')
		for _, r := range results {
			fmt.Fprintf(&b, "| %s |", r.Peer)
			for _, c := range results {
				if c.Elapsed == 0 || c.CPU == 0 {
					b.WriteString(" – |")
					continue
				}
				fmt.Fprintf(&b, " %.2f× (%.2f×) |", float64(r.Elapsed)/float64(c.Elapsed), float64(r.CPU)/float64(c.CPU))
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("\nRounds (elapsed):\n")
	for _, r := range results {
		parts := make([]string, len(r.Runs))
		for i, run := range r.Runs {
			parts[i] = dur(run.Elapsed)
		}
		fmt.Fprintf(&b, "- %s: %s.\n", r.Peer, strings.Join(parts, ", "))
	}
	b.WriteString("\nHow each peer exports:\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- %s: %s.\n", r.Peer, r.Method)
	}
	b.WriteString("\nColumns: MB/s counts the plain JSON Lines stream (10^6 bytes a second; for age the plaintext, the ciphertext is \"written\"). " +
		"CPU is the whole process's (user + system) during the export. Memory is sampled every 5 ms from a baseline taken after a GC and returning freed memory to the OS: " +
		"\"heap in use\" is the Go heap's spans holding objects, garbage not yet collected included; \"live heap\" what each GC found reachable; " +
		"RSS the resident set, which also holds Pebble's block cache (outside the Go heap with cgo; the checking pass before the rounds fills it). " +
		"The peak memory is the highest of the rounds. \"allocated/contact\" is the Go heap allocated during the export per contact.\n")
	b.WriteString("\nVerified (before the measured rounds):\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- %s: %s.\n", r.Peer, r.Verified)
	}
	return b.String()
}

func kib(v float64) string { return fmt.Sprintf("%.1f KiB", v/1024) }
