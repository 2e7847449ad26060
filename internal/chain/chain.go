// Package chain is the hash chain shared by the erasure ledger and the audit log: each
// entry's hash is SHA-256 over the previous entry's hash (raw bytes) and the entry's own
// canonical JSON without its hash; the first entry's previous hash is all zeros.
package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// ZeroHash is the previous hash of a chain's first entry (hex).
var ZeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// ErrMalformedPrev reports a previous hash that is not 32 bytes of hex.
var ErrMalformedPrev = errors.New("malformed previous hash")

// Hash returns the hex hash of an entry whose JSON without its hash is body and whose
// previous hash (hex) is prev.
func Hash(prev string, body []byte) (string, error) {
	p, err := hex.DecodeString(prev)
	if err != nil || len(p) != sha256.Size {
		return "", ErrMalformedPrev
	}
	h := sha256.New()
	h.Write(p)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}
