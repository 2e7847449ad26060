package crypto

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
)

// FuzzParseReceipt feeds arbitrary bytes to ParseReceipt (what verify-receipt reads from a
// file and the store from Pebble): it never panics; a receipt it accepts verifies or not
// without panicking, and re-encodes to a receipt that parses to the same JSON; no accepted
// input other than the signed one verifies under the signing key.
func FuzzParseReceipt(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	signed, err := json.Marshal(sampleReceipt(f, priv))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"customer_pseudonym":"00","time":"2026-01-01T00:00:00Z"} {}`))
	f.Add([]byte(`{"version":1,"unknown":true}`))
	f.Add([]byte(`{"version":1,"time":"not a time"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReceipt(data)
		if err != nil {
			return
		}
		verr := r.Verify(pub)
		if _, err := r.Digest(); err != nil {
			return // a time json cannot encode (a year past 9999)
		}
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("an accepted receipt does not re-encode: %v", err)
		}
		r2, err := ParseReceipt(enc)
		if err != nil {
			t.Fatalf("a re-encoded receipt does not parse: %v", err)
		}
		enc2, _ := json.Marshal(r2)
		if string(enc) != string(enc2) {
			t.Fatalf("re-encoding is not stable:\n%s\n%s", enc, enc2)
		}
		if verr == nil {
			// Only the signed content verifies: the same receipt as the one signed.
			want, _ := json.Marshal(sampleReceipt(t, priv))
			got, _ := json.Marshal(r)
			var a, b Receipt
			_ = json.Unmarshal(want, &a)
			_ = json.Unmarshal(got, &b)
			sa, _ := a.SignedBytes()
			sb, _ := b.SignedBytes()
			if string(sa) != string(sb) {
				t.Fatalf("a receipt with other content verifies: %s", got)
			}
		}
	})
}
