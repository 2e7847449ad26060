package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// expected returns what the store should give back for c: c with the default category
// filled in and the id the store reported.
func expected(c Contact, id string) Contact {
	c.ID = id
	if c.Category == "" {
		c.Category = DefaultCategory
	}
	return c
}

// deterministicText returns n bytes of varied, hardly compressible ASCII.
func deterministicText(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func binaryData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 31)
	}
	return b
}

func TestRoundTripEveryField(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	base := time.Date(2025, 6, 15, 14, 30, 45, 123456789, cest)
	const mib = 1 << 20
	cases := []struct {
		name string
		c    Contact
	}{
		{"minimal", Contact{ID: "m1", Customer: "minimaal", Time: base}},
		{"no id", Contact{Customer: "zonder-id", Time: base, Subject: "id wordt toegekend"}},
		{"every field", Contact{
			ID: "all-1", Customer: "klant-alles", Time: base, Channel: ChannelChat,
			Direction: DirectionOutbound, Category: "complaints", Agent: "Zoë de Vries",
			Subject: "Uw klacht", Body: "Wij hebben uw klacht ontvangen.", Email: "zoe@example.nl",
			Phone: "+31 6 12345678", Rating: 7, Tags: []string{"klacht", "prio"},
			Attachments: []Attachment{{Name: "a.pdf", Type: "application/pdf", Data: []byte("%PDF-1.7")}},
			Meta:        []byte(`{"ticket":4711}`),
		}},
		{"dutch diacritics", Contact{
			ID: "nl", Customer: "klant-één-ĳssel", Time: base, Agent: "Zoë Ruïne",
			Subject: "Geïnteresseerd in café-crème", Body: "Coördinatie, naïef, ’s-Hertogenbosch, Ĳmuiden, reünie, geëmigreerd.",
			Tags: []string{"één", "privé"},
		}},
		{"emoji", Contact{
			ID: "emoji", Customer: "klant-😀", Time: base, Subject: "Bedankt! 👍🏽🎉",
			Body: "Familie 👨‍👩‍👧‍👦, vlag 🇳🇱, hart ❤️, 𝄞 muziek", Tags: []string{"😀", "vip"},
		}},
		{"cjk", Contact{
			ID: "cjk", Customer: "顧客-四二", Time: base, Agent: "山田太郎",
			Subject: "注文について", Body: "我的订单还没有到。ありがとうございます。고맙습니다。",
		}},
		{"rtl", Contact{
			ID: "rtl", Customer: "عميل-٤٢", Time: base, Subject: "مرحبا، طلبي لم يصل",
			Body: "\u200fשלום, ההזמנה שלי לא הגיעה\u200e (order 42)", Agent: "\u202eevil override\u202c",
		}},
		{"empty slices stay absent", Contact{
			ID: "empty", Customer: "leeg", Time: base, Tags: []string{}, Attachments: []Attachment{}, Meta: []byte{},
		}},
		{"one MiB body, compressible", Contact{ID: "big1", Customer: "groot", Time: base, Body: strings.Repeat("Dit is een lange klacht. ", mib/25+1)[:mib]}},
		{"one MiB body, random", Contact{ID: "big2", Customer: "groot", Time: base.Add(time.Second), Body: deterministicText(mib, 1)}},
		{"attachments", Contact{
			ID: "att", Customer: "bijlagen", Time: base,
			Attachments: []Attachment{
				{Name: "foto.jpg", Type: "image/jpeg", Data: binaryData(70000)},
				{Name: "leeg.txt", Type: "text/plain", Data: []byte{}},
				{Name: "nil.bin"},
				{},
				{Name: "alle-bytes.bin", Type: "application/octet-stream", Data: binaryData(256)},
				{Name: "nul.bin", Data: []byte{0, 0, 0}},
				{Name: "überweisung ü.pdf", Type: "application/pdf", Data: []byte{0xff, 0xfe, 0x00, 0x80}},
			},
		}},
		{"tags", Contact{ID: "tags", Customer: "labels", Time: base, Tags: []string{"a", "", "b b", "ë", strings.Repeat("x", MaxShortField)}}},
		{"meta byte for byte", Contact{
			ID: "meta", Customer: "meta", Time: base,
			Meta: []byte(" {\n  \"z\": 1,   \"a\" : [1, 2.50, 3e2],\t\"nested\": {\"ë\": \"\\u00eb\", \"null\": null} }\n"),
		}},
		{"time +02:00 with nanoseconds", Contact{ID: "t1", Customer: "tijd", Time: time.Date(2024, 2, 29, 23, 59, 59, 999999999, cest)}},
		{"time -09:30", Contact{ID: "t2", Customer: "tijd", Time: time.Date(2024, 3, 1, 0, 0, 0, 1, time.FixedZone("", -(9*3600+1800)))}},
		{"time +05:45", Contact{ID: "t3", Customer: "tijd", Time: time.Date(2024, 3, 2, 0, 0, 0, 500, time.FixedZone("NPT", 5*3600+45*60))}},
		{"time UTC", Contact{ID: "t4", Customer: "tijd", Time: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"rating 1", Contact{ID: "r1", Customer: "cijfer", Time: base, Rating: 1, Channel: ChannelPhone}},
		{"rating 10", Contact{ID: "r10", Customer: "cijfer", Time: base.Add(time.Hour), Rating: 10, Channel: ChannelWeb}},
	}
	for _, comp := range []string{"s2", "none"} {
		t.Run(comp, func(t *testing.T) {
			fs := vfs.NewMem()
			opts := testOptions(t, fs)
			opts.Compression = comp
			s, err := Open("db", opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			ids := make([]string, len(cases))
			for i, tc := range cases {
				in := tc.c
				in.Tags = slices.Clone(tc.c.Tags)
				res, err := s.Put(ctx, []Contact{in})
				if err != nil {
					t.Fatalf("%s: put: %v", tc.name, err)
				}
				if res.Added != 1 || res.Replaced != 0 || len(res.IDs) != 1 {
					t.Fatalf("%s: put result %+v", tc.name, res)
				}
				if tc.c.ID != "" && res.IDs[0] != tc.c.ID {
					t.Fatalf("%s: id %q, want %q", tc.name, res.IDs[0], tc.c.ID)
				}
				if in.ID != tc.c.ID || in.Category != tc.c.Category {
					t.Fatalf("%s: Put changed the caller's contact: %+v", tc.name, in)
				}
				ids[i] = res.IDs[0]
			}
			check := func(t *testing.T, s *Store) {
				for i, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						got, err := collect(t, s, tc.c.Customer, TimeRange{})
						if err != nil {
							t.Fatal(err)
						}
						var c *Contact
						for j := range got {
							if got[j].ID == ids[i] {
								if c != nil {
									t.Fatalf("id %s read twice", ids[i])
								}
								c = &got[j]
							}
						}
						if c == nil {
							t.Fatalf("id %s not read back (got %d contacts)", ids[i], len(got))
						}
						want := expected(tc.c, ids[i])
						if g, w := mustJSON(t, *c), mustJSON(t, want); g != w {
							if len(g) > 2000 {
								g, w = g[:2000], w[:2000]
							}
							t.Fatalf("round trip differs\n got %s\nwant %s", g, w)
						}
						if !c.Time.Equal(tc.c.Time) {
							t.Errorf("time %v, want %v", c.Time, tc.c.Time)
						}
						_, goff := c.Time.Zone()
						_, woff := tc.c.Time.Zone()
						if goff != woff || c.Time.Nanosecond() != tc.c.Time.Nanosecond() {
							t.Errorf("time %s, want %s", c.Time.Format(time.RFC3339Nano), tc.c.Time.Format(time.RFC3339Nano))
						}
						if !bytes.Equal(c.Meta, tc.c.Meta) {
							t.Errorf("meta %q, want %q byte for byte", c.Meta, tc.c.Meta)
						}
						if len(c.Attachments) != len(tc.c.Attachments) {
							t.Fatalf("%d attachments, want %d", len(c.Attachments), len(tc.c.Attachments))
						}
						for j, a := range tc.c.Attachments {
							if !bytes.Equal(c.Attachments[j].Data, a.Data) {
								t.Errorf("attachment %d data differs", j)
							}
						}
						if c.Body != tc.c.Body {
							t.Errorf("body differs (%d bytes, want %d)", len(c.Body), len(tc.c.Body))
						}
					})
				}
			}
			t.Run("open", func(t *testing.T) { check(t, s) })
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = Open("db", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			t.Run("reopened", func(t *testing.T) { check(t, s) })
			checkConsistent(t, s)
		})
	}
}

func TestReopenKeepsData(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   func(t *testing.T) (vfs.FS, string)
	}{
		{"mem", func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), "db" }},
		{"disk", func(t *testing.T) (vfs.FS, string) { return vfs.Default, t.TempDir() }},
		{"disk, new subdirectory", func(t *testing.T) (vfs.FS, string) {
			return vfs.Default, vfs.Default.PathJoin(t.TempDir(), "a", "b")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, dir := tc.fs(t)
			opts := testOptions(t, fs)
			s, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []Contact
			for i := range 30 {
				c := mkContact("reopen-klant", i)
				want = append(want, expected(c, c.ID))
				if _, err := s.Put(context.Background(), []Contact{c}); err != nil {
					t.Fatal(err)
				}
			}
			id := s.StoreID()
			for round := range 3 {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				o := *opts
				o.CreateIfMissing = round%2 == 0 // an existing store opens either way
				if s, err = Open(dir, &o); err != nil {
					t.Fatalf("reopen %d: %v", round, err)
				}
				if s.StoreID() != id {
					t.Fatalf("store id changed: %s -> %s", id, s.StoreID())
				}
				got, err := collect(t, s, "reopen-klant", TimeRange{})
				if err != nil {
					t.Fatal(err)
				}
				if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
					t.Fatalf("after reopen %d:\n got %s\nwant %s", round, g, w)
				}
				st, err := s.Stats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if st.Contacts != 30 || st.Customers != 1 {
					t.Fatalf("stats after reopen: %d contacts, %d customers", st.Contacts, st.Customers)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if _, err := s.Put(context.Background(), []Contact{mkContact("x", 1)}); !errors.Is(err, ErrClosed) {
				t.Fatalf("Put after Close: %v, want ErrClosed", err)
			}
			if _, err := collect(t, s, "reopen-klant", TimeRange{}); !errors.Is(err, ErrClosed) {
				t.Fatalf("Contacts after Close: %v, want ErrClosed", err)
			}
		})
	}
}

func stats(t testing.TB, s *Store) Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func idsOf(cs []Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestReingestIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, vfs.NewMem())
	defer s.Close()

	var batch []Contact
	for i := range 10 {
		batch = append(batch, mkContact("anna", i), mkContact("bram", i))
	}
	res, err := s.Put(ctx, batch)
	if err != nil || res.Added != 20 || res.Replaced != 0 {
		t.Fatalf("first put: %+v %v", res, err)
	}
	before := stats(t, s)
	for round := range 2 {
		res, err = s.Put(ctx, batch)
		if err != nil || res.Added != 0 || res.Replaced != 20 {
			t.Fatalf("re-put %d: %+v %v", round, res, err)
		}
		if !slices.Equal(res.IDs, idsOf(batch)) {
			t.Fatalf("re-put ids %v", res.IDs)
		}
	}
	for _, cu := range []string{"anna", "bram"} {
		got, err := collect(t, s, cu, TimeRange{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 {
			t.Fatalf("%s: %d contacts after re-ingest, want 10", cu, len(got))
		}
		for i, c := range got {
			if c.ID != fmt.Sprintf("c-%d", i) {
				t.Fatalf("%s: contact %d has id %s", cu, i, c.ID)
			}
		}
	}
	after := stats(t, s)
	if after.Contacts != before.Contacts || after.Customers != before.Customers || after.Contacts != 20 || after.Customers != 2 {
		t.Fatalf("stats changed by re-ingest: before %d/%d after %d/%d", before.Contacts, before.Customers, after.Contacts, after.Customers)
	}
	if mustJSON(t, after.Ratings) != mustJSON(t, before.Ratings) {
		t.Fatalf("ratings changed by re-ingest:\n%s\n%s", mustJSON(t, before.Ratings), mustJSON(t, after.Ratings))
	}

	t.Run("same id at another time", func(t *testing.T) {
		moved := mkContact("anna", 3)
		moved.Time = moved.Time.Add(48 * time.Hour)
		moved.Subject = "verplaatst"
		res, err := s.Put(ctx, []Contact{moved})
		if err != nil || res.Added != 0 || res.Replaced != 1 {
			t.Fatalf("put moved: %+v %v", res, err)
		}
		got, err := collect(t, s, "anna", TimeRange{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 {
			t.Fatalf("%d contacts, want 10 (old version must be gone)", len(got))
		}
		last := got[len(got)-1]
		if last.ID != "c-3" || last.Subject != "verplaatst" || !last.Time.Equal(moved.Time) {
			t.Fatalf("moved contact not last: %s", mustJSON(t, last))
		}
		for _, c := range got[:len(got)-1] {
			if c.ID == "c-3" {
				t.Fatalf("old version of c-3 still readable: %s", mustJSON(t, c))
			}
		}
		old := mkContact("anna", 3).Time
		if got, _ := collect(t, s, "anna", TimeRange{Since: old, Until: old.Add(time.Second)}); len(got) != 0 {
			t.Fatalf("old time slot still holds %s", mustJSON(t, got))
		}
		if st := stats(t, s); st.Contacts != 20 {
			t.Fatalf("stats counts %d contacts, want 20", st.Contacts)
		}
	})

	t.Run("same id for another customer is another contact", func(t *testing.T) {
		c := mkContact("carla", 1) // id c-1, also used by anna and bram
		res, err := s.Put(ctx, []Contact{c})
		if err != nil || res.Added != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		if got, _ := collect(t, s, "anna", TimeRange{}); len(got) != 10 {
			t.Fatalf("anna has %d contacts", len(got))
		}
	})

	t.Run("duplicate id inside one put: last one wins", func(t *testing.T) {
		a := mkContact("dirk", 1)
		b := mkContact("dirk", 1)
		b.Subject, b.Rating, b.Time = "tweede versie", 9, a.Time.Add(time.Hour)
		fresh := mkContact("dirk", 2)
		res, err := s.Put(ctx, []Contact{a, fresh, b})
		if err != nil {
			t.Fatal(err)
		}
		if res.Added != 2 || res.Replaced != 1 {
			t.Fatalf("result %+v, want 2 added and 1 replaced", res)
		}
		got, err := collect(t, s, "dirk", TimeRange{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != "c-2" || got[1].ID != "c-1" || got[1].Subject != "tweede versie" || !got[1].Time.Equal(b.Time) {
			t.Fatalf("got %s", mustJSON(t, got))
		}
		// Same again, now that both exist, with the same time for both copies.
		b.Time = a.Time
		res, err = s.Put(ctx, []Contact{b, a})
		if err != nil || res.Added != 0 || res.Replaced != 2 {
			t.Fatalf("re-put duplicates: %+v %v", res, err)
		}
		got, _ = collect(t, s, "dirk", TimeRange{})
		if len(got) != 2 || got[0].ID != "c-1" || got[0].Subject != a.Subject {
			t.Fatalf("got %s", mustJSON(t, got))
		}
		st := stats(t, s)
		if st.Contacts != 23 || st.Customers != 4 {
			t.Fatalf("stats %d contacts %d customers, want 23 and 4", st.Contacts, st.Customers)
		}
		checkConsistent(t, s)
	})
}

func TestAssignedIDs(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	opts := testOptions(t, fs)
	clock := opts.Clock.(*fakeClock)
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mk := func(n int) []Contact {
		var cs []Contact
		for i := range n {
			c := mkContact("eva", i)
			c.ID = ""
			cs = append(cs, c)
		}
		return cs
	}
	var all []string
	var prevMax string
	for round := range 4 {
		clock.t = time.Date(2026, 1, 1, 0, 0, round, 0, time.UTC)
		res, err := s.Put(ctx, mk(40))
		if err != nil || res.Added != 40 {
			t.Fatalf("round %d: %+v %v", round, res, err)
		}
		for _, id := range res.IDs {
			if len(id) != 26 || strings.Trim(id, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") != "" {
				t.Fatalf("id %q is not a 26-character ULID", id)
			}
			if ms := ulidMillis(id); ms != clock.t.UnixMilli() {
				t.Fatalf("id %s carries time %d, want %d", id, ms, clock.t.UnixMilli())
			}
			if id <= prevMax {
				t.Fatalf("id %s of a later put sorts before %s", id, prevMax)
			}
		}
		prevMax = slices.Max(res.IDs)
		all = append(all, res.IDs...)
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(all) {
		t.Fatal("assigned ids are not distinct")
	}
	got, err := collect(t, s, "eva", TimeRange{})
	if err != nil {
		t.Fatal(err)
	}
	gotIDs := idsOf(got)
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, sorted) {
		t.Fatalf("read %d ids, put %d; they differ", len(gotIDs), len(sorted))
	}
}

// ulidMillis decodes the 48-bit millisecond time of a ULID.
func ulidMillis(id string) int64 {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var v int64
	for _, ch := range id[:10] {
		v = v<<5 | int64(strings.IndexRune(alphabet, ch))
	}
	return v
}

func TestValidationRejectsWholeBatch(t *testing.T) {
	const secret = "GEHEIM-waarde-7731"
	cases := []struct {
		field  string
		mutate func(c *Contact)
	}{
		{"customer", func(c *Contact) { c.Customer = "" }},
		{"customer", func(c *Contact) { c.Customer = secret + "\xff" }},
		{"customer", func(c *Contact) { c.Customer = secret + strings.Repeat("x", MaxCustomerLen) }},
		{"time", func(c *Contact) { c.Time = time.Time{} }},
		{"time", func(c *Contact) { c.Time = time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"channel", func(c *Contact) { c.Channel = "fax-" + secret }},
		{"direction", func(c *Contact) { c.Direction = "sideways-" + secret }},
		{"rating", func(c *Contact) { c.Rating = 11 }},
		{"rating", func(c *Contact) { c.Rating = -1 }},
		{"meta", func(c *Contact) { c.Meta = []byte(`["` + secret + `"]`) }},
		{"meta", func(c *Contact) { c.Meta = []byte(`"` + secret + `"`) }},
		{"meta", func(c *Contact) { c.Meta = []byte(`{"a":"` + secret + `"`) }},
		{"meta", func(c *Contact) { c.Meta = []byte("   ") }},
		{"meta", func(c *Contact) { c.Meta = []byte(`null`) }},
		{"subject", func(c *Contact) { c.Subject = secret + " \xc3\x28" }},
		{"body", func(c *Contact) { c.Body = secret + "\xed\xa0\x80" }}, // a UTF-16 surrogate
		{"email", func(c *Contact) { c.Email = secret + "\xff@example.nl" }},
		{"agent", func(c *Contact) { c.Agent = "\xfe" + secret }},
		{"tags[1]", func(c *Contact) { c.Tags = []string{"ok", secret + "\x80"} }},
		{"attachments[0]", func(c *Contact) { c.Attachments = []Attachment{{Name: secret + "\xff"}} }},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			s := openTest(t, vfs.NewMem())
			defer s.Close()
			bad := mkContact("klant-fout", 9)
			tc.mutate(&bad)
			batch := []Contact{mkContact("klant-goed", 1), mkContact("klant-ander", 2), bad, mkContact("klant-goed", 3)}
			res, err := s.Put(context.Background(), batch)
			if err == nil {
				t.Fatalf("invalid contact accepted: %+v", res)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "contact 2") || !strings.Contains(msg, fmt.Sprintf("%q", tc.field)) {
				t.Fatalf("error %q does not name position 2 and field %q", msg, tc.field)
			}
			for _, leak := range []string{secret, "klant-fout", "klant-goed", "Vraag over bestelling"} {
				if strings.Contains(msg, leak) {
					t.Fatalf("error %q quotes input %q", msg, leak)
				}
			}
			if res.Added != 0 || len(res.IDs) != 0 {
				t.Fatalf("result of a failed put: %+v", res)
			}
			for _, cu := range []string{"klant-goed", "klant-ander"} {
				if got, err := collect(t, s, cu, TimeRange{}); !errors.Is(err, ErrNotFound) || len(got) != 0 {
					t.Fatalf("%s after rejected batch: %d contacts, %v", cu, len(got), err)
				}
			}
			if st := stats(t, s); st.Contacts != 0 || st.Customers != 0 || len(st.Ratings) != 0 {
				t.Fatalf("rejected batch counted: %+v", st)
			}
			// The store is still usable and the valid part goes in on its own.
			res, err = s.Put(context.Background(), slices.Delete(batch, 2, 3))
			if err != nil || res.Added != 3 {
				t.Fatalf("valid part: %+v %v", res, err)
			}
		})
	}
}

func TestTimeRanges(t *testing.T) {
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	var cs []Contact
	for _, i := range []int{7, 2, 9, 0, 4, 1, 8, 3, 6, 5} { // put out of order
		c := mkContact("tijdvak", i)
		c.Time = at(i)
		if i%3 == 0 { // same instant, another offset
			c.Time = c.Time.In(time.FixedZone("", 2*3600))
		}
		cs = append(cs, c)
	}
	if _, err := s.Put(context.Background(), cs); err != nil {
		t.Fatal(err)
	}
	span := func(lo, hi int) []string {
		var out []string
		for i := lo; i < hi; i++ {
			out = append(out, fmt.Sprintf("c-%d", i))
		}
		return out
	}
	plus2 := time.FixedZone("", 2*3600)
	cases := []struct {
		name string
		r    TimeRange
		want []string
	}{
		{"open", TimeRange{}, span(0, 10)},
		{"since inclusive", TimeRange{Since: at(3)}, span(3, 10)},
		{"until exclusive", TimeRange{Until: at(3)}, span(0, 3)},
		{"both", TimeRange{Since: at(3), Until: at(7)}, span(3, 7)},
		{"bounds in another zone", TimeRange{Since: at(3).In(plus2), Until: at(7).In(plus2)}, span(3, 7)},
		{"since a nanosecond after", TimeRange{Since: at(3).Add(time.Nanosecond)}, span(4, 10)},
		{"until a nanosecond after", TimeRange{Until: at(3).Add(time.Nanosecond)}, span(0, 4)},
		{"until a nanosecond before", TimeRange{Until: at(3).Add(-time.Nanosecond)}, span(0, 3)},
		{"since a microsecond before", TimeRange{Since: at(3).Add(-time.Microsecond)}, span(3, 10)},
		{"empty interval", TimeRange{Since: at(3), Until: at(3)}, nil},
		{"inverted", TimeRange{Since: at(7), Until: at(3)}, nil},
		{"after everything", TimeRange{Since: at(10)}, nil},
		{"before everything", TimeRange{Until: at(0)}, nil},
		{"far past to far future", TimeRange{Since: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, span(0, 10)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(t, s, "tijdvak", tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(idsOf(got), tc.want) {
				t.Fatalf("got %v, want %v", idsOf(got), tc.want)
			}
		})
	}

	t.Run("sub-microsecond bounds", func(t *testing.T) {
		t0 := time.Date(2025, 4, 1, 12, 0, 0, 500, time.UTC) // 500 ns past a microsecond
		c := Contact{ID: "ns", Customer: "nano", Time: t0}
		if _, err := s.Put(context.Background(), []Contact{c}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			r    TimeRange
			want int
		}{
			{TimeRange{Since: t0}, 1},
			{TimeRange{Since: t0.Add(100)}, 0},
			{TimeRange{Since: t0.Add(-100)}, 1},
			{TimeRange{Until: t0}, 0},
			{TimeRange{Until: t0.Add(100)}, 1},
			{TimeRange{Until: t0.Add(-100)}, 0},
			{TimeRange{Since: t0, Until: t0.Add(1)}, 1},
		} {
			got, err := collect(t, s, "nano", tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("range [%s, %s): %d contacts, want %d", tc.r.Since.Format(time.RFC3339Nano), tc.r.Until.Format(time.RFC3339Nano), len(got), tc.want)
			}
		}
	})

	t.Run("unknown customer", func(t *testing.T) {
		got, err := collect(t, s, "niemand", TimeRange{})
		if !errors.Is(err, ErrNotFound) || len(got) != 0 {
			t.Fatalf("%d contacts, %v; want ErrNotFound", len(got), err)
		}
	})

	t.Run("break stops the sequence", func(t *testing.T) {
		n := 0
		for _, err := range s.Contacts(context.Background(), "tijdvak", TimeRange{}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 3 {
				break
			}
		}
		if n != 3 {
			t.Fatalf("n = %d", n)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var err error
		for _, e := range s.Contacts(ctx, "tijdvak", TimeRange{}) {
			if e != nil {
				err = e
				break
			}
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
}

// TestLongHistoryInOrder reads more contacts than one read chunk holds, so reads re-open
// their iterators several times.
func TestLongHistoryInOrder(t *testing.T) {
	const n = 1000
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	times := make([]time.Time, n)
	for i := range times {
		// Distinct, strictly increasing times over seven years, some a microsecond apart.
		times[i] = base.Add(time.Duration(i)*3*time.Hour + time.Duration(i%2)*time.Microsecond)
	}
	perm := r.Perm(n)
	var cs []Contact
	for _, i := range perm {
		c := mkContact("lange-historie", i)
		c.Time = times[i]
		cs = append(cs, c)
	}
	for lo := 0; lo < n; lo += 170 { // several puts of shuffled contacts
		if _, err := s.Put(context.Background(), cs[lo:min(lo+170, n)]); err != nil {
			t.Fatal(err)
		}
	}
	// Another customer interleaved in time, to prove reads stay inside one customer.
	var other []Contact
	for i := range 300 {
		c := mkContact("buur", i)
		c.Time = times[i*3]
		other = append(other, c)
	}
	if _, err := s.Put(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	check := func(r TimeRange, lo, hi int) {
		t.Helper()
		got, err := collect(t, s, "lange-historie", r)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != hi-lo {
			t.Fatalf("range %d..%d: %d contacts", lo, hi, len(got))
		}
		for j, c := range got {
			if want := fmt.Sprintf("c-%d", lo+j); c.ID != want || !c.Time.Equal(times[lo+j]) || c.Customer != "lange-historie" {
				t.Fatalf("position %d: %s at %v, want %s", j, c.ID, c.Time, want)
			}
		}
	}
	check(TimeRange{}, 0, n)
	check(TimeRange{Since: times[100], Until: times[900]}, 100, 900)
	check(TimeRange{Since: times[255], Until: times[513]}, 255, 513)
	check(TimeRange{Since: times[999]}, 999, n)
}
