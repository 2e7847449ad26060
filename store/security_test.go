package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// snapshotTree returns every file under dir (recursively) with its contents, keyed by the
// path relative to dir; directories appear with a trailing slash and no contents.
func snapshotTree(t testing.TB, fs vfs.FS, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var walk func(rel string)
	walk = func(rel string) {
		names, err := fs.List(fs.PathJoin(dir, rel))
		if err != nil {
			t.Fatalf("listing %s: %v", rel, err)
		}
		for _, n := range names {
			p := n
			if rel != "" {
				p = rel + "/" + n
			}
			fi, err := fs.Stat(fs.PathJoin(dir, p))
			if err != nil {
				t.Fatalf("stat %s: %v", p, err)
			}
			if fi.IsDir() {
				out[p+"/"] = nil
				walk(p)
				continue
			}
			data, err := readAll(fs, fs.PathJoin(dir, p))
			if err != nil {
				t.Fatalf("reading %s: %v", p, err)
			}
			out[p] = data
		}
	}
	walk("")
	return out
}

func readAll(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func writeAll(t testing.TB, fs vfs.FS, path string, data []byte) {
	t.Helper()
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	// A copy: Pebble's MemFS scrambles the buffers it is given in race (invariants) builds.
	if _, err := f.Write(slices.Clone(data)); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		t.Fatal(err)
	}
}

func sameTree(t testing.TB, before, after map[string][]byte) {
	t.Helper()
	for p, b := range before {
		a, ok := after[p]
		if !ok {
			t.Errorf("%s disappeared", p)
		} else if !bytes.Equal(a, b) {
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
}

// openRawPebble opens a closed store's Pebble database directly, as an attacker or a
// damaged disk would present it.
func openRawPebble(t testing.TB, fs vfs.FS, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(fs.PathJoin(dir, PebbleDir), &pebble.Options{
		FS:                 fs,
		Merger:             counterMerger,
		FormatMajorVersion: pebble.FormatNewest,
		ErrorIfNotExists:   true,
		Logger:             quietLogger{slog.New(slog.NewTextHandler(io.Discard, nil))},
	})
	if err != nil {
		t.Fatalf("raw pebble open: %v", err)
	}
	return db
}

type rawKV struct{ k, v []byte }

// rawScan returns every key and value of kind in key order.
func rawScan(t testing.TB, db *pebble.DB, kind byte) []rawKV {
	t.Helper()
	lo, hi := keys.Kind(kind)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	var out []rawKV
	for it.First(); it.Valid(); it.Next() {
		out = append(out, rawKV{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func otherRootKey() *crypto.RootKey {
	var k crypto.Key
	for i := range k {
		k[i] = byte(255 - i)
	}
	return crypto.NewRootKey(k, "other key")
}

func TestWrongRootKeyChangesNothing(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, vfs.Default)
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := s.Put(context.Background(), []Contact{mkContact("sleutel-klant", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, vfs.Default, dir)
	if _, ok := before[VaultFile]; !ok {
		t.Fatalf("no %s in %v", VaultFile, slices.Collect(func(yield func(string) bool) {
			for p := range before {
				if !yield(p) {
					return
				}
			}
		}))
	}
	pass, err := crypto.NewPassphraseKey([]byte("correct horse battery"), crypto.Argon2Params{Time: 1, Memory: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		key    crypto.KeyWrapper
		create bool
	}{
		{"another key file", otherRootKey(), false},
		{"another key file, CreateIfMissing", otherRootKey(), true},
		{"a passphrase", pass, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := *opts
			o.RootKey, o.CreateIfMissing = tc.key, tc.create
			s, err := Open(dir, &o)
			if err == nil {
				s.Close()
				t.Fatal("opened with the wrong root key")
			}
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("error %v, want ErrWrongKey", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "contactstore: ") || !strings.Contains(msg, "key") {
				t.Fatalf("message %q should start with contactstore: and mention the key", msg)
			}
			sameTree(t, before, snapshotTree(t, vfs.Default, dir))
		})
	}
	// The right key still opens it, and everything is there.
	s, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := collect(t, s, "sleutel-klant", TimeRange{}); err != nil || len(got) != 20 {
		t.Fatalf("after wrong-key attempts: %d contacts, %v", len(got), err)
	}
}

func TestOpenWithoutStore(t *testing.T) {
	t.Run("empty directory", func(t *testing.T) {
		dir := t.TempDir()
		o := testOptions(t, vfs.Default)
		o.CreateIfMissing = false
		s, err := Open(dir, o)
		if err == nil {
			s.Close()
			t.Fatal("opened an empty directory")
		}
		if !errors.Is(err, ErrNotInitialized) {
			t.Fatalf("error %v, want ErrNotInitialized", err)
		}
		if names, _ := os.ReadDir(dir); len(names) != 0 {
			t.Fatalf("Open left %d files in an empty directory", len(names))
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		dir := vfs.Default.PathJoin(t.TempDir(), "nope")
		o := testOptions(t, vfs.Default)
		o.CreateIfMissing = false
		if _, err := Open(dir, o); !errors.Is(err, ErrNotInitialized) {
			t.Fatalf("error %v, want ErrNotInitialized", err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("Open created %s", dir)
		}
	})
	t.Run("mem", func(t *testing.T) {
		o := testOptions(t, vfs.NewMem())
		o.CreateIfMissing = false
		if _, err := Open("db", o); !errors.Is(err, ErrNotInitialized) {
			t.Fatalf("error %v, want ErrNotInitialized", err)
		}
	})
	t.Run("no root key", func(t *testing.T) {
		o := testOptions(t, vfs.NewMem())
		o.RootKey = nil
		if _, err := Open("db", o); err == nil {
			t.Fatal("opened without a root key")
		}
	})
}

func TestCorruptVaultNeverOpens(t *testing.T) {
	fs := vfs.NewMem()
	opts := testOptions(t, fs)
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), []Contact{mkContact("kluis", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := fs.PathJoin("db", VaultFile)
	orig, err := readAll(fs, path)
	if err != nil {
		t.Fatal(err)
	}
	// Regions of the vault file: magic and version; store id and generation (bound into the
	// wrapping as associated data); the wrapped vault key; the sealed body.
	const magicEnd, hdrEnd = 9, 9 + crypto.StoreIDSize + 8
	n, w := binary.Uvarint(orig[hdrEnd:])
	if w <= 0 {
		t.Fatal("cannot parse the wrapped key's length")
	}
	wrappedEnd := hdrEnd + w + int(n)
	region := func(i int) string {
		switch {
		case i < magicEnd:
			return "magic"
		case i < hdrEnd:
			return "header"
		case i < wrappedEnd:
			return "wrapped key"
		default:
			return "body"
		}
	}
	tryOpen := func(t *testing.T, data []byte) error {
		t.Helper()
		writeAll(t, fs, path, data)
		var s *Store
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Open panicked: %v", r)
				}
			}()
			s, err = Open("db", opts)
		}()
		if err == nil {
			s.Close()
			t.Fatal("a damaged vault opened")
		}
		return err
	}
	t.Run("every byte flipped", func(t *testing.T) {
		counts := map[string]int{}
		for i := range orig {
			for _, mask := range []byte{0x01, 0x80} {
				data := slices.Clone(orig)
				data[i] ^= mask
				err := tryOpen(t, data)
				r := region(i)
				counts[r]++
				corrupt, wrong := errors.Is(err, crypto.ErrVaultCorrupt), errors.Is(err, ErrWrongKey)
				switch {
				case r == "magic" || r == "body":
					if !corrupt {
						t.Fatalf("byte %d (%s) flipped: %v, want ErrVaultCorrupt", i, r, err)
					}
				default:
					if !corrupt && !wrong {
						t.Fatalf("byte %d (%s) flipped: %v, want ErrVaultCorrupt or ErrWrongKey", i, r, err)
					}
				}
			}
		}
		for _, r := range []string{"magic", "header", "wrapped key", "body"} {
			if counts[r] == 0 {
				t.Errorf("no byte of the %s region was tried", r)
			}
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for _, l := range []int{0, 1, magicEnd - 1, magicEnd, hdrEnd, hdrEnd + 1, wrappedEnd - 1, wrappedEnd, wrappedEnd + 10, len(orig) / 2, len(orig) - 17, len(orig) - 1} {
			err := tryOpen(t, orig[:l])
			if !errors.Is(err, crypto.ErrVaultCorrupt) && !errors.Is(err, ErrWrongKey) {
				t.Fatalf("vault truncated to %d bytes: %v", l, err)
			}
		}
	})
	t.Run("extended", func(t *testing.T) {
		err := tryOpen(t, append(slices.Clone(orig), 0))
		if !errors.Is(err, crypto.ErrVaultCorrupt) {
			t.Fatalf("vault with a trailing byte: %v", err)
		}
	})
	t.Run("pristine again", func(t *testing.T) {
		writeAll(t, fs, path, orig)
		s, err := Open("db", opts)
		if err != nil {
			t.Fatalf("restored vault: %v", err)
		}
		defer s.Close()
		if got, err := collect(t, s, "kluis", TimeRange{}); err != nil || len(got) != 1 {
			t.Fatalf("%d contacts, %v", len(got), err)
		}
	})
}

func TestCorruptRecordIsNeverReturned(t *testing.T) {
	const victim, bystander = "slachtoffer", "omstander"
	const damaged = 4 // index (in time order) of the record that is tampered with
	type fixture struct {
		fs        vfs.FS
		opts      *Options
		originals map[string]string // id → JSON, the victim's contacts
		times     []time.Time
		prefix    [keys.PrefixSize]byte
	}
	setup := func(t *testing.T) *fixture {
		f := &fixture{fs: vfs.NewMem(), originals: map[string]string{}}
		f.opts = testOptions(t, f.fs)
		s, err := Open("db", f.opts)
		if err != nil {
			t.Fatal(err)
		}
		var cs []Contact
		for i := range 10 {
			c := mkContact(victim, i)
			c.Body += strings.Repeat(" Ontvangen met dank.", i) // varied sizes, some compressed
			f.originals[c.ID] = mustJSON(t, expected(c, c.ID))
			f.times = append(f.times, c.Time)
			cs = append(cs, c, mkContact(bystander, i))
		}
		if _, err := s.Put(context.Background(), cs); err != nil {
			t.Fatal(err)
		}
		cu, err := s.lookupCustomer(victim, false)
		if err != nil {
			t.Fatal(err)
		}
		f.prefix = cu.key.Prefix
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return f
	}
	// victimRecords splits the records into the victim's and the bystander's, in key order.
	split := func(f *fixture, recs []rawKV) (mine, theirs []rawKV) {
		for _, r := range recs {
			pr, err := keys.ParseRecord(r.k)
			if err != nil {
				panic(err)
			}
			if pr.Prefix == f.prefix {
				mine = append(mine, r)
			} else {
				theirs = append(theirs, r)
			}
		}
		return mine, theirs
	}
	flip := func(pos func(n int) int) func(b *pebble.Batch, mine, theirs []rawKV) {
		return func(b *pebble.Batch, mine, _ []rawKV) {
			v := slices.Clone(mine[damaged].v)
			v[pos(len(v))] ^= 0x20
			_ = b.Set(mine[damaged].k, v, nil)
		}
	}
	cases := []struct {
		name   string
		tamper func(b *pebble.Batch, mine, theirs []rawKV)
	}{
		{"envelope version flipped", flip(func(int) int { return 0 })},
		{"codec flipped", flip(func(int) int { return 1 })},
		{"nonce flipped", flip(func(int) int { return 5 })},
		{"ciphertext flipped", flip(func(n int) int { return n / 2 })},
		{"tag flipped", flip(func(n int) int { return n - 1 })},
		{"truncated", func(b *pebble.Batch, mine, _ []rawKV) { _ = b.Set(mine[damaged].k, mine[damaged].v[:20], nil) }},
		{"header only", func(b *pebble.Batch, mine, _ []rawKV) { _ = b.Set(mine[damaged].k, mine[damaged].v[:2], nil) }},
		{"empty", func(b *pebble.Batch, mine, _ []rawKV) { _ = b.Set(mine[damaged].k, nil, nil) }},
		{"value of another record of the customer", func(b *pebble.Batch, mine, _ []rawKV) {
			_ = b.Set(mine[damaged].k, mine[7].v, nil)
		}},
		{"value of another customer's record", func(b *pebble.Batch, mine, theirs []rawKV) {
			_ = b.Set(mine[damaged].k, theirs[damaged].v, nil)
		}},
		{"record moved to another time", func(b *pebble.Batch, mine, _ []rawKV) {
			k := slices.Clone(mine[damaged].k)
			binary.BigEndian.PutUint64(k[21:29], binary.BigEndian.Uint64(k[21:29])+1)
			_ = b.Delete(mine[damaged].k, nil)
			_ = b.Set(k, mine[damaged].v, nil)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			db := openRawPebble(t, f.fs, "db")
			mine, theirs := split(f, rawScan(t, db, keys.KindRecord))
			if len(mine) != 10 || len(theirs) != 10 {
				t.Fatalf("found %d and %d records, want 10 each", len(mine), len(theirs))
			}
			b := db.NewBatch()
			tc.tamper(b, mine, theirs)
			if err := errors.Join(b.Commit(pebble.Sync), db.Close()); err != nil {
				t.Fatal(err)
			}

			s, err := Open("db", f.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var got []Contact
			var readErr error
			for c, err := range s.Contacts(context.Background(), victim, TimeRange{}) {
				if err != nil {
					readErr = err
					break
				}
				got = append(got, c)
			}
			if !errors.Is(readErr, ErrCorrupt) {
				t.Fatalf("read error %v, want ErrCorrupt", readErr)
			}
			if strings.Contains(readErr.Error(), victim) {
				t.Fatalf("error %q names the customer", readErr)
			}
			if len(got) != damaged {
				t.Fatalf("%d contacts before the error, want %d", len(got), damaged)
			}
			for _, c := range got {
				if mustJSON(t, c) != f.originals[c.ID] {
					t.Fatalf("returned a contact that differs from what was stored: %s", mustJSON(t, c))
				}
			}
			// Undamaged ranges and customers still read.
			if g, err := collect(t, s, victim, TimeRange{Until: f.times[damaged]}); err != nil || len(g) != damaged {
				t.Fatalf("range before the damage: %d, %v", len(g), err)
			}
			if g, err := collect(t, s, victim, TimeRange{Since: f.times[damaged+1]}); err != nil || len(g) != 10-damaged-1 {
				t.Fatalf("range after the damage: %d, %v", len(g), err)
			}
			if g, err := collect(t, s, bystander, TimeRange{}); err != nil || len(g) != 10 {
				t.Fatalf("bystander: %d, %v", len(g), err)
			}
		})
	}

	t.Run("customer key damaged", func(t *testing.T) {
		f := setup(t)
		db := openRawPebble(t, f.fs, "db")
		dks := rawScan(t, db, keys.KindDataKey)
		if len(dks) != 2 {
			t.Fatalf("%d data keys, want 2", len(dks))
		}
		for _, dk := range dks {
			v := slices.Clone(dk.v)
			v[len(v)/2] ^= 1
			if err := db.Set(dk.k, v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := Open("db", f.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got, err := collect(t, s, victim, TimeRange{})
		if !errors.Is(err, ErrCorrupt) || len(got) != 0 {
			t.Fatalf("%d contacts, %v; want ErrCorrupt", len(got), err)
		}
		// A put must not paper over the damage with a fresh key.
		if _, err := s.Put(context.Background(), []Contact{mkContact(victim, 99)}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("put for a customer with a damaged key: %v, want ErrCorrupt", err)
		}
	})
}

// plaintextHits reports which needles occur in any file (content or name) under dir.
func plaintextHits(t testing.TB, dir string, needles []string) []string {
	t.Helper()
	var hits []string
	tree := snapshotTree(t, vfs.Default, dir)
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, n := range needles {
			if bytes.Contains(tree[p], []byte(n)) || strings.Contains(p, n) {
				hits = append(hits, fmt.Sprintf("%q in %s", n, p))
			}
		}
	}
	return hits
}

// TestNoPlaintextOnDisk ingests distinctive personal data and then reads every byte of every
// file of the store, before and after compaction.
func TestNoPlaintextOnDisk(t *testing.T) {
	const customers, perCustomer = 100, 20
	type generated struct {
		contacts []Contact
		needles  []string // whole values
		markers  []string // fixed parts every value of a kind contains
	}
	gen := func() generated {
		var g generated
		for k := range customers {
			cust := fmt.Sprintf("KLANTNR-%05d-ZX", k)
			email := fmt.Sprintf("jan.de.vries%05d@geheim-voorbeeld.nl", k)
			phone := fmt.Sprintf("+31 6 5550 %04d", k)
			g.needles = append(g.needles, cust, email, phone)
			for i := range perCustomer {
				c := Contact{
					ID: fmt.Sprintf("TICKET-%05d-%03d", k, i), Customer: cust, Channel: ChannelEmail,
					Time:  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(k*perCustomer+i) * time.Minute),
					Email: email, Phone: phone, Agent: "Medewerker Pietersen",
					Subject: fmt.Sprintf("Onderwerp-Vertrouwelijk-%d-%d", k, i),
					Body: fmt.Sprintf("De pakketbezorger liet mijn doos %d-%d bij de buren achter, zeer onprettig. "+
						"Mijn IBAN is NL91ABNA0417164300 en mijn adres is Keizersgracht %d.", k, i, k),
					Tags: []string{"bezorgklacht"},
					Meta: []byte(fmt.Sprintf(`{"burgerservicenummer":"BSN%09d"}`, k)),
				}
				g.contacts = append(g.contacts, c)
				if i == 0 || i == perCustomer-1 {
					g.needles = append(g.needles, c.Subject, c.Body, c.ID)
				}
			}
		}
		g.markers = []string{
			"KLANTNR-", "klantnr-", "@geheim-voorbeeld.nl", "jan.de.vries", "+31 6 5550", "Vertrouwelijk",
			"vertrouwelijk", "pakketbezorger", "onprettig", "Keizersgracht", "NL91ABNA", "Pietersen",
			"bezorgklacht", "burgerservicenummer", "TICKET-",
		}
		return g
	}
	g := gen()
	needles := append(slices.Clone(g.needles), g.markers...)
	for _, tc := range []struct {
		name        string
		compression string
		smallMem    bool
	}{
		{"s2, all in the WAL", "s2", false},
		{"none, flushed to tables", "none", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions(t, vfs.Default)
			opts.Compression = tc.compression
			if tc.smallMem {
				opts.PebbleOptions = func(o *pebble.Options) { o.MemTableSize = 256 << 10 }
			}
			s, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			for lo := 0; lo < len(g.contacts); lo += 100 {
				if _, err := s.Put(context.Background(), g.contacts[lo:lo+100]); err != nil {
					t.Fatal(err)
				}
			}
			// The data is really there.
			if got, err := collect(t, s, g.contacts[0].Customer, TimeRange{}); err != nil || len(got) != perCustomer || got[0].Body != g.contacts[0].Body {
				t.Fatalf("read back: %d, %v", len(got), err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if hits := plaintextHits(t, dir, needles); len(hits) > 0 {
				t.Fatalf("plaintext on disk after close:\n%s", strings.Join(hits, "\n"))
			}
			if tc.smallMem {
				tree := snapshotTree(t, vfs.Default, dir)
				ssts := 0
				for p := range tree {
					if strings.HasSuffix(p, ".sst") {
						ssts++
					}
				}
				if ssts == 0 {
					t.Fatal("expected flushed tables with a small memtable")
				}
			}

			db := openRawPebble(t, vfs.Default, dir)
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := db.Compact(context.Background(), []byte{0}, []byte{0xff, 0xff}, false); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if hits := plaintextHits(t, dir, needles); len(hits) > 0 {
				t.Fatalf("plaintext on disk after compaction:\n%s", strings.Join(hits, "\n"))
			}

			// The scan finds plaintext when there is some.
			planted := vfs.Default.PathJoin(dir, PebbleDir, "planted.log")
			writeAll(t, vfs.Default, planted, []byte("xx"+g.contacts[7].Body+"yy"))
			if hits := plaintextHits(t, dir, needles); len(hits) == 0 {
				t.Fatal("the scan misses plaintext")
			}
			_ = os.Remove(planted)

			// And the store still opens after the raw compaction.
			s, err = Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, err := collect(t, s, g.contacts[len(g.contacts)-1].Customer, TimeRange{}); err != nil || len(got) != perCustomer {
				t.Fatalf("after compaction: %d, %v", len(got), err)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestLogsHoldNoPersonalData(t *testing.T) {
	var buf syncBuffer
	dir := t.TempDir()
	opts := testOptions(t, vfs.Default)
	opts.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.PebbleOptions = func(o *pebble.Options) { o.MemTableSize = 256 << 10 } // make Pebble flush and log
	secrets := []string{"LOGKLANT-4242", "geheim.adres@voorbeeld.nl", "+31 20 555 0199", "Onderwerp-LOG-Geheim", "Mijn hond heet Bello", "TICKETLOG"}
	ctx := context.Background()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var cs []Contact
	for i := range 1500 {
		cs = append(cs, Contact{
			ID: fmt.Sprintf("TICKETLOG-%d", i), Customer: secrets[0], Time: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
			Email: secrets[1], Phone: secrets[2], Subject: secrets[3], Body: secrets[4] + ". " + deterministicText(600, uint64(i)), Rating: 1 + i%10,
		})
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if got, err := collect(t, s, secrets[0], TimeRange{}); err != nil || len(got) != len(cs) {
		t.Fatalf("%d, %v", len(got), err)
	}
	// Errors the caller sees quote no input either.
	var errs []error
	_, err = collect(t, s, "ONBEKEND-"+secrets[0], TimeRange{})
	errs = append(errs, err)
	bad := cs[0]
	bad.Channel = secrets[3]
	_, err = s.Put(ctx, []Contact{bad})
	errs = append(errs, err)
	if _, err := s.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, s, secrets[0], TimeRange{Since: cs[100].Time}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	o := *opts
	o.RootKey = otherRootKey()
	_, err = Open(dir, &o)
	errs = append(errs, err)

	log := buf.String()
	if !strings.Contains(log, "store opened") {
		t.Fatalf("the logger was not used:\n%s", log)
	}
	for _, sec := range secrets {
		if strings.Contains(log, sec) || strings.Contains(strings.ToLower(log), strings.ToLower(sec)) {
			t.Errorf("log contains %q", sec)
		}
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		for _, sec := range secrets {
			if strings.Contains(err.Error(), sec) {
				t.Errorf("error %q contains %q", err, sec)
			}
		}
	}
}
