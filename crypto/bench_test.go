package crypto_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"contactstore/crypto"
)

func benchKey(seed byte) crypto.Key {
	var k crypto.Key
	for i := range k {
		k[i] = seed + byte(i)*13
	}
	return k
}

var recordSizes = []int{256, 1 << 10, 16 << 10}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func BenchmarkRecordCipherSeal(b *testing.B) {
	k := benchKey(1)
	c, err := crypto.NewRecordCipher(&k)
	if err != nil {
		b.Fatal(err)
	}
	aad := make([]byte, 48)
	for _, n := range recordSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			pt := make([]byte, n)
			dst := make([]byte, 0, n+crypto.RecordOverhead)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = c.Seal(dst[:0], pt, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRecordCipherOpen(b *testing.B) {
	k := benchKey(1)
	c, err := crypto.NewRecordCipher(&k)
	if err != nil {
		b.Fatal(err)
	}
	aad := make([]byte, 48)
	for _, n := range recordSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			sealed, err := c.Seal(nil, make([]byte, n), aad)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = c.Open(dst[:0], sealed, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewRecordCipher is what a record-key cache miss costs on top of DeriveRecordKey.
func BenchmarkNewRecordCipher(b *testing.B) {
	k := benchKey(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crypto.NewRecordCipher(&k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeriveRecordKey(b *testing.B) {
	bk, dk := benchKey(1), benchKey(2)
	b.ReportAllocs()
	var sink crypto.Key
	for b.Loop() {
		sink = crypto.DeriveRecordKey(&bk, &dk, 20251)
	}
	_ = sink
}

func BenchmarkPseudonymizerOf(b *testing.B) {
	k := benchKey(3)
	p := crypto.NewPseudonymizer(&k)
	b.ReportAllocs()
	var sink crypto.Pseudonym
	for b.Loop() {
		sink = p.Of("cust-000042")
	}
	_ = sink
}

// BenchmarkContactTag runs once per ingested contact.
func BenchmarkContactTag(b *testing.B) {
	k := benchKey(4)
	b.ReportAllocs()
	var sink [crypto.ContactTagSize]byte
	for b.Loop() {
		sink = crypto.ContactTag(&k, "ZD-100042")
	}
	_ = sink
}

func benchCustomerKey() *crypto.CustomerKey {
	return &crypto.CustomerKey{DataKey: benchKey(5), Created: 1_700_000_000, Customer: "cust-000042"}
}

func BenchmarkWrapCustomerKey(b *testing.B) {
	sk := benchKey(6)
	ck := benchCustomerKey()
	var p crypto.Pseudonym
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crypto.WrapCustomerKey(&sk, p, 17, 1, ck); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrapCustomerKey(b *testing.B) {
	sk := benchKey(6)
	var p crypto.Pseudonym
	w, err := crypto.WrapCustomerKey(&sk, p, 17, 1, benchCustomerKey())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crypto.UnwrapCustomerKey(&sk, p, 17, 1, w); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVault(b *testing.B) (*crypto.Vault, *crypto.RootKey) {
	v, err := crypto.NewVault(crypto.DefaultShards, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	for i := range uint32(30) { // a month of daily expiry buckets
		v.Buckets[20_000+i] = benchKey(byte(i))
	}
	return v, crypto.NewRootKey(benchKey(7), "bench root")
}

// BenchmarkVaultMarshal seals a vault of 4096 shards, as every vault write does.
func BenchmarkVaultMarshal(b *testing.B) {
	v, root := benchVault(b)
	ctx := context.Background()
	data, err := v.Marshal(ctx, root)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Marshal(ctx, root); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenVault opens a vault of 4096 shards, as every Open does.
func BenchmarkOpenVault(b *testing.B) {
	v, root := benchVault(b)
	ctx := context.Background()
	data, err := v.Marshal(ctx, root)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crypto.OpenVault(ctx, data, root); err != nil {
			b.Fatal(err)
		}
	}
}
