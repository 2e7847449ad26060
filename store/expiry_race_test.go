package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestExpiryRacesEverything runs Puts, reads, Expire (with the clock moving on), Hold,
// Release and Erase at once on overlapping customers (run it with -race). Throughout, no
// read returns a contact past its term unless a hold keeps it. Afterwards: no contact
// past its term is readable unless held, every contact of the permanently held customers
// is there, no record of a destroyed bucket remains, and the counters equal what reads
// return.
func TestExpiryRacesEverything(t *testing.T) {
	ctx := context.Background()
	seed := crashSeed(t)
	t0 := utc(2026, 1, 10, 9, 0, 17)
	clock := newSafeClock(t0)
	o := testOptions(t, vfs.NewMem())
	o.Clock = clock
	o.Shards = 4 // erasures rewrap shard-mates: make them share shards
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setPolicy(t, s, `{"default":"P20D","rules":[{"category":"chat","retention":"P3D"}]}`)
	pol := s.Policy()

	perm := []string{"perm-0", "perm-1", "perm-2"}       // held from the start, never released
	holdable := []string{"r-0", "r-1", "r-2", "r-3"}     // held, released and erased at random
	plain := []string{"r-4", "r-5", "r-6", "r-7", "r-8"} // erased at random, never held
	all := slices.Concat(perm, holdable, plain)
	for _, cu := range all {
		mustPut(t, s, rc(cu, "eerste", "", ChannelEmail, t0))
	}
	for _, cu := range perm {
		if err := s.Hold(ctx, cu, "dossier "+cu); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	acked := map[string]map[string]string{} // perm customer → id → contact JSON
	for _, cu := range perm {
		acked[cu] = contactsByID(t, []Contact{rc(cu, "eerste", "", ChannelEmail, t0)})
	}
	var erasures, keyGone atomic.Int64
	isPerm := func(cu string) bool { return slices.Contains(perm, cu) }
	isHoldable := func(cu string) bool { return slices.Contains(holdable, cu) }

	var writers sync.WaitGroup
	// Putters.
	for g := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := range 50 {
				var cs []Contact
				now := clock.Now()
				for j := range 4 {
					cu := all[r.IntN(len(all))]
					id := fmt.Sprintf("x-%d", r.IntN(12))
					if isPerm(cu) {
						id = fmt.Sprintf("p-%d-%d-%d", g, i, j)
					}
					cat, ch := "", ChannelEmail
					if r.IntN(2) == 0 {
						cat, ch = "chat", ChannelChat
					}
					at := now.Add(-time.Duration(r.IntN(48*60)) * time.Minute)
					cs = append(cs, rc(cu, id, cat, ch, at))
				}
				// (The permanently held customers' contacts are all kept: their terms end
				// after the hold was placed.)
				if _, err := s.Put(ctx, cs); err != nil {
					t.Errorf("put: %v", err)
					return
				}
				mu.Lock()
				for _, c := range cs {
					if isPerm(c.Customer) {
						acked[c.Customer][c.ID] = mustJSON(t, stored(c))
					}
				}
				mu.Unlock()
			}
		}()
	}
	// The expirer, moving the clock on.
	writers.Add(1)
	go func() {
		defer writers.Done()
		for range 40 {
			clock.Add(3 * time.Hour)
			if _, err := s.Expire(ctx, time.Time{}); err != nil {
				t.Errorf("expire: %v", err)
				return
			}
		}
	}()
	// Holds, releases and erasures.
	writers.Add(1)
	go func() {
		defer writers.Done()
		r := rand.New(rand.NewPCG(seed, 99))
		for range 60 {
			cu := holdable[r.IntN(len(holdable))]
			switch op := r.IntN(4); op {
			case 0:
				if err := s.Hold(ctx, cu, "dossier"); err != nil && !isGone(err) {
					t.Errorf("hold: %v", err)
				}
			case 1:
				rr, err := s.Release(ctx, cu)
				if err != nil && !isGone(err) && !errors.Is(err, ErrNotHeld) {
					t.Errorf("release: %v", err)
				}
				if rr.Receipt != nil {
					erasures.Add(1)
				}
			default:
				if op == 3 {
					cu = plain[r.IntN(len(plain))]
				}
				_, err := s.Erase(ctx, cu, "")
				switch {
				case err == nil:
					erasures.Add(1)
				case isGone(err), errors.Is(err, ErrHeld):
				default:
					t.Errorf("erase: %v", err)
				}
			}
		}
	}()
	// A reader: nothing past its term unless a hold keeps it.
	done := make(chan struct{})
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		r := rand.New(rand.NewPCG(seed, 7))
		for {
			select {
			case <-done:
				return
			default:
			}
			cu := all[r.IntN(len(all))]
			before := clock.Now()
			for c, err := range s.Contacts(ctx, cu, TimeRange{}) {
				if errors.Is(err, ErrKeyGone) {
					keyGone.Add(1) // a bucket destroyed under the read: see the report below
					break
				}
				if err != nil {
					if !isGone(err) {
						t.Errorf("read %s: %v", cu, err)
					}
					break
				}
				if exp := expiryOf(pol, c.Category, c.Channel, c.Time); !before.Before(exp) && !isPerm(cu) && !isHoldable(cu) {
					t.Errorf("read %s: contact %s past its term (%s, read at or after %s)", cu, c.ID, exp.Format(time.RFC3339), before.Format(time.RFC3339))
				}
			}
		}
	}()
	writers.Wait()
	close(done)
	reader.Wait()
	if t.Failed() {
		return
	}

	// Afterwards, at a midnight: every bucket whose day has passed is destroyed.
	clock.Set(dayEnd(clock.Now()))
	if _, err := s.Expire(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	for _, cu := range all {
		got, err := collect(t, s, cu, TimeRange{})
		if err != nil {
			if !isGone(err) || isPerm(cu) {
				t.Errorf("%s at the end: %v", cu, err)
			}
			continue
		}
		info, herr := s.HoldStatus(cu)
		for _, c := range got {
			exp := expiryOf(pol, c.Category, c.Channel, c.Time)
			if !now.Before(exp) && (herr != nil || !exp.After(info.Since)) {
				t.Errorf("%s at the end: contact %s past its term (%s) and no hold keeps it", cu, c.ID, exp.Format(time.RFC3339))
			}
		}
		if isPerm(cu) {
			if herr != nil {
				t.Errorf("%s: the hold is gone: %v", cu, herr)
			}
			sameContacts(t, cu+" (held throughout)", got, acked[cu])
		}
	}
	v := s.vault.Load()
	ids, err := s.bucketIDs(keys.KindRecord)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range ids {
		if keys.ExpiryBucket(b) && bucketGone(v, b) {
			lo, hi := keys.BucketRange(b)
			t.Errorf("bucket %s was destroyed, but %d of its records remain", bucketDay(b).Format(time.DateOnly), countRange(t, s.db, lo, hi))
		}
	}
	st := stats(t, s)
	contacts, customers := freshCount(t, s, all)
	t.Logf("%d erasures; %d reads ended by a bucket destroyed under them; at the end %d contacts of %d customers readable, stats %d of %d, held %d",
		erasures.Load(), keyGone.Load(), contacts, customers, st.Contacts, st.Customers, st.Retention.Held)
	if st.Customers != customers {
		t.Errorf("stats count %d customers, reads find %d", st.Customers, customers)
	}
	if st.Contacts != contacts {
		if erasures.Load() > 0 {
			t.Fatalf("after %d erasures stats count %d contacts, reads return %d", erasures.Load(), st.Contacts, contacts)
		}
		t.Errorf("stats count %d contacts, reads return %d", st.Contacts, contacts)
	}
}
