package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"contactstore/crypto"
	"contactstore/index"
	"contactstore/store"
)

// A call comes in from a number written the national way: the blind index finds the
// customer without the store keeping the number in the clear.
func ExampleStore_Find() {
	dir, err := os.MkdirTemp("", "contactstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	key, err := crypto.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	s, err := store.Open(dir, &store.Options{RootKey: crypto.NewRootKey(key, "example key"),
		CreateIfMissing: true, Shards: 16, PhoneRegion: "NL"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Put(ctx, []store.Contact{{
		ID: "T-1", Customer: "K-42", Channel: store.ChannelPhone,
		Time: time.Date(2025, 3, 1, 9, 15, 0, 0, time.UTC), Phone: "+31 6 12345678", Email: "Anna@Example.NL",
	}}); err != nil {
		log.Fatal(err)
	}
	byPhone, err := s.Find(ctx, index.Phone("06-12345678"))
	if err != nil {
		log.Fatal(err)
	}
	byMail, err := s.Find(ctx, index.Email("Anna@example.nl"))
	if err != nil {
		log.Fatal(err)
	}
	nobody, err := s.Find(ctx, index.Email("someone@example.nl"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = s.Find(ctx, index.Phone("call me later"))
	fmt.Println(byPhone, byMail, len(nobody), errors.Is(err, store.ErrInvalid))
	// Output: [K-42] [K-42] 0 true
}

// A backup, an erasure after it, and a restore elsewhere that keeps the customer erased:
// the restore replays the live store's erasure ledger before anything can read.
func ExampleRestore() {
	root, err := os.MkdirTemp("", "contactstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	key, err := crypto.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	rk := crypto.NewRootKey(key, "example key")
	live := filepath.Join(root, "live")
	s, err := store.Open(live, &store.Options{RootKey: rk, CreateIfMissing: true, Shards: 16})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, twoContacts); err != nil {
		log.Fatal(err)
	}
	var backup bytes.Buffer
	info, err := s.Backup(ctx, &backup, &store.BackupOptions{Term: "P30D"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Erase(ctx, "K-42", "Art. 17 request"); err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
	res, err := store.Restore(ctx, &backup, filepath.Join(root, "restored"), &store.RestoreOptions{RootKey: rk, Live: live})
	if err != nil {
		log.Fatal(err)
	}
	r, err := store.Open(filepath.Join(root, "restored"), &store.Options{RootKey: rk})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, err := range r.Contacts(ctx, "K-42", store.TimeRange{}) {
		fmt.Println("after the restore:", errors.Is(err, store.ErrErased))
		break
	}
	fmt.Println(info.State, res.KeptErased)
	// Output:
	// after the restore: true
	// live 1
}
