package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func receiptKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// sampleReceipt returns a signed receipt with every field set.
func sampleReceipt(t testing.TB, priv ed25519.PrivateKey) *Receipt {
	t.Helper()
	r := &Receipt{
		Version:      1,
		StoreID:      strings.Repeat("5a", 16),
		Customer:     strings.Repeat("c3", 16),
		Time:         time.Date(2026, 4, 1, 9, 30, 0, 123456789, time.FixedZone("CEST", 7200)),
		ReasonSHA256: ReasonDigest("Art. 17 request 2026-114"),
		Destroyed: Destroyed{
			Records: 1234, IndexEntries: 1234, DataKeys: 1, Shard: 17, ShardGenFrom: 3, ShardGenTo: 4,
		},
		VaultBefore: 41,
		VaultAfter:  42,
		LedgerSeq:   7,
		LedgerHash:  strings.Repeat("ab", 32),
		AuditSeq:    912,
	}
	if err := r.Sign(priv); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReceiptSignVerify(t *testing.T) {
	priv := receiptKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	r := sampleReceipt(t, priv)
	if err := r.Verify(pub); err != nil {
		t.Fatal(err)
	}
	if r.KeyID != KeyID(pub) || len(r.KeyID) != 16 {
		t.Errorf("key id %q", r.KeyID)
	}
	if r.Time.Location() != time.UTC {
		t.Errorf("signed time not in UTC: %v", r.Time)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseReceipt(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(pub); err != nil {
		t.Fatalf("a receipt read back from JSON: %v", err)
	}
	d1, _ := r.Digest()
	d2, _ := p.Digest()
	if d1 != d2 || len(d1) != 64 {
		t.Errorf("digests %q and %q", d1, d2)
	}
	// The same instant written in another zone is the same receipt.
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["time"] = r.Time.In(time.FixedZone("X", -5*3600)).Format(time.RFC3339Nano)
	b2, _ := json.Marshal(m)
	if p, err := ParseReceipt(b2); err != nil || p.Verify(pub) != nil {
		t.Errorf("the same time in another zone does not verify: %v", err)
	}
}

// jsonFields lists the JSON names of a struct type's fields, nested structs as "a.b".
func jsonFields(typ reflect.Type, prefix string) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			out = append(out, jsonFields(f.Type, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// leaves returns the paths of a JSON object's non-object values.
func leaves(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, leaves(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// edit applies f to the value at path in a copy of the JSON object b.
func edit(t *testing.T, b []byte, path string, f func(parent map[string]any, key string)) []byte {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(path, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		cur = cur[p].(map[string]any)
	}
	f(cur, parts[len(parts)-1])
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReceiptTamperEveryField changes, and removes, each field of a signed receipt in its
// JSON form: it never verifies. The table is the receipt's own list of fields, so a field
// added later is covered, and must be set in sampleReceipt.
func TestReceiptTamperEveryField(t *testing.T) {
	priv := receiptKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	r := sampleReceipt(t, priv)
	b, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	fields := leaves(m, "")
	slices.Sort(fields)
	want := jsonFields(reflect.TypeOf(Receipt{}), "")
	slices.Sort(want)
	if !slices.Equal(fields, want) {
		t.Fatalf("the sample receipt's JSON has fields %v; the type has %v (set every field in sampleReceipt)", fields, want)
	}
	for _, path := range fields {
		change := func(parent map[string]any, key string) {
			switch v := parent[key].(type) {
			case json.Number:
				n, _ := v.Int64()
				parent[key] = json.Number(fmt.Sprint(n + 1))
			case string:
				switch {
				case path == "time":
					tm, _ := time.Parse(time.RFC3339Nano, v)
					parent[key] = tm.Add(time.Nanosecond).Format(time.RFC3339Nano)
				case path == "signature":
					// Still valid base64 of the right length: the signature check decides.
					s := []byte(v)
					s[10] ^= 'A' ^ 'B'
					if s[10] == '+' || s[10] == '/' {
						s[10] = 'C'
					}
					parent[key] = string(s)
				default:
					s := []byte(v)
					if s[0] == '0' {
						s[0] = '1'
					} else {
						s[0] = '0'
					}
					parent[key] = string(s)
				}
			default:
				t.Fatalf("%s: unexpected %T", path, v)
			}
		}
		for _, tc := range []struct {
			what string
			f    func(map[string]any, string)
		}{
			{"changed", change},
			{"removed", func(p map[string]any, k string) { delete(p, k) }},
		} {
			tb := edit(t, b, path, tc.f)
			if bytes.Equal(tb, b) {
				t.Fatalf("%s %s: no change", path, tc.what)
			}
			p, err := ParseReceipt(tb)
			if err != nil {
				t.Fatalf("%s %s: does not parse: %v", path, tc.what, err)
			}
			if err := p.Verify(pub); !errors.Is(err, ErrBadReceipt) {
				t.Errorf("%s %s: Verify = %v, want ErrBadReceipt", path, tc.what, err)
			}
			if d1, _ := r.Digest(); func() bool { d2, _ := p.Digest(); return d1 == d2 }() {
				t.Errorf("%s %s: same digest", path, tc.what)
			}
		}
	}
}

func TestReceiptWrongKey(t *testing.T) {
	priv, other := receiptKey(1), receiptKey(2)
	r := sampleReceipt(t, priv)
	if err := r.Verify(other.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("another store's key: %v", err)
	}
	// Naming the other key does not help: the key id is signed, and the signature is not
	// the other key's.
	c := *r
	c.KeyID = KeyID(other.Public().(ed25519.PublicKey))
	if err := c.Verify(other.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("relabelled key id: %v", err)
	}
	// A signature of another receipt.
	r2 := sampleReceipt(t, priv)
	r2.Customer = strings.Repeat("d4", 16)
	if err := r2.Sign(priv); err != nil {
		t.Fatal(err)
	}
	c = *r
	c.Signature = r2.Signature
	if err := c.Verify(priv.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("a signature moved from another receipt: %v", err)
	}
	// An unsigned receipt, a short signature, an unknown version even when signed.
	for _, f := range []func(*Receipt){
		func(r *Receipt) { r.Signature = "" },
		func(r *Receipt) { r.Signature = r.Signature[:20] },
		func(r *Receipt) { r.Signature = "!" + r.Signature[1:] },
		func(r *Receipt) { r.Version = 2; _ = r.Sign(priv) },
		func(r *Receipt) { r.Version = 0; _ = r.Sign(priv) },
	} {
		c := *r
		f(&c)
		if err := c.Verify(priv.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadReceipt) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestParseReceiptRejects(t *testing.T) {
	b, _ := json.Marshal(sampleReceipt(t, receiptKey(1)))
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"unknown field", edit(t, b, "version", func(p map[string]any, _ string) { p["customer_id"] = "jan@example.nl" })},
		{"unknown nested field", edit(t, b, "destroyed.records", func(p map[string]any, _ string) { p["extra"] = 1 })},
		{"wrong type", edit(t, b, "ledger_seq", func(p map[string]any, k string) { p[k] = "seven" })},
		{"negative generation", edit(t, b, "vault_generation_after", func(p map[string]any, k string) { p[k] = -1 })},
		{"not JSON", []byte("receipt")},
		{"empty", nil},
		{"a second receipt after the first", append(slices.Clone(b), b...)},
		{"trailing data", append(slices.Clone(b), "garbage"...)},
	} {
		if _, err := ParseReceipt(tc.b); err == nil {
			t.Errorf("%s: parsed", tc.name)
		}
	}
	if _, err := ParseReceipt(append(slices.Clone(b), " \n"...)); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}

func TestPublicKeyText(t *testing.T) {
	pub := receiptKey(3).Public().(ed25519.PublicKey)
	s := MarshalPublicKey(pub)
	for _, in := range []string{s, strings.TrimSpace(s), strings.TrimSpace(s) + "\r\n"} {
		got, err := ParsePublicKey(in)
		if err != nil || !got.Equal(pub) {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, bad := range []string{"", "contactstore-ed25519:", "ssh-ed25519 AAAA", s[:len(s)-5], "contactstore-ed25519:" + strings.Repeat("A", 40)} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestReasonDigest(t *testing.T) {
	if ReasonDigest("") != "" {
		t.Error("an empty reason has a digest")
	}
	a, b := ReasonDigest("request 1"), ReasonDigest("request 2")
	if len(a) != 64 || a == b || strings.Contains(a, "request") {
		t.Errorf("%q %q", a, b)
	}
}
