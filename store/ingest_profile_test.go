package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"contactstore/crypto"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestContactTagIsHMAC pins the hand-written HMAC of crypto.ContactTag to crypto/hmac: the
// tags are part of every record and locator key.
func TestContactTagIsHMAC(t *testing.T) {
	var k crypto.Key
	for i := range k {
		k[i] = byte(7*i + 3)
	}
	for _, n := range []int{0, 1, 9, 26, 37, 38, 39, 63, 64, 65, 200, 5000} {
		id := strings.Repeat("x", n)
		m := hmac.New(sha256.New, k[:])
		m.Write([]byte("contactstore/v1/contact-id"))
		m.Write([]byte(id))
		want := m.Sum(nil)[:crypto.ContactTagSize]
		got := crypto.ContactTag(&k, id)
		if string(got[:]) != string(want) {
			t.Fatalf("id of %d bytes: tag %x, HMAC %x", n, got, want)
		}
	}
}

// TestSortOpsKeepsWriteOrderPerKey: a commit group can write one key several times (a
// contact re-ingested twice in one group); sorting must keep the last write last.
func TestSortOpsKeepsWriteOrderPerKey(t *testing.T) {
	ops := []batchOp{
		{kind: opSet, key: []byte("b"), val: []byte("1")},
		{kind: opSet, key: []byte("a"), val: []byte("1")},
		{kind: opDelete, key: []byte("b"), val: nil},
		{kind: opMerge, key: []byte("c"), val: []byte("1")},
		{kind: opSet, key: []byte("b"), val: []byte("2")},
		{kind: opSet, key: []byte("a"), val: []byte("2")},
	}
	ops = sortOps(ops)
	var got []string
	for _, op := range ops {
		got = append(got, string(op.key)+string(rune('0'+op.kind))+string(op.val))
	}
	want := "a01 a02 b01 b1 b02 c21"
	if strings.Join(got, " ") != want {
		t.Fatalf("sorted ops %q, want %q", strings.Join(got, " "), want)
	}
}

// TestPutSameIDTwiceInOneBatch: the second version of a contact in one batch replaces the
// first (its record key differs: another time), and the store counts it once.
func TestPutSameIDTwiceInOneBatch(t *testing.T) {
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	ctx := context.Background()
	a, b := mkContact("cust", 1), mkContact("cust", 1)
	b.Time = b.Time.Add(48 * time.Hour)
	b.Subject = "second version"
	filler := make([]Contact, 0, 3*sealChunk)
	for i := range 3 * sealChunk { // more than one sealing chunk, so workers seal in parallel
		filler = append(filler, mkContact("other", i))
	}
	if _, err := s.Put(ctx, filler[:sealChunk+1]); err != nil { // the customers now exist
		t.Fatal(err)
	}
	batch := append(append(append([]Contact{a}, filler...), b), mkContact("cust", 2))
	res, err := s.Put(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, s, "cust", TimeRange{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d contacts, want 2 (put result %+v)", len(got), res)
	}
	for _, c := range got {
		if c.ID == a.ID && c.Subject != "second version" {
			t.Fatalf("contact %s: subject %q, want the second version", c.ID, c.Subject)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 + 3*sealChunk); st.Contacts != want {
		t.Fatalf("counted %d contacts, want %d", st.Contacts, want)
	}
}

// TestRecentLocatorsResolve checks the committer's memory of recent groups: the newest
// locator written after a lookup wins; a lookup within the window keeps its own result; an
// older one is repeated.
func TestRecentLocatorsResolve(t *testing.T) {
	var r recentLocators
	lk := "L"
	for seq := uint64(1); seq <= 20; seq++ {
		locs := map[string][]byte{}
		if seq == 5 || seq == 18 {
			locs[lk] = []byte{byte(seq)}
		}
		r.committed(seq, locs)
	}
	prev := []byte("prev")
	for _, c := range []struct {
		lookupSeq uint64
		want      string
	}{
		{17, "\x12"}, // group 18 committed after the lookup
		{18, "prev"}, // nothing newer: the lookup stands
		{19, "prev"},
		{3, "repeat"}, // older than the window (groups <= 4 forgotten): the committer must look again
	} {
		it := &item{lookupSeq: c.lookupSeq, prev: prev}
		if c.want == "repeat" {
			if it.lookupSeq >= r.floor {
				t.Fatalf("lookup %d: floor %d, want the lookup repeated", c.lookupSeq, r.floor)
			}
			continue
		}
		got, err := r.resolve(nil, []byte(lk), it)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Fatalf("lookup at %d: got %q, want %q", c.lookupSeq, got, c.want)
		}
	}
}

// TestSortOpsMatchesStableSort compares sortOps with a stable sort by key on random keys,
// short ones, ones with zero bytes and shared 16-byte prefixes among them.
func TestSortOpsMatchesStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ops []batchOp
	for i := range 2000 {
		k := make([]byte, rng.IntN(24))
		for j := range k {
			k[j] = byte(rng.IntN(3)) // few symbols: many ties and prefixes
		}
		ops = append(ops, batchOp{kind: byte(i % 3), key: k, val: []byte{byte(i), byte(i >> 8)}})
	}
	want := slices.Clone(ops)
	slices.SortStableFunc(want, func(a, b batchOp) int { return bytes.Compare(a.key, b.key) })
	ops = sortOps(ops)
	for i := range ops {
		if !bytes.Equal(ops[i].key, want[i].key) || !bytes.Equal(ops[i].val, want[i].val) {
			t.Fatalf("op %d: key %x val %x, want key %x val %x", i, ops[i].key, ops[i].val, want[i].key, want[i].val)
		}
	}
}
