package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// chain builds n entries of every kind with a signed checkpoint after every `every`
// entries, as the store does, and returns them with their encodings.
func chain(t testing.TB, n, every int, priv ed25519.PrivateKey) ([]Entry, [][]byte) {
	t.Helper()
	kinds := []string{KindIngest, KindRead, KindErase, KindErasePend, KindKeys, KindOpen}
	var out []Entry
	var enc [][]byte
	head := ""
	add := func(e Entry) {
		e.Seq = uint64(len(out) + 1)
		b, err := Seal(&e, head)
		if err != nil {
			t.Fatal(err)
		}
		head = e.Hash
		out = append(out, e)
		enc = append(enc, b)
	}
	since := 0
	for i := range n {
		add(Entry{
			Time: t0.Add(time.Duration(i) * time.Second), Kind: kinds[i%len(kinds)],
			Customers: []string{strings.Repeat(fmt.Sprint(i%10), 32)}, Count: int64(i), Detail: fmt.Sprintf("entry %d", i),
		})
		since++
		if since == every {
			add(Checkpoint(uint64(len(out)+1), t0, head, priv))
			since = 0
		}
	}
	return out, enc
}

// verify decodes encoded entries and runs them through a Verifier from the start.
func verify(pub ed25519.PublicKey, enc [][]byte) (*Verifier, error) {
	v := NewVerifier(pub, 1, "")
	for _, b := range enc {
		e, err := Decode(b)
		if err != nil {
			return v, err
		}
		if err := v.Add(e); err != nil {
			return v, err
		}
	}
	return v, nil
}

func TestSealDecodeRoundTrip(t *testing.T) {
	priv := testKey(1)
	entries, enc := chain(t, 20, 7, priv)
	for i, b := range enc {
		e, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(&entries[i])
		got, _ := json.Marshal(e)
		if !bytes.Equal(got, want) || !bytes.Equal(got, b) {
			t.Fatalf("entry %d:\n got %s\nwant %s", i+1, got, want)
		}
	}
	if entries[0].Prev != ZeroHash {
		t.Errorf("first prev %q", entries[0].Prev)
	}
	// Seal stores times in UTC.
	e := Entry{Seq: 1, Time: t0.In(time.FixedZone("CET", 3600)), Kind: KindRead}
	b, err := Seal(&e, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"time":"2026-03-01T12:00:00Z"`)) {
		t.Errorf("time not in UTC: %s", b)
	}
	v, err := verify(priv.Public().(ed25519.PublicKey), enc)
	if err != nil {
		t.Fatal(err)
	}
	if v.Entries != uint64(len(enc)) || v.LastCheckpoint != uint64(len(enc)-6) {
		t.Errorf("verified %d entries, last checkpoint %d", v.Entries, v.LastCheckpoint)
	}
}

func TestDecodeRejects(t *testing.T) {
	_, enc := chain(t, 1, 100, testKey(1))
	good := enc[0]
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"not JSON", []byte("entry")},
		{"array", []byte("[1]")},
		{"unknown field", append(bytes.TrimSuffix(good, []byte("}")), []byte(`,"note":"x"}`)...)},
		{"trailing data", append(slices.Clone(good), []byte(`{}`)...)},
		{"wrong type", []byte(`{"seq":"one"}`)},
	} {
		if _, err := Decode(tc.b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func wantCorrupt(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("%s: %v, want an error wrapping ErrCorrupt", what, err)
	}
}

// TestVerifierDetects changes each field of each entry, removes, reorders and duplicates
// entries, forges and replays checkpoints, and rewrites the chain without the signing key.
func TestVerifierDetects(t *testing.T) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	entries, enc := chain(t, 12, 4, priv) // checkpoints at 5, 10, 15
	for i := range enc {
		var obj map[string]any
		if err := json.Unmarshal(enc[i], &obj); err != nil {
			t.Fatal(err)
		}
		for field := range obj {
			m := map[string]any{}
			for k, v := range obj {
				m[k] = v
			}
			switch x := m[field].(type) {
			case float64:
				m[field] = x + 1
			case string:
				if field == "time" {
					m[field] = t0.Add(time.Hour).Format(time.RFC3339)
				} else {
					m[field] = x + "0"
				}
			case []any:
				m[field] = append(x, "00")
			default:
				t.Fatalf("%s: %T", field, x)
			}
			b, _ := json.Marshal(m)
			tampered := slices.Clone(enc)
			tampered[i] = b
			_, err := verify(pub, tampered)
			wantCorrupt(t, fmt.Sprintf("entry %d, %s changed", i+1, field), err)
		}
	}
	for i := range enc {
		_, err := verify(pub, slices.Delete(slices.Clone(enc), i, i+1))
		if i == len(enc)-1 {
			if err != nil {
				t.Errorf("the last entry removed: %v", err)
			}
			continue // a shorter log: entries after the last checkpoint are not signed yet
		}
		wantCorrupt(t, fmt.Sprintf("entry %d removed", i+1), err)
		if i+1 < len(enc) {
			sw := slices.Clone(enc)
			sw[i], sw[i+1] = sw[i+1], sw[i]
			_, err = verify(pub, sw)
			wantCorrupt(t, fmt.Sprintf("entries %d and %d swapped", i+1, i+2), err)
		}
		_, err = verify(pub, slices.Insert(slices.Clone(enc), i+1, enc[i]))
		wantCorrupt(t, fmt.Sprintf("entry %d duplicated", i+1), err)
	}

	// Checkpoints signed by another key, or replayed from another position.
	_, other := chain(t, 12, 4, testKey(2))
	if _, err := verify(pub, other); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checkpoint 5") {
		t.Errorf("a chain signed by another key: %v", err)
	}
	reseal := func(es []Entry) [][]byte {
		var out [][]byte
		head := ""
		for _, e := range es {
			b, err := Seal(&e, head)
			if err != nil {
				t.Fatal(err)
			}
			head = e.Hash
			out = append(out, b)
		}
		return out
	}
	replayed := slices.Clone(entries)
	replayed[9].Signature = entries[4].Signature // checkpoint 10 carries checkpoint 5's signature
	if _, err := verify(pub, reseal(replayed)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checkpoint 10") {
		t.Errorf("a replayed checkpoint signature: %v", err)
	}
	// Someone without the key changes entry 7 and recomputes every hash: the next
	// checkpoint's signature no longer matches.
	rewritten := slices.Clone(entries)
	rewritten[6].Count = 1000
	if _, err := verify(pub, reseal(rewritten)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checkpoint 10") {
		t.Errorf("a rewritten chain: %v", err)
	}
	// A checkpoint entry whose signature is not base64, or missing.
	for _, sig := range []string{"!!!", ""} {
		bad := slices.Clone(entries)
		bad[4].Signature = sig
		if _, err := verify(pub, reseal(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("checkpoint signature %q: %v", sig, err)
		}
	}
	// Resealing the untouched entries gives back the same chain.
	if _, err := verify(pub, reseal(slices.Clone(entries))); err != nil {
		t.Errorf("resealed chain: %v", err)
	}
}

// TestVerifierFromTheMiddle: a log whose oldest entries were removed (by its term) verifies
// from the first entry present, given that entry's predecessor hash, and not otherwise.
func TestVerifierFromTheMiddle(t *testing.T) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	entries, enc := chain(t, 12, 4, priv)
	v := NewVerifier(pub, 6, entries[4].Hash)
	for i := 5; i < len(enc); i++ {
		e, _ := Decode(enc[i])
		if err := v.Add(e); err != nil {
			t.Fatalf("entry %d: %v", i+1, err)
		}
	}
	v = NewVerifier(pub, 6, entries[3].Hash)
	e, _ := Decode(enc[5])
	wantCorrupt(t, "a wrong predecessor hash", v.Add(e))
	v = NewVerifier(pub, 7, entries[4].Hash)
	wantCorrupt(t, "a wrong first sequence number", v.Add(e))
}

// FuzzDecode: Decode never panics, and what it accepts encodes to something it decodes to
// the same entry.
func FuzzDecode(f *testing.F) {
	_, enc := chain(f, 6, 3, testKey(1))
	for _, b := range enc {
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T00:00:00+01:00","kind":"read"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		if third, _ := json.Marshal(e2); !bytes.Equal(third, again) {
			t.Fatalf("unstable encoding:\n%s\n%s", again, third)
		}
	})
}

// FuzzVerifier changes one byte of one encoded entry of a valid chain: whenever the chain
// still decodes to different entries, the Verifier rejects it; when it decodes to the same
// entries (JSON's case-insensitive field names, say), it accepts it.
func FuzzVerifier(f *testing.F) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	entries, enc := chain(f, 9, 3, priv)
	f.Add(uint8(0), uint16(3), byte('x'))
	f.Add(uint8(3), uint16(40), byte('0'))
	f.Add(uint8(11), uint16(2), byte('S'))
	f.Fuzz(func(t *testing.T, idx uint8, off uint16, c byte) {
		i := int(idx) % len(enc)
		tampered := slices.Clone(enc)
		b := slices.Clone(enc[i])
		b[int(off)%len(b)] = c
		tampered[i] = b
		v := NewVerifier(pub, 1, "")
		same := true
		for j, raw := range tampered {
			e, err := Decode(raw)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decode error does not wrap ErrCorrupt: %v", err)
				}
				return
			}
			a, _ := json.Marshal(e)
			w, _ := json.Marshal(&entries[j])
			same = same && bytes.Equal(a, w)
			err = v.Add(e)
			switch {
			case err != nil && !errors.Is(err, ErrCorrupt):
				t.Fatalf("verify error does not wrap ErrCorrupt: %v", err)
			case err != nil && same:
				t.Fatalf("an unchanged entry %d rejected: %v", j+1, err)
			case err != nil:
				return
			case !same:
				t.Fatalf("entry %d was changed to %s and verifies", j+1, a)
			}
		}
	})
}
