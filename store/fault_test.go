package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"testing"

	"contactstore/crypto"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// Fault tests: an errorfs file system fails chosen operations. The failing call must return
// an error that says what failed (and quotes no personal data), never panic; once the fault
// is gone the store reopens with every acknowledged contact intact.

// faultInjector fails every operation that match accepts, while armed, and counts them.
type faultInjector struct {
	mu    sync.Mutex
	match func(op errorfs.Op) bool
	err   func(op errorfs.Op) error
	hits  int
}

var _ errorfs.Injector = (*faultInjector)(nil)

func (f *faultInjector) String() string { return "faultInjector" }

func (f *faultInjector) MaybeError(op errorfs.Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.match == nil || !f.match(op) {
		return nil
	}
	f.hits++
	return f.err(op)
}

func (f *faultInjector) arm(match func(errorfs.Op) bool, mkErr func(errorfs.Op) error) {
	f.mu.Lock()
	f.match, f.err, f.hits = match, mkErr, 0
	f.mu.Unlock()
}

// disarm removes the fault and returns how many operations it failed.
func (f *faultInjector) disarm() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.match = nil
	return f.hits
}

// faultErrors are the errors injected: errorfs's own and a full disk.
var faultErrors = []struct {
	name string
	make func(op errorfs.Op) error
}{
	{"ErrInjected", func(errorfs.Op) error { return errorfs.ErrInjected }},
	{"ENOSPC", func(op errorfs.Op) error {
		return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
	}},
}

func opIs(kinds ...errorfs.OpKind) func(errorfs.OpKind) bool {
	return func(k errorfs.OpKind) bool {
		for _, want := range kinds {
			if k == want {
				return true
			}
		}
		return false
	}
}

var (
	isWrite = opIs(errorfs.OpFileWrite, errorfs.OpFileWriteAt)
	isSync  = opIs(errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo)
)

// checkErrText checks that err is a store error and quotes none of the given values.
func checkErrText(t *testing.T, what string, err error, wantWords []string, secrets []string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "contactstore: ") {
		t.Errorf("%s: error does not start with the store's prefix: %q", what, msg)
	}
	for _, w := range wantWords {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: error does not say %q: %q", what, w, msg)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("%s: error quotes personal data %q: %q", what, s, msg)
		}
	}
}

// secretsOf lists the personal data in a batch, which no error may quote.
func secretsOf(b *crashBatch) []string {
	var out []string
	for _, c := range b.contacts {
		out = append(out, c.Customer, c.Subject, c.Body, c.Email)
	}
	return out
}

func TestFaultWAL(t *testing.T) {
	for _, op := range []struct {
		name  string
		kind  func(errorfs.OpKind) bool
		wrote bool // the failed batch's bytes reached the file
	}{
		{"write", isWrite, false},
		{"sync", isSync, true},
	} {
		for _, fe := range faultErrors {
			t.Run(op.name+"/"+fe.name, func(t *testing.T) {
				r := newLockedRand(crashSeed(t))
				mem := vfs.NewCrashableMem()
				inj := &faultInjector{}
				s := openTest(t, errorfs.Wrap(mem, inj))
				ctx := context.Background()
				var acked []*crashBatch
				for i := range 3 {
					b := makeBatch(r, fmt.Sprintf("ok%d", i), 6)
					if _, err := s.Put(ctx, b.contacts); err != nil {
						t.Fatal(err)
					}
					acked = append(acked, b)
				}
				failed := makeBatch(r, "failed", 6)
				failed.contacts = append(failed.contacts, mkContact("only-in-failed", 1))
				inj.arm(func(o errorfs.Op) bool {
					return op.kind(o.Kind) && strings.HasSuffix(o.Path, ".log")
				}, fe.make)
				_, err := s.Put(ctx, failed.contacts)
				checkErrText(t, "the failing Put", err, []string{"commit"}, secretsOf(failed))
				// Pebble cannot commit after a WAL failure: later Puts must fail too, not
				// hang or panic, and not pretend to succeed.
				later := makeBatch(r, "later", 6)
				_, err = s.Put(ctx, later.contacts)
				checkErrText(t, "a Put after the failure", err, []string{"commit"}, secretsOf(later))
				if n := inj.disarm(); n == 0 {
					t.Fatal("the fault never fired: the test tests nothing")
				}
				// What a crash right now would leave: only what was synced.
				crashed := mem.CrashClone(crashCfg(0, 0))
				_ = s.Close() // may report the WAL failure again; must not hang

				all := append(append([]*crashBatch{}, acked...), failed, later)
				cs := openClone(t, crashed, "crash after the failure", nil)
				seen := checkBatches(t, cs, "crash after the failure", all, acked)
				if seen[failed] || seen[later] {
					t.Errorf("crash after the failure: a failed Put is readable")
				}
				cs.Close()

				// Reopen the same files, fault removed.
				s = openClone(t, mem, "reopen after the failure", nil)
				defer s.Close()
				seen = checkBatches(t, s, "reopen after the failure", all, acked)
				if seen[later] {
					t.Errorf("reopen: the Put after the failure is readable")
				}
				if seen[failed] && !op.wrote {
					t.Errorf("reopen: the failed Put is readable though its bytes never reached the WAL")
				}
				// A failed fsync leaves the outcome open (its bytes may be on disk); it must
				// still be all or nothing, which checkBatches checked.
				checkUsable(t, s, "reopen after the failure")
			})
		}
	}
}

func TestFaultVaultUpdate(t *testing.T) {
	const dir = "db"
	tmpPath, vaultPath := path.Join(dir, vaultTemp), path.Join(dir, VaultFile)
	for _, step := range []struct {
		name        string
		match       func(errorfs.Op) bool
		afterRename bool // the new vault may already be in place
	}{
		{"create temp", func(o errorfs.Op) bool { return o.Kind == errorfs.OpCreate && o.Path == tmpPath }, false},
		{"write temp", func(o errorfs.Op) bool { return isWrite(o.Kind) && o.Path == tmpPath }, false},
		{"sync temp", func(o errorfs.Op) bool { return isSync(o.Kind) && o.Path == tmpPath }, false},
		{"rename", func(o errorfs.Op) bool { return o.Kind == errorfs.OpRename && o.Path == tmpPath }, false},
		{"open dir", func(o errorfs.Op) bool { return o.Kind == errorfs.OpOpenDir && o.Path == dir }, true},
		{"sync dir", func(o errorfs.Op) bool { return isSync(o.Kind) && o.Path == dir }, true},
	} {
		for _, fe := range faultErrors {
			t.Run(step.name+"/"+fe.name, func(t *testing.T) {
				r := newLockedRand(crashSeed(t))
				mem := vfs.NewCrashableMem()
				inj := &faultInjector{}
				s := openTest(t, errorfs.Wrap(mem, inj))
				ctx := context.Background()
				b := makeBatch(r, "before", 4)
				if _, err := s.Put(ctx, b.contacts); err != nil {
					t.Fatal(err)
				}
				acked := []*crashBatch{b}
				g := s.vault.Load().Generation
				const bucket = 1001
				inj.arm(step.match, fe.make)
				err := s.updateVault(ctx, func(v *crypto.Vault) error {
					v.Buckets[bucket] = crypto.MustNewKey()
					return nil
				})
				if n := inj.disarm(); n == 0 {
					t.Fatal("the fault never fired: the test tests nothing")
				}
				checkErrText(t, "the failing vault update", err, []string{"key vault"}, nil)
				// The store runs with the vault on disk: the old one, or the new one once it
				// was renamed into place (a later write must not revert it).
				want := g
				if step.afterRename {
					want = g + 1
				}
				if v := s.vault.Load(); v.Generation != want {
					t.Errorf("failed update: the store runs with vault generation %d, want %d", v.Generation, want)
				}
				if !step.afterRename {
					if _, err := mem.Stat(tmpPath); err == nil {
						t.Errorf("failed update left %s behind", vaultTemp)
					}
				}
				// A crash now leaves the old vault, or (once renamed) possibly the new one.
				checkVaultClone(t, mem.CrashClone(crashCfg(0, 0)), "crash after the failed update", g, bucket, false, acked)
				if !step.afterRename {
					cs := openClone(t, mem.CrashClone(crashCfg(100, 1)), "crash after the failed update (100% unsynced)", nil)
					if gen := cs.vault.Load().Generation; gen != g {
						t.Errorf("failed before the rename, yet the vault has generation %d, want %d", gen, g)
					}
					cs.Close()
				}

				// Fault gone: the update, retried, succeeds and is durable.
				if step.afterRename {
					g++ // the failed update counted
				}
				if err := s.updateVault(ctx, func(v *crypto.Vault) error {
					v.Buckets[bucket] = crypto.MustNewKey()
					return nil
				}); err != nil {
					t.Fatalf("update after the fault: %v", err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				checkVaultClone(t, mem.CrashClone(crashCfg(0, 0)), "crash after the retried update", g, bucket, true, acked)
				if _, err := mem.Stat(vaultPath); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestFaultOpen fails one operation of Open at a time: Open returns an error and holds
// nothing (no lock) so that, once the fault is gone, the store opens with its data.
func TestFaultOpen(t *testing.T) {
	type target struct {
		name  string
		match func(errorfs.Op) bool
		want  string
	}
	hasSuffix := func(kind func(errorfs.OpKind) bool, suffix string) func(errorfs.Op) bool {
		return func(o errorfs.Op) bool { return kind(o.Kind) && strings.HasSuffix(o.Path, suffix) }
	}
	isOpen, isRead := opIs(errorfs.OpOpen), opIs(errorfs.OpFileRead, errorfs.OpFileReadAt)
	targets := []target{
		{"open vault", hasSuffix(isOpen, "/"+VaultFile), "key vault"},
		{"read vault", hasSuffix(isRead, "/"+VaultFile), "key vault"},
		{"lock", hasSuffix(opIs(errorfs.OpLock), "/LOCK"), "lock"},
		{"remove stale temp vault", hasSuffix(opIs(errorfs.OpRemove), "/"+vaultTemp), "temporary vault"},
		{"open manifest", func(o errorfs.Op) bool {
			return o.Kind == errorfs.OpOpen && strings.Contains(o.Path, "/MANIFEST-")
		}, PebbleDir},
		{"read WAL", func(o errorfs.Op) bool { return isRead(o.Kind) && strings.HasSuffix(o.Path, ".log") }, PebbleDir},
		{"list pebble dir", func(o errorfs.Op) bool {
			return o.Kind == errorfs.OpList && strings.HasSuffix(o.Path, PebbleDir)
		}, PebbleDir},
	}
	for _, tg := range targets {
		for _, fe := range faultErrors {
			t.Run(tg.name+"/"+fe.name, func(t *testing.T) {
				r := newLockedRand(crashSeed(t))
				mem := vfs.NewMem()
				inj := &faultInjector{}
				fs := errorfs.Wrap(mem, inj)
				s := openTest(t, fs)
				b := makeBatch(r, "before", 4)
				if _, err := s.Put(context.Background(), b.contacts); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				// A stale temporary vault, as a crash during a replacement leaves it.
				f, err := mem.Create(path.Join("db", vaultTemp), vfs.WriteCategoryUnspecified)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = f.Write([]byte("half a vault"))
				f.Close()

				inj.arm(tg.match, fe.make)
				s2, err := Open("db", testOptions(t, fs))
				hits := inj.disarm()
				if err == nil {
					s2.Close()
					t.Fatalf("Open succeeded despite %d injected failures", hits)
				}
				if hits == 0 {
					t.Fatalf("the fault never fired (Open said %v)", err)
				}
				checkErrText(t, "the failing Open", err, []string{tg.want}, nil)
				s = openClone(t, fs, "open after the fault", nil)
				checkBatches(t, s, "open after the fault", []*crashBatch{b}, []*crashBatch{b})
				checkUsable(t, s, "open after the fault")
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestFaultOpenRandomReads fails random reads during Open under many seeds: Open succeeds
// or fails cleanly, and never damages the store.
func TestFaultOpenRandomReads(t *testing.T) {
	r := newLockedRand(crashSeed(t))
	mem := vfs.NewMem()
	inj := &faultInjector{}
	fs := errorfs.Wrap(mem, inj)
	s := openTest(t, fs)
	var acked []*crashBatch
	for i := range 3 {
		b := makeBatch(r, fmt.Sprintf("b%d", i), 6)
		if _, err := s.Put(context.Background(), b.contacts); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	failures := 0
	for i := range 40 {
		perMille := 1 + i*i/8 // from rare to frequent read failures
		inj.arm(func(o errorfs.Op) bool {
			return o.Kind.ReadOrWrite() == errorfs.OpIsRead && r.IntN(1000) < perMille
		}, faultErrors[i%2].make)
		s, err := Open("db", testOptions(t, fs))
		inj.disarm()
		if err != nil {
			failures++
			checkErrText(t, fmt.Sprintf("round %d", i), err, nil, secretsOf(acked[0]))
			continue
		}
		checkBatches(t, s, fmt.Sprintf("round %d: opened despite read faults", i), acked, acked)
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", i, err)
		}
	}
	t.Logf("%d of 40 opens failed", failures)
	s = openClone(t, fs, "open after the faults", nil)
	checkBatches(t, s, "open after the faults", acked, acked)
	s.Close()
}

// TestFaultCreate fails each step of creating a store: Open returns an error, and a retry
// without the fault creates the store.
func TestFaultCreate(t *testing.T) {
	for _, tg := range []struct {
		name  string
		match func(errorfs.Op) bool
	}{
		{"mkdir", func(o errorfs.Op) bool { return o.Kind == errorfs.OpMkdirAll }},
		{"pebble create", func(o errorfs.Op) bool {
			return o.Kind == errorfs.OpCreate && strings.Contains(o.Path, "/"+PebbleDir+"/")
		}},
		{"write WAL", func(o errorfs.Op) bool { return isWrite(o.Kind) && strings.HasSuffix(o.Path, ".log") }},
		{"write temp vault", func(o errorfs.Op) bool { return isWrite(o.Kind) && strings.HasSuffix(o.Path, vaultTemp) }},
		{"rename vault", func(o errorfs.Op) bool { return o.Kind == errorfs.OpRename && strings.HasSuffix(o.Path, vaultTemp) }},
	} {
		t.Run(tg.name, func(t *testing.T) {
			mem := vfs.NewMem()
			inj := &faultInjector{}
			fs := errorfs.Wrap(mem, inj)
			inj.arm(tg.match, faultErrors[1].make)
			s, err := func() (s *Store, err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				return Open("db", testOptions(t, fs))
			}()
			if n := inj.disarm(); n == 0 {
				t.Fatalf("the fault never fired (Open said %v)", err)
			}
			if err == nil {
				s.Close()
				t.Fatal("Open created a store despite the fault")
			}
			checkErrText(t, "the failing create", err, nil, nil)
			if strings.Contains(err.Error(), "panic") {
				t.Fatalf("create panicked: %v", err)
			}
			s, err = Open("db", testOptions(t, fs))
			if err != nil {
				t.Fatalf("creating again after the fault: %v", err)
			}
			checkUsable(t, s, "created after the fault")
			s.Close()
		})
	}
}

// errorsAsPath is a sanity check of the ENOSPC error used above: callers of the store can
// still tell a full disk from other failures.
func TestFaultENOSPCIsVisible(t *testing.T) {
	mem := vfs.NewMem()
	inj := &faultInjector{}
	s := openTest(t, errorfs.Wrap(mem, inj))
	defer s.Close()
	inj.arm(func(o errorfs.Op) bool { return isWrite(o.Kind) && strings.HasSuffix(o.Path, vaultTemp) }, faultErrors[1].make)
	err := s.updateVault(context.Background(), func(*crypto.Vault) error { return nil })
	inj.disarm()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a full disk while writing the vault: errors.Is(err, ENOSPC) is false: %v", err)
	}
}

// TestFaultEraseVaultDirSync fails the directory sync that follows the rename of an
// erasure's new vault: the vault has landed, but updateVault reports an error. The store
// must go on with the vault that is on disk: the erased customer stays erased, and the
// other customers of the rotated shard stay readable and writable, before and after a
// reopen.
func TestFaultEraseVaultDirSync(t *testing.T) {
	mem := vfs.NewMem()
	var armed, renamed, failed bool
	var mu sync.Mutex
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !armed:
		case op.Kind == errorfs.OpRename && op.Path == path.Join("db", vaultTemp):
			renamed = true
		case renamed && !failed && isSync(op.Kind) && op.Path == "db":
			failed = true
			return errorfs.ErrInjected
		}
		return nil
	})
	s := openTest(t, errorfs.Wrap(mem, inj))
	ctx := context.Background()
	// bob shares alice's shard, so alice's erasure rewraps bob's data key.
	v := s.vault.Load()
	shard := crypto.ShardOf(s.pseudonym("alice"), len(v.Shards))
	bob := ""
	for i := 0; bob == ""; i++ {
		if c := fmt.Sprintf("bob-%d", i); crypto.ShardOf(s.pseudonym(c), len(v.Shards)) == shard {
			bob = c
		}
	}
	if _, err := s.Put(ctx, []Contact{mkContact("alice", 1), mkContact(bob, 1), mkContact(bob, 2)}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	armed = true
	mu.Unlock()
	_, err := s.Erase(ctx, "alice", "art. 17 request")
	mu.Lock()
	armed = false
	fired := failed
	mu.Unlock()
	if !fired {
		t.Fatal("the fault never fired")
	}
	t.Logf("Erase with a failed directory sync: %v", err)
	if got, err := collect(t, s, bob, TimeRange{}); err != nil || len(got) != 2 {
		t.Errorf("after the erasure, %s (same shard) reads %d contacts, %v; want 2", bob, len(got), err)
	}
	if _, err := s.Put(ctx, []Contact{mkContact(bob, 3)}); err != nil {
		t.Fatalf("put after the erasure: %v", err)
	}
	// Another vault write must not bring the old shard key back.
	if err := s.updateVault(ctx, func(v *crypto.Vault) error { v.Buckets[4242] = crypto.MustNewKey(); return nil }); err != nil {
		t.Fatal(err)
	}
	wantGen := s.vault.Load().Shards[shard].Gen
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openClone(t, mem, "reopen after the erasure", nil)
	defer s.Close()
	if g := s.vault.Load().Shards[shard].Gen; g != wantGen || g < 2 {
		t.Errorf("shard %d has generation %d on disk, want %d (rotated)", shard, g, wantGen)
	}
	if _, err := collect(t, s, "alice", TimeRange{}); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrErased) {
		t.Errorf("erased customer after reopen: %v", err)
	}
	if got, err := collect(t, s, bob, TimeRange{}); err != nil || len(got) != 3 {
		t.Errorf("after reopen, %s reads %d contacts, %v; want 3", bob, len(got), err)
	}
}
