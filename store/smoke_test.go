package store

import (
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestSmokeRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	var cs []Contact
	for i := range 50 {
		cs = append(cs, mkContact("alice", i), mkContact("bob", i))
	}
	res, err := s.Put(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 100 {
		t.Fatalf("added %d", res.Added)
	}
	got, err := collect(t, s, "alice", TimeRange{})
	if err != nil || len(got) != 50 {
		t.Fatalf("got %d, %v", len(got), err)
	}
	if mustJSON(t, got[3]) != mustJSON(t, func() Contact { c := mkContact("alice", 3); c.Category = "general"; return c }()) {
		t.Fatalf("mismatch %s", mustJSON(t, got[3]))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, fs)
	defer s.Close()
	got, err = collect(t, s, "bob", TimeRange{})
	if err != nil || len(got) != 50 {
		t.Fatalf("after reopen got %d, %v", len(got), err)
	}
	res, err = s.Put(context.Background(), cs[:10])
	if err != nil || res.Replaced != 10 || res.Added != 0 {
		t.Fatalf("re-put %+v %v", res, err)
	}
}
