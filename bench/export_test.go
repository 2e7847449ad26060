package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"contactstore/internal/export"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestRunExportAllPeers(t *testing.T) {
	dir := t.TempDir()
	cfg := ExportConfig{N: 1000, Seed: 2, Batch: 300, Rounds: 2, Dir: dir, Peers: ExportPeers}
	var steps []string
	res, err := RunExport(context.Background(), cfg, func(msg string) { steps = append(steps, msg) })
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 {
		t.Error("no progress reported")
	}
	if len(res) != len(ExportPeers) {
		t.Fatalf("%d results, want %d", len(res), len(ExportPeers))
	}
	var plain, sealed, raw, sq ExportResult
	for i, r := range res {
		if r.Peer != ExportPeers[i] {
			t.Errorf("result %d is %s, want %s", i, r.Peer, ExportPeers[i])
		}
		if r.Contacts != 1000 || r.Rounds != 2 || len(r.Runs) != 2 || r.InputBytes <= 0 || r.Disk <= 0 || r.Verified == "" || r.Method == "" {
			t.Errorf("%s: %+v", r.Peer, r)
		}
		// The plain stream is the contacts' JSON plus a type field per line, a header and a
		// trailer, without HTML escaping (the input was measured with json.Marshal, which
		// escapes <, > and &): about the input's size.
		if r.StreamBytes < r.InputBytes*9/10 || r.StreamBytes > r.InputBytes+r.InputBytes/5+64<<10 {
			t.Errorf("%s: stream of %d bytes for %d bytes of JSON", r.Peer, r.StreamBytes, r.InputBytes)
		}
		if r.Elapsed <= 0 || r.ContactsPerSec <= 0 || r.MBPerSec <= 0 || r.Mem.PeakHeapInuse < r.Mem.BaseHeapInuse || r.Mem.BaseHeapInuse == 0 {
			t.Errorf("%s: elapsed %v, %f contacts/s, %f MB/s, mem %+v", r.Peer, r.Elapsed, r.ContactsPerSec, r.MBPerSec, r.Mem)
		}
		// Of two rounds the median is the faster.
		if len(r.Runs) == 2 && r.Elapsed != min(r.Runs[0].Elapsed, r.Runs[1].Elapsed) {
			t.Errorf("%s: median %v of %v", r.Peer, r.Elapsed, r.Runs)
		}
		if r.Dir != "" {
			t.Errorf("%s: Dir %q without Keep", r.Peer, r.Dir)
		}
		switch r.Peer {
		case PeerStore:
			plain = r
		case PeerStoreAge:
			sealed = r
		case PeerPebbleTunedNoCompress:
			raw = r
		case PeerSQLiteAESGCM:
			sq = r
		}
	}
	if sq.Peer == "" || sq.OutBytes != sq.StreamBytes || sq.Disk <= 0 || !strings.Contains(sq.Verified, "1,000 contacts in time order") ||
		!strings.Contains(sq.Method, "AES-256-GCM") {
		t.Errorf("sqlite-aesgcm: %+v", sq)
	}
	// age adds a header and 16 bytes per 64 KiB chunk: the ciphertext is larger than the
	// plain stream, by little; the plain exports write the stream itself.
	if sealed.OutBytes <= sealed.StreamBytes || sealed.OutBytes > sealed.StreamBytes+sealed.StreamBytes/100+1024 {
		t.Errorf("age: %d bytes written for a stream of %d", sealed.OutBytes, sealed.StreamBytes)
	}
	if plain.OutBytes != plain.StreamBytes || raw.OutBytes != raw.StreamBytes {
		t.Errorf("plain: %d written for %d; pebble: %d written for %d", plain.OutBytes, plain.StreamBytes, raw.OutBytes, raw.StreamBytes)
	}
	if !strings.Contains(sealed.Verified, "decrypted") {
		t.Errorf("age verified: %q", sealed.Verified)
	}
	if plain.Disk != sealed.Disk {
		t.Errorf("the two store variants read different stores: %d and %d bytes", plain.Disk, sealed.Disk)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("left behind in %s: %v (%v)", dir, entries, err)
	}

	md := ExportMarkdown(res)
	for _, want := range []string{"Export: one customer with 1,000 contacts", "| peer | contacts/s | MB/s |", "| contactstore-age |",
		"| row ÷ column: elapsed (CPU) |", "How each peer exports:", "Verified (before the measured rounds):", "Rounds (elapsed):"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back []ExportResult
	if err := json.Unmarshal(js, &back); err != nil || len(back) != len(res) || back[1].Mem != res[1].Mem || len(back[1].Runs) != 2 {
		t.Errorf("JSON round trip: %v", err)
	}
}

func TestRunExportKeepAndRefuse(t *testing.T) {
	dir := t.TempDir()
	cfg := ExportConfig{N: 200, Rounds: 1, Dir: dir, Keep: true, Peers: []string{PeerStoreAge, PeerPebbleTuned}}
	res, err := RunExport(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Peer != PeerStoreAge || res[1].Peer != PeerPebbleTuned {
		t.Fatalf("results %+v", res)
	}
	// The age variant exports the store's directory, named for the store.
	if res[0].Dir != filepath.Join(dir, PeerStore) || res[1].Dir != filepath.Join(dir, PeerPebbleTuned) {
		t.Errorf("dirs %q, %q", res[0].Dir, res[1].Dir)
	}
	for _, r := range res {
		if _, err := os.Stat(r.Dir); err != nil {
			t.Errorf("%s: %v", r.Peer, err)
		}
	}
	if _, err := RunExport(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second run into the same directory: %v", err)
	}
	for _, peers := range [][]string{{"sqlite"}, {PeerStore, PeerStore}, {PeerPebbleDefault}} {
		if _, err := RunExport(context.Background(), ExportConfig{N: 10, Peers: peers}, nil); err == nil {
			t.Errorf("peers %v accepted", peers)
		}
	}
}

// PebbleExport writes a stream that export.Verify accepts, with the customer's contacts
// only, in key order.
func TestPebbleExport(t *testing.T) {
	o := tunedOptions(false)
	o.FS = vfs.NewMem()
	o.Logger = quietLogger{}
	db, err := pebble.Open("", o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	contacts, _, err := Generate(context.Background(), 4, 300, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	b := db.NewBatch()
	for i := range contacts {
		v, err := json.Marshal(&contacts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Set(PebbleKey(nil, &contacts[i]), v, nil); err != nil {
			t.Fatal(err)
		}
		want[contacts[i].Customer]++
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if len(want) < 2 {
		t.Fatalf("the workload gave %d customers", len(want))
	}
	for cu, n := range want {
		var buf bytes.Buffer
		got, written, digest, err := PebbleExport(context.Background(), db, cu, &buf)
		if err != nil {
			t.Fatal(err)
		}
		var last string
		sum, err := export.Verify(bytes.NewReader(buf.Bytes()), func(line []byte) error {
			var c store.Contact
			if err := json.Unmarshal(line, &c); err != nil {
				return err
			}
			if c.Customer != cu {
				t.Errorf("a contact of another customer in %s's stream", cu)
			}
			k := string(PebbleKey(nil, &c))
			if k < last {
				t.Errorf("contacts out of key order")
			}
			last = k
			return nil
		})
		if err != nil {
			t.Fatalf("customer with %d contacts: %v", n, err)
		}
		if got != int64(n) || sum.Contacts != int64(n) || written != int64(buf.Len()) || sum.Trailer.SHA256 != digest {
			t.Errorf("customer with %d contacts: %d exported, %d verified, %d of %d bytes, digest %s / %s", n, got, sum.Contacts, written, buf.Len(), digest, sum.Trailer.SHA256)
		}
	}
	// An unknown customer: a header and a trailer with no contacts.
	var buf bytes.Buffer
	if n, _, _, err := PebbleExport(context.Background(), db, "nobody", &buf); err != nil || n != 0 {
		t.Fatalf("unknown customer: %d, %v", n, err)
	}
	if sum, err := export.Verify(&buf, nil); err != nil || sum.Contacts != 0 {
		t.Errorf("unknown customer's stream: %+v, %v", sum, err)
	}
}

func TestExportMedian(t *testing.T) {
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{{[]time.Duration{5}, 5}, {[]time.Duration{9, 1, 4}, 4}, {[]time.Duration{3, 8, 1, 6}, 3}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// The memory watch sees memory held while it watches, and not memory freed before.
func TestExportWatchMemory(t *testing.T) {
	const size = 64 << 20
	w := WatchMemory(time.Millisecond)
	held := make([]byte, size)
	for i := range held {
		held[i] = byte(i)
	}
	m := w.Stop()
	runtime.KeepAlive(held)
	if m.HeapInuse() < size || m.Allocs < size || m.PeakHeapInuse < m.BaseHeapInuse+size {
		t.Errorf("a held %d-byte slice: heap in use +%d, allocated %d", size, m.HeapInuse(), m.Allocs)
	}
	if m.RSS() < size/2 && m.BaseRSS != 0 {
		t.Errorf("a written %d-byte slice: RSS +%d", size, m.RSS())
	}
	if m2 := w.Stop(); m2 != m {
		t.Errorf("a second Stop: %+v, want %+v", m2, m)
	}
	held = nil
	m = WatchMemory(time.Millisecond).Stop()
	if m.HeapInuse() >= size/2 {
		t.Errorf("nothing allocated, yet heap in use +%d", m.HeapInuse())
	}
	// Max keeps, per figure, the watch that rose most.
	a := MemPeak{BaseHeapInuse: 10, PeakHeapInuse: 50, BaseRSS: 100, PeakRSS: 110, Allocs: 7}
	b := MemPeak{BaseHeapInuse: 40, PeakHeapInuse: 60, BaseRSS: 50, PeakRSS: 90, GCs: 3}
	if got := a.Max(b); got.HeapInuse() != 40 || got.BaseHeapInuse != 10 || got.RSS() != 40 || got.BaseRSS != 50 || got.Allocs != 7 || got.GCs != 3 {
		t.Errorf("Max: %+v", got)
	}
}

// TestVerifyStreamExport checks that the check of the Pebble and SQLite streams rejects a
// stream missing a contact, one with a contact of another customer, one out of time order
// and one whose byte count is wrong, and accepts the true stream.
func TestVerifyStreamExport(t *testing.T) {
	ctx := context.Background()
	sq, err := openSQLitePeer(PeerSQLiteAESGCM, filepath.Join(t.TempDir(), "sq"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.close()
	contacts, _, err := Generate(ctx, 7, 50, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := sq.put(ctx, contacts); err != nil {
		t.Fatal(err)
	}
	d := &exportData{customer: contacts[0].Customer, n: int64(len(contacts))}
	for _, c := range contacts {
		d.idSum += idHash(c.ID)
	}
	if v, err := verifyStreamExport(ctx, sq.export, d, true); err != nil || !strings.Contains(v, "50 contacts in time order") {
		t.Fatalf("true stream: %q, %v", v, err)
	}
	// A stream whose contact lines edit rewrites; the trailer is recomputed so that only
	// the edit is wrong.
	rewrite := func(edit func(lines [][]byte) [][]byte) func(context.Context, string, io.Writer) (int64, int64, string, error) {
		return func(ctx context.Context, customer string, w io.Writer) (int64, int64, string, error) {
			var buf bytes.Buffer
			if _, _, _, err := sq.export(ctx, customer, &buf); err != nil {
				return 0, 0, "", err
			}
			lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
			hdr, body := lines[0], edit(slices.Clone(lines[1:len(lines)-2])) // the trailer and the empty tail dropped
			h := sha256.New()
			var out bytes.Buffer
			for _, l := range append([][]byte{hdr}, body...) {
				h.Write(l)
				out.Write(l)
			}
			digest := hex.EncodeToString(h.Sum(nil))
			tr, _ := json.Marshal(export.Trailer{Type: export.TypeTrailer, Contacts: int64(len(body)), SHA256: digest})
			out.Write(append(tr, '\n'))
			written, err := w.Write(out.Bytes())
			return int64(len(body)), int64(written), digest, err
		}
	}
	if _, err := verifyStreamExport(ctx, rewrite(func(l [][]byte) [][]byte { return l }), d, true); err != nil {
		t.Fatalf("the unedited rewrite: %v", err)
	}
	bad := map[string]func(context.Context, string, io.Writer) (int64, int64, string, error){
		"missing": rewrite(func(l [][]byte) [][]byte { return slices.Delete(l, 3, 4) }),
		"other customer": rewrite(func(l [][]byte) [][]byte {
			l[3] = bytes.Replace(l[3], []byte(d.customer), []byte("someone-else"), 1)
			return l
		}),
		"out of order": rewrite(func(l [][]byte) [][]byte {
			l[3], l[40] = l[40], l[3]
			return l
		}),
		"byte count": func(ctx context.Context, customer string, w io.Writer) (int64, int64, string, error) {
			c, n, dg, err := sq.export(ctx, customer, w)
			return c, n + 1, dg, err
		},
	}
	for name, exp := range bad {
		if _, err := verifyStreamExport(ctx, exp, d, true); err == nil {
			t.Errorf("%s: the check passed", name)
		}
	}
}
