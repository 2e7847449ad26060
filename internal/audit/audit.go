// Package audit is the format of the audit log: one entry per ingest batch, read, erasure,
// key change (and, as those features land, export, transfer decision, expiry and hold),
// naming customers by pseudonym only. Each entry holds the hash of its predecessor; every
// so often a checkpoint entry signs the chain's head with the store's Ed25519 key, so a
// changed, removed or reordered entry is detected, and so is a rewritten chain without the
// signing key.
package audit

import (
	"bytes"
	hashchain "contactstore/internal/chain"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Kinds of entries.
const (
	KindIngest     = "ingest"
	KindRead       = "read"
	KindErase      = "erase"
	KindErasePend  = "erase-deferred"
	KindKeys       = "keys"
	KindCheckpoint = "checkpoint"
	KindOpen       = "open"
	KindPolicy     = "policy"
	KindExpire     = "expire"
	KindHold       = "hold"
	KindRelease    = "release"
	KindTransfer   = "transfer"
	KindExport     = "export"
	KindObject     = "object"
	KindWithdraw   = "withdraw-objection"
	KindFind       = "find"
)

// Entry is one audit entry.
type Entry struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Customers []string  `json:"customers,omitempty"` // pseudonyms, hex
	Count     int64     `json:"count,omitempty"`     // contacts written, read or destroyed
	Detail    string    `json:"detail,omitempty"`    // never personal data
	Signature string    `json:"signature,omitempty"` // checkpoints: base64 Ed25519 over the head
	Prev      string    `json:"prev"`
	Hash      string    `json:"hash"`
}

// ErrCorrupt reports an audit chain that does not verify.
var ErrCorrupt = errors.New("audit log does not verify")

// ZeroHash is the previous hash of the first entry.
var ZeroHash = hashchain.ZeroHash

// Seal sets e.Prev and e.Hash and returns the encoded entry.
func Seal(e *Entry, prev string) ([]byte, error) {
	if prev == "" {
		prev = ZeroHash
	}
	e.Prev, e.Hash = prev, ""
	e.Time = e.Time.UTC()
	h, err := hashOf(e)
	if err != nil {
		return nil, err
	}
	e.Hash = h
	return json.Marshal(e)
}

func hashOf(e *Entry) (string, error) {
	c := *e
	c.Hash = ""
	body, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	h, err := hashchain.Hash(c.Prev, body)
	if err != nil {
		return "", errors.New("malformed previous hash")
	}
	return h, nil
}

const checkpointDomain = "contactstore-audit-checkpoint-v1\n"

func checkpointMessage(seq uint64, head string) []byte {
	m := binary.BigEndian.AppendUint64([]byte(checkpointDomain), seq)
	return append(m, head...)
}

// Checkpoint returns a checkpoint entry signing the head (the previous entry's hash).
func Checkpoint(seq uint64, t time.Time, head string, priv ed25519.PrivateKey) Entry {
	sig := ed25519.Sign(priv, checkpointMessage(seq, head))
	return Entry{Seq: seq, Time: t, Kind: KindCheckpoint, Signature: base64.StdEncoding.EncodeToString(sig)}
}

// Decode parses one stored entry, refusing unknown fields.
func Decode(b []byte) (*Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: an entry does not parse", ErrCorrupt)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: an entry does not parse (data after it)", ErrCorrupt)
	}
	return &e, nil
}

// Verifier checks entries in order.
type Verifier struct {
	pub            ed25519.PublicKey
	prev           string
	next           uint64
	Entries        uint64
	LastCheckpoint uint64 // seq of the last valid checkpoint (0: none)
}

// NewVerifier returns a Verifier for a chain that starts at seq first (1 for a full log;
// later when older entries were removed by the audit term, with prev their last hash).
func NewVerifier(pub ed25519.PublicKey, first uint64, prev string) *Verifier {
	if prev == "" {
		prev = ZeroHash
	}
	return &Verifier{pub: pub, prev: prev, next: first}
}

// Add verifies the next entry.
func (v *Verifier) Add(e *Entry) error {
	if e.Seq != v.next {
		return fmt.Errorf("%w: entry %d where %d was due (removed or reordered)", ErrCorrupt, e.Seq, v.next)
	}
	if subtle.ConstantTimeCompare([]byte(e.Prev), []byte(v.prev)) != 1 {
		return fmt.Errorf("%w: entry %d does not link to its predecessor", ErrCorrupt, e.Seq)
	}
	h, err := hashOf(e)
	if err != nil || subtle.ConstantTimeCompare([]byte(h), []byte(e.Hash)) != 1 {
		return fmt.Errorf("%w: entry %d was changed", ErrCorrupt, e.Seq)
	}
	if e.Kind == KindCheckpoint {
		sig, err := base64.StdEncoding.DecodeString(e.Signature)
		if err != nil || !ed25519.Verify(v.pub, checkpointMessage(e.Seq, e.Prev), sig) {
			return fmt.Errorf("%w: checkpoint %d has no valid signature", ErrCorrupt, e.Seq)
		}
		v.LastCheckpoint = e.Seq
	}
	v.prev = e.Hash
	v.next++
	v.Entries++
	return nil
}
