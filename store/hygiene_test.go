package store

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestHygieneLeavesNoSealedBytes measures what of an erased customer remains in the live
// files after the background clean-up: none of their sealed record values may be found in
// any file under DIR/pebble (WAL, tables, MANIFEST). The guarantee does not rest on this —
// the data key is gone — but the bytes should leave the live files too.
func TestHygieneLeavesNoSealedBytes(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, vfs.Default)
	o.Compression = "none"
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for b := range 5 {
		var cs []Contact
		for i := range 200 {
			for _, c := range []string{"weg", "blijft-1", "blijft-2"} {
				cs = append(cs, mkContact(c, b*1000+i))
			}
		}
		if _, err := s.Put(ctx, cs); err != nil {
			t.Fatal(err)
		}
		if b%2 == 0 {
			if err := s.Flush(); err != nil { // spread the data over several tables
				t.Fatal(err)
			}
		}
	}
	// Collect the sealed values of the customer to be erased, straight from Pebble.
	cu, err := s.lookupCustomer("weg", false)
	if err != nil {
		t.Fatal(err)
	}
	var sealed [][]byte
	lo, hi := keys.RecordRange(keys.NoExpiry, cu.key.Prefix, 0, ^uint64(0))
	it, _ := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		sealed = append(sealed, bytes.Clone(v[len(v)-24:])) // the tag and the end of the ciphertext
	}
	it.Close()
	if len(sealed) != 1000 {
		t.Fatalf("%d sealed records", len(sealed))
	}
	count := func() (files, hits int) {
		_ = filepath.WalkDir(filepath.Join(dir, PebbleDir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil // a file compacted away meanwhile
			}
			files++
			for _, v := range sealed {
				if bytes.Contains(data, v) {
					hits++
				}
			}
			return nil
		})
		return
	}
	_, before := count()
	// A compaction may replace a file between the walk and the read; look again then.
	for try := 0; before < len(sealed) && try < 50; try++ {
		time.Sleep(20 * time.Millisecond)
		_, before = count()
	}
	if before < len(sealed) {
		t.Fatalf("only %d of %d sealed values found before erasure: the probe is broken", before, len(sealed))
	}
	if _, err := s.Erase(ctx, "weg", ""); err != nil {
		t.Fatal(err)
	}
	s.WaitHygiene()
	files, after := count()
	t.Logf("sealed values of the erased customer in live files: %d before, %d after clean-up (%d files)", before, after, files)
	if after != 0 {
		t.Fatalf("%d sealed values of the erased customer remain in the live files", after)
	}
	for _, c := range []string{"blijft-1", "blijft-2"} {
		got, err := collect(t, s, c, TimeRange{})
		if err != nil || len(got) != 1000 {
			t.Fatalf("%s: %d %v", c, len(got), err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
