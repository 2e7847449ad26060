package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// checkConsistent runs a full Check and fails the test on any error it reports (warnings
// are logged).
func checkConsistent(t testing.TB, s *Store) {
	t.Helper()
	rep, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	for _, p := range rep.Problems {
		if p.Severity == SeverityError {
			t.Errorf("check: %s ×%d: %s", p.Kind, p.Count, strings.Join(p.Examples, "; "))
		} else {
			t.Logf("check (warning): %s ×%d: %s", p.Kind, p.Count, strings.Join(p.Examples, "; "))
		}
	}
}

// checkScenario is a store with a bit of everything: customers with contacts in several
// buckets, a policy, a hold, an objection, an export, an erasure and an expiry run.
func checkScenario(t *testing.T) *scenario {
	t.Helper()
	ctx := context.Background()
	opts := testOptions(t, vfs.NewMem())
	clock := opts.Clock.(*fakeClock)
	clock.t = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var cs []Contact
	for _, cu := range []string{"anna", "bert", "cees", "dirk"} {
		for i := range 5 {
			c := mkContact(cu, i)
			c.Time = time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * time.Hour)
			c.Phone = "+31 6 1234 567" + fmt.Sprint(i%3)
			cs = append(cs, c)
		}
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	if err := setPolicyErr(s, `{"default":"P2Y","rules":[{"channel":"chat","retention":"P30D"}]}`); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	chat := mkContact("anna", 100)
	chat.Channel, chat.Time = ChannelChat, time.Date(2025, 12, 20, 9, 0, 0, 0, time.UTC)
	repl := mkContact("bert", 1) // a replacement in another bucket
	repl.Channel, repl.Time = ChannelChat, time.Date(2025, 12, 21, 9, 0, 0, 0, time.UTC)
	if _, err := s.Put(ctx, []Contact{chat, repl}); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	if err := s.Hold(ctx, "cees", "matter 17"); err != nil {
		t.Fatal(err)
	}
	if err := s.Object(ctx, "bert", ObjectNonEEA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(ctx, "bert", io.Discard, ExportOptions{Recipient: "Kantoor", Country: "NL"}); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	sc := &scenario{s: s, clock: clock}
	cu, err := s.lookupCustomer("dirk", false)
	if err != nil {
		t.Fatal(err)
	}
	sc.dirk, sc.dirkKey = cu.key, cu.dataKeyKey()
	sc.dirkVal, sc.dirkPS = getRaw(t, s, sc.dirkKey), cu.ps
	clock.t = clock.t.Add(time.Hour)
	if _, err := s.Erase(ctx, "dirk", "art 17"); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	clock.t = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Expire(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	if _, err := s.Release(ctx, "cees"); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	return sc
}

// scenario is checkScenario's store, with what tests need to damage it.
type scenario struct {
	s       *Store
	clock   *fakeClock
	dirk    crypto.CustomerKey // the erased customer's key
	dirkPS  crypto.Pseudonym
	dirkKey []byte // the erased customer's data-key key and wrapped value
	dirkVal []byte
}

func getRaw(t testing.TB, s *Store, k []byte) []byte {
	t.Helper()
	v, closer, err := s.db.Get(k)
	if err != nil {
		t.Fatalf("get %x: %v", k, err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

// firstKey returns the first key (and value) of a kind whose key satisfies ok (nil: any).
func firstKey(t testing.TB, s *Store, kind byte, ok func(k, v []byte) bool) ([]byte, []byte) {
	t.Helper()
	lo, hi := keys.Kind(kind)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if ok == nil || ok(it.Key(), it.Value()) {
			return bytes.Clone(it.Key()), bytes.Clone(it.Value())
		}
	}
	t.Fatalf("no key of kind %c", kind)
	return nil, nil
}

func set(t testing.TB, s *Store, k, v []byte) {
	t.Helper()
	if err := s.db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func del(t testing.TB, s *Store, k []byte) {
	t.Helper()
	if err := s.db.Delete(k, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func flip(v []byte, i int) []byte {
	v = bytes.Clone(v)
	v[i%len(v)] ^= 0x01
	return v
}

// liveBucket says whether a key of a bucket-major kind names a bucket whose key exists.
func liveBucket(s *Store) func(k, _ []byte) bool {
	return func(k, _ []byte) bool { return !bucketGone(s.vault.Load(), beU32(k[1:5])) }
}

func setPolicyErr(s *Store, js string) error {
	p, err := ParsePolicy([]byte(js))
	if err != nil {
		return err
	}
	_, err = s.SetPolicy(context.Background(), p)
	return err
}

func TestCheckAfterEveryOperation(t *testing.T) {
	s := checkScenario(t).s
	rep, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Customers != 3 || rep.Records == 0 || rep.RecordsOpened != rep.Records || rep.Erased != 1 ||
		rep.IndexEntries == 0 || rep.AuditEntries == 0 || rep.Receipts != 1 || rep.Objections != 1 || rep.Disclosures != 1 {
		t.Fatalf("report %+v", rep)
	}
	fast, err := s.Check(context.Background(), &CheckOptions{})
	if err != nil || !fast.OK() || fast.RecordsOpened != 0 || fast.Records != rep.Records {
		t.Fatalf("fast check %+v %v", fast, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Check(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled check: %v", err)
	}
}

// TestCheckFindsDamage damages a consistent store with raw Pebble writes, one kind of
// damage per case, and expects Check to report it (as an error) and nothing it did not do.
func TestCheckFindsDamage(t *testing.T) {
	live := func(s *Store) func(k, v []byte) bool { return liveBucket(s) }
	cases := []struct {
		name   string
		damage func(t *testing.T, sc *scenario)
		want   string
	}{
		{"record with a flipped byte", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindRecord, live(sc.s))
			set(t, sc.s, k, flip(v, len(v)-3))
		}, ckRecordOpen},
		{"record moved to another key", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindRecord, live(sc.s))
			k2 := bytes.Clone(k)
			k2[len(k2)-1] ^= 1
			set(t, sc.s, k2, v)
		}, ckRecordOpen},
		{"record deleted", func(t *testing.T, sc *scenario) {
			k, _ := firstKey(t, sc.s, keys.KindRecord, live(sc.s))
			del(t, sc.s, k)
		}, ckLocatorNoRecord},
		{"locator without record", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindLocator, nil)
			k[len(k)-1] ^= 1
			set(t, sc.s, k, flip(v, 11)) // another time
		}, ckLocatorNoRecord},
		{"record without locator", func(t *testing.T, sc *scenario) {
			k, _ := firstKey(t, sc.s, keys.KindLocator, nil)
			del(t, sc.s, k)
		}, ckRecordNoLocator},
		{"index entry to an erased pseudonym", func(t *testing.T, sc *scenario) {
			var tok [keys.TokenSize]byte
			tok[0] = 7
			set(t, sc.s, keys.Index(tok, sc.dirkPS), nil)
		}, ckErasedIndex},
		{"index entry without membership", func(t *testing.T, sc *scenario) {
			k, _ := firstKey(t, sc.s, keys.KindIndex, nil)
			k[1] ^= 0x80 // another token, same pseudonym
			set(t, sc.s, k, nil)
		}, ckIndexNoMember},
		{"index entry deleted", func(t *testing.T, sc *scenario) {
			k, _ := firstKey(t, sc.s, keys.KindIndex, nil)
			del(t, sc.s, k)
		}, ckIndexOfNoEntry},
		{"dangling J entry", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindIndexOf, func(k, _ []byte) bool {
				_, _, b, _ := keys.ParseIndexOf(k)
				return !bucketGone(sc.s.vault.Load(), b)
			})
			k[1] ^= 0xff // a prefix no customer has
			set(t, sc.s, k, v)
		}, ckIndexOfOrphan},
		{"erased customer's data key put back", func(t *testing.T, sc *scenario) {
			set(t, sc.s, sc.dirkKey, sc.dirkVal)
		}, ckDataKeyStale},
		{"erased customer's key rewrapped under the current shard key", func(t *testing.T, sc *scenario) {
			v := sc.s.vault.Load()
			sh := crypto.ShardOf(sc.dirkPS, len(v.Shards))
			w, err := crypto.WrapCustomerKey(&v.Shards[sh].Key, sc.dirkPS, sh, v.Shards[sh].Gen, &sc.dirk)
			if err != nil {
				t.Fatal(err)
			}
			set(t, sc.s, keys.DataKey(sh, v.Shards[sh].Gen, sc.dirkPS), w)
		}, ckErasedDataKey},
		{"data key with a flipped byte", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindDataKey, nil)
			set(t, sc.s, k, flip(v, 20))
		}, ckDataKeyUnwrap},
		{"broken customer counter", func(t *testing.T, sc *scenario) {
			k, _ := firstKey(t, sc.s, keys.KindStat, func(k, _ []byte) bool { return len(k) == 2+keys.PrefixSize && k[1] == 'c' })
			if err := sc.s.db.Merge(k, encodeCounters([]int64{1}), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, ckCounterCustomer},
		{"broken totals", func(t *testing.T, sc *scenario) {
			if err := sc.s.db.Merge(totalsKey, encodeCounters([]int64{0, 1}), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, ckCounterTotals},
		{"membership count off", func(t *testing.T, sc *scenario) {
			k, _ := firstKey(t, sc.s, keys.KindExpiry, live(sc.s))
			b := keys.Bucket([keys.PrefixSize]byte(k[5:]), beU32(k[1:5]))
			if err := sc.s.db.Merge(b, encodeCounters([]int64{1}), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, ckMemberCount},
		{"expiry membership deleted", func(t *testing.T, sc *scenario) {
			k, _ := firstKey(t, sc.s, keys.KindExpiry, live(sc.s))
			del(t, sc.s, k)
		}, ckMemberNoExpiry},
		{"objection with a flipped byte", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindObject, nil)
			set(t, sc.s, k, flip(v, 30))
		}, ckObjection},
		{"disclosure with a flipped byte", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindDisclos, nil)
			set(t, sc.s, k, flip(v, 30))
		}, ckDisclosure},
		{"hold header changed", func(t *testing.T, sc *scenario) {
			if err := sc.s.Hold(context.Background(), "anna", "matter 18"); err != nil {
				t.Fatal(err)
			}
			k, v := firstKey(t, sc.s, keys.KindHold, nil)
			set(t, sc.s, k, flip(v, 3)) // the readable "since"
		}, ckHold},
		{"objection of an erased customer", func(t *testing.T, sc *scenario) {
			set(t, sc.s, keys.Objection(sc.dirkPS), []byte("noise"))
		}, ckErasedSideData},
		{"receipt with a flipped byte", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindReceipt, nil)
			i := bytes.Index(v, []byte(`"time":"2026`)) + len(`"time":"2026`) - 1
			set(t, sc.s, k, flip(v, i))
		}, ckReceipt},
		{"receipt deleted", func(t *testing.T, sc *scenario) {
			k, _ := firstKey(t, sc.s, keys.KindReceipt, nil)
			del(t, sc.s, k)
		}, ckLedgerNoReceipt},
		{"audit entry changed", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindAudit, nil)
			i := bytes.Index(v, []byte(`"kind":"`)) + len(`"kind":"`)
			set(t, sc.s, k, flip(v, i))
		}, ckAudit},
		{"audit entry removed", func(t *testing.T, sc *scenario) {
			del(t, sc.s, keys.Audit(2))
		}, ckAudit},
		{"policy changed", func(t *testing.T, sc *scenario) {
			v := getRaw(t, sc.s, policyKey)
			i := bytes.Index(v, []byte("P30D")) + 1
			set(t, sc.s, policyKey, flip(v, i)) // P21D
		}, ckPolicy},
		{"orphan record", func(t *testing.T, sc *scenario) {
			k, v := firstKey(t, sc.s, keys.KindRecord, live(sc.s))
			k[5] ^= 0xff
			set(t, sc.s, k, v)
		}, ckRecordOrphan},
		{"two customers share a prefix", func(t *testing.T, sc *scenario) {
			v := sc.s.vault.Load()
			ck := sc.dirk
			ck.Created = sc.clock.t.Add(time.Hour).Unix() // came back after the erasure...
			cu, err := sc.s.lookupCustomer("anna", false)
			if err != nil {
				t.Fatal(err)
			}
			ck.Prefix = cu.key.Prefix // ...with anna's prefix
			sh := crypto.ShardOf(sc.dirkPS, len(v.Shards))
			w, err := crypto.WrapCustomerKey(&v.Shards[sh].Key, sc.dirkPS, sh, v.Shards[sh].Gen, &ck)
			if err != nil {
				t.Fatal(err)
			}
			set(t, sc.s, keys.DataKey(sh, v.Shards[sh].Gen, sc.dirkPS), w)
		}, ckPrefixShared},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := checkScenario(t)
			tc.damage(t, sc)
			rep, err := sc.s.Check(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			p := rep.Problem(tc.want)
			if p == nil || p.Severity != SeverityError || rep.OK() {
				t.Fatalf("want a %s error; report: %s", tc.want, mustJSON(t, rep.Problems))
			}
			for _, e := range p.Examples {
				for _, secret := range []string{"anna", "bert", "cees", "dirk", "example.nl", "bestelling"} {
					if strings.Contains(strings.ToLower(e), secret) {
						t.Errorf("example %q names %q", e, secret)
					}
				}
			}
			t.Logf("%s: %s", tc.want, strings.Join(p.Examples, "; "))
		})
	}
}

// FuzzDecodeCounters feeds arbitrary counter values (what Pebble's merger and the checker
// read back) to decodeCounters: it never panics, a value it accepts re-encodes to the same
// numbers, and the merger accepts what decodeCounters does.
func FuzzDecodeCounters(f *testing.F) {
	f.Add(encodeCounters([]int64{1, 2, -3}))
	f.Add(encodeCounters(make([]int64, maxCounters)))
	f.Add(encodeCounters(make([]int64, maxCounters+1)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeCounters(data)
		if err != nil {
			if _, merr := counterMerger.Merge(nil, data); merr == nil {
				t.Fatal("the merger accepts a value decodeCounters refuses")
			}
			return
		}
		w, err := decodeCounters(encodeCounters(v))
		if err != nil || len(w) != len(v) {
			t.Fatalf("re-encoded %v: %v %v", v, w, err)
		}
		for i := range v {
			if v[i] != w[i] {
				t.Fatalf("re-encoded %v: %v", v, w)
			}
		}
		m, err := counterMerger.Merge(nil, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.MergeNewer(data); err != nil {
			t.Fatal(err)
		}
		sum, _, err := m.Finish(true)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeCounters(sum); err != nil || len(got) != len(v) {
			t.Fatalf("merged %v with itself: %v %v", v, got, err)
		}
	})
}

// TestCheckDuringPuts runs Check while Puts create customers and contacts in new expiry
// buckets (new bucket keys): every check sees a consistent state.
func TestCheckDuringPuts(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	if err := setPolicyErr(s, `{"default":"P1D"}`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := range 60 {
			c := mkContact(fmt.Sprintf("klant-%d", i%17), i)
			c.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i) // a new day (bucket) each
			if _, err := s.Put(ctx, []Contact{c}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		checkConsistent(t, s)
	}
	checkConsistent(t, s)
}

// BenchmarkCheck checks a store of 10,000 contacts of 200 customers, with the records
// opened (full) and without (fast).
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, vfs.NewMem())
	defer s.Close()
	var cs []Contact
	for i := range 10000 {
		cs = append(cs, mkContact(fmt.Sprintf("klant-%d", i%200), i))
	}
	if _, err := s.Put(ctx, cs); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		opts *CheckOptions
	}{{"full", nil}, {"fast", &CheckOptions{}}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rep, err := s.Check(ctx, mode.opts)
				if err != nil || !rep.OK() || rep.Records != int64(len(cs)) {
					b.Fatalf("%+v %v", rep, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(cs)), "ns/record")
		})
	}
}
