package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"contactstore/bench/workload"
	"contactstore/store"
)

// Peer names.
const (
	PeerStore                 = "contactstore"
	PeerPebbleDefault         = "pebble-default"
	PeerPebbleTuned           = "pebble-tuned"
	PeerPebbleTunedNoCompress = "pebble-tuned-nocompress"
)

// Peers lists every peer RunIngest knows, in the order it runs them.
var Peers = append([]string{PeerStore, PeerPebbleDefault, PeerPebbleTuned, PeerPebbleTunedNoCompress}, SQLitePeers...)

// DefaultPeers are the peers run when Config.Peers is empty.
var DefaultPeers = []string{PeerStore, PeerPebbleDefault, PeerPebbleTuned, PeerSQLiteAESGCM}

// Defaults applied by RunIngest to zero fields of Config.
const (
	DefaultN     = 100_000
	DefaultBatch = 1000
)

// Config describes an ingest comparison. Zero fields take defaults.
type Config struct {
	// N is the number of contacts written through each peer (default 100,000).
	N int
	// Seed is the workload seed; the same seed gives the same contacts.
	Seed int64
	// Batch is the number of contacts per Put or Pebble batch (default 1,000).
	Batch int
	// Writers is the number of goroutines writing batches concurrently (default 1).
	Writers int
	// Sync makes every batch durable (fsync) before the next write counts as done.
	Sync bool
	// Dir is where each peer gets its own directory, Dir/<peer>, which must not exist yet.
	// Empty means a temporary directory. Peers' directories are removed after measuring
	// unless Keep is set.
	Dir string
	// Peers are the peers to run, by name (see Peers); default DefaultPeers.
	Peers []string
	// Customers is the number of distinct customers in the workload (default N/20, at
	// least 1).
	Customers int
	// Keep leaves each peer's directory in place (only when Dir is set).
	Keep bool
	// Verify reopens each peer after settling and checks that it holds exactly N records.
	// It is not part of any measurement.
	Verify bool
}

func (c Config) withDefaults() (Config, error) {
	if c.N <= 0 {
		c.N = DefaultN
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Writers <= 0 {
		c.Writers = 1
	}
	if c.Customers <= 0 {
		c.Customers = max(1, c.N/workload.DefaultPerCustomer)
	}
	if len(c.Peers) == 0 {
		c.Peers = DefaultPeers
	}
	c.Peers = slices.Clone(c.Peers)
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if !slices.Contains(Peers, p) {
			return c, fmt.Errorf("bench: unknown peer %q (known: %v)", p, Peers)
		}
		if seen[p] {
			return c, fmt.Errorf("bench: peer %q named twice", p)
		}
		seen[p] = true
	}
	return c, nil
}

// Result is one peer's measurement. Sizes are bytes; MB means 10^6 bytes.
type Result struct {
	Peer    string
	Records int
	// InputBytes is the size of the contacts as JSON (json.Marshal, no newlines), the same
	// for every peer.
	InputBytes int64
	Batch      int
	Writers    int
	Sync       bool

	// Elapsed is the wall time from the first write to the last acknowledged batch.
	Elapsed       time.Duration
	RecordsPerSec float64
	MBPerSec      float64 // InputBytes / Elapsed
	// CPUIngest and CPUSettle are the CPU time (user + system) the whole process used
	// during ingest and settle: all goroutines, Pebble's flushes and compactions included.
	// Unlike wall time they hardly change when other processes compete for the cores.
	CPUIngest, CPUSettle time.Duration
	// Latency of one batch: the whole Put (store) or marshal+batch+commit (Pebble).
	P50, P99, Max time.Duration

	// PeakHeap is the highest live Go heap (what a GC found reachable, runtime/metrics
	// /gc/heap/live:bytes) seen during ingest and settle, above the live heap before the peer
	// opened, which holds the benchmark's contacts. It is sampled every 50 ms but changes
	// only at each GC. Pebble's memtables and block cache live outside the Go heap when cgo
	// is on: see PeakRSS.
	PeakHeap uint64
	// PeakRSS is the highest resident set size seen, above the baseline (0 where
	// /proc/self/statm is missing). It includes garbage the GC has not yet collected.
	PeakRSS uint64

	// DiskIngest is the directory size (sum of file sizes) right after the last batch.
	DiskIngest int64
	// DiskSettled is the directory size after settling and closing; SSTSettled and
	// WALSettled are the parts of it in Pebble's sstables and write-ahead logs (Pebble keeps
	// old logs for recycling; the store does not recycle them but may still keep one).
	DiskSettled, SSTSettled, WALSettled int64
	// Settle is the time settling and closing took; SettleMethod says what it did.
	Settle       time.Duration
	SettleMethod string
	// SettledRecordsPerSec is Records / (Elapsed + Settle).
	SettledRecordsPerSec float64

	// WriteStalls counts Pebble's write stalls during ingest, StallTime their total.
	WriteStalls int64
	StallTime   time.Duration

	// Dir is the peer's directory when Config.Keep left it in place.
	Dir string
}

// RunIngest generates cfg.N contacts and writes them through each peer in turn, returning
// one Result per peer in cfg.Peers order. progress, if not nil, is called after every
// batch with the number of records written so far over the whole run (it counts up to
// N × number of peers); calls never overlap.
func RunIngest(ctx context.Context, cfg Config, progress func(done int)) ([]Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	root := cfg.Dir
	if root == "" {
		if root, err = os.MkdirTemp("", "contactstore-bench-*"); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		cfg.Keep = false
		defer os.RemoveAll(root)
	} else if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	for _, p := range cfg.Peers {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return nil, fmt.Errorf("bench: %s already exists: remove it or choose another directory", filepath.Join(root, p))
		}
	}

	contacts, inputBytes, err := Generate(ctx, cfg.Seed, cfg.N, cfg.Customers)
	if err != nil {
		return nil, err
	}

	var (
		progMu   sync.Mutex
		progDone int
	)
	report := func(n int) {
		if progress == nil {
			return
		}
		progMu.Lock()
		progDone += n
		progress(progDone)
		progMu.Unlock()
	}

	results := make([]Result, 0, len(cfg.Peers))
	for _, name := range cfg.Peers {
		dir := filepath.Join(root, name)
		r, err := runPeer(ctx, cfg, name, dir, contacts, report)
		if !cfg.Keep {
			if rerr := os.RemoveAll(dir); err == nil && rerr != nil {
				err = fmt.Errorf("bench: removing %s: %w", dir, rerr)
			}
		} else {
			r.Dir = dir
		}
		if err != nil {
			return results, err
		}
		r.InputBytes = inputBytes
		r.MBPerSec = float64(inputBytes) / 1e6 / r.Elapsed.Seconds()
		results = append(results, r)
	}
	return results, nil
}

// Generate returns the n contacts of the benchmark workload for seed and customers (every
// contact with a source-system id, so that all peers store the same keys) and their total
// size as JSON.
func Generate(ctx context.Context, seed int64, n, customers int) ([]store.Contact, int64, error) {
	g := workload.New(workload.Config{Seed: seed, Customers: customers, WithIDs: true, Count: n})
	contacts := make([]store.Contact, n)
	for i := range contacts {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		contacts[i] = g.Next()
	}
	size, err := jsonSize(contacts)
	return contacts, size, err
}

// jsonSize returns the total size of the contacts' JSON encodings, marshalling in parallel.
func jsonSize(contacts []store.Contact) (int64, error) {
	workers := runtime.GOMAXPROCS(0)
	var (
		total atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	chunk := (len(contacts) + workers - 1) / workers
	for lo := 0; lo < len(contacts); lo += chunk {
		part := contacts[lo:min(lo+chunk, len(contacts))]
		wg.Go(func() {
			var sum int64
			for i := range part {
				b, err := json.Marshal(&part[i])
				if err != nil {
					errMu.Lock()
					first = cmpOr(first, err)
					errMu.Unlock()
					return
				}
				sum += int64(len(b))
			}
			total.Add(sum)
		})
	}
	wg.Wait()
	return total.Load(), first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// runPeer opens one peer, writes every contact through it, settles it and measures.
func runPeer(ctx context.Context, cfg Config, name, dir string, contacts []store.Contact, report func(int)) (Result, error) {
	r := Result{Peer: name, Records: len(contacts), Batch: cfg.Batch, Writers: cfg.Writers, Sync: cfg.Sync}
	mem := startMemSampler()
	defer mem.stop()
	p, err := openPeer(name, dir, cfg.Sync)
	if err != nil {
		return r, err
	}
	defer p.close()

	nb := (len(contacts) + cfg.Batch - 1) / cfg.Batch
	lat := make([]time.Duration, nb)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cpu0 := processCPU()
	start := time.Now()
	for range cfg.Writers {
		wg.Go(func() {
			for wctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= nb {
					return
				}
				batch := contacts[i*cfg.Batch : min((i+1)*cfg.Batch, len(contacts))]
				t0 := time.Now()
				err := p.put(wctx, batch)
				lat[i] = time.Since(t0)
				if err != nil {
					errMu.Lock()
					firstErr = cmpOr(firstErr, fmt.Errorf("bench: %s: batch %d: %w", name, i, err))
					errMu.Unlock()
					cancel()
					return
				}
				report(len(batch))
			}
		})
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	r.CPUIngest = processCPU() - cpu0
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return r, firstErr
	}
	r.RecordsPerSec = float64(len(contacts)) / r.Elapsed.Seconds()
	r.P50, r.P99, r.Max = percentiles(lat)
	r.WriteStalls, r.StallTime = p.stalls()

	du, err := dirSize(dir)
	if err != nil {
		return r, err
	}
	r.DiskIngest = du.Total
	t0, cpu0 := time.Now(), processCPU()
	if r.SettleMethod, err = p.settle(ctx); err != nil {
		return r, fmt.Errorf("bench: %s: settling: %w", name, err)
	}
	r.Settle = time.Since(t0)
	r.CPUSettle = processCPU() - cpu0
	r.PeakHeap, r.PeakRSS = mem.stop()
	r.SettledRecordsPerSec = float64(len(contacts)) / (r.Elapsed + r.Settle).Seconds()
	if du, err = dirSize(dir); err != nil {
		return r, err
	}
	r.DiskSettled, r.SSTSettled, r.WALSettled = du.Total, du.SST, du.WAL
	if cfg.Verify {
		n, err := p.count(ctx)
		if err != nil {
			return r, fmt.Errorf("bench: %s: verifying: %w", name, err)
		}
		if n != int64(len(contacts)) {
			return r, fmt.Errorf("bench: %s: verifying: %d records stored, want %d", name, n, len(contacts))
		}
	}
	return r, nil
}

// percentiles returns the nearest-rank 50th and 99th percentiles and the maximum.
func percentiles(d []time.Duration) (p50, p99, mx time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.9999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return rank(0.50), rank(0.99), s[len(s)-1]
}

// diskUsage is what a directory holds, in bytes: all regular files, and of them Pebble's
// sstables (*.sst) and write-ahead logs (*.log, which include logs kept for recycling).
type diskUsage struct {
	Total, SST, WAL int64
}

// dirSize returns the sizes of the regular files under dir.
func dirSize(dir string) (diskUsage, error) {
	var u diskUsage
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // removed while walking (an obsolete Pebble file)
			}
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			u.Total += fi.Size()
			switch filepath.Ext(path) {
			case ".sst":
				u.SST += fi.Size()
			case ".log":
				u.WAL += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return diskUsage{}, fmt.Errorf("bench: measuring %s: %w", dir, err)
	}
	return u, nil
}
