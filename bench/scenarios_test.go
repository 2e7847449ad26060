package bench

import (
	"context"
	"strings"
	"testing"
)

func checkLatency(t *testing.T, peer string, s LatencyStats, ops int) {
	t.Helper()
	if s.Ops != ops {
		t.Errorf("%s: %d ops, want %d", peer, s.Ops, ops)
	}
	if !(0 < s.P50 && s.P50 <= s.P99 && s.P99 <= s.Max && s.Max <= s.Elapsed) {
		t.Errorf("%s: latencies out of order: p50 %v p99 %v max %v elapsed %v", peer, s.P50, s.P99, s.Max, s.Elapsed)
	}
	if s.OpsPerSec <= 0 {
		t.Errorf("%s: throughput %v", peer, s.OpsPerSec)
	}
}

func TestRunGet(t *testing.T) {
	cfg := GetConfig{N: 400, Customers: 20, Seed: 3, Lookups: 50, Batch: 100, Dir: t.TempDir()}
	res, err := RunGet(context.Background(), cfg, func(m string) { t.Log(m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(GetPeers) {
		t.Fatalf("%d results, want %d", len(res), len(GetPeers))
	}
	for _, r := range res {
		checkLatency(t, r.Peer, r.Latency, cfg.Lookups)
		if r.Contacts < int64(cfg.Lookups) || r.Largest <= 0 || r.Disk <= 0 {
			t.Errorf("%s: contacts %d, largest %d, disk %d", r.Peer, r.Contacts, r.Largest, r.Disk)
		}
	}
	// The same lookups: both peers read the same number of contacts.
	if res[0].Contacts != res[1].Contacts || res[0].Largest != res[1].Largest {
		t.Errorf("peers read different contacts: %d/%d vs %d/%d", res[0].Contacts, res[0].Largest, res[1].Contacts, res[1].Largest)
	}
	md := GetMarkdown(res)
	for _, p := range GetPeers {
		if !strings.Contains(md, "| "+p+" |") {
			t.Errorf("markdown lacks %s:\n%s", p, md)
		}
	}
	t.Log("\n" + md)
}

func TestReadPebbleRange(t *testing.T) {
	// customer "c1" must not read "c10"'s contacts.
	lo, hi := customerRange("c1")
	if string(lo) != "c1/" || string(hi) != "c10" || !("c1/z" < string(hi)) || "c10/" < string(hi) {
		t.Fatalf("range %q %q", lo, hi)
	}
}

func TestRunErase(t *testing.T) {
	cfg := EraseConfig{N: 400, Customers: 20, M: 5, Seed: 4, Batch: 100, Dir: t.TempDir()}
	res, err := RunErase(context.Background(), cfg, func(m string) { t.Log(m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(GetPeers) {
		t.Fatalf("%d results, want %d", len(res), len(GetPeers))
	}
	for _, r := range res {
		checkLatency(t, r.Peer, r.Latency, cfg.M)
		if r.Erased != cfg.M || r.Contacts < int64(cfg.M) {
			t.Errorf("%s: erased %d customers, %d contacts", r.Peer, r.Erased, r.Contacts)
		}
		if r.DiskBefore <= 0 || r.DiskAfter <= 0 {
			t.Errorf("%s: disk %d → %d", r.Peer, r.DiskBefore, r.DiskAfter)
		}
		if !strings.Contains(r.Verified, "erased customers") {
			t.Errorf("%s: verified %q", r.Peer, r.Verified)
		}
	}
	t.Log("\n" + EraseMarkdown(res))
}
