package bench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"contactstore/index"
	"contactstore/store"
)

func TestRunLookup(t *testing.T) {
	cfg := LookupConfig{N: 2000, Customers: 500, Seed: 5, Lookups: 200, Batch: 250, Dir: t.TempDir()}
	res, err := RunLookup(context.Background(), cfg, func(m string) { t.Log(m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(LookupPeers) {
		t.Fatalf("%d results, want %d", len(res), len(LookupPeers))
	}
	for i, r := range res {
		if r.Peer != LookupPeers[i] {
			t.Errorf("result %d is %s, want %s", i, r.Peer, LookupPeers[i])
		}
		checkLatency(t, r.Peer, r.Latency, cfg.Lookups)
		if r.Emails+r.Phones+r.Misses != cfg.Lookups || r.Emails == 0 || r.Phones == 0 || r.Misses == 0 {
			t.Errorf("%s: %d e-mail, %d phone, %d miss lookups", r.Peer, r.Emails, r.Phones, r.Misses)
		}
		if r.EmailLatency.Ops != r.Emails || r.PhoneLatency.Ops != r.Phones || r.MissLatency.Ops != r.Misses {
			t.Errorf("%s: per-kind latencies count %d/%d/%d", r.Peer, r.EmailLatency.Ops, r.PhoneLatency.Ops, r.MissLatency.Ops)
		}
		// Every hit returned at least its customer.
		if r.Returned < int64(r.Emails+r.Phones) || r.MostReturned < 1 {
			t.Errorf("%s: %d customers returned for %d hits (most %d)", r.Peer, r.Returned, r.Emails+r.Phones, r.MostReturned)
		}
		if r.N != cfg.N || r.Customers != cfg.Customers || r.Disk <= 0 || r.Load <= 0 || r.InputBytes <= 0 {
			t.Errorf("%s: n %d, customers %d, disk %d, load %v, input %d", r.Peer, r.N, r.Customers, r.Disk, r.Load, r.InputBytes)
		}
		if !strings.Contains(r.Verified, "misses returned none") || r.Method == "" {
			t.Errorf("%s: verified %q, method %q", r.Peer, r.Verified, r.Method)
		}
		// The same lookups for every peer.
		if r.Emails != res[0].Emails || r.Phones != res[0].Phones || r.Misses != res[0].Misses {
			t.Errorf("%s: lookups differ from %s's", r.Peer, res[0].Peer)
		}
	}
	// The peers' directories are removed once measured.
	for _, p := range LookupPeers {
		if _, err := os.Stat(filepath.Join(cfg.Dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s's directory left behind (%v)", p, err)
		}
	}
	md := LookupMarkdown(res)
	for _, p := range LookupPeers {
		if !strings.Contains(md, "| "+p+" | 200 |") {
			t.Errorf("markdown lacks %s's row:\n%s", p, md)
		}
	}
	if !strings.Contains(md, "p50 latency, row ÷ column") {
		t.Errorf("markdown lacks the ratios:\n%s", md)
	}
	sec, err := LookupSection(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(sec.Charts) != 2 || sec.Charts[0].File != "lookup-latency.svg" || !strings.Contains(string(sec.Charts[0].SVG), "<svg") {
		t.Errorf("charts: %d, first %q", len(sec.Charts), sec.Charts[0].File)
	}
	t.Log("\n" + md)
}

func TestRunLookupPeers(t *testing.T) {
	cfg := LookupConfig{N: 300, Customers: 100, Seed: 6, Lookups: 30, Peers: []string{PeerPebbleTunedNoCompress}, Dir: t.TempDir()}
	res, err := RunLookup(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Peer != PeerPebbleTunedNoCompress {
		t.Fatalf("results %+v", res)
	}
	for _, peers := range [][]string{{"nope"}, {PeerStore, PeerStore}, {PeerPebbleDefault}} {
		if _, err := RunLookup(context.Background(), LookupConfig{N: 10, Peers: peers, Dir: t.TempDir()}, nil); err == nil {
			t.Errorf("peers %q: no error", peers)
		}
	}
}

func TestLookupDefaults(t *testing.T) {
	for _, tc := range []struct {
		n, customers         int
		wantN, wantCustomers int
	}{
		{0, 0, DefaultLookupCustomers, DefaultLookupCustomers},
		{2000, 0, 2000, 2000},
		{0, 300, 300, 300},
		{2000, 500, 2000, 500},
	} {
		cfg, err := LookupConfig{N: tc.n, Customers: tc.customers}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.N != tc.wantN || cfg.Customers != tc.wantCustomers || cfg.Lookups != DefaultLookupLookups || !slices.Equal(cfg.Peers, LookupPeers) {
			t.Errorf("N=%d C=%d: got N=%d C=%d lookups %d peers %v", tc.n, tc.customers, cfg.N, cfg.Customers, cfg.Lookups, cfg.Peers)
		}
	}
}

func TestCheckFound(t *testing.T) {
	const secret = "jan.smit@example.nl"
	hit := lookupOp{kind: index.KindEmail, value: secret, want: "cust-000001"}
	miss := lookupOp{kind: index.KindPhone, value: "+31612345678"}
	for _, tc := range []struct {
		name string
		op   lookupOp
		got  []string
		ok   bool
	}{
		{"hit", hit, []string{"cust-000001"}, true},
		{"hit among others", hit, []string{"cust-000000", "cust-000001"}, true},
		{"hit not found", hit, nil, false},
		{"hit finds another", hit, []string{"cust-000002"}, false},
		{"miss", miss, nil, true},
		{"miss finds one", miss, []string{"cust-000002"}, false},
	} {
		err := checkFound(7, tc.op, tc.got)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
		}
		if err != nil && (strings.Contains(err.Error(), tc.op.value) || strings.Contains(err.Error(), "jan") || strings.Contains(err.Error(), "612345678")) {
			t.Errorf("%s: error shows the value: %v", tc.name, err)
		}
	}
}

func TestLookupMisses(t *testing.T) {
	// Misses are values the store indexes (so that Find answers rather than refuses) and
	// that the workload never writes.
	d := &lookupData{seed: 1, n: 400, customers: 100, batch: 100}
	var emails, phones []string
	if err := d.each(context.Background(), func(b []store.Contact) error {
		for _, c := range b {
			emails, phones = append(emails, c.Email), append(phones, c.Phone)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ops, err := d.lookups(500)
	if err != nil {
		t.Fatal(err)
	}
	n := index.Normalizer{Region: lookupRegion}
	misses := 0
	for i, op := range ops {
		if _, err := n.Normalize(op.kind, op.value); err != nil {
			t.Errorf("lookup %d (%s, miss %v) does not normalise: %v", i, op.kind, op.want == "", err)
		}
		if op.want != "" {
			continue
		}
		misses++
		if slices.Contains(emails, op.value) || slices.Contains(phones, op.value) {
			t.Errorf("miss %d is carried by a contact", i)
		}
	}
	if misses < 20 || misses > 80 {
		t.Errorf("%d misses of 500", misses)
	}
	if ops2, _ := d.lookups(500); !slices.Equal(ops, ops2) {
		t.Error("the lookups differ with the same seed")
	}
}

func TestPebbleIndexKey(t *testing.T) {
	for _, tc := range []struct {
		kind  index.Kind
		value string
		want  string
	}{
		{index.KindEmail, "Jan.Smit@Example.NL", "e:jan.smit@example.nl\x00c1"},
		{index.KindPhone, "+31 6-1234 5678", "p:31612345678\x00c1"},
		{index.KindPhone, "06 (1234) 5678", "p:0612345678\x00c1"},
	} {
		if got := string(pebbleIndexKey(nil, tc.kind, tc.value, "c1")); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.value, got, tc.want)
		}
	}
}

// FuzzPebbleIndexKey checks the plaintext index's normalisation: a key is its value's
// lookup prefix followed by the customer, the prefix ends at its only zero byte, and
// normalising a normalised value changes nothing (so a value and its normal form find the
// same keys, in Pebble and as SQLite tokens).
func FuzzPebbleIndexKey(f *testing.F) {
	for _, s := range []string{"Jan.Smit@Example.NL", "+31 6-1234 5678", "jan@bücher.de", "ÄÖÜ@X.DE", "İ@x.tr", "", "07700 900123", "mailto:a@b"} {
		f.Add(s, "cust-000001", false)
		f.Add(s, "c", true)
	}
	f.Fuzz(func(t *testing.T, value, customer string, phone bool) {
		if strings.ContainsRune(value, 0) || strings.ContainsRune(customer, 0) {
			t.Skip() // neither the workload nor a helpdesk writes NUL
		}
		kind := index.KindEmail
		if phone {
			kind = index.KindPhone
		}
		prefix := pebbleIndexKey(nil, kind, value, "")
		key := pebbleIndexKey(nil, kind, value, customer)
		if !strings.HasPrefix(string(key), string(prefix)) || string(key[len(prefix):]) != customer {
			t.Fatalf("key %q does not extend prefix %q with the customer", key, prefix)
		}
		if i := strings.IndexByte(string(prefix), 0); i != len(prefix)-1 {
			t.Fatalf("prefix %q: zero byte at %d", prefix, i)
		}
		norm := string(prefix[2 : len(prefix)-1])
		if again := pebbleIndexKey(nil, kind, norm, ""); string(again) != string(prefix) {
			t.Fatalf("not idempotent: %q then %q", prefix, again)
		}
		if !phone {
			return
		}
		for _, r := range norm {
			if r < '0' || r > '9' {
				t.Fatalf("phone key %q holds a non-digit", prefix)
			}
		}
	})
}
