package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Crash clones of erasures. A clone is taken after every durable step of an erasure — each
// sync, rename, directory sync and ledger write — with exactly the synced state and with a
// random part of what was not synced, and at random moments while an erasure runs among
// concurrent ingest. Every clone must open to the state before or after each erasure: the
// erased customer is whole or gone, everyone else is whole, no marker and no key of a
// replaced shard generation remain, and when the new vault landed the ledger says so.

// eraseWorld is what the store should hold: each customer's contacts, by id.
type eraseWorld map[string]map[string]string

// erasedState says, per victim, whether the erasure must be visible (acknowledged before
// the clone was taken).
type eraseClone struct {
	what  string
	fs    vfs.FS
	acked map[string]bool // victims whose Erase had returned
	batch []*crashBatch   // ingest batches acknowledged before the clone (concurrent test)
	// ingest: customers other than those of the world were written (the counters then
	// cover more than the world).
	ingest bool
	// newGen: per victim, the shard generation its erasure creates (nil: not checked).
	newGen map[string]uint32
}

// checkEraseClone opens a clone and checks it against world; victims may be whole or gone
// (gone if acked); every other customer of world must be whole. It returns which victims
// are gone.
func checkEraseClone(t *testing.T, c eraseClone, world eraseWorld, victims []string) map[string]bool {
	t.Helper()
	s := openClone(t, c.fs, c.what, nil)
	defer s.Close()
	isVictim := map[string]bool{}
	for _, v := range victims {
		isVictim[v] = true
	}
	gone := map[string]bool{}
	var contacts, customers int64
	for cu, want := range world {
		got, err := collect(t, s, cu, TimeRange{})
		if isVictim[cu] && isGone(err) && len(got) == 0 {
			gone[cu] = true
			continue
		}
		if err != nil {
			t.Errorf("%s: %s: %v (after %d contacts)", c.what, cu, err, len(got))
			continue
		}
		sameContacts(t, c.what+": "+cu, got, want)
		contacts += int64(len(got))
		customers++
	}
	v := s.vault.Load()
	s.ledger.mu.Lock()
	parsed := s.ledger.parsed
	pending := parsed.Pending()
	erasedEntry := map[string]bool{}
	for _, cu := range victims {
		erasedEntry[cu] = parsed.Erased(s.Pseudonym(cu)) != nil
	}
	s.ledger.mu.Unlock()
	for _, cu := range victims {
		if c.acked[cu] && !gone[cu] {
			t.Errorf("%s: %s is readable after its erasure was acknowledged", c.what, cu)
		}
		// Gone exactly when the ledger has its "erased" entry (the vault landed).
		if gone[cu] != erasedEntry[cu] {
			t.Errorf("%s: %s gone %v, ledger has its erased entry %v", c.what, cu, gone[cu], erasedEntry[cu])
		}
		if g, ok := c.newGen[cu]; ok {
			landed := v.Shards[crypto.ShardOf(s.pseudonym(cu), len(v.Shards))].Gen >= g
			if landed != gone[cu] {
				t.Errorf("%s: %s gone %v, but the vault with its shard's new key landed %v", c.what, cu, gone[cu], landed)
			}
		}
		if gone[cu] {
			if _, err := collect(t, s, cu, TimeRange{}); !errors.Is(err, ErrErased) {
				t.Errorf("%s: %s: %v, want ErrErased", c.what, cu, err)
			}
		}
	}
	if len(pending) != 0 {
		t.Errorf("%s: %d ledger intents left open after Open", c.what, len(pending))
	}
	if _, closer, err := s.db.Get(markerKey); err == nil {
		closer.Close()
		t.Errorf("%s: the erasure marker is still there after Open", c.what)
	}
	lo, hi := keys.Kind(keys.KindDataKey)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		sh, gen, _, err := keys.ParseDataKey(it.Key())
		if err != nil || int(sh) >= len(v.Shards) || v.Shards[sh].Gen != gen {
			t.Errorf("%s: a data key of shard %d generation %d remains; the vault has generation %d", c.what, sh, gen, v.Shards[sh].Gen)
			break
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if !c.ingest {
		if st := stats(t, s); st.Customers != customers || st.Contacts != contacts {
			t.Errorf("%s: stats %d customers, %d contacts; %d and %d are readable", c.what, st.Customers, st.Contacts, customers, contacts)
		}
	}
	if _, err := s.VerifyAudit(context.Background()); err != nil {
		t.Errorf("%s: audit: %v", c.what, err)
	}
	return gone
}

// durableStep tells which hooked operations are crash points: syncs, renames and creates
// everywhere, and the writes of the store's own files (the ledger, the vault).
func durableStep(op, path string) bool {
	switch op {
	case "sync", "syncdata", "syncto", "rename", "create", "remove", "reuse", "link":
		return true
	case "write", "writeat":
		return !strings.Contains(path, PebbleDir)
	}
	return false
}

func TestCrashAtEveryStepOfErase(t *testing.T) {
	r := newLockedRand(crashSeed(t))
	mem := vfs.NewCrashableMem()
	var clones []eraseClone
	var acked map[string]bool
	steps := 0
	h := &hookFS{FS: mem}
	h.after = func(op, path string) {
		if !durableStep(op, path) {
			return
		}
		steps++
		what := fmt.Sprintf("after %s %s (step %d)", op, path, steps)
		for _, sc := range stepClones(mem, r, what, true) {
			clones = append(clones, eraseClone{what: sc.what, fs: sc.fs, acked: acked})
		}
	}
	opts := testOptions(t, h)
	opts.Shards = 8
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	world := eraseWorld{}
	put := func(cu string, n int) {
		var cs []Contact
		for i := range n {
			cs = append(cs, mkContact(cu, i))
		}
		if _, err := s.Put(ctx, cs); err != nil {
			t.Fatal(err)
		}
		world[cu] = contactsByID(t, cs)
	}
	victims := []string{"eerste", "tweede", "derde", "vierde"}
	for _, v := range victims {
		put(v, 12)
	}
	same, other := sameShardCustomers(s, "eerste", "blijver", 3)
	for _, cu := range append(same, other...) {
		put(cu, 5)
	}
	// Earlier erasures fill the ledger past a 4 KiB block, so that an unsynced append can
	// straddle a block boundary in a crash clone.
	for i := range 10 {
		cu := fmt.Sprintf("vroeger-%d", i)
		if _, err := s.Put(ctx, []Contact{mkContact(cu, 1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Erase(ctx, cu, ""); err != nil {
			t.Fatal(err)
		}
	}
	s.WaitHygiene()

	// Rounds: one victim; the second in the first one's shard (its next generation); two at
	// once.
	for _, round := range [][]string{{"eerste"}, {"tweede"}, {"derde", "vierde"}} {
		clones = clones[:0]
		acked = map[string]bool{}
		name := strings.Join(round, "+")
		h.start()
		// One group, as the eraser makes of concurrent requests: one vault replacement.
		var group []*eraseReq
		for _, v := range round {
			group = append(group, &eraseReq{customer: v, done: make(chan eraseRes, 1)})
		}
		s.eraseGroup(group)
		errs := make([]error, len(round))
		rcs := make([]*Receipt, len(round))
		for i, req := range group {
			res := <-req.done
			rcs[i], errs[i] = res.receipt, res.err
		}
		s.WaitHygiene()
		h.stop()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("erasing %s: %v", name, err)
			}
		}
		if len(clones) < 2*6 {
			t.Fatalf("erasing %s: only %d crash points", name, len(clones)/2)
		}
		final := map[string]bool{}
		for _, v := range round {
			final[v] = true
		}
		clones = append(clones, eraseClone{what: "after the erasure returned", fs: mem.CrashClone(crashCfg(0, 0)), acked: final})
		// Erasures batched into one vault replacement happen together or not at all.
		together := len(round) == 2
		if together && rcs[0].VaultAfter != rcs[1].VaultAfter {
			t.Fatalf("erasing %s: one group, two vault generations", name)
		}
		before, after := 0, 0
		newGen := map[string]uint32{}
		for i, v := range round {
			newGen[v] = rcs[i].Destroyed.ShardGenTo
		}
		for _, c := range clones {
			c.what = "erasing " + name + ": " + c.what
			c.newGen = newGen
			gone := checkEraseClone(t, c, world, round)
			if together && gone[round[0]] != gone[round[1]] {
				t.Errorf("%s: two customers erased together: one gone, one not", c.what)
			}
			if gone[round[0]] {
				after++
			} else {
				before++
			}
			if t.Failed() {
				return
			}
		}
		t.Logf("erasing %s (batched: %v): %d crash clones, %d before and %d after the erasure", name, together, len(clones), before, after)
		for _, v := range round {
			delete(world, v)
		}
	}
}

// TestCrashEraseDuringIngest takes crash clones at random moments, and after every write of
// the ledger and the vault, while customers are erased one after another and writers ingest
// contacts for other customers (sharing their shards). Every clone holds every acknowledged
// batch whole, every erased customer whole or gone (gone once its erasure was
// acknowledged), and nothing of a replaced shard generation.
func TestCrashEraseDuringIngest(t *testing.T) {
	seed := crashSeed(t)
	r := newLockedRand(seed)
	mem := vfs.NewCrashableMem()
	var ingest crashLedger
	var mu sync.Mutex
	var clones []eraseClone
	ackedErase := map[string]bool{}
	take := func(what string, pct int) {
		mu.Lock()
		acked := map[string]bool{}
		for k := range ackedErase {
			acked[k] = true
		}
		mu.Unlock()
		batches := ingest.ackedSnapshot() // before the clone: all of these are durable
		c := mem.CrashClone(crashCfg(pct, uint64(r.IntN(1<<30))))
		mu.Lock()
		clones = append(clones, eraseClone{what: fmt.Sprintf("%s (%d%% unsynced)", what, pct), fs: c, acked: acked, batch: batches, ingest: true})
		mu.Unlock()
	}
	h := &hookFS{FS: mem, match: func(p string) bool {
		return p == "db" || strings.HasPrefix(p, "db/"+VaultFile) || p == "db/"+LedgerFile
	}}
	h.after = func(op, path string) {
		if durableStep(op, path) {
			take(fmt.Sprintf("after %s %s", op, path), []int{0, 50, 100}[r.IntN(3)])
		}
	}
	opts := testOptions(t, h)
	opts.Shards = 4
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	world := eraseWorld{}
	var victims []string
	for i := range 6 {
		cu := fmt.Sprintf("weg-%d", i)
		var cs []Contact
		for j := range 8 {
			cs = append(cs, mkContact(cu, j))
		}
		if _, err := s.Put(ctx, cs); err != nil {
			t.Fatal(err)
		}
		world[cu] = contactsByID(t, cs)
		victims = append(victims, cu)
	}

	h.start()
	var wg sync.WaitGroup
	var done atomic.Bool
	errc := make(chan error, 8)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				b := makeBatch(r, fmt.Sprintf("w%d-b%d", w, i), 10)
				ingest.attempt(b)
				if _, err := s.Put(ctx, b.contacts); err != nil {
					errc <- err
					return
				}
				ingest.ack(b)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, v := range victims {
			if _, err := s.Erase(ctx, v, ""); err != nil {
				errc <- fmt.Errorf("erasing %s: %w", v, err)
				return
			}
			mu.Lock()
			ackedErase[v] = true
			mu.Unlock()
		}
	}()
	cloner := make(chan struct{})
	go func() {
		defer close(cloner)
		for n := 0; n < 12 && !done.Load(); n++ {
			time.Sleep(time.Duration(r.IntN(1500)) * time.Microsecond)
			take(fmt.Sprintf("at random #%d", n), r.IntN(101))
		}
	}()
	wg.Wait()
	done.Store(true)
	<-cloner
	s.WaitHygiene()
	h.stop()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	take("at the end", 0)

	all := ingest.ackedSnapshot()
	for _, c := range clones {
		if t.Failed() {
			break
		}
		checkEraseClone(t, c, world, victims)
		cs := openClone(t, c.fs, c.what, nil)
		checkBatches(t, cs, c.what, all, c.batch)
		checkUsable(t, cs, c.what)
		// A customer the clone still holds can be erased there.
		for _, v := range victims {
			if _, err := cs.Erase(ctx, v, ""); err != nil && !isGone(err) {
				t.Errorf("%s: erasing %s in the recovered store: %v", c.what, v, err)
			}
		}
		if err := cs.Close(); err != nil {
			t.Errorf("%s: close: %v", c.what, err)
		}
	}
	t.Logf("%d clones checked", len(clones))
}
