package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Crash clones of an expiry run. A clone is taken after every durable step of Expire (each
// sync, create, rename, directory sync and vault write), with exactly the synced state and
// with a random part of what was not synced, and at random moments from a goroutine. Every
// clone must open, and be either before or after the destruction of the expired bucket:
// before, every contact is whole; after, no contact of the bucket can be read even with a
// clock that says its term has not ended, the bucket's records and entries are gone, held
// contacts are all there, and the counters equal a fresh count. Expire on the clone then
// finishes the run.

// expiryWorld is the data of the expiry crash test.
type expiryWorld struct {
	t0, term time.Time
	chats    map[string]map[string]string // customer → id → contact JSON: expire at term
	mails    map[string]map[string]string // the rest: P2Y
	held     string                       // under a hold placed before the term
}

func (w *expiryWorld) customers() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]map[string]string{w.chats, w.mails} {
		for cu := range m {
			if !seen[cu] {
				seen[cu] = true
				out = append(out, cu)
			}
		}
	}
	return out
}

// want returns what a customer must read with the early clock: everything, or without the
// expired chats (the held customer keeps them).
func (w *expiryWorld) want(cu string, expired bool) map[string]string {
	m := map[string]string{}
	for id, c := range w.mails[cu] {
		m[id] = c
	}
	if !expired || cu == w.held {
		for id, c := range w.chats[cu] {
			m[id] = c
		}
	}
	return m
}

func buildExpiryWorld(t *testing.T, s *Store, clock *fakeClock) *expiryWorld {
	t.Helper()
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	w := &expiryWorld{t0: t0, term: t0.AddDate(0, 0, 30), chats: map[string]map[string]string{},
		mails: map[string]map[string]string{}, held: "vast-0"}
	clock.t = t0
	setPolicy(t, s, holdPolicy)
	var all []Contact
	add := func(cu string, chats, mails int) {
		var cs, ms []Contact
		for i := range chats {
			cs = append(cs, rc(cu, fmt.Sprintf("c%d", i), "chat", ChannelChat, t0.Add(time.Duration(i)*time.Minute)))
		}
		for i := range mails {
			ms = append(ms, rc(cu, fmt.Sprintf("m%d", i), "", ChannelEmail, t0.Add(time.Duration(i)*time.Minute)))
		}
		if len(cs) > 0 {
			w.chats[cu] = contactsByID(t, cs)
		}
		if len(ms) > 0 {
			w.mails[cu] = contactsByID(t, ms)
		}
		all = append(all, cs...)
		all = append(all, ms...)
	}
	for i := range 6 {
		add(fmt.Sprintf("kort-%d", i), 3, 0) // only chats: removed entirely
	}
	for i := range 6 {
		add(fmt.Sprintf("gemengd-%d", i), 3, 2)
	}
	for i := range 3 {
		add(fmt.Sprintf("lang-%d", i), 0, 2)
	}
	add(w.held, 4, 2)
	mustPut(t, s, all...)
	if err := s.Hold(ctx, w.held, "dossier 2026-77"); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil { // part of the data in tables, part in the WAL
		t.Fatal(err)
	}
	mustPut(t, s, rc("later", "x", "chat", ChannelChat, t0.Add(5*day)))
	w.chats["later"] = map[string]string{}
	w.mails["later"] = contactsByID(t, []Contact{rc("later", "x", "chat", ChannelChat, t0.Add(5*day))})
	return w
}

// countRange counts the keys in [lo, hi).
func countRange(t testing.TB, db *pebble.DB, lo, hi []byte) int {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkExpiryClone opens a clone with a clock before every term (so that only destroyed
// keys hide anything) and checks it; it returns whether the bucket was destroyed.
func checkExpiryClone(t *testing.T, c crashClone, w *expiryWorld) bool {
	t.Helper()
	ctx := context.Background()
	early := &fakeClock{t: w.t0.Add(time.Hour)}
	s := openClone(t, c.fs, c.what, func(o *Options) { o.Clock = early })
	defer s.Close()
	bucket := dayOf(w.term)
	gone := bucketGone(s.vault.Load(), bucket)
	check := func(stage string) {
		for _, cu := range w.customers() {
			want := w.want(cu, gone)
			got, err := collect(t, s, cu, TimeRange{})
			if len(want) == 0 {
				if len(got) != 0 || !isGone(err) {
					t.Errorf("%s, %s: %s reads %d contacts, %v; want it gone", c.what, stage, cu, len(got), err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s, %s: %s: %v", c.what, stage, cu, err)
				continue
			}
			sameContacts(t, fmt.Sprintf("%s, %s: %s", c.what, stage, cu), got, want)
		}
		if gone {
			// Open finished the clean-up: nothing of the bucket is left.
			lo, hi := keys.BucketRange(bucket)
			elo, ehi := keys.Kind(keys.KindExpiry)
			n, e := countRange(t, s.db, lo, hi), 0
			eit, err := s.db.NewIter(&pebble.IterOptions{LowerBound: elo, UpperBound: ehi})
			if err != nil {
				t.Fatal(err)
			}
			for eit.First(); eit.Valid(); eit.Next() {
				if k := eit.Key(); len(k) >= 5 && beU32(k[1:5]) == bucket {
					e++
				}
			}
			eit.Close()
			if n != 0 || e != 0 {
				t.Errorf("%s, %s: the destroyed bucket still has %d records and %d entries", c.what, stage, n, e)
			}
			if _, closer, err := s.db.Get(bucketCountKey(bucket)); err == nil {
				closer.Close()
				t.Errorf("%s, %s: the destroyed bucket's counter is still there", c.what, stage)
			}
		}
		checkStatsFresh(t, s, c.what+", "+stage, w.customers())
	}
	check("at open")
	if info, err := s.HoldStatus(w.held); err != nil || info == nil {
		t.Errorf("%s: the hold is lost: %v", c.what, err)
	}
	// The expiry run, resumed on the clone, leaves the state after it.
	if _, err := s.Expire(ctx, dayEnd(w.term)); err != nil {
		t.Errorf("%s: Expire on the clone: %v", c.what, err)
		return gone
	}
	wasGone := gone
	gone = bucketGone(s.vault.Load(), bucket)
	if !gone {
		t.Errorf("%s: Expire on the clone left the bucket's key", c.what)
	}
	check("after Expire")
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("%s: audit: %v", c.what, err)
	}
	return wasGone
}

func TestCrashDuringExpiry(t *testing.T) {
	r := newLockedRand(crashSeed(t))
	mem := vfs.NewCrashableMem()
	var mu sync.Mutex
	var clones []crashClone
	h := &hookFS{FS: mem}
	h.after = func(op, path string) {
		if durableStep(op, path) {
			cs := stepClones(mem, r, fmt.Sprintf("after %s %s", op, path), true)
			mu.Lock()
			clones = append(clones, cs...)
			mu.Unlock()
		}
	}
	o := testOptions(t, h)
	clock := &fakeClock{}
	o.Clock = clock
	o.Shards = 8
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := buildExpiryWorld(t, s, clock)
	// Random moments, besides the durable steps.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 30 {
			select {
			case <-stop:
				return
			default:
			}
			pct := []int{0, 30, 100}[r.IntN(3)]
			c := mem.CrashClone(crashCfg(pct, uint64(r.IntN(1<<30))))
			mu.Lock()
			clones = append(clones, crashClone{what: fmt.Sprintf("at a random moment (%d%% unsynced)", pct), fs: c})
			mu.Unlock()
			time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
		}
	}()
	clock.t = dayEnd(w.term)
	h.start()
	er, err := s.Expire(context.Background(), time.Time{})
	if err == nil {
		s.WaitHygiene()
	}
	h.stop()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if er.Contacts != 36 || er.Customers != 6 || er.Held != 4 {
		t.Fatalf("expire %+v: want 36 contacts and 6 customers removed, 4 held", er)
	}
	clones = append(clones, crashClone{what: "after Expire returned", fs: mem.CrashClone(crashCfg(0, 0))})
	// Bound the work: every durable step, and at most 20 random moments.
	var chosen []crashClone
	random := 0
	for _, c := range clones {
		if len(c.what) > 2 && c.what[:2] == "at" {
			if random++; random > 20 {
				continue
			}
		}
		chosen = append(chosen, c)
	}
	before, after := 0, 0
	for i, c := range chosen {
		c.what = fmt.Sprintf("clone %d %s", i, c.what)
		if checkExpiryClone(t, c, w) {
			after++
		} else {
			before++
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d crash clones (%d at random moments): %d before and %d after the bucket's key was destroyed", len(chosen), min(random, 20), before, after)
	if before == 0 || after < 4 {
		t.Errorf("the crash points did not cover the run: %d before, %d after", before, after)
	}
}
