package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestEraseBasics(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	ctx := context.Background()
	var cs []Contact
	for i := range 30 {
		for _, c := range []string{"anna", "bram", "cor"} {
			cs = append(cs, mkContact(c, i))
		}
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	before := s.vault.Load().Generation
	rc, err := s.Erase(ctx, "bram", "Art. 17 request 1")
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Verify(s.PublicKey()); err != nil {
		t.Fatalf("receipt does not verify: %v", err)
	}
	if rc.Customer != s.Pseudonym("bram") || rc.Destroyed.Records != 30 || rc.VaultBefore != before || rc.VaultAfter != before+1 {
		t.Fatalf("receipt: %+v", rc)
	}
	if _, err := collect(t, s, "bram", TimeRange{}); !errors.Is(err, ErrErased) {
		t.Fatalf("read of an erased customer: %v", err)
	}
	for _, c := range []string{"anna", "cor"} {
		got, err := collect(t, s, c, TimeRange{})
		if err != nil || len(got) != 30 {
			t.Fatalf("%s after erasure: %d, %v", c, len(got), err)
		}
	}
	if _, err := s.Erase(ctx, "bram", ""); !errors.Is(err, ErrErased) {
		t.Fatalf("second erasure: %v", err)
	}
	if _, err := s.Erase(ctx, "nobody", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown customer: %v", err)
	}
	st, _ := s.Stats(ctx)
	if st.Contacts != 60 || st.Customers != 2 {
		t.Fatalf("stats after erasure: %d contacts, %d customers", st.Contacts, st.Customers)
	}
	rep, err := s.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries == 0 {
		t.Fatal("empty audit log")
	}
	// Erasing the same customer again after a new ingest creates a new customer key.
	if _, err := s.Put(ctx, []Contact{mkContact("bram", 99)}); err != nil {
		t.Fatal(err)
	}
	if got, err := collect(t, s, "bram", TimeRange{}); err != nil || len(got) != 1 {
		t.Fatalf("new contact of a once-erased customer: %d %v", len(got), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, fs)
	defer s.Close()
	for _, c := range []string{"anna", "cor"} {
		got, err := collect(t, s, c, TimeRange{})
		if err != nil || len(got) != 30 {
			t.Fatalf("%s after reopen: %d, %v", c, len(got), err)
		}
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
}

func TestConcurrentErasuresBatch(t *testing.T) {
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	ctx := context.Background()
	var cs []Contact
	for i := range 40 {
		cs = append(cs, mkContact(fmt.Sprintf("k%02d", i), i))
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 40)
	for i := range 40 {
		go func() {
			rc, err := s.Erase(ctx, fmt.Sprintf("k%02d", i), "")
			if err == nil {
				err = rc.Verify(s.PublicKey())
			}
			errs <- err
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st, _ := s.Stats(ctx)
	if st.Contacts != 0 || st.Customers != 0 {
		t.Fatalf("after erasing all: %+v", st)
	}
	if g := s.vault.Load().Generation; g >= 40 {
		t.Logf("vault generation %d: erasures were not batched", g)
	}
}
