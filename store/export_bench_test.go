package store_test

// BenchmarkExport: one customer's whole history exported, plain and age-encrypted. Compare
// commits with benchstat:
//
//	go test ./store -run XXX -bench Export -count 6 > new.txt; benchstat old.txt new.txt
//
// CS_BENCH_EXPORT_N sets the customer's number of contacts (default 10,000); the full
// scenario at 100,000, side by side with plain Pebble, is `contactstore bench --scenario
// export`.

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"contactstore/bench"
	"contactstore/bench/workload"
	"contactstore/crypto"
	"contactstore/internal/export"
	"contactstore/store"

	"filippo.io/age"
)

// exportBenchCounter counts what is written and discards it.
type exportBenchCounter struct{ n int64 }

func (c *exportBenchCounter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkExport measures Store.Export of one customer with N contacts
// (CS_BENCH_EXPORT_N, default 10,000; workload sizes: chats, e-mails with quoted threads,
// attachments) to a writer that discards, on a real disk, with the store opened as in
// production (fsync on). The op is one whole export; "plain" writes the JSON Lines stream,
// "age" encrypts it to one age X25519 recipient. MB/s counts the plain stream (10^6 bytes a
// second). It reports contacts/s and peak-heap-MiB: the highest Go heap in use (spans
// holding objects, garbage included) above the baseline before the first export, sampled
// every 5 ms over all the ops. Before measuring, each variant's stream is checked once with
// export.Verify (after age decryption for "age").
func BenchmarkExport(b *testing.B) {
	n := 10_000
	if v := os.Getenv("CS_BENCH_EXPORT_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("CS_BENCH_EXPORT_N=%q: want a positive number", v)
		}
	}
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "db")
	o := &store.Options{
		RootKey:         crypto.NewRootKey(crypto.MustNewKey(), "bench key"),
		CreateIfMissing: true,
		NoSync:          true, // loading is not measured; exports run with fsync below
		ExpiryInterval:  -1,
	}
	s, err := store.Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	g := workload.New(workload.Config{Seed: 1, Customers: 1, WithIDs: true, Count: n})
	var customer string
	for done := 0; done < n; {
		batch := g.Batch(min(benchBatch, n-done))
		customer = batch[0].Customer
		if _, err := s.Put(ctx, batch); err != nil {
			b.Fatal(err)
		}
		done += len(batch)
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := s.WaitForCompactions(ctx); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	o.NoSync = false
	if s, err = store.Open(dir, o); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}

	for _, variant := range []string{"plain", "age"} {
		b.Run(variant, func(b *testing.B) {
			eo := store.ExportOptions{Recipient: "Advocatenkantoor Jansen", Country: "NL"}
			var ident *age.X25519Identity
			if variant == "age" {
				ident = id
				eo.AgeRecipients = []string{id.Recipient().String()}
			}
			stream := checkExportStream(b, s, customer, eo, ident, int64(n))
			b.SetBytes(stream)
			mem := bench.WatchMemory(5 * time.Millisecond)
			for b.Loop() {
				var w exportBenchCounter
				res, err := s.Export(ctx, customer, &w, eo)
				if err != nil {
					b.Fatal(err)
				}
				if res.Contacts != int64(n) {
					b.Fatalf("exported %d contacts, want %d", res.Contacts, n)
				}
			}
			m := mem.Stop()
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "contacts/s")
			b.ReportMetric(float64(m.HeapInuse())/(1<<20), "peak-heap-MiB")
		})
	}
}

// checkExportStream exports the customer once through a pipe into export.Verify (after
// age decryption when ident is set), checks that the stream holds n contacts and matches
// what Export reported, and returns the plain stream's size.
func checkExportStream(b *testing.B, s *store.Store, customer string, o store.ExportOptions, ident *age.X25519Identity, n int64) int64 {
	b.Helper()
	pr, pw := io.Pipe()
	type verdict struct {
		sum export.Summary
		err error
	}
	done := make(chan verdict, 1)
	go func() {
		var v verdict
		var r io.Reader = pr
		if ident != nil {
			r, v.err = age.Decrypt(pr, ident)
		}
		if v.err == nil {
			v.sum, v.err = export.Verify(r, nil)
		}
		if v.err != nil {
			pr.CloseWithError(v.err)
		} else {
			pr.Close()
		}
		done <- v
	}()
	res, err := s.Export(context.Background(), customer, pw, o)
	if err != nil {
		pw.CloseWithError(err)
	} else {
		pw.Close()
	}
	v := <-done
	if err != nil {
		b.Fatal(err)
	}
	if v.err != nil {
		b.Fatalf("the stream does not verify: %v", v.err)
	}
	if v.sum.Contacts != n || res.Contacts != n || v.sum.Trailer.SHA256 != res.SHA256 || v.sum.Bytes != res.Bytes {
		b.Fatalf("the stream has %d contacts and %d bytes, Export reports %d and %d (want %d contacts)",
			v.sum.Contacts, v.sum.Bytes, res.Contacts, res.Bytes, n)
	}
	return res.Bytes
}
