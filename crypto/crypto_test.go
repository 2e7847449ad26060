package crypto

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fastArgon2 keeps passphrase tests fast; the parameters are stored in the vault.
var fastArgon2 = Argon2Params{Time: 1, Memory: 64, Threads: 1}

func fixedKey(b byte) Key {
	var k Key
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func testVault(t testing.TB) *Vault {
	t.Helper()
	v, err := NewVault(8, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	v.Generation = 42
	v.Buckets[7] = fixedKey(7)
	v.Buckets[1<<32-1] = fixedKey(9)
	return v
}

func TestVaultRoundTrip(t *testing.T) {
	ctx := context.Background()
	pass, err := NewPassphraseKey([]byte("correct horse battery"), fastArgon2)
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range []KeyWrapper{NewRootKey(fixedKey(1), "test key"), pass} {
		t.Run(Describe(root), func(t *testing.T) {
			v := testVault(t)
			data, err := v.Marshal(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			got, err := OpenVault(ctx, data, root)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(v) {
				t.Fatal("opened vault differs from the sealed one")
			}
			if !got.Created.Equal(v.Created.Truncate(time.Second)) || got.Generation != 42 || len(got.Shards) != 8 || len(got.Buckets) != 2 {
				t.Fatalf("opened %+v", got)
			}
			h, err := ReadVaultHeader(data)
			if err != nil || h.StoreID != v.StoreID || h.Generation != 42 {
				t.Fatalf("header %+v, %v", h, err)
			}
			// Sealing twice gives different bytes (fresh vault key and nonces).
			again, _ := v.Marshal(ctx, root)
			if bytes.Equal(again, data) {
				t.Error("two seals of one vault are identical")
			}
		})
	}
}

func TestVaultWrongKey(t *testing.T) {
	ctx := context.Background()
	v := testVault(t)
	data, err := v.Marshal(ctx, NewRootKey(fixedKey(1), "right"))
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := NewPassphraseKey([]byte("correct horse battery"), fastArgon2)
	for _, wrong := range []KeyWrapper{NewRootKey(fixedKey(2), "wrong"), pass} {
		if _, err := OpenVault(ctx, data, wrong); !errors.Is(err, ErrWrongKey) {
			t.Errorf("%s: err %v, want ErrWrongKey", Describe(wrong), err)
		}
	}
	pdata, err := v.Marshal(ctx, pass)
	if err != nil {
		t.Fatal(err)
	}
	wrongPass, _ := NewPassphraseKey([]byte("incorrect horse battery"), fastArgon2)
	for _, wrong := range []KeyWrapper{wrongPass, NewRootKey(fixedKey(1), "a key file")} {
		if _, err := OpenVault(ctx, pdata, wrong); !errors.Is(err, ErrWrongKey) {
			t.Errorf("passphrase vault, %s: err %v, want ErrWrongKey", Describe(wrong), err)
		}
	}
}

func TestVaultCorrupt(t *testing.T) {
	ctx := context.Background()
	root := NewRootKey(fixedKey(1), "k")
	data, err := testVault(t).Marshal(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, []byte("CSVAULT"), []byte("NOTVAULT" + strings.Repeat("x", 40)), data[:len(data)-1], append(bytes.Clone(data), 0)} {
		if _, err := OpenVault(ctx, bad, root); err == nil {
			t.Errorf("opened a corrupt vault of %d bytes", len(bad))
		}
	}
	// Every single flipped bit fails, wherever it is.
	for i := range data {
		m := bytes.Clone(data)
		m[i] ^= 1 << (i % 8)
		if _, err := OpenVault(ctx, m, root); err == nil {
			t.Fatalf("flipping a bit of byte %d went unnoticed", i)
		}
	}
	if _, err := ReadVaultHeader(append([]byte(vaultMagic), 9)); !errors.Is(err, ErrVaultCorrupt) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestVaultClone(t *testing.T) {
	v := testVault(t)
	c := v.Clone()
	c.Shards[0].Key = fixedKey(99)
	c.Buckets[7] = fixedKey(98)
	delete(c.Buckets, 1<<32-1)
	if v.Shards[0].Key.Equal(&c.Shards[0].Key) || len(v.Buckets) != 2 {
		t.Fatal("Clone shares state with the original")
	}
	if v.Equal(c) {
		t.Fatal("Equal misses a difference")
	}
	if !v.Equal(v.Clone()) {
		t.Fatal("a clone is not Equal")
	}
	pub := v.PublicKey()
	sig := ed25519.Sign(v.SigningKey(), []byte("receipt"))
	if !ed25519.Verify(pub, []byte("receipt"), sig) {
		t.Fatal("signing key and public key do not match")
	}
	v.Wipe()
	if !v.Shards[0].Key.IsZero() || !v.PseudonymKey.IsZero() || len(v.Buckets) != 0 {
		t.Fatal("Wipe left keys")
	}
}

func TestNewVaultShards(t *testing.T) {
	v, err := NewVault(0, time.Now())
	if err != nil || len(v.Shards) != DefaultShards {
		t.Fatalf("default shards: %d, %v", len(v.Shards), err)
	}
	if _, err := NewVault(MaxShards+1, time.Now()); err == nil {
		t.Fatal("too many shards accepted")
	}
	seen := map[Key]bool{}
	for _, s := range v.Shards {
		if seen[s.Key] || s.Gen != 1 {
			t.Fatal("shard keys repeat or start at another generation than 1")
		}
		seen[s.Key] = true
	}
}

func TestPassphraseKeyRules(t *testing.T) {
	if _, err := NewPassphraseKey([]byte("short"), fastArgon2); err == nil {
		t.Error("short passphrase accepted")
	}
	if _, err := NewPassphraseKey([]byte("long enough"), Argon2Params{}); err == nil {
		t.Error("zero Argon2 parameters accepted")
	}
	p, _ := NewPassphraseKey([]byte("long enough"), fastArgon2)
	w, err := p.WrapKey(context.Background(), []byte("k"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	// A forged header asking for absurd Argon2 memory is refused before any work.
	forged := bytes.Clone(w)
	forged[5], forged[6], forged[7], forged[8] = 0xff, 0xff, 0xff, 0xff
	if _, err := p.UnwrapKey(context.Background(), forged, []byte("aad")); err == nil {
		t.Error("implausible Argon2 parameters accepted")
	}
	if _, err := p.UnwrapKey(context.Background(), w, []byte("other aad")); !errors.Is(err, ErrWrongKey) {
		t.Errorf("wrong aad: %v", err)
	}
	p.Wipe()
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root.key")
	k, err := CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	before, _ := os.ReadFile(path)
	if _, err := CreateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second create: %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("creating again overwrote the key file")
	}
	loaded, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Fingerprint() != k.Fingerprint() || !loaded.key.Equal(&k.key) {
		t.Fatal("loaded key differs from the created one")
	}
	if !strings.Contains(loaded.Describe(), path) {
		t.Errorf("Describe %q does not name the file", loaded.Describe())
	}
	if NewRootKey(fixedKey(3), "").Fingerprint() == k.Fingerprint() {
		t.Error("fingerprints of different keys are equal")
	}

	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadKeyFile(path); !errors.Is(err, ErrKeyFilePermissions) {
			t.Errorf("mode %04o: %v, want ErrKeyFilePermissions", mode, err)
		}
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing")); !IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadKeyFile(dir); err == nil {
		t.Error("a directory loaded as a key file")
	}
	// A malformed file is refused without quoting it.
	bad := filepath.Join(dir, "bad.key")
	secret := keyFilePrefix + "c2VjcmV0LXNlY3JldC1zZWNyZXQ"
	if err := os.WriteFile(bad, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(bad); err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("malformed key file: %v", err)
	}
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), keyFileMax+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(big); err == nil {
		t.Error("oversized key file accepted")
	}
}

func TestParseKeyFile(t *testing.T) {
	k := fixedKey(5)
	good := keyFileContent(k)
	if got, err := ParseKeyFile([]byte(good)); err != nil || got != k {
		t.Fatalf("parse: %v", err)
	}
	for _, bad := range []string{
		"",
		"# only a comment\n",
		good + good,                             // two keys
		strings.TrimSuffix(good, "\n") + "AA\n", // 33 bytes
		strings.Replace(good, keyFilePrefix, "contactstore-root-key-v2:", 1),
		keyFilePrefix + "not base64!\n",
	} {
		if _, err := ParseKeyFile([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestKeysNeverPrinted(t *testing.T) {
	k := fixedKey(0xa0)
	root := NewRootKey(k, "key file /x")
	pass, _ := NewPassphraseKey([]byte("hunter2hunter2"), fastArgon2)
	_, _ = pass.WrapKey(context.Background(), []byte("x"), nil) // fills its cache with a derived key
	v := testVault(t)
	v.PseudonymKey = k
	ck := CustomerKey{DataKey: k, Prefix: [PrefixSize]byte{0xa0, 0xa1, 0xa2}, Customer: "alice-customer"}
	values := map[string]any{
		"Key": k, "*Key": &k, "[]Key": []Key{k}, "struct": struct{ K Key }{k},
		"RootKey": *root, "*RootKey": root, "*PassphraseKey": pass,
		"CustomerKey": ck, "*CustomerKey": &ck, "*Vault": v, "Shard": Shard{Key: k},
		"KeyWrapper": KeyWrapper(root),
	}
	// What must never show: the key's bytes in any base, the passphrase, the customer.
	hexKey := fmt.Sprintf("%x", k[:])
	forbidden := []string{hexKey[:16], strings.ToUpper(hexKey[:16]), "160 161 162", "0xa0, 0xa1", "hunter2", "alice-customer", string(k[1:9])}
	for name, val := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
			out := fmt.Sprintf(verb, val)
			for _, f := range forbidden {
				if strings.Contains(out, f) {
					t.Errorf("%s printed with %s shows secret material: %s", name, verb, out)
				}
			}
		}
	}
	if s := fmt.Sprint(root); !strings.Contains(s, "key file /x") {
		t.Errorf("RootKey prints as %q: it should still say which key it is", s)
	}
}

func TestRecordCipher(t *testing.T) {
	k := fixedKey(3)
	c, err := NewRecordCipher(&k)
	if err != nil {
		t.Fatal(err)
	}
	pt, aad := []byte("Beste klantenservice"), []byte("R-key|header")
	sealed, err := c.Seal([]byte("dst"), pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(sealed, []byte("dst")) || len(sealed) != 3+len(pt)+RecordOverhead {
		t.Fatalf("sealed %d bytes", len(sealed))
	}
	sealed = sealed[3:]
	if bytes.Contains(sealed, pt[:8]) {
		t.Fatal("plaintext visible in the sealed record")
	}
	got, err := c.Open(nil, sealed, aad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q, %v", got, err)
	}
	again, _ := c.Seal(nil, pt, aad)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals are identical: nonce reuse")
	}
	for i := range sealed {
		m := bytes.Clone(sealed)
		m[i] ^= 0x80
		if _, err := c.Open(nil, m, aad); !errors.Is(err, ErrOpen) {
			t.Fatalf("tampered byte %d: %v", i, err)
		}
	}
	for _, other := range [][]byte{nil, []byte("R-key|headex"), append(bytes.Clone(aad), 0)} {
		if _, err := c.Open(nil, sealed, other); !errors.Is(err, ErrOpen) {
			t.Errorf("aad %q opened a record sealed with %q", other, aad)
		}
	}
	for n := range RecordOverhead + 1 {
		if _, err := c.Open(nil, sealed[:n], aad); !errors.Is(err, ErrOpen) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
	k2 := fixedKey(4)
	c2, _ := NewRecordCipher(&k2)
	if _, err := c2.Open(nil, sealed, aad); !errors.Is(err, ErrOpen) {
		t.Error("another key opened the record")
	}
}

func TestDeriveRecordKey(t *testing.T) {
	bk, dk := fixedKey(1), fixedKey(2)
	base := DeriveRecordKey(&bk, &dk, 10)
	if again := DeriveRecordKey(&bk, &dk, 10); !again.Equal(&base) {
		t.Fatal("not deterministic")
	}
	bk2, dk2 := fixedKey(3), fixedKey(4)
	for name, k := range map[string]Key{
		"bucket key": DeriveRecordKey(&bk2, &dk, 10),
		"data key":   DeriveRecordKey(&bk, &dk2, 10),
		"bucket":     DeriveRecordKey(&bk, &dk, 11),
		"swapped":    DeriveRecordKey(&dk, &bk, 10),
	} {
		if k.Equal(&base) {
			t.Errorf("the record key does not depend on the %s", name)
		}
	}
	if base.Equal(&bk) || base.Equal(&dk) {
		t.Error("the record key equals an input key")
	}
}

func TestPseudonyms(t *testing.T) {
	k1, k2 := fixedKey(1), fixedKey(2)
	p1, p2 := NewPseudonymizer(&k1), NewPseudonymizer(&k2)
	a := p1.Of("alice")
	if p1.Of("alice") != a || NewPseudonymizer(&k1).Of("alice") != a {
		t.Fatal("pseudonyms are not deterministic")
	}
	if p2.Of("alice") == a {
		t.Fatal("pseudonyms do not depend on the key")
	}
	if p1.Of("alice ") == a || p1.Of("Alice") == a || p1.Of("") == a {
		t.Fatal("different ids share a pseudonym")
	}
	if bytes.Contains(a[:], []byte("alice")) {
		t.Fatal("pseudonym shows the id")
	}
	dk := fixedKey(3)
	tag := ContactTag(&dk, "c-1")
	if ContactTag(&dk, "c-1") != tag || ContactTag(&k1, "c-1") == tag || ContactTag(&dk, "c-2") == tag {
		t.Fatal("contact tags are not deterministic, or not key- and id-dependent")
	}
	for _, n := range []int{1, 7, 4096, MaxShards} {
		for _, id := range []string{"a", "b", "c", "d"} {
			if s := ShardOf(p1.Of(id), n); int(s) >= n {
				t.Fatalf("shard %d of %d", s, n)
			}
		}
	}
}

func TestCustomerKeyWrap(t *testing.T) {
	sk := fixedKey(1)
	p := NewPseudonymizer(&sk).Of("alice")
	ck := &CustomerKey{DataKey: fixedKey(2), Prefix: [PrefixSize]byte{1, 2, 3}, Created: -5, Customer: "alice"}
	w, err := WrapCustomerKey(&sk, p, 3, 4, ck)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w, []byte("alice")) {
		t.Fatal("customer id visible in the wrapped key")
	}
	got, err := UnwrapCustomerKey(&sk, p, 3, 4, w)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DataKey.Equal(&ck.DataKey) || got.Prefix != ck.Prefix || got.Created != -5 || got.Customer != "alice" {
		t.Fatal("unwrapped key differs")
	}
	other := fixedKey(9)
	q := NewPseudonymizer(&sk).Of("bob")
	for name, try := range map[string]func() (*CustomerKey, error){
		"shard key":  func() (*CustomerKey, error) { return UnwrapCustomerKey(&other, p, 3, 4, w) },
		"pseudonym":  func() (*CustomerKey, error) { return UnwrapCustomerKey(&sk, q, 3, 4, w) },
		"shard":      func() (*CustomerKey, error) { return UnwrapCustomerKey(&sk, p, 2, 4, w) },
		"generation": func() (*CustomerKey, error) { return UnwrapCustomerKey(&sk, p, 3, 5, w) },
		"empty":      func() (*CustomerKey, error) { return UnwrapCustomerKey(&sk, p, 3, 4, nil) },
		"version":    func() (*CustomerKey, error) { return UnwrapCustomerKey(&sk, p, 3, 4, append([]byte{9}, w[1:]...)) },
	} {
		if _, err := try(); err == nil {
			t.Errorf("wrong %s unwrapped the key", name)
		}
	}
}

func TestKeyBasics(t *testing.T) {
	a, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b := MustNewKey()
	if a.Equal(&b) || a.IsZero() {
		t.Fatal("random keys equal or zero")
	}
	c := a
	if !c.Equal(&a) {
		t.Fatal("Equal")
	}
	c.Wipe()
	if !c.IsZero() || a.IsZero() {
		t.Fatal("Wipe")
	}
}

// keyFileContent is what CreateKeyFile writes for k.
func keyFileContent(k Key) string {
	return "# comment\n\n" + keyFilePrefix + b64(k[:]) + "\n"
}
