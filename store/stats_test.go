package store

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// statsModel is what Stats should report for a set of stored contacts, computed the slow
// way from the contacts themselves.
type statsModel map[string]map[string]Contact // customer → id → contact

func (m statsModel) put(cs ...Contact) {
	for _, c := range cs {
		if m[c.Customer] == nil {
			m[c.Customer] = map[string]Contact{}
		}
		m[c.Customer][c.ID] = c
	}
}

func (m statsModel) ratings() map[string]RatingStats {
	out := map[string]RatingStats{}
	for _, ids := range m {
		for _, c := range ids {
			k := c.Channel + " " + c.Time.UTC().Format("2006-01")
			r := out[k]
			r.Channel, r.Month = c.Channel, c.Time.UTC().Format("2006-01")
			r.Contacts++
			if c.Rating > 0 {
				r.Rated++
				r.Histogram[c.Rating-1]++
				r.Average += float64(c.Rating) // the sum, for now
			}
			out[k] = r
		}
	}
	for k, r := range out {
		if r.Rated > 0 {
			r.Average /= float64(r.Rated)
		}
		out[k] = r
	}
	return out
}

func checkStats(t *testing.T, s *Store, m statsModel, when string) {
	t.Helper()
	st := stats(t, s)
	var contacts int64
	for _, ids := range m {
		contacts += int64(len(ids))
	}
	if st.Contacts != contacts || st.Customers != int64(len(m)) {
		t.Fatalf("%s: %d contacts, %d customers; want %d and %d", when, st.Contacts, st.Customers, contacts, len(m))
	}
	want := m.ratings()
	got := map[string]RatingStats{}
	for _, r := range st.Ratings {
		k := r.Channel + " " + r.Month
		if _, dup := got[k]; dup {
			t.Fatalf("%s: group %q reported twice", when, k)
		}
		got[k] = r
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: group %q missing", when, k)
			continue
		}
		if g.Contacts != w.Contacts || g.Rated != w.Rated || g.Histogram != w.Histogram || math.Abs(g.Average-w.Average) > 1e-9 {
			t.Errorf("%s: group %q:\n got %+v\nwant %+v", when, k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected group %q: %+v", when, k, got[k])
		}
	}
	if st.StoreID != s.StoreID() || st.Shards != 64 || st.Buckets < 1 {
		t.Errorf("%s: store id %q shards %d buckets %d", when, st.StoreID, st.Shards, st.Buckets)
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	opts := testOptions(t, fs)
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	m := statsModel{}
	checkStats(t, s, m, "empty")

	mar := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	apr := time.Date(2025, 4, 10, 12, 0, 0, 0, time.UTC)
	c := func(cu, id string, ch string, at time.Time, rating int) Contact {
		return Contact{ID: id, Customer: cu, Channel: ch, Time: at, Rating: rating, Subject: "s"}
	}
	first := []Contact{
		c("ans", "1", ChannelEmail, mar, 1),
		c("ans", "2", ChannelEmail, mar.Add(time.Hour), 10),
		c("ans", "3", ChannelEmail, mar.Add(2*time.Hour), 5),
		c("ans", "4", ChannelEmail, mar.Add(3*time.Hour), 0),
		c("bob", "1", ChannelPhone, mar, 7),
		c("bob", "2", ChannelEmail, apr, 8),
		c("bob", "3", "", mar, 0),
		c("bob", "4", "", mar, 3),
		// 1 May 01:00 at +02:00 is 30 April in UTC: months are UTC months.
		c("cor", "1", ChannelEmail, time.Date(2025, 5, 1, 1, 0, 0, 0, time.FixedZone("", 2*3600)), 9),
		c("cor", "2", ChannelChat, time.Date(2024, 12, 31, 23, 30, 0, 0, time.UTC), 10),
	}
	if _, err := s.Put(ctx, first); err != nil {
		t.Fatal(err)
	}
	m.put(first...)
	checkStats(t, s, m, "after first put")
	// Spot-check one group by hand, so the model itself is checked too.
	for _, r := range stats(t, s).Ratings {
		if r.Channel == ChannelEmail && r.Month == "2025-03" {
			if r.Contacts != 4 || r.Rated != 3 || r.Average != 16.0/3 || r.Histogram != [10]int64{1, 0, 0, 0, 1, 0, 0, 0, 0, 1} {
				t.Fatalf("email 2025-03: %+v", r)
			}
		}
		if r.Channel == ChannelEmail && r.Month == "2025-04" && (r.Contacts != 2 || r.Rated != 2 || r.Average != 8.5) {
			t.Fatalf("email 2025-04: %+v", r)
		}
	}

	// Re-putting the same contacts counts nothing twice.
	if _, err := s.Put(ctx, first); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, m, "after re-put")

	// Changing ratings moves them in the histogram; a rating removed leaves the rated count.
	changed := []Contact{
		c("ans", "2", ChannelEmail, mar.Add(time.Hour), 2),   // 10 → 2
		c("ans", "3", ChannelEmail, mar.Add(2*time.Hour), 0), // 5 → none
		c("ans", "4", ChannelEmail, mar.Add(3*time.Hour), 6), // none → 6
	}
	if _, err := s.Put(ctx, changed); err != nil {
		t.Fatal(err)
	}
	m.put(changed...)
	checkStats(t, s, m, "after rating changes")

	// A contact that moves to another channel and month leaves its old group; a group
	// without contacts disappears.
	moved := []Contact{
		c("cor", "2", ChannelSocial, apr, 4), // chat 2024-12 → social 2025-04
		c("bob", "1", ChannelLetter, apr, 7), // phone 2025-03 → letter 2025-04
	}
	if _, err := s.Put(ctx, moved); err != nil {
		t.Fatal(err)
	}
	m.put(moved...)
	checkStats(t, s, m, "after moves")
	for _, r := range stats(t, s).Ratings {
		if r.Channel == ChannelChat || r.Channel == ChannelPhone {
			t.Fatalf("emptied group still reported: %+v", r)
		}
	}

	// A failed put changes nothing.
	bad := append([]Contact{c("dora", "1", ChannelWeb, apr, 5)}, c("dora", "2", ChannelWeb, apr, 12))
	if _, err := s.Put(ctx, bad); err == nil {
		t.Fatal("rating 12 accepted")
	}
	checkStats(t, s, m, "after a rejected put")

	// Many contacts in one batch, some with the same id twice.
	var many []Contact
	for i := range 300 {
		many = append(many, c(fmt.Sprintf("veel-%d", i%10), fmt.Sprint(i%250), Channels[i%len(Channels)], mar.AddDate(0, i%5, i%20), i%11))
	}
	if _, err := s.Put(ctx, many); err != nil {
		t.Fatal(err)
	}
	m.put(many...)
	checkStats(t, s, m, "after a large batch")

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, m, "after reopen")

	// Changing a rating after the reopen (the locator is read from disk, not from memory).
	again := c("ans", "1", ChannelEmail, mar, 9) // 1 → 9
	if _, err := s.Put(ctx, []Contact{again}); err != nil {
		t.Fatal(err)
	}
	m.put(again)
	checkStats(t, s, m, "after a change following the reopen")

	st := stats(t, s)
	if st.Disk.Vault <= 0 || st.Disk.Total == 0 {
		t.Errorf("disk stats: %+v", st.Disk)
	}
}
