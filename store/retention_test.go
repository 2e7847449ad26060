package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

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
	clock.t = time.Date(2026, 1, 19, 12, 0, 0, 0, time.UTC)
	if got, _ := collect(t, s, "alice", TimeRange{}); len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("at term: %+v", got)
	}
	// A hold placed after a contact's term does not bring it back.
	if err := s.Hold(ctx, "alice", "matter 2026-16"); err != nil {
		t.Fatal(err)
	}
	if got, _ := collect(t, s, "alice", TimeRange{}); len(got) != 1 {
		t.Fatalf("a hold placed after the term must not revive a contact: %d", len(got))
	}
	if _, err := s.Release(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	// bob's hold, placed just before his chat's term, keeps it past the term.
	clock.t = time.Date(2026, 1, 19, 11, 0, 0, 0, time.UTC)
	if err := s.Hold(ctx, "bob", "matter 2026-17"); err != nil {
		t.Fatal(err)
	}
	clock.t = time.Date(2026, 1, 19, 13, 0, 0, 0, time.UTC)
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
}
