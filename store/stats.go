package store

import (
	"context"
	"errors"
	"sort"
	"time"

	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

// Stats describes a store without decrypting anything.
type Stats struct {
	StoreID         string         `json:"store_id"`
	Contacts        int64          `json:"contacts"`
	Customers       int64          `json:"customers"`
	VaultGeneration uint64         `json:"vault_generation"`
	Shards          int            `json:"shards"`
	Buckets         int            `json:"buckets"`
	Ratings         []RatingStats  `json:"ratings"`
	Retention       RetentionStats `json:"retention"`
	// Backups lists the store's backups with their terms: live ones (their key is in the
	// vault), due ones (term ended, key destroyed at the next expiry run) and expired ones.
	Backups []BackupInfo `json:"backups"`
	Disk    DiskStats    `json:"disk"`
	Pebble  PebbleHealth `json:"pebble"`
}

// RatingStats aggregates the customers' marks for one channel and calendar month (UTC) of
// contact time. Kept as counters at ingest; no record is decrypted to compute them.
type RatingStats struct {
	Channel   string    `json:"channel"` // "" when contacts named none
	Month     string    `json:"month"`   // YYYY-MM
	Contacts  int64     `json:"contacts"`
	Rated     int64     `json:"rated"`
	Average   float64   `json:"average,omitempty"`
	Histogram [10]int64 `json:"histogram"` // how many 1s, 2s, … 10s
}

// RetentionStats tells what expires when, from counters kept per expiry bucket.
type RetentionStats struct {
	// Policy is the retention policy in force; null when none has been set (contacts are
	// then kept until one is).
	Policy        *Policy `json:"policy"`
	PolicyVersion int64   `json:"policy_version,omitempty"`
	// PolicyPending: the latest policy change has not yet been applied to every stored
	// contact (reads apply it already; the next expiry run finishes the move).
	PolicyPending bool `json:"policy_pending,omitempty"`
	// ExpiredThrough is the last day whose bucket key has been destroyed (YYYY-MM-DD).
	ExpiredThrough string `json:"expired_through,omitempty"`
	// Schedule lists, per day, the contacts whose term ends that day: they become
	// unreadable at their exact term and their bucket's key is destroyed when the day ends.
	Schedule []ExpiryDay `json:"schedule"`
	// Due counts contacts in buckets whose day has passed, waiting for the expirer.
	Due int64 `json:"due"`
	// NoExpiry counts contacts stored before any policy was set; Held counts contacts kept
	// past their term by legal holds; HeldCustomers counts customers under a hold.
	NoExpiry      int64 `json:"no_expiry"`
	Held          int64 `json:"held"`
	HeldCustomers int   `json:"held_customers"`
}

// ExpiryDay is one day of the expiry schedule.
type ExpiryDay struct {
	Date     string `json:"date"` // YYYY-MM-DD (UTC)
	Contacts int64  `json:"contacts"`
}

// DiskStats are sizes in bytes.
type DiskStats struct {
	Total  uint64 `json:"total"`
	SST    uint64 `json:"sst"`
	WAL    uint64 `json:"wal"`
	Vault  int64  `json:"vault"`
	Ledger int64  `json:"ledger"`
}

// PebbleHealth are the figures of Pebble's metrics that tell whether the engine keeps up.
type PebbleHealth struct {
	L0Files          int64   `json:"l0_files"`
	L0Sublevels      int32   `json:"l0_sublevels"`
	ReadAmp          int     `json:"read_amp"`
	Compactions      int64   `json:"compactions"`
	CompactionDebt   uint64  `json:"compaction_debt"`
	Flushes          int64   `json:"flushes"`
	MemtableSize     uint64  `json:"memtable_size"`
	MemtableCount    int64   `json:"memtable_count"`
	WriteStalls      int64   `json:"write_stalls"`
	WriteStallTime   string  `json:"write_stall_time"`
	BlockCacheHitPct float64 `json:"block_cache_hit_pct"`
	ObsoleteTables   int64   `json:"obsolete_tables"`
}

// Stats returns counts, sizes, Pebble's health and the rating aggregates.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	// Wait for an erasure's clean-up in progress, so that the counts include it.
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closed.Load() {
		return Stats{}, ErrClosed
	}
	v := s.vault.Load()
	st := Stats{StoreID: v.StoreIDString(), VaultGeneration: v.Generation, Shards: len(v.Shards), Buckets: len(v.Buckets)}
	if tot, err := s.counter(totalsKey); err != nil {
		return st, err
	} else {
		if len(tot) > totContacts {
			st.Contacts = tot[totContacts]
		}
		if len(tot) > totCustomers {
			st.Customers = tot[totCustomers]
		}
	}
	lo := keys.Stat("r")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.Successor(lo)})
	if err != nil {
		return st, wrapErr("stats", err)
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != len(lo)+5 {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return st, wrapErr("stats", err)
		}
		c, err := decodeCounters(val)
		if err != nil || len(c) < rLen {
			continue
		}
		if c[rContacts] == 0 {
			continue
		}
		ch := ""
		if code := k[len(lo)]; code >= 1 && int(code) <= len(Channels) {
			ch = Channels[code-1]
		}
		m := beU32(k[len(lo)+1:])
		rs := RatingStats{
			Channel:  ch,
			Month:    time.Date(int(m/12), time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"),
			Contacts: c[rContacts],
			Rated:    c[rRated],
		}
		if rs.Rated > 0 {
			rs.Average = float64(c[rSum]) / float64(rs.Rated)
		}
		copy(rs.Histogram[:], c[rHist:rHist+10])
		st.Ratings = append(st.Ratings, rs)
	}
	if err := it.Close(); err != nil {
		return st, wrapErr("stats", err)
	}
	sort.Slice(st.Ratings, func(i, j int) bool {
		a, b := st.Ratings[i], st.Ratings[j]
		if a.Month != b.Month {
			return a.Month < b.Month
		}
		return channelCode(a.Channel) < channelCode(b.Channel)
	})
	st.Backups = s.Backups()
	if st.Backups == nil {
		st.Backups = []BackupInfo{}
	}
	if err := s.retentionStats(&st.Retention); err != nil {
		return st, err
	}
	m := s.db.Metrics()
	st.Disk.Total = m.DiskSpaceUsage()
	st.Disk.WAL = m.WAL.PhysicalSize
	st.Disk.SST = st.Disk.Total - min(st.Disk.Total, st.Disk.WAL)
	if fi, err := s.fs.Stat(s.fs.PathJoin(s.dir, VaultFile)); err == nil {
		st.Disk.Vault = fi.Size()
	}
	if fi, err := s.fs.Stat(s.fs.PathJoin(s.dir, LedgerFile)); err == nil {
		st.Disk.Ledger = fi.Size()
	}
	st.Pebble = PebbleHealth{
		L0Files:        m.Levels[0].TablesCount,
		L0Sublevels:    m.Levels[0].Sublevels,
		ReadAmp:        m.ReadAmp(),
		Compactions:    m.Compact.Count,
		CompactionDebt: m.Compact.EstimatedDebt,
		Flushes:        m.Flush.Count,
		MemtableSize:   m.MemTable.Size,
		MemtableCount:  m.MemTable.Count,
		ObsoleteTables: int64(m.Table.ObsoleteCount),
		WriteStalls:    s.stalls.Load(),
		WriteStallTime: time.Duration(s.stallNanos.Load()).String(),
	}
	hits, misses := m.BlockCache.Hits, m.BlockCache.Misses
	if hits+misses > 0 {
		st.Pebble.BlockCacheHitPct = 100 * float64(hits) / float64(hits+misses)
	}
	st.Disk.Total += uint64(st.Disk.Vault + st.Disk.Ledger)
	return st, nil
}

func (s *Store) counter(k []byte) ([]int64, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapErr("stats", err)
	}
	defer closer.Close()
	c, err := decodeCounters(v)
	if err != nil {
		return nil, wrapErr("stats", err)
	}
	return c, nil
}

func (s *Store) retentionStats(rs *RetentionStats) error {
	if ps := s.policy.cur.Load(); ps != nil {
		rs.Policy, rs.PolicyVersion = ps.Policy, int64(ps.Version)
	}
	rs.PolicyPending = s.policy.pending.Load()
	rs.HeldCustomers = s.holds.len()
	v := s.vault.Load()
	if v.ExpiredThrough > 0 {
		rs.ExpiredThrough = bucketDay(v.ExpiredThrough).Format(time.DateOnly)
	}
	today := dayOf(s.opts.Clock.Now())
	rs.Schedule = []ExpiryDay{}
	lo := keys.Stat("b")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.Successor(lo)})
	if err != nil {
		return wrapErr("stats", err)
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != len(lo)+4 {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return wrapErr("stats", err)
		}
		c, err := decodeCounters(val)
		if err != nil || len(c) == 0 || c[0] <= 0 {
			continue
		}
		switch b := beU32(k[len(lo):]); {
		case b == keys.NoExpiry:
			rs.NoExpiry += c[0]
		case bucketGone(v, b):
		case keys.IsHold(b):
			rs.Held += c[0]
		case b < today:
			rs.Due += c[0]
		default:
			rs.Schedule = append(rs.Schedule, ExpiryDay{Date: bucketDay(b).Format(time.DateOnly), Contacts: c[0]})
		}
	}
	return wrapErr("stats", it.Close())
}
