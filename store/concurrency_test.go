package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestConcurrentPutsAndReads runs writers and readers at once: writers put batches for
// customers they share, customers of their own, contacts with the same id, and many
// customers that do not exist yet (so that several writers create the same customers at
// the same moment, in the same few shards). Afterwards every acknowledged contact must be
// readable exactly once, before and after a reopen, and the counters must agree.
func TestConcurrentPutsAndReads(t *testing.T) {
	const (
		writers   = 8
		readers   = 4
		batches   = 8
		shared    = 6  // customers every writer puts contacts for
		newPerB   = 12 // customers first seen in batch b, put by every writer
		ownPerW   = 3  // customers only one writer uses
		perShared = 4  // contacts per shared customer per batch
	)
	for _, tc := range []struct {
		name  string
		cache int
	}{
		{"default cache", 0},
		{"tiny cache", 1}, // evicts customers all the time
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			opts := testOptions(t, fs)
			opts.Shards = 4
			opts.CustomerCache = tc.cache
			opts.NoSync = true
			s, err := Open("db", opts)
			if err != nil {
				t.Fatal(err)
			}
			base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			mk := func(customer, id string, minute int) Contact {
				return Contact{
					ID: id, Customer: customer, Time: base.Add(time.Duration(minute) * time.Minute),
					Channel: Channels[minute%len(Channels)], Subject: "onderwerp " + id, Body: "inhoud " + customer + " " + id,
					Rating: 1 + minute%10,
				}
			}
			// batch returns writer w's batch b; the same call always returns the same contacts.
			batch := func(w, b int) []Contact {
				var cs []Contact
				for k := range shared {
					cu := fmt.Sprintf("gedeeld-%d", k)
					for j := range perShared {
						cs = append(cs, mk(cu, fmt.Sprintf("w%d-b%d-%d", w, b, j), w*1000+b*10+j))
					}
					// The same contact put by every writer: must exist once.
					cs = append(cs, mk(cu, fmt.Sprintf("gemeen-b%d", b), 500000+b))
				}
				for k := range newPerB {
					cu := fmt.Sprintf("nieuw-%d-%d", b, k)
					cs = append(cs, mk(cu, fmt.Sprintf("w%d", w), w))
				}
				for k := range ownPerW {
					cu := fmt.Sprintf("eigen-%d-%d", w, k)
					cs = append(cs, mk(cu, fmt.Sprintf("b%d", b), b))
				}
				// Interleave customers so that a batch mixes everything.
				for i := range cs {
					j := (i * 7919) % len(cs)
					cs[i], cs[j] = cs[j], cs[i]
				}
				return cs
			}
			want := map[string]map[string]bool{}
			for w := range writers {
				for b := range batches {
					for _, c := range batch(w, b) {
						if want[c.Customer] == nil {
							want[c.Customer] = map[string]bool{}
						}
						want[c.Customer][c.ID] = true
					}
				}
			}
			var customers []string
			total := 0
			for cu, ids := range want {
				customers = append(customers, cu)
				total += len(ids)
			}
			slices.Sort(customers)

			ctx := context.Background()
			var wg sync.WaitGroup
			var writing atomic.Int32
			errc := make(chan error, writers+readers)
			writing.Store(writers)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer writing.Add(-1)
					for b := range batches {
						cs := batch(w, b)
						res, err := s.Put(ctx, cs)
						if err != nil {
							errc <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
							return
						}
						if res.Added+res.Replaced != len(cs) || len(res.IDs) != len(cs) {
							errc <- fmt.Errorf("writer %d batch %d: result %d+%d for %d contacts", w, b, res.Added, res.Replaced, len(cs))
							return
						}
					}
				}()
			}
			var reads atomic.Int64
			for r := range readers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := r; writing.Load() > 0; i += readers {
						cu := customers[i%len(customers)]
						seen := map[string]bool{}
						var prev time.Time
						for c, err := range s.Contacts(ctx, cu, TimeRange{}) {
							if errors.Is(err, ErrNotFound) {
								break
							}
							if err != nil {
								errc <- fmt.Errorf("reader %d, %s: %w", r, cu, err)
								return
							}
							if c.Customer != cu || !want[cu][c.ID] || seen[c.ID] || c.Time.Before(prev) {
								errc <- fmt.Errorf("reader %d, %s: unexpected, repeated or out-of-order contact %s", r, cu, c.ID)
								return
							}
							seen[c.ID] = true
							prev = c.Time
						}
						if _, err := s.Stats(ctx); err != nil {
							errc <- fmt.Errorf("reader %d: stats: %w", r, err)
							return
						}
						reads.Add(1)
					}
				}()
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
			if t.Failed() {
				s.Close()
				t.FailNow()
			}

			check := func(s *Store, when string) {
				t.Helper()
				for _, cu := range customers {
					got, err := collect(t, s, cu, TimeRange{})
					if err != nil {
						t.Fatalf("%s: %s: %v", when, cu, err)
					}
					ids := map[string]bool{}
					for _, c := range got {
						if ids[c.ID] {
							t.Fatalf("%s: %s: id %s read twice", when, cu, c.ID)
						}
						ids[c.ID] = true
					}
					if len(ids) != len(want[cu]) {
						t.Fatalf("%s: %s: %d contacts, want %d", when, cu, len(ids), len(want[cu]))
					}
					for id := range want[cu] {
						if !ids[id] {
							t.Fatalf("%s: %s: acknowledged contact %s missing", when, cu, id)
						}
					}
				}
				st := stats(t, s)
				if st.Contacts != int64(total) || st.Customers != int64(len(customers)) {
					t.Fatalf("%s: stats %d contacts %d customers, want %d and %d", when, st.Contacts, st.Customers, total, len(customers))
				}
				var sum int64
				for _, r := range st.Ratings {
					sum += r.Contacts
				}
				if sum != int64(total) {
					t.Fatalf("%s: rating groups count %d contacts, want %d", when, sum, total)
				}
			}
			check(s, "while open")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// After a reopen nothing is cached: a customer that got two keys would lose
			// contacts here.
			s, err = Open("db", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			check(s, "after reopen")
			checkConsistent(t, s)
			t.Logf("%d customers, %d contacts, %d reads during the writes", len(customers), total, reads.Load())
		})
	}
}

// TestConcurrentNewCustomerRace starts many goroutines that each put one contact for the
// same brand-new customers at the same instant.
func TestConcurrentNewCustomerRace(t *testing.T) {
	const goroutines, customers = 16, 40
	fs := vfs.NewMem()
	opts := testOptions(t, fs)
	opts.Shards = 4
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for k := range customers {
				c := mkContact(fmt.Sprintf("race-%d", k), g)
				if _, err := s.Put(context.Background(), []Contact{c}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for k := range customers {
		got, err := collect(t, s, fmt.Sprintf("race-%d", k), TimeRange{})
		if err != nil || len(got) != goroutines {
			t.Fatalf("race-%d: %d contacts, %v; want %d", k, len(got), err, goroutines)
		}
	}
	if st := stats(t, s); st.Customers != customers || st.Contacts != goroutines*customers {
		t.Fatalf("stats: %d customers, %d contacts", st.Customers, st.Contacts)
	}
}
