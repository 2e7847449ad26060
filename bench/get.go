package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"contactstore/crypto"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
)

// The get scenario: read one customer's whole history, for many random customers of a
// loaded store.
//
// N contacts of Customers customers (skewed: the workload's Zipf-like contacts per
// customer) are loaded once into the store and into plain Pebble with the store's options
// (tunedOptions without block compression), and both are settled. Then Lookups customers,
// drawn at random (uniformly among the customers that have contacts, with replacement,
// from the seed), are read, the same sequence for both peers:
//
//   - "contactstore": store.Contacts(customer, whole time range), every record opened
//     (AES-256-GCM), decompressed and decoded.
//   - "pebble-tuned-nocompress": one iterator over the customer's key range
//     (customer "/" time "/" id, as the ingest peers write them) of plaintext JSON, each
//     value json.Unmarshal'ed into a store.Contact.
//
// Each read's latency is one sample; each read's count is checked against the generated
// data.

// Defaults of the get and erase scenarios.
const (
	DefaultGetN       = 100_000
	DefaultGetLookups = 1_000
)

// GetPeers lists the peers RunGet and RunErase run, in order.
var GetPeers = []string{PeerStore, PeerPebbleTunedNoCompress}

// GetConfig describes a get comparison. Zero fields take defaults.
type GetConfig struct {
	// N is the number of contacts loaded (default 100,000).
	N int
	// Customers is the number of distinct customers (default N/20).
	Customers int
	// Seed is the workload seed; it also draws the customers read.
	Seed int64
	// Lookups is how many customers are read (default 1,000).
	Lookups int
	// Batch is the number of contacts per Put or Pebble batch when loading (default 1,000).
	Batch int
	// Dir is where the peers' directories go (Dir/<peer>, which must not exist). Empty
	// means a temporary directory. They are removed unless Keep is set.
	Dir  string
	Keep bool
}

// LatencyStats are a sequence of operations' latencies and throughput.
type LatencyStats struct {
	Ops     int           `json:"ops"`
	Elapsed time.Duration `json:"elapsed_ns"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
	// OpsPerSec is Ops over Elapsed.
	OpsPerSec float64 `json:"ops_per_sec"`
}

func latencyStats(lat []time.Duration, elapsed time.Duration) LatencyStats {
	s := LatencyStats{Ops: len(lat), Elapsed: elapsed}
	s.P50, s.P99, s.Max = percentiles(lat)
	if elapsed > 0 {
		s.OpsPerSec = float64(len(lat)) / elapsed.Seconds()
	}
	return s
}

// GetResult is one peer's measurement.
type GetResult struct {
	Peer       string `json:"peer"`
	N          int    `json:"n"`
	Customers  int    `json:"customers"`
	InputBytes int64  `json:"input_bytes"`
	// Contacts is the number of contacts read over all lookups; ContactsPerSec follows.
	Contacts       int64        `json:"contacts"`
	ContactsPerSec float64      `json:"contacts_per_sec"`
	Latency        LatencyStats `json:"latency"`
	// Largest is the most contacts one lookup read.
	Largest  int           `json:"largest"`
	Mem      MemPeak       `json:"mem"`
	Load     time.Duration `json:"load_ns"`
	Disk     int64         `json:"disk"`
	Verified string        `json:"verified"`
	Method   string        `json:"method"`
}

// loaded is a store and a Pebble peer holding the same generated contacts, settled.
type loaded struct {
	root       string
	st         *exportStore
	pb         *pebblePeer
	counts     map[string]int // contacts per customer
	customers  []string       // sorted
	inputBytes int64
	load       time.Duration
}

func (l *loaded) close() {
	if l.st != nil && l.st.s != nil {
		l.st.s.Close()
		l.st.s = nil
	}
	if l.pb != nil {
		l.pb.close()
	}
}

// loadBoth generates n contacts of customers customers and loads them into a fresh store
// (fsync per batch, background expiry off) and a plain Pebble peer with the store's
// options, then settles both (flush, compactions finished).
func loadBoth(ctx context.Context, root string, n, customers, batch int, seed int64, say func(string, ...any)) (*loaded, error) {
	for _, p := range GetPeers {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return nil, fmt.Errorf("bench: %s already exists: remove it or choose another directory", filepath.Join(root, p))
		}
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	t0 := time.Now()
	say("generating %s contacts of %s customers", thousands(float64(n)), thousands(float64(customers)))
	contacts, input, err := Generate(ctx, seed, n, customers)
	if err != nil {
		return nil, err
	}
	l := &loaded{root: root, counts: map[string]int{}, inputBytes: input}
	for i := range contacts {
		l.counts[contacts[i].Customer]++
	}
	for c := range l.counts {
		l.customers = append(l.customers, c)
	}
	slices.Sort(l.customers)
	l.st = &exportStore{dir: filepath.Join(root, PeerStore), key: crypto.NewRootKey(crypto.MustNewKey(), "bench key"), log: &expiryLog{}}
	if l.st.s, err = store.Open(l.st.dir, l.st.options(true, false)); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", PeerStore, err)
	}
	if l.pb, err = openPebblePeer(filepath.Join(root, PeerPebbleTunedNoCompress), true, func() *pebble.Options { return tunedOptions(false) }); err != nil {
		l.close()
		return nil, fmt.Errorf("bench: %s: %w", PeerPebbleTunedNoCompress, err)
	}
	say("loading into %s and %s", PeerStore, PeerPebbleTunedNoCompress)
	for lo := 0; lo < len(contacts); lo += batch {
		b := contacts[lo:min(lo+batch, len(contacts))]
		if _, err := l.st.s.Put(ctx, b); err != nil {
			l.close()
			return nil, fmt.Errorf("bench: %s: %w", PeerStore, err)
		}
		if err := l.pb.put(ctx, b); err != nil {
			l.close()
			return nil, fmt.Errorf("bench: %s: %w", PeerPebbleTunedNoCompress, err)
		}
	}
	say("settling")
	err = l.st.s.Flush()
	if err == nil {
		err = l.st.s.WaitForCompactions(ctx)
	}
	if err == nil {
		err = l.pb.db.Flush()
	}
	if err == nil {
		err = WaitQuiet(ctx, PebbleIdle(l.pb.db))
	}
	if err != nil {
		l.close()
		return nil, fmt.Errorf("bench: settling: %w", err)
	}
	l.load = time.Since(t0)
	return l, nil
}

// pick draws k customers with the seed: with replacement when distinct is false.
func (l *loaded) pick(seed int64, k int, distinct bool) []string {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6765742d65726173))
	if distinct {
		k = min(k, len(l.customers))
		idx := r.Perm(len(l.customers))[:k]
		out := make([]string, k)
		for i, j := range idx {
			out[i] = l.customers[j]
		}
		return out
	}
	out := make([]string, k)
	for i := range out {
		out[i] = l.customers[r.IntN(len(l.customers))]
	}
	return out
}

// customerRange returns the Pebble peers' key range of a customer's contacts.
func customerRange(customer string) (lo, hi []byte) {
	lo = append([]byte(customer), '/')
	hi = append([]byte(customer), '/'+1)
	return lo, hi
}

// readStore reads a customer's whole history from the store and returns how many contacts.
func readStore(ctx context.Context, s *store.Store, customer string) (int, error) {
	n := 0
	for _, err := range s.Contacts(ctx, customer, store.TimeRange{}) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// readPebble iterates a customer's key range and decodes every value.
func readPebble(db *pebble.DB, customer string) (int, error) {
	lo, hi := customerRange(customer)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return n, err
		}
		var c store.Contact
		if err := json.Unmarshal(v, &c); err != nil {
			it.Close()
			return n, err
		}
		n++
	}
	return n, it.Close()
}

// RunGet runs the get scenario (see the comment at the top of get.go) and returns one
// result per peer (GetPeers). progress, if not nil, receives a line about each step.
func RunGet(ctx context.Context, cfg GetConfig, progress func(string)) ([]GetResult, error) {
	if cfg.N <= 0 {
		cfg.N = DefaultGetN
	}
	if cfg.Customers <= 0 {
		cfg.Customers = max(1, cfg.N/20)
	}
	if cfg.Lookups <= 0 {
		cfg.Lookups = DefaultGetLookups
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if progress == nil {
		progress = func(string) {}
	}
	say := func(f string, a ...any) { progress(fmt.Sprintf("get N=%d: ", cfg.N) + fmt.Sprintf(f, a...)) }
	root, cleanup, err := scenarioRoot(cfg.Dir, "get", &cfg.Keep)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	l, err := loadBoth(ctx, root, cfg.N, cfg.Customers, cfg.Batch, cfg.Seed, say)
	if err != nil {
		return nil, err
	}
	defer l.close()
	lookups := l.pick(cfg.Seed, cfg.Lookups, false)
	var results []GetResult
	for _, peer := range GetPeers {
		r := GetResult{Peer: peer, N: cfg.N, Customers: len(l.customers), InputBytes: l.inputBytes, Load: l.load}
		var read func(string) (int, error)
		switch peer {
		case PeerStore:
			read = func(c string) (int, error) { return readStore(ctx, l.st.s, c) }
			r.Method = "store.Contacts over the whole time range: records opened (AES-256-GCM), decompressed, decoded"
			du, err := dirSize(l.st.dir)
			if err != nil {
				return results, err
			}
			r.Disk = du.Total
		default:
			read = func(c string) (int, error) { return readPebble(l.pb.db, c) }
			r.Method = "one iterator over customer/time/id keys of plaintext JSON, json.Unmarshal per value"
			du, err := dirSize(l.pb.dir)
			if err != nil {
				return results, err
			}
			r.Disk = du.Total
		}
		say("%s: reading %s customers", peer, thousands(float64(len(lookups))))
		lat := make([]time.Duration, len(lookups))
		mw := WatchMemory(0)
		start := time.Now()
		for i, c := range lookups {
			if ctx.Err() != nil {
				mw.Stop()
				return results, ctx.Err()
			}
			t := time.Now()
			n, err := read(c)
			lat[i] = time.Since(t)
			if err != nil {
				mw.Stop()
				return results, fmt.Errorf("bench: get %s: %s: %w", peer, c, err)
			}
			if n != l.counts[c] {
				mw.Stop()
				return results, fmt.Errorf("bench: get %s: %s: read %d contacts, want %d", peer, c, n, l.counts[c])
			}
			r.Contacts += int64(n)
			r.Largest = max(r.Largest, n)
		}
		elapsed := time.Since(start)
		r.Mem = mw.Stop()
		r.Latency = latencyStats(lat, elapsed)
		if elapsed > 0 {
			r.ContactsPerSec = float64(r.Contacts) / elapsed.Seconds()
		}
		r.Verified = fmt.Sprintf("each of the %d reads returned the customer's generated number of contacts", len(lookups))
		results = append(results, r)
	}
	return results, nil
}

// scenarioRoot returns the directory a scenario works in and a function that removes it
// when it is temporary.
func scenarioRoot(dir, name string, keep *bool) (string, func(), error) {
	if dir == "" {
		root, err := os.MkdirTemp("", "contactstore-bench-"+name+"-*")
		if err != nil {
			return "", nil, fmt.Errorf("bench: %w", err)
		}
		*keep = false
		return root, func() { os.RemoveAll(root) }, nil
	}
	if *keep {
		return dir, func() {}, nil
	}
	return dir, func() {
		for _, p := range GetPeers {
			os.RemoveAll(filepath.Join(dir, p))
		}
	}, nil
}

// latencyRow writes a Markdown table row of latencies.
func latencyCells(s LatencyStats) string {
	return fmt.Sprintf("%s | %s | %s | %s", thousands(s.OpsPerSec), dur(s.P50), dur(s.P99), dur(s.Max))
}

func memCells(m MemPeak) string {
	return fmt.Sprintf("%s | %s", mib(int64(m.HeapInuse())), mib(int64(m.RSS())))
}

// GetMarkdown renders get results as Markdown.
func GetMarkdown(results []GetResult) string {
	if len(results) == 0 {
		return "No results.\n"
	}
	var b strings.Builder
	r0 := results[0]
	fmt.Fprintf(&b, "Get: one customer's whole history, for %s random customers of a settled store of %s contacts (%s customers, skewed; %s as JSON).\n\n",
		thousands(float64(r0.Latency.Ops)), thousands(float64(r0.N)), thousands(float64(r0.Customers)), mib(r0.InputBytes))
	b.WriteString("| peer | customers/s | p50 | p99 | max | contacts/s | largest history | peak heap in use | peak RSS | disk | vs " + PeerPebbleTunedNoCompress + " |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var ref float64
	for _, r := range results {
		if r.Peer == PeerPebbleTunedNoCompress {
			ref = r.Latency.OpsPerSec
		}
	}
	for _, r := range results {
		ratio := "–"
		if ref > 0 {
			ratio = fmt.Sprintf("%.2f×", r.Latency.OpsPerSec/ref)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s |\n", r.Peer, latencyCells(r.Latency), thousands(r.ContactsPerSec),
			r.Largest, memCells(r.Mem), mib(r.Disk), ratio)
	}
	b.WriteString("\nHow each peer reads:\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- %s: %s. Verified: %s.\n", r.Peer, r.Method, r.Verified)
	}
	b.WriteString("\nPeak memory is above a baseline taken after a GC just before the reads; Pebble's block cache (512 MiB, outside the Go heap) counts in the RSS only.\n")
	return b.String()
}
