package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// Faults on the write paths the WAL and vault tests do not reach: Pebble's background
// flushes and compactions (sstables, MANIFEST), the erasure ledger during an erasure, and the
// vault during expiry. In each, the failing operation reports what failed (or, for Pebble's
// background work, the store keeps going once the fault is gone), nothing acknowledged is
// lost, and an erasure is never half done.

// TestFaultFlushAndCompaction fails every sstable and MANIFEST write while contacts are put
// and flushed. Pebble retries background work; once the disk recovers, the flush completes
// and every acknowledged contact is there, also after a crash.
func TestFaultFlushAndCompaction(t *testing.T) {
	for _, target := range []struct {
		name  string
		match func(errorfs.Op) bool
	}{
		{"sstable writes", func(o errorfs.Op) bool { return isWrite(o.Kind) && strings.HasSuffix(o.Path, ".sst") }},
		{"sstable creates", func(o errorfs.Op) bool { return o.Kind == errorfs.OpCreate && strings.HasSuffix(o.Path, ".sst") }},
		// (A failed MANIFEST write is fatal to Pebble by design — it calls Logger.Fatalf, and
		// the process dies as in a crash, which the crash-clone tests cover; a library cannot
		// carry on after it, so it is not injected here.)
	} {
		for _, fe := range faultErrors {
			t.Run(target.name+"/"+fe.name, func(t *testing.T) {
				r := newLockedRand(crashSeed(t))
				mem := vfs.NewCrashableMem()
				inj := &faultInjector{}
				s := openTest(t, errorfs.Wrap(mem, inj))
				ctx := context.Background()
				var acked []*crashBatch
				inj.arm(target.match, fe.make)
				for i := range 4 {
					b := makeBatch(r, fmt.Sprintf("b%d", i), 8)
					// The WAL is healthy: Puts succeed while the background work fails.
					if _, err := s.Put(ctx, b.contacts); err != nil {
						t.Fatalf("put %d with failing background writes: %v", i, err)
					}
					acked = append(acked, b)
				}
				flushed := make(chan error, 1)
				go func() { flushed <- s.Flush() }()
				// Let the flush run into the fault (Pebble retries it), then heal the disk.
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					inj.mu.Lock()
					hits := inj.hits
					inj.mu.Unlock()
					if hits > 0 {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				if n := inj.disarm(); n == 0 {
					t.Fatal("the fault never fired: the test tests nothing")
				}
				select {
				case err := <-flushed:
					if err != nil {
						// A failed flush may be reported; the data must still be safe.
						checkErrText(t, "flush", err, nil, nil)
					}
				case <-time.After(2 * time.Minute):
					t.Fatal("Flush hangs after the disk recovered")
				}
				checkBatches(t, s, "after the recovered flush", acked, acked)
				crashed := mem.CrashClone(crashCfg(0, 0))
				if err := s.Close(); err != nil {
					t.Logf("close after recovered background faults: %v", err)
				}
				cs := openClone(t, crashed, "crash after the recovered flush", nil)
				checkBatches(t, cs, "crash after the recovered flush", acked, acked)
				checkUsable(t, cs, "crash after the recovered flush")
				cs.Close()
			})
		}
	}
}

// TestFaultErasureLedger fails the erasure ledger's writes and syncs during an erasure: the
// erasure either fails with an error naming the ledger and leaves the customer whole, or
// holds; after a reopen it is one or the other, never half.
func TestFaultErasureLedger(t *testing.T) {
	for _, op := range []struct {
		name string
		kind func(errorfs.OpKind) bool
	}{{"write", isWrite}, {"sync", isSync}} {
		for _, fe := range faultErrors {
			t.Run(op.name+"/"+fe.name, func(t *testing.T) {
				mem := vfs.NewCrashableMem()
				inj := &faultInjector{}
				s := openTest(t, errorfs.Wrap(mem, inj))
				ctx := context.Background()
				var cs []Contact
				for i := range 20 {
					cs = append(cs, mkContact("te-wissen", i), mkContact("blijft", i))
				}
				if _, err := s.Put(ctx, cs); err != nil {
					t.Fatal(err)
				}
				inj.arm(func(o errorfs.Op) bool {
					return op.kind(o.Kind) && strings.HasSuffix(o.Path, LedgerFile)
				}, fe.make)
				rc, err := s.Erase(ctx, "te-wissen", "verzoek")
				if n := inj.disarm(); n == 0 {
					t.Fatal("the fault never fired: the test tests nothing")
				}
				if err != nil {
					checkErrText(t, "erase with a failing ledger", err, []string{"ledger"}, []string{"te-wissen", "verzoek"})
					if got, err := collect(t, s, "te-wissen", TimeRange{}); err != nil || len(got) != 20 {
						t.Errorf("a failed erasure changed the customer: %d contacts, %v", len(got), err)
					}
				}
				crashed := mem.CrashClone(crashCfg(0, 0))
				_ = s.Close()
				for _, c := range []struct {
					what string
					fs   vfs.FS
				}{{"reopen", mem}, {"crash", crashed}} {
					rs := openClone(t, c.fs, c.what+" after the ledger fault", nil)
					got, gerr := collect(t, rs, "te-wissen", TimeRange{})
					switch {
					case errors.Is(gerr, ErrErased):
						if rc == nil && err == nil {
							t.Errorf("%s: erased without a receipt", c.what)
						}
						if rc != nil {
							if verr := rs.VerifyErasure(ctx, rc); verr != nil {
								t.Errorf("%s: the receipt does not verify: %v", c.what, verr)
							}
						}
					case gerr == nil && len(got) == 20:
						if err == nil {
							t.Errorf("%s: an acknowledged erasure did not hold", c.what)
						}
					default:
						t.Errorf("%s: half an erasure: %d contacts, %v", c.what, len(got), gerr)
					}
					if got, err := collect(t, rs, "blijft", TimeRange{}); err != nil || len(got) != 20 {
						t.Errorf("%s: the other customer: %d contacts, %v", c.what, len(got), err)
					}
					// The ledger works again: a new erasure succeeds.
					if _, err := rs.Erase(ctx, "blijft", ""); err != nil {
						t.Errorf("%s: erasure after the fault: %v", c.what, err)
					}
					rs.Close()
				}
			})
		}
	}
}

// TestFaultExpireVault fails the vault replacement that destroys expired buckets: Expire
// reports it, contacts past their term stay hidden, and a later run completes the expiry.
func TestFaultExpireVault(t *testing.T) {
	for _, fe := range faultErrors {
		t.Run(fe.name, func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			inj := &faultInjector{}
			o := testOptions(t, errorfs.Wrap(mem, inj))
			t0 := utc(2026, 1, 10, 9, 0, 0)
			clock := &fakeClock{t: t0}
			o.Clock = clock
			s, err := Open("db", o)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			setPolicy(t, s, `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`)
			mustPut(t, s,
				rc("kort", "k1", "chat", ChannelChat, t0),
				rc("lang", "l1", "", ChannelEmail, t0),
			)
			clock.t = dayEnd(t0.AddDate(0, 0, 30))
			inj.arm(func(o errorfs.Op) bool { return isWrite(o.Kind) && strings.HasSuffix(o.Path, vaultTemp) }, fe.make)
			_, err = s.Expire(ctx, clock.t)
			if n := inj.disarm(); n == 0 {
				t.Fatal("the fault never fired: the test tests nothing")
			}
			checkErrText(t, "expire with a failing vault write", err, []string{"key vault"}, []string{"kort"})
			wantIDs(t, s, "after the failed expiry", "kort") // past term: hidden all the same
			wantIDs(t, s, "after the failed expiry", "lang", "l1")
			res, err := s.Expire(ctx, clock.t)
			if err != nil || res.Contacts != 1 {
				t.Fatalf("expire after the fault: %+v, %v", res, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rs := openClone(t, mem.CrashClone(crashCfg(0, 0)), "crash after the retried expiry", func(o *Options) { o.Clock = clock })
			defer rs.Close()
			wantGone(t, rs, "crash after the retried expiry", "kort")
			wantIDs(t, rs, "crash after the retried expiry", "lang", "l1")
		})
	}
}

// TestFaultBackupFile fails the backup file's writes, sync and rename: BackupFile reports
// it, leaves no file (and no temporary) behind, and the store goes on; once the disk
// recovers a backup succeeds and restores.
func TestFaultBackupFile(t *testing.T) {
	for _, step := range []struct {
		name  string
		match func(errorfs.Op) bool
	}{
		{"write", func(o errorfs.Op) bool { return isWrite(o.Kind) && strings.Contains(o.Path, "backup.cs") }},
		{"sync", func(o errorfs.Op) bool { return isSync(o.Kind) && strings.Contains(o.Path, "backup.cs") }},
		{"rename", func(o errorfs.Op) bool { return o.Kind == errorfs.OpRename && strings.Contains(o.Path, "backup.cs") }},
	} {
		for _, fe := range faultErrors {
			t.Run(step.name+"/"+fe.name, func(t *testing.T) {
				mem := vfs.NewCrashableMem()
				inj := &faultInjector{}
				s := openTest(t, errorfs.Wrap(mem, inj))
				ctx := context.Background()
				var cs []Contact
				for i := range 30 {
					cs = append(cs, mkContact("bewaard", i))
				}
				if _, err := s.Put(ctx, cs); err != nil {
					t.Fatal(err)
				}
				if err := mem.MkdirAll("out", 0o700); err != nil {
					t.Fatal(err)
				}
				inj.arm(step.match, fe.make)
				_, err := s.BackupFile(ctx, "out/backup.cs", nil)
				if n := inj.disarm(); n == 0 {
					t.Fatal("the fault never fired: the test tests nothing")
				}
				checkErrText(t, "a backup whose file fails", err, []string{"backup"}, []string{"bewaard"})
				if names, _ := mem.List("out"); len(names) != 0 {
					t.Errorf("a failed backup left %v behind", names)
				}
				// The store goes on, and a backup now succeeds.
				if _, err := s.Put(ctx, []Contact{mkContact("bewaard", 99)}); err != nil {
					t.Fatalf("put after the failed backup: %v", err)
				}
				info, err := s.BackupFile(ctx, "out/backup.cs", nil)
				if err != nil {
					t.Fatalf("backup after the fault: %v", err)
				}
				if info.Files == 0 {
					t.Fatalf("backup after the fault: %+v", info)
				}
				checkConsistent(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				f, err := mem.Open("out/backup.cs")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				res, err := Restore(ctx, f, "elders", &RestoreOptions{RootKey: testKey(t), Live: "db", FS: mem,
					Clock: &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}})
				if err != nil {
					t.Fatalf("restore of the backup made after the fault: %v", err)
				}
				if res.Files == 0 {
					t.Errorf("restore: %+v", res)
				}
				o := testOptions(t, mem)
				o.CreateIfMissing = false
				rs, err := Open("elders", o)
				if err != nil {
					t.Fatalf("open the restored store: %v", err)
				}
				defer rs.Close()
				if got, err := collect(t, rs, "bewaard", TimeRange{}); err != nil || len(got) != 31 {
					t.Errorf("restored: %d contacts, %v; want 31", len(got), err)
				}
			})
		}
	}
}
