package store_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"contactstore/store"
)

// backupBenchN is the store size of the backup benchmarks: 100,000 contacts, or
// $CONTACTSTORE_BACKUP_BENCH_N (the 1,000,000 is a manual run:
// CONTACTSTORE_BACKUP_BENCH_N=1000000 go test -run '^$' -bench 'Backup|Restore' -benchtime 1x ./store/).
func backupBenchN() int {
	if v, err := strconv.Atoi(os.Getenv("CONTACTSTORE_BACKUP_BENCH_N")); err == nil && v > 0 {
		return v
	}
	return 100_000
}

// backupBenchStore fills a store on disk with n workload contacts, settled.
func backupBenchStore(b *testing.B, dir string, n int) *benchStore {
	b.Helper()
	cs, _ := benchContacts(n)
	bs := openBenchStore(b, dir, true)
	for i := 0; i < len(cs); i += benchBatch {
		if _, err := bs.Put(context.Background(), cs[i:min(i+benchBatch, len(cs))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := bs.reopen(); err != nil {
		b.Fatal(err)
	}
	if err := bs.WaitForCompactions(context.Background()); err != nil {
		b.Fatal(err)
	}
	return bs
}

// BenchmarkBackup measures backup throughput in MB/s of store files read (the archive is
// discarded).
func BenchmarkBackup(b *testing.B) {
	n := backupBenchN()
	bs := backupBenchStore(b, filepath.Join(b.TempDir(), "db"), n)
	defer bs.Close()
	info, err := bs.Backup(context.Background(), io.Discard, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.DataBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := bs.Backup(context.Background(), io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(info.Bytes)/float64(info.DataBytes), "archive/data")
	b.ReportMetric(float64(n), "contacts")
}

// BenchmarkRestore measures restore throughput in MB/s of store files written, into a new
// directory next to the live store (its vault gives the key and its ledger is replayed).
func BenchmarkRestore(b *testing.B) {
	n := backupBenchN()
	tmp := b.TempDir()
	live := filepath.Join(tmp, "db")
	bs := backupBenchStore(b, live, n)
	archive := filepath.Join(tmp, "db.csb")
	info, err := bs.BackupFile(context.Background(), archive, nil)
	if err != nil {
		b.Fatal(err)
	}
	root := bs.opts.RootKey
	if err := bs.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.DataBytes)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		f, err := os.Open(archive)
		if err != nil {
			b.Fatal(err)
		}
		target := filepath.Join(tmp, "restored-"+strconv.Itoa(i))
		_, err = store.Restore(context.Background(), f, target, &store.RestoreOptions{RootKey: root, Live: live})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = os.RemoveAll(target)
		b.StartTimer()
		i++
	}
	b.ReportMetric(float64(n), "contacts")
}
