package store

import (
	"errors"

	"contactstore/crypto"
)

// Errors that callers test with errors.Is. Every error the store returns starts with
// "contactstore: " and never quotes a customer id, contact text or key byte.
var (
	// ErrNotFound: the customer has no data in the store.
	ErrNotFound = errors.New("contactstore: customer not found")
	// ErrWrongKey: the root key does not open the key vault. Nothing was changed.
	ErrWrongKey = crypto.ErrWrongKey
	// ErrCorrupt: stored data failed authentication or does not decode. The store never
	// returns such data.
	ErrCorrupt = errors.New("contactstore: corrupt data")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("contactstore: store is closed")
	// ErrNotInitialized: the directory holds no store (no key vault). Run init first.
	ErrNotInitialized = errors.New("contactstore: no store in this directory (run init first)")
	// ErrExists: Create found a store already there.
	ErrExists = errors.New("contactstore: a store already exists in this directory")
	// ErrInvalid: a contact or argument was rejected; the error says which field and why.
	ErrInvalid = errors.New("contactstore: invalid input")
	// ErrKeyGone: a record's key no longer exists (its customer was erased or its bucket
	// expired); the record reads as gone, not as corruption.
	ErrKeyGone = errors.New("contactstore: the key for this data has been destroyed")
)

type prefixed struct {
	msg string
	err error
}

func (e *prefixed) Error() string { return "contactstore: " + e.msg + ": " + e.err.Error() }
func (e *prefixed) Unwrap() error { return e.err }

// wrapErr prefixes err with what the store was doing.
func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return &prefixed{msg: what, err: err}
}
