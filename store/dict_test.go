package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestDictionaryTrainedAndUsed ingests contacts of more customers than the dictionary needs,
// checks that a dictionary is trained, persisted and used, and that records written before
// and after it read back intact, also after a reopen.
func TestDictionaryTrainedAndUsed(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	ctx := context.Background()
	var all []Contact
	for i := range dictSamples + 500 {
		c := mkContact(fmt.Sprintf("cust-%05d", i), i)
		c.Body = fmt.Sprintf("Beste klantenservice,\nMijn bestelling %d is nog niet aangekomen. Kunt u mij laten weten waar het pakket blijft? "+
			"Ik heb al twee keer gebeld maar niemand kon mij helpen.\nMet vriendelijke groet,\nKlant %d", i*31, i)
		all = append(all, c)
	}
	for lo := 0; lo < len(all); lo += 500 {
		if _, err := s.Put(ctx, all[lo:min(lo+500, len(all))]); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.dicts.current.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no dictionary was trained")
		}
		time.Sleep(10 * time.Millisecond)
	}
	later := mkContact("cust-late", 1)
	later.Body = all[0].Body
	if _, err := s.Put(ctx, []Contact{later}); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		for _, c := range append(all[:3:3], all[len(all)-3:]...) {
			got, err := collect(t, s, c.Customer, TimeRange{})
			if err != nil || len(got) != 1 || got[0].Body != c.Body {
				t.Fatalf("%s: %v %v", c.Customer, err, got)
			}
		}
		got, err := collect(t, s, "cust-late", TimeRange{})
		if err != nil || len(got) != 1 || got[0].Body != later.Body {
			t.Fatalf("record sealed with the dictionary: %v %v", err, got)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, fs)
	defer s.Close()
	if s.dicts.current.Load() == nil {
		t.Fatal("dictionary not loaded on reopen")
	}
	if s.dicts.collecting.Load() {
		t.Fatal("still collecting samples with a dictionary in place")
	}
	check(s)
}
