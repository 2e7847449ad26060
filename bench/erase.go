package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
)

// The erase scenario: erasure latency. N contacts of Customers customers (skewed) are
// loaded into the store and plain Pebble with the store's options and settled (see
// loadBoth); then M distinct customers, drawn at random from the seed, are erased one
// after the other, the same customers for both peers:
//
//   - "contactstore": store.Erase (the shard rekeyed, the vault replaced with fsync, then
//     the records and locators deleted; compaction of the ranges is background hygiene).
//   - "pebble-tuned-nocompress": one DeleteRange of the customer's key range, committed
//     with fsync (the bytes stay in the files until compacted away).
//
// Afterwards each erased customer must read nothing (the store: an error wrapping
// store.ErrErased; Pebble: no key in the range) and one customer not erased must still read
// all of its contacts. Disk sizes are taken settled before, and after the peer settled
// again (store: WaitHygiene, Flush, WaitForCompactions; Pebble: Flush, wait for quiet).

// DefaultEraseM is how many customers are erased when EraseConfig.M is 0.
const DefaultEraseM = 100

// EraseConfig describes an erase comparison. Zero fields take defaults.
type EraseConfig struct {
	// N is the number of contacts loaded (default 100,000).
	N int
	// Customers is the number of distinct customers (default N/20).
	Customers int
	// M is how many distinct customers are erased (default 100; at most the customers
	// that have contacts).
	M    int
	Seed int64
	// Batch is the number of contacts per batch when loading (default 1,000).
	Batch int
	Dir   string
	Keep  bool
}

// EraseResult is one peer's measurement.
type EraseResult struct {
	Peer       string `json:"peer"`
	N          int    `json:"n"`
	Customers  int    `json:"customers"`
	InputBytes int64  `json:"input_bytes"`
	// Erased is the number of customers erased, Contacts how many contacts they had.
	Erased   int           `json:"erased"`
	Contacts int64         `json:"contacts"`
	Latency  LatencyStats  `json:"latency"`
	Mem      MemPeak       `json:"mem"`
	Load     time.Duration `json:"load_ns"`
	// DiskBefore is the settled size before the erasures, DiskAfter once settled after.
	DiskBefore int64  `json:"disk_before"`
	DiskAfter  int64  `json:"disk_after"`
	Verified   string `json:"verified"`
	Method     string `json:"method"`
}

// RunErase runs the erase scenario and returns one result per peer (GetPeers).
func RunErase(ctx context.Context, cfg EraseConfig, progress func(string)) ([]EraseResult, error) {
	if cfg.N <= 0 {
		cfg.N = DefaultGetN
	}
	if cfg.Customers <= 0 {
		cfg.Customers = max(1, cfg.N/20)
	}
	if cfg.M <= 0 {
		cfg.M = DefaultEraseM
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if progress == nil {
		progress = func(string) {}
	}
	say := func(f string, a ...any) { progress(fmt.Sprintf("erase N=%d: ", cfg.N) + fmt.Sprintf(f, a...)) }
	root, cleanup, err := scenarioRoot(cfg.Dir, "erase", &cfg.Keep)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	l, err := loadBoth(ctx, root, cfg.N, cfg.Customers, cfg.Batch, cfg.Seed, say)
	if err != nil {
		return nil, err
	}
	defer l.close()
	victims := l.pick(cfg.Seed, cfg.M, true)
	erased := map[string]bool{}
	var contacts int64
	for _, c := range victims {
		erased[c] = true
		contacts += int64(l.counts[c])
	}
	// A survivor: the customer with the most contacts not erased, if any.
	survivor := ""
	for _, c := range l.customers {
		if !erased[c] && (survivor == "" || l.counts[c] > l.counts[survivor]) {
			survivor = c
		}
	}
	var results []EraseResult
	for _, peer := range GetPeers {
		r := EraseResult{Peer: peer, N: cfg.N, Customers: len(l.customers), InputBytes: l.inputBytes,
			Erased: len(victims), Contacts: contacts, Load: l.load}
		var (
			dir    string
			erase  func(string) error
			read   func(string) (int, error)
			settle func() error
		)
		switch peer {
		case PeerStore:
			s := l.st.s
			dir = l.st.dir
			erase = func(c string) error { _, err := s.Erase(ctx, c, "bench: erasure latency"); return err }
			read = func(c string) (int, error) { return readStore(ctx, s, c) }
			settle = func() error {
				s.WaitHygiene()
				if err := s.Flush(); err != nil {
					return err
				}
				return s.WaitForCompactions(ctx)
			}
			r.Method = "store.Erase: shard rekeyed, vault replaced (fsync), records and locators deleted; range compaction in the background"
		default:
			db := l.pb.db
			dir = l.pb.dir
			erase = func(c string) error { lo, hi := customerRange(c); return db.DeleteRange(lo, hi, pebble.Sync) }
			read = func(c string) (int, error) { return readPebble(db, c) }
			settle = func() error {
				if err := db.Flush(); err != nil {
					return err
				}
				return WaitQuiet(ctx, PebbleIdle(db))
			}
			r.Method = "DeleteRange of the customer's customer/ key range, committed with fsync"
		}
		du, err := dirSize(dir)
		if err != nil {
			return results, err
		}
		r.DiskBefore = du.Total
		say("%s: erasing %d customers (%s contacts)", peer, len(victims), thousands(float64(contacts)))
		lat := make([]time.Duration, len(victims))
		mw := WatchMemory(0)
		start := time.Now()
		for i, c := range victims {
			t := time.Now()
			err := erase(c)
			lat[i] = time.Since(t)
			if err != nil {
				mw.Stop()
				return results, fmt.Errorf("bench: erase %s: %s: %w", peer, c, err)
			}
		}
		elapsed := time.Since(start)
		r.Mem = mw.Stop()
		r.Latency = latencyStats(lat, elapsed)
		// Verify.
		for _, c := range victims {
			n, err := read(c)
			switch {
			case peer == PeerStore && !errors.Is(err, store.ErrErased):
				return results, fmt.Errorf("bench: erase %s: %s: read after erasure gave %d contacts, err %v; want ErrErased", peer, c, n, err)
			case peer != PeerStore && (err != nil || n != 0):
				return results, fmt.Errorf("bench: erase %s: %s: read after erasure gave %d contacts, err %v; want none", peer, c, n, err)
			}
		}
		survived := ""
		if survivor != "" {
			n, err := read(survivor)
			if err != nil || n != l.counts[survivor] {
				return results, fmt.Errorf("bench: erase %s: survivor %s read %d contacts (err %v), want %d", peer, survivor, n, err, l.counts[survivor])
			}
			survived = fmt.Sprintf("; a customer not erased still reads all %d contacts", n)
		}
		if peer == PeerStore {
			r.Verified = fmt.Sprintf("all %d erased customers read ErrErased%s", len(victims), survived)
		} else {
			r.Verified = fmt.Sprintf("all %d erased customers' key ranges are empty%s", len(victims), survived)
		}
		say("%s: settling", peer)
		if err := settle(); err != nil {
			return results, fmt.Errorf("bench: erase %s: settling: %w", peer, err)
		}
		if du, err = dirSize(dir); err != nil {
			return results, err
		}
		r.DiskAfter = du.Total
		results = append(results, r)
	}
	return results, nil
}

// EraseMarkdown renders erase results as Markdown.
func EraseMarkdown(results []EraseResult) string {
	if len(results) == 0 {
		return "No results.\n"
	}
	var b strings.Builder
	r0 := results[0]
	fmt.Fprintf(&b, "Erase: %s random customers (%s contacts) erased one after the other from a settled store of %s contacts (%s customers, skewed; %s as JSON).\n\n",
		thousands(float64(r0.Erased)), thousands(float64(r0.Contacts)), thousands(float64(r0.N)), thousands(float64(r0.Customers)), mib(r0.InputBytes))
	b.WriteString("| peer | erasures/s | p50 | p99 | max | peak heap in use | peak RSS | disk before | disk after (settled) | p50 vs " + PeerPebbleTunedNoCompress + " |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var ref time.Duration
	for _, r := range results {
		if r.Peer == PeerPebbleTunedNoCompress {
			ref = r.Latency.P50
		}
	}
	for _, r := range results {
		ratio := "–"
		if ref > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(r.Latency.P50)/float64(ref))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Peer, latencyCells(r.Latency), memCells(r.Mem),
			mib(r.DiskBefore), mib(r.DiskAfter), ratio)
	}
	b.WriteString("\nHow each peer erases:\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- %s: %s. Verified: %s.\n", r.Peer, r.Method, r.Verified)
	}
	b.WriteString("\nThe store's erasure makes every copy of the customer's records unreadable (their key is destroyed) when Erase returns; Pebble's DeleteRange only hides them until compaction removes the bytes.\n")
	return b.String()
}
