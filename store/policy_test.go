package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestPolicyPersistsAndIsVersioned(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	if s.Policy() != nil {
		t.Fatal("a new store has no policy")
	}
	ch := setPolicy(t, s, `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`)
	if ch.Version != 1 {
		t.Fatalf("first version = %d", ch.Version)
	}
	ch = setPolicy(t, s, `{"default":"P3Y","rules":[{"category":"order","channel":"email","retention":"P7Y"}]}`)
	if ch.Version != 2 {
		t.Fatalf("second version = %d", ch.Version)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, fs)
	defer s.Close()
	p := s.Policy()
	if p == nil || p.Default.String() != "P3Y" || len(p.Rules) != 1 || p.Rules[0].Retention.String() != "P7Y" {
		t.Fatalf("reopened policy = %+v", p)
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Retention.PolicyVersion != 2 || st.Retention.PolicyPending {
		t.Fatalf("retention stats = %+v", st.Retention)
	}
	var kinds []string
	for e, err := range s.Audit(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, e.Kind)
	}
	if n := strings.Count(strings.Join(kinds, " "), "policy"); n != 4 { // set + applied, twice
		t.Fatalf("audit has %d policy entries: %v", n, kinds)
	}
}

func TestSetPolicyRefusesInvalid(t *testing.T) {
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	for _, js := range []string{
		`{}`,
		`{"default":"2Y"}`,
		`{"default":"P0D"}`,
		`{"default":"P1Y","rules":[{"retention":"P1D"}]}`,
		`{"default":"P1Y","rules":[{"channel":"fax","retention":"P1D"}]}`,
		`{"default":"P1Y","rules":[{"category":"a","retention":"P1D"},{"category":"a","retention":"P2D"}]}`,
		`{"default":"P1Y","extra":1}`,
	} {
		if _, err := ParsePolicy([]byte(js)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePolicy(%s) = %v, want ErrInvalid", js, err)
		}
	}
	// A policy built in code is validated too.
	bad := &Policy{Rules: []PolicyRule{{Category: "x"}}}
	if _, err := s.SetPolicy(context.Background(), bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetPolicy(invalid) = %v", err)
	}
	if s.Policy() != nil {
		t.Fatal("a refused policy must change nothing")
	}
}

// TestTamperedPolicyRefused: a policy changed in Pebble's files, behind the store's back,
// does not verify and the store refuses to open rather than apply it.
func TestTamperedPolicyRefused(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	setPolicy(t, s, `{"default":"P7Y"}`)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := openRawPebble(t, fs, "db")
	val, closer, err := db.Get(keys.Meta("policy"))
	if err != nil {
		t.Fatal(err)
	}
	var sp storedPolicy
	if err := json.Unmarshal(val, &sp); err != nil {
		t.Fatal(err)
	}
	closer.Close()
	sp.State = json.RawMessage(strings.Replace(string(sp.State), "P7Y", "P1D", 1))
	enc, _ := json.Marshal(sp)
	if err := db.Set(keys.Meta("policy"), enc, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open("db", testOptions(t, fs))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("open with a tampered policy = %v", err)
	}
}

func FuzzDecodePolicy(f *testing.F) {
	s := openTest(f, vfs.NewMem())
	defer s.Close()
	ps := &policyState{Version: 3, Policy: &Policy{}}
	ps.Policy.Default, _ = ParseDuration("P2Y")
	good, err := s.encodePolicy(ps)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"state":{},"signature":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := s.decodePolicy(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got.Policy == nil {
			t.Fatal("decoded a policy state without a policy")
		}
	})
}

// TestTamperedHoldRefused: a hold's date is readable (Open needs it) but bound into the seal;
// moving it in Pebble's files makes Open refuse the store.
func TestTamperedHoldRefused(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	if _, err := s.Put(context.Background(), []Contact{mkContact("carol", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Hold(context.Background(), "carol", "matter 7"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := openRawPebble(t, fs, "db")
	holds := rawScan(t, db, keys.KindHold)
	if len(holds) != 1 {
		t.Fatalf("%d hold entries", len(holds))
	}
	v := holds[0].v
	v[8] ^= 1 // the low byte of "since"
	if err := db.Set(holds[0].k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open("db", testOptions(t, fs)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with a tampered hold = %v", err)
	}
}
