package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/internal/backupfmt"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/klauspost/compress/zstd"
)

// backupWorld ingests n customers with k contacts each and returns what each holds.
func backupWorld(t *testing.T, s *Store, prefix string, n, k int) eraseWorld {
	t.Helper()
	w := eraseWorld{}
	for i := range n {
		cu := fmt.Sprintf("%s-%d", prefix, i)
		var batch []Contact
		w[cu] = map[string]string{}
		for j := range k {
			c := mkContact(cu, i*100+j)
			batch = append(batch, c)
			w[cu][c.ID] = mustJSON(t, stored(c))
		}
		if _, err := s.Put(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// checkWorld checks that every customer of w is in s, whole.
func checkWorld(t *testing.T, s *Store, what string, w eraseWorld) {
	t.Helper()
	for cu, want := range w {
		got, err := collect(t, s, cu, TimeRange{})
		if err != nil {
			t.Errorf("%s: %s: %v", what, cu, err)
			continue
		}
		sameContacts(t, what+": "+cu, got, want)
	}
}

func restoreOpts(t *testing.T, fs vfs.FS, now time.Time) *RestoreOptions {
	return &RestoreOptions{RootKey: testKey(t), FS: fs, Clock: &fakeClock{t: now}}
}

func reopen(t *testing.T, fs vfs.FS, dir string, now time.Time) *Store {
	t.Helper()
	o := testOptions(t, fs)
	o.CreateIfMissing = false
	o.Clock = &fakeClock{t: now}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return s
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBackupRestoreDuringIngest(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	world := backupWorld(t, s, "cust", 40, 3)
	// Concurrent ingest: each batch is one new customer, present whole or absent.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := eraseWorld{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cu := fmt.Sprintf("conc-%d", i)
			var batch []Contact
			m := map[string]string{}
			for j := range 3 {
				c := mkContact(cu, j)
				batch = append(batch, c)
				m[c.ID] = mustJSON(t, stored(c))
			}
			if _, err := s.Put(context.Background(), batch); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			acked[cu] = m
			mu.Unlock()
		}
	}()
	var buf bytes.Buffer
	var progress int64
	info, err := s.Backup(context.Background(), &buf, &BackupOptions{Term: "P7D", Progress: func(d, total int64) {
		if d > total {
			t.Errorf("progress %d of %d", d, total)
		}
		progress = d
	}})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != int64(buf.Len()) || info.Files < 3 || progress != info.DataBytes {
		t.Errorf("info %+v for %d bytes, progress %d", info, buf.Len(), progress)
	}
	if !info.TermEnd.Equal(t0.AddDate(0, 0, 7)) || info.State != "live" {
		t.Errorf("term end %v, state %s", info.TermEnd, info.State)
	}
	if l := s.Backups(); len(l) != 1 || l[0].ID != info.ID {
		t.Errorf("Backups() = %+v", l)
	}
	if names, _ := fs.List("db"); strings.Contains(strings.Join(names, " "), backupTempPrefix) {
		t.Errorf("checkpoint left behind: %v", names)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	concurrent := acked
	mu.Unlock()

	o := restoreOpts(t, fs, t0)
	o.Live = "db"
	res, err := Restore(context.Background(), bytes.NewReader(buf.Bytes()), "elsewhere/restored", o)
	if err != nil {
		t.Fatal(err)
	}
	if res.InPlace || res.KeyFrom != "live store" || res.KeptErased != 0 {
		t.Errorf("result %+v", res)
	}
	r := reopen(t, fs, "elsewhere/restored", t0)
	defer r.Close()
	checkWorld(t, r, "restored", world)
	present := 0
	for cu, want := range concurrent {
		got, err := collect(t, r, cu, TimeRange{})
		if isGone(err) && len(got) == 0 {
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", cu, err)
			continue
		}
		sameContacts(t, "concurrent "+cu, got, want)
		present++
	}
	t.Logf("%d of %d concurrent batches in the backup", present, len(concurrent))
	if r.StoreID() != info.storeIDForTest(t, buf.Bytes()) {
		t.Error("restored store has another id")
	}
	if _, err := fs.Stat(restoreTemp(fs, "elsewhere/restored")); err == nil {
		t.Error("temporary restore dir left behind")
	}
}

// storeIDForTest reads the store id from an archive's manifest.
func (BackupInfo) storeIDForTest(t *testing.T, archive []byte) string {
	ar, err := backupfmt.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	return ar.Manifest().StoreID
}

func TestBackupNoPlaintext(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	backupWorld(t, s, "klant-geheim", 5, 4)
	var buf bytes.Buffer
	if _, err := s.BackupFile(context.Background(), "db.backup", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := fs.Open("db.backup")
	if err != nil {
		t.Fatal(err)
	}
	fileData, _ := io.ReadAll(f)
	f.Close()
	zr, err := zstd.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	zr.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{buf.Bytes(), raw, fileData} {
		for _, secret := range []string{"klant-geheim", "example.nl", "bestelling", "klantenservice", "Vraag over"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("the archive holds %q in the clear", secret)
			}
		}
	}
	if !bytes.Contains(raw, []byte(backupfmt.ManifestName)) {
		t.Error("the scan did not see the decompressed archive")
	}
}

func TestRestoreKeepsErasure(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	world := backupWorld(t, s, "cust", 20, 2)
	var buf bytes.Buffer
	if _, err := s.Backup(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Erase(context.Background(), "cust-3", "Art. 17 request")
	if err != nil {
		t.Fatal(err)
	}
	late := backupWorld(t, s, "late", 2, 1)
	s.Close()
	delete(world, "cust-3")
	// An off-site copy of the ledger and the key-ring.
	copyFile(t, fs, "db/"+LedgerFile, "offsite-erasures")
	copyFile(t, fs, KeyRingPath("db"), "offsite.backupkeys")

	t.Run("elsewhere with the ledger and the key-ring", func(t *testing.T) {
		o := restoreOpts(t, fs, t0)
		o.Ledger, o.KeyRing = "offsite-erasures", "offsite.backupkeys"
		res, err := Restore(context.Background(), bytes.NewReader(buf.Bytes()), "dr", o)
		if err != nil {
			t.Fatal(err)
		}
		if res.KeptErased != 1 || res.KeyFrom != "key-ring" || res.LedgerFrom != "ledger file" {
			t.Errorf("result %+v", res)
		}
		r := reopen(t, fs, "dr", t0)
		defer r.Close()
		checkWorld(t, r, "dr", world)
		if _, err := collect(t, r, "cust-3", TimeRange{}); !isGone(err) {
			t.Errorf("the erased customer came back: %v", err)
		}
		if err := r.VerifyErasure(context.Background(), rc); err != nil {
			t.Errorf("the original receipt: %v", err)
		}
	})
	t.Run("elsewhere without the ledger", func(t *testing.T) {
		o := restoreOpts(t, fs, t0)
		o.KeyRing = "offsite.backupkeys"
		res, err := Restore(context.Background(), bytes.NewReader(buf.Bytes()), "noledger", o)
		if err != nil {
			t.Fatal(err)
		}
		if res.KeptErased != 0 || res.LedgerFrom != "backup" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("in place", func(t *testing.T) {
		res, err := Restore(context.Background(), bytes.NewReader(buf.Bytes()), "db", restoreOpts(t, fs, t0))
		if err != nil {
			t.Fatal(err)
		}
		if !res.InPlace || res.KeptErased != 1 || res.LedgerFrom != "live store" {
			t.Errorf("result %+v", res)
		}
		r := reopen(t, fs, "db", t0)
		checkWorld(t, r, "in place", world)
		if _, err := collect(t, r, "cust-3", TimeRange{}); !isGone(err) {
			t.Errorf("the erased customer came back: %v", err)
		}
		for cu := range late {
			if _, err := collect(t, r, cu, TimeRange{}); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s, ingested after the backup, is there: %v", cu, err)
			}
		}
		if err := r.VerifyErasure(context.Background(), rc); err != nil {
			t.Errorf("the original receipt: %v", err)
		}
		if l := r.Backups(); len(l) != 1 {
			t.Errorf("backups after restore: %+v", l)
		}
		// A second restore of the same backup (older than the replayed ledger) still
		// keeps the customer erased.
		r.Close()
		res, err = Restore(context.Background(), bytes.NewReader(buf.Bytes()), "db", restoreOpts(t, fs, t0))
		if err != nil {
			t.Fatal(err)
		}
		r = reopen(t, fs, "db", t0)
		if _, err := collect(t, r, "cust-3", TimeRange{}); !isGone(err) {
			t.Errorf("second restore: the erased customer came back: %v", err)
		}
		checkWorld(t, r, "second restore", world)
		r.Close()
	})
	t.Run("open store refused", func(t *testing.T) {
		r := reopen(t, fs, "db", t0)
		defer r.Close()
		if _, err := Restore(context.Background(), bytes.NewReader(buf.Bytes()), "db", restoreOpts(t, fs, t0)); err == nil {
			t.Error("restore over an open store")
		}
	})
	t.Run("non-empty dir refused", func(t *testing.T) {
		_ = fs.MkdirAll("junk", 0o755)
		f, _ := fs.Create("junk/file", vfs.WriteCategoryUnspecified)
		f.Close()
		o := restoreOpts(t, fs, t0)
		o.Live = "db"
		if _, err := Restore(context.Background(), bytes.NewReader(buf.Bytes()), "junk", o); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("restore into a non-empty dir: %v", err)
		}
	})
}

func copyFile(t *testing.T, fs vfs.FS, from, to string) {
	t.Helper()
	data, err := readWhole(fs, from)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(fs, to, data); err != nil {
		t.Fatal(err)
	}
}

func TestBackupExpiry(t *testing.T) {
	fs := vfs.NewMem()
	o := testOptions(t, fs)
	clock := o.Clock.(*fakeClock)
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	backupWorld(t, s, "cust", 5, 2)
	var buf bytes.Buffer
	info, err := s.Backup(context.Background(), &buf, &BackupOptions{Term: "P1D"})
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, fs, KeyRingPath("db"), "old-keyring") // an off-site copy never refreshed
	later := t0.Add(36 * time.Hour)

	// Past the term, before the expirer ran: refused by the manifest's term.
	_, err = Restore(context.Background(), bytes.NewReader(buf.Bytes()), "r1", &RestoreOptions{RootKey: testKey(t), FS: fs, Clock: &fakeClock{later}, Live: "db"})
	if !errors.Is(err, ErrBackupExpired) || !strings.Contains(err.Error(), "expired on 2026-01-02") {
		t.Errorf("restore after the term: %v", err)
	}
	clock.t = later
	res, err := s.Expire(context.Background(), time.Time{})
	if err != nil || res.BackupKeys != 1 {
		t.Fatalf("expire: %+v %v", res, err)
	}
	l := s.Backups()
	if len(l) != 1 || l[0].State != "expired" || l[0].Destroyed == nil {
		t.Errorf("Backups() = %+v", l)
	}
	v := s.vault.Load()
	s.Close()

	// The key is gone everywhere the store keeps it.
	ring, err := readKeyRing(context.Background(), fs, KeyRingPath("db"), testKey(t))
	if err != nil || len(ring.Keys) != 0 {
		t.Errorf("key-ring after expiry: %v keys, %v", ring, err)
	}
	if b := v.FindBackup(mustID(t, info.ID)); b == nil || b.Live() || !b.Key.IsZero() {
		t.Error("the vault still holds the backup's key")
	}
	// Even with a clock turned back, the tombstone refuses it.
	_, err = Restore(context.Background(), bytes.NewReader(buf.Bytes()), "r2", &RestoreOptions{RootKey: testKey(t), FS: fs, Clock: &fakeClock{t0}, Live: "db"})
	if !errors.Is(err, ErrBackupExpired) || !strings.Contains(err.Error(), "its key was destroyed") {
		t.Errorf("restore with the tombstone: %v", err)
	}
	// The archive's vault copy does not open with the root key or any key the store has.
	vaultCopy := archiveFile(t, buf.Bytes(), backupfmt.VaultName)
	if _, err := crypto.OpenVault(context.Background(), vaultCopy, testKey(t)); !errors.Is(err, crypto.ErrWrongKey) {
		t.Errorf("the vault copy with the root key: %v", err)
	}
	for _, k := range append([]crypto.Key{v.PseudonymKey, v.IndexKey, v.SigningSeed, v.DictKey}, v.Shards[0].Key) {
		if _, err := crypto.OpenVault(context.Background(), vaultCopy, crypto.BackupWrapper(k)); err == nil {
			t.Error("a live key opens the expired backup")
		}
	}
	// Without a live store and with a fresh key-ring: no key.
	_, err = Restore(context.Background(), bytes.NewReader(buf.Bytes()), "r3", &RestoreOptions{RootKey: testKey(t), FS: fs, Clock: &fakeClock{t0}, KeyRing: KeyRingPath("db")})
	if !errors.Is(err, ErrNoBackupKey) {
		t.Errorf("restore with the refreshed key-ring: %v", err)
	}
	// The trade-off, documented: an old key-ring copy still opens it while the clock says
	// the term has not ended.
	_, err = Restore(context.Background(), bytes.NewReader(buf.Bytes()), "r4", &RestoreOptions{RootKey: testKey(t), FS: fs, Clock: &fakeClock{later}, KeyRing: "old-keyring"})
	if !errors.Is(err, ErrBackupExpired) {
		t.Errorf("restore with the old key-ring after the term: %v", err)
	}
}

func mustID(t *testing.T, s string) [crypto.BackupIDSize]byte {
	t.Helper()
	id, err := crypto.ParseBackupID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// archiveFile returns one file's bytes from an archive (unverified).
func archiveFile(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	ar, err := backupfmt.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	for {
		f, r, err := ar.Next()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == name {
			return data
		}
	}
}

func TestRestoreTamperedOrTruncated(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	backupWorld(t, s, "cust", 5, 2)
	var buf bytes.Buffer
	if _, err := s.Backup(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	archive := buf.Bytes()
	try := func(what string, data []byte) {
		t.Helper()
		o := restoreOpts(t, fs, t0)
		o.Live = "db"
		_, err := Restore(context.Background(), bytes.NewReader(data), "target", o)
		if err == nil {
			t.Errorf("%s: restored", what)
			_ = fs.RemoveAll("target")
			return
		}
		if strings.Contains(err.Error(), "cust-") {
			t.Errorf("%s: error names a customer: %v", what, err)
		}
		if _, err := fs.Stat("target/" + VaultFile); err == nil {
			t.Errorf("%s: a store appeared", what)
		}
		if _, err := fs.Stat(restoreTemp(fs, "target")); err == nil {
			t.Errorf("%s: temporary dir left", what)
		}
	}
	for _, n := range []int{0, 1, 10, len(archive) / 3, len(archive) / 2, len(archive) - 100, len(archive) - 1} {
		try(fmt.Sprintf("truncated to %d", n), archive[:n])
	}
	step := max(1, len(archive)/150)
	for i := 0; i < len(archive); i += step {
		d := bytes.Clone(archive)
		d[i] ^= 0x20
		try(fmt.Sprintf("byte %d changed", i), d)
	}
	try("last byte changed", append(bytes.Clone(archive[:len(archive)-1]), archive[len(archive)-1]^1))
	try("appended", append(bytes.Clone(archive), 0, 1, 2))
}

// TestBackupDuringErasures: erasures run while backups are taken; every backup restores
// to a consistent store (each customer whole or erased, never unreadable), and with the
// live ledger every erased customer stays erased.
func TestBackupDuringErasures(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	world := backupWorld(t, s, "cust", 30, 2)
	done := make(chan struct{})
	erased := make(chan string, 30)
	go func() {
		defer close(done)
		for i := 0; i < 30; i += 2 {
			cu := fmt.Sprintf("cust-%d", i)
			if _, err := s.Erase(context.Background(), cu, ""); err != nil {
				t.Error(err)
				return
			}
			erased <- cu
		}
	}()
	var archives [][]byte
	for range 4 {
		var buf bytes.Buffer
		if _, err := s.Backup(context.Background(), &buf, nil); err != nil {
			t.Fatal(err)
		}
		archives = append(archives, buf.Bytes())
	}
	<-done
	close(erased)
	s.Close()
	gone := map[string]bool{}
	for cu := range erased {
		gone[cu] = true
	}
	for i, a := range archives {
		for _, withLedger := range []bool{false, true} {
			o := restoreOpts(t, fs, t0)
			if withLedger {
				o.Live = "db"
			} else {
				o.KeyRing = KeyRingPath("db")
			}
			target := fmt.Sprintf("r-%d-%v", i, withLedger)
			if _, err := Restore(context.Background(), bytes.NewReader(a), target, o); err != nil {
				t.Fatalf("%s: %v", target, err)
			}
			r := reopen(t, fs, target, t0)
			for cu, want := range world {
				got, err := collect(t, r, cu, TimeRange{})
				switch {
				case isGone(err) && len(got) == 0:
					if !gone[cu] {
						t.Errorf("%s: %s, never erased, is gone", target, cu)
					}
				case err != nil:
					t.Errorf("%s: %s: %v", target, cu, err)
				case withLedger && gone[cu]:
					t.Errorf("%s: %s came back despite the ledger", target, cu)
				default:
					sameContacts(t, target+": "+cu, got, want)
				}
			}
			r.Close()
		}
	}
}

// Stats lists backups with their state: live while the term runs, expired once the expirer
// destroyed the key.
func TestStatsListBackups(t *testing.T) {
	mem := vfs.NewMem()
	o := testOptions(t, mem)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o.Clock = clock
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Put(ctx, []Contact{mkContact("k", 1)}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil || len(st.Backups) != 0 {
		t.Fatalf("stats before any backup: %v %v", st.Backups, err)
	}
	info, err := s.Backup(ctx, io.Discard, &BackupOptions{Term: "P7D"})
	if err != nil {
		t.Fatal(err)
	}
	st, _ = s.Stats(ctx)
	if len(st.Backups) != 1 || st.Backups[0].ID != info.ID || st.Backups[0].State != "live" {
		t.Fatalf("stats after a backup: %+v", st.Backups)
	}
	clock.t = clock.t.AddDate(0, 0, 8)
	if _, err := s.Expire(ctx, clock.t); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Stats(ctx)
	if len(st.Backups) != 1 || st.Backups[0].State != "expired" {
		t.Fatalf("stats after the term: %+v", st.Backups)
	}
}
