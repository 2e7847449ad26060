package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"contactstore/bench/workload"
	"contactstore/internal/export"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
)

// TestSQLitePeerRoundTrip writes contacts through each SQLite peer's interface (durable and
// not), rewrites a batch (INSERT OR REPLACE), settles, and reads every contact back:
// decrypted and decoded, it must be the contact written. The encrypted peer must hold
// neither the customer ids nor any text in the clear, and must refuse a value moved to
// another row.
func TestSQLitePeerRoundTrip(t *testing.T) {
	ctx := context.Background()
	contacts, _, err := Generate(ctx, 11, 300, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range SQLitePeers {
		for _, sync := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sync=%v", name, sync), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), name)
				pi, err := openSQLitePeer(name, dir, sync)
				if err != nil {
					t.Fatal(err)
				}
				var p peer = pi // the interface RunIngest uses
				defer p.close()
				var want string
				if err := pi.db.QueryRow("PRAGMA synchronous").Scan(&want); err != nil {
					t.Fatal(err)
				}
				if got := map[string]string{"1": "NORMAL", "2": "FULL"}[want]; got != SQLiteSynchronous(sync) {
					t.Errorf("synchronous = %s, want %s", want, SQLiteSynchronous(sync))
				}
				for lo := 0; lo < len(contacts); lo += 100 {
					if err := p.put(ctx, contacts[lo:min(lo+100, len(contacts))]); err != nil {
						t.Fatal(err)
					}
				}
				if err := p.put(ctx, contacts[:100]); err != nil { // replaces, adds nothing
					t.Fatal(err)
				}
				if n, s := p.stalls(); n != 0 || s != 0 {
					t.Errorf("stalls %d %v", n, s)
				}
				if _, err := os.Stat(filepath.Join(dir, sqliteFile+"-wal")); err != nil {
					t.Errorf("no WAL file during ingest: %v", err)
				}
				if name != PeerSQLitePlain {
					checkSealed(t, pi, contacts)
				}
				var ddl string
				if err := pi.db.QueryRow("SELECT sql FROM sqlite_schema WHERE name = 'contacts'").Scan(&ddl); err != nil {
					t.Fatal(err)
				}
				if withoutRowid := strings.HasSuffix(ddl, "WITHOUT ROWID"); withoutRowid != (name != PeerSQLiteAESGCMRowid) {
					t.Errorf("%s: table %s", name, ddl)
				}
				method, err := p.settle(ctx)
				if err != nil || method != sqliteSettleMethod {
					t.Fatalf("settle: %q, %v", method, err)
				}
				if fi, err := os.Stat(filepath.Join(dir, sqliteFile+"-wal")); err == nil && fi.Size() != 0 {
					t.Errorf("WAL holds %d bytes after settling", fi.Size())
				}
				n, err := p.count(ctx)
				if err != nil || n != int64(len(contacts)) {
					t.Fatalf("count %d (%v), want %d", n, err, len(contacts))
				}
				for i := range contacts {
					c := &contacts[i]
					got, err := pi.get(ctx, c.Customer, c.ID)
					if err != nil {
						t.Fatalf("contact %d: %v", i, err)
					}
					a, _ := json.Marshal(c)
					b, _ := json.Marshal(&got)
					if !bytes.Equal(a, b) {
						t.Fatalf("contact %d read back differs:\n%s\n%s", i, b, a)
					}
				}
				p.close()
			})
		}
	}
}

// checkSealed looks at the encrypted peer's rows directly.
func checkSealed(t *testing.T, p *sqlitePeer, contacts []store.Contact) {
	t.Helper()
	rows, err := p.db.Query("SELECT customer, id, value FROM contacts")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct{ customer, id, value []byte }
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.customer, &r.id, &r.value); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(contacts) {
		t.Fatalf("%d rows, want %d", len(all), len(contacts))
	}
	for i, r := range all {
		if len(r.customer) != sqlitePseudonymSize || len(r.id) != sqlitePseudonymSize {
			t.Fatalf("row %d: customer %d bytes, id %d bytes", i, len(r.customer), len(r.id))
		}
		for _, c := range contacts[:50] {
			if bytes.Contains(r.value, []byte(c.Customer)) || bytes.Contains(r.customer, []byte(c.Customer)) ||
				(len(c.Subject) > 8 && bytes.Contains(r.value, []byte(c.Subject))) {
				t.Fatalf("row %d holds contact %s's customer or subject in the clear", i, c.ID)
			}
		}
		if _, err := p.openValue(r.customer, r.id, r.value); err != nil {
			t.Fatalf("row %d does not open: %v", i, err)
		}
	}
	// A value moved to another row's key does not open.
	if _, err := p.openValue(all[1].customer, all[1].id, all[0].value); err == nil {
		t.Fatal("a value opened under another row's key")
	}
	// A flipped bit does not open.
	v := bytes.Clone(all[0].value)
	v[len(v)/2] ^= 1
	if _, err := p.openValue(all[0].customer, all[0].id, v); err == nil {
		t.Fatal("a tampered value opened")
	}
}

func TestSQLitePeerUnknownName(t *testing.T) {
	if _, err := openSQLitePeer("sqlite", t.TempDir(), false); err == nil {
		t.Fatal("no error for an unknown name")
	}
}

// TestSQLitePeerExport exports one customer from each SQLite peer and checks the stream
// with export.Verify: every contact once, in time order, the digest the export returned.
func TestSQLitePeerExport(t *testing.T) {
	ctx := context.Background()
	const n = 400
	g := workload.New(workload.Config{Seed: 5, Customers: 1, WithIDs: true, Count: n})
	contacts := make([]store.Contact, n)
	var idSum uint64
	for i := range contacts {
		contacts[i] = g.Next()
		idSum += idHash(contacts[i].ID)
	}
	// A second customer the export must leave out.
	other, _, err := Generate(ctx, 6, 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range other {
		other[i].Customer += "-other"
	}
	customer := contacts[0].Customer
	for _, name := range SQLitePeers {
		t.Run(name, func(t *testing.T) {
			p, err := openSQLitePeer(name, filepath.Join(t.TempDir(), name), false)
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			for _, b := range [][]store.Contact{contacts[:250], other, contacts[250:]} {
				if err := p.put(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			got, written, digest, err := p.export(ctx, customer, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if got != n || written != int64(buf.Len()) {
				t.Fatalf("exported %d contacts, %d bytes (buffer %d), want %d contacts", got, written, buf.Len(), n)
			}
			var (
				ids  uint64
				last time.Time
			)
			s, err := export.Verify(&buf, func(line []byte) error {
				var c store.Contact
				if err := json.Unmarshal(line, &c); err != nil {
					return err
				}
				if c.Customer != customer {
					return errors.New("another customer's contact")
				}
				if c.Time.Before(last) {
					return errors.New("out of time order")
				}
				last = c.Time
				ids += idHash(c.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if s.Contacts != n || ids != idSum || s.Trailer.SHA256 != digest {
				t.Fatalf("verified %d contacts, ids match %v, digest match %v", s.Contacts, ids == idSum, s.Trailer.SHA256 == digest)
			}
		})
	}
}

// TestSQLiteInRunIngest runs the SQLite peers through RunIngest, durable and not, once they
// are registered there (in Peers and openPeer); until then it skips.
func TestSQLiteInRunIngest(t *testing.T) {
	if !slices.Contains(Peers, PeerSQLiteAESGCM) {
		t.Skip("the SQLite peers are not registered in bench.Peers / openPeer yet")
	}
	for _, sync := range []bool{false, true} {
		cfg := Config{N: 600, Batch: 100, Writers: 2, Sync: sync, Dir: t.TempDir(), Peers: SQLitePeers, Verify: true}
		res, err := RunIngest(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Records != cfg.N || r.RecordsPerSec <= 0 || r.DiskSettled <= 0 || r.SettleMethod != sqliteSettleMethod || r.Sync != sync {
				t.Errorf("%s: %+v", r.Peer, r)
			}
		}
	}
}

// TestSQLiteIngestCompare measures the SQLite peers with RunIngest's workload when
// SQLITE_BENCH=N is set (skipped otherwise): the same contacts (Generate, seed
// SQLITE_BENCH_SEED or 0) in batches of DefaultBatch, one writer, without and with fsync,
// the same figures as RunIngest. It is a stand-in until the peers are registered in
// RunIngest; the timing decides nothing.
func TestSQLiteIngestCompare(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SQLITE_BENCH"))
	if n <= 0 {
		t.Skip("set SQLITE_BENCH=N to measure")
	}
	seed, _ := strconv.ParseInt(os.Getenv("SQLITE_BENCH_SEED"), 10, 64)
	ctx := context.Background()
	customers := max(1, n/workload.DefaultPerCustomer)
	contacts, inputBytes, err := Generate(ctx, seed, n, customers)
	if err != nil {
		t.Fatal(err)
	}
	var results []Result
	for _, sync := range []bool{false, true} {
		for _, name := range SQLitePeers {
			r := Result{Peer: name, Records: n, InputBytes: inputBytes, Batch: DefaultBatch, Writers: 1, Sync: sync}
			dir := filepath.Join(t.TempDir(), name)
			mem := startMemSampler()
			p, err := openSQLitePeer(name, dir, sync)
			if err != nil {
				t.Fatal(err)
			}
			var lat []time.Duration
			cpu0, start := processCPU(), time.Now()
			for lo := 0; lo < n; lo += DefaultBatch {
				t0 := time.Now()
				if err := p.put(ctx, contacts[lo:min(lo+DefaultBatch, n)]); err != nil {
					t.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			r.Elapsed, r.CPUIngest = time.Since(start), processCPU()-cpu0
			r.RecordsPerSec = float64(n) / r.Elapsed.Seconds()
			r.MBPerSec = float64(inputBytes) / 1e6 / r.Elapsed.Seconds()
			r.P50, r.P99, r.Max = percentiles(lat)
			du, _ := dirSize(dir)
			r.DiskIngest = du.Total
			t0, cpu0 := time.Now(), processCPU()
			if r.SettleMethod, err = p.settle(ctx); err != nil {
				t.Fatal(err)
			}
			r.Settle, r.CPUSettle = time.Since(t0), processCPU()-cpu0
			r.PeakHeap, r.PeakRSS = mem.stop()
			r.SettledRecordsPerSec = float64(n) / (r.Elapsed + r.Settle).Seconds()
			du, _ = dirSize(dir)
			r.DiskSettled = du.Total
			if c, err := p.count(ctx); err != nil || c != int64(n) {
				t.Fatalf("%s: %d records (%v), want %d", name, c, err, n)
			}
			results = append(results, r)
		}
	}
	t.Logf("\n%s\n%s", Markdown(results[:2]), Markdown(results[2:]))
}

// TestSQLiteExportCompare measures the SQLite peers' export against PebbleExport over
// pebble-tuned-nocompress when SQLITE_BENCH_EXPORT=N is set (skipped otherwise): one
// customer's N contacts from the workload generator, loaded without fsync and settled,
// then each peer exports to io.Discard three times in rotating order; the median is
// logged. The timing decides nothing.
func TestSQLiteExportCompare(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SQLITE_BENCH_EXPORT"))
	if n <= 0 {
		t.Skip("set SQLITE_BENCH_EXPORT=N to measure")
	}
	ctx := context.Background()
	g := workload.New(workload.Config{Seed: 1, Customers: 1, WithIDs: true, Count: n})
	contacts := make([]store.Contact, n)
	for i := range contacts {
		contacts[i] = g.Next()
	}
	customer := contacts[0].Customer
	dir := t.TempDir()
	pb, err := openPebblePeer(filepath.Join(dir, PeerPebbleTunedNoCompress), false, func() *pebble.Options { return tunedOptions(false) })
	if err != nil {
		t.Fatal(err)
	}
	defer pb.close()
	sq := map[string]*sqlitePeer{}
	for _, name := range SQLitePeers {
		if sq[name], err = openSQLitePeer(name, filepath.Join(dir, name), false); err != nil {
			t.Fatal(err)
		}
		defer sq[name].close()
	}
	for lo := 0; lo < n; lo += DefaultBatch {
		b := contacts[lo:min(lo+DefaultBatch, n)]
		if err := pb.put(ctx, b); err != nil {
			t.Fatal(err)
		}
		for _, p := range sq {
			if err := p.put(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := pb.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := WaitQuiet(ctx, PebbleIdle(pb.db)); err != nil {
		t.Fatal(err)
	}
	for _, p := range sq {
		if err := p.checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	peers := append([]string{PeerPebbleTunedNoCompress}, SQLitePeers...)
	run := func(name string) (int64, int64, error) {
		w := &countingWriter{}
		if name == PeerPebbleTunedNoCompress {
			c, _, _, err := PebbleExport(ctx, pb.db, customer, w)
			return c, w.n, err
		}
		c, _, _, err := sq[name].export(ctx, customer, w)
		return c, w.n, err
	}
	for _, name := range peers { // warm the caches
		if c, _, err := run(name); err != nil || c != int64(n) {
			t.Fatalf("%s: %d contacts (%v)", name, c, err)
		}
	}
	el := map[string][]time.Duration{}
	cpu := map[string][]time.Duration{}
	var bytesOut int64
	for round := range 3 {
		for k := range peers {
			name := peers[(k+round)%len(peers)]
			cpu0, t0 := processCPU(), time.Now()
			c, out, err := run(name)
			el[name] = append(el[name], time.Since(t0))
			cpu[name] = append(cpu[name], processCPU()-cpu0)
			if err != nil || c != int64(n) {
				t.Fatalf("%s: %d contacts (%v)", name, c, err)
			}
			bytesOut = out
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "export of one customer's %d contacts (%.1f MB stream), median of 3\n\n| peer | contacts/s | MB/s | elapsed | CPU µs/contact | ÷ pebble elapsed |\n|---|--:|--:|--:|--:|--:|\n",
		n, float64(bytesOut)/1e6)
	base := median(el[PeerPebbleTunedNoCompress])
	for _, name := range peers {
		e, c := median(el[name]), median(cpu[name])
		fmt.Fprintf(&b, "| %s | %s | %.1f | %s | %.1f | %.2f× |\n", name, thousands(float64(n)/e.Seconds()),
			float64(bytesOut)/1e6/e.Seconds(), dur(e), float64(c.Microseconds())/float64(n), float64(e)/float64(base))
	}
	t.Logf("\n%s", b.String())
}
