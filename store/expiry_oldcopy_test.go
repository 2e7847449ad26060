package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/internal/keys"
	"contactstore/internal/record"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Old copies and raw bytes after expiry. A copy of DIR/pebble/ taken before an expiry run
// (a file-level backup), restored beside the vault written by that run, yields no expired
// contact — even with a clock that says their term has not ended — and the raw bytes of the
// expired records open with no key the vault holds. After Expire and the hygiene that
// follows it, no file of the store holds the records of the expired bucket.

// TestExpiryOldCopiesAreUseless restores a pre-expiry copy of DIR/pebble/ under the
// post-expiry vault.
//
// Like an erasure (TestEraseOldCopiesAreUseless), expiry cannot spare what only the copy
// holds: the held customer's contacts in the expired bucket were resealed into the hold
// bucket by the run, and those resealed records exist only in files written after the copy.
// From the copy they are unreadable: a backup of Pebble restored with a newer vault loses
// the held contacts of every bucket that expired in between (restoring the old vault with
// it would bring back every expired contact, and the store must never be given one).
func TestExpiryOldCopiesAreUseless(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	t0 := utc(2026, 1, 10, 9, 0, 0)
	term := t0.AddDate(0, 0, 30)
	chatDay := dayOf(term)
	clock := &fakeClock{t: t0}
	opts := testOptions(t, vfs.Default)
	opts.Clock = clock
	opts.Shards = 8
	s, err := Open(storeDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }() // on failure; Close is idempotent
	setPolicy(t, s, holdPolicy)
	chats, mails := map[string][]Contact{}, map[string][]Contact{}
	for cu, n := range map[string][2]int{"kort": {5, 0}, "gemengd": {3, 3}, "lang": {0, 3}, "vast": {3, 2}} {
		for i := range n[0] {
			chats[cu] = append(chats[cu], rc(cu, fmt.Sprintf("c%d", i), "chat", ChannelChat, t0.Add(time.Duration(i)*time.Minute)))
		}
		for i := range n[1] {
			mails[cu] = append(mails[cu], rc(cu, fmt.Sprintf("m%d", i), "", ChannelEmail, t0.Add(time.Duration(i)*time.Minute)))
		}
		mustPut(t, s, append(append([]Contact(nil), chats[cu]...), mails[cu]...)...)
	}
	if err := s.Hold(ctx, "vast", "dossier 31"); err != nil {
		t.Fatal(err)
	}
	prefixes := map[[keys.PrefixSize]byte]string{}
	for cu := range chats {
		prefixes[keysOf(t, s, cu).prefix] = cu
	}
	for cu := range mails {
		prefixes[keysOf(t, s, cu).prefix] = cu
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	oldCopy := filepath.Join(dir, "pebble-before-expiry")
	copyTree(t, filepath.Join(storeDir, PebbleDir), oldCopy)

	clock.t = dayEnd(term)
	if s, err = Open(storeDir, opts); err != nil {
		t.Fatal(err)
	}
	er, err := s.Expire(ctx, time.Time{})
	if err != nil || er.Contacts != 8 || er.Held != 3 || er.Customers != 1 {
		t.Fatalf("expire %+v %v", er, err)
	}
	s.WaitHygiene()
	wantIDs(t, s, "after expiry", "vast", "c0", "c1", "c2", "m0", "m1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Restore the old Pebble files under the current vault and ledger, and read with a clock
	// before every term: only the destroyed key can hide the chats.
	if err := os.RemoveAll(filepath.Join(storeDir, PebbleDir)); err != nil {
		t.Fatal(err)
	}
	copyTree(t, oldCopy, filepath.Join(storeDir, PebbleDir))
	clock.t = t0.Add(time.Hour)
	if s, err = Open(storeDir, opts); err != nil {
		t.Fatalf("a store whose Pebble files are older than its vault does not open: %v", err)
	}
	customers := []string{"kort", "gemengd", "lang", "vast"}
	got, err := collect(t, s, "kort", TimeRange{})
	if len(got) != 0 || !errors.Is(err, ErrNotFound) {
		t.Errorf("kort (only expired contacts) in the old copy: %d contacts, %v; want none and ErrNotFound", len(got), err)
	}
	for _, cu := range []string{"gemengd", "lang", "vast"} {
		got, err := collect(t, s, cu, TimeRange{})
		if err != nil {
			t.Errorf("%s in the old copy: %v", cu, err)
		}
		// Only the mails: the chats' bucket key is gone (the held customer's too, see above).
		sameContacts(t, cu+" in the old copy", got, contactsByID(t, mails[cu]))
	}
	st := checkStatsFresh(t, s, "the old copy", customers)
	if st.Contacts != 8 || st.Customers != 3 {
		t.Errorf("the old copy: stats %d contacts, %d customers; want 8 and 3", st.Contacts, st.Customers)
	}
	if _, err := s.HoldStatus("vast"); err != nil {
		t.Errorf("the hold in the old copy: %v", err)
	}
	// Nothing of the expired bucket is left after Open's clean-up, and the store takes writes.
	lo, hi := keys.BucketRange(chatDay)
	if n := countRange(t, s.db, lo, hi); n != 0 {
		t.Errorf("%d records of the expired bucket remain after Open", n)
	}
	if res := mustPut(t, s, rc("kort", "nieuw", "", ChannelEmail, clock.t)); res.Added != 1 {
		t.Errorf("put after the restore: %+v", res)
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("audit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Brute force with the old copy, the current vault and the root key: no bucket key the
	// vault holds opens a record of the expired bucket, with any customer's data key.
	data, err := os.ReadFile(filepath.Join(storeDir, VaultFile))
	if err != nil {
		t.Fatal(err)
	}
	vault, err := crypto.OpenVault(ctx, data, opts.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := vault.Buckets[chatDay]; ok || vault.ExpiredThrough < chatDay {
		t.Fatalf("the vault still has the expired bucket's key (expired through %d, bucket %d)", vault.ExpiredThrough, chatDay)
	}
	work := filepath.Join(dir, "attack")
	copyTree(t, oldCopy, filepath.Join(work, PebbleDir))
	db := openRawPebble(t, vfs.Default, work)
	defer db.Close()
	var dataKeys []*crypto.CustomerKey
	for _, kv := range rawScan(t, db, keys.KindDataKey) {
		sh, gen, ps, err := keys.ParseDataKey(kv.k)
		if err != nil {
			t.Fatal(err)
		}
		if int(sh) >= len(vault.Shards) {
			continue
		}
		ck, err := crypto.UnwrapCustomerKey(&vault.Shards[sh].Key, ps, sh, gen, kv.v)
		if err != nil {
			t.Fatalf("a data key in the old copy does not open (no erasure happened): %v", err)
		}
		dataKeys = append(dataKeys, ck)
	}
	if len(dataKeys) != 4 {
		t.Fatalf("%d data keys in the old copy, want 4", len(dataKeys))
	}
	tryOpen := func(kv rawKV, bucketIDs ...uint32) bool {
		env, err := record.ParseEnvelope(kv.v)
		if err != nil {
			t.Fatal(err)
		}
		for id, bk := range vault.Buckets {
			for _, ck := range dataKeys {
				for _, as := range append(bucketIDs, id) {
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
	expired, live := 0, 0
	for _, kv := range rawScan(t, db, keys.KindRecord) {
		pk, err := keys.ParseRecord(kv.k)
		if err != nil {
			t.Fatal(err)
		}
		if pk.Bucket == chatDay {
			expired++
			if tryOpen(kv, pk.Bucket) {
				t.Fatalf("a record of the expired bucket (%s) opens with a key of the current vault", prefixes[pk.Prefix])
			}
			continue
		}
		// The control: records of a live bucket open, so the attempt above can succeed.
		if live < 3 {
			live++
			if !tryOpen(kv, pk.Bucket) {
				t.Fatalf("a record of a live bucket does not open: the brute force is broken")
			}
		}
	}
	if expired != 11 || live == 0 {
		t.Fatalf("the old copy holds %d records of the expired bucket (want 11) and %d live ones were tried", expired, live)
	}
}

// TestExpiryLeavesNoRecordsInFiles: after Expire and the hygiene that follows, no file
// under DIR/pebble holds the sealed bytes of an expired record, Pebble has no key of the
// expired bucket, and no file of the store holds any contact's plaintext.
func TestExpiryLeavesNoRecordsInFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	term := t0.AddDate(0, 0, 30)
	chatDay := dayOf(term)
	clock := &fakeClock{t: t0}
	o := testOptions(t, vfs.Default)
	o.Clock = clock
	o.Compression = "none"
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	setPolicy(t, s, holdPolicy)
	var plaintexts []string
	var gone []custKeys
	for b := range 4 {
		var cs []Contact
		for i := range 25 {
			for _, cu := range []string{fmt.Sprintf("verloopt-klant-%03d", i), fmt.Sprintf("gemengde-klant-%03d", i)} {
				c := rc(cu, fmt.Sprintf("chat-%d-%d", b, i), "chat", ChannelChat, t0.Add(time.Duration(b*100+i)*time.Second))
				cs = append(cs, c)
				plaintexts = append(plaintexts, c.Body)
			}
			m := rc(fmt.Sprintf("gemengde-klant-%03d", i), fmt.Sprintf("mail-%d-%d", b, i), "", ChannelEmail, t0)
			cs = append(cs, m)
			plaintexts = append(plaintexts, m.Body, m.Email)
		}
		mustPut(t, s, cs...)
		if b%2 == 0 {
			if err := s.Flush(); err != nil { // spread the data over several tables
				t.Fatal(err)
			}
		}
	}
	for i := range 25 {
		cu := fmt.Sprintf("verloopt-klant-%03d", i)
		plaintexts = append(plaintexts, cu, cu+"@voorbeeld.nl")
		gone = append(gone, keysOf(t, s, cu))
	}
	// The sealed values of the expired bucket, straight from Pebble.
	var sealed [][]byte
	lo, hi := keys.BucketRange(chatDay)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		sealed = append(sealed, bytes.Clone(v[len(v)-24:]))
	}
	it.Close()
	if len(sealed) != 200 {
		t.Fatalf("%d sealed records in the chat bucket, want 200", len(sealed))
	}
	scanFiles := func(root string, needles [][]byte) (files, hits int) {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil // compacted away meanwhile
			}
			files++
			for _, n := range needles {
				if bytes.Contains(data, n) {
					hits++
				}
			}
			return nil
		})
		return files, hits
	}
	_, before := scanFiles(filepath.Join(dir, PebbleDir), sealed)
	if before < len(sealed) {
		t.Fatalf("only %d of %d sealed values found before expiry: the probe is broken", before, len(sealed))
	}
	clock.t = dayEnd(term)
	er, err := s.Expire(ctx, time.Time{})
	if err != nil || er.Contacts != 200 || er.Customers != 25 {
		t.Fatalf("expire %+v %v", er, err)
	}
	s.WaitHygiene()
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil { // and a full compaction
		t.Fatal(err)
	}
	// WaitHygiene returns once the store's flush and compactions are done; Pebble deletes
	// the files they made obsolete in the background, so poll for that, with a generous
	// deadline.
	files, after := scanFiles(filepath.Join(dir, PebbleDir), sealed)
	first := after
	for deadline := time.Now().Add(3 * time.Second); after != 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		files, after = scanFiles(filepath.Join(dir, PebbleDir), sealed)
	}
	t.Logf("sealed values of expired records in live files: %d before, %d right after WaitHygiene, %d in the end (%d files)", before, first, after, files)
	walBug := ""
	if after != 0 {
		// Which files? An obsolete WAL that Pebble keeps for recycling is a known gap.
		var where []string
		onlyWAL := true
		_ = filepath.WalkDir(filepath.Join(dir, PebbleDir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			data, _ := os.ReadFile(p)
			for _, n := range sealed {
				if bytes.Contains(data, n) {
					where = append(where, filepath.Base(p))
					onlyWAL = onlyWAL && filepath.Ext(p) == ".log"
					break
				}
			}
			return nil
		})
		if !onlyWAL {
			t.Errorf("%d sealed values of expired records remain in the live files %v", after, where)
		} else {
			walBug = fmt.Sprintf("%d sealed values of expired records remain in %v: an obsolete WAL kept for recycling (see deletingCleaner)", after, where)
		}
	}
	for _, k := range gone {
		wantNoLeftovers(t, s, "after expiry", k)
	}
	for i := range 25 {
		wantIDs(t, s, "after expiry", fmt.Sprintf("gemengde-klant-%03d", i), "mail-0-"+fmt.Sprint(i), "mail-1-"+fmt.Sprint(i), "mail-2-"+fmt.Sprint(i), "mail-3-"+fmt.Sprint(i))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Raw Pebble: no key names the expired bucket.
	db := openRawPebble(t, vfs.Default, dir)
	for _, kv := range rawScan(t, db, keys.KindRecord) {
		if pk, _ := keys.ParseRecord(kv.k); pk.Bucket == chatDay {
			t.Fatal("a record of the expired bucket is still in Pebble")
		}
	}
	for _, kv := range rawScan(t, db, keys.KindExpiry) {
		if len(kv.k) >= 5 && beU32(kv.k[1:5]) == chatDay {
			t.Fatal("an entry of the expired bucket is still in Pebble")
		}
	}
	if _, closer, err := db.Get(bucketCountKey(chatDay)); err == nil {
		closer.Close()
		t.Error("the expired bucket's counter is still in Pebble")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// No plaintext anywhere in the store directory.
	var needles [][]byte
	for _, p := range plaintexts {
		needles = append(needles, []byte(p))
	}
	if files, hits := scanFiles(dir, needles); hits != 0 || files == 0 {
		t.Errorf("%d plaintext strings found in %d files of the store", hits, files)
	}
	if walBug != "" && !t.Failed() {
		t.Fatal(walBug)
	}
}
