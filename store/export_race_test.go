package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// raceContacts makes n contacts of a customer spread over two days (two expiry buckets
// under a one-year policy), so that a read refills each bucket's buffer (readChunk records)
// at least once: an erasure before a refill takes the rest of the history away.
func raceContacts(customer string, n int, now time.Time) []Contact {
	cs := make([]Contact, n)
	for i := range cs {
		cs[i] = mkContact(customer, i)
		cs[i].Time = now.AddDate(0, 0, -2).Add(time.Duration(i) * 2 * 24 * time.Hour / time.Duration(n))
	}
	return cs
}

// checkOutcome: either a complete stream with all n contacts that export.Verify accepts, or
// an error saying the customer went AND a stream that export.Verify refuses, without a
// trailer. Never a stream that verifies with fewer contacts.
func checkOutcome(t *testing.T, data []byte, res ExportResult, err error, n int) (complete bool) {
	t.Helper()
	sum, _, verr := exVerify(t, data)
	if err == nil {
		if verr != nil || sum.Contacts != int64(n) || res.Contacts != int64(n) || sum.Trailer.SHA256 != res.SHA256 {
			t.Fatalf("Export succeeded with %d contacts (want %d), verify: %v", sum.Contacts, n, verr)
		}
		return true
	}
	if verr == nil {
		t.Fatalf("Export failed (%v) but its stream verifies with %d of %d contacts", err, sum.Contacts, n)
	}
	if !errors.Is(err, ErrErased) && !errors.Is(err, ErrNotFound) {
		t.Fatalf("Export failed with %v, want erased or not found", err)
	}
	if bytes.Contains(data, []byte(`{"type":"trailer"`)) {
		t.Fatalf("a failed export wrote a trailer")
	}
	return false
}

// TestExportRacingErasure: many exports, each racing an erasure of its customer started at
// a random point: from the Progress callback, waiting for it to finish (the export must
// fail) or not (either outcome); from another goroutine around the start; or an erasure
// followed by new contacts under the same customer id (a new key: the export must fail).
func TestExportRacingErasure(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := openRet(t, vfs.NewMem(), now, `{"default":"P1Y"}`)
	defer s.Close()
	const n = 2*readChunk + 100
	runs := 15
	if testing.Short() {
		runs = 6
	}
	rng := rand.New(rand.NewPCG(7, 11))
	type tally struct{ complete, incomplete int }
	tallies := map[string]*tally{}
	id := 0
	for _, mode := range []string{"wait", "recreate", "async", "goroutine", "lines-wait", "lines-async"} {
		tallies[mode] = &tally{}
		for range runs {
			id++
			customer := fmt.Sprintf("race-%d", id)
			if _, err := s.Put(ctx, raceContacts(customer, n, now)); err != nil {
				t.Fatal(err)
			}
			at := int64(1 + rng.IntN(n)) // after this many contacts (n: before the trailer)
			var wg sync.WaitGroup
			var eraseErr atomic.Value
			erase := func() {
				if _, err := s.Erase(ctx, customer, "race"); err != nil {
					eraseErr.Store(err)
				}
			}
			progress := func(contacts, _ int64) {
				if contacts != at {
					return
				}
				switch mode {
				case "wait", "lines-wait":
					erase()
				case "recreate":
					erase()
					c := mkContact(customer, 9999)
					c.Time = now.Add(-time.Hour)
					if _, err := s.Put(ctx, []Contact{c}); err != nil {
						eraseErr.Store(err)
					}
				case "async", "lines-async":
					wg.Add(1)
					go func() { defer wg.Done(); erase() }()
				}
			}
			if mode == "goroutine" {
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
					erase()
				}()
			}
			var buf bytes.Buffer
			var res ExportResult
			var err error
			o := ExportOptions{Recipient: "r", Country: "NL", Progress: progress}
			if mode == "lines-wait" || mode == "lines-async" {
				// ExportLines: a trailer only after every contact.
				var got int64
				for l, lerr := range s.ExportLines(ctx, customer, o) {
					if lerr != nil {
						err = lerr
						break
					}
					buf.Write(l.JSON)
					switch l.Type {
					case "contact":
						got++ // (ExportLines calls Progress itself)
					case "trailer":
						res.Contacts, res.SHA256 = l.Trailer.Contacts, l.Trailer.SHA256
						if got != n {
							t.Fatalf("ExportLines yielded a trailer after %d of %d contacts", got, n)
						}
					}
				}
			} else {
				res, err = s.Export(ctx, customer, &buf, o)
			}
			wg.Wait()
			if e := eraseErr.Load(); e != nil {
				t.Fatalf("%s: erase: %v", mode, e)
			}
			if checkOutcome(t, buf.Bytes(), res, err, n) {
				tallies[mode].complete++
			} else {
				tallies[mode].incomplete++
			}
			if (mode == "wait" || mode == "recreate" || mode == "lines-wait") && err == nil {
				t.Fatalf("%s: the customer was erased after %d of %d contacts and the export succeeded", mode, at, n)
			}
		}
	}
	for mode, c := range tallies {
		t.Logf("%s: %d complete, %d incomplete (errors)", mode, c.complete, c.incomplete)
	}
}

// TestExportRacingPutAndExpire: exports of a customer while new contacts of that customer
// are put and expiry destroys the days of their older ones (both nudged from the exports'
// Progress callbacks, so that they land mid-stream). Each export verifies: its trailer
// counts the contact lines it wrote, each contact once, in time order.
func TestExportRacingPutAndExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := openRet(t, vfs.NewMem(), now, `{"default":"P100D"}`)
	defer s.Close()
	// 2,000 contacts over the last 99 days: expiry days now+1 … now+100.
	var cs []Contact
	for i := range 2000 {
		c := mkContact("busy", i)
		c.Time = now.AddDate(0, 0, -99).Add(time.Duration(i) * 99 * 24 * time.Hour / 2000)
		cs = append(cs, c)
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	putKick, expireKick := make(chan struct{}, 1), make(chan struct{}, 1)
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	var puts, expired atomic.Int64
	wg.Add(2)
	go func() { // new contacts of the same customer
		defer wg.Done()
		i := 0
		for range putKick {
			var b []Contact
			for range 20 {
				c := mkContact("busy", 100000+i)
				c.Time = now.Add(-time.Duration(i) * time.Second)
				b = append(b, c)
				i++
			}
			if _, err := s.Put(ctx, b); err != nil {
				errc <- err
				return
			}
			puts.Add(int64(len(b)))
		}
	}()
	go func() { // expiry of the older contacts' days, one day at a time
		defer wg.Done()
		d := 0
		for range expireKick {
			if d >= 90 {
				continue
			}
			d++
			r, err := s.Expire(ctx, now.AddDate(0, 0, d+1))
			if err != nil {
				errc <- err
				return
			}
			expired.Add(r.Contacts)
		}
	}()
	kick := func(contacts, _ int64) {
		if contacts%50 == 0 {
			select {
			case putKick <- struct{}{}:
			default:
			}
			select {
			case expireKick <- struct{}{}:
			default:
			}
		}
	}
	runs := 12
	if testing.Short() {
		runs = 4
	}
	o := ExportOptions{Recipient: "r", Country: "NL", Progress: kick}
	for i := range runs {
		var buf bytes.Buffer
		var res ExportResult
		var err error
		if i%2 == 0 {
			res, err = s.Export(ctx, "busy", &buf, o)
		} else {
			for l, lerr := range s.ExportLines(ctx, "busy", o) {
				if lerr != nil {
					err = lerr
					break
				}
				buf.Write(l.JSON)
				if l.Trailer != nil {
					res.Contacts, res.SHA256 = l.Trailer.Contacts, l.Trailer.SHA256
				}
			}
		}
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		sum, got, verr := exVerify(t, buf.Bytes())
		if verr != nil || sum.Contacts != res.Contacts || int64(len(got)) != res.Contacts || sum.Trailer.SHA256 != res.SHA256 {
			t.Fatalf("run %d: %v, %d lines, trailer %+v, result %+v", i, verr, len(got), sum.Trailer, res)
		}
		seen := map[string]bool{}
		for j, c := range got {
			if seen[c.ID] {
				t.Fatalf("run %d: contact %s twice", i, c.ID)
			}
			seen[c.ID] = true
			if j > 0 && c.Time.Before(got[j-1].Time) {
				t.Fatalf("run %d: contacts out of time order at %d", i, j)
			}
		}
	}
	close(putKick)
	close(expireKick)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if puts.Load() == 0 || expired.Load() == 0 {
		t.Fatalf("%d put, %d expired: nothing raced", puts.Load(), expired.Load())
	}
	t.Logf("%d contacts put and %d expired while %d exports ran", puts.Load(), expired.Load(), runs)
}
