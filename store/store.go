package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"contactstore/crypto"
	"contactstore/index"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable/block"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// On-disk layout of a store directory. It is a contract: tools and tests rely on it.
const (
	PebbleDir   = "pebble"   // Pebble's files and nothing else
	VaultFile   = "keyvault" // the sealed key vault
	LedgerFile  = "erasures" // the erasure ledger
	vaultTemp   = "keyvault.tmp"
	formatMajor = 1 // contactstore's own key-space format, kept in Pebble metadata
)

// Store is an open contact store. Its methods are safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	fs   vfs.FS
	log  *slog.Logger
	db   *pebble.DB
	lock io.Closer

	// vault is the current key vault; replaced whole (copy-on-write) under vaultMu.
	vaultMu sync.Mutex
	vault   atomic.Pointer[crypto.Vault]

	// gate: Puts hold it shared from resolving customers to commit; operations that replace
	// shard keys (erasure) hold it exclusively.
	gate sync.RWMutex

	policy       policyHolder
	releasing    []uint32   // buckets of hold releases a crash interrupted (Open finishes them)
	disclosureMu sync.Mutex // gives each disclosure record a key of its own
	expireMu     sync.Mutex // one expiry run or policy move at a time
	holds        holdSet

	customers *customerCache
	records   *recordKeyCache
	dicts     dictState
	createMu  [256]sync.Mutex // serialises creating customers, striped by shard
	pseudo    sync.Pool       // *crypto.Pseudonymizer
	sealer    *sealer
	audit     auditor
	hygiene   hygiene
	ledger    *ledgerFile
	erasures  chan *eraseReq
	// eraseBroken is set (by the eraser only) when an erasure's clean-up failed: further
	// erasures would overwrite its marker, so they are refused until a reopen finishes it.
	eraseBroken error
	stopExpirer chan struct{}
	commits     chan *commitReq
	commitSeq   atomic.Uint64  // groups committed since Open
	recent      recentLocators // committer only
	idxSeen     indexSeen      // committer only
	norm        index.Normalizer
	tokens      *index.Tokenizer
	wg          sync.WaitGroup

	cache      *pebble.Cache
	stalls     atomic.Int64
	stallNanos atomic.Int64
	stallStart atomic.Int64

	noKeyRing bool // a store Restore prepares in a temporary dir writes no key-ring beside it

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

// Open opens the store in dir. It needs Options.RootKey; a wrong root key gives
// ErrWrongKey and changes nothing. With CreateIfMissing an empty or missing dir gets a new
// store.
func Open(dir string, o *Options) (*Store, error) {
	opts := o.withDefaults()
	if opts.RootKey == nil {
		return nil, wrapErr("open", errors.New("Options.RootKey is required"))
	}
	switch opts.Compression {
	case "s2dict", "s2", "none":
	default:
		return nil, wrapErr("open", fmt.Errorf("unknown Options.Compression %q (s2dict, s2 or none)", opts.Compression))
	}
	fs := opts.FS
	ctx := context.Background()
	if err := finishRestore(fs, dir); err != nil {
		return nil, err
	}

	vaultPath := fs.PathJoin(dir, VaultFile)
	data, err := readFile(fs, vaultPath)
	if errors.Is(err, os.ErrNotExist) {
		if !opts.CreateIfMissing {
			return nil, ErrNotInitialized
		}
		if err := createStore(ctx, fs, dir, &opts); err != nil {
			return nil, err
		}
		data, err = readFile(fs, vaultPath)
	} else if err == nil && opts.ErrorIfExists {
		return nil, ErrExists
	}
	if err != nil {
		return nil, wrapErr("reading the key vault", err)
	}
	v, err := crypto.OpenVault(ctx, data, opts.RootKey)
	if err != nil {
		return nil, wrapErr("opening the key vault "+vaultPath, err)
	}

	lock, err := fs.Lock(fs.PathJoin(dir, "LOCK"))
	if err != nil {
		return nil, wrapErr("locking the store (is another process using it?)", err)
	}
	// A temporary vault left by a crash during a replacement holds a state that never
	// became current; drop it.
	if _, err := fs.Stat(fs.PathJoin(dir, vaultTemp)); err == nil {
		if err := fs.Remove(fs.PathJoin(dir, vaultTemp)); err != nil {
			lock.Close()
			return nil, wrapErr("removing a stale temporary vault", err)
		}
	}

	s := &Store{dir: dir, opts: opts, fs: fs, log: opts.Logger, lock: lock}
	s.cache = pebble.NewCache(opts.CacheSize)
	s.vault.Store(v)
	db, err := pebble.Open(fs.PathJoin(dir, PebbleDir), s.pebbleOptions(false))
	if err != nil {
		s.cache.Unref()
		lock.Close()
		return nil, wrapErr("opening "+PebbleDir+"/", err)
	}
	s.db = db
	if err := errors.Join(s.checkMeta(v), s.loadIndex(v), s.loadDicts(), s.loadAudit(), s.loadPolicy()); err != nil {
		db.Close()
		s.cache.Unref()
		lock.Close()
		return nil, err
	}
	releasedHolds, err := s.loadHolds()
	if err != nil {
		db.Close()
		s.cache.Unref()
		lock.Close()
		return nil, err
	}
	if s.ledger, err = openLedger(fs, dir); err != nil {
		db.Close()
		s.cache.Unref()
		lock.Close()
		return nil, err
	}
	pk := v.PseudonymKey
	s.pseudo.New = func() any { return crypto.NewPseudonymizer(&pk) }
	s.customers = newCustomerCache(opts.CustomerCache)
	s.records = newRecordKeyCache()
	s.sealer = newSealer(s, opts.SealWorkers)
	s.commits = make(chan *commitReq, 64)
	s.erasures = make(chan *eraseReq, 64)
	s.stopExpirer = make(chan struct{})
	if err := errors.Join(s.recoverErasure(ctx), s.reconcileKeys(), s.verifyHolds(), s.finishExpiry()); err != nil {
		s.sealer.close()
		db.Close()
		s.cache.Unref()
		s.ledger.close()
		lock.Close()
		return nil, err
	}
	s.wg.Add(2)
	go s.committer()
	go s.eraser()
	if opts.ExpiryInterval > 0 {
		s.wg.Add(1)
		go s.expirer(opts.ExpiryInterval)
	}
	if err := s.finishReleasedErasures(ctx, releasedHolds); err != nil {
		s.Close()
		return nil, err
	}
	s.log.Info("store opened", "store", v.StoreIDString(), "vault_generation", v.Generation, "shards", len(v.Shards))
	return s, nil
}

// createStore lays out a new store: directory, key vault, Pebble with its metadata.
func createStore(ctx context.Context, fs vfs.FS, dir string, opts *Options) (err error) {
	var made []string // directories MkdirAll is about to create, deepest first
	for d := dir; ; d = fs.PathDir(d) {
		if _, err := fs.Stat(d); err == nil || fs.PathDir(d) == d {
			break
		}
		made = append(made, d)
	}
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		return wrapErr("creating "+dir, err)
	}
	// A new directory's entry is durable only once the directory holding it is synced:
	// without this a crash soon after Open could lose the whole store.
	for _, d := range made {
		if err := syncDir(fs, fs.PathDir(d)); err != nil {
			return wrapErr("creating "+dir, err)
		}
	}
	if _, err := fs.Stat(fs.PathJoin(dir, PebbleDir)); err == nil {
		return wrapErr("create", fmt.Errorf("%s/%s exists but %s does not: an interrupted init or a lost key vault "+
			"(without the vault the data cannot be read); remove the directory to start afresh", dir, PebbleDir, VaultFile))
	}
	v, err := crypto.NewVault(opts.Shards, opts.Clock.Now())
	if err != nil {
		return wrapErr("creating keys", err)
	}
	defer v.Wipe()
	nb, err := crypto.NewKey()
	if err != nil {
		return err
	}
	v.Buckets[keys.NoExpiry] = nb
	// Pebble first, so that a crash leaves no vault without its database.
	if err := fs.MkdirAll(fs.PathJoin(dir, PebbleDir), 0o700); err != nil {
		return wrapErr("creating "+PebbleDir+"/", err)
	}
	defer func() {
		// A failed step leaves no half store behind, so that a retry can start afresh:
		// the vault first (it is what makes a store), then pebble/.
		if err != nil {
			if rerr := fs.Remove(fs.PathJoin(dir, VaultFile)); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
				_ = fs.RemoveAll(fs.PathJoin(dir, PebbleDir))
			}
		}
	}()
	s := &Store{dir: dir, opts: *opts, fs: fs, log: opts.Logger}
	db, err := pebble.Open(fs.PathJoin(dir, PebbleDir), s.pebbleOptions(true))
	if err != nil {
		return wrapErr("creating "+PebbleDir+"/", err)
	}
	b := db.NewBatch()
	_ = b.Set(keys.Meta("store-id"), v.StoreID[:], nil)
	_ = b.Set(keys.Meta("format"), []byte{formatMajor}, nil)
	_ = b.Set(shardGensKey, u64(shardGenSum(v)), nil)
	err = commitBatch(b, pebble.Sync)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrapErr("writing store metadata", err)
	}
	return writeVault(ctx, fs, dir, v, opts.RootKey)
}

// syncDir fsyncs a directory, making the entries in it durable.
func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func (s *Store) checkMeta(v *crypto.Vault) error {
	id, closer, err := s.db.Get(keys.Meta("store-id"))
	if err != nil {
		return wrapErr("reading store metadata", err)
	}
	defer closer.Close()
	if string(id) != string(v.StoreID[:]) {
		return wrapErr("open", fmt.Errorf("%s/ belongs to another store than %s (store %x)", PebbleDir, VaultFile, v.StoreID))
	}
	f, closer2, err := s.db.Get(keys.Meta("format"))
	if err != nil {
		return wrapErr("reading store metadata", err)
	}
	defer closer2.Close()
	if len(f) != 1 || f[0] != formatMajor {
		return wrapErr("open", fmt.Errorf("unsupported store format %v", f))
	}
	return nil
}

func (s *Store) pebbleOptions(create bool) *pebble.Options {
	po := &pebble.Options{
		FS:                 noReuseFS{s.opts.FS},
		Cleaner:            deletingCleaner{},
		ErrorIfNotExists:   !create,
		ErrorIfExists:      create,
		FormatMajorVersion: pebble.FormatNewest,
		Merger:             counterMerger,
		Logger:             quietLogger{s.log},
		// Values are ciphertext: block compression would cost CPU in every compaction for
		// nothing. Bigger memtables and L0 thresholds keep bulk ingest out of write stalls.
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               256 << 20,
	}
	po.EventListener = &pebble.EventListener{
		WriteStallBegin: func(pebble.WriteStallBeginInfo) {
			s.stalls.Add(1)
			s.stallStart.Store(time.Now().UnixNano())
		},
		WriteStallEnd: func() {
			if t := s.stallStart.Swap(0); t != 0 {
				s.stallNanos.Add(time.Now().UnixNano() - t)
			}
		},
	}
	po.Cache = s.cache
	po.EnsureDefaults()
	for i := range po.Levels {
		po.Levels[i].Compression = func() *block.CompressionProfile { return block.NoCompression }
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	if s.opts.PebbleOptions != nil {
		s.opts.PebbleOptions(po)
	}
	return po
}

// Flush writes Pebble's memtables to sorted tables. Writes are durable without it (the WAL
// holds them); Flush is for benchmarks, tools and clean-up.
func (s *Store) Flush() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return wrapErr("flush", s.db.Flush())
}

// WaitForCompactions blocks until Pebble has no flush or compaction running and has started
// none for three polls 50 ms apart (for benchmarks and tools measuring a settled store).
func (s *Store) WaitForCompactions(ctx context.Context) error {
	quiet, last := 0, int64(-1)
	for quiet < 3 {
		if s.closed.Load() {
			return ErrClosed
		}
		m := s.db.Metrics()
		n := m.Compact.Count + m.Flush.Count
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 && n == last {
			quiet++
		} else {
			quiet = 0
		}
		last = n
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// StoreID returns the store's id (32 hex digits).
func (s *Store) StoreID() string { return s.vault.Load().StoreIDString() }

// Close flushes nothing that is not already durable, stops the store's goroutines, closes
// Pebble and wipes the keys it held. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.gate.Lock()
		s.closed.Store(true)
		close(s.commits)
		close(s.erasures)
		close(s.stopExpirer)
		s.gate.Unlock()
		s.wg.Wait()
		s.sealer.close()
		err := s.db.Close()
		s.cache.Unref()
		s.customers.wipe()
		s.records.wipe()
		if s.tokens != nil {
			s.tokens.Close()
		}
		s.vault.Load().Wipe()
		s.closeErr = errors.Join(err, s.ledger.close(), s.lock.Close())
	})
	return s.closeErr
}

type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Infof(format string, args ...any) {
	q.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (q quietLogger) Errorf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (q quietLogger) Fatalf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// noReuseFS stops Pebble from recycling WAL files: a recycled WAL keeps the bytes of its
// previous life beyond what has been overwritten (DESIGN.md §2). Instead of renaming an old
// file into place it removes it and creates a fresh one.
type noReuseFS struct{ vfs.FS }

func (f noReuseFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := f.FS.Remove(oldname); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return f.FS.Create(newname, category)
}

func (f noReuseFS) Unwrap() vfs.FS { return f.FS }

// deletingCleaner deletes obsolete files, like pebble.DeleteCleaner, and in particular
// obsolete WALs at once: Pebble otherwise keeps a few of them for recycling, and an obsolete
// WAL holds the sealed records that were written while it was current — after an erasure or
// an expiry, those bytes would stay in DIR/pebble until the WAL was reused or the store
// reopened. Pebble recycles no WAL when the cleaner "needs file contents" (v2.1.7,
// obsolete_files.go); that marker is an unexported method, which an embedded ArchiveCleaner
// provides one level deeper than DeleteCleaner's Clean (so that Clean deletes). noReuseFS
// stays as the second line: should a Pebble upgrade drop this check, a reused WAL is still
// a fresh file. TestExpiryLeavesNoRecordsInFiles fails if the obsolete WAL is kept.
type deletingCleaner struct {
	pebble.DeleteCleaner
	needsContents
}

type needsContents struct{ pebble.ArchiveCleaner }
