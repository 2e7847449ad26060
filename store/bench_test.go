package store_test

// Benchmarks of ingest and reads on a real disk, and of ingest side by side with plain
// Pebble. Compare commits with benchstat:
//
//	go test ./store -run XXX -bench . -count 6 > new.txt; benchstat old.txt new.txt
//
// BenchmarkIngestVsPebble writes CONTACTSTORE_BENCH_N contacts (default 10,000) per
// iteration; set it to 1000000 with -benchtime 1x for the full comparison.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"contactstore/bench"
	"contactstore/bench/workload"
	"contactstore/crypto"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

const benchBatch = 1000

// benchContacts returns n workload contacts with source ids (seed 1, n/20 customers) and
// their total JSON size, generated once per n.
var benchContacts = func() func(n int) ([]store.Contact, int64) {
	var mu sync.Mutex
	type gen struct {
		cs   []store.Contact
		size int64
	}
	cache := map[int]gen{}
	return func(n int) ([]store.Contact, int64) {
		mu.Lock()
		defer mu.Unlock()
		if g, ok := cache[n]; ok {
			return g.cs, g.size
		}
		wg := workload.New(workload.Config{Seed: 1, Customers: max(1, n/20), WithIDs: true, Count: n})
		g := gen{cs: wg.Batch(n)}
		g.size = jsonSize(g.cs)
		cache[n] = g
		return g.cs, g.size
	}
}()

func jsonSize(cs []store.Contact) int64 {
	var n int64
	for i := range cs {
		b, err := json.Marshal(&cs[i])
		if err != nil {
			panic(err)
		}
		n += int64(len(b))
	}
	return n
}

// benchStore is a store on a real disk with the production defaults, and a view of its
// Pebble's flushes and compactions.
type benchStore struct {
	*store.Store
	dir    string
	opts   *store.Options
	events atomic.Int64 // flushes and compactions started
	active atomic.Int64 // running
}

func openBenchStore(b *testing.B, dir string, noSync bool) *benchStore {
	b.Helper()
	bs := &benchStore{dir: dir}
	bs.opts = &store.Options{
		RootKey:         crypto.NewRootKey(crypto.MustNewKey(), "bench key"),
		CreateIfMissing: true,
		NoSync:          noSync,
		PebbleOptions: func(po *pebble.Options) {
			begin := func() { bs.events.Add(1); bs.active.Add(1) }
			end := func() { bs.active.Add(-1) }
			var prev pebble.EventListener
			if po.EventListener != nil {
				prev = *po.EventListener
			}
			el := pebble.TeeEventListener(prev, pebble.EventListener{
				FlushBegin:      func(pebble.FlushInfo) { begin() },
				FlushEnd:        func(pebble.FlushInfo) { end() },
				CompactionBegin: func(pebble.CompactionInfo) { begin() },
				CompactionEnd:   func(pebble.CompactionInfo) { end() },
			})
			po.EventListener = &el
		},
	}
	if err := bs.open(); err != nil {
		b.Fatal(err)
	}
	return bs
}

func (bs *benchStore) open() error {
	s, err := store.Open(bs.dir, bs.opts)
	bs.Store = s
	return err
}

// reopen closes the store and opens it again: Pebble replays its WAL and flushes what it
// replayed into sstables before Open returns. (The store has no Flush of its own.)
func (bs *benchStore) reopen() error {
	if err := bs.Close(); err != nil {
		return err
	}
	return bs.open()
}

// BenchmarkPut puts batches of 1,000 workload contacts into one store on a real disk.
// SourceIDs carry the helpdesk's ids, so each contact costs a lookup of its locator;
// AssignedIDs leave the id to the store.
func BenchmarkPut(b *testing.B) {
	const pool = 32 // distinct batches; later rounds get new ids so that nothing is replaced
	cs, _ := benchContacts(pool * benchBatch)
	for _, bc := range []struct {
		name     string
		noSync   bool
		assigned bool
		policy   string
	}{
		{"Sync/SourceIDs", false, false, ""},
		{"NoSync/SourceIDs", true, false, ""},
		{"NoSync/AssignedIDs", true, true, ""},
		// With a retention policy: every contact is placed in the bucket of the day its term
		// ends (buckets are keyed lazily, a week at a time) and counted per bucket.
		{"NoSync/SourceIDs/Policy", true, false, `{"default":"P10Y","rules":[{"category":"chat","retention":"P5Y"},{"channel":"phone","retention":"P8Y"},{"category":"order","channel":"email","retention":"P9Y"}]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openBenchStore(b, filepath.Join(b.TempDir(), "db"), bc.noSync)
			defer s.Close()
			ctx := context.Background()
			if bc.policy != "" {
				p, err := store.ParsePolicy([]byte(bc.policy))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.SetPolicy(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			var jsonBytes int64
			var elapsed time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				batch := cs[(i%pool)*benchBatch : (i%pool+1)*benchBatch]
				if bc.assigned || i >= pool {
					batch = slices.Clone(batch)
					for j := range batch {
						if bc.assigned {
							batch[j].ID = ""
						} else {
							batch[j].ID += "/" + strconv.Itoa(i/pool)
						}
					}
				}
				jsonBytes += jsonSize(batch)
				b.StartTimer()
				t0 := time.Now()
				res, err := s.Put(ctx, batch)
				elapsed += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				if res.Added != len(batch) {
					b.Fatalf("added %d of %d", res.Added, len(batch))
				}
			}
			b.ReportMetric(float64(b.N*benchBatch)/elapsed.Seconds(), "contacts/s")
			b.ReportMetric(float64(jsonBytes)/1e6/elapsed.Seconds(), "json-MB/s")
		})
	}
}

// BenchmarkContacts reads one customer's 1,000 contacts, flushed to sstables.
func BenchmarkContacts(b *testing.B) {
	g := workload.New(workload.Config{Seed: 2, Customers: 1, WithIDs: true, Count: 1000})
	cs := g.Batch(1000)
	s := openBenchStore(b, filepath.Join(b.TempDir(), "db"), true)
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Put(ctx, cs); err != nil {
		b.Fatal(err)
	}
	if err := s.reopen(); err != nil { // read from sstables, not the memtable
		b.Fatal(err)
	}
	customer := cs[0].Customer
	b.SetBytes(jsonSize(cs))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		for _, err := range s.Contacts(ctx, customer, store.TimeRange{}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != len(cs) {
			b.Fatalf("read %d contacts, want %d", n, len(cs))
		}
	}
	b.ReportMetric(float64(b.N*len(cs))/b.Elapsed().Seconds(), "contacts/s")
}

// ingestPeer is one system in BenchmarkIngestVsPebble.
type ingestPeer interface {
	put(ctx context.Context, batch []store.Contact) error
	settle(ctx context.Context) error // flush, wait for compactions, close
	close()
}

type storeIngestPeer struct{ s *benchStore }

func (p storeIngestPeer) put(ctx context.Context, batch []store.Contact) error {
	_, err := p.s.Put(ctx, batch)
	return err
}

// settle flushes by reopening, waits until Pebble is idle, and closes.
func (p storeIngestPeer) settle(ctx context.Context) error {
	if err := p.s.reopen(); err != nil {
		return err
	}
	idle := func() (bool, int64) { return p.s.active.Load() == 0, p.s.events.Load() }
	if err := bench.WaitQuiet(ctx, idle); err != nil {
		return err
	}
	return p.s.Close()
}

func (p storeIngestPeer) close() { p.s.Close() }

// pebbleIngestPeer stores contacts in plain Pebble: key customer/RFC3339 time/id, value
// the contact's JSON, in plaintext.
type pebbleIngestPeer struct {
	db *pebble.DB
	wo *pebble.WriteOptions
}

func (p *pebbleIngestPeer) put(_ context.Context, batch []store.Contact) error {
	b := p.db.NewBatch()
	defer b.Close()
	key := make([]byte, 0, 128)
	for i := range batch {
		c := &batch[i]
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		key = append(key[:0], c.Customer...)
		key = append(key, '/')
		key = c.Time.AppendFormat(key, time.RFC3339)
		key = append(key, '/')
		key = append(key, c.ID...)
		if err := b.Set(key, v, nil); err != nil {
			return err
		}
	}
	return b.Commit(p.wo)
}

func (p *pebbleIngestPeer) settle(ctx context.Context) error {
	if err := p.db.Flush(); err != nil {
		return err
	}
	if err := bench.WaitQuiet(ctx, bench.PebbleIdle(p.db)); err != nil {
		return err
	}
	err := p.db.Close()
	p.db = nil
	return err
}

func (p *pebbleIngestPeer) close() {
	if p.db != nil {
		p.db.Close()
	}
}

// storePebbleOptions returns the Pebble options the store opens with, as its
// Options.PebbleOptions hook sees them, minus what is the store's own (merger, event
// listener, WAL-recycling FS wrapper, shared block cache: a cache of the same size instead),
// with Pebble's default block compression when compress is set.
func storePebbleOptions(b *testing.B, compress bool) *pebble.Options {
	var po *pebble.Options
	var cacheSize int64
	s, err := store.Open(filepath.Join(b.TempDir(), "opts"), &store.Options{
		RootKey:         crypto.NewRootKey(crypto.MustNewKey(), "bench key"),
		CreateIfMissing: true,
		Shards:          1,
		PebbleOptions: func(o *pebble.Options) {
			po = o.Clone()
			if o.Cache != nil {
				cacheSize = o.Cache.MaxSize()
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	po.FS = vfs.Default
	po.Merger = pebble.DefaultMerger
	po.EventListener = nil
	po.ErrorIfExists, po.ErrorIfNotExists = false, false
	if po.Cache != nil {
		po.Cache, po.CacheSize = nil, cacheSize
	}
	if compress {
		def := &pebble.Options{}
		def.EnsureDefaults()
		for i := range po.Levels {
			po.Levels[i].Compression = def.Levels[i].Compression
		}
	}
	return po
}

func benchIngestN(b *testing.B) int {
	if v := os.Getenv("CONTACTSTORE_BENCH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("CONTACTSTORE_BENCH_N=%q: want a positive number", v)
		}
		return n
	}
	return 10_000
}

// BenchmarkIngestVsPebble writes the same contacts, in synced batches of 1,000, into
// contactstore and into plain Pebble holding JSON in plaintext: with Pebble's default
// options, with the store's options and Snappy blocks (pebble-tuned), and with the store's
// options exactly (no block compression). One op is one whole ingest of N contacts;
// settling (flush, then wait until Pebble schedules no more compactions, then close) is
// outside the op time and reported as settle-s, with the settled throughput.
func BenchmarkIngestVsPebble(b *testing.B) {
	n := benchIngestN(b)
	cs, jsonBytes := benchContacts(n)
	peers := []struct {
		name string
		open func(b *testing.B, dir string) ingestPeer
	}{
		{"contactstore", func(b *testing.B, dir string) ingestPeer {
			return storeIngestPeer{openBenchStore(b, dir, false)}
		}},
		{"pebble-default", func(b *testing.B, dir string) ingestPeer {
			return openPebbleIngestPeer(b, dir, &pebble.Options{})
		}},
		{"pebble-tuned", func(b *testing.B, dir string) ingestPeer {
			return openPebbleIngestPeer(b, dir, storePebbleOptions(b, true))
		}},
		{"pebble-tuned-nocompress", func(b *testing.B, dir string) ingestPeer {
			return openPebbleIngestPeer(b, dir, storePebbleOptions(b, false))
		}},
	}
	for _, pc := range peers {
		b.Run(pc.name, func(b *testing.B) {
			ctx := context.Background()
			var ingest, settle time.Duration
			var diskIngest, diskSettled, sstSettled int64
			var lat []time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "db")
				p := pc.open(b, dir)
				b.StartTimer()
				t0 := time.Now()
				for lo := 0; lo < len(cs); lo += benchBatch {
					t1 := time.Now()
					if err := p.put(ctx, cs[lo:min(lo+benchBatch, len(cs))]); err != nil {
						p.close()
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t1))
				}
				ingest += time.Since(t0)
				b.StopTimer()
				d, _ := benchDirSize(b, dir)
				diskIngest += d
				t0 = time.Now()
				if err := p.settle(ctx); err != nil {
					b.Fatal(err)
				}
				settle += time.Since(t0)
				d, sst := benchDirSize(b, dir)
				diskSettled += d
				sstSettled += sst
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.StopTimer()
			total := float64(b.N * len(cs))
			slices.Sort(lat)
			b.ReportMetric(total/ingest.Seconds(), "contacts/s")
			b.ReportMetric(float64(b.N)*float64(jsonBytes)/1e6/ingest.Seconds(), "json-MB/s")
			b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Microseconds())/1e3, "p99-batch-ms")
			b.ReportMetric(float64(diskIngest)/float64(b.N)/(1<<20), "disk-MiB")
			b.ReportMetric(float64(diskSettled)/float64(b.N)/(1<<20), "settled-disk-MiB")
			b.ReportMetric(float64(sstSettled)/float64(b.N)/(1<<20), "settled-sst-MiB")
			b.ReportMetric(settle.Seconds()/float64(b.N), "settle-s")
			b.ReportMetric(total/(ingest+settle).Seconds(), "settled-contacts/s")
		})
	}
}

func openPebbleIngestPeer(b *testing.B, dir string, o *pebble.Options) *pebbleIngestPeer {
	b.Helper()
	o.Logger = benchLogger{}
	db, err := pebble.Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	return &pebbleIngestPeer{db: db, wo: pebble.Sync}
}

type benchLogger struct{}

func (benchLogger) Infof(string, ...any) {}
func (benchLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (benchLogger) Fatalf(format string, args ...any) { panic(fmt.Sprintf("pebble: "+format, args...)) }

// benchDirSize returns the size of the regular files under dir, and of the sstables among
// them.
func benchDirSize(b *testing.B, dir string) (total, sst int64) {
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
				if filepath.Ext(path) == ".sst" {
					sst += fi.Size()
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total, sst
}
