package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"contactstore/crypto"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable/block"
)

// peer is one system under test. put may be called concurrently.
type peer interface {
	put(ctx context.Context, batch []store.Contact) error
	stalls() (int64, time.Duration)
	// settle brings the peer to rest and closes it; it returns what it did.
	settle(ctx context.Context) (string, error)
	// count reopens the settled peer and counts its records.
	count(ctx context.Context) (int64, error)
	// close releases the peer after an error; harmless after settle.
	close()
}

func openPeer(name, dir string, sync bool) (peer, error) {
	switch name {
	case PeerStore:
		return openStorePeer(dir, sync)
	case PeerPebbleDefault:
		return openPebblePeer(dir, sync, defaultOptions)
	case PeerPebbleTuned:
		return openPebblePeer(dir, sync, func() *pebble.Options { return tunedOptions(true) })
	case PeerPebbleTunedNoCompress:
		return openPebblePeer(dir, sync, func() *pebble.Options { return tunedOptions(false) })
	case PeerSQLiteAESGCM, PeerSQLitePlain, PeerSQLiteAESGCMRowid:
		return openSQLitePeer(name, dir, sync)
	}
	return nil, fmt.Errorf("bench: unknown peer %q", name)
}

// stallCounter counts Pebble's write stalls through its event listener.
type stallCounter struct {
	n, nanos, start atomic.Int64
}

func (c *stallCounter) listener() pebble.EventListener {
	return pebble.EventListener{
		WriteStallBegin: func(pebble.WriteStallBeginInfo) {
			c.n.Add(1)
			c.start.Store(time.Now().UnixNano())
		},
		WriteStallEnd: func() {
			if t := c.start.Swap(0); t != 0 {
				c.nanos.Add(time.Now().UnixNano() - t)
			}
		},
	}
}

func (c *stallCounter) get() (int64, time.Duration) {
	return c.n.Load(), time.Duration(c.nanos.Load())
}

// activity tracks Pebble's flushes and compactions through its event listener.
type activity struct {
	started, running atomic.Int64
}

func (a *activity) listener() pebble.EventListener {
	begin := func() { a.started.Add(1); a.running.Add(1) }
	end := func() { a.running.Add(-1) }
	return pebble.EventListener{
		FlushBegin:      func(pebble.FlushInfo) { begin() },
		FlushEnd:        func(pebble.FlushInfo) { end() },
		CompactionBegin: func(pebble.CompactionInfo) { begin() },
		CompactionEnd:   func(pebble.CompactionInfo) { end() },
	}
}

// idle reports whether nothing runs, and how many flushes and compactions have started.
func (a *activity) idle() (bool, int64) { return a.running.Load() == 0, a.started.Load() }

// ---- contactstore ----

type storePeer struct {
	dir   string
	key   *crypto.RootKey
	s     *store.Store
	stall stallCounter
	act   activity
}

func openStorePeer(dir string, sync bool) (*storePeer, error) {
	p := &storePeer{dir: dir, key: crypto.NewRootKey(crypto.MustNewKey(), "bench key")}
	s, err := store.Open(dir, p.options(true, sync))
	if err != nil {
		return nil, err
	}
	p.s = s
	return p, nil
}

func (p *storePeer) options(create, sync bool) *store.Options {
	return &store.Options{
		RootKey:         p.key,
		CreateIfMissing: create,
		ErrorIfExists:   create,
		NoSync:          !sync,
		PebbleOptions: func(po *pebble.Options) {
			el := pebble.TeeEventListener(p.stall.listener(), p.act.listener())
			if po.EventListener != nil {
				el = pebble.TeeEventListener(*po.EventListener, el)
			}
			po.EventListener = &el
		},
	}
}

func (p *storePeer) put(ctx context.Context, batch []store.Contact) error {
	_, err := p.s.Put(ctx, batch)
	return err
}

func (p *storePeer) stalls() (int64, time.Duration) { return p.stall.get() }

// storeSettleMethod says how the store is settled while it has no API to flush its
// memtables or wait for Pebble's compactions: a reopen makes Pebble replay its WAL and
// flush what it replayed before Open returns.
const storeSettleMethod = "Close, reopen (Pebble replays and flushes the WAL), wait until no compaction runs or starts, Close"

func (p *storePeer) settle(ctx context.Context) (string, error) {
	var s any = p.s
	if f, ok := s.(interface{ Flush() error }); ok {
		if w, ok := s.(interface{ WaitForCompactions(context.Context) error }); ok {
			if err := f.Flush(); err != nil {
				return "", err
			}
			if err := w.WaitForCompactions(ctx); err != nil {
				return "", err
			}
			return "Store.Flush, Store.WaitForCompactions, Close", p.s.Close()
		}
	}
	if err := p.s.Close(); err != nil {
		return "", err
	}
	s2, err := store.Open(p.dir, p.options(false, false))
	if err != nil {
		return "", err
	}
	p.s = s2
	if err := WaitQuiet(ctx, p.act.idle); err != nil {
		return "", err
	}
	return storeSettleMethod, p.s.Close()
}

func (p *storePeer) count(ctx context.Context) (int64, error) {
	s, err := store.Open(p.dir, p.options(false, false))
	if err != nil {
		return 0, err
	}
	defer s.Close()
	st, err := s.Stats(ctx)
	if err != nil {
		return 0, err
	}
	return st.Contacts, nil
}

func (p *storePeer) close() { p.s.Close() }

// ---- plain Pebble ----

// defaultOptions are Pebble's defaults: what pebble.Open does with zero Options.
func defaultOptions() *pebble.Options { return &pebble.Options{} }

// tunedOptions mirror the Pebble options the store sets for itself (see store's
// pebbleOptions; a test checks that they agree), without its merger, event listener and
// WAL-recycling FS wrapper. compress keeps Pebble's default block compression (Snappy) on
// every level; without it blocks are not compressed, as in the store.
func tunedOptions(compress bool) *pebble.Options {
	po := &pebble.Options{
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               256 << 20,
		CacheSize:                   512 << 20,
	}
	po.EnsureDefaults()
	for i := range po.Levels {
		if !compress {
			po.Levels[i].Compression = func() *block.CompressionProfile { return block.NoCompression }
		}
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return po
}

type pebblePeer struct {
	dir   string
	opts  func() *pebble.Options
	db    *pebble.DB
	wo    *pebble.WriteOptions
	stall stallCounter
}

func openPebblePeer(dir string, sync bool, opts func() *pebble.Options) (*pebblePeer, error) {
	p := &pebblePeer{dir: dir, opts: opts, wo: pebble.NoSync}
	if sync {
		p.wo = pebble.Sync
	}
	o := opts()
	el := p.stall.listener()
	o.EventListener = &el
	o.Logger = quietLogger{}
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, err
	}
	p.db = db
	return p, nil
}

// PebbleKey returns the key the Pebble peers store a contact under:
// customer "/" time (RFC 3339) "/" id.
func PebbleKey(dst []byte, c *store.Contact) []byte {
	dst = append(dst, c.Customer...)
	dst = append(dst, '/')
	dst = c.Time.AppendFormat(dst, time.RFC3339)
	dst = append(dst, '/')
	return append(dst, c.ID...)
}

func (p *pebblePeer) put(_ context.Context, batch []store.Contact) error {
	b := p.db.NewBatch()
	defer b.Close()
	key := make([]byte, 0, 128)
	for i := range batch {
		v, err := json.Marshal(&batch[i])
		if err != nil {
			return err
		}
		key = PebbleKey(key[:0], &batch[i])
		if err := b.Set(key, v, nil); err != nil {
			return err
		}
	}
	return b.Commit(p.wo)
}

func (p *pebblePeer) stalls() (int64, time.Duration) { return p.stall.get() }

// pebbleSettleMethod says how the Pebble peers are settled.
const pebbleSettleMethod = "Flush, wait until Pebble runs and schedules no compaction, Close"

func (p *pebblePeer) settle(ctx context.Context) (string, error) {
	if err := p.db.Flush(); err != nil {
		return "", err
	}
	if err := WaitQuiet(ctx, PebbleIdle(p.db)); err != nil {
		return "", err
	}
	err := p.db.Close()
	p.db = nil
	return pebbleSettleMethod, err
}

// WaitQuiet waits until idle reports no flush or compaction running and no new one started
// for three consecutive polls 50 ms apart: Pebble's scheduler found nothing more worth
// doing. (Metrics().Compact.EstimatedDebt does not reach zero while L0 and Lbase both hold
// data, even when L0 is below its compaction threshold, so waiting for zero debt could
// last forever.)
func WaitQuiet(ctx context.Context, idle func() (bool, int64)) error {
	const polls, every = 3, 50 * time.Millisecond
	stable, last := 0, int64(-1)
	for stable < polls {
		quiet, started := idle()
		if quiet && started == last {
			stable++
		} else {
			stable = 0
		}
		last = started
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	return nil
}

// PebbleIdle reads db's metrics for WaitQuiet: whether no flush or compaction runs, and how
// many have started.
func PebbleIdle(db *pebble.DB) func() (bool, int64) {
	return func() (bool, int64) {
		m := db.Metrics()
		return m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0, m.Compact.Count + m.Flush.Count
	}
}

func (p *pebblePeer) count(context.Context) (int64, error) {
	o := p.opts()
	o.Logger = quietLogger{}
	db, err := pebble.Open(p.dir, o)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		return 0, err
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n, it.Close()
}

func (p *pebblePeer) close() {
	if p.db != nil {
		p.db.Close()
		p.db = nil
	}
}

// quietLogger drops Pebble's informational messages, which would go to the standard
// logger and interleave with a progress display.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)              {}
func (quietLogger) Errorf(format string, args ...any) { log.Printf("pebble: "+format, args...) }
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
