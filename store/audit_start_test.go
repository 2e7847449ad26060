package store

import (
	"context"
	"errors"
	"testing"

	"contactstore/internal/audit"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestAuditOldestEntriesRemovedIsDetected: cutting the start of the audit log is caught like
// any other removal.
func TestAuditOldestEntriesRemovedIsDetected(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.Put(ctx, []Contact{mkContact("anna", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := openRawPebble(t, fs, "db")
	if err := db.Delete(keys.Audit(1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, fs)
	defer s.Close()
	if _, err := s.VerifyAudit(ctx); !errors.Is(err, audit.ErrCorrupt) {
		t.Fatalf("the first audit entry was removed and VerifyAudit said %v", err)
	}
}
