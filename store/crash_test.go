package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"contactstore/crypto"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Crash tests: an in-memory file system that can be cloned as it would look after a power
// failure at this instant (vfs.NewCrashableMem + CrashClone). A clone keeps everything that
// was synced and, with UnsyncedDataPercent > 0, a random part of what was not. Every clone
// must open, and hold every acknowledged contact intact.

// crashSeed returns a seed for the test's random choices, logged so that a failure can be
// replayed by setting CONTACTSTORE_CRASH_SEED.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CONTACTSTORE_CRASH_SEED"); s != "" {
		if _, err := fmt.Sscan(s, &seed); err != nil {
			t.Fatalf("CONTACTSTORE_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (set CONTACTSTORE_CRASH_SEED to replay)", seed)
	return seed
}

// lockedRand is a math/rand/v2 source safe for several goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// crashCfg returns a clone configuration: exactly what was synced (pct 0) or a random part
// of what was not. The RNG is private to the clone, so clones may be taken concurrently.
func crashCfg(pct int, seed uint64) vfs.CrashCloneCfg {
	cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: pct}
	if pct > 0 {
		cfg.RNG = rand.New(rand.NewPCG(seed, seed+1))
	}
	return cfg
}

// crashBatch is one Put: its contacts as the caller gave them.
type crashBatch struct {
	name     string
	contacts []Contact
}

// crashLedger records every attempted batch and, in order, those whose Put returned nil.
type crashLedger struct {
	mu    sync.Mutex
	all   []*crashBatch
	acked []*crashBatch
}

func (l *crashLedger) attempt(b *crashBatch) {
	l.mu.Lock()
	l.all = append(l.all, b)
	l.mu.Unlock()
}

func (l *crashLedger) ack(b *crashBatch) {
	l.mu.Lock()
	l.acked = append(l.acked, b)
	l.mu.Unlock()
}

// ackedSnapshot returns the batches acknowledged so far. Taken before a clone, it lists
// batches that were all durable when the clone was made.
func (l *crashLedger) ackedSnapshot() []*crashBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*crashBatch(nil), l.acked...)
}

// crashClone is a clone and what must be in it.
type crashClone struct {
	what  string
	fs    vfs.FS
	acked []*crashBatch
}

// stored returns c as the store gives it back (defaults filled in).
func stored(c Contact) Contact {
	if c.Category == "" {
		c.Category = DefaultCategory
	}
	return c
}

// openClone opens a crash clone with the store's root key; it must open.
func openClone(t *testing.T, fs vfs.FS, what string, mod func(*Options)) *Store {
	t.Helper()
	o := testOptions(t, fs)
	o.CreateIfMissing = false
	if mod != nil {
		mod(o)
	}
	s, err := Open("db", o)
	if err != nil {
		t.Fatalf("%s: the crashed store does not open: %v", what, err)
	}
	if _, err := fs.Stat(fs.PathJoin("db", vaultTemp)); err == nil {
		t.Errorf("%s: %s still there after Open", what, vaultTemp)
	}
	return s
}

// checkBatches reads every customer of every attempted batch from s and checks that each
// acknowledged batch is there intact, that no batch is there in part, and that nothing
// else is. It returns which batches are visible.
func checkBatches(t *testing.T, s *Store, what string, all, acked []*crashBatch) map[*crashBatch]bool {
	t.Helper()
	customers := map[string]bool{}
	want := map[string]string{} // customer\x00id → JSON of the contact
	for _, b := range all {
		for _, c := range b.contacts {
			customers[c.Customer] = true
			want[c.Customer+"\x00"+c.ID] = mustJSON(t, stored(c))
		}
	}
	mustHave := map[string]bool{}
	for _, b := range acked {
		for _, c := range b.contacts {
			mustHave[c.Customer] = true
		}
	}
	visible := map[string]bool{}
	for cust := range customers {
		got, err := collect(t, s, cust, TimeRange{})
		if errors.Is(err, ErrNotFound) && !mustHave[cust] {
			continue
		}
		if err != nil {
			t.Errorf("%s: reading a customer with acknowledged contacts: %v (after %d contacts)", what, err, len(got))
			continue
		}
		for _, c := range got {
			k := c.Customer + "\x00" + c.ID
			w, ok := want[k]
			if !ok {
				t.Errorf("%s: a contact nobody wrote: %s", what, c.ID)
				continue
			}
			if j := mustJSON(t, c); j != w {
				t.Errorf("%s: contact %s differs:\n got %s\nwant %s", what, c.ID, j, w)
			}
			visible[k] = true
		}
	}
	isAcked := map[*crashBatch]bool{}
	for _, b := range acked {
		isAcked[b] = true
	}
	seen := map[*crashBatch]bool{}
	for _, b := range all {
		n := 0
		for _, c := range b.contacts {
			if visible[c.Customer+"\x00"+c.ID] {
				n++
			}
		}
		switch {
		case isAcked[b] && n != len(b.contacts):
			t.Errorf("%s: acknowledged batch %s: %d of %d contacts readable", what, b.name, n, len(b.contacts))
		case n != 0 && n != len(b.contacts):
			t.Errorf("%s: batch %s is there in part: %d of %d contacts", what, b.name, n, len(b.contacts))
		}
		seen[b] = n > 0
	}
	return seen
}

// checkUsable writes to a recovered store and reads it back.
func checkUsable(t *testing.T, s *Store, what string) {
	t.Helper()
	c := mkContact("after-crash", 1)
	if _, err := s.Put(context.Background(), []Contact{c}); err != nil {
		t.Errorf("%s: Put after recovery: %v", what, err)
		return
	}
	got, err := collect(t, s, "after-crash", TimeRange{})
	if err != nil || len(got) != 1 {
		t.Errorf("%s: reading after recovery: %d contacts, %v", what, len(got), err)
	}
}

// makeBatch builds a batch of contacts of some pooled customers and, sometimes, one new
// customer of its own, so that batches both create customer keys and share them.
func makeBatch(r *lockedRand, name string, pool int) *crashBatch {
	b := &crashBatch{name: name}
	n := 1 + r.IntN(8)
	for i := range n {
		cust := fmt.Sprintf("cust-%02d", r.IntN(pool))
		if i == 0 && r.IntN(3) == 0 {
			cust = "solo-" + name
		}
		c := mkContact(cust, r.IntN(100000))
		c.ID = fmt.Sprintf("%s-%d", name, i)
		if r.IntN(4) == 0 {
			c.Tags = []string{"crash", name}
			c.Attachments = []Attachment{{Name: "a.bin", Type: "application/octet-stream", Data: []byte(strings.Repeat(name, 200))}}
		}
		b.contacts = append(b.contacts, c)
	}
	return b
}

func TestCrashDuringIngest(t *testing.T) {
	seed := crashSeed(t)
	r := newLockedRand(seed)
	mem := vfs.NewCrashableMem()
	s := openTest(t, mem)
	defer s.Close()

	const writers, batches = 4, 20
	var ledger crashLedger
	var clonesMu sync.Mutex
	var clones []crashClone
	takeClone := func(what string) {
		pct := 0
		if r.IntN(2) == 1 {
			pct = 1 + r.IntN(100)
		}
		acked := ledger.ackedSnapshot() // before the clone: all of these were durable
		c := mem.CrashClone(crashCfg(pct, uint64(r.IntN(1<<30))))
		clonesMu.Lock()
		clones = append(clones, crashClone{what: fmt.Sprintf("%s (%d%% unsynced)", what, pct), fs: c, acked: acked})
		clonesMu.Unlock()
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	var done atomic.Bool
	errc := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				b := makeBatch(r, fmt.Sprintf("w%d-b%d", w, i), 12)
				ledger.attempt(b)
				if _, err := s.Put(ctx, b.contacts); err != nil {
					errc <- fmt.Errorf("put %s: %w", b.name, err)
					return
				}
				ledger.ack(b)
				if w == 0 && i%5 == 4 {
					takeClone("between puts after " + b.name)
				}
			}
		}()
	}
	cloner := make(chan struct{})
	go func() {
		defer close(cloner)
		for n := 0; !done.Load(); n++ {
			time.Sleep(time.Duration(r.IntN(1500)) * time.Microsecond)
			takeClone(fmt.Sprintf("while putting #%d", n))
			if n >= 10 {
				return
			}
		}
	}()
	wg.Wait()
	done.Store(true)
	<-cloner
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	takeClone("after the last put")

	all := ledger.ackedSnapshot()
	if len(all) != writers*batches {
		t.Fatalf("%d batches acknowledged, want %d", len(all), writers*batches)
	}
	for _, c := range clones {
		if t.Failed() {
			break
		}
		cs := openClone(t, c.fs, c.what, nil)
		checkBatches(t, cs, c.what, all, c.acked)
		checkUsable(t, cs, c.what)
		if err := cs.Close(); err != nil {
			t.Errorf("%s: close: %v", c.what, err)
		}
	}
	t.Logf("%d clones checked", len(clones))
}

func TestCrashNoSync(t *testing.T) {
	seed := crashSeed(t)
	r := newLockedRand(seed)
	mem := vfs.NewCrashableMem()
	o := testOptions(t, mem)
	o.NoSync = true
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// One writer, so that the batches have one order and a crash can only lose a suffix.
	var ledger crashLedger
	var clones []crashClone
	var clonesMu sync.Mutex
	takeClone := func(what string) {
		pct := []int{0, 100, 1 + r.IntN(99)}[r.IntN(3)]
		acked := ledger.ackedSnapshot()
		c := mem.CrashClone(crashCfg(pct, uint64(r.IntN(1<<30))))
		clonesMu.Lock()
		clones = append(clones, crashClone{what: fmt.Sprintf("%s (%d%% unsynced)", what, pct), fs: c, acked: acked})
		clonesMu.Unlock()
	}
	stop := make(chan struct{})
	cloner := make(chan struct{})
	go func() {
		defer close(cloner)
		for n := 0; n < 8; n++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(r.IntN(1000)) * time.Microsecond):
			}
			takeClone(fmt.Sprintf("while putting #%d", n))
		}
	}()
	for i := range 60 {
		b := makeBatch(r, fmt.Sprintf("b%02d", i), 8)
		ledger.attempt(b)
		if _, err := s.Put(context.Background(), b.contacts); err != nil {
			t.Fatalf("put %s: %v", b.name, err)
		}
		ledger.ack(b)
		if i%10 == 9 {
			takeClone("between puts after " + b.name)
		}
	}
	close(stop)
	<-cloner
	takeClone("after the last put")

	all := ledger.ackedSnapshot()
	for _, c := range clones {
		if t.Failed() {
			break
		}
		cs := openClone(t, c.fs, c.what, func(o *Options) { o.NoSync = true })
		// NoSync may lose acknowledged batches: nothing must be there, but what is there
		// must be whole batches, and a prefix of them.
		seen := checkBatches(t, cs, c.what, all, nil)
		lost := ""
		for _, b := range all {
			switch {
			case !seen[b] && lost == "":
				lost = b.name
			case seen[b] && lost != "":
				t.Errorf("%s: batch %s survived but the earlier %s was lost", c.what, b.name, lost)
			}
		}
		checkUsable(t, cs, c.what)
		if err := cs.Close(); err != nil {
			t.Errorf("%s: close: %v", c.what, err)
		}
	}
	t.Logf("%d clones checked", len(clones))
}

// hookFS calls after() once each mutating operation on a path that match() accepts has
// succeeded: a way to crash deterministically between any two steps of a write path.
// It fires only between start and stop; calls to after are serialised (Pebble works from
// several goroutines), and none runs once stop has returned.
type hookFS struct {
	vfs.FS
	match func(path string) bool
	after func(op, path string)
	mu    sync.Mutex
	on    bool
}

func (h *hookFS) start() { h.set(true) }
func (h *hookFS) stop()  { h.set(false) }

func (h *hookFS) set(on bool) {
	h.mu.Lock()
	h.on = on
	h.mu.Unlock()
}

func (h *hookFS) fire(op, path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.on && (h.match == nil || h.match(path)) {
		h.after(op, path)
	}
}

func (h *hookFS) wrap(f vfs.File, path string) vfs.File { return &hookFile{File: f, fs: h, path: path} }

func (h *hookFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := h.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	h.fire("create", name)
	return h.wrap(f, name), nil
}

func (h *hookFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := h.FS.OpenReadWrite(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return h.wrap(f, name), nil
}

func (h *hookFS) OpenDir(name string) (vfs.File, error) {
	f, err := h.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return h.wrap(f, name), nil
}

func (h *hookFS) Rename(from, to string) error {
	if err := h.FS.Rename(from, to); err != nil {
		return err
	}
	h.fire("rename", from)
	return nil
}

func (h *hookFS) Remove(name string) error {
	if err := h.FS.Remove(name); err != nil {
		return err
	}
	h.fire("remove", name)
	return nil
}

func (h *hookFS) RemoveAll(name string) error {
	if err := h.FS.RemoveAll(name); err != nil {
		return err
	}
	h.fire("removeall", name)
	return nil
}

func (h *hookFS) MkdirAll(name string, perm os.FileMode) error {
	if err := h.FS.MkdirAll(name, perm); err != nil {
		return err
	}
	h.fire("mkdir", name)
	return nil
}

func (h *hookFS) Link(from, to string) error {
	if err := h.FS.Link(from, to); err != nil {
		return err
	}
	h.fire("link", to)
	return nil
}

func (h *hookFS) ReuseForWrite(from, to string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := h.FS.ReuseForWrite(from, to, c)
	if err != nil {
		return nil, err
	}
	h.fire("reuse", to)
	return h.wrap(f, to), nil
}

type hookFile struct {
	vfs.File
	fs   *hookFS
	path string
}

func (f *hookFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	if err == nil {
		f.fs.fire("write", f.path)
	}
	return n, err
}

func (f *hookFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	if err == nil {
		f.fs.fire("writeat", f.path)
	}
	return n, err
}

func (f *hookFile) Sync() error {
	err := f.File.Sync()
	if err == nil {
		f.fs.fire("sync", f.path)
	}
	return err
}

func (f *hookFile) SyncData() error {
	err := f.File.SyncData()
	if err == nil {
		f.fs.fire("syncdata", f.path)
	}
	return err
}

func (f *hookFile) SyncTo(n int64) (bool, error) {
	full, err := f.File.SyncTo(n)
	if err == nil {
		f.fs.fire("syncto", f.path)
	}
	return full, err
}

// stepClones takes, at one crash point, a clone with exactly the synced state and one with
// a random part of the unsynced state (random) or all of it.
//
// Random parts of unsynced directory entries are only used where the store's own files are
// at stake: Pebble itself relies on the file system keeping the order of directory changes
// (it creates a new MANIFEST and then its marker without a directory sync in between), which
// POSIX does not promise and CrashClone does not model.
func stepClones(mem *vfs.MemFS, r *lockedRand, what string, random bool) []crashClone {
	pct := 1 + r.IntN(100)
	if !random {
		pct = 100
	}
	return []crashClone{
		{what: what + " (0% unsynced)", fs: mem.CrashClone(crashCfg(0, 0))},
		{what: fmt.Sprintf("%s (%d%% unsynced)", what, pct), fs: mem.CrashClone(crashCfg(pct, uint64(r.IntN(1<<30))))},
	}
}

func TestCrashDuringVaultUpdate(t *testing.T) {
	r := newLockedRand(crashSeed(t))
	mem := vfs.NewCrashableMem()
	vaultPaths := map[string]bool{"db": true, "db/" + VaultFile: true, "db/" + vaultTemp: true}
	h := &hookFS{FS: mem, match: func(p string) bool { return vaultPaths[p] }}
	var clones []crashClone
	var step string
	h.after = func(op, path string) {
		clones = append(clones, stepClones(mem, r, fmt.Sprintf("%s: after %s %s", step, op, path), true)...)
	}

	s := openTest(t, h)
	defer s.Close()
	ctx := context.Background()
	b := makeBatch(r, "before", 4)
	if _, err := s.Put(ctx, b.contacts); err != nil {
		t.Fatal(err)
	}
	acked := []*crashBatch{b}

	for round := 1; round <= 3; round++ {
		g := s.vault.Load().Generation
		bucket := uint32(1000 + round)
		step = fmt.Sprintf("update to generation %d", g+1)
		clones = clones[:0]
		h.start()
		err := s.updateVault(ctx, func(v *crypto.Vault) error {
			v.Buckets[bucket] = crypto.MustNewKey()
			return nil
		})
		h.stop()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if len(clones) < 2*4 { // create, write, sync, rename at least
			t.Fatalf("%s: only %d crash points hooked: the vault is not written through Options.FS?", step, len(clones)/2)
		}
		final := mem.CrashClone(crashCfg(0, 0))
		for _, c := range clones {
			checkVaultClone(t, c.fs, c.what, g, bucket, false, acked)
		}
		checkVaultClone(t, final, step+": after updateVault returned (0% unsynced)", g, bucket, true, acked)
		if t.Failed() {
			return
		}
	}
}

// checkVaultClone opens a clone taken while the vault went from generation g to g+1 (which
// adds bucket) and checks that it holds one of the two, consistently; mustBeNew: only g+1.
func checkVaultClone(t *testing.T, fs vfs.FS, what string, g uint64, bucket uint32, mustBeNew bool, acked []*crashBatch) {
	t.Helper()
	s := openClone(t, fs, what, nil)
	defer s.Close()
	v := s.vault.Load()
	_, has := v.Buckets[bucket]
	switch {
	case v.Generation != g && v.Generation != g+1:
		t.Errorf("%s: vault generation %d, want %d or %d", what, v.Generation, g, g+1)
	case mustBeNew && v.Generation != g+1:
		t.Errorf("%s: vault generation %d after the update returned, want %d", what, v.Generation, g+1)
	case has != (v.Generation == g+1):
		t.Errorf("%s: vault generation %d, bucket key present %v", what, v.Generation, has)
	}
	for b := uint32(1001); b < bucket; b++ {
		if _, ok := v.Buckets[b]; !ok {
			t.Errorf("%s: bucket %d of an earlier, completed update is missing", what, b)
		}
	}
	checkBatches(t, s, what, acked, acked)
}

// TestCrashAtEveryStepOfPut crashes after every file-system operation of one synced Put:
// the batch is there whole or not at all, and after Put returns it is there.
func TestCrashAtEveryStepOfPut(t *testing.T) {
	r := newLockedRand(crashSeed(t))
	mem := vfs.NewCrashableMem()
	var clones []crashClone
	h := &hookFS{FS: mem}
	h.after = func(op, path string) {
		clones = append(clones, stepClones(mem, r, fmt.Sprintf("after %s %s", op, path), false)...)
	}
	s := openTest(t, h)
	defer s.Close()
	ctx := context.Background()
	first := makeBatch(r, "first", 4)
	if _, err := s.Put(ctx, first.contacts); err != nil {
		t.Fatal(err)
	}
	second := makeBatch(r, "second", 4)
	second.contacts = append(second.contacts, mkContact("brand-new", 1)) // creates a customer key
	h.start()
	_, err := s.Put(ctx, second.contacts)
	h.stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(clones) == 0 {
		t.Fatal("no crash points hooked")
	}
	all := []*crashBatch{first, second}
	for _, c := range clones {
		cs := openClone(t, c.fs, c.what, nil)
		checkBatches(t, cs, c.what, all, all[:1])
		cs.Close()
	}
	cs := openClone(t, mem.CrashClone(crashCfg(0, 0)), "after Put returned", nil)
	checkBatches(t, cs, "after Put returned", all, all)
	cs.Close()
	t.Logf("%d crash points", len(clones)/2)
}

// TestCrashDuringCreate crashes after every file-system operation of creating a store:
// the directory then holds no store (and Open with CreateIfMissing makes one) or a whole
// one; after Open returns, the store survives any crash.
func TestCrashDuringCreate(t *testing.T) {
	r := newLockedRand(crashSeed(t))
	mem := vfs.NewCrashableMem()
	var clones []crashClone
	h := &hookFS{FS: mem}
	h.after = func(op, path string) {
		clones = append(clones, stepClones(mem, r, fmt.Sprintf("after %s %s", op, path), false)...)
	}
	h.start()
	s := openTest(t, h)
	h.stop()
	id := s.StoreID()
	defer s.Close()
	final := mem.CrashClone(crashCfg(0, 0))

	interrupted := 0
	for _, c := range clones {
		o := testOptions(t, c.fs)
		o.CreateIfMissing = false
		cs, err := Open("db", o)
		if errors.Is(err, ErrNotInitialized) {
			o.CreateIfMissing = true
			cs, err = Open("db", o)
			_, vaultErr := c.fs.Stat(c.fs.PathJoin("db", VaultFile))
			if err != nil && vaultErr != nil && strings.Contains(err.Error(), "interrupted init") {
				// Refused on purpose: pebble/ without a vault is an interrupted init or a
				// lost vault, and the store will not guess which. The user removes it.
				interrupted++
				continue
			}
			if err != nil {
				t.Errorf("%s: no store left, and creating one fails: %v", c.what, err)
				continue
			}
		} else if err != nil {
			t.Errorf("%s: open: %v", c.what, err)
			continue
		}
		checkUsable(t, cs, c.what)
		cs.Close()
	}
	o := testOptions(t, final)
	o.CreateIfMissing = false
	cs, err := Open("db", o)
	if err != nil {
		t.Fatalf("crash right after Open created the store: %v", err)
	}
	if cs.StoreID() != id {
		t.Errorf("store id %s after the crash, want %s", cs.StoreID(), id)
	}
	cs.Close()
	t.Logf("%d crash points; %d clones refused as an interrupted init", len(clones)/2, interrupted)
}

// TestCrashDuringErase crashes after every file-system operation of an erasure: each clone
// opens (finishing or undoing the erasure), the erased customer is either whole or gone,
// and the other customers of the rotated shard keep every contact. After Erase returns,
// the customer is gone for good.
func TestCrashDuringErase(t *testing.T) {
	r := newLockedRand(crashSeed(t))
	mem := vfs.NewCrashableMem()
	var clones []crashClone
	h := &hookFS{FS: mem}
	vaultPaths := map[string]bool{"db": true, "db/" + VaultFile: true, "db/" + vaultTemp: true}
	h.after = func(op, path string) {
		clones = append(clones, stepClones(mem, r, fmt.Sprintf("after %s %s", op, path), vaultPaths[path])...)
	}
	s := openTest(t, h)
	defer s.Close()
	ctx := context.Background()
	v := s.vault.Load()
	shard := crypto.ShardOf(s.pseudonym("alice"), len(v.Shards))
	bob := ""
	for i := 0; bob == ""; i++ {
		if c := fmt.Sprintf("bob-%d", i); crypto.ShardOf(s.pseudonym(c), len(v.Shards)) == shard {
			bob = c
		}
	}
	alice := &crashBatch{name: "alice", contacts: []Contact{mkContact("alice", 1), mkContact("alice", 2)}}
	others := &crashBatch{name: "others", contacts: []Contact{mkContact(bob, 1), mkContact(bob, 2), mkContact("carol", 1)}}
	for _, b := range []*crashBatch{alice, others} {
		if _, err := s.Put(ctx, b.contacts); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	_, err := s.Erase(ctx, "alice", "test")
	h.stop()
	if err != nil {
		t.Fatal(err)
	}
	check := func(fs vfs.FS, what string, mustBeGone bool) {
		cs := openClone(t, fs, what, nil)
		defer cs.Close()
		checkBatches(t, cs, what, []*crashBatch{others}, []*crashBatch{others})
		got, err := collect(t, cs, "alice", TimeRange{})
		switch {
		case errors.Is(err, ErrNotFound) || errors.Is(err, ErrErased):
		case err != nil:
			t.Errorf("%s: reading the erased customer: %v", what, err)
		case mustBeGone:
			t.Errorf("%s: the erased customer reads %d contacts", what, len(got))
		case len(got) != len(alice.contacts):
			t.Errorf("%s: the customer being erased reads %d of %d contacts", what, len(got), len(alice.contacts))
		}
		checkUsable(t, cs, what)
	}
	for _, c := range clones {
		check(c.fs, c.what, false)
		if t.Failed() {
			return
		}
	}
	check(mem.CrashClone(crashCfg(0, 0)), "after Erase returned (0% unsynced)", true)
	t.Logf("%d crash points", len(clones)/2)
}
