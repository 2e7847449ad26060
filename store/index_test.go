package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"contactstore/index"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func find(t testing.TB, s *Store, term index.Term) []string {
	t.Helper()
	ids, err := s.Find(context.Background(), term)
	if err != nil {
		t.Fatalf("Find(%v): %v", term, err)
	}
	return ids
}

func wantFind(t testing.TB, s *Store, what string, term index.Term, want ...string) {
	t.Helper()
	got := find(t, s, term)
	if len(want) == 0 {
		want = nil
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: Find(%v %q) = %q, want %q", what, term, term.Value(), got, want)
	}
}

func openIndexed(t testing.TB, fs vfs.FS, region string) *Store {
	t.Helper()
	o := testOptions(t, fs)
	o.PhoneRegion = region
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFindByEveryWriting(t *testing.T) {
	fs := vfs.NewMem()
	s := openIndexed(t, fs, "NL")
	at := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	mustPut(t, s,
		Contact{ID: "1", Customer: "klant-1", Time: at, Email: "Jan.Jansen@Voorbeeld.NL", Phone: "06-12345678"},
		Contact{ID: "2", Customer: "klant-1", Time: at.Add(time.Hour), Email: "jan@bücher.de"},
		Contact{ID: "3", Customer: "klant-2", Time: at, Phone: "+31 (0)20 123 4567"},
		// A shared family number: two customers.
		Contact{ID: "4", Customer: "klant-3", Time: at, Phone: "020 1234567", Email: "Piet@voorbeeld.nl"},
		Contact{ID: "5", Customer: "klant-4", Time: at, Phone: "+44 20 7946 0958"},
	)
	check := func(what string) {
		cases := []struct {
			term index.Term
			want []string
		}{
			{index.Email("Jan.Jansen@voorbeeld.nl"), []string{"klant-1"}},
			{index.Email("  Jan.Jansen@VOORBEELD.nl. "), []string{"klant-1"}},
			{index.Email("jan.jansen@voorbeeld.nl"), nil}, // the local part keeps its case (RFC 5321)
			{index.Email("jan@xn--bcher-kva.de"), []string{"klant-1"}},
			{index.Email("jan@BÜCHER.de"), []string{"klant-1"}},
			{index.Phone("+31612345678"), []string{"klant-1"}},
			{index.Phone("0031 6 1234 5678"), []string{"klant-1"}},
			{index.Phone("020-1234567"), []string{"klant-2", "klant-3"}},
			{index.Phone("+31201234567"), []string{"klant-2", "klant-3"}},
			{index.Phone("+442079460958"), []string{"klant-4"}},
			{index.Phone("+31 6 87654321"), nil},
			{index.Email("piet@voorbeeld.nl"), nil},
			{index.Email("Piet@voorbeeld.nl"), []string{"klant-3"}},
			{index.Customer("klant-2"), []string{"klant-2"}},
			{index.Customer("klant-9"), nil},
		}
		for _, c := range cases {
			wantFind(t, s, what, c.term, c.want...)
		}
	}
	check("after ingest")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened without naming a region: the store's own setting applies.
	s = openIndexed(t, fs, "")
	check("after reopen")
	defer s.Close()

	for _, bad := range []index.Term{index.Email("geen-adres"), index.Phone("bel me maar"), index.Email("")} {
		_, err := s.Find(context.Background(), bad)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Find(%v): %v, want ErrInvalid", bad, err)
		}
		if err != nil && bad.Value() != "" && strings.Contains(err.Error(), bad.Value()) {
			t.Errorf("the error repeats the value: %v", err)
		}
	}
}

func TestIndexSettingsAreFixed(t *testing.T) {
	fs := vfs.NewMem()
	s := openIndexed(t, fs, "NL")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, fs)
	o.PhoneRegion = "BE"
	if _, err := Open("db", o); !errors.Is(err, ErrInvalid) {
		t.Fatalf("open with another region: %v, want ErrInvalid", err)
	}
	o.PhoneRegion, o.FoldEmailProviders = "", true
	if _, err := Open("db", o); !errors.Is(err, ErrInvalid) {
		t.Fatalf("open with provider folding: %v, want ErrInvalid", err)
	}
	o = testOptions(t, vfs.NewMem())
	o.PhoneRegion = "XX"
	if _, err := Open("db", o); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create with an unknown region: %v, want ErrInvalid", err)
	}
}

func TestPutCountsUnindexed(t *testing.T) {
	s := openIndexed(t, vfs.NewMem(), "") // no region: national numbers cannot be indexed
	defer s.Close()
	at := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	res := mustPut(t, s,
		Contact{ID: "1", Customer: "k", Time: at, Phone: "06-12345678", Email: "geen adres"},
		Contact{ID: "2", Customer: "k", Time: at, Phone: "+31 6 12345678"},
	)
	if res.Unindexed != 2 || res.Added != 2 {
		t.Fatalf("put: %+v, want 2 added, 2 unindexed", res)
	}
	wantFind(t, s, "international number", index.Phone("+31612345678"), "k")
}

func TestEraseRemovesIndexEntries(t *testing.T) {
	s := openIndexed(t, vfs.NewMem(), "NL")
	defer s.Close()
	at := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	var cs []Contact
	for i := range 50 {
		cs = append(cs, Contact{ID: fmt.Sprint(i), Customer: "weg", Time: at.Add(time.Duration(i) * time.Minute),
			Email: fmt.Sprintf("weg%d@voorbeeld.nl", i%3), Phone: "0612345678"})
	}
	cs = append(cs, Contact{ID: "x", Customer: "blijft", Time: at, Phone: "06 12345678", Email: "blijft@voorbeeld.nl"})
	mustPut(t, s, cs...)
	k := keysOf(t, s, "weg")
	wantFind(t, s, "before", index.Phone("0612345678"), "blijft", "weg")
	if _, err := s.Erase(context.Background(), "weg", "test"); err != nil {
		t.Fatal(err)
	}
	wantFind(t, s, "after erasure", index.Phone("0612345678"), "blijft")
	wantFind(t, s, "after erasure", index.Email("weg1@voorbeeld.nl"))
	wantFind(t, s, "after erasure", index.Customer("weg"))
	s.gate.Lock() // the eraser finishes its clean-up under the gate, after the receipt
	s.gate.Unlock()
	wantNoLeftovers(t, s, "after erasure", k)
	wantFind(t, s, "the other customer", index.Email("blijft@voorbeeld.nl"), "blijft")
	// Coming back after the erasure: found again, under a new key.
	mustPut(t, s, Contact{ID: "n", Customer: "weg", Time: at, Email: "weg1@voorbeeld.nl"})
	wantFind(t, s, "after returning", index.Email("weg1@voorbeeld.nl"), "weg")
}

func TestIndexFollowsRetention(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), t0, `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`)
	defer s.Close()
	// "gemengd" chats from a chat number and mails from an address; "kort" only chats.
	mustPut(t, s,
		Contact{ID: "c1", Customer: "gemengd", Time: t0, Category: "chat", Channel: ChannelChat, Phone: "+31611111111"},
		Contact{ID: "m1", Customer: "gemengd", Time: t0, Channel: ChannelEmail, Email: "gemengd@voorbeeld.nl", Phone: "+31622222222"},
		Contact{ID: "k1", Customer: "kort", Time: t0, Category: "chat", Channel: ChannelChat, Phone: "+31633333333", Email: "kort@voorbeeld.nl"},
	)
	kort := keysOf(t, s, "kort")
	wantFind(t, s, "before the term", index.Phone("+31611111111"), "gemengd")
	term := t0.AddDate(0, 0, 30)
	clock.t = dayEnd(term)
	// Past the term, before Expire runs: the chat number finds nobody already.
	wantFind(t, s, "past term", index.Phone("+31611111111"))
	wantFind(t, s, "past term", index.Phone("+31633333333"))
	wantFind(t, s, "past term", index.Phone("+31622222222"), "gemengd")
	if _, err := s.Expire(ctx, clock.t); err != nil {
		t.Fatal(err)
	}
	wantFind(t, s, "after expiry", index.Phone("+31611111111"))
	wantFind(t, s, "after expiry", index.Email("gemengd@voorbeeld.nl"), "gemengd")
	wantFind(t, s, "after expiry", index.Customer("gemengd"), "gemengd")
	wantNoLeftovers(t, s, "after expiry", kort)
	// The expired chat number's entry is gone from Pebble, not only hidden.
	gem := keysOf(t, s, "gemengd")
	tok := s.tokens.Token(index.KindPhone, "+31611111111")
	for _, kv := range rawScan(t, s.db, keys.KindIndex) {
		if bytes.Equal(kv.k, keys.Index(tok, gem.ps)) {
			t.Errorf("the index entry of a value used only in expired contacts is still there")
		}
	}
	n := 0
	for _, kv := range rawScan(t, s.db, keys.KindIndexOf) {
		if p, _, _, err := keys.ParseIndexOf(kv.k); err == nil && p == gem.prefix {
			n++
		}
	}
	if n != 3 { // customer, e-mail, mail's phone: in the mail's bucket only
		t.Errorf("gemengd keeps %d index memberships, want 3", n)
	}
	checkConsistent(t, s)
}

func TestIndexSurvivesPolicyMoveAndHold(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), t0, "")
	defer s.Close()
	mustPut(t, s,
		Contact{ID: "a", Customer: "verhuisd", Time: t0, Category: "chat", Email: "verhuisd@voorbeeld.nl"},
		Contact{ID: "b", Customer: "vastgehouden", Time: t0, Category: "chat", Email: "vast@voorbeeld.nl"},
	)
	// A policy moves every contact out of the no-expiry bucket, whose key then goes.
	setPolicy(t, s, `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`)
	if _, err := s.Expire(ctx, clock.t); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.vault.Load().Buckets[keys.NoExpiry]; ok {
		t.Fatal("the no-expiry key outlived the policy move")
	}
	wantFind(t, s, "after the policy move", index.Email("verhuisd@voorbeeld.nl"), "verhuisd")
	if err := s.Hold(ctx, "vastgehouden", "zaak 12"); err != nil {
		t.Fatal(err)
	}
	clock.t = dayEnd(t0.AddDate(0, 0, 30))
	if _, err := s.Expire(ctx, clock.t); err != nil {
		t.Fatal(err)
	}
	wantFind(t, s, "expired", index.Email("verhuisd@voorbeeld.nl"))
	wantFind(t, s, "held", index.Email("vast@voorbeeld.nl"), "vastgehouden")
	k := keysOf(t, s, "vastgehouden")
	if _, err := s.Release(ctx, "vastgehouden"); err != nil {
		t.Fatal(err)
	}
	wantFind(t, s, "released", index.Email("vast@voorbeeld.nl"))
	if _, err := s.Expire(ctx, clock.t); err != nil {
		t.Fatal(err)
	}
	wantNoLeftovers(t, s, "released and expired", k)
	checkConsistent(t, s)
}

func TestSearchIsUnicodeAware(t *testing.T) {
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	at := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	mustPut(t, s,
		Contact{ID: "1", Customer: "k", Time: at, Subject: "Rekening", Body: "De STRASSE klopt niet"},
		Contact{ID: "2", Customer: "k", Time: at.Add(time.Minute), Body: "Ik woon aan de Hauptstraße"},
		Contact{ID: "3", Customer: "k", Time: at.Add(2 * time.Minute), Body: "Café Ørsted, ﬁnale offerte", Tags: []string{"Spoed"}},
		Contact{ID: "4", Customer: "k", Time: at.Add(3 * time.Minute), Body: "niets", Attachments: []Attachment{{Name: "Factuur-2025.PDF"}}},
		Contact{ID: "5", Customer: "ander", Time: at, Body: "straße"},
	)
	cases := []struct {
		q    string
		want []string
	}{
		{"strasse", []string{"1", "2"}},
		{"STRAßE", []string{"1", "2"}},
		{"café ørsted", []string{"3"}},
		{"CAFÉ", []string{"3"}},
		{"finale", []string{"3"}}, // the ligature matches its letters
		{"spoed", []string{"3"}},
		{"factuur-2025.pdf", []string{"4"}},
		{"rekening", []string{"1"}},
		{"niet", []string{"1", "4"}},
		{"bestaat niet", nil},
		{"", []string{"1", "2", "3", "4"}},
	}
	for _, c := range cases {
		var got []string
		for ct, err := range s.Search(context.Background(), "k", c.q, TimeRange{}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ct.ID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Search(%q) = %v, want %v", c.q, got, c.want)
		}
	}
	for _, err := range s.Search(context.Background(), "niemand", "x", TimeRange{}) {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown customer: %v", err)
		}
	}
}

// A customer's contacts carry changing values, and many carry none: each contact is indexed
// under exactly what it carries (the per-customer memo must not leak one contact's values
// into another's).
func TestIndexTermsPerContact(t *testing.T) {
	s := openIndexed(t, vfs.NewMem(), "NL")
	defer s.Close()
	at := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	seq := []Contact{
		{Email: "a@voorbeeld.nl", Phone: "0611111111"},
		{Email: "b@voorbeeld.nl"},
		{Phone: "0622222222"},
		{Email: "a@voorbeeld.nl", Phone: "geen nummer"},
		{},
		{Email: "c@voorbeeld.nl", Phone: "0611111111"},
	}
	var unindexed int
	for i, c := range seq { // one Put each: the memo carries over between them
		c.ID, c.Customer, c.Time = fmt.Sprint(i), "wisselend", at.Add(time.Duration(i)*time.Minute)
		unindexed += mustPut(t, s, c).Unindexed
	}
	if unindexed != 1 {
		t.Errorf("%d unindexed values, want 1", unindexed)
	}
	for _, v := range []index.Term{index.Email("a@voorbeeld.nl"), index.Email("b@voorbeeld.nl"), index.Email("c@voorbeeld.nl"),
		index.Phone("+31611111111"), index.Phone("+31622222222"), index.Customer("wisselend")} {
		wantFind(t, s, "changing values", v, "wisselend")
	}
	// Exactly the distinct values are indexed: 1 customer id, 3 addresses, 2 numbers.
	if n := len(rawScan(t, s.db, keys.KindIndex)); n != 6 {
		t.Errorf("%d index entries, want 6", n)
	}
}
