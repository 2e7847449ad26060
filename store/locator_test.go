package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestConcurrentSameIDsNeverDuplicate hammers the parallel locator lookups: many goroutines
// put the same ids with changing times, so lookups race with the commits of other groups.
// Every id must end up stored exactly once, and the counters must agree.
func TestConcurrentSameIDsNeverDuplicate(t *testing.T) {
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	ctx := context.Background()
	const ids, writers, rounds = 50, 8, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				batch := make([]Contact, 0, ids)
				for i := range ids {
					c := mkContact("same-customer", i)
					c.Time = c.Time.Add(time.Duration(w*rounds+r) * time.Second)
					c.Rating = 1 + (w+r)%10
					batch = append(batch, c)
				}
				if _, err := s.Put(ctx, batch); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := collect(t, s, "same-customer", TimeRange{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, c := range got {
		seen[c.ID]++
	}
	if len(got) != ids || len(seen) != ids {
		t.Fatalf("got %d contacts with %d distinct ids, want %d", len(got), len(seen), ids)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("id %s stored %d times", id, n)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var perMonth, rated int64
	for _, r := range st.Ratings {
		perMonth += r.Contacts
		rated += r.Rated
	}
	if st.Contacts != ids || perMonth != ids || rated != ids {
		t.Fatalf("counters: contacts %d, per month %d, rated %d; want %d", st.Contacts, perMonth, rated, ids)
	}
}
