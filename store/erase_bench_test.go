package store

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkErase measures the latency of Erase (until the receipt is returned: the data is
// unreadable) in a store of CS_BENCH_CUSTOMERS customers (default 10,000) with
// CS_BENCH_PER contacts each (default 10), on a real disk with fsync. It reports p50 and
// p99 besides the mean, and the time until the background clean-up has finished.
func BenchmarkErase(b *testing.B) {
	customers := envInt("CS_BENCH_CUSTOMERS", 10000)
	per := envInt("CS_BENCH_PER", 10)
	dir := b.TempDir()
	o := testOptions(b, vfs.Default)
	o.Shards = 0 // the default, 4096
	o.NoSync = true
	s, err := Open(dir+"/s", o)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]Contact, 0, 1000)
	for c := range customers {
		for i := range per {
			ct := mkContact(fmt.Sprintf("cust-%07d", c), i)
			batch = append(batch, ct)
			if len(batch) == cap(batch) {
				if _, err := s.Put(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	if _, err := s.Put(ctx, batch); err != nil {
		b.Fatal(err)
	}
	s.Close()
	o.NoSync = false
	if s, err = Open(dir+"/s", o); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// CS_BENCH_CONC erasures run at once (default 1): concurrent requests share a vault
	// replacement, so this measures batched erasure.
	conc := envInt("CS_BENCH_CONC", 1)
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	next := make(chan int)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				if _, err := s.Erase(ctx, fmt.Sprintf("cust-%07d", (i*7919)%customers), "bench"); err != nil {
					b.Error(err)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	t0 := time.Now()
	s.WaitHygiene()
	clean := time.Since(t0)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(clean.Microseconds())/1000, "cleanup-after-ms")
}

// BenchmarkEraseLargeCustomer erases customers with CS_BENCH_BIG contacts each (default
// 20,000): erasure latency must not depend on how many contacts a customer has.
func BenchmarkEraseLargeCustomer(b *testing.B) {
	big := envInt("CS_BENCH_BIG", 20000)
	dir := b.TempDir()
	o := testOptions(b, vfs.Default)
	o.Shards = 0
	o.NoSync = true
	s, err := Open(dir+"/s", o)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for n := range b.N {
		batch := make([]Contact, 0, 1000)
		for i := range big {
			batch = append(batch, mkContact(fmt.Sprintf("big-%d", n), i))
			if len(batch) == cap(batch) {
				if _, err := s.Put(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	b.ResetTimer()
	for n := range b.N {
		if _, err := s.Erase(ctx, fmt.Sprintf("big-%d", n), ""); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.Close()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
