package bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactstore/store"
)

func TestRunExpiryAllPeers(t *testing.T) {
	dir := t.TempDir()
	cfg := ExpiryConfig{N: 2000, Seed: 3, Customers: 60, Batch: 250, Dir: dir, Scale: true, Reference: true, Sample: 200}
	var steps []string
	res, err := RunExpiry(context.Background(), cfg, func(msg string) { steps = append(steps, msg) })
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 {
		t.Error("no progress reported")
	}
	// N/10 first, then N, each with every peer in ExpiryPeers order.
	if len(res) != 2*len(ExpiryPeers) {
		t.Fatalf("%d results, want %d", len(res), 2*len(ExpiryPeers))
	}
	for i, r := range res {
		wantN, wantLive := 200, 20
		if i >= len(ExpiryPeers) {
			wantN, wantLive = 2000, 200
		}
		if r.Peer != ExpiryPeers[i%len(ExpiryPeers)] || r.Expiring != wantN || r.Live != wantLive {
			t.Errorf("result %d: %s with %d expiring, %d live; want %s, %d, %d", i, r.Peer, r.Expiring, r.Live, ExpiryPeers[i%len(ExpiryPeers)], wantN, wantLive)
		}
		if r.InputBytes <= 0 || r.DiskBefore <= 0 || r.DiskAfter <= 0 || r.LiveOnly <= 0 || r.Verified == "" || r.Method == "" {
			t.Errorf("%s at %d: input %d, disk %d → %d, live alone %d, verified %q", r.Peer, r.Expiring, r.InputBytes, r.DiskBefore, r.DiskAfter, r.LiveOnly, r.Verified)
		}
		// The expired contacts' space comes back: at least half of what they took.
		if 2*(r.DiskBefore-r.DiskAfter) < r.DiskBefore-r.LiveOnly {
			t.Errorf("%s at %d: disk %d → %d, live data alone %d: the space did not come back", r.Peer, r.Expiring, r.DiskBefore, r.DiskAfter, r.LiveOnly)
		}
		if r.Unreadable <= 0 || r.Unreadable > r.Deleted || r.Reclaimed <= 0 || r.Reclaimed > r.Settled {
			t.Errorf("%s at %d: unreadable %v, deleted %v, reclaimed %v, settled %v", r.Peer, r.Expiring, r.Unreadable, r.Deleted, r.Reclaimed, r.Settled)
		}
		switch r.Peer {
		case PeerStore:
			if !r.HiddenAtTerm || r.Expire == nil || r.Expire.Buckets != 1 || r.Expire.Contacts != int64(wantN) || r.ValueBytes != 0 {
				t.Errorf("store at %d: hidden at term %v, expire %+v", r.Expiring, r.HiddenAtTerm, r.Expire)
			}
		default:
			if r.HiddenAtTerm || r.Expire != nil || r.ValueBytes <= 0 || r.Unreadable != r.Deleted {
				t.Errorf("%s at %d: hidden %v, expire %+v, values %d", r.Peer, r.Expiring, r.HiddenAtTerm, r.Expire, r.ValueBytes)
			}
		}
		if r.Dir != "" {
			t.Errorf("%s: Dir %q without Keep", r.Peer, r.Dir)
		}
	}
	// The Pebble peers hold about as many bytes as the store.
	st, rd := res[len(ExpiryPeers)], res[len(ExpiryPeers)+1]
	if ratio := float64(rd.SSTBefore) / float64(st.SSTBefore); ratio < 0.7 || ratio > 1.5 {
		t.Errorf("pebble-rangedel holds %d sstable bytes, the store %d", rd.SSTBefore, st.SSTBefore)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("left behind in %s: %v (%v)", dir, entries, err)
	}

	md := ExpiryMarkdown(res)
	for _, want := range []string{"| due together | peer |", "| 2,000 | contactstore |", "| 200 | pebble-pointdel |", "(reads: at term)", "How each peer deletes", "Verified:"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back []ExpiryResult
	if err := json.Unmarshal(js, &back); err != nil || len(back) != len(res) || back[0].Expire == nil {
		t.Errorf("JSON round trip: %v, %d results", err, len(back))
	}
}

func TestRunExpiryKeepAndRefuse(t *testing.T) {
	dir := t.TempDir()
	cfg := ExpiryConfig{N: 300, Customers: 10, Dir: dir, Keep: true, Peers: []string{PeerPebblePointDel, PeerStore}}
	res, err := RunExpiry(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Peer != PeerStore || res[1].Peer != PeerPebblePointDel {
		t.Fatalf("results %+v", res)
	}
	for _, r := range res {
		if r.Dir != filepath.Join(dir, "300", r.Peer) {
			t.Errorf("%s: Dir %q", r.Peer, r.Dir)
		}
		if _, err := os.Stat(r.Dir); err != nil {
			t.Errorf("%s: %v", r.Peer, err)
		}
		if r.LiveOnly != 0 {
			t.Errorf("%s: live-only size %d without Reference", r.Peer, r.LiveOnly)
		}
	}
	if _, err := RunExpiry(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second run into the same directory: %v", err)
	}
	if _, err := RunExpiry(context.Background(), ExpiryConfig{N: 10, Peers: []string{"sqlite"}}, nil); err == nil {
		t.Error("unknown peer accepted")
	}
}

// The generated workload: N expiring contacts and Live live ones, interleaved, all on
// ExpiryDay; the live ones, and only they, under LiveCategory.
func TestGenerateExpiry(t *testing.T) {
	for _, c := range []struct{ n, live int }{{2000, 200}, {1000, 37}, {95, 9}} {
		cfg := ExpiryConfig{N: c.n, Live: c.live, Customers: 20, Batch: 64, Reference: true}
		var all []store.Contact
		d, err := generateExpiry(context.Background(), cfg, func(b []store.Contact) error {
			if len(b) > 64 {
				t.Fatalf("batch of %d", len(b))
			}
			all = append(all, b...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != c.n+c.live || len(d.meta) != len(all) || len(d.liveContacts) != c.live {
			t.Fatalf("%d contacts, %d meta, %d live kept", len(all), len(d.meta), len(d.liveContacts))
		}
		live, firstLive, lastLive := 0, -1, -1
		var size int64
		for i, ct := range all {
			m := d.meta[i]
			if ct.Customer != m.customer || ct.ID != m.id || !ct.Time.Equal(m.t) || (ct.Category == LiveCategory) != m.live {
				t.Fatalf("contact %d and its meta disagree", i)
			}
			if ct.Time.Before(ExpiryDay) || !ct.Time.Before(ExpiryDay.Add(24*time.Hour)) {
				t.Fatalf("contact %d at %v, not on %v", i, ct.Time, ExpiryDay)
			}
			if m.live {
				live++
				if firstLive < 0 {
					firstLive = i
				}
				lastLive = i
			}
			size += int64(m.size)
		}
		if live != c.live || size != d.inputBytes {
			t.Errorf("%d live (want %d), %d bytes (meta says %d)", live, c.live, size, d.inputBytes)
		}
		if gap := len(all) / c.live; firstLive > gap || lastLive < len(all)-gap-1 {
			t.Errorf("live contacts at %d..%d of %d: not interleaved", firstLive, lastLive, len(all))
		}
	}
}

// The disk watch finds when a directory reached its final size.
func TestDiskWatch(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	w := watchDisk(dir)
	time.Sleep(100 * time.Millisecond)
	changed := time.Now()
	if err := os.Remove(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	size, at, err := w.settle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if size != 0 || at.Before(changed) {
		t.Errorf("final size %d reached at %v, the file was removed at %v", size, at, changed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := watchDisk(dir).settle(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled settle: %v", err)
	}
}
