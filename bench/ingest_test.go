package bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
)

func TestRunIngestAllPeers(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{N: 2500, Seed: 7, Batch: 200, Writers: 2, Dir: dir, Peers: Peers, Customers: 50, Verify: true}
	var calls, last int
	res, err := RunIngest(context.Background(), cfg, func(done int) {
		calls++
		if done <= last {
			t.Errorf("progress went from %d to %d", last, done)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := cfg.N * len(Peers); last != want {
		t.Errorf("progress ended at %d, want %d", last, want)
	}
	if want := len(Peers) * 13; calls != want { // 13 batches of at most 200
		t.Errorf("progress called %d times, want %d", calls, want)
	}
	_, wantBytes, err := Generate(context.Background(), cfg.Seed, cfg.N, cfg.Customers)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(Peers) {
		t.Fatalf("%d results, want %d", len(res), len(Peers))
	}
	for i, r := range res {
		if r.Peer != Peers[i] {
			t.Errorf("result %d is %q, want %q", i, r.Peer, Peers[i])
		}
		if r.Records != cfg.N || r.InputBytes != wantBytes || r.Batch != 200 || r.Writers != 2 || r.Sync {
			t.Errorf("%s: records %d bytes %d batch %d writers %d sync %v", r.Peer, r.Records, r.InputBytes, r.Batch, r.Writers, r.Sync)
		}
		if r.Elapsed <= 0 || r.RecordsPerSec <= 0 || r.MBPerSec <= 0 || r.SettledRecordsPerSec <= 0 || r.SettledRecordsPerSec > r.RecordsPerSec {
			t.Errorf("%s: elapsed %v, %f rec/s, %f MB/s, settled %f rec/s", r.Peer, r.Elapsed, r.RecordsPerSec, r.MBPerSec, r.SettledRecordsPerSec)
		}
		if !(0 < r.P50 && r.P50 <= r.P99 && r.P99 <= r.Max) {
			t.Errorf("%s: latencies p50 %v p99 %v max %v", r.Peer, r.P50, r.P99, r.Max)
		}
		sqlite := strings.HasPrefix(r.Peer, "sqlite")
		if r.DiskIngest <= 0 || r.DiskSettled <= 0 || (r.SSTSettled <= 0 && !sqlite) || r.SSTSettled+r.WALSettled > r.DiskSettled || r.SettleMethod == "" {
			t.Errorf("%s: disk %d → %d, settled by %q", r.Peer, r.DiskIngest, r.DiskSettled, r.SettleMethod)
		}
		if r.Dir != "" {
			t.Errorf("%s: Dir %q without Keep", r.Peer, r.Dir)
		}
		if _, err := os.Stat(filepath.Join(dir, r.Peer)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: directory left behind without Keep (%v)", r.Peer, err)
		}
	}
}

func TestRunIngestKeepAndRefuseExisting(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{N: 300, Batch: 100, Dir: dir, Peers: []string{PeerPebbleDefault, PeerStore}, Keep: true, Sync: true}
	res, err := RunIngest(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Sync {
			t.Errorf("%s: Sync not reported", r.Peer)
		}
		if r.Dir != filepath.Join(dir, r.Peer) {
			t.Errorf("%s: Dir %q", r.Peer, r.Dir)
		}
		if u, err := dirSize(r.Dir); err != nil || u.Total != r.DiskSettled || u.SST != r.SSTSettled || u.WAL != r.WALSettled {
			t.Errorf("%s: kept dir holds %+v (%v), result says %d, %d, %d", r.Peer, u, err, r.DiskSettled, r.SSTSettled, r.WALSettled)
		}
	}
	// A second run into the same directory must not measure on top of old data.
	if _, err := RunIngest(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second run into the same dir: %v", err)
	}
}

func TestRunIngestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		peers []string
	}{
		{"unknown", []string{"sqlite"}},
		{"twice", []string{PeerStore, PeerStore}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RunIngest(context.Background(), Config{N: 10, Dir: t.TempDir(), Peers: tc.peers}, nil)
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestRunIngestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	_, err := RunIngest(ctx, Config{N: 5000, Batch: 100, Dir: dir, Peers: []string{PeerPebbleDefault}}, func(done int) {
		if done >= 1000 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, PeerPebbleDefault)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory left behind after cancel (%v)", err)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	ctx := context.Background()
	a, na, err := Generate(ctx, 3, 200, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, nb, _ := Generate(ctx, 3, 200, 10)
	c, _, _ := Generate(ctx, 4, 200, 10)
	if na != nb || !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different contacts")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same contacts")
	}
	var sum int64
	ids := map[string]bool{}
	for i := range a {
		j, _ := json.Marshal(&a[i])
		sum += int64(len(j))
		if a[i].ID == "" || ids[a[i].ID] {
			t.Fatalf("contact %d: id %q empty or repeated", i, a[i].ID)
		}
		ids[a[i].ID] = true
		if err := a[i].Validate(); err != nil {
			t.Fatalf("contact %d: %v", i, err)
		}
	}
	if sum != na {
		t.Fatalf("JSON size %d, Generate says %d", sum, na)
	}
}

// TestTunedOptionsMatchStore catches drift: pebble-tuned must run with the options the
// store gives Pebble, except for what is the store's own (merger, compression).
func TestTunedOptionsMatchStore(t *testing.T) {
	var got string
	s, err := store.Open(t.TempDir(), &store.Options{
		RootKey:         crypto.NewRootKey(crypto.MustNewKey(), "test"),
		CreateIfMissing: true,
		Shards:          16,
		PebbleOptions:   func(po *pebble.Options) { got = po.String() },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := tunedOptions(false).String()
	norm := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "merger=") {
				continue // the store's counter merger
			}
			out = append(out, l)
		}
		return out
	}
	g, w := norm(got), norm(want)
	if len(g) != len(w) {
		t.Fatalf("options differ in length:\nstore:\n%s\ntuned:\n%s", got, want)
	}
	for i := range g {
		if g[i] != w[i] {
			t.Errorf("store: %q, pebble-tuned-nocompress: %q", g[i], w[i])
		}
	}
	// pebble-tuned differs only in compression.
	snappy, def := tunedOptions(true), &pebble.Options{}
	def.EnsureDefaults()
	if n := snappy.Levels[0].Compression().Name; n != def.Levels[0].Compression().Name {
		t.Errorf("pebble-tuned compresses with %s, not Pebble's default", n)
	}
}

func TestPercentiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i
	}
	for _, tc := range []struct {
		name          string
		in            []time.Duration
		p50, p99, max time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(5), 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
		{"two", ms(9, 1), 1 * time.Millisecond, 9 * time.Millisecond, 9 * time.Millisecond},
		{"hundred", ms(hundred...), 50 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p50, p99, mx := percentiles(tc.in)
			if p50 != tc.p50 || p99 != tc.p99 || mx != tc.max {
				t.Fatalf("got %v %v %v, want %v %v %v", p50, p99, mx, tc.p50, tc.p99, tc.max)
			}
		})
	}
}

func TestDirSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"x": 10, "a/y.sst": 100, "a/b/z.log": 1000, "a/b/q.sst": 3} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := dirSize(dir); err != nil || u != (diskUsage{Total: 1113, SST: 103, WAL: 1000}) {
		t.Fatalf("got %+v, %v; want 1113 in all, 103 sst, 1000 wal", u, err)
	}
	if _, err := dirSize(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestPebbleKey(t *testing.T) {
	c := store.Contact{Customer: "cust-000001", ID: "ZD-100", Time: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	if got := string(PebbleKey([]byte("x"), &c)); got != "xcust-000001/2024-05-06T07:08:09Z/ZD-100" {
		t.Fatalf("got %q", got)
	}
}

func TestMarkdown(t *testing.T) {
	res := []Result{
		{Peer: "a", Records: 1000, InputBytes: 3e6, Batch: 100, Writers: 1, Sync: true, Elapsed: time.Second,
			RecordsPerSec: 1000, MBPerSec: 3, SettledRecordsPerSec: 500, DiskSettled: 1 << 20, SettleMethod: "m1"},
		{Peer: "b", Records: 1000, InputBytes: 3e6, Batch: 100, Writers: 1, Sync: true, Elapsed: 4 * time.Second,
			RecordsPerSec: 250, MBPerSec: 0.75, SettledRecordsPerSec: 250, DiskSettled: 4 << 20, SettleMethod: "m2"},
	}
	md := Markdown(res)
	for _, want := range []string{
		"1000 contacts (3.0 MB of JSON), batches of 100, 1 writer(s), fsync per batch.",
		"| a | 1,000 | 3.0 | 1s |",
		"| records/s, row ÷ column | a | b |",
		"| a | 1.00× | 4.00× |",
		"| b | 0.25× | 1.00× |",
		"| settled records/s, row ÷ column | a | b |\n|---|--:|--:|\n| a | 1.00× | 2.00× |",
		"| disk settled, row ÷ column | a | b |\n|---|--:|--:|\n| a | 1.00× | 0.25× |",
		"| sstables settled, row ÷ column | a | b |\n|---|--:|--:|\n| a | – | – |",
		"- a: m1.", "- b: m2.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	// Every row of a table has as many cells as its header.
	cells := -1
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "|") {
			cells = -1
			continue
		}
		n := strings.Count(l, "|")
		if cells == -1 {
			cells = n
		} else if n != cells {
			t.Errorf("row with %d cell borders in a table with %d: %q", n, cells, l)
		}
	}
	if Markdown(nil) == "" {
		t.Error("empty rendering for no results")
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.6: "1,234,568", -12345: "-12,345"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestMemSamplerSeesAllocation(t *testing.T) {
	m := startMemSampler()
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i)
	}
	runtime.GC() // the live heap is measured by GCs
	time.Sleep(3 * sampleEvery)
	heap, _ := m.stop()
	if heap < 60<<20 {
		t.Errorf("peak heap %d, want at least 60 MiB", heap)
	}
	h2, _ := m.stop()
	if h2 != heap {
		t.Errorf("second stop gave %d, first %d", h2, heap)
	}
	_ = big[len(big)-1]
}
