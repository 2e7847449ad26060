package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"contactstore/crypto"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// fakeClock is a settable clock for tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func testKey(t testing.TB) *crypto.RootKey {
	t.Helper()
	var k crypto.Key
	for i := range k {
		k[i] = byte(i * 7)
	}
	return crypto.NewRootKey(k, "test key")
}

func testOptions(t testing.TB, fs vfs.FS) *Options {
	return &Options{
		RootKey:         testKey(t),
		CreateIfMissing: true,
		FS:              fs,
		Clock:           &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		Shards:          64,
		ExpiryInterval:  -1, // tests drive expiry with Expire and a fake clock
	}
}

func openTest(t testing.TB, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open("db", testOptions(t, fs))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func mkContact(customer string, i int) Contact {
	return Contact{
		ID:        fmt.Sprintf("c-%d", i),
		Customer:  customer,
		Time:      time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
		Channel:   ChannelEmail,
		Direction: DirectionInbound,
		Subject:   fmt.Sprintf("Vraag over bestelling %d", i),
		Body:      fmt.Sprintf("Beste klantenservice, mijn bestelling %d is niet aangekomen. Groet, %s", i, customer),
		Email:     customer + "@example.nl",
		Rating:    1 + i%10,
	}
}

func collect(t testing.TB, s *Store, customer string, r TimeRange) ([]Contact, error) {
	t.Helper()
	var out []Contact
	for c, err := range s.Contacts(context.Background(), customer, r) {
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
