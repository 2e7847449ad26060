package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"
	"contactstore/internal/ledger"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// isGone reports whether err is what reading an erased or unknown customer gives.
func isGone(err error) bool { return errors.Is(err, ErrErased) || errors.Is(err, ErrNotFound) }

// sameShardCustomers returns n customer ids (named prefix-i) in the shard of customer, and
// n in other shards.
func sameShardCustomers(s *Store, customer, prefix string, n int) (same, other []string) {
	shards := len(s.vault.Load().Shards)
	want := crypto.ShardOf(s.pseudonym(customer), shards)
	for i := 0; len(same) < n || len(other) < n; i++ {
		c := fmt.Sprintf("%s-%03d", prefix, i)
		if crypto.ShardOf(s.pseudonym(c), shards) == want {
			if len(same) < n {
				same = append(same, c)
			}
		} else if len(other) < n {
			other = append(other, c)
		}
	}
	return same, other
}

// TestEraseManyConcurrentRequests erases far more customers at once than the erasure queue
// holds. It used to deadlock: callers waited for room in the queue while holding the gate
// that the eraser needs before it takes the next requests.
func TestEraseManyConcurrentRequests(t *testing.T) {
	s := openTest(t, vfs.NewMem())
	ctx := context.Background()
	const n = 300
	var cs []Contact
	for i := range n {
		cs = append(cs, mkContact(fmt.Sprintf("m%03d", i), i))
	}
	cs = append(cs, mkContact("blijft", 1))
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	gen := s.vault.Load().Generation
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := s.Erase(ctx, fmt.Sprintf("m%03d", i), "")
			if err == nil {
				err = rc.Verify(s.PublicKey())
			}
			errs <- err
		}()
	}
	// Puts go on meanwhile.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			if _, err := s.Put(ctx, []Contact{mkContact("blijft", 100+i)}); err != nil {
				errs <- err
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatal("concurrent erasures hang")
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	defer s.Close()
	if st := stats(t, s); st.Customers != 1 || st.Contacts != 21 {
		t.Fatalf("stats after erasing %d customers: %d customers, %d contacts", n, st.Customers, st.Contacts)
	}
	if g := s.vault.Load().Generation; g-gen >= n {
		t.Errorf("%d vault generations for %d erasures: not batched", g-gen, n)
	}
}

// TestEraseHundredThousandContacts erases one customer with 100,000 contacts: every record
// and locator goes, the receipt counts them, and the other customers — in the same shard
// and elsewhere — keep theirs.
func TestEraseHundredThousandContacts(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	opts := testOptions(t, vfs.NewMem())
	opts.NoSync = true
	opts.Compression = "none"
	opts.Shards = 8
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const big = 100000
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]Contact, 0, 10000)
	for i := range big {
		batch = append(batch, Contact{ID: fmt.Sprint(i), Customer: "groot", Time: base.Add(time.Duration(i) * time.Second), Body: "b"})
		if len(batch) == cap(batch) {
			if _, err := s.Put(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	same, other := sameShardCustomers(s, "groot", "klein", 3)
	var small []Contact
	for _, c := range append(slices.Clone(same), other...) {
		for i := range 5 {
			small = append(small, mkContact(c, i))
		}
	}
	if _, err := s.Put(ctx, small); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Erase(ctx, "groot", "test")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Destroyed.Records != big || rc.Destroyed.DataKeys != 1 {
		t.Errorf("receipt: %+v", rc.Destroyed)
	}
	if err := rc.Verify(s.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, s, "groot", TimeRange{}); !errors.Is(err, ErrErased) {
		t.Fatalf("read of the erased customer: %v", err)
	}
	for _, c := range append(slices.Clone(same), other...) {
		if got, err := collect(t, s, c, TimeRange{}); err != nil || len(got) != 5 {
			t.Fatalf("%s: %d contacts, %v", c, len(got), err)
		}
	}
	if st := stats(t, s); st.Contacts != int64(len(small)) || st.Customers != 6 {
		t.Errorf("stats: %d contacts, %d customers", st.Contacts, st.Customers)
	}
	s.WaitHygiene()
	// Not a record, locator or membership of the erased customer is left in the live key
	// space: every one of those left belongs to a customer whose key opens.
	live := map[[keys.PrefixSize]byte]bool{}
	for _, c := range append(slices.Clone(same), other...) {
		cu, err := s.lookupCustomer(c, false)
		if err != nil {
			t.Fatal(err)
		}
		live[cu.key.Prefix] = true
	}
	for _, kind := range []byte{keys.KindRecord, keys.KindLocator, keys.KindBucket} {
		n := 0
		lo, hi := keys.Kind(kind)
		it, _ := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		for it.First(); it.Valid(); it.Next() {
			var p [keys.PrefixSize]byte
			switch kind {
			case keys.KindRecord:
				r, _ := keys.ParseRecord(it.Key())
				p = r.Prefix
			default:
				copy(p[:], it.Key()[1:])
			}
			if !live[p] {
				n++
			}
		}
		it.Close()
		if n != 0 {
			t.Errorf("%d keys of kind %c of the erased customer remain", n, kind)
		}
	}
}

// TestEraseRacingIngestAndReads erases a customer again and again while contacts for that
// customer and for others (some in the same shard) are being ingested and read. Reads of
// the erased customer give contacts, ErrErased or ErrNotFound and nothing else; the others
// are never disturbed; a contact put for the customer after an erasure belongs to a new
// relationship and survives a reopen; the counters agree with what is readable.
func TestEraseRacingIngestAndReads(t *testing.T) {
	fs := vfs.NewMem()
	opts := testOptions(t, fs)
	opts.Shards = 4
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const victim = "wis-mij"
	same, other := sameShardCustomers(s, victim, "ander", 4)
	others := append(slices.Clone(same), other...)

	var mu sync.Mutex
	acked := map[string]map[string]bool{} // customer → acknowledged ids
	ack := func(cs []Contact) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			if acked[c.Customer] == nil {
				acked[c.Customer] = map[string]bool{}
			}
			acked[c.Customer][c.ID] = true
		}
	}
	snapshot := func(cu string) map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]bool{}
		for id := range acked[cu] {
			out[id] = true
		}
		return out
	}
	// Histories long enough that a read takes several chunks.
	var initial []Contact
	for i := range 2 * readChunk {
		c := mkContact(victim, i)
		c.ID = fmt.Sprintf("v-start-%d", i)
		initial = append(initial, c)
	}
	for _, cu := range others {
		for i := range 40 {
			initial = append(initial, mkContact(cu, i))
		}
	}
	if _, err := s.Put(ctx, initial); err != nil {
		t.Fatal(err)
	}
	ack(initial[2*readChunk:])

	// epoch counts completed erasures of the victim; a victim Put records the epoch it
	// started in.
	var epoch atomic.Int64
	type victimPut struct {
		ids   []string
		epoch int64
	}
	var vmu sync.Mutex
	var vputs []victimPut
	errc := make(chan error, 64)
	var wg sync.WaitGroup
	var stop atomic.Bool
	var victimPuts atomic.Int64

	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				var cs []Contact
				for j := range 3 {
					c := mkContact(others[(i*3+j+w)%len(others)], 1000+i)
					c.ID = fmt.Sprintf("w%d-%d-%d", w, i, j)
					cs = append(cs, c)
				}
				if _, err := s.Put(ctx, cs); err != nil {
					errc <- fmt.Errorf("put for others: %w", err)
					return
				}
				ack(cs)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 60 {
			cs := []Contact{mkContact(victim, 2000+i), mkContact(victim, 3000+i)}
			cs[0].ID, cs[1].ID = fmt.Sprintf("v-%d-a", i), fmt.Sprintf("v-%d-b", i)
			e := epoch.Load()
			if _, err := s.Put(ctx, cs); err != nil {
				errc <- fmt.Errorf("put for the victim: %w", err)
				return
			}
			vmu.Lock()
			vputs = append(vputs, victimPut{ids: []string{cs[0].ID, cs[1].ID}, epoch: e})
			vmu.Unlock()
			victimPuts.Add(1)
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				cu := victim
				if (i+r)%3 != 0 {
					cu = others[(i*5+r)%len(others)]
				}
				want := snapshot(cu)
				seen := map[string]bool{}
				var err error
				for c, e := range s.Contacts(ctx, cu, TimeRange{}) {
					if e != nil {
						err = e
						break
					}
					if c.Customer != cu || seen[c.ID] {
						errc <- fmt.Errorf("reading %s: a contact of %s, or one read twice", cu, c.Customer)
						return
					}
					seen[c.ID] = true
				}
				if cu == victim {
					if err != nil && !isGone(err) {
						errc <- fmt.Errorf("reading the customer being erased: %w", err)
						return
					}
					continue
				}
				if err != nil {
					errc <- fmt.Errorf("reading %s: %w", cu, err)
					return
				}
				for id := range want {
					if !seen[id] {
						errc <- fmt.Errorf("reading %s: acknowledged contact %s missing", cu, id)
						return
					}
				}
			}
		}()
	}
	// The eraser: erase the victim whenever a few more of its contacts have come in; erase
	// short-lived customers of the same shard along with it, so that erasures batch.
	var ewg sync.WaitGroup
	ewg.Add(1)
	go func() {
		defer ewg.Done()
		for round := 0; round < 8; round++ {
			for victimPuts.Load() < int64(round*7) && !stop.Load() {
				time.Sleep(100 * time.Microsecond)
			}
			tmp := fmt.Sprintf("kort-%d", round)
			if _, err := s.Put(ctx, []Contact{mkContact(tmp, 1)}); err != nil {
				errc <- err
				return
			}
			var inner sync.WaitGroup
			inner.Add(1)
			go func() {
				defer inner.Done()
				if _, err := s.Erase(ctx, tmp, ""); err != nil {
					errc <- fmt.Errorf("erasing %s: %w", tmp, err)
				}
			}()
			rc, err := s.Erase(ctx, victim, fmt.Sprintf("round %d", round))
			inner.Wait()
			switch {
			case err == nil:
				if verr := s.VerifyErasure(ctx, rc); verr != nil {
					errc <- fmt.Errorf("round %d: the receipt does not verify: %w", round, verr)
					return
				}
				epoch.Add(1)
			case isGone(err):
				// Nothing of the victim was there: erased before, nothing put since.
			default:
				errc <- fmt.Errorf("round %d: erase: %w", round, err)
				return
			}
		}
	}()
	ewg.Wait()
	// Let the victim's writer finish after the last erasure, then stop the readers.
	for victimPuts.Load() < 60 && len(errc) == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		s.Close()
		t.FailNow()
	}
	if epoch.Load() == 0 {
		t.Fatal("no erasure of the victim succeeded")
	}

	// What the victim must hold now: every Put that started after the last erasure
	// returned; it may hold those that started before and committed after it.
	final := epoch.Load()
	mustHave, mayHave := map[string]bool{}, map[string]bool{}
	for _, p := range vputs {
		for _, id := range p.ids {
			mayHave[id] = true
			if p.epoch == final {
				mustHave[id] = true
			}
		}
	}
	check := func(s *Store, when string, victimWant map[string]bool) map[string]bool {
		t.Helper()
		var contacts int64
		customers := int64(0)
		for _, cu := range others {
			got, err := collect(t, s, cu, TimeRange{})
			if err != nil {
				t.Fatalf("%s: %s: %v", when, cu, err)
			}
			want := snapshot(cu)
			if len(got) != len(want) {
				t.Errorf("%s: %s: %d contacts, want %d", when, cu, len(got), len(want))
			}
			for _, c := range got {
				if !want[c.ID] {
					t.Errorf("%s: %s: unexpected contact %s", when, cu, c.ID)
				}
			}
			contacts += int64(len(got))
			customers++
		}
		got, err := collect(t, s, victim, TimeRange{})
		have := map[string]bool{}
		switch {
		case isGone(err) && len(got) == 0:
		case err != nil:
			t.Fatalf("%s: the victim: %v", when, err)
		default:
			customers++
			contacts += int64(len(got))
			for _, c := range got {
				have[c.ID] = true
				if !mayHave[c.ID] {
					t.Errorf("%s: the victim holds contact %s, erased or never put", when, c.ID)
				}
			}
		}
		for id := range mustHave {
			if !have[id] {
				t.Errorf("%s: the victim's contact %s, put after the last erasure, is missing", when, id)
			}
		}
		if victimWant != nil && !maps.Equal(have, victimWant) {
			t.Errorf("%s: the victim holds %d contacts, %d before", when, len(have), len(victimWant))
		}
		for round := range 8 {
			if _, err := collect(t, s, fmt.Sprintf("kort-%d", round), TimeRange{}); !errors.Is(err, ErrErased) {
				t.Errorf("%s: kort-%d: %v, want ErrErased", when, round, err)
			}
		}
		st := stats(t, s)
		if st.Contacts != contacts || st.Customers != customers {
			t.Errorf("%s: stats say %d contacts of %d customers; %d of %d are readable", when, st.Contacts, st.Customers, contacts, customers)
		}
		if _, err := s.VerifyAudit(ctx); err != nil {
			t.Errorf("%s: audit: %v", when, err)
		}
		return have
	}
	before := check(s, "while open", nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "after reopen", before)
	t.Logf("%d erasures of the victim; it holds %d contacts at the end", final, len(before))
}

// TestEraseReceiptAgainstTheStore checks what a receipt says against the ledger, the audit
// log and the store, and that online verification refuses receipts the store did not
// issue.
func TestEraseReceiptAgainstTheStore(t *testing.T) {
	mem := vfs.NewMem()
	s := openTest(t, mem)
	ctx := context.Background()
	same, _ := sameShardCustomers(s, "anna", "buur", 2)
	var cs []Contact
	for i := range 7 {
		cs = append(cs, mkContact("anna", i), mkContact(same[0], i))
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	v := s.vault.Load()
	shard := crypto.ShardOf(s.pseudonym("anna"), len(v.Shards))
	gen, vgen := v.Shards[shard].Gen, v.Generation
	rc, err := s.Erase(ctx, "anna", "Art. 17 request 12")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Customer != s.Pseudonym("anna") || rc.StoreID != s.StoreID() || rc.Destroyed.Records != 7 ||
		rc.Destroyed.DataKeys != 1 || rc.Destroyed.Shard != shard || rc.Destroyed.ShardGenFrom != gen ||
		rc.Destroyed.ShardGenTo != gen+1 || rc.VaultBefore != vgen || rc.VaultAfter != vgen+1 ||
		rc.ReasonSHA256 != crypto.ReasonDigest("Art. 17 request 12") {
		t.Fatalf("receipt %+v", rc)
	}
	if s.vault.Load().Generation != vgen+1 || s.vault.Load().Shards[shard].Gen != gen+1 {
		t.Fatal("the vault does not have the generations the receipt names")
	}
	// The receipt never names the customer.
	b, _ := json.Marshal(rc)
	if bytes.Contains(b, []byte("anna")) {
		t.Fatalf("the receipt names the customer: %s", b)
	}
	// Found and verified as soon as Erase has returned, though the ledger entries and the
	// clean-up follow the acknowledgement.
	stored, err := s.ErasureReceipt("anna")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := rc.Digest()
	if sd, _ := stored.Digest(); sd != d {
		t.Error("the stored receipt differs from the one returned")
	}
	if err := s.VerifyErasure(ctx, rc); err != nil {
		t.Fatalf("online verification: %v", err)
	}
	// The ledger entry it names holds its digest; the audit entry it names is the erasure.
	s.WaitHygiene()
	s.ledger.mu.Lock()
	var le *ledger.Entry
	for i := range s.ledger.parsed.Entries {
		if e := &s.ledger.parsed.Entries[i]; e.Seq == rc.LedgerSeq {
			le = e
		}
	}
	s.ledger.mu.Unlock()
	if le == nil || le.Kind != ledger.KindErased || le.Customer != rc.Customer || le.Receipt != d {
		t.Fatalf("ledger entry %d: %+v", rc.LedgerSeq, le)
	}
	var ae *AuditEntry
	for e, err := range s.Audit(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq == rc.AuditSeq {
			ae = &e
		}
	}
	if ae == nil || ae.Kind != audit.KindErase || !slices.Contains(ae.Customers, rc.Customer) || ae.Count != 7 {
		t.Fatalf("audit entry %d: %+v", rc.AuditSeq, ae)
	}

	// Receipts the store did not issue.
	forged := *rc
	forged.Destroyed.Records = 70
	if err := forged.Sign(v.SigningKey()); err != nil { // even signed with the store's own key
		t.Fatal(err)
	}
	moved := *rc
	moved.LedgerSeq = 1 // the intent
	_ = moved.Sign(v.SigningKey())
	unsigned := *rc
	unsigned.VaultAfter++
	other := openTest(t, vfs.NewMem())
	if _, err := other.Put(ctx, []Contact{mkContact("anna", 1)}); err != nil {
		t.Fatal(err)
	}
	otherRC, err := other.Erase(ctx, "anna", "")
	if err != nil {
		t.Fatal(err)
	}
	relabelled := *otherRC
	relabelled.StoreID = s.StoreID()
	_ = relabelled.Sign(other.vault.Load().SigningKey())
	for _, tc := range []struct {
		name string
		rc   *Receipt
	}{
		{"a receipt of another store", otherRC},
		{"another store's receipt naming this store", &relabelled},
		{"a receipt whose digest is not in the ledger", &forged},
		{"a receipt naming another ledger entry", &moved},
		{"a changed receipt", &unsigned},
	} {
		if err := s.VerifyErasure(ctx, tc.rc); err == nil {
			t.Errorf("%s verifies online", tc.name)
		}
	}
	other.Close()

	// The customer comes back: a new relationship, and the old receipt still holds.
	if _, err := s.Put(ctx, []Contact{mkContact("anna", 100)}); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyErasure(ctx, rc); err != nil {
		t.Errorf("after the customer came back: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, mem)
	defer s.Close()
	if err := s.VerifyErasure(ctx, rc); err != nil {
		t.Errorf("after a reopen: %v", err)
	}
	if got, err := collect(t, s, "anna", TimeRange{}); err != nil || len(got) != 1 || got[0].ID != "c-100" {
		t.Errorf("the returned customer: %d contacts, %v", len(got), err)
	}
}

// auditScenario fills a store with puts, reads and erasures: more than checkpointEvery
// entries, so that signed checkpoints exist.
func auditScenario(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for i := range 120 {
		if _, err := s.Put(ctx, []Contact{mkContact(fmt.Sprintf("a%02d", i%30), i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := collect(t, s, fmt.Sprintf("a%02d", i%30), TimeRange{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, err := s.Erase(ctx, fmt.Sprintf("a%02d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 60 {
		if _, err := collect(t, s, fmt.Sprintf("a%02d", 10+i%20), TimeRange{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditTamperDetected changes the audit log in Pebble directly, with the store closed,
// and checks that VerifyAudit notices each change.
func TestAuditTamperDetected(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s := openTest(t, mem)
	auditScenario(t, s)
	rep, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("the untouched log: %v", err)
	}
	if rep.LastCheckpoint == 0 || rep.Entries <= checkpointEvery || rep.First != 1 {
		t.Fatalf("report %+v: expected checkpoints", rep)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		k []byte
		e audit.Entry
	}
	load := func(db *pebble.DB) []entry {
		var out []entry
		for _, kv := range rawScan(t, db, keys.KindAudit) {
			e, err := audit.Decode(kv.v)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, entry{kv.k, *e})
		}
		return out
	}
	put := func(db *pebble.DB, k []byte, e audit.Entry) {
		b, _ := json.Marshal(&e)
		if err := db.Set(k, b, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	// reseal rewrites the chain from entry i on, as someone without the signing key would
	// to hide a change: every hash matches again.
	reseal := func(db *pebble.DB, es []entry, i int) {
		for j := i; j < len(es); j++ {
			e := es[j].e
			if _, err := audit.Seal(&e, es[j-1].e.Hash); err != nil {
				t.Fatal(err)
			}
			es[j].e = e
			put(db, es[j].k, e)
		}
	}
	checkpoints := func(es []entry) []int {
		var out []int
		for i, e := range es {
			if e.e.Kind == audit.KindCheckpoint {
				out = append(out, i)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		tamper func(db *pebble.DB, es []entry)
	}{
		{"an entry's count changed", func(db *pebble.DB, es []entry) {
			e := es[40].e
			e.Count++
			put(db, es[40].k, e)
		}},
		{"an entry's customer changed", func(db *pebble.DB, es []entry) {
			e := es[41].e
			e.Customers = []string{strings.Repeat("0", 32)}
			put(db, es[41].k, e)
		}},
		{"an entry's time changed", func(db *pebble.DB, es []entry) {
			e := es[5].e
			e.Time = e.Time.Add(time.Hour)
			put(db, es[5].k, e)
		}},
		{"an entry removed", func(db *pebble.DB, es []entry) {
			if err := db.Delete(es[100].k, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}},
		{"two entries swapped", func(db *pebble.DB, es []entry) {
			put(db, es[60].k, es[61].e)
			put(db, es[61].k, es[60].e)
		}},
		{"two entries swapped with their numbers", func(db *pebble.DB, es []entry) {
			a, b := es[60].e, es[61].e
			a.Seq, b.Seq = b.Seq, a.Seq
			put(db, es[60].k, b)
			put(db, es[61].k, a)
		}},
		{"a checkpoint's signature changed", func(db *pebble.DB, es []entry) {
			i := checkpoints(es)[0]
			e := es[i].e
			sig := []byte(e.Signature)
			sig[5] ^= 'A' ^ 'B'
			e.Signature = string(sig)
			put(db, es[i].k, e)
		}},
		{"a checkpoint's signature changed and the chain resealed", func(db *pebble.DB, es []entry) {
			i := checkpoints(es)[0]
			sig := []byte(es[i].e.Signature)
			sig[5] ^= 'A' ^ 'B'
			es[i].e.Signature = string(sig)
			reseal(db, es, i)
		}},
		{"an entry changed and the chain resealed", func(db *pebble.DB, es []entry) {
			es[30].e.Kind = audit.KindRead
			es[30].e.Customers = nil
			reseal(db, es, 30)
		}},
		{"an entry inserted and the chain resealed", func(db *pebble.DB, es []entry) {
			// Shift everything from 50 on by one and put a new entry at 50.
			ins := audit.Entry{Time: es[50].e.Time, Kind: audit.KindRead, Customers: es[50].e.Customers}
			tail := append([]entry{{es[50].k, ins}}, es[50:]...)
			for j := range tail {
				tail[j].k = keys.Audit(uint64(50 + j + 1))
				tail[j].e.Seq = uint64(50 + j + 1)
			}
			reseal(db, append(slices.Clone(es[:50]), tail...), 50)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clone := mem.CrashClone(vfs.CrashCloneCfg{})
			db := openRawPebble(t, clone, "db")
			tc.tamper(db, load(db))
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			o := testOptions(t, clone)
			o.CreateIfMissing = false
			s, err := Open("db", o)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close()
			_, err = s.VerifyAudit(context.Background())
			if !errors.Is(err, audit.ErrCorrupt) {
				t.Fatalf("VerifyAudit after %s: %v, want an error wrapping audit.ErrCorrupt", tc.name, err)
			}
			t.Logf("%v", err)
		})
	}
	// And the untouched copy still verifies after a reopen.
	s = openClone(t, mem.CrashClone(vfs.CrashCloneCfg{}), "untouched", nil)
	defer s.Close()
	if _, err := s.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestErasureLedgerTornTail appends half a line to the ledger, as a crash during an append
// leaves it: Open cuts it off, keeps every entry before it, and the ledger goes on.
func TestErasureLedgerTornTail(t *testing.T) {
	mem := vfs.NewMem()
	s := openTest(t, mem)
	ctx := context.Background()
	for _, c := range []string{"anna", "bram", "cor"} {
		if _, err := s.Put(ctx, []Contact{mkContact(c, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := s.Erase(ctx, "anna", "")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	path := mem.PathJoin("db", LedgerFile)
	good, err := readAll(mem, path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(good, []byte("\n"))
	torn := append(slices.Clone(good), lines[0][:len(lines[0])/2]...)
	writeAll(t, mem, path, torn)

	s = openTest(t, mem)
	if got, _ := readAll(mem, path); !bytes.Equal(got, good) {
		t.Fatalf("after open the ledger has %d bytes, want the %d of its complete lines", len(got), len(good))
	}
	if _, err := collect(t, s, "anna", TimeRange{}); !errors.Is(err, ErrErased) {
		t.Errorf("erased customer after the repair: %v", err)
	}
	if err := s.VerifyErasure(ctx, rc); err != nil {
		t.Errorf("receipt after the repair: %v", err)
	}
	if _, err := s.Erase(ctx, "bram", ""); err != nil {
		t.Fatal(err)
	}
	s.Close()
	data, _ := readAll(mem, path)
	l, err := ledger.Parse(bytes.NewReader(data))
	if err != nil || l.Torn {
		t.Fatalf("the ledger after another erasure: torn %v, %v", l != nil && l.Torn, err)
	}
	if l.Erased(rc.Customer) == nil {
		t.Error("the first erasure's entry is gone")
	}
}

// TestErasureLedgerCorrupt changes one byte in the middle of the ledger: the store does not
// open, and says why without quoting the ledger.
func TestErasureLedgerCorrupt(t *testing.T) {
	mem := vfs.NewMem()
	s := openTest(t, mem)
	ctx := context.Background()
	for _, c := range []string{"Annabel-K", "Bramwell-K", "Cornelis-K"} {
		if _, err := s.Put(ctx, []Contact{mkContact(c, 1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Erase(ctx, c, ""); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	path := mem.PathJoin("db", LedgerFile)
	good, _ := readAll(mem, path)
	lines := bytes.SplitAfter(good, []byte("\n"))
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
		line int
	}{
		{"a digit of a hash", func(b []byte) []byte {
			i := len(lines[0]) + bytes.Index(lines[1], []byte(`"hash":"`)) + 9
			b[i] ^= 1
			return b
		}, 2},
		{"a pseudonym", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"customer":"`)) + 13
			b[i] = 'x'
			return b
		}, 2},
		{"a line removed", func(b []byte) []byte { return append(slices.Clone(lines[0]), bytes.Join(lines[2:], nil)...) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeAll(t, mem, path, tc.edit(slices.Clone(good)))
			o := testOptions(t, mem)
			_, err := Open("db", o)
			if !errors.Is(err, ledger.ErrCorrupt) {
				t.Fatalf("open: %v, want ledger.ErrCorrupt", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "contactstore: ") || !strings.Contains(msg, LedgerFile) || !strings.Contains(msg, fmt.Sprintf("line %d", tc.line)) {
				t.Errorf("error %q: want the prefix, the file and line %d", msg, tc.line)
			}
			for _, c := range []string{"Annabel-K", "Bramwell-K", "Cornelis-K"} {
				if strings.Contains(msg, c) {
					t.Errorf("error names a customer: %q", msg)
				}
			}
			// The store refuses to open but changes nothing: the ledger is as it was found.
			if got, _ := readAll(mem, path); !bytes.Equal(got, tc.edit(slices.Clone(good))) {
				t.Error("a failed open changed the ledger")
			}
		})
	}
	writeAll(t, mem, path, good)
	s = openTest(t, mem)
	s.Close()
}

// TestErasureLeavesNoPlaintext erases a customer from a store on disk, closes it and reads
// every byte under the store's directory: no customer id, address, number, subject or body
// text of the erased customer — or of anyone else — is there, nor in the logs.
func TestErasureLeavesNoPlaintext(t *testing.T) {
	var logs syncBuffer
	dir := t.TempDir()
	opts := testOptions(t, vfs.Default)
	opts.Shards = 8
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.PebbleOptions = func(o *pebble.Options) { o.MemTableSize = 256 << 10 } // flushes to tables too
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type person struct{ id, email, phone, subject, body string }
	people := map[string]person{}
	var names []string
	for k := range 12 {
		p := person{
			id:      fmt.Sprintf("KLANT-WISSEN-%04d", k),
			email:   fmt.Sprintf("geheim.persoon%04d@voorbeeld-wis.nl", k),
			phone:   fmt.Sprintf("+31 6 1234 %04d", k),
			subject: fmt.Sprintf("Onderwerp-Privé-%04d", k),
			body:    fmt.Sprintf("Mijn hypotheekschuld bij de Rabobank is %04d euro en mijn kat heet Minoes", k),
		}
		people[p.id] = p
		names = append(names, p.id)
		var cs []Contact
		for i := range 200 {
			cs = append(cs, Contact{
				ID: fmt.Sprintf("TICKETWIS-%04d-%03d", k, i), Customer: p.id, Time: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour),
				Channel: ChannelPhone, Email: p.email, Phone: p.phone, Subject: p.subject, Body: p.body,
			})
		}
		if _, err := s.Put(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	victim := people[names[3]]
	same, _ := sameShardCustomers(s, victim.id, "buurman", 2)
	if _, err := s.Put(ctx, []Contact{mkContact(same[0], 1)}); err != nil {
		t.Fatal(err)
	}
	if got, err := collect(t, s, victim.id, TimeRange{}); err != nil || len(got) != 200 {
		t.Fatalf("before: %d, %v", len(got), err)
	}
	if _, err := s.Erase(ctx, victim.id, "verzoek van "+victim.id); err != nil {
		t.Fatal(err)
	}
	s.WaitHygiene()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var needles []string
	for _, p := range people {
		needles = append(needles, p.id, p.email, p.phone, p.subject, p.body)
	}
	needles = append(needles, "KLANT-WISSEN", "voorbeeld-wis.nl", "+31 6 1234", "hypotheekschuld", "Minoes", "TICKETWIS", "verzoek van")
	if hits := plaintextHits(t, dir, needles); len(hits) > 0 {
		t.Fatalf("plaintext on disk after the erasure:\n%s", strings.Join(hits, "\n"))
	}
	for _, n := range needles {
		if strings.Contains(logs.String(), n) {
			t.Errorf("the logs hold %q", n)
		}
	}
	// The scan is able to find plaintext: the reopened store has it, in memory only, and a
	// planted file is found.
	writeAll(t, vfs.Default, vfs.Default.PathJoin(dir, "planted"), []byte(victim.body))
	if hits := plaintextHits(t, dir, needles); len(hits) == 0 {
		t.Fatal("the scan misses plaintext")
	}
}

// TestEraseIgnoresAKeyCachedDuringTheErasure: reads do not hold the gate, so a read that
// looked a customer up under the old shard key while an erasure rotated it can put that key
// into the customer cache after the erasure dropped the shard's entries. The test puts such
// entries in the cache by hand, as that read would, for the erased customer and for a
// customer of the same shard: neither may ever be used. Before the fix the erased
// customer's contacts stayed reachable through the stale entry, and a contact put for them
// afterwards was acknowledged, filed under the destroyed key and lost at the next open.
func TestEraseIgnoresAKeyCachedDuringTheErasure(t *testing.T) {
	mem := vfs.NewMem()
	s := openTest(t, mem)
	ctx := context.Background()
	same, _ := sameShardCustomers(s, "vertrekker", "buur", 1)
	var cs []Contact
	for i := range 3 {
		cs = append(cs, mkContact("vertrekker", i), mkContact(same[0], i))
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	stale := map[string]*customer{}
	for _, c := range []string{"vertrekker", same[0]} {
		cu, err := s.lookupCustomer(c, false)
		if err != nil {
			t.Fatal(err)
		}
		cp := &customer{ps: cu.ps, shard: cu.shard, gen: cu.gen, key: cu.key}
		cp.persisted.Store(true)
		stale[c] = cp
	}
	if _, err := s.Erase(ctx, "vertrekker", ""); err != nil {
		t.Fatal(err)
	}
	s.WaitHygiene()
	for _, cu := range stale {
		s.customers.remove(cu.ps)
		s.customers.add(cu) // what the late read does
	}
	if got, err := collect(t, s, "vertrekker", TimeRange{}); len(got) != 0 || !errors.Is(err, ErrErased) {
		t.Errorf("the erased customer through a stale cache entry: %d contacts, %v", len(got), err)
	}
	if got, err := collect(t, s, same[0], TimeRange{}); err != nil || len(got) != 3 {
		t.Errorf("the shard-mate through a stale cache entry: %d contacts, %v", len(got), err)
	}
	for _, cu := range stale {
		s.customers.remove(cu.ps)
		s.customers.add(cu)
	}
	if _, err := s.Put(ctx, []Contact{mkContact("vertrekker", 10), mkContact(same[0], 10)}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		if got, err := collect(t, s, "vertrekker", TimeRange{}); err != nil || len(got) != 1 || got[0].ID != "c-10" {
			t.Errorf("%s: the returning customer: %d contacts, %v; want the one put after the erasure", when, len(got), err)
		}
		if got, err := collect(t, s, same[0], TimeRange{}); err != nil || len(got) != 4 {
			t.Errorf("%s: the shard-mate: %d contacts, %v", when, len(got), err)
		}
		if st := stats(t, s); st.Customers != 2 || st.Contacts != 5 {
			t.Errorf("%s: stats %d customers, %d contacts; want 2 and 5", when, st.Customers, st.Contacts)
		}
	}
	check("before reopen")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, mem)
	defer s.Close()
	check("after reopen")
}
