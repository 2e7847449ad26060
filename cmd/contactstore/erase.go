package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"contactstore/crypto"
	"contactstore/store"
)

func init() {
	register(command{name: "erase", summary: "erase a customer for good; prints the signed receipt (JSON)", run: cmdErase})
	register(command{name: "verify-receipt", summary: "verify an erasure receipt (offline with --public-key, online with --dir)", run: cmdVerifyReceipt})
	register(command{name: "keys", summary: "key operations: keys --dir DIR public-key", run: cmdKeys})
	register(command{name: "rotate-root-key", summary: "re-seal the key vault under a new root key file", run: cmdRotateRootKey})
}

func cmdErase(e *env, args []string) int {
	f := e.flags("erase", "--dir DIR --customer ID [--reason TEXT]")
	sf := addStoreFlags(f)
	customer := f.String("customer", "", "the customer's id (required)")
	reason := f.String("reason", "", "why (only its SHA-256 is kept, in the receipt; say why, not who)")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" || *customer == "" })
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	rc, err := s.Erase(context.Background(), *customer, *reason)
	var held *store.HeldError
	if errors.As(err, &held) {
		// A legal hold defers the erasure: the request is recorded and release carries it out.
		printJSON(e.stdout, erasureDeferred{
			Status:    "deferred",
			HeldSince: held.Since.UTC().Format(time.RFC3339),
			Message:   "the customer is under a legal hold; the erasure request is recorded and will be carried out when the hold is released (contactstore release prints the receipt)",
		})
		e.infof("erasure deferred: the customer is under a legal hold since %s; the request is recorded and runs on release",
			held.Since.UTC().Format(time.RFC3339))
		return exitOK
	}
	if errors.Is(err, store.ErrErased) {
		if prev, perr := s.ErasureReceipt(*customer); perr == nil {
			e.errorf("%v; its receipt:", err)
			printJSON(e.stdout, prev)
			return exitFail
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return e.fail(errors.New("nothing to erase: the store holds no customer with this id"))
	}
	if err != nil {
		return e.fail(err)
	}
	printJSON(e.stdout, rc)
	e.infof("erased: %d records, data key destroyed (shard %d generation %d); vault generation %d → %d",
		rc.Destroyed.Records, rc.Destroyed.Shard, rc.Destroyed.ShardGenFrom, rc.VaultBefore, rc.VaultAfter)
	return exitOK
}

// erasureDeferred is erase's output when a legal hold defers the erasure.
type erasureDeferred struct {
	Status    string `json:"status"` // "deferred"
	HeldSince string `json:"held_since"`
	Message   string `json:"message"`
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func readSmallFile(path string, limit int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

func cmdVerifyReceipt(e *env, args []string) int {
	f := e.flags("verify-receipt", "--receipt FILE [--dir DIR] [--public-key FILE]")
	sf := addStoreFlags(f)
	receipt := f.String("receipt", "", "the receipt file (JSON, as erase prints it, or release's output with the receipt in it), - for stdin (required)")
	pubFile := f.String("public-key", "", "the store's public key file (from keys public-key), for offline verification")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *receipt == "" || (*sf.dir == "" && *pubFile == "") })
	if !ok {
		return code
	}
	data, err := readSmallFile(*receipt, 1<<20)
	if err != nil {
		return e.fail(err)
	}
	rc, err := parseReceiptFile(data)
	if err != nil {
		return e.fail(err)
	}
	if *pubFile != "" {
		pk, err := readSmallFile(*pubFile, 4096)
		if err != nil {
			return e.fail(err)
		}
		pub, err := crypto.ParsePublicKey(string(pk))
		if err != nil {
			return e.fail(err)
		}
		if err := rc.Verify(pub); err != nil {
			return e.fail(err)
		}
		e.infof("signature valid: store %s erased pseudonym %s at %s", rc.StoreID, rc.Customer, rc.Time.Format("2006-01-02T15:04:05Z07:00"))
	}
	if *sf.dir != "" {
		s, err := e.openStore(sf, nil)
		if err != nil {
			return e.exitFor(err)
		}
		defer s.Close()
		if err := s.VerifyErasure(context.Background(), rc); err != nil {
			return e.fail(err)
		}
		e.infof("valid: signed by this store, recorded in its erasure ledger, and no data key of the customer remains")
	}
	return exitOK
}

func cmdKeys(e *env, args []string) int {
	f := e.flags("keys", "--dir DIR public-key")
	sf := addStoreFlags(f)
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) != 1 || pos[0] != "public-key" || *sf.dir == "" })
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	fmt.Fprint(e.stdout, crypto.MarshalPublicKey(s.PublicKey()))
	return exitOK
}

func cmdRotateRootKey(e *env, args []string) int {
	f := e.flags("rotate-root-key", "--dir DIR [--key-file OLD] --new-key-file NEW")
	sf := addStoreFlags(f)
	newKey := f.String("new-key-file", "", "where to create the new root key file (must not exist; mode 0600)")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" || *newKey == "" })
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	root, err := crypto.CreateKeyFile(*newKey)
	if err != nil {
		return e.fail(err)
	}
	if err := s.RotateRootKey(context.Background(), root); err != nil {
		os.Remove(*newKey)
		return e.fail(err)
	}
	e.infof("the key vault is now sealed under %s; the old key file no longer opens it (delete it once you are sure)", *newKey)
	return exitOK
}

// parseReceiptFile reads a receipt, or the output of release, whose "receipt" member is the
// receipt of the erasure carried out on release.
func parseReceiptFile(data []byte) (*crypto.Receipt, error) {
	rc, err := crypto.ParseReceipt(data)
	if err == nil {
		return rc, nil
	}
	var wrapped struct {
		Receipt json.RawMessage `json:"receipt"`
	}
	if json.Unmarshal(data, &wrapped) == nil && len(wrapped.Receipt) > 0 && string(wrapped.Receipt) != "null" {
		if rc, werr := crypto.ParseReceipt(wrapped.Receipt); werr == nil {
			return rc, nil
		}
	}
	return nil, err
}
