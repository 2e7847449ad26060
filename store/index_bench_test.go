package store_test

import (
	"context"
	"fmt"
	"testing"

	"contactstore/bench/workload"
	"contactstore/crypto"
	"contactstore/index"
	"contactstore/store"
)

// findCustomers is the number of customers of BenchmarkFind's store, one contact each.
const findCustomers = 20_000

// BenchmarkFind looks customers up by e-mail address and phone number (hits) and by an
// address no contact carries (miss), in a store of findCustomers customers on a real disk,
// made once and settled. Compare commits with benchstat:
//
//	go test ./store -run XXX -bench Find -count 6 > new.txt; benchstat old.txt new.txt
func BenchmarkFind(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(b.TempDir(), &store.Options{
		RootKey:         crypto.NewRootKey(crypto.MustNewKey(), "bench key"),
		CreateIfMissing: true,
		NoSync:          true,
		ExpiryInterval:  -1,
		PhoneRegion:     "NL",
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	emails, phones := loadFindStore(b, s)
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := s.WaitForCompactions(ctx); err != nil {
		b.Fatal(err)
	}
	misses := make([]index.Term, 1024)
	for i := range misses {
		misses[i] = index.Email(fmt.Sprintf("nobody.%d@absent.example", i))
	}
	for _, bc := range []struct {
		name  string
		terms []index.Term
		hit   bool
	}{
		{"email", emails, true},
		{"phone", phones, true},
		{"miss", misses, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ids, err := s.Find(ctx, bc.terms[i%len(bc.terms)])
				if err != nil {
					b.Fatal(err)
				}
				if (len(ids) > 0) != bc.hit {
					b.Fatalf("lookup %d found %d customers", i, len(ids))
				}
				i++
			}
		})
	}
}

// loadFindStore puts one workload contact for each of findCustomers customers, carrying
// the customer's e-mail address and phone number, and returns up to 1,024 terms of each
// kind that find a customer.
func loadFindStore(b *testing.B, s *store.Store) (emails, phones []index.Term) {
	b.Helper()
	g := workload.New(workload.Config{Seed: 1, Customers: findCustomers, WithIDs: true, Count: findCustomers})
	norm := index.Normalizer{Region: "NL"}
	batch := make([]store.Contact, 0, benchBatch)
	for i := range findCustomers {
		c := g.Next()
		id, _, email, phone := g.Customer(i)
		c.Customer, c.Email, c.Phone = id, email, phone
		batch = append(batch, c)
		if len(batch) == cap(batch) || i == findCustomers-1 {
			if _, err := s.Put(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		if len(emails) < 1024 && i%7 == 0 {
			emails = append(emails, index.Email(email))
		}
		if _, err := norm.Normalize(index.KindPhone, phone); err == nil && len(phones) < 1024 && i%7 == 0 {
			phones = append(phones, index.Phone(phone))
		}
	}
	return emails, phones
}
