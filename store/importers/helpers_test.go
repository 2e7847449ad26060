package importers

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/store"

	"github.com/cockroachdb/pebble/v2/vfs"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func testKey() *crypto.RootKey {
	var k crypto.Key
	for i := range k {
		k[i] = byte(i * 7)
	}
	return crypto.NewRootKey(k, "test key")
}

func testOptions(fs vfs.FS) *store.Options {
	return &store.Options{
		RootKey:         testKey(),
		CreateIfMissing: true,
		FS:              fs,
		Clock:           fixedClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		Shards:          64,
		ExpiryInterval:  -1,
	}
}

// openMem opens a store in memory, closed at the end of the test.
func openMem(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open("db", testOptions(vfs.NewMem()))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// contactsOf returns one customer's contacts, nil when the store has none of theirs.
func contactsOf(t testing.TB, s *store.Store, customer string) []store.Contact {
	t.Helper()
	var out []store.Contact
	for c, err := range s.Contacts(context.Background(), customer, store.TimeRange{}) {
		if err != nil {
			return out
		}
		out = append(out, c)
	}
	return out
}

// byID returns the customer's contact with the id, or fails the test.
func byID(t testing.TB, s *store.Store, customer, id string) store.Contact {
	t.Helper()
	for _, c := range contactsOf(t, s, customer) {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("customer %s has no contact %s", customer, id)
	return store.Contact{}
}

func fixture(names ...string) []Input {
	ins := make([]Input, len(names))
	for i, n := range names {
		ins[i] = File(filepath.Join("testdata", n))
	}
	return ins
}

func positions(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Position()
	}
	return out
}

func stats(t testing.TB, s *store.Store) store.Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return st
}
