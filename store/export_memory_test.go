package store

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"contactstore/internal/export"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// exCountingWriter counts what passes through it.
type exCountingWriter struct {
	w io.Writer
	n int64
}

func (c *exCountingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// TestExportConstantMemory exports 200,000 contacts (50,000 larger ones under -race) of one customer, spread over about 400
// expiry days (so the read merges some 400 per-bucket sources), and bounds the live heap
// while it runs: sampled after a GC every 10,000 contacts, it stays under a fixed bound
// above the heap before the export. The stream (well over that bound) goes through
// export.Verify, which must accept it with all 200,000 contacts: keeping the history, the
// stream or the contacts in memory would exceed the bound.
func TestExportConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests and exports 200,000 contacts")
	}
	const (
		days  = 400
		bound = 64 << 20 // live heap above the baseline
	)
	n, bodyLen := 200_000, 400
	if raceEnabled() {
		// The race detector slows ingest and export some fivefold (200,000 contacts: about
		// three minutes). Under it, a quarter of the contacts with four and a half times the
		// text: the stream is as large, the bound as tight; without it, the full 200,000.
		n, bodyLen = 50_000, 1800
	}
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := testOptions(t, vfs.Default)
	o.Clock = &fakeClock{t: now}
	o.NoSync = true
	o.CacheSize = 32 << 20
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setPolicy(t, s, `{"default":"P2Y"}`) // a contact of day d expires on d+2y: one bucket a day, none due

	// Varied text, sliced per contact: cheap to make, not trivially compressible.
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdefghijklmnopqrstuvwxyz     ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,éëï"
	text := make([]byte, 4*bodyLen)
	for i := range text {
		text[i] = alphabet[r.IntN(len(alphabet)-6)]
	}
	start := now.AddDate(0, 0, -days)
	step := time.Duration(days) * 24 * time.Hour / time.Duration(n)
	t0 := time.Now()
	batch := make([]Contact, 0, 5000)
	for i := range n {
		off := (i * 7919) % (len(text) - bodyLen)
		batch = append(batch, Contact{
			ID: fmt.Sprintf("m%06d", i), Customer: "heavy", Time: start.Add(time.Duration(i) * step),
			Channel: Channels[i%len(Channels)], Direction: DirectionInbound,
			Subject: "Vraag " + fmt.Sprint(i), Body: string(text[off : off+bodyLen]), Rating: 1 + i%10,
		})
		if len(batch) == cap(batch) || i == n-1 {
			res, err := s.Put(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			if res.Added != len(batch) {
				t.Fatalf("put %+v", res)
			}
			batch = batch[:0]
		}
	}
	batch = nil
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitForCompactions(ctx); err != nil {
		t.Fatal(err)
	}
	ingest := time.Since(t0)
	cu, err := s.lookupCustomer("heavy", false)
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := s.customerBuckets(cu)
	if err != nil {
		t.Fatal(err)
	}
	if len(buckets) < days-5 {
		t.Fatalf("the customer has %d expiry buckets, want about %d", len(buckets), days)
	}

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapAlloc
	var peak uint64
	samples := 0

	pr, pw := io.Pipe()
	type verified struct {
		sum export.Summary
		err error
	}
	done := make(chan verified, 1)
	go func() {
		sum, err := export.Verify(pr, nil)
		_, _ = io.Copy(io.Discard, pr)
		done <- verified{sum, err}
	}()
	cw := &exCountingWriter{w: pw}
	t0 = time.Now()
	res, err := s.Export(ctx, "heavy", cw, ExportOptions{Recipient: "Advocatenkantoor", Country: "NL",
		Progress: func(contacts, bytes int64) {
			if contacts%10_000 != 0 {
				return
			}
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			samples++
		}})
	pw.CloseWithError(err)
	elapsed := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	v := <-done
	if v.err != nil || v.sum.Contacts != int64(n) || v.sum.Trailer.SHA256 != res.SHA256 {
		t.Fatalf("the stream does not verify: %v, %+v", v.err, v.sum.Trailer)
	}
	if res.Contacts != int64(n) || res.Bytes != cw.n || v.sum.Bytes != cw.n {
		t.Fatalf("result %+v, %d bytes written, %d verified", res, cw.n, v.sum.Bytes)
	}
	if samples != n/10_000 || n%10_000 != 0 {
		t.Fatalf("%d samples", samples)
	}
	// The bound means something only if holding the stream would break it.
	if res.Bytes <= bound {
		t.Fatalf("the stream (%d bytes) is smaller than the bound (%d): the test proves nothing", res.Bytes, bound)
	}
	growth := int64(peak) - int64(baseline)
	t.Logf("ingest %v; export %d contacts, %.1f MB in %v (%.0f contacts/s, %.1f MB/s), %d buckets; "+
		"live heap baseline %.1f MiB, peak %.1f MiB (+%.1f MiB; bound +%d MiB; the stream is %.1f MiB)",
		ingest.Round(time.Millisecond), res.Contacts, float64(res.Bytes)/1e6, elapsed.Round(time.Millisecond),
		float64(n)/elapsed.Seconds(), float64(res.Bytes)/1e6/elapsed.Seconds(), len(buckets),
		float64(baseline)/(1<<20), float64(peak)/(1<<20), float64(growth)/(1<<20), bound>>20, float64(res.Bytes)/(1<<20))
	if growth > bound {
		t.Fatalf("the live heap grew by %d bytes during the export, more than %d", growth, bound)
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, st := range bi.Settings {
		if st.Key == "-race" {
			return st.Value == "true"
		}
	}
	return false
}
