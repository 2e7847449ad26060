package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Retention tests: placement of contacts in expiry buckets, the read-time term check,
// Expire and its clean-up, counters, policy changes. A fake clock drives every test; no
// timing decides pass or fail.

// ---- helpers shared by the retention, hold, expiry crash, old-copy and race tests ----

func setPolicy(t testing.TB, s *Store, js string) PolicyChange {
	t.Helper()
	p, err := ParsePolicy([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.SetPolicy(context.Background(), p)
	if err != nil {
		t.Fatalf("SetPolicy: %v", err)
	}
	return ch
}

// safeClock is a settable clock that goroutines (the background expirer, racing readers)
// may read while the test moves it.
type safeClock struct{ ns atomic.Int64 }

func newSafeClock(t time.Time) *safeClock {
	c := &safeClock{}
	c.Set(t)
	return c
}

func (c *safeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *safeClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *safeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// openRet opens a fresh store at now with a policy (none if policy is "").
func openRet(t testing.TB, fs vfs.FS, now time.Time, policy string) (*Store, *fakeClock) {
	t.Helper()
	o := testOptions(t, fs)
	clock := &fakeClock{t: now}
	o.Clock = clock
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	if policy != "" {
		setPolicy(t, s, policy)
	}
	return s, clock
}

// rc makes a contact with a distinctive body (to be looked for in raw scans).
func rc(customer, id, category, channel string, at time.Time) Contact {
	return Contact{
		ID: id, Customer: customer, Time: at, Channel: channel, Category: category,
		Direction: DirectionInbound,
		Subject:   "Onderwerp " + id,
		Body:      "Geheime inhoud " + customer + "/" + id + " over de bestelling",
		Email:     customer + "@voorbeeld.nl",
		Rating:    7,
	}
}

func mustPut(t testing.TB, s *Store, cs ...Contact) PutResult {
	t.Helper()
	res, err := s.Put(context.Background(), cs)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	return res
}

// readIDs returns a customer's readable contact ids, sorted.
func readIDs(t testing.TB, s *Store, customer string) ([]string, error) {
	t.Helper()
	got, err := collect(t, s, customer, TimeRange{})
	ids := idsOf(got)
	slices.Sort(ids)
	return ids, err
}

func wantIDs(t testing.TB, s *Store, what, customer string, want ...string) {
	t.Helper()
	got, err := readIDs(t, s, customer)
	if err != nil {
		t.Errorf("%s: %s: %v", what, customer, err)
		return
	}
	w := slices.Clone(want)
	slices.Sort(w)
	if w == nil {
		w = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, w) {
		t.Errorf("%s: %s reads %v, want %v", what, customer, got, w)
	}
}

func wantGone(t testing.TB, s *Store, what, customer string) {
	t.Helper()
	got, err := readIDs(t, s, customer)
	if len(got) != 0 || !errors.Is(err, ErrNotFound) {
		t.Errorf("%s: %s reads %v, %v; want nothing and ErrNotFound", what, customer, got, err)
	}
}

// freshCount counts what reads return for the given customers: contacts, and customers
// that exist (not ErrNotFound or ErrErased).
func freshCount(t testing.TB, s *Store, customers []string) (contacts, existing int64) {
	t.Helper()
	for _, cu := range customers {
		got, err := collect(t, s, cu, TimeRange{})
		if isGone(err) && len(got) == 0 {
			continue
		}
		if err != nil {
			t.Errorf("fresh count: %s: %v", cu, err)
			continue
		}
		contacts += int64(len(got))
		existing++
	}
	return contacts, existing
}

// checkStatsFresh checks that Stats counts exactly what reads return.
func checkStatsFresh(t testing.TB, s *Store, what string, customers []string) Stats {
	t.Helper()
	st := stats(t, s)
	c, n := freshCount(t, s, customers)
	if st.Contacts != c || st.Customers != n {
		t.Errorf("%s: stats say %d contacts of %d customers; reads return %d of %d", what, st.Contacts, st.Customers, c, n)
	}
	return st
}

// custKeys is what identifies a customer in Pebble, kept to look for leftovers after the
// customer is gone.
type custKeys struct {
	name   string
	ps     crypto.Pseudonym
	prefix [keys.PrefixSize]byte
}

func keysOf(t testing.TB, s *Store, customer string) custKeys {
	t.Helper()
	cu, err := s.lookupCustomer(customer, false)
	if err != nil {
		t.Fatalf("%s: %v", customer, err)
	}
	return custKeys{name: customer, ps: cu.ps, prefix: cu.key.Prefix}
}

// rawLeft lists what Pebble (read through the open store) still holds of a customer: data
// key, records, locators, memberships both ways, counter, hold.
func rawLeft(t testing.TB, db *pebble.DB, k custKeys) []string {
	t.Helper()
	var out []string
	scan := func(kind byte, match func(key []byte) bool, what string) {
		lo, hi := keys.Kind(kind)
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for it.First(); it.Valid(); it.Next() {
			if match(it.Key()) {
				n++
			}
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%d %s", n, what))
		}
	}
	scan(keys.KindDataKey, func(key []byte) bool {
		_, _, p, err := keys.ParseDataKey(key)
		return err == nil && p == k.ps
	}, "data key(s)")
	scan(keys.KindRecord, func(key []byte) bool {
		return len(key) == keys.RecordLen && [keys.PrefixSize]byte(key[5:21]) == k.prefix
	}, "record(s)")
	scan(keys.KindLocator, func(key []byte) bool {
		return len(key) == keys.LocatorLen && [keys.PrefixSize]byte(key[1:17]) == k.prefix
	}, "locator(s)")
	scan(keys.KindBucket, func(key []byte) bool {
		return len(key) >= 17 && [keys.PrefixSize]byte(key[1:17]) == k.prefix
	}, "bucket membership(s) (B)")
	scan(keys.KindExpiry, func(key []byte) bool {
		return len(key) == 5+keys.PrefixSize && [keys.PrefixSize]byte(key[5:]) == k.prefix
	}, "bucket entr(y/ies) (E)")
	scan(keys.KindHold, func(key []byte) bool { return string(key) == string(keys.Hold(k.ps)) }, "hold")
	scan(keys.KindIndex, func(key []byte) bool {
		_, ps, err := keys.ParseIndex(key)
		return err == nil && ps == k.ps
	}, "index entr(y/ies) (I)")
	scan(keys.KindIndexOf, func(key []byte) bool {
		p, _, _, err := keys.ParseIndexOf(key)
		return err == nil && p == k.prefix
	}, "index membership(s) (J)")
	if _, closer, err := db.Get(customerCountKey(k.prefix)); err == nil {
		closer.Close()
		out = append(out, "the S c counter")
	}
	return out
}

func wantNoLeftovers(t testing.TB, s *Store, what string, k custKeys) {
	t.Helper()
	if left := rawLeft(t, s.db, k); len(left) > 0 {
		t.Errorf("%s: Pebble still holds of %s: %s", what, k.name, strings.Join(left, ", "))
	}
}

// bucketKeyExists reports whether the vault holds the key of the bucket of day d.
func bucketKeyExists(s *Store, d time.Time) bool {
	_, ok := s.vault.Load().Buckets[dayOf(d)]
	return ok
}

// dayStart returns midnight (UTC) of t's day; dayEnd the first instant of the next day.
func dayStart(t time.Time) time.Time { return bucketDay(dayOf(t)) }
func dayEnd(t time.Time) time.Time   { return dayStart(t).Add(day) }

func utc(y int, m time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, m, d, h, mi, s, 0, time.UTC)
}

func schedule(st Stats) map[string]int64 {
	m := map[string]int64{}
	for _, d := range st.Retention.Schedule {
		m[d.Date] = d.Contacts
	}
	return m
}

func auditKinds(t testing.TB, s *Store, customer string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for e, err := range s.Audit(context.Background(), customer) {
		if err != nil {
			t.Fatal(err)
		}
		m[e.Kind]++
	}
	return m
}

// ---- tests ----

func TestExpirySmoke(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	opts := testOptions(t, fs)
	clock := opts.Clock.(*fakeClock)
	clock.t = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setPolicy(t, s, `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`)
	t0 := time.Date(2025, 12, 20, 12, 0, 0, 0, time.UTC)
	cs := []Contact{
		{ID: "a", Customer: "alice", Time: t0, Channel: ChannelChat, Category: "chat", Body: "hoi"},
		{ID: "b", Customer: "alice", Time: t0, Channel: ChannelEmail, Body: "mail"},
		{ID: "c", Customer: "bob", Time: t0, Channel: ChannelChat, Category: "chat", Body: "chat only"},
	}
	res, err := s.Put(ctx, cs)
	if err != nil || res.Added != 3 {
		t.Fatalf("put: %+v %v", res, err)
	}
	got, err := collect(t, s, "alice", TimeRange{})
	if err != nil || len(got) != 2 {
		t.Fatalf("before expiry: %d %v", len(got), err)
	}
	// The chat expires at t0+30d = 2026-01-19 12:00.
	clock.t = time.Date(2026, 1, 19, 11, 59, 59, 0, time.UTC)
	if got, _ := collect(t, s, "alice", TimeRange{}); len(got) != 2 {
		t.Fatalf("just before term: %d", len(got))
	}
	// A hold placed before the term keeps bob's chat.
	if err := s.Hold(ctx, "bob", "matter 2026-17"); err != nil {
		t.Fatal(err)
	}
	clock.t = time.Date(2026, 1, 19, 12, 0, 0, 0, time.UTC)
	if got, _ := collect(t, s, "alice", TimeRange{}); len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("at term: %+v", got)
	}
	if got, _ := collect(t, s, "bob", TimeRange{}); len(got) != 1 {
		t.Fatalf("held contact past term must stay readable: %d", len(got))
	}
	clock.t = time.Date(2026, 1, 21, 0, 0, 0, 0, time.UTC)
	er, err := s.Expire(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("expire: %+v", er)
	if er.Buckets == 0 || er.Contacts != 1 || er.Held != 1 {
		t.Fatalf("expire result %+v", er)
	}
	if got, _ := collect(t, s, "bob", TimeRange{}); len(got) != 1 {
		t.Fatalf("held contact after expiry: %d", len(got))
	}
	if _, err := s.Erase(ctx, "bob", "art 17"); !errors.Is(err, ErrHeld) {
		t.Fatalf("erase during hold: %v", err)
	}
	rr, err := s.Release(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if rr.Receipt == nil || rr.Expired != 1 {
		t.Fatalf("release: %+v", rr)
	}
	if _, err := collect(t, s, "bob", TimeRange{}); !errors.Is(err, ErrErased) {
		t.Fatalf("bob after release: %v", err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Contacts != 1 || st.Customers != 1 {
		t.Fatalf("stats %+v", st)
	}
	checkConsistent(t, s)
}

func TestParsePolicyRefusesInvalid(t *testing.T) {
	for _, tc := range []struct{ js, want string }{
		{`{}`, `"default" is required`},
		{`{"default":"30D"}`, "must start with P"},
		{`{"default":"P0D"}`, "zero"},
		{`{"default":"P1.5Y"}`, "fractions"},
		{`{"default":"P2Y","rules":[{"retention":"P1Y"}]}`, "neither a category nor a channel"},
		{`{"default":"P2Y","rules":[{"channel":"fax","retention":"P1Y"}]}`, `unknown channel "fax"`},
		{`{"default":"P2Y","rules":[{"category":"chat"}]}`, `"retention" is required`},
		{`{"default":"P2Y","rules":[{"category":"chat","retention":"P1Y"},{"category":"chat","retention":"P2Y"}]}`, "repeats"},
		{`{"default":"P2Y","regels":[]}`, "unknown field"},
		{`{"default":"P2Y"} {}`, "data after"},
	} {
		_, err := ParsePolicy([]byte(tc.js))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrInvalid saying %q", tc.js, err, tc.want)
		}
	}
	s, _ := openRet(t, vfs.NewMem(), utc(2026, 1, 1, 0, 0, 0), "")
	defer s.Close()
	if _, err := s.SetPolicy(context.Background(), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPolicy(nil): %v", err)
	}
	// A policy built in code is validated like a parsed one.
	if _, err := s.SetPolicy(context.Background(), &Policy{Default: Duration{Days: 1}, Rules: []PolicyRule{{Channel: "fax", Retention: Duration{Days: 1}}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPolicy with an unknown channel: %v", err)
	}
	if s.Policy() != nil {
		t.Errorf("a refused policy is in force: %+v", s.Policy())
	}
}

// placementPolicy has a rule at every level of specificity.
const placementPolicy = `{"default":"P2Y","rules":[
	{"category":"chat","retention":"P30D"},
	{"category":"order","retention":"P7Y"},
	{"channel":"phone","retention":"P6M"},
	{"category":"order","channel":"phone","retention":"P1Y"},
	{"category":"maand","retention":"P1M"},
	{"category":"kort","retention":"PT12H"}]}`

// TestPlacementAndTermBoundaries puts one contact per case and checks, with no Expire run,
// that it reads up to the instant before its term and is hidden from its term on; then
// that its bucket is the UTC day of its term (schedule), that Expire keeps the bucket's key
// until that day has ended, and destroys it (and the customer, whose only contact it was)
// once it has.
func TestPlacementAndTermBoundaries(t *testing.T) {
	ctx := context.Background()
	minus2 := time.FixedZone("UTC-2", -2*3600)
	plus2 := time.FixedZone("CEST", 2*3600)
	cases := []struct {
		name, category, channel string
		at                      time.Time
		term                    time.Time // when the contact's term ends
	}{
		{"default", "", ChannelEmail, utc(2025, 3, 1, 10, 0, 0), utc(2027, 3, 1, 10, 0, 0)},
		{"default-for-unknown-category", "overig", ChannelLetter, utc(2025, 3, 1, 10, 0, 0), utc(2027, 3, 1, 10, 0, 0)},
		{"category", "chat", ChannelChat, utc(2025, 3, 1, 10, 0, 0), utc(2025, 3, 31, 10, 0, 0)},
		{"category-beats-channel", "chat", ChannelPhone, utc(2025, 3, 1, 11, 0, 0), utc(2025, 3, 31, 11, 0, 0)},
		{"category-long", "order", ChannelEmail, utc(2025, 3, 1, 10, 0, 0), utc(2032, 3, 1, 10, 0, 0)},
		{"category-and-channel", "order", ChannelPhone, utc(2025, 3, 1, 10, 0, 0), utc(2026, 3, 1, 10, 0, 0)},
		{"channel", "", ChannelPhone, utc(2025, 3, 1, 10, 0, 0), utc(2025, 9, 1, 10, 0, 0)},
		{"channel-with-unruled-category", "klacht", ChannelPhone, utc(2025, 3, 1, 12, 0, 0), utc(2025, 9, 1, 12, 0, 0)},
		// Calendar months: 31 January plus one month is 3 March (2 March in a leap year).
		{"month-31-jan", "maand", ChannelEmail, utc(2025, 1, 31, 10, 0, 0), utc(2025, 3, 3, 10, 0, 0)},
		{"month-31-jan-leap", "maand", ChannelEmail, utc(2024, 1, 31, 10, 0, 0), utc(2024, 3, 2, 10, 0, 0)},
		{"month-31-mar", "maand", ChannelEmail, utc(2025, 3, 31, 8, 0, 0), utc(2025, 5, 1, 8, 0, 0)},
		// UTC calendar: 31 January 23:30 at UTC-2 is 1 February 01:30 UTC; a month later
		// is 1 March 01:30 UTC (in the local calendar it would be 3 March).
		{"month-utc-not-local", "maand", ChannelEmail, time.Date(2025, 1, 31, 23, 30, 0, 0, minus2), utc(2025, 3, 1, 1, 30, 0)},
		// A term that crosses midnight UTC lands in the next day's bucket.
		{"hours-across-midnight", "kort", ChannelChat, time.Date(2025, 6, 30, 20, 0, 0, 0, plus2), utc(2025, 7, 1, 6, 0, 0)},
		// A term ending exactly at midnight belongs to the day that starts then.
		{"term-at-midnight", "chat", ChannelChat, utc(2025, 5, 1, 0, 0, 0), utc(2025, 5, 31, 0, 0, 0)},
	}
	start := utc(2024, 1, 1, 0, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), start, placementPolicy)
	defer s.Close()
	var customers []string
	wantSched := map[string]int64{}
	for _, tc := range cases {
		res := mustPut(t, s, rc(tc.name, "id-"+tc.name, tc.category, tc.channel, tc.at))
		if res.Added != 1 || res.Expired != 0 {
			t.Fatalf("%s: put %+v", tc.name, res)
		}
		customers = append(customers, tc.name)
		wantSched[tc.term.Format(time.DateOnly)]++
	}
	st := checkStatsFresh(t, s, "after ingest", customers)
	if got := schedule(st); !mapsEqual(got, wantSched) {
		t.Errorf("schedule %v, want %v", got, wantSched)
	}
	if st.Retention.Due != 0 || st.Retention.NoExpiry != 0 || st.Retention.Held != 0 {
		t.Errorf("retention stats %+v", st.Retention)
	}

	// Reads, with no Expire run.
	for _, tc := range cases {
		for _, p := range []struct {
			off      time.Duration
			readable bool
		}{{-time.Second, true}, {-time.Microsecond, true}, {-time.Nanosecond, true}, {0, false}, {time.Microsecond, false}, {time.Second, false}} {
			clock.t = tc.term.Add(p.off)
			got, err := readIDs(t, s, tc.name)
			if err != nil {
				t.Errorf("%s at term%+v: %v", tc.name, p.off, err)
			}
			if readable := len(got) == 1; readable != p.readable {
				t.Errorf("%s: at term%+v (%s) readable %v, want %v", tc.name, p.off, clock.t.Format(time.RFC3339Nano), readable, p.readable)
			}
		}
	}

	// Expire, day by day.
	byDay := map[time.Time][]string{}
	var days []time.Time
	for _, tc := range cases {
		d := dayStart(tc.term)
		if byDay[d] == nil {
			days = append(days, d)
		}
		byDay[d] = append(byDay[d], tc.name)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	left := int64(len(cases))
	for _, d := range days {
		names := byDay[d]
		// The last instant of the day: the bucket is kept.
		er, err := s.Expire(ctx, d.Add(day-time.Nanosecond))
		if err != nil {
			t.Fatal(err)
		}
		if er.Contacts != 0 || er.Customers != 0 || !bucketKeyExists(s, d) {
			t.Errorf("day %s: Expire at its last instant: %+v, key kept %v", d.Format(time.DateOnly), er, bucketKeyExists(s, d))
		}
		clock.t = d.Add(day - time.Nanosecond)
		if st := stats(t, s); st.Contacts != left || schedule(st)[d.Format(time.DateOnly)] != int64(len(names)) {
			t.Errorf("day %s before its end: %d contacts (want %d), schedule %v", d.Format(time.DateOnly), st.Contacts, left, schedule(st))
		}
		// The day has ended: destroyed.
		clock.t = d.Add(day)
		if st := stats(t, s); st.Retention.Due != int64(len(names)) {
			t.Errorf("day %s ended, not yet expired: due %d, want %d", d.Format(time.DateOnly), st.Retention.Due, len(names))
		}
		er, err = s.Expire(ctx, d.Add(day))
		if err != nil {
			t.Fatal(err)
		}
		left -= int64(len(names))
		if er.Contacts != int64(len(names)) || er.Customers != int64(len(names)) || er.Through != d.Format(time.DateOnly) || er.Buckets < 1 {
			t.Errorf("day %s: Expire at its end: %+v, want %d contacts and customers through %s", d.Format(time.DateOnly), er, len(names), d.Format(time.DateOnly))
		}
		if bucketKeyExists(s, d) {
			t.Errorf("day %s: its bucket key survived Expire", d.Format(time.DateOnly))
		}
		for _, n := range names {
			wantGone(t, s, "after its day expired", n)
		}
		st := checkStatsFresh(t, s, "after expiring "+d.Format(time.DateOnly), customers)
		if st.Retention.Due != 0 || st.Retention.ExpiredThrough != d.Format(time.DateOnly) {
			t.Errorf("day %s: retention stats after Expire %+v", d.Format(time.DateOnly), st.Retention)
		}
		if st.Contacts != left {
			t.Errorf("day %s: %d contacts left, want %d", d.Format(time.DateOnly), st.Contacts, left)
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestExpireRemovesWhatExpired checks Expire against the counters and against Pebble: a
// customer whose last contact expired leaves no data key, record, locator, membership,
// bucket entry or counter; a customer with contacts left keeps exactly those.
func TestExpireRemovesWhatExpired(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), t0, `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`)
	defer s.Close()
	var all []Contact
	for i := range 6 { // only chats: gone entirely
		all = append(all, rc("kort", fmt.Sprintf("k%d", i), "chat", ChannelChat, t0.Add(time.Duration(i)*time.Minute)))
	}
	for i := range 4 { // chats and mails
		all = append(all, rc("gemengd", fmt.Sprintf("gc%d", i), "chat", ChannelChat, t0.Add(time.Duration(i)*time.Hour)))
		all = append(all, rc("gemengd", fmt.Sprintf("gm%d", i), "", ChannelEmail, t0.Add(time.Duration(i)*time.Hour)))
	}
	for i := range 3 { // mails only
		all = append(all, rc("lang", fmt.Sprintf("l%d", i), "", ChannelEmail, t0))
	}
	// Chats a day later: a second bucket, still live when the first expires.
	all = append(all, rc("later", "x0", "chat", ChannelChat, t0.Add(day)))
	customers := []string{"kort", "gemengd", "lang", "later"}
	if res := mustPut(t, s, all...); res.Added != len(all) {
		t.Fatalf("put %+v", res)
	}
	kort, gemengd := keysOf(t, s, "kort"), keysOf(t, s, "gemengd")
	term := t0.AddDate(0, 0, 30)
	st := checkStatsFresh(t, s, "after ingest", customers)
	if st.Contacts != int64(len(all)) || st.Customers != 4 {
		t.Fatalf("stats after ingest %d/%d", st.Contacts, st.Customers)
	}
	if sc := schedule(st); sc[term.Format(time.DateOnly)] != 10 || sc[term.Add(day).Format(time.DateOnly)] != 1 || sc[t0.AddDate(2, 0, 0).Format(time.DateOnly)] != 7 {
		t.Errorf("schedule %v", sc)
	}

	// Past the chats' term, before Expire: hidden, still counted, due once the day ended.
	clock.t = dayEnd(term)
	wantIDs(t, s, "past term", "kort")
	wantIDs(t, s, "past term", "gemengd", "gm0", "gm1", "gm2", "gm3")
	if st := stats(t, s); st.Contacts != int64(len(all)) || st.Retention.Due != 10 {
		t.Errorf("before Expire: %d contacts, %d due", st.Contacts, st.Retention.Due)
	}
	er, err := s.Expire(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if er.Contacts != 10 || er.Customers != 1 || er.Held != 0 || er.Through != term.Format(time.DateOnly) || !er.Now.Equal(clock.t) {
		t.Errorf("expire %+v", er)
	}
	wantGone(t, s, "after Expire", "kort")
	wantIDs(t, s, "after Expire", "gemengd", "gm0", "gm1", "gm2", "gm3")
	wantIDs(t, s, "after Expire", "later", "x0") // its term ends later this day
	st = checkStatsFresh(t, s, "after Expire", customers)
	if st.Contacts != 8 || st.Customers != 3 || st.Retention.Due != 0 || len(st.Retention.Schedule) != 2 {
		t.Errorf("after Expire: %d contacts, %d customers, retention %+v", st.Contacts, st.Customers, st.Retention)
	}
	wantNoLeftovers(t, s, "after Expire", kort)
	// gemengd keeps exactly its mails: 4 records, 4 locators, one bucket each way, counter 4,
	// and the index entries of its id and address (its mails carry both) in the mails' bucket.
	left := rawLeft(t, s.db, gemengd)
	want := []string{"1 data key(s)", "4 record(s)", "4 locator(s)", "1 bucket membership(s) (B)", "1 bucket entr(y/ies) (E)",
		"2 index entr(y/ies) (I)", "2 index membership(s) (J)", "the S c counter"}
	if !slices.Equal(left, want) {
		t.Errorf("gemengd in Pebble: %v, want %v", left, want)
	}
	if n, _ := s.counter(customerCountKey(gemengd.prefix)); len(n) == 0 || n[0] != 4 {
		t.Errorf("gemengd's counter %v, want 4", n)
	}
	// Expiry is idempotent.
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Buckets != 0 || er.Contacts != 0 {
		t.Errorf("second Expire: %+v %v", er, err)
	}
	kinds := auditKinds(t, s, "")
	if kinds["expire"] != 1 || kinds["policy"] < 1 {
		t.Errorf("audit kinds %v: want one expire entry and the policy", kinds)
	}
	// The bucket of the day after expires the next day; everything is consistent after a
	// reopen, too.
	if er, err := s.Expire(ctx, dayEnd(term.Add(day))); err != nil || er.Contacts != 1 || er.Customers != 1 {
		t.Errorf("expire of the next day: %+v %v", er, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPutPastTerm: contacts already past their term are not stored (PutResult.Expired),
// unless their customer is held: then they go to the hold bucket and stay readable.
func TestPutPastTerm(t *testing.T) {
	ctx := context.Background()
	now := utc(2026, 6, 1, 12, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), now, `{"default":"P30D"}`)
	defer s.Close()
	old := now.AddDate(0, 0, -30) // term ends exactly now: past
	fresh := now.AddDate(0, 0, -30).Add(time.Microsecond)
	// A customer with only expired contacts is never created.
	res := mustPut(t, s, rc("nooit", "n1", "", ChannelEmail, old), rc("nooit", "n2", "", ChannelEmail, old.Add(-day)))
	if res.Expired != 2 || res.Added != 0 || len(res.IDs) != 2 {
		t.Errorf("all past term: %+v", res)
	}
	wantGone(t, s, "only expired contacts put", "nooit")
	// A mixed batch: only the live ones count.
	res = mustPut(t, s, rc("gemengd", "oud", "", ChannelEmail, old), rc("gemengd", "vers", "", ChannelEmail, fresh), rc("gemengd", "nieuw", "", ChannelEmail, now))
	if res.Expired != 1 || res.Added != 2 || res.Replaced != 0 {
		t.Errorf("mixed: %+v", res)
	}
	wantIDs(t, s, "mixed", "gemengd", "nieuw", "vers")
	// A held customer's contacts whose term ends after the hold was placed are kept, in the
	// hold bucket, when they are put past their term; those whose term had ended before the
	// hold are not (a hold never revives expired contacts).
	mustPut(t, s, rc("vast", "v0", "", ChannelEmail, now))
	if err := s.Hold(ctx, "vast", "zaak 2026-3"); err != nil {
		t.Fatal(err)
	}
	clock.t = now.Add(10 * day)
	res = mustPut(t, s,
		rc("vast", "v1", "", ChannelEmail, old.Add(time.Microsecond)), // term: just after the hold
		rc("vast", "v2", "", ChannelEmail, old.Add(5*day)),            // term: 5 days after the hold
		rc("vast", "v3", "", ChannelEmail, old),                       // term: at the hold (not after it)
		rc("vast", "v4", "", ChannelEmail, old.AddDate(-3, 0, 0)),     // long before the hold
		rc("vast", "v5", "", ChannelEmail, now))                       // within its term
	if res.Expired != 2 || res.Added != 3 {
		t.Errorf("held: %+v, want 3 added and 2 expired", res)
	}
	wantIDs(t, s, "held", "vast", "v0", "v1", "v2", "v5")
	wantIDs(t, s, "held", "gemengd", "nieuw") // vers is past its term and not held
	st := stats(t, s)
	if st.Retention.Held != 2 || st.Retention.HeldCustomers != 1 {
		t.Errorf("retention %+v: want 2 held contacts of one customer", st.Retention)
	}
	clock.t = now
	checkStatsFresh(t, s, "after puts", []string{"nooit", "gemengd", "vast"})
	// Expire with a later instant than the clock: afterwards no key is made again for the
	// days it destroyed, so a contact whose term ends on one of them is refused at Put even
	// though the clock has not reached its term.
	if _, err := s.Expire(ctx, now.Add(10*day)); err != nil {
		t.Fatal(err)
	}
	clock.t = now
	res = mustPut(t, s, rc("gemengd", "binnen", "", ChannelEmail, now.AddDate(0, 0, -25)))
	if res.Expired != 1 || res.Added != 0 {
		t.Errorf("a contact whose day was already expired: %+v", res)
	}
	wantIDs(t, s, "after Expire ahead", "vast", "v0", "v1", "v2", "v5")
	checkStatsFresh(t, s, "after Expire ahead", []string{"nooit", "gemengd", "vast"})
}

// TestNoPolicyThenPolicy: without a policy contacts are kept (no expiry); setting one moves
// them to their buckets and deletes those already past their term.
func TestNoPolicyThenPolicy(t *testing.T) {
	ctx := context.Background()
	now := utc(2026, 6, 1, 12, 0, 0)
	s, _ := openRet(t, vfs.NewMem(), now, "")
	defer s.Close()
	if s.Policy() != nil {
		t.Fatal("a new store has a policy")
	}
	mustPut(t, s, rc("a", "1", "chat", ChannelChat, now.AddDate(-1, 0, 0)), rc("a", "2", "chat", ChannelChat, now.Add(-day)), rc("b", "3", "chat", ChannelChat, now.AddDate(-1, 0, 0)))
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Contacts != 0 {
		t.Fatalf("Expire without a policy: %+v %v", er, err)
	}
	st := stats(t, s)
	if st.Retention.NoExpiry != 3 || st.Retention.Policy != nil || len(st.Retention.Schedule) != 0 {
		t.Errorf("retention without policy %+v", st.Retention)
	}
	ch := setPolicy(t, s, `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`)
	if ch.Version != 1 || ch.Scanned != 3 || ch.Expired != 2 || ch.Moved != 1 {
		t.Errorf("policy change %+v: want version 1, 3 scanned, 2 expired, 1 moved", ch)
	}
	wantIDs(t, s, "after the policy", "a", "2")
	wantGone(t, s, "after the policy", "b")
	st = checkStatsFresh(t, s, "after the policy", []string{"a", "b"})
	if st.Retention.NoExpiry != 0 || st.Retention.PolicyVersion != 1 || st.Retention.PolicyPending || schedule(st)[now.Add(29*day).Format(time.DateOnly)] != 1 {
		t.Errorf("retention after the policy %+v", st.Retention)
	}
}

// TestPolicyChangeAfterIngest: a shortened term hides and deletes contacts past it at
// once; a lengthened one keeps contacts past their old term, and Expire at the old term
// does not touch them.
func TestPolicyChangeAfterIngest(t *testing.T) {
	ctx := context.Background()
	t.Run("shortened", func(t *testing.T) {
		now := utc(2026, 6, 1, 12, 0, 0)
		s, clock := openRet(t, vfs.NewMem(), now, `{"default":"P2Y"}`)
		defer s.Close()
		var cs []Contact
		for i := range 5 { // a year old: past a 6-month term
			cs = append(cs, rc("klant", fmt.Sprintf("oud%d", i), "", ChannelEmail, now.AddDate(-1, 0, 0).Add(time.Duration(i)*time.Hour)))
		}
		for i := range 3 { // a month old: within it
			cs = append(cs, rc("klant", fmt.Sprintf("jong%d", i), "", ChannelEmail, now.AddDate(0, -1, 0).Add(time.Duration(i)*time.Hour)))
		}
		cs = append(cs, rc("alleen-oud", "z", "", ChannelEmail, now.AddDate(-1, 0, 0)))
		mustPut(t, s, cs...)
		gone := keysOf(t, s, "alleen-oud")
		ch := setPolicy(t, s, `{"default":"P6M"}`)
		if ch.Version != 2 || ch.Expired != 6 || ch.Moved != 3 || ch.Scanned != 9 {
			t.Errorf("policy change %+v: want version 2, 6 expired, 3 moved, 9 scanned", ch)
		}
		wantIDs(t, s, "shortened", "klant", "jong0", "jong1", "jong2")
		wantGone(t, s, "shortened", "alleen-oud")
		wantNoLeftovers(t, s, "shortened", gone)
		st := checkStatsFresh(t, s, "shortened", []string{"klant", "alleen-oud"})
		if st.Contacts != 3 || st.Customers != 1 || st.Retention.PolicyPending || st.Retention.PolicyVersion != 2 {
			t.Errorf("stats %d contacts, %d customers, retention %+v", st.Contacts, st.Customers, st.Retention)
		}
		if sc := schedule(st); len(sc) != 1 || sc[now.AddDate(0, 5, 0).Format(time.DateOnly)] != 3 {
			t.Errorf("schedule %v", sc)
		}
		// Nothing is left for Expire to do about the deleted ones.
		clock.t = now.AddDate(0, 5, 1)
		er, err := s.Expire(ctx, time.Time{})
		if err != nil || er.Contacts != 3 || er.Customers != 1 {
			t.Errorf("expire at the new term: %+v %v", er, err)
		}
		checkStatsFresh(t, s, "shortened, expired", []string{"klant", "alleen-oud"})
	})
	t.Run("shortened-pending", func(t *testing.T) {
		// A policy change whose move of the stored contacts did not finish (here: its
		// context is cancelled; likewise a crash) hides contacts past the new term at once;
		// the next Expire, after a reopen too, finishes the move.
		now := utc(2026, 6, 1, 12, 0, 0)
		fs := vfs.NewMem()
		s, clock := openRet(t, fs, now, `{"default":"P2Y"}`)
		defer func() { s.Close() }()
		var cs []Contact
		for i := range 5 {
			cs = append(cs, rc("klant", fmt.Sprintf("oud%d", i), "", ChannelEmail, now.AddDate(-1, 0, 0).Add(time.Duration(i)*time.Hour)))
		}
		for i := range 3 {
			cs = append(cs, rc("klant", fmt.Sprintf("jong%d", i), "", ChannelEmail, now.AddDate(0, -1, 0).Add(time.Duration(i)*time.Hour)))
		}
		mustPut(t, s, cs...)
		p, err := ParsePolicy([]byte(`{"default":"P6M"}`))
		if err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		ch, err := s.SetPolicy(cancelled, p)
		if !errors.Is(err, context.Canceled) || ch.Version != 2 || ch.Expired != 0 || ch.Moved != 0 {
			t.Fatalf("SetPolicy with a cancelled context: %+v %v", ch, err)
		}
		if s.Policy() == nil || s.Policy().Default.String() != "P6M" {
			t.Fatalf("policy in force %+v", s.Policy())
		}
		wantIDs(t, s, "pending", "klant", "jong0", "jong1", "jong2")
		if st := stats(t, s); !st.Retention.PolicyPending || st.Contacts != 8 {
			t.Errorf("pending: stats %d contacts, retention %+v", st.Contacts, st.Retention)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		o := testOptions(t, fs)
		o.Clock = clock
		if s, err = Open("db", o); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, s, "pending, reopened", "klant", "jong0", "jong1", "jong2")
		er, err := s.Expire(ctx, time.Time{})
		if err != nil || er.PolicyExpired != 5 || er.PolicyMoved != 3 {
			t.Errorf("Expire finishing the move: %+v %v", er, err)
		}
		st := checkStatsFresh(t, s, "move finished", []string{"klant"})
		if st.Retention.PolicyPending || st.Contacts != 3 || schedule(st)[now.AddDate(0, 5, 0).Format(time.DateOnly)] != 3 {
			t.Errorf("move finished: %d contacts, retention %+v", st.Contacts, st.Retention)
		}
	})
	t.Run("lengthened", func(t *testing.T) {
		t0 := utc(2026, 1, 10, 9, 0, 0)
		s, clock := openRet(t, vfs.NewMem(), t0, `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`)
		defer s.Close()
		mustPut(t, s, rc("klant", "c1", "chat", ChannelChat, t0), rc("klant", "c2", "chat", ChannelChat, t0.Add(time.Hour)),
			rc("klant", "m1", "", ChannelEmail, t0), rc("ander", "c3", "chat", ChannelChat, t0))
		oldTerm := t0.AddDate(0, 0, 30)
		clock.t = t0.AddDate(0, 0, 10)
		ch := setPolicy(t, s, `{"default":"P2Y","rules":[{"category":"chat","retention":"P1Y"}]}`)
		if ch.Moved != 3 || ch.Expired != 0 || ch.Version != 2 {
			t.Errorf("policy change %+v: want 3 moved", ch)
		}
		// Past the old term, Expire at the old day's end: nothing destroyed.
		clock.t = dayEnd(oldTerm).Add(time.Hour)
		er, err := s.Expire(ctx, time.Time{})
		if err != nil || er.Contacts != 0 || er.Customers != 0 {
			t.Errorf("expire at the old term: %+v %v", er, err)
		}
		wantIDs(t, s, "lengthened", "klant", "c1", "c2", "m1")
		wantIDs(t, s, "lengthened", "ander", "c3")
		st := checkStatsFresh(t, s, "lengthened", []string{"klant", "ander"})
		if sc := schedule(st); sc[oldTerm.Format(time.DateOnly)] != 0 || sc[t0.AddDate(1, 0, 0).Format(time.DateOnly)] != 3 {
			t.Errorf("schedule %v", sc)
		}
		// At the new term they go.
		clock.t = t0.AddDate(1, 0, 0).Add(time.Hour)
		wantIDs(t, s, "at the new term", "klant", "m1")
		if er, err := s.Expire(ctx, dayEnd(t0.AddDate(1, 0, 0)).Add(time.Hour)); err != nil || er.Contacts != 3 || er.Customers != 1 {
			t.Errorf("expire at the new term: %+v %v", er, err)
		}
		wantGone(t, s, "at the new term", "ander")
		checkStatsFresh(t, s, "lengthened, expired", []string{"klant", "ander"})
	})
	t.Run("lengthened-after-expiry", func(t *testing.T) {
		// Contacts whose bucket was destroyed stay gone when the term is lengthened later.
		t0 := utc(2026, 1, 10, 9, 0, 0)
		s, clock := openRet(t, vfs.NewMem(), t0, `{"default":"P30D"}`)
		defer s.Close()
		mustPut(t, s, rc("klant", "weg", "", ChannelEmail, t0), rc("klant", "blijft", "", ChannelEmail, t0.Add(5*day)))
		clock.t = dayEnd(t0.AddDate(0, 0, 30))
		if _, err := s.Expire(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		ch := setPolicy(t, s, `{"default":"P1Y"}`)
		if ch.Moved != 1 || ch.Expired != 0 || ch.Scanned != 1 {
			t.Errorf("policy change %+v", ch)
		}
		wantIDs(t, s, "lengthened after expiry", "klant", "blijft")
		checkStatsFresh(t, s, "lengthened after expiry", []string{"klant"})
		checkConsistent(t, s)
	})
}

// TestReingestAfterExpiry: a contact put again under the id of a version whose bucket was
// destroyed is new (Added), both when the clean-up has run and in the window between the
// key's destruction and the clean-up.
func TestReingestAfterExpiry(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), t0, `{"default":"P30D"}`)
	defer s.Close()
	mustPut(t, s, rc("klant", "x", "", ChannelEmail, t0), rc("klant", "y", "", ChannelEmail, t0.Add(3*day)),
		rc("alleen", "x", "", ChannelEmail, t0))
	clock.t = dayEnd(t0.AddDate(0, 0, 30))
	if _, err := s.Expire(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	wantGone(t, s, "expired", "alleen")
	res := mustPut(t, s, rc("klant", "x", "", ChannelEmail, clock.t), rc("alleen", "x", "", ChannelEmail, clock.t))
	if res.Added != 2 || res.Replaced != 0 {
		t.Errorf("re-ingest after expiry: %+v, want 2 added", res)
	}
	wantIDs(t, s, "re-ingested", "klant", "x", "y")
	wantIDs(t, s, "re-ingested", "alleen", "x")
	checkStatsFresh(t, s, "re-ingested", []string{"klant", "alleen"})
	// And again, now the contact is live: replaced.
	if res := mustPut(t, s, rc("klant", "x", "", ChannelEmail, clock.t.Add(time.Hour))); res.Added != 0 || res.Replaced != 1 {
		t.Errorf("re-ingest of a live contact: %+v", res)
	}

	// The window between the destruction of a bucket's key and its clean-up (a crash there
	// leaves it until the next Open): destroy the key of y's bucket by hand.
	yDay := dayOf(t0.Add(3*day).AddDate(0, 0, 30))
	if err := s.updateVault(ctx, func(v *crypto.Vault) error {
		delete(v.Buckets, yDay)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.records.forgetBuckets(map[uint32]bool{yDay: true})
	clock.t = bucketDay(yDay).Add(-day) // y is within its term by the clock, but its key is gone
	wantIDs(t, s, "y's key destroyed", "klant", "x")
	res = mustPut(t, s, rc("klant", "y", "", ChannelEmail, clock.t))
	if res.Added != 1 || res.Replaced != 0 {
		t.Errorf("re-ingest over a destroyed bucket: %+v, want 1 added", res)
	}
	wantIDs(t, s, "y re-ingested", "klant", "x", "y")
	// The clean-up of that bucket leaves the new y and counts right.
	if _, _, err := s.cleanupBuckets([]uint32{yDay}); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, s, "after the clean-up", "klant", "x", "y")
	checkStatsFresh(t, s, "after the clean-up", []string{"klant", "alleen"})
}

// TestEraseThenExpireCounts: an erased customer's contacts must not be counted again when
// their bucket expires.
func TestEraseThenExpireCounts(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), t0, `{"default":"P30D"}`)
	defer s.Close()
	var cs []Contact
	for i := range 3 {
		cs = append(cs, rc("gewist", fmt.Sprintf("g%d", i), "", ChannelEmail, t0))
	}
	for i := range 2 {
		cs = append(cs, rc("blijft", fmt.Sprintf("b%d", i), "", ChannelEmail, t0))
	}
	cs = append(cs, rc("blijft", "later", "", ChannelEmail, t0.AddDate(0, 1, 0)))
	mustPut(t, s, cs...)
	if _, err := s.Erase(ctx, "gewist", ""); err != nil {
		t.Fatal(err)
	}
	customers := []string{"gewist", "blijft"}
	term := t0.AddDate(0, 0, 30).Format(time.DateOnly)
	var bugs []string
	st := stats(t, s)
	if c, n := freshCount(t, s, customers); st.Contacts != c || st.Customers != n {
		t.Errorf("after the erasure: stats %d contacts of %d customers, reads %d of %d", st.Contacts, st.Customers, c, n)
	}
	if n := schedule(st)[term]; n != 2 {
		bugs = append(bugs, fmt.Sprintf("the schedule counts %d contacts on %s after the erasure, want 2", n, term))
	}
	clock.t = dayEnd(t0.AddDate(0, 0, 30))
	er, err := s.Expire(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if er.Contacts != 2 || er.Customers != 0 {
		bugs = append(bugs, fmt.Sprintf("Expire reports %d contacts removed, want 2", er.Contacts))
	}
	wantIDs(t, s, "after the erasure and expiry", "blijft", "later")
	st = stats(t, s)
	if c, n := freshCount(t, s, customers); st.Contacts != c || st.Customers != n {
		bugs = append(bugs, fmt.Sprintf("after the expiry, stats count %d contacts of %d customers; reads return %d of %d", st.Contacts, st.Customers, c, n))
	}
	if len(bugs) > 0 {
		// Erase (completeErasure → deleteCustomerData, erase.go) deletes the customer's
		// records and memberships but leaves the per-bucket counters (S "b") as they were;
		// cleanupBuckets (expire.go) then subtracts each expired bucket's whole count from
		// the totals, so the erased contacts are subtracted a second time.
		t.Fatalf("erased customers' contacts counted again at expiry: %s", strings.Join(bugs, "; "))
	}
}

// TestReadDuringExpiry: a read that is under way when Expire destroys a bucket it has
// records of buffered skips them (they are gone) and goes on with the customer's other
// contacts; it does not fail.
func TestReadDuringExpiry(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), t0, holdPolicy)
	defer s.Close()
	mustPut(t, s, rc("klant", "a1", "chat", ChannelChat, t0), rc("klant", "a2", "chat", ChannelChat, t0.Add(time.Minute)),
		rc("klant", "m1", "", ChannelEmail, t0.Add(2*time.Minute)))
	clock.t = t0.Add(time.Hour)
	next, stop := iter.Pull2(s.Contacts(ctx, "klant", TimeRange{}))
	defer stop()
	c, err, ok := next()
	if !ok || err != nil || c.ID != "a1" {
		t.Fatalf("first contact: %v %v %v", c.ID, err, ok)
	}
	// The chats' bucket is destroyed while the read is under way.
	if er, err := s.Expire(ctx, dayEnd(t0.AddDate(0, 0, 30))); err != nil || er.Contacts != 2 {
		t.Fatalf("expire %+v %v", er, err)
	}
	var rest []string
	for {
		c, err, ok := next()
		if !ok {
			break
		}
		if err != nil {
			if errors.Is(err, ErrKeyGone) {
				t.Fatalf("a read under way when Expire destroys a bucket failed with %q instead of skipping that bucket's records", err)
			}
			t.Fatalf("read under way: %v", err)
		}
		rest = append(rest, c.ID)
	}
	if !slices.Equal(rest, []string{"m1"}) {
		t.Errorf("the rest of the read: %v, want [m1]", rest)
	}
}

// TestBackgroundExpirer: with a short ExpiryInterval the store destroys a bucket whose day
// has passed without a call to Expire.
func TestBackgroundExpirer(t *testing.T) {
	t0 := utc(2026, 1, 10, 9, 0, 0)
	clock := newSafeClock(t0)
	o := testOptions(t, vfs.NewMem())
	o.Clock = clock
	o.ExpiryInterval = 20 * time.Millisecond
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setPolicy(t, s, `{"default":"P30D"}`)
	mustPut(t, s, rc("kort", "1", "", ChannelEmail, t0), rc("kort", "2", "", ChannelEmail, t0.Add(time.Hour)),
		rc("lang", "3", "", ChannelEmail, t0.AddDate(0, 0, 5)))
	term := t0.AddDate(0, 0, 30)
	// The expirer runs meanwhile and must not destroy anything before the day has ended.
	clock.Set(term.Add(time.Hour))
	wantIDs(t, s, "past term", "kort")
	time.Sleep(100 * time.Millisecond)
	if !bucketKeyExists(s, term) {
		t.Fatal("the background expirer destroyed a bucket whose day has not ended")
	}
	clock.Set(dayEnd(term).Add(time.Minute))
	deadline := time.Now().Add(20 * time.Second)
	for bucketKeyExists(s, term) || stats(t, s).Contacts != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the background expirer did not destroy the bucket of %s within 20s", term.Format(time.DateOnly))
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantGone(t, s, "after background expiry", "kort")
	wantIDs(t, s, "after background expiry", "lang", "3")
	st := checkStatsFresh(t, s, "after background expiry", []string{"kort", "lang"})
	if st.Retention.ExpiredThrough != term.Format(time.DateOnly) {
		t.Errorf("expired through %q", st.Retention.ExpiredThrough)
	}
	if kinds := auditKinds(t, s, ""); kinds["expire"] < 1 {
		t.Errorf("no expire entry in the audit log: %v", kinds)
	}
}
