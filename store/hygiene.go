package store

import (
	"context"
	"sync"
	"time"
)

// Physical clean-up after an erasure (DESIGN.md §2): Pebble is never trusted to delete a
// secret — erasure holds once the vault no longer has the shard key — but the deleted
// ranges should also leave the live files. A background worker flushes the memtables and
// compacts the touched ranges; it holds no snapshot or iterator meanwhile. WAL files are
// never recycled (noReuseFS).

type keyRange struct{ lo, hi []byte }

type hygiene struct {
	mu      sync.Mutex
	pending []keyRange
	running bool
	idle    *sync.Cond
}

func (s *Store) scheduleHygiene(ranges []keyRange) {
	if len(ranges) == 0 {
		return
	}
	h := &s.hygiene
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, ranges...)
	if h.running || s.closed.Load() {
		return
	}
	h.running = true
	s.wg.Add(1)
	go s.runHygiene()
}

// hygieneDelay lets a burst of erasures share one flush and compaction round.
const hygieneDelay = 500 * time.Millisecond

func (s *Store) runHygiene() {
	defer s.wg.Done()
	h := &s.hygiene
	for {
		for i := 0; i < 10 && !s.closed.Load(); i++ {
			time.Sleep(hygieneDelay / 10)
		}
		h.mu.Lock()
		ranges := h.pending
		h.pending = nil
		if len(ranges) == 0 || s.closed.Load() {
			h.running = false
			if h.idle != nil {
				h.idle.Broadcast()
			}
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		if err := s.db.Flush(); err != nil {
			s.log.Error("hygiene: flush failed", "err", err.Error())
			continue
		}
		for _, r := range ranges {
			if s.closed.Load() {
				break
			}
			if err := s.db.Compact(context.Background(), r.lo, r.hi, false); err != nil {
				s.log.Error("hygiene: compaction failed", "err", err.Error())
			}
		}
	}
}

// WaitHygiene blocks until the clean-up after erasures has finished (for tests,
// benchmarks and tools that measure what remains on disk).
func (s *Store) WaitHygiene() {
	s.gate.RLock() // an erasure's clean-up in progress schedules the hygiene it needs
	s.gate.RUnlock()
	h := &s.hygiene
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.idle == nil {
		h.idle = sync.NewCond(&h.mu)
	}
	for h.running {
		h.idle.Wait()
	}
}
