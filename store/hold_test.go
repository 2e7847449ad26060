package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"contactstore/crypto"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Legal holds: what a hold keeps, what Release gives back, erasure deferred by a hold, and
// a crash between a release and the erasure it owes.

const holdPolicy = `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`

// TestHoldKeepsContacts places a hold before and after ingest. Held contacts whose term
// ends after the hold survive Expire (resealed into the hold bucket) and stay readable;
// Release deletes those past their term and leaves the rest.
func TestHoldKeepsContacts(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	term := t0.AddDate(0, 0, 30)
	for _, before := range []bool{false, true} {
		name := map[bool]string{false: "hold-after-ingest", true: "hold-before-ingest"}[before]
		t.Run(name, func(t *testing.T) {
			s, clock := openRet(t, vfs.NewMem(), t0, holdPolicy)
			defer func() { s.Close() }()
			customers := []string{"vast", "vrij"}
			chats := func(cu string) []Contact {
				var cs []Contact
				for i := range 3 {
					cs = append(cs, rc(cu, fmt.Sprintf("c%d", i), "chat", ChannelChat, t0.Add(time.Duration(i)*time.Minute)))
				}
				return cs
			}
			// Both customers exist (a hold names a stored customer) with one mail.
			mustPut(t, s, rc("vast", "m0", "", ChannelEmail, t0), rc("vrij", "m0", "", ChannelEmail, t0))
			holdAt := t0.Add(day)
			hold := func() {
				clock.t = holdAt
				if err := s.Hold(ctx, "vast", "dossier 2026-0042"); err != nil {
					t.Fatal(err)
				}
			}
			wantHeld := []string{"c0", "c1", "c2", "m0"}
			if before {
				hold()
				mustPut(t, s, append(chats("vast"), chats("vrij")...)...)
				// Put while held, already past its term: kept if its term ended after the
				// hold was placed, not if it ended before.
				clock.t = term.Add(10 * day)
				res := mustPut(t, s,
					rc("vast", "laat", "chat", ChannelChat, t0.Add(5*day)),  // term t0+35d: after the hold
					rc("vast", "oud", "chat", ChannelChat, t0.Add(-40*day)), // term t0-10d: before it
					rc("vrij", "laat", "chat", ChannelChat, t0.Add(5*day)))
				if res.Added != 1 || res.Expired != 2 {
					t.Errorf("put past term while held: %+v, want 1 added, 2 expired", res)
				}
				wantHeld = append(wantHeld, "laat")
			} else {
				mustPut(t, s, append(chats("vast"), chats("vrij")...)...)
				hold()
			}
			info, err := s.HoldStatus("vast")
			if err != nil || !info.Since.Equal(holdAt) || info.Reason != "dossier 2026-0042" || !info.ErasureRequested.IsZero() {
				t.Errorf("hold status %+v %v", info, err)
			}
			if _, err := s.HoldStatus("vrij"); !errors.Is(err, ErrNotHeld) {
				t.Errorf("hold status of a customer not held: %v", err)
			}
			// Past the chats' term: the held ones stay readable, the others are hidden.
			clock.t = dayEnd(term).Add(time.Hour)
			wantIDs(t, s, "past term", "vast", wantHeld...)
			wantIDs(t, s, "past term", "vrij", "m0")
			er, err := s.Expire(ctx, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if er.Held != 3 || er.Contacts != 3 || er.Customers != 0 {
				t.Errorf("expire %+v: want 3 held, 3 removed", er)
			}
			wantIDs(t, s, "after Expire", "vast", wantHeld...)
			wantIDs(t, s, "after Expire", "vrij", "m0")
			st := checkStatsFresh(t, s, "after Expire", customers)
			if st.Retention.Held != int64(len(wantHeld)-1) || st.Retention.HeldCustomers != 1 {
				t.Errorf("retention stats %+v: want %d held contacts of one customer", st.Retention, len(wantHeld)-1)
			}
			// The same after a reopen: the hold is durable.
			fs := s.opts.FS
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			o := testOptions(t, fs)
			o.Clock = clock
			if s, err = Open("db", o); err != nil {
				t.Fatal(err)
			}
			wantIDs(t, s, "after a reopen", "vast", wantHeld...)
			if _, err := s.HoldStatus("vast"); err != nil {
				t.Errorf("hold after a reopen: %v", err)
			}
			// Release: the contacts the hold kept past their term are deleted.
			clock.t = term.Add(10 * day)
			rr, err := s.Release(ctx, "vast")
			if err != nil {
				t.Fatal(err)
			}
			if rr.Expired != int64(len(wantHeld)-1) || rr.Resealed != 0 || rr.Receipt != nil {
				t.Errorf("release %+v: want %d expired", rr, len(wantHeld)-1)
			}
			wantIDs(t, s, "after Release", "vast", "m0")
			if _, err := s.HoldStatus("vast"); !errors.Is(err, ErrNotHeld) {
				t.Errorf("hold status after release: %v", err)
			}
			if _, err := s.Release(ctx, "vast"); !errors.Is(err, ErrNotHeld) {
				t.Errorf("second release: %v", err)
			}
			st = checkStatsFresh(t, s, "after Release", customers)
			if st.Retention.Held != 0 || st.Retention.HeldCustomers != 0 {
				t.Errorf("retention stats after release %+v", st.Retention)
			}
			if k := auditKinds(t, s, "vast"); k["hold"] != 1 || k["release"] != 1 {
				t.Errorf("audit of the held customer: %v", k)
			}
		})
	}
}

// TestHoldNeverRevivesExpired: a hold placed after a contact's term has ended does not make
// it readable again, and Expire destroys it with its bucket.
func TestHoldNeverRevivesExpired(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	term := t0.AddDate(0, 0, 30)
	s, clock := openRet(t, vfs.NewMem(), t0, holdPolicy)
	defer s.Close()
	mustPut(t, s, rc("klant", "vroeg", "chat", ChannelChat, t0), rc("klant", "laat", "chat", ChannelChat, t0.Add(12*time.Hour)),
		rc("klant", "mail", "", ChannelEmail, t0))
	clock.t = term.Add(time.Hour) // vroeg is past its term, laat is not
	if err := s.Hold(ctx, "klant", "dossier 7"); err != nil {
		t.Fatal(err)
	}
	clock.t = dayEnd(term).Add(time.Hour)
	wantIDs(t, s, "held after vroeg's term", "klant", "laat", "mail")
	er, err := s.Expire(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if er.Held != 1 || er.Contacts != 1 {
		t.Errorf("expire %+v: want 1 held, 1 removed", er)
	}
	wantIDs(t, s, "after Expire", "klant", "laat", "mail")
	checkStatsFresh(t, s, "after Expire", []string{"klant"})
}

// TestReleaseReseals: contacts the hold moved into the hold bucket go back to an expiry
// bucket when a lengthened policy puts them within their term again.
func TestReleaseReseals(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	term := t0.AddDate(0, 0, 30)
	s, clock := openRet(t, vfs.NewMem(), t0, holdPolicy)
	defer s.Close()
	mustPut(t, s, rc("vast", "c0", "chat", ChannelChat, t0), rc("vast", "c1", "chat", ChannelChat, t0.Add(time.Hour)),
		rc("vast", "m", "", ChannelEmail, t0))
	if err := s.Hold(ctx, "vast", "dossier 8"); err != nil {
		t.Fatal(err)
	}
	clock.t = dayEnd(term)
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 2 {
		t.Fatalf("expire %+v %v", er, err)
	}
	ch := setPolicy(t, s, `{"default":"P2Y","rules":[{"category":"chat","retention":"P1Y"}]}`)
	if ch.Moved != 0 || ch.Expired != 0 {
		t.Errorf("a policy change moved a held customer's contacts: %+v", ch)
	}
	rr, err := s.Release(ctx, "vast")
	if err != nil {
		t.Fatal(err)
	}
	if rr.Resealed != 2 || rr.Expired != 0 {
		t.Errorf("release %+v: want 2 resealed", rr)
	}
	wantIDs(t, s, "after release", "vast", "c0", "c1", "m")
	st := checkStatsFresh(t, s, "after release", []string{"vast"})
	if sc := schedule(st); sc[t0.AddDate(1, 0, 0).Format(time.DateOnly)] != 2 || st.Retention.Held != 0 {
		t.Errorf("retention after release %+v", st.Retention)
	}
	// They expire at their new term.
	if er, err := s.Expire(ctx, dayEnd(t0.AddDate(1, 0, 0))); err != nil || er.Contacts != 2 {
		t.Errorf("expire at the new term %+v %v", er, err)
	}
	wantIDs(t, s, "at the new term", "vast", "m")
}

// TestReleaseRemovesEmptiedCustomer: a customer whose every contact the hold kept past its
// term is gone entirely after Release.
func TestReleaseRemovesEmptiedCustomer(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	s, clock := openRet(t, vfs.NewMem(), t0, holdPolicy)
	defer s.Close()
	mustPut(t, s, rc("vast", "c0", "chat", ChannelChat, t0), rc("vast", "c1", "chat", ChannelChat, t0.Add(time.Hour)))
	k := keysOf(t, s, "vast")
	if err := s.Hold(ctx, "vast", "dossier 9"); err != nil {
		t.Fatal(err)
	}
	clock.t = dayEnd(t0.AddDate(0, 0, 30))
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 2 || er.Customers != 0 {
		t.Fatalf("expire %+v %v", er, err)
	}
	wantIDs(t, s, "held", "vast", "c0", "c1")
	rr, err := s.Release(ctx, "vast")
	if err != nil || rr.Expired != 2 {
		t.Fatalf("release %+v %v", rr, err)
	}
	wantGone(t, s, "after release", "vast")
	wantNoLeftovers(t, s, "after release", k)
	st := checkStatsFresh(t, s, "after release", []string{"vast"})
	if st.Contacts != 0 || st.Customers != 0 {
		t.Errorf("stats %d contacts %d customers", st.Contacts, st.Customers)
	}
}

// TestHoldReleaseEmptyCustomer: Hold and Release without a customer are refused with
// ErrInvalid. The calls run in a child process: the failure they are tested for is a fatal
// error of the Go runtime (an unlock of an unlocked mutex), which no recover can catch.
func TestHoldReleaseEmptyCustomer(t *testing.T) {
	if os.Getenv("CONTACTSTORE_TEST_EMPTY_HOLD") == "1" {
		ctx := context.Background()
		s, _ := openRet(t, vfs.NewMem(), utc(2026, 1, 1, 0, 0, 0), holdPolicy)
		defer s.Close()
		if err := s.Hold(ctx, "", "dossier"); !errors.Is(err, ErrInvalid) {
			t.Errorf("hold without a customer: %v", err)
		}
		if _, err := s.Release(ctx, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("release without a customer: %v", err)
		}
		// The store still works.
		mustPut(t, s, rc("klant", "1", "", ChannelEmail, utc(2026, 1, 1, 0, 0, 0)))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldReleaseEmptyCustomer$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "CONTACTSTORE_TEST_EMPTY_HOLD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("Unlock of unlocked RWMutex")) {
			t.Fatalf("Hold/Release with an empty customer crash the process (fatal error: sync: Unlock of unlocked RWMutex)")
		}
		t.Fatalf("child process: %v\n%s", err, out)
	}
}

func TestHoldRefusals(t *testing.T) {
	ctx := context.Background()
	s, _ := openRet(t, vfs.NewMem(), utc(2026, 1, 1, 0, 0, 0), holdPolicy)
	defer s.Close()
	mustPut(t, s, rc("klant", "1", "", ChannelEmail, utc(2026, 1, 1, 0, 0, 0)))
	if err := s.Hold(ctx, "onbekend", "dossier"); !errors.Is(err, ErrNotFound) {
		t.Errorf("hold of an unknown customer: %v", err)
	}
	if err := s.Hold(ctx, "klant", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("hold without a reason: %v", err)
	}
	if err := s.Hold(ctx, "klant", strings.Repeat("x", 513)); !errors.Is(err, ErrInvalid) {
		t.Errorf("hold with a long reason: %v", err)
	}
	if _, err := s.Release(ctx, "klant"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("release of a customer not held: %v", err)
	}
	if _, err := s.Release(ctx, "onbekend"); !errors.Is(err, ErrNotFound) {
		t.Errorf("release of an unknown customer: %v", err)
	}
	if _, err := s.HoldStatus("klant"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("status of a customer not held: %v", err)
	}
	// A second hold replaces the reason and keeps the date.
	if err := s.Hold(ctx, "klant", "eerste"); err != nil {
		t.Fatal(err)
	}
	first, _ := s.HoldStatus("klant")
	s.opts.Clock.(*fakeClock).t = utc(2026, 2, 1, 0, 0, 0)
	if err := s.Hold(ctx, "klant", "tweede"); err != nil {
		t.Fatal(err)
	}
	if h, err := s.HoldStatus("klant"); err != nil || h.Reason != "tweede" || !h.Since.Equal(first.Since) {
		t.Errorf("second hold %+v %v (first %+v)", h, err, first)
	}
}

// TestEraseDuringHold: an erasure requested during a hold is refused with ErrHeld and
// recorded; the contacts stay; Release carries it out and returns a receipt that verifies.
func TestEraseDuringHold(t *testing.T) {
	ctx := context.Background()
	t0 := utc(2026, 1, 10, 9, 0, 0)
	fs := vfs.NewMem()
	s, clock := openRet(t, fs, t0, holdPolicy)
	defer func() { s.Close() }()
	mustPut(t, s, rc("vast", "c0", "chat", ChannelChat, t0), rc("vast", "m0", "", ChannelEmail, t0),
		rc("ander", "m0", "", ChannelEmail, t0))
	k := keysOf(t, s, "vast")
	clock.t = t0.Add(time.Hour)
	if err := s.Hold(ctx, "vast", "dossier 2026-11"); err != nil {
		t.Fatal(err)
	}
	clock.t = t0.Add(2 * time.Hour)
	rc0, err := s.Erase(ctx, "vast", "Art. 17 verzoek 2026-5")
	var he *HeldError
	if rc0 != nil || !errors.Is(err, ErrHeld) || !errors.As(err, &he) || !he.Since.Equal(t0.Add(time.Hour)) {
		t.Fatalf("erase during a hold: %v, %v", rc0, err)
	}
	if strings.Contains(err.Error(), "vast") {
		t.Errorf("the error names the customer: %v", err)
	}
	info, err := s.HoldStatus("vast")
	if err != nil || !info.ErasureRequested.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("hold status after the request: %+v %v", info, err)
	}
	// Asked again: still deferred, the first request's time kept.
	clock.t = t0.Add(3 * time.Hour)
	if _, err := s.Erase(ctx, "vast", "Art. 17 verzoek 2026-5"); !errors.Is(err, ErrHeld) {
		t.Errorf("second erase during the hold: %v", err)
	}
	if info, _ := s.HoldStatus("vast"); info == nil || !info.ErasureRequested.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("hold status after the second request: %+v", info)
	}
	if kinds := auditKinds(t, s, "vast"); kinds["erase-deferred"] != 2 || kinds["erase"] != 0 {
		t.Errorf("audit %v: want two deferred erasures and no erasure", kinds)
	}
	wantIDs(t, s, "during the hold", "vast", "c0", "m0")
	// Expiry during the hold keeps the chat; the request survives a reopen.
	clock.t = dayEnd(t0.AddDate(0, 0, 30))
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 1 {
		t.Fatalf("expire %+v %v", er, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, fs)
	o.Clock = clock
	if s, err = Open("db", o); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, s, "after a reopen", "vast", "c0", "m0")
	if info, err := s.HoldStatus("vast"); err != nil || info.ErasureRequested.IsZero() {
		t.Errorf("hold status after a reopen: %+v %v", info, err)
	}
	rr, err := s.Release(ctx, "vast")
	if err != nil {
		t.Fatal(err)
	}
	if rr.Receipt == nil {
		t.Fatalf("release %+v: no receipt", rr)
	}
	if err := rr.Receipt.Verify(s.PublicKey()); err != nil {
		t.Errorf("receipt does not verify offline: %v", err)
	}
	if err := s.VerifyErasure(ctx, rr.Receipt); err != nil {
		t.Errorf("receipt does not verify against the store: %v", err)
	}
	if rr.Receipt.Customer != s.Pseudonym("vast") || rr.Receipt.ReasonSHA256 != crypto.ReasonDigest("Art. 17 verzoek 2026-5") {
		t.Errorf("receipt names %s with reason digest %s", rr.Receipt.Customer, rr.Receipt.ReasonSHA256)
	}
	if got, err := collect(t, s, "vast", TimeRange{}); len(got) != 0 || !errors.Is(err, ErrErased) {
		t.Errorf("after release: %d contacts, %v; want ErrErased", len(got), err)
	}
	if stored, err := s.ErasureReceipt("vast"); err != nil || stored.Signature != rr.Receipt.Signature {
		t.Errorf("stored receipt %v %v", stored, err)
	}
	wantNoLeftovers(t, s, "after release and erasure", k)
	wantIDs(t, s, "after release", "ander", "m0")
	checkStatsFresh(t, s, "after release and erasure", []string{"vast", "ander"})
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("audit: %v", err)
	}
	checkConsistent(t, s)
}

// TestCrashBetweenReleaseAndErasure takes a crash clone after every durable step of a
// Release that owes an erasure. Every clone opens to one of two states: still held (every
// kept contact readable, the request recorded), or erased (ErrErased, a receipt that
// verifies). Among them is a crash after the release was committed and before the erasure
// began: the next Open carries the erasure out.
func TestCrashBetweenReleaseAndErasure(t *testing.T) {
	ctx := context.Background()
	r := newLockedRand(crashSeed(t))
	mem := vfs.NewCrashableMem()
	var clones []crashClone
	h := &hookFS{FS: mem}
	h.after = func(op, path string) {
		if durableStep(op, path) {
			clones = append(clones, stepClones(mem, r, fmt.Sprintf("after %s %s (step %d)", op, path, len(clones)/2+1), true)...)
		}
	}
	t0 := utc(2026, 1, 10, 9, 0, 0)
	o := testOptions(t, h)
	clock := &fakeClock{t: t0}
	o.Clock = clock
	o.Shards = 8
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setPolicy(t, s, holdPolicy)
	var vast, ander []Contact
	for i := range 4 {
		vast = append(vast, rc("vast", fmt.Sprintf("c%d", i), "chat", ChannelChat, t0.Add(time.Duration(i)*time.Minute)))
		vast = append(vast, rc("vast", fmt.Sprintf("m%d", i), "", ChannelEmail, t0.Add(time.Duration(i)*time.Minute)))
		ander = append(ander, rc("ander", fmt.Sprintf("m%d", i), "", ChannelEmail, t0))
	}
	mustPut(t, s, append(vast, ander...)...)
	if err := s.Hold(ctx, "vast", "dossier 12"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, "vast", "Art. 17"); !errors.Is(err, ErrHeld) {
		t.Fatalf("erase during the hold: %v", err)
	}
	clock.t = dayEnd(t0.AddDate(0, 0, 30))
	if er, err := s.Expire(ctx, time.Time{}); err != nil || er.Held != 4 {
		t.Fatalf("expire %+v %v", er, err)
	}
	s.WaitHygiene()
	relAt := clock.t
	clones = append(clones, crashClone{what: "before Release", fs: mem.CrashClone(crashCfg(0, 0))})
	h.start()
	rr, err := s.Release(ctx, "vast")
	if err == nil {
		s.WaitHygiene()
	}
	h.stop()
	if err != nil || rr.Receipt == nil {
		t.Fatalf("release %+v %v", rr, err)
	}
	clones = append(clones, crashClone{what: "after Release returned", fs: mem.CrashClone(crashCfg(0, 0))})
	if len(clones) < 10 {
		t.Fatalf("only %d crash points", len(clones)/2)
	}
	wantVast := contactsByID(t, vast)
	wantAnder := contactsByID(t, ander)
	reopenAt := relAt.Add(time.Hour) // the clones open later: an erasure done at Open says so
	held, erasedBefore, erasedAtOpen := 0, 0, 0
	var lost []string // clones still held whose kept contacts are gone
	for _, c := range clones {
		cs := openClone(t, c.fs, c.what, func(o *Options) { o.Clock = &fakeClock{t: reopenAt} })
		got, err := collect(t, cs, "ander", TimeRange{})
		if err != nil {
			t.Errorf("%s: ander: %v", c.what, err)
		}
		sameContacts(t, c.what+": ander", got, wantAnder)
		if info, herr := cs.HoldStatus("vast"); herr == nil {
			held++
			if info.ErasureRequested.IsZero() {
				t.Errorf("%s: still held, but the erasure request is lost", c.what)
			}
			got, err := collect(t, cs, "vast", TimeRange{})
			if err != nil {
				t.Errorf("%s: vast (held): %v", c.what, err)
			}
			if len(got) < len(wantVast) {
				// Release deletes the kept contacts (relocate commits its own batches)
				// before it commits the hold's release: a crash in between leaves the hold
				// in force without the contacts it kept.
				lost = append(lost, fmt.Sprintf("%s: %d of %d", c.what, len(got), len(wantVast)))
				sameContacts(t, c.what+": vast (held, kept contacts lost)", got, withPrefix(t, vast, "m"))
			} else {
				sameContacts(t, c.what+": vast (held)", got, wantVast)
			}
			checkStatsFresh(t, cs, c.what, []string{"vast", "ander"})
		} else {
			got, err := collect(t, cs, "vast", TimeRange{})
			if len(got) != 0 || !errors.Is(err, ErrErased) {
				t.Errorf("%s: released but not erased: hold status %v, %d contacts, %v", c.what, herr, len(got), err)
			} else {
				rcpt, err := cs.ErasureReceipt("vast")
				if err != nil {
					t.Errorf("%s: no receipt: %v", c.what, err)
				} else {
					if err := cs.VerifyErasure(ctx, rcpt); err != nil {
						t.Errorf("%s: receipt does not verify: %v", c.what, err)
					}
					if rcpt.Time.Equal(reopenAt) {
						erasedAtOpen++
					} else {
						erasedBefore++
					}
				}
			}
			checkStatsFresh(t, cs, c.what, []string{"vast", "ander"})
		}
		if _, err := cs.VerifyAudit(ctx); err != nil {
			t.Errorf("%s: audit: %v", c.what, err)
		}
		if err := cs.Close(); err != nil {
			t.Errorf("%s: close: %v", c.what, err)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d clones: %d still held, %d erased before the crash, %d erased by Open", len(clones), held, erasedBefore, erasedAtOpen)
	if held == 0 || erasedAtOpen == 0 || erasedBefore == 0 {
		t.Errorf("the crash points did not cover every state: %d held, %d erased before the crash, %d erased by Open", held, erasedBefore, erasedAtOpen)
	}
	if len(lost) > 0 && !t.Failed() {
		t.Fatalf("a crash during Release left the hold in force without the contacts it kept; %d clones: %s", len(lost), strings.Join(lost, "; "))
	}
}

// withPrefix maps the contacts of cs whose id starts with prefix, as contactsByID does.
func withPrefix(t testing.TB, cs []Contact, prefix string) map[string]string {
	m := map[string]string{}
	for _, c := range cs {
		if strings.HasPrefix(c.ID, prefix) {
			m[c.ID] = mustJSON(t, stored(c))
		}
	}
	return m
}
