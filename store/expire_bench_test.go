package store_test

// BenchmarkExpire: expiry of contacts that fall due together. Compare commits with
// benchstat:
//
//	go test ./store -run XXX -bench Expire -benchtime 3x -count 6 > new.txt; benchstat old.txt new.txt
//
// CS_BENCH_EXPIRE_N sets N (default 20,000); the full scenario, side by side with plain
// Pebble at 1,000,000, is `contactstore bench --scenario expiry`.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"contactstore/bench/workload"
	"contactstore/crypto"
	"contactstore/store"
)

// expireBenchDay is the day every contact of BenchmarkExpire happened on.
var expireBenchDay = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

const expireBenchPolicy = `{"default":"P30D","rules":[{"category":"fiscal","retention":"P7Y"}]}`

// expireContacts returns n contacts due together (term P30D, all on expireBenchDay) and
// n/10 that stay (category fiscal, P7Y), interleaved one in eleven in the same customers
// (20 contacts per customer on average, skewed), generated once per n.
var expireContacts = func() func(n int) []store.Contact {
	var mu sync.Mutex
	cache := map[int][]store.Contact{}
	return func(n int) []store.Contact {
		mu.Lock()
		defer mu.Unlock()
		if cs, ok := cache[n]; ok {
			return cs
		}
		total := n + n/10
		g := workload.New(workload.Config{Seed: 1, Customers: max(1, total/20), WithIDs: true, Count: total,
			Start: expireBenchDay, Span: 24 * time.Hour})
		cs := g.Batch(total)
		for i := range cs {
			if (i+1)*(n/10)/total > i*(n/10)/total {
				cs[i].Category = "fiscal"
			}
		}
		cache[n] = cs
		return cs
	}
}()

type expireBenchClock struct{ ns atomic.Int64 }

func (c *expireBenchClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// keysDestroyedLog notes when the store logs that Expire has destroyed the bucket keys:
// from then on the due contacts are noise in every copy of the files.
type keysDestroyedLog struct{ at atomic.Int64 }

func (h *keysDestroyedLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *keysDestroyedLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "expiry: bucket keys destroyed" {
		h.at.Store(time.Now().UnixNano())
	}
	return nil
}
func (h *keysDestroyedLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *keysDestroyedLog) WithGroup(string) slog.Handler      { return h }

// BenchmarkExpire measures Expire of N contacts that fall due on one day (one expiry
// bucket) among N/10 that stay, at N/10 and N (CS_BENCH_EXPIRE_N, default 20,000), on a
// real disk: the op is one Expire (keys destroyed, clean-up committed). It reports
// keys-destroyed-ms (until the bucket key was gone: the contacts are unreadable in every
// copy), reclaimed-ms (until the store's hygiene and Pebble's compactions have finished,
// including WaitForCompactions's 150 ms of quiet polls and the hygiene's 500 ms delay),
// and the directory's size before and after (once Pebble has removed obsolete files).
func BenchmarkExpire(b *testing.B) {
	n := 20_000
	if v := os.Getenv("CS_BENCH_EXPIRE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			b.Fatalf("CS_BENCH_EXPIRE_N=%q: want a number of at least 10", v)
		}
	}
	for _, size := range []int{n / 10, n} {
		b.Run(fmt.Sprintf("N=%d", size), func(b *testing.B) { benchExpire(b, size) })
	}
}

func benchExpire(b *testing.B, n int) {
	ctx := context.Background()
	cs := expireContacts(n)
	live := int64(n / 10)
	pol, err := store.ParsePolicy([]byte(expireBenchPolicy))
	if err != nil {
		b.Fatal(err)
	}
	var keys, reclaim time.Duration
	var before, after int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "db")
		clock := &expireBenchClock{}
		clock.ns.Store(expireBenchDay.Add(24 * time.Hour).UnixNano())
		log := &keysDestroyedLog{}
		o := &store.Options{
			RootKey:         crypto.NewRootKey(crypto.MustNewKey(), "bench key"),
			CreateIfMissing: true,
			NoSync:          true, // loading is not measured; expiry runs with fsync below
			Clock:           clock,
			ExpiryInterval:  -1,
			Logger:          slog.New(log),
		}
		s, err := store.Open(dir, o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.SetPolicy(ctx, pol); err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < len(cs); lo += benchBatch {
			if _, err := s.Put(ctx, cs[lo:min(lo+benchBatch, len(cs))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := s.WaitForCompactions(ctx); err != nil {
			b.Fatal(err)
		}
		s.Close()
		o.NoSync = false
		if s, err = store.Open(dir, o); err != nil {
			b.Fatal(err)
		}
		if err := s.WaitForCompactions(ctx); err != nil {
			b.Fatal(err)
		}
		d, _ := benchDirSize(b, dir)
		before += d
		// Past the day the due contacts' terms end (expireBenchDay + 30 days).
		clock.ns.Store(expireBenchDay.AddDate(0, 0, 31).Add(time.Hour).UnixNano())

		b.StartTimer()
		t0 := time.Now()
		res, err := s.Expire(ctx, time.Time{})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if at := log.at.Load(); at != 0 {
			keys += time.Duration(at - t0.UnixNano())
		}
		s.WaitHygiene()
		if err := s.WaitForCompactions(ctx); err != nil {
			b.Fatal(err)
		}
		reclaim += time.Since(t0)
		after += settledDirSize(b, dir)
		if res.Buckets != 1 || res.Contacts != int64(n) {
			b.Fatalf("Expire destroyed %d bucket(s) and removed %d contacts, want 1 and %d", res.Buckets, res.Contacts, n)
		}
		st, err := s.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Contacts != live {
			b.Fatalf("%d contacts left, want %d", st.Contacts, live)
		}
		s.Close()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / float64(b.N) }
	if keys > 0 {
		b.ReportMetric(per(keys), "keys-destroyed-ms")
	}
	b.ReportMetric(per(reclaim), "reclaimed-ms")
	b.ReportMetric(float64(before)/float64(b.N)/(1<<20), "disk-before-MiB")
	b.ReportMetric(float64(after)/float64(b.N)/(1<<20), "disk-after-MiB")
}

// settledDirSize waits until the size of dir has stayed the same for three polls 50 ms
// apart (Pebble removes obsolete files in the background) and returns it.
func settledDirSize(b *testing.B, dir string) int64 {
	last, same := int64(-1), 0
	for same < 3 {
		time.Sleep(50 * time.Millisecond)
		d, _ := benchDirSize(b, dir)
		if d == last {
			same++
		} else {
			same = 0
		}
		last = d
	}
	return last
}
