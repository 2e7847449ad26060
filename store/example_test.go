package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"contactstore/crypto"
	"contactstore/store"
)

// exampleStore creates a store in a fresh temporary directory. In real use the root key
// comes from crypto.LoadKeyFile or crypto.NewPassphraseKey and lives outside the directory.
func exampleStore() (s *store.Store, cleanup func()) {
	dir, err := os.MkdirTemp("", "contactstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	key, err := crypto.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	opts := &store.Options{
		RootKey:         crypto.NewRootKey(key, "example key"),
		CreateIfMissing: true,
		Shards:          16,
	}
	s, err = store.Open(dir, opts)
	if err != nil {
		log.Fatal(err)
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }
}

var twoContacts = []store.Contact{
	{
		ID: "T-1001", Customer: "K-42", Channel: store.ChannelEmail, Direction: store.DirectionInbound,
		Time:    time.Date(2025, 3, 1, 9, 15, 0, 0, time.FixedZone("CET", 3600)),
		Subject: "Pakket niet ontvangen", Email: "anna@example.nl", Rating: 6,
	},
	{
		ID: "T-1002", Customer: "K-42", Channel: store.ChannelPhone, Direction: store.DirectionOutbound,
		Time:    time.Date(2025, 3, 2, 14, 0, 0, 0, time.FixedZone("CET", 3600)),
		Subject: "Terugbelverzoek: pakket komt morgen", Agent: "Bram", Rating: 9,
	},
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "contactstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	key, err := crypto.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	opts := &store.Options{RootKey: crypto.NewRootKey(key, "example key"), CreateIfMissing: true, Shards: 16}
	s, err := store.Open(dir, opts)
	if err != nil {
		log.Fatal(err)
	}
	res, err := s.Put(context.Background(), twoContacts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("added:", res.Added)
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}

	// Another root key does not open the store, and changes nothing.
	other, _ := crypto.NewKey()
	_, err = store.Open(dir, &store.Options{RootKey: crypto.NewRootKey(other, "other key")})
	fmt.Println("other key:", errors.Is(err, store.ErrWrongKey))

	// The right key does.
	s, err = store.Open(dir, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("contacts:", st.Contacts, "customers:", st.Customers)

	// A directory without a store is not opened unless asked to create one.
	empty, _ := os.MkdirTemp("", "contactstore-empty-")
	defer os.RemoveAll(empty)
	_, err = store.Open(empty, &store.Options{RootKey: opts.RootKey})
	fmt.Println("empty dir:", errors.Is(err, store.ErrNotInitialized))
	// Output:
	// added: 2
	// other key: true
	// contacts: 2 customers: 1
	// empty dir: true
}

func ExampleStore_Put() {
	s, cleanup := exampleStore()
	defer cleanup()
	ctx := context.Background()

	res, err := s.Put(ctx, twoContacts)
	fmt.Println(res.IDs, "added", res.Added, "replaced", res.Replaced, err)

	// Ingesting the same contacts again replaces them: no duplicates.
	res, err = s.Put(ctx, twoContacts)
	fmt.Println(res.IDs, "added", res.Added, "replaced", res.Replaced, err)

	// A contact without an id gets a 26-character, time-ordered one.
	res, err = s.Put(ctx, []store.Contact{{Customer: "K-42", Time: time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC), Subject: "Bedankt!"}})
	fmt.Println(len(res.IDs[0]), "added", res.Added, err)

	// An invalid contact fails the whole call; the error names position and field.
	_, err = s.Put(ctx, []store.Contact{twoContacts[0], {Customer: "K-43", Time: time.Now(), Rating: 11}})
	fmt.Println(errors.Is(err, store.ErrInvalid))
	fmt.Println(err)
	// Output:
	// [T-1001 T-1002] added 2 replaced 0 <nil>
	// [T-1001 T-1002] added 0 replaced 2 <nil>
	// 26 added 1 <nil>
	// true
	// contactstore: invalid input: contact 1: field "rating": must be between 1 and 10
}

func ExampleStore_Contacts() {
	s, cleanup := exampleStore()
	defer cleanup()
	ctx := context.Background()
	if _, err := s.Put(ctx, twoContacts); err != nil {
		log.Fatal(err)
	}

	for c, err := range s.Contacts(ctx, "K-42", store.TimeRange{}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(c.Time.Format(time.RFC3339), c.ID, c.Channel, c.Category, c.Rating, c.Subject)
	}

	// Since is inclusive, Until exclusive.
	r := store.TimeRange{Until: twoContacts[1].Time}
	for c, err := range s.Contacts(ctx, "K-42", r) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("before the call:", c.ID)
	}

	for _, err := range s.Contacts(ctx, "K-99", store.TimeRange{}) {
		fmt.Println("unknown customer:", errors.Is(err, store.ErrNotFound))
	}
	// Output:
	// 2025-03-01T09:15:00+01:00 T-1001 email general 6 Pakket niet ontvangen
	// 2025-03-02T14:00:00+01:00 T-1002 phone general 9 Terugbelverzoek: pakket komt morgen
	// before the call: T-1001
	// unknown customer: true
}
