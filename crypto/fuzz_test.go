package crypto

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

var updateFixtures = flag.Bool("update-fixtures", false, "rewrite crypto/testdata/*.bin")

// Fixtures: a vault and a wrapped customer key sealed once by this version and kept in
// testdata. Sealing is randomised, so the fuzzers need fixed bytes that every fuzzing
// process agrees on; and a vault sealed by an earlier build must keep opening.
const (
	vaultFixture   = "testdata/vault-v1.bin"
	dataKeyFixture = "testdata/datakey-v1.bin"
)

func fixtureRoot() *RootKey { return NewRootKey(fixedKey(1), "fixture key") }

// Where the fixture's customer key lives, and what it holds.
const fixtureShard, fixtureGen = 3, 4

func fixtureShardKey() Key { return fixedKey(4) }

func fixtureCustomerKey() *CustomerKey {
	return &CustomerKey{DataKey: fixedKey(5), Prefix: [PrefixSize]byte{7}, Created: 1700000000, Customer: "alice"}
}

func fixturePseudonym() Pseudonym {
	sk := fixtureShardKey()
	return NewPseudonymizer(&sk).Of("alice")
}

func fixtureVault() *Vault {
	v := &Vault{Generation: 5, Created: fixedTime, Buckets: map[uint32]Key{3: fixedKey(3), 1 << 31: fixedKey(8)}}
	v.StoreID = [StoreIDSize]byte{0xc5, 1, 2, 3}
	v.PseudonymKey, v.IndexKey, v.SigningSeed, v.DictKey = fixedKey(10), fixedKey(11), fixedKey(12), fixedKey(13)
	v.Shards = []Shard{{1, fixedKey(20)}, {2, fixedKey(21)}, {1, fixedKey(22)}, {fixtureGen, fixedKey(23)}}
	return v
}

func readFixture(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (go test ./crypto -run TestFixtures -update-fixtures writes it)", err)
	}
	return b
}

// TestFixtures checks that the stored fixtures still open to what they were made from:
// the vault and data-key formats have not changed incompatibly.
func TestFixtures(t *testing.T) {
	ctx := context.Background()
	if *updateFixtures {
		data, err := fixtureVault().Marshal(ctx, fixtureRoot())
		if err != nil {
			t.Fatal(err)
		}
		sk := fixtureShardKey()
		w, err := WrapCustomerKey(&sk, fixturePseudonym(), fixtureShard, fixtureGen, fixtureCustomerKey())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vaultFixture, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dataKeyFixture, w, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v, err := OpenVault(ctx, readFixture(t, vaultFixture), fixtureRoot())
	if err != nil {
		t.Fatalf("the stored vault does not open: %v", err)
	}
	if !v.Equal(fixtureVault()) {
		t.Fatal("the stored vault opens to other keys than it was made from")
	}
	sk := fixtureShardKey()
	ck, err := UnwrapCustomerKey(&sk, fixturePseudonym(), fixtureShard, fixtureGen, readFixture(t, dataKeyFixture))
	if err != nil {
		t.Fatalf("the stored wrapped data key does not open: %v", err)
	}
	want := fixtureCustomerKey()
	if !ck.DataKey.Equal(&want.DataKey) || ck.Prefix != want.Prefix || ck.Created != want.Created || ck.Customer != want.Customer {
		t.Fatal("the stored data key opens to another key")
	}
}

func FuzzOpenVault(f *testing.F) {
	root, sealed := fixtureRoot(), readFixture(f, vaultFixture)
	f.Add(sealed)
	f.Add(sealed[:len(sealed)/2])
	f.Add(append(bytes.Clone(sealed), 0))
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	f.Add(flipped)
	hdr := bytes.Clone(sealed[:len(vaultMagic)+1+StoreIDSize+8+4])
	f.Add(hdr)
	f.Add([]byte(vaultMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := OpenVault(context.Background(), data, root)
		if err == nil && !bytes.Equal(data, sealed) {
			t.Fatalf("a vault that is not the sealed one opened (generation %d)", v.Generation)
		}
		if err == nil {
			h, herr := ReadVaultHeader(data)
			if herr != nil || h.StoreID != v.StoreID || h.Generation != v.Generation {
				t.Fatal("header disagrees with the opened vault")
			}
		}
	})
}

func FuzzParseKeyFile(f *testing.F) {
	f.Add([]byte(keyFileContent(fixedKey(1))))
	f.Add([]byte(keyFilePrefix + b64(make([]byte, 32))))
	f.Add([]byte(keyFilePrefix + b64(make([]byte, 31)) + "\n"))
	f.Add([]byte("# c\r\n" + keyFilePrefix + b64(make([]byte, 32)) + "\r\n"))
	f.Add([]byte("\n\n#\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeyFile(data)
		if err != nil {
			// Errors never quote the file: no line of it appears in the message, unless
			// the message would say it anyway.
			msg := err.Error()
			for _, line := range strings.Split(string(data), "\n") {
				line = strings.TrimSpace(line)
				if len(line) >= 8 && strings.Contains(msg, line) && !strings.Contains(keyFilePrefix+" expected one line starting not a contactstore key file", line) {
					t.Fatalf("error %q quotes the input", msg)
				}
			}
			return
		}
		if len(data) > keyFileMax {
			t.Fatal("an oversized key file parsed")
		}
		// The key is the one written in the file, and writing it back parses to it again.
		if !strings.Contains(string(data), b64(k[:])) {
			t.Fatal("parsed key is not the one in the file")
		}
		if again, err := ParseKeyFile([]byte(keyFileContent(k))); err != nil || again != k {
			t.Fatalf("re-written key file: %v", err)
		}
	})
}

func FuzzUnwrapCustomerKey(f *testing.F) {
	sk, p, ck := fixtureShardKey(), fixturePseudonym(), fixtureCustomerKey()
	wrapped := readFixture(f, dataKeyFixture)
	f.Add(wrapped, uint32(fixtureShard), uint32(fixtureGen))
	f.Add(wrapped[:len(wrapped)-1], uint32(fixtureShard), uint32(fixtureGen))
	f.Add(wrapped, uint32(fixtureGen), uint32(fixtureShard))
	f.Add([]byte{dataKeyVersion}, uint32(0), uint32(0))
	f.Add([]byte{}, uint32(fixtureShard), uint32(fixtureGen))
	f.Fuzz(func(t *testing.T, w []byte, shard, gen uint32) {
		got, err := UnwrapCustomerKey(&sk, p, shard, gen, w)
		if err != nil {
			return
		}
		if !bytes.Equal(w, wrapped) || shard != fixtureShard || gen != fixtureGen {
			t.Fatalf("a modified or misplaced wrapped key opened (shard %d gen %d)", shard, gen)
		}
		if !got.DataKey.Equal(&ck.DataKey) || got.Customer != ck.Customer {
			t.Fatal("unwrapped the wrong key")
		}
	})
}

func mustTime(s string) (t time.Time) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var fixedTime = mustTime("2026-01-01T00:00:00Z")
