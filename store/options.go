package store

import (
	"io"
	"log/slog"
	"runtime"
	"time"

	"contactstore/crypto"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Clock tells the store the time. Tests replace it to drive expiry.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Options configure a store. A nil *Options means the defaults, but a store cannot open
// without a RootKey.
type Options struct {
	// RootKey protects the key vault: crypto.LoadKeyFile, crypto.NewPassphraseKey, or your own
	// crypto.KeyWrapper for a KMS. Required.
	RootKey crypto.KeyWrapper

	// CreateIfMissing creates a new store when dir holds none.
	CreateIfMissing bool

	// ErrorIfExists makes Open fail with ErrExists when dir already holds a store.
	ErrorIfExists bool

	// FS is the file system; default the operating system's. Tests use vfs.NewCrashableMem.
	FS vfs.FS

	// Clock is the store's time; default the system clock.
	Clock Clock

	// Logger receives operational messages (never personal data or key material); default
	// discards them.
	Logger *slog.Logger

	// NoSync acknowledges writes before they reach stable storage. Faster; a crash may lose
	// the most recently acknowledged batches (never half a batch). Default false: every
	// commit group is fsynced before any Put in it returns.
	NoSync bool

	// Shards is the number of shard keys of a new store (default 4096). Ignored on open.
	Shards int

	// SealWorkers is the number of goroutines that compress and seal records (default
	// GOMAXPROCS).
	SealWorkers int

	// CustomerCache is how many customers' unwrapped data keys stay in memory (default
	// 65,536). Evicted keys are wiped.
	CustomerCache int

	// CacheSize is the size of Pebble's block cache in bytes (default 512 MiB). Lookups of
	// contact ids at ingest read index and filter blocks through it; measured on a
	// 1,000,000-contact ingest, 128 MiB let the hit rate fall to 1.4% and 512 MiB kept it
	// above 93% (1.8x faster ingest).
	CacheSize int64

	// Compression selects record compression: "s2dict" (default: S2, with a dictionary
	// trained in the background once the store has seen 2,000 customers), "s2" (S2 without
	// a dictionary) or "none".
	Compression string

	// ExpiryInterval is how often the background expirer checks for expiry buckets whose
	// day has passed (default one minute; negative: no background expiry, only Expire).
	// Reads hide contacts past their term either way.
	ExpiryInterval time.Duration

	// TransferRules is the adequacy list the transfer guard decides by (default: the one
	// built in, DefaultTransferRules; LoadTransferRules reads a newer one from a file).
	TransferRules *TransferRules

	// PhoneRegion is the region (ISO 3166-1 alpha-2, e.g. "NL") whose national numbering
	// the blind index assumes for phone numbers written without a country code. Empty: such
	// numbers are not indexed. Fixed when the store is created; a later Open may leave it
	// empty (the store's own setting applies) but not name another.
	PhoneRegion string
	// FoldEmailProviders makes the blind index apply the rules of mail providers known to
	// ignore dots, "+tags" or case in the local part (Gmail and others; see package index).
	// Fixed when the store is created, like PhoneRegion.
	FoldEmailProviders bool

	// PebbleOptions, if set, may adjust Pebble's options after the store has set its own.
	// The store's Comparer, Merger, FS and FormatMajorVersion must stay as they are.
	PebbleOptions func(*pebble.Options)
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Shards <= 0 {
		c.Shards = crypto.DefaultShards
	}
	if c.SealWorkers <= 0 {
		c.SealWorkers = runtime.GOMAXPROCS(0)
	}
	if c.CustomerCache <= 0 {
		c.CustomerCache = 1 << 16
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 512 << 20
	}
	if c.ExpiryInterval == 0 {
		c.ExpiryInterval = time.Minute
	}
	if c.TransferRules == nil {
		c.TransferRules = DefaultTransferRules()
	}
	if c.Compression == "" {
		c.Compression = "s2dict"
	}
	return c
}
