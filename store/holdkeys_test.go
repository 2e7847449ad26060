package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/internal/keys"
	"contactstore/internal/record"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The keys of legal holds and of the no-expiry bucket. Each hold has a bucket of its own
// whose key is made when the hold is placed and destroyed when it is released; the no-expiry
// bucket's key (contacts stored before any policy) is destroyed once a policy move has
// emptied it. These tests restore old copies of DIR/pebble/ beside the current vault, crash
// around Hold and Release, change the policy while a customer is held, and look at the raw
// files after a release.

// ---- helpers (prefixed hk: this file's own) ----

// hkHoldKeys lists, sorted, the hold buckets whose keys v holds.
func hkHoldKeys(v *crypto.Vault) []uint32 {
	var out []uint32
	for b := range v.Buckets {
		if keys.IsHold(b) {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return out
}

// hkBucketOf returns the bucket of a customer's active hold (false: not held).
func hkBucketOf(t testing.TB, s *Store, customer string) (uint32, bool) {
	t.Helper()
	e, ok := s.holds.get(keysOf(t, s, customer).ps)
	return e.bucket, ok
}

// hkHasKey reports whether the vault in force holds bucket b's key.
func hkHasKey(s *Store, b uint32) bool {
	_, ok := s.vault.Load().Buckets[b]
	return ok
}

// hkRecords counts a customer's records in Pebble (read through db): in bucket b, or in
// every bucket when b is math.MaxUint64.
func hkRecords(t testing.TB, db *pebble.DB, prefix [keys.PrefixSize]byte, b uint64) int {
	t.Helper()
	if b != math.MaxUint64 {
		lo, hi := keys.RecordRange(uint32(b), prefix, 0, math.MaxUint64)
		return countRange(t, db, lo, hi)
	}
	n := 0
	for _, kv := range rawScan(t, db, keys.KindRecord) {
		if pk, err := keys.ParseRecord(kv.k); err == nil && pk.Prefix == prefix {
			n++
		}
	}
	return n
}

// hkReadVault opens a store's vault file as it is on disk.
func hkReadVault(t testing.TB, fs vfs.FS, dir string) *crypto.Vault {
	t.Helper()
	data, err := readAll(fs, fs.PathJoin(dir, VaultFile))
	if err != nil {
		t.Fatal(err)
	}
	v, err := crypto.OpenVault(context.Background(), data, testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hkBruteForce tries to open every record of a raw Pebble database with every bucket key
// of vault and every data key that vault's shard keys unwrap. It returns, for the records
// whose bucket target accepts, how many there are and how many opened, and for the others
// the same (the control: they must open, or the attempt proves nothing).
func hkBruteForce(t testing.TB, db *pebble.DB, vault *crypto.Vault, target func(bucket uint32) bool) (tgt, tgtOpened, ctl, ctlOpened int) {
	t.Helper()
	var dataKeys []*crypto.CustomerKey
	for _, kv := range rawScan(t, db, keys.KindDataKey) {
		sh, gen, ps, err := keys.ParseDataKey(kv.k)
		if err != nil || int(sh) >= len(vault.Shards) {
			continue
		}
		ck, err := crypto.UnwrapCustomerKey(&vault.Shards[sh].Key, ps, sh, gen, kv.v)
		if err != nil {
			continue
		}
		dataKeys = append(dataKeys, ck)
	}
	if len(dataKeys) == 0 {
		t.Fatal("brute force: no data key opens: the attempt is broken")
	}
	opens := func(kv rawKV, bucket uint32) bool {
		env, err := record.ParseEnvelope(kv.v)
		if err != nil {
			t.Fatal(err)
		}
		for id, bk := range vault.Buckets {
			for _, ck := range dataKeys {
				for _, as := range []uint32{bucket, id} {
					k := crypto.DeriveRecordKey(&bk, &ck.DataKey, as)
					rcph, err := crypto.NewRecordCipher(&k)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := rcph.Open(nil, env.Sealed, recordAAD(kv.k, env.Header)); err == nil {
						return true
					}
				}
			}
		}
		return false
	}
	for _, kv := range rawScan(t, db, keys.KindRecord) {
		pk, err := keys.ParseRecord(kv.k)
		if err != nil {
			t.Fatal(err)
		}
		if target(pk.Bucket) {
			tgt++
			if opens(kv, pk.Bucket) {
				tgtOpened++
			}
		} else {
			ctl++
			if opens(kv, pk.Bucket) {
				ctlOpened++
			}
		}
	}
	return tgt, tgtOpened, ctl, ctlOpened
}

// hkRestore replaces DIR/pebble/ with a copy.
func hkRestore(t testing.TB, storeDir, copyDir string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(storeDir, PebbleDir)); err != nil {
		t.Fatal(err)
	}
	copyTree(t, copyDir, filepath.Join(storeDir, PebbleDir))
}

// ---- 1. old copies and the no-expiry key ----

// TestNoExpiryKeyOldCopy: contacts stored before any policy live in the no-expiry bucket.
// A copy of DIR/pebble/ is taken then; a policy is set (deleting the contacts already past
// their new term, moving the others — the held customer's included — to their days) and
// the no-expiry key is destroyed with the bucket emptied. The copy restored beside the
// current vault opens, and yields no contact past its term: every record of the copy is in
// the no-expiry bucket, whose key no longer exists (so the copy yields none of the others
// either, as after an expiry: TestExpiryOldCopiesAreUseless). A brute force with every key
// of the current vault opens none of the copy's records.
func TestNoExpiryKeyOldCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	t0 := utc(2026, 1, 10, 9, 0, 0)
	clock := &fakeClock{t: t0}
	o := testOptions(t, vfs.Default)
	o.Clock = clock
	o.Shards = 8
	s, err := Open(storeDir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if s.Policy() != nil || !hkHasKey(s, keys.NoExpiry) {
		t.Fatalf("a new store: policy %v, no-expiry key %v; want none and a key", s.Policy(), hkHasKey(s, keys.NoExpiry))
	}
	// Under holdPolicy (chats 30 days, the rest 2 years), as of t0+1h.
	past := map[string][]Contact{}   // past their term then
	within := map[string][]Contact{} // within it
	add := func(m map[string][]Contact, c Contact) { m[c.Customer] = append(m[c.Customer], c) }
	add(past, rc("oud", "m-3j", "", ChannelEmail, t0.AddDate(-3, 0, 0)))
	add(past, rc("oud", "c-60d", "chat", ChannelChat, t0.AddDate(0, 0, -60)))
	add(past, rc("gemengd", "m-3j", "", ChannelEmail, t0.AddDate(-3, 0, 0)))
	add(past, rc("gemengd", "c-40d", "chat", ChannelChat, t0.AddDate(0, 0, -40)))
	add(within, rc("gemengd", "m-10d", "", ChannelEmail, t0.AddDate(0, 0, -10)))
	add(within, rc("gemengd", "c-1d", "chat", ChannelChat, t0.AddDate(0, 0, -1)))
	add(within, rc("nieuw", "m0", "", ChannelEmail, t0.Add(-time.Hour)))
	add(within, rc("nieuw", "c0", "chat", ChannelChat, t0.Add(-time.Hour)))
	// The held customer's: terms that end after the hold (t0) and before the policy (t0+1h).
	add(past, rc("vast", "m-2j", "", ChannelEmail, t0.AddDate(-2, 0, 0).Add(30*time.Minute)))
	add(past, rc("vast", "c-30d", "chat", ChannelChat, t0.AddDate(0, 0, -30).Add(30*time.Minute)))
	add(within, rc("vast", "m-1j", "", ChannelEmail, t0.AddDate(-1, 0, 0)))
	customers := []string{"oud", "gemengd", "nieuw", "vast"}
	var all []Contact
	for _, cu := range customers {
		all = append(all, past[cu]...)
		all = append(all, within[cu]...)
	}
	if res := mustPut(t, s, all...); res.Added != len(all) || res.Expired != 0 {
		t.Fatalf("put without a policy: %+v", res)
	}
	if err := s.Hold(ctx, "vast", "dossier 2026-101"); err != nil {
		t.Fatal(err)
	}
	vastB, _ := hkBucketOf(t, s, "vast")
	for _, cu := range customers {
		wantIDs(t, s, "no policy", cu, idsOf(append(slices.Clone(past[cu]), within[cu]...))...)
	}
	lo, hi := keys.BucketRange(keys.NoExpiry)
	if n := countRange(t, s.db, lo, hi); n != len(all) {
		t.Fatalf("%d records in the no-expiry bucket, want %d", n, len(all))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	oldCopy := filepath.Join(dir, "pebble-before-policy")
	copyTree(t, filepath.Join(storeDir, PebbleDir), oldCopy)

	clock.t = t0.Add(time.Hour)
	if s, err = Open(storeDir, o); err != nil {
		t.Fatal(err)
	}
	ch := setPolicy(t, s, holdPolicy)
	// oud's and gemengd's past ones deleted; the held customer's moved to the hold's bucket;
	// every other contact moved from the no-expiry bucket to its day.
	if ch.Expired != 4 || ch.Moved != 7 || ch.Scanned != int64(len(all)) {
		t.Errorf("policy change %+v: want 4 expired, 7 moved, %d scanned", ch, len(all))
	}
	if hkHasKey(s, keys.NoExpiry) {
		t.Errorf("the no-expiry key is still in the vault after a policy move emptied its bucket")
	}
	if n := countRange(t, s.db, lo, hi); n != 0 {
		t.Errorf("%d records left in the no-expiry bucket after the policy move", n)
	}
	if er, err := s.Expire(ctx, time.Time{}); err != nil {
		t.Fatalf("expire %+v: %v", er, err)
	}
	wantGone(t, s, "after the policy", "oud")
	wantIDs(t, s, "after the policy", "gemengd", idsOf(within["gemengd"])...)
	wantIDs(t, s, "after the policy", "nieuw", idsOf(within["nieuw"])...)
	wantIDs(t, s, "after the policy (held)", "vast", idsOf(append(slices.Clone(past["vast"]), within["vast"]...))...)
	if n := hkRecords(t, s.db, keysOf(t, s, "vast").prefix, uint64(vastB)); n != 2 {
		t.Errorf("the held customer has %d records in the hold's bucket, want its 2 past their term", n)
	}
	checkStatsFresh(t, s, "after the policy", customers)
	if st := stats(t, s); st.Retention.NoExpiry != 0 {
		t.Errorf("stats: %d contacts without a term after the policy move", st.Retention.NoExpiry)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	vaultAfter := hkReadVault(t, vfs.Default, storeDir)
	if _, ok := vaultAfter.Buckets[keys.NoExpiry]; ok {
		t.Fatal("the vault file still holds the no-expiry key")
	}
	liveCopy := filepath.Join(dir, "pebble-after-policy")
	copyTree(t, filepath.Join(storeDir, PebbleDir), liveCopy)

	// The old copy beside the current vault, read as of the same instant.
	hkRestore(t, storeDir, oldCopy)
	if s, err = Open(storeDir, o); err != nil {
		t.Fatalf("a store whose Pebble files predate the policy does not open: %v", err)
	}
	if hkHasKey(s, keys.NoExpiry) {
		t.Error("the old copy: Open brought back a no-expiry key")
	}
	if s.Policy() != nil {
		t.Errorf("the old copy has a policy (%+v)?", s.Policy())
	} else {
		t.Log("the old copy has no retention policy: a restore brings back the policy of the copy's time")
	}
	for _, cu := range customers {
		got, err := collect(t, s, cu, TimeRange{})
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("the old copy: %s: %v", cu, err)
		}
		for _, c := range got {
			for _, p := range past[cu] {
				if p.ID == c.ID && cu != "vast" { // (the hold keeps vast's: their terms ended after it)
					t.Errorf("the old copy: %s's %s, past its term, is readable", cu, c.ID)
				}
			}
		}
		// Every record of the copy was in the no-expiry bucket, whose key is gone.
		if len(got) != 0 {
			t.Errorf("the old copy: %s reads %v; every record of the copy is in the no-expiry bucket", cu, idsOf(got))
		}
	}
	if _, err := s.HoldStatus("vast"); err != nil {
		t.Errorf("the old copy: the hold: %v", err)
	}
	if b, ok := hkBucketOf(t, s, "vast"); !ok || b != vastB || !hkHasKey(s, b) {
		t.Errorf("the old copy: the hold's bucket %d (held %v), want %d with its key", b, ok, vastB)
	}
	if n := countRange(t, s.db, lo, hi); n != 0 {
		t.Errorf("the old copy: %d records of the no-expiry bucket remain after Open", n)
	}
	checkStatsFresh(t, s, "the old copy", customers)
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("the old copy: audit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Brute force: no key of the vault written after the policy move opens a record of the
	// copy; the control — the same vault and the live files — opens every live record.
	attack := filepath.Join(dir, "attack")
	copyTree(t, oldCopy, filepath.Join(attack, PebbleDir))
	db := openRawPebble(t, vfs.Default, attack)
	tgt, tgtOpened, _, _ := hkBruteForce(t, db, vaultAfter, func(b uint32) bool { return b == keys.NoExpiry })
	db.Close()
	control := filepath.Join(dir, "control")
	copyTree(t, liveCopy, filepath.Join(control, PebbleDir))
	db = openRawPebble(t, vfs.Default, control)
	_, _, ctl, ctlOpened := hkBruteForce(t, db, vaultAfter, func(b uint32) bool { return b == keys.NoExpiry })
	db.Close()
	if ctl != 7 || ctlOpened != ctl {
		t.Fatalf("control: %d of %d live records open with the current vault, want 7 of 7: the brute force is broken", ctlOpened, ctl)
	}
	if tgt != len(all) || tgtOpened != 0 {
		t.Errorf("the old copy: %d of its %d no-expiry records open with a key of the current vault (want 0 of %d)", tgtOpened, tgt, len(all))
	}
}

// ---- 2. old copies and a released hold's key ----

// TestHoldKeyOldCopy: a hold keeps three chats past their term (resealed into its bucket
// by Expire); a copy of DIR/pebble/ is taken; Release deletes them and destroys the hold's
// key. The copy restored beside the current vault still holds the hold, active, naming the
// destroyed bucket: Open gives it a new bucket, the chats that only the hold kept are not
// readable (even with a clock before their term), and the renewed hold works — it keeps a
// new contact and can be released.
func TestHoldKeyOldCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	t0 := utc(2026, 1, 10, 9, 0, 0)
	term := t0.AddDate(0, 0, 30)
	clock := &fakeClock{t: t0}
	o := testOptions(t, vfs.Default)
	o.Clock = clock
	o.Shards = 8
	s, err := Open(storeDir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	setPolicy(t, s, holdPolicy)
	var vast []Contact
	for i := range 3 {
		vast = append(vast, rc("vast", fmt.Sprintf("c%d", i), "chat", ChannelChat, t0.Add(time.Duration(i)*time.Minute)))
	}
	vast = append(vast, rc("vast", "m0", "", ChannelEmail, t0))
	ander := []Contact{rc("ander", "c0", "chat", ChannelChat, t0), rc("ander", "m0", "", ChannelEmail, t0)}
	mustPut(t, s, append(slices.Clone(vast), ander...)...)
	holdAt := t0.Add(time.Hour)
	clock.t = holdAt
	if err := s.Hold(ctx, "vast", "dossier 2026-41"); err != nil {
		t.Fatal(err)
	}
	b1, ok := hkBucketOf(t, s, "vast")
	if !ok || !keys.IsHold(b1) || !hkHasKey(s, b1) {
		t.Fatalf("the hold's bucket %d (held %v, key %v)", b1, ok, hkHasKey(s, b1))
	}
	clock.t = dayEnd(term)
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 3 || er.Contacts != 1 {
		t.Fatalf("expire %+v %v: want 3 held, 1 removed", er, err)
	}
	vk := keysOf(t, s, "vast")
	if n := hkRecords(t, s.db, vk.prefix, uint64(b1)); n != 3 {
		t.Fatalf("%d records in the hold's bucket, want 3", n)
	}
	wantIDs(t, s, "held, past term", "vast", "c0", "c1", "c2", "m0")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	oldCopy := filepath.Join(dir, "pebble-before-release")
	copyTree(t, filepath.Join(storeDir, PebbleDir), oldCopy)

	if s, err = Open(storeDir, o); err != nil {
		t.Fatal(err)
	}
	clock.t = dayEnd(term).Add(time.Hour)
	rr, err := s.Release(ctx, "vast")
	if err != nil || rr.Expired != 3 || rr.Resealed != 0 {
		t.Fatalf("release %+v %v: want 3 expired", rr, err)
	}
	if hkHasKey(s, b1) || len(hkHoldKeys(s.vault.Load())) != 0 {
		t.Errorf("after release: hold keys %v in the vault, want none (bucket %d)", hkHoldKeys(s.vault.Load()), b1)
	}
	wantIDs(t, s, "after release", "vast", "m0")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	vaultAfter := hkReadVault(t, vfs.Default, storeDir)

	// The copy, beside the current vault, read with a clock before the chats' term: only the
	// destroyed key can hide them.
	hkRestore(t, storeDir, oldCopy)
	clock.t = holdAt.Add(time.Hour)
	if s, err = Open(storeDir, o); err != nil {
		t.Fatalf("a store whose Pebble files hold a released hold does not open: %v", err)
	}
	info, err := s.HoldStatus("vast")
	if err != nil || !info.Since.Equal(holdAt) || info.Reason != "dossier 2026-41" {
		t.Errorf("the old copy: hold status %+v %v; want the copy's hold, active", info, err)
	}
	b2, ok := hkBucketOf(t, s, "vast")
	switch {
	case !ok:
		t.Error("the old copy: the customer is not held in memory")
	case b2 == b1:
		t.Errorf("the old copy: the hold still names the destroyed bucket %d", b1)
	case !keys.IsHold(b2) || !hkHasKey(s, b2):
		t.Errorf("the old copy: the hold's new bucket %d has no key (hold bucket %v)", b2, keys.IsHold(b2))
	}
	if hk := hkHoldKeys(s.vault.Load()); !slices.Equal(hk, []uint32{b2}) {
		t.Errorf("the old copy: hold keys %v in the vault, want [%d]", hk, b2)
	}
	wantIDs(t, s, "the old copy", "vast", "m0")
	wantIDs(t, s, "the old copy", "ander", "m0")
	if lo, hi := keys.BucketRange(b1); countRange(t, s.db, lo, hi) != 0 {
		t.Errorf("the old copy: records of the destroyed hold bucket remain after Open")
	}
	checkStatsFresh(t, s, "the old copy", []string{"vast", "ander"})
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("the old copy: audit: %v", err)
	}
	// The renewal is durable: a second Open keeps the bucket and makes no other.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(storeDir, o); err != nil {
		t.Fatal(err)
	}
	if b, ok := hkBucketOf(t, s, "vast"); !ok || b != b2 || !slices.Equal(hkHoldKeys(s.vault.Load()), []uint32{b2}) {
		t.Errorf("the old copy reopened: hold bucket %d (held %v), hold keys %v; want %d", b, ok, hkHoldKeys(s.vault.Load()), b2)
	}
	// The renewed hold keeps a contact whose day is destroyed already (in its bucket).
	late := rc("vast", "c9", "chat", ChannelChat, holdAt.Add(30*time.Minute))
	if res := mustPut(t, s, late); res.Added != 1 || res.Expired != 0 {
		t.Errorf("the old copy: put to a held customer %+v", res)
	}
	if n := hkRecords(t, s.db, vk.prefix, uint64(b2)); n != 1 {
		t.Errorf("the old copy: %d records in the new hold bucket, want 1", n)
	}
	wantIDs(t, s, "the old copy, a contact kept", "vast", "c9", "m0")
	if rr, err := s.Release(ctx, "vast"); err != nil || rr.Expired != 1 {
		t.Errorf("the old copy: release %+v %v", rr, err)
	}
	if hk := hkHoldKeys(s.vault.Load()); len(hk) != 0 {
		t.Errorf("the old copy, released: hold keys %v remain", hk)
	}
	wantIDs(t, s, "the old copy, released", "vast", "m0")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Brute force: the chats in the copy's hold bucket open with no key of the vault written
	// by the release; the copy's other records (the mails) do.
	attack := filepath.Join(dir, "attack")
	copyTree(t, oldCopy, filepath.Join(attack, PebbleDir))
	db := openRawPebble(t, vfs.Default, attack)
	defer db.Close()
	tgt, tgtOpened, ctl, ctlOpened := hkBruteForce(t, db, vaultAfter, func(b uint32) bool { return b == b1 })
	if ctl != 2 || ctlOpened != ctl {
		t.Fatalf("control: %d of %d of the copy's mails open, want 2 of 2: the brute force is broken", ctlOpened, ctl)
	}
	if tgt != 3 || tgtOpened != 0 {
		t.Errorf("the old copy: %d of its %d held records open with a key of the current vault (want 0 of 3)", tgtOpened, tgt)
	}
}

// ---- 3 and 4. crashes around Hold and Release ----

// hkCloner collects crash clones: after every durable step the hook sees, and at random
// moments from a goroutine (at most max of those).
type hkCloner struct {
	mem    *vfs.MemFS
	r      *lockedRand
	mu     sync.Mutex
	clones []crashClone
	stop   chan struct{}
	wg     sync.WaitGroup
}

func (c *hkCloner) after(op, path string) {
	if durableStep(op, path) {
		cs := stepClones(c.mem, c.r, fmt.Sprintf("after %s %s", op, path), true)
		c.mu.Lock()
		c.clones = append(c.clones, cs...)
		c.mu.Unlock()
	}
}

func (c *hkCloner) startRandom(max int) {
	c.stop = make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for range max {
			select {
			case <-c.stop:
				return
			default:
			}
			pct := []int{0, 30, 100}[c.r.IntN(3)]
			fs := c.mem.CrashClone(crashCfg(pct, uint64(c.r.IntN(1<<30))))
			c.mu.Lock()
			c.clones = append(c.clones, crashClone{what: fmt.Sprintf("at a random moment (%d%% unsynced)", pct), fs: fs})
			c.mu.Unlock()
			time.Sleep(time.Duration(c.r.IntN(200)) * time.Microsecond)
		}
	}()
}

func (c *hkCloner) stopRandom() {
	close(c.stop)
	c.wg.Wait()
}

// hkCrashStore opens a store on a hooked crashable file system.
func hkCrashStore(t *testing.T, t0 time.Time) (*Store, *fakeClock, *hookFS, *hkCloner) {
	t.Helper()
	mem := vfs.NewCrashableMem()
	c := &hkCloner{mem: mem, r: newLockedRand(crashSeed(t))}
	h := &hookFS{FS: mem, after: c.after}
	o := testOptions(t, h)
	clock := &fakeClock{t: t0}
	o.Clock = clock
	o.Shards = 8
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	return s, clock, h, c
}

// TestCrashDuringHold takes crash clones at every durable step of Hold (the vault write of
// the hold's key, then the hold's commit) and at random moments. Every clone opens to one
// of two states: the customer is held and the vault has its bucket's key, or the customer
// is not held and the vault holds no key for it (a key written before the crash and named
// by no hold is destroyed by Open). Another customer's hold, placed before, is untouched.
func TestCrashDuringHold(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	term := t0.AddDate(0, 0, 30)
	s, clock, h, cl := hkCrashStore(t, t0)
	defer s.Close()
	setPolicy(t, s, holdPolicy)
	ander := []Contact{rc("ander", "c0", "chat", ChannelChat, t0), rc("ander", "c1", "chat", ChannelChat, t0.Add(time.Minute)),
		rc("ander", "m0", "", ChannelEmail, t0)}
	mustPut(t, s, ander...)
	clock.t = t0.Add(time.Hour)
	if err := s.Hold(ctx, "ander", "dossier 1"); err != nil {
		t.Fatal(err)
	}
	clock.t = dayEnd(term)
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 2 {
		t.Fatalf("expire %+v %v", er, err)
	}
	anderB, _ := hkBucketOf(t, s, "ander")
	vast := []Contact{rc("vast", "m0", "", ChannelEmail, t0), rc("vast", "m1", "", ChannelEmail, t0.Add(time.Minute)),
		rc("vast", "c0", "chat", ChannelChat, clock.t.Add(-time.Hour))}
	mustPut(t, s, vast...)
	s.WaitHygiene()
	holdAt := clock.t.Add(time.Hour)
	clock.t = holdAt
	cl.clones = append(cl.clones, crashClone{what: "before Hold", fs: cl.mem.CrashClone(crashCfg(0, 0))})
	h.start()
	cl.startRandom(20)
	err := s.Hold(ctx, "vast", "dossier 2")
	h.stop()
	cl.stopRandom()
	if err != nil {
		t.Fatal(err)
	}
	vastB, _ := hkBucketOf(t, s, "vast")
	if !hkHasKey(s, vastB) || !slices.Equal(hkHoldKeys(s.vault.Load()), sortedU32(anderB, vastB)) {
		t.Fatalf("after Hold: hold keys %v, want %v", hkHoldKeys(s.vault.Load()), sortedU32(anderB, vastB))
	}
	cl.clones = append(cl.clones, crashClone{what: "after Hold returned", fs: cl.mem.CrashClone(crashCfg(0, 0))})
	wantAnder, wantVast := contactsByID(t, ander), contactsByID(t, vast)
	held, notHeld, staleDropped := 0, 0, 0
	for i, c := range cl.clones {
		what := fmt.Sprintf("clone %d %s", i, c.what)
		onDisk := hkReadVault(t, c.fs, "db")
		cs := openClone(t, c.fs, what, func(o *Options) { o.Clock = &fakeClock{t: holdAt} })
		v := cs.vault.Load()
		if b, ok := hkBucketOf(t, cs, "ander"); !ok || b != anderB || !hkHasKey(cs, anderB) {
			t.Errorf("%s: the other hold: bucket %d (held %v), key %v; want %d with its key", what, b, ok, hkHasKey(cs, anderB), anderB)
		}
		info, herr := cs.HoldStatus("vast")
		switch {
		case herr == nil:
			held++
			b, ok := hkBucketOf(t, cs, "vast")
			if !ok || info.Reason != "dossier 2" || !info.Since.Equal(holdAt) {
				t.Errorf("%s: held: status %+v, in memory %v", what, info, ok)
			}
			if !keys.IsHold(b) || !hkHasKey(cs, b) {
				t.Errorf("%s: held, but the vault has no key for the hold's bucket %d", what, b)
			}
			if hk := hkHoldKeys(v); !slices.Equal(hk, sortedU32(anderB, b)) {
				t.Errorf("%s: held: hold keys %v, want %v", what, hk, sortedU32(anderB, b))
			}
		case errors.Is(herr, ErrNotHeld):
			notHeld++
			if _, ok := hkBucketOf(t, cs, "vast"); ok {
				t.Errorf("%s: not held, but held in memory", what)
			}
			if hk := hkHoldKeys(v); !slices.Equal(hk, []uint32{anderB}) {
				t.Errorf("%s: not held: hold keys %v in the vault, want only the other hold's [%d]", what, hk, anderB)
			}
			if len(hkHoldKeys(onDisk)) == 2 {
				staleDropped++ // the hold's key landed, the hold did not: Open dropped the key
			}
		default:
			t.Errorf("%s: hold status: %v", what, herr)
		}
		got, err := collect(t, cs, "vast", TimeRange{})
		if err != nil {
			t.Errorf("%s: vast: %v", what, err)
		}
		sameContacts(t, what+": vast", got, wantVast)
		got, err = collect(t, cs, "ander", TimeRange{})
		if err != nil {
			t.Errorf("%s: ander: %v", what, err)
		}
		sameContacts(t, what+": ander", got, wantAnder)
		checkStatsFresh(t, cs, what, []string{"vast", "ander"})
		if _, err := cs.VerifyAudit(ctx); err != nil {
			t.Errorf("%s: audit: %v", what, err)
		}
		// The hold can be placed on the clone (again: it replaces the reason).
		if err := cs.Hold(ctx, "vast", "dossier 2"); err != nil {
			t.Errorf("%s: hold on the clone: %v", what, err)
		} else if b, ok := hkBucketOf(t, cs, "vast"); !ok || !hkHasKey(cs, b) || len(hkHoldKeys(cs.vault.Load())) != 2 {
			t.Errorf("%s: hold on the clone: bucket %d key %v, hold keys %v", what, b, hkHasKey(cs, b), hkHoldKeys(cs.vault.Load()))
		}
		if err := cs.Close(); err != nil {
			t.Errorf("%s: close: %v", what, err)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d clones: %d held, %d not held (%d with a hold key the crash left, dropped by Open)", len(cl.clones), held, notHeld, staleDropped)
	if held == 0 || notHeld == 0 || staleDropped == 0 {
		t.Errorf("the crash points did not cover Hold: %d held, %d not held, %d with a stale key", held, notHeld, staleDropped)
	}
}

func sortedU32(v ...uint32) []uint32 {
	slices.Sort(v)
	return v
}

// TestCrashDuringRelease takes crash clones at every durable step of a Release that owes
// no erasure, and at random moments. The held customer has two chats in the hold's bucket
// — one past its term, one that a lengthened policy put back within it — and two mails in
// their day. Every clone, opened with a clock before every term (so that only destroyed
// keys and deletions hide anything), is either still held with all four contacts, or
// released: the hold's key is gone, the chat and mails within their term are readable, the
// chat past its term is gone from Pebble. Releases a crash interrupted are finished by
// Open; another customer's hold is untouched.
func TestCrashDuringRelease(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	s, clock, h, cl := hkCrashStore(t, t0)
	defer s.Close()
	setPolicy(t, s, holdPolicy)
	vast := []Contact{
		rc("vast", "c-oud", "chat", ChannelChat, t0.AddDate(0, 0, -10)), // term t0+20d; t0+25d under the new policy
		rc("vast", "c-nu", "chat", ChannelChat, t0),                     // term t0+30d; t0+35d under the new policy
		rc("vast", "m0", "", ChannelEmail, t0), rc("vast", "m1", "", ChannelEmail, t0.Add(time.Minute)),
	}
	ander := []Contact{rc("ander", "c0", "chat", ChannelChat, t0), rc("ander", "m0", "", ChannelEmail, t0)}
	vrij := []Contact{rc("vrij", "m0", "", ChannelEmail, t0)}
	mustPut(t, s, append(append(slices.Clone(vast), ander...), vrij...)...)
	holdAt := t0.Add(time.Hour)
	clock.t = holdAt
	for _, cu := range []string{"vast", "ander"} {
		if err := s.Hold(ctx, cu, "dossier "+cu); err != nil {
			t.Fatal(err)
		}
	}
	clock.t = dayEnd(t0.AddDate(0, 0, 30))
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 3 {
		t.Fatalf("expire %+v %v", er, err)
	}
	if ch := setPolicy(t, s, `{"default":"P2Y","rules":[{"category":"chat","retention":"P35D"}]}`); ch.Moved != 0 || ch.Expired != 0 {
		t.Errorf("policy change %+v: nothing to move (the chats are in the hold buckets)", ch)
	}
	vastB, _ := hkBucketOf(t, s, "vast")
	anderB, _ := hkBucketOf(t, s, "ander")
	vk := keysOf(t, s, "vast")
	if n := hkRecords(t, s.db, vk.prefix, uint64(vastB)); n != 2 {
		t.Fatalf("%d records in the hold's bucket, want 2", n)
	}
	s.WaitHygiene()
	clock.t = clock.t.Add(time.Hour)
	cl.clones = append(cl.clones, crashClone{what: "before Release", fs: cl.mem.CrashClone(crashCfg(0, 0))})
	h.start()
	cl.startRandom(20)
	rr, err := s.Release(ctx, "vast")
	if err == nil {
		s.WaitHygiene()
	}
	h.stop()
	cl.stopRandom()
	if err != nil || rr.Resealed != 1 || rr.Expired != 1 || rr.Receipt != nil {
		t.Fatalf("release %+v %v: want 1 resealed, 1 expired", rr, err)
	}
	if hkHasKey(s, vastB) || !slices.Equal(hkHoldKeys(s.vault.Load()), []uint32{anderB}) {
		t.Fatalf("after Release: hold keys %v, want only the other hold's [%d]", hkHoldKeys(s.vault.Load()), anderB)
	}
	wantIDs(t, s, "after Release", "vast", "c-nu", "m0", "m1")
	cl.clones = append(cl.clones, crashClone{what: "after Release returned", fs: cl.mem.CrashClone(crashCfg(0, 0))})

	wantHeld := contactsByID(t, vast)
	wantReleased := contactsByID(t, vast[1:])
	early := holdAt.Add(time.Hour) // before every term: only destroyed keys and deletions hide
	held, released, finishedByOpen := 0, 0, 0
	for i, c := range cl.clones {
		what := fmt.Sprintf("clone %d %s", i, c.what)
		var logs syncBuffer
		cs := openClone(t, c.fs, what, func(o *Options) {
			o.Clock = &fakeClock{t: early}
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		if strings.Contains(logs.String(), "finishing a legal hold's release interrupted by a crash") {
			finishedByOpen++
		}
		if b, ok := hkBucketOf(t, cs, "ander"); !ok || b != anderB || !hkHasKey(cs, anderB) {
			t.Errorf("%s: the other hold: bucket %d (held %v), key %v; want %d with its key", what, b, ok, hkHasKey(cs, anderB), anderB)
		}
		got, err := collect(t, cs, "ander", TimeRange{})
		if err != nil {
			t.Errorf("%s: ander: %v", what, err)
		}
		sameContacts(t, what+": ander", got, contactsByID(t, ander))
		got, err = collect(t, cs, "vrij", TimeRange{})
		if err != nil {
			t.Errorf("%s: vrij: %v", what, err)
		}
		sameContacts(t, what+": vrij", got, contactsByID(t, vrij))
		got, err = collect(t, cs, "vast", TimeRange{})
		if err != nil {
			t.Errorf("%s: vast: %v", what, err)
		}
		_, herr := cs.HoldStatus("vast")
		switch {
		case herr == nil:
			held++
			sameContacts(t, what+": vast (held)", got, wantHeld)
			if b, ok := hkBucketOf(t, cs, "vast"); !ok || b != vastB || !hkHasKey(cs, vastB) {
				t.Errorf("%s: held: bucket %d (in memory %v), key %v; want %d with its key", what, b, ok, hkHasKey(cs, vastB), vastB)
			}
		case errors.Is(herr, ErrNotHeld):
			released++
			sameContacts(t, what+": vast (released)", got, wantReleased)
			if hk := hkHoldKeys(cs.vault.Load()); !slices.Equal(hk, []uint32{anderB}) {
				t.Errorf("%s: released: hold keys %v in the vault, want only the other hold's [%d]", what, hk, anderB)
			}
			if n := hkRecords(t, cs.db, vk.prefix, uint64(vastB)); n != 0 {
				t.Errorf("%s: released: %d records left in the hold's bucket", what, n)
			}
			if n := hkRecords(t, cs.db, vk.prefix, math.MaxUint64); n != 3 {
				t.Errorf("%s: released: the customer has %d records in Pebble, want 3 (the chat past its term deleted)", what, n)
			}
		default:
			t.Errorf("%s: hold status: %v", what, herr)
		}
		checkStatsFresh(t, cs, what, []string{"vast", "ander", "vrij"})
		if _, err := cs.VerifyAudit(ctx); err != nil {
			t.Errorf("%s: audit: %v", what, err)
		}
		// A clone still held releases to the same state.
		if herr == nil {
			if rr, err := cs.Release(ctx, "vast"); err != nil || rr.Resealed != 1 || rr.Expired != 1 {
				t.Errorf("%s: release on the clone %+v %v", what, rr, err)
			}
			wantIDs(t, cs, what+": released on the clone", "vast", "c-nu", "m0", "m1")
			if hk := hkHoldKeys(cs.vault.Load()); !slices.Equal(hk, []uint32{anderB}) {
				t.Errorf("%s: released on the clone: hold keys %v", what, hk)
			}
		}
		if err := cs.Close(); err != nil {
			t.Errorf("%s: close: %v", what, err)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d clones: %d held, %d released (%d finished by Open)", len(cl.clones), held, released, finishedByOpen)
	if held == 0 || released == 0 || finishedByOpen == 0 {
		t.Errorf("the crash points did not cover Release: %d held, %d released, %d finished by Open", held, released, finishedByOpen)
	}
}

// ---- 5. a policy change during a hold ----

// TestPolicyChangeDuringHold: a policy that shortens terms while a customer is held deletes
// the other customers' contacts past the new term at once, and moves the held customer's to
// the hold's bucket: they stay readable through Expire and a reopen, and Release deletes
// them.
func TestPolicyChangeDuringHold(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	const v1 = `{"default":"P2Y","rules":[{"category":"chat","retention":"P90D"},{"category":"order","retention":"P7Y"}]}`
	const v2 = `{"default":"P30D","rules":[{"category":"chat","retention":"P60D"},{"category":"order","retention":"P7Y"}]}`
	holdAt, changeAt := t0.Add(time.Hour), t0.Add(day)
	// Terms under v1 / v2, with the hold at t0+1h and the change at t0+1d:
	contacts := func(cu string) []Contact {
		return []Contact{
			// v2's term ends after the hold and before the change.
			rc(cu, "mid", "", ChannelEmail, t0.AddDate(0, 0, -30).Add(12*time.Hour)),
			// v2's term ends after the change.
			rc(cu, "nu", "", ChannelEmail, t0),
			// P7Y under both.
			rc(cu, "order", "order", ChannelEmail, t0),
		}
	}
	fs := vfs.NewMem()
	s, clock := openRet(t, fs, t0, v1)
	defer func() { s.Close() }()
	mustPut(t, s, append(contacts("vast"), contacts("vrij")...)...)
	clock.t = holdAt
	if err := s.Hold(ctx, "vast", "dossier 2026-55"); err != nil {
		t.Fatal(err)
	}
	vastB, _ := hkBucketOf(t, s, "vast")
	vk := keysOf(t, s, "vast")
	wantIDs(t, s, "held, before the change", "vast", "mid", "nu", "order")
	clock.t = changeAt
	ch := setPolicy(t, s, v2)
	// vrij: mid deleted, nu moved; vast: mid to the hold's bucket, nu moved; order stays on
	// its day for both.
	if ch.Expired != 1 || ch.Moved != 3 {
		t.Errorf("policy change %+v: want 1 expired, 3 moved", ch)
	}
	if n := hkRecords(t, s.db, vk.prefix, uint64(vastB)); n != 1 {
		t.Errorf("%d of the held customer's records in the hold's bucket after the change, want 1 (mid)", n)
	}
	wantIDs(t, s, "after the change", "vast", "mid", "nu", "order")
	wantIDs(t, s, "after the change", "vrij", "nu", "order")
	checkStatsFresh(t, s, "after the change", []string{"vast", "vrij"})
	// Past nu's new term, and its day destroyed: the hold keeps it.
	clock.t = dayEnd(t0.AddDate(0, 0, 30)).Add(time.Hour)
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 1 {
		t.Errorf("expire %+v %v: want nu held", er, err)
	}
	wantIDs(t, s, "after Expire", "vast", "mid", "nu", "order")
	wantIDs(t, s, "after Expire", "vrij", "order")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, fs)
	o.Clock = clock
	var err error
	if s, err = Open("db", o); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, s, "after a reopen", "vast", "mid", "nu", "order")
	checkStatsFresh(t, s, "after a reopen", []string{"vast", "vrij"})
	rr, err := s.Release(ctx, "vast")
	if err != nil || rr.Expired != 2 || rr.Resealed != 0 {
		t.Errorf("release %+v %v: want mid and nu deleted", rr, err)
	}
	wantIDs(t, s, "after Release", "vast", "order")
	if n := hkRecords(t, s.db, vk.prefix, math.MaxUint64); n != 1 {
		t.Errorf("after Release the customer has %d records in Pebble, want 1 (order)", n)
	}
	if hkHasKey(s, vastB) {
		t.Error("after Release the hold's key is still in the vault")
	}
	checkStatsFresh(t, s, "after Release", []string{"vast", "vrij"})
}

// TestPolicyChangeDuringHoldKeepsEarlierTerms: the brief says a hold keeps everything
// through a policy change. A contact within its term when the hold was placed, which the
// new policy puts past a term that ended *before* the hold was placed, is moved to the
// hold's bucket by the policy change — and must stay readable until the release.
func TestPolicyChangeDuringHoldKeepsEarlierTerms(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	const v1 = `{"default":"P2Y","rules":[{"category":"chat","retention":"P90D"}]}`
	const v2 = `{"default":"P30D","rules":[{"category":"chat","retention":"P60D"}]}`
	s, clock := openRet(t, vfs.NewMem(), t0, v1)
	defer s.Close()
	cs := []Contact{
		rc("vast", "oud", "", ChannelEmail, t0.AddDate(0, 0, -100)),    // v1 t0+630d; v2 t0-70d
		rc("vast", "chat", "chat", ChannelChat, t0.AddDate(0, 0, -80)), // v1 t0+10d;  v2 t0-20d
		rc("vast", "nu", "", ChannelEmail, t0),                         // v2 t0+30d
		rc("vrij", "oud", "", ChannelEmail, t0.AddDate(0, 0, -100)),    // (not held)
		rc("vrij", "chat", "chat", ChannelChat, t0.AddDate(0, 0, -80)), //
		rc("vrij", "nu", "", ChannelEmail, t0),                         //
	}
	mustPut(t, s, cs...)
	clock.t = t0.Add(time.Hour)
	if err := s.Hold(ctx, "vast", "dossier 2026-56"); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, s, "held", "vast", "oud", "chat", "nu")
	clock.t = t0.Add(day)
	if ch := setPolicy(t, s, v2); ch.Expired != 2 {
		t.Errorf("policy change %+v: want vrij's 2 deleted", ch)
	}
	vastB, _ := hkBucketOf(t, s, "vast")
	if n := hkRecords(t, s.db, keysOf(t, s, "vast").prefix, uint64(vastB)); n != 2 {
		t.Fatalf("%d records in the hold's bucket after the change, want oud and chat", n)
	}
	got, err := readIDs(t, s, "vast")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"chat", "nu", "oud"}) {
		t.Fatal("a policy change during a hold moves contacts whose new term ended before the hold was placed into the hold's bucket, but reads hide them (read.go checks keeps(hold.since, exp)); the held customer reads " + fmt.Sprint(got) + ", want [chat nu oud]")
	}
	checkStatsFresh(t, s, "after the change", []string{"vast", "vrij"})
	if rr, err := s.Release(ctx, "vast"); err != nil || rr.Expired != 2 {
		t.Errorf("release %+v %v: want oud and chat deleted", rr, err)
	}
	wantIDs(t, s, "after Release", "vast", "nu")
}

// TestPolicyChangeDuringHoldDropsExpired: a contact whose term ended before the hold was
// placed is not kept by the hold (reads hide it; Expire would destroy it with its day). A
// policy change during the hold must delete it, as it does for a customer not held — not
// move it into the hold's bucket, where it would stay stored, unreadable, until the release.
func TestPolicyChangeDuringHoldDropsExpired(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	const v1 = `{"default":"P2Y","rules":[{"category":"chat","retention":"P90D"}]}`
	const v2 = `{"default":"P2Y","rules":[{"category":"chat","retention":"P60D"}]}`
	s, clock := openRet(t, vfs.NewMem(), t0, v1)
	defer s.Close()
	for _, cu := range []string{"vast", "vrij"} {
		// Its term ends at t0+30m, before the hold (t0+1h); its day is not destroyed yet.
		mustPut(t, s, rc(cu, "verlopen", "chat", ChannelChat, t0.AddDate(0, 0, -90).Add(30*time.Minute)),
			rc(cu, "nu", "", ChannelEmail, t0))
	}
	clock.t = t0.Add(time.Hour)
	if err := s.Hold(ctx, "vast", "dossier 2026-57"); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, s, "held", "vast", "nu")
	clock.t = t0.Add(2 * time.Hour)
	ch := setPolicy(t, s, v2)
	wantIDs(t, s, "after the change", "vast", "nu") // never revived
	vk := keysOf(t, s, "vast")
	vastB, _ := hkBucketOf(t, s, "vast")
	inHold := hkRecords(t, s.db, vk.prefix, uint64(vastB))
	if ch.Expired != 2 || inHold != 0 {
		t.Fatal(fmt.Sprintf("a policy change during a hold moved a contact whose term had ended before the hold "+
			"into the hold's bucket (%d record(s) there; change %+v, want 2 expired): migrate.go sets hold.since to zero, "+
			"so placement keeps every past-term contact of a held customer; it stays stored until the release "+
			"and Stats counts it while reads hide it", inHold, ch))
	}
	if n := hkRecords(t, s.db, vk.prefix, math.MaxUint64); n != 1 {
		t.Errorf("the held customer has %d records, want 1", n)
	}
	checkStatsFresh(t, s, "after the change", []string{"vast", "vrij"})
}

// TestOldCopyBeforePolicyTakesWrites: a copy of DIR/pebble/ taken before the first policy,
// restored beside a vault whose no-expiry key is destroyed, has no policy (the policy lives
// in Pebble). Open must then either refuse the copy with a clear error, or give a store
// that takes writes.
func TestOldCopyBeforePolicyTakesWrites(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	fs := vfs.NewMem()
	s, clock := openRet(t, fs, t0, "")
	mustPut(t, s, rc("klant", "m0", "", ChannelEmail, t0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	old := snapshotTree(t, fs, "db/"+PebbleDir)
	o := testOptions(t, fs)
	o.Clock = clock
	var err error
	if s, err = Open("db", o); err != nil {
		t.Fatal(err)
	}
	setPolicy(t, s, holdPolicy)
	if hkHasKey(s, keys.NoExpiry) {
		t.Fatal("the no-expiry key outlived the policy move")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	hkMemRestore(t, fs, "db/"+PebbleDir, old)
	if s, err = Open("db", o); err != nil {
		t.Logf("the old copy is refused: %v", err)
		return
	}
	defer s.Close()
	_, err = s.Put(ctx, []Contact{rc("klant", "m1", "", ChannelEmail, clock.t)})
	if err != nil {
		t.Fatal(fmt.Sprintf("a copy of %s/ from before the first policy, restored beside the current vault, opens "+
			"with no policy and no no-expiry key, and every Put fails: %v (ingest.go assumes the no-expiry key "+
			"exists when no policy is set; the policy itself lives only in Pebble, so a restore reverts it)", PebbleDir, err))
	}
	wantIDs(t, s, "a write to the old copy", "klant", "m1")
}

// hkMemRestore replaces dir on fs with a snapshotTree of it.
func hkMemRestore(t testing.TB, fs vfs.FS, dir string, tree map[string][]byte) {
	t.Helper()
	if err := fs.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	slices.Sort(paths) // a directory before what it holds
	for _, p := range paths {
		if strings.HasSuffix(p, "/") {
			if err := fs.MkdirAll(fs.PathJoin(dir, strings.TrimSuffix(p, "/")), 0o700); err != nil {
				t.Fatal(err)
			}
			continue
		}
		writeAll(t, fs, fs.PathJoin(dir, p), tree[p])
	}
}

// ---- 6. raw files after a release ----

// TestReleaseLeavesNoHoldRecords: after Release, WaitHygiene and a full compaction, no key
// in Pebble names the released hold's bucket, and no file of the store holds the sealed
// bytes of the records that were in it. A hold that stays is the control: its records are
// found by the same scans.
func TestReleaseLeavesNoHoldRecords(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	fs := vfs.NewMem()
	s, clock := openRet(t, fs, t0, holdPolicy)
	defer func() { s.Close() }()
	var cs []Contact
	for _, cu := range []string{"vast", "blijft"} {
		for i := range 20 {
			cs = append(cs, rc(cu, fmt.Sprintf("c%d", i), "chat", ChannelChat, t0.Add(time.Duration(i)*time.Minute)))
		}
		cs = append(cs, rc(cu, "m0", "", ChannelEmail, t0))
	}
	mustPut(t, s, cs...)
	clock.t = t0.Add(time.Hour)
	for _, cu := range []string{"vast", "blijft"} {
		if err := s.Hold(ctx, cu, "dossier "+cu); err != nil {
			t.Fatal(err)
		}
	}
	clock.t = dayEnd(t0.AddDate(0, 0, 30))
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 40 {
		t.Fatalf("expire %+v %v", er, err)
	}
	vastB, _ := hkBucketOf(t, s, "vast")
	blijftB, _ := hkBucketOf(t, s, "blijft")
	sealedOf := func(b uint32) [][]byte {
		var out [][]byte
		lo, hi := keys.BucketRange(b)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			t.Fatal(err)
		}
		for it.First(); it.Valid(); it.Next() {
			v := it.Value()
			out = append(out, bytes.Clone(v[len(v)-24:]))
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	gone, kept := sealedOf(vastB), sealedOf(blijftB)
	if len(gone) != 20 || len(kept) != 20 {
		t.Fatalf("%d and %d records in the hold buckets, want 20 and 20", len(gone), len(kept))
	}
	s.WaitHygiene()                   // the expiry's clean-up, so that it does not compact what Release leaves
	if err := s.Flush(); err != nil { // the held records in a table, not only in the WAL
		t.Fatal(err)
	}
	hits := func(needles [][]byte) (n int) {
		tree := snapshotTree(t, fs, "db")
		for _, nd := range needles {
			for _, data := range tree {
				if bytes.Contains(data, nd) {
					n++
					break
				}
			}
		}
		return n
	}
	// The files are read with the store closed (Pebble deletes obsolete files meanwhile).
	o := testOptions(t, fs)
	o.Clock = clock
	reopen := func() {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var err error
		if s, err = Open("db", o); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := hits(gone); n != len(gone) {
		t.Fatalf("before Release: %d of %d sealed values of the held records found: the probe is broken", n, len(gone))
	}
	reopen()
	clock.t = clock.t.Add(time.Hour)
	rr, err := s.Release(ctx, "vast")
	if err != nil || rr.Expired != 20 {
		t.Fatalf("release %+v %v", rr, err)
	}
	if hkHasKey(s, vastB) || !hkHasKey(s, blijftB) {
		t.Errorf("after Release: hold keys %v; want the released one (%d) gone, the other kept", hkHoldKeys(s.vault.Load()), vastB)
	}
	s.WaitHygiene()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Measured, not asserted: Release deletes records one by one and compacts nothing.
	t.Logf("sealed values of the released hold's records in the files after Release and WaitHygiene: %d of %d", hits(gone), len(gone))
	if s, err = Open("db", o); err != nil {
		t.Fatal(err)
	}
	if hkHasKey(s, vastB) || !hkHasKey(s, blijftB) {
		t.Errorf("hold keys %v: want the released one gone, the other kept", hkHoldKeys(s.vault.Load()))
	}
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := hits(gone); n != 0 {
		t.Errorf("%d sealed values of the released hold's records remain in the store's files after a full compaction", n)
	}
	if n := hits(kept); n != len(kept) {
		t.Fatalf("control: %d of %d sealed values of the hold that stays found: the probe is broken", n, len(kept))
	}
	db := openRawPebble(t, fs, "db")
	defer db.Close()
	names := func(b uint32) (recs, entries, members, counters int) {
		for _, kv := range rawScan(t, db, keys.KindRecord) {
			if pk, err := keys.ParseRecord(kv.k); err == nil && pk.Bucket == b {
				recs++
			}
		}
		for _, kv := range rawScan(t, db, keys.KindExpiry) {
			if len(kv.k) >= 5 && beU32(kv.k[1:5]) == b {
				entries++
			}
		}
		for _, kv := range rawScan(t, db, keys.KindBucket) {
			if len(kv.k) == 1+keys.PrefixSize+4 && beU32(kv.k[1+keys.PrefixSize:]) == b {
				members++
			}
		}
		if _, closer, err := db.Get(bucketCountKey(b)); err == nil {
			closer.Close()
			counters++
		}
		return
	}
	if r, e, m, c := names(vastB); r+e+m+c != 0 {
		t.Errorf("Pebble still names the released hold's bucket: %d records, %d bucket entries, %d memberships, %d counters", r, e, m, c)
	}
	if r, e, m, _ := names(blijftB); r != 20 || e != 1 || m != 1 {
		t.Errorf("control: the hold that stays has %d records, %d entries, %d memberships; want 20, 1, 1", r, e, m)
	}
}
