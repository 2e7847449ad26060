package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Receipt proves an erasure. It names the customer only by pseudonym and says what was
// destroyed; the store signs it with its Ed25519 key, so anyone with the store's public
// key can verify it offline.
type Receipt struct {
	Version  int       `json:"version"`
	StoreID  string    `json:"store_id"`
	Customer string    `json:"customer_pseudonym"` // hex
	Time     time.Time `json:"time"`
	// ReasonSHA256 is the hex SHA-256 of the reason given for the erasure. The reason itself
	// is not kept: it is free text and might name a person.
	ReasonSHA256 string    `json:"reason_sha256,omitempty"`
	Destroyed    Destroyed `json:"destroyed"`
	// The key vault's generation before and after the erasure: the shard key the customer's
	// data key was wrapped under exists in "before" and in no generation from "after" on.
	VaultBefore uint64 `json:"vault_generation_before"`
	VaultAfter  uint64 `json:"vault_generation_after"`
	// Positions in the erasure ledger and the audit log.
	LedgerSeq  uint64 `json:"ledger_seq"`
	LedgerHash string `json:"ledger_hash"`
	AuditSeq   uint64 `json:"audit_seq"`
	// KeyID is the first 8 bytes (hex) of SHA-256 of the signing public key.
	KeyID     string `json:"key_id"`
	Signature string `json:"signature,omitempty"` // base64 Ed25519 over SignedBytes
}

// Destroyed says what an erasure removed.
type Destroyed struct {
	Records      int64  `json:"records"`
	IndexEntries int64  `json:"index_entries"`
	DataKeys     int64  `json:"data_keys"`
	Shard        uint32 `json:"shard"`
	ShardGenFrom uint32 `json:"shard_generation_destroyed"`
	ShardGenTo   uint32 `json:"shard_generation_new"`
}

const receiptDomain = "contactstore-erasure-receipt-v1\n"

// SignedBytes returns what the signature covers: a domain label and the receipt's JSON
// without its signature.
func (r *Receipt) SignedBytes() ([]byte, error) {
	c := *r
	c.Signature = ""
	c.Time = c.Time.UTC()
	body, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	return append([]byte(receiptDomain), body...), nil
}

// KeyID returns the id of a public key as used in receipts.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// Sign signs r with the store's private key.
func (r *Receipt) Sign(priv ed25519.PrivateKey) error {
	r.KeyID = KeyID(priv.Public().(ed25519.PublicKey))
	r.Time = r.Time.UTC()
	msg, err := r.SignedBytes()
	if err != nil {
		return err
	}
	r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg))
	return nil
}

// ErrBadReceipt is returned for a receipt whose signature does not verify.
var ErrBadReceipt = errors.New("receipt signature does not verify")

// Verify checks r's signature against pub.
func (r *Receipt) Verify(pub ed25519.PublicKey) error {
	if r.Version != 1 {
		return fmt.Errorf("%w: unsupported receipt version %d", ErrBadReceipt, r.Version)
	}
	if r.KeyID != KeyID(pub) {
		return fmt.Errorf("%w: signed by key %s, not by %s", ErrBadReceipt, r.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature", ErrBadReceipt)
	}
	msg, err := r.SignedBytes()
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, sig) {
		return ErrBadReceipt
	}
	return nil
}

// Digest returns the hex SHA-256 of the signed receipt's JSON, as kept in the ledger.
func (r *Receipt) Digest() (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// ParseReceipt decodes a receipt, refusing unknown fields.
func ParseReceipt(data []byte) (*Receipt, error) {
	var r Receipt
	dec := json.NewDecoder(bytesReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a receipt: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		// A second receipt (or anything else) after the first would go unverified.
		return nil, errors.New("not a receipt: data after the receipt")
	}
	return &r, nil
}

// MarshalPublicKey returns the PEM-like text form of a store public key.
func MarshalPublicKey(pub ed25519.PublicKey) string {
	return "contactstore-ed25519:" + base64.StdEncoding.EncodeToString(pub) + "\n"
}

// ParsePublicKey parses MarshalPublicKey's form.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	const prefix = "contactstore-ed25519:"
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return nil, errors.New("not a contactstore public key")
	}
	b, err := base64.StdEncoding.DecodeString(s[len(prefix):])
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("malformed public key")
	}
	return ed25519.PublicKey(b), nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// ReasonDigest returns the hex SHA-256 of an erasure reason ("" for none).
func ReasonDigest(reason string) string {
	if reason == "" {
		return ""
	}
	h := sha256.Sum256([]byte(reason))
	return hex.EncodeToString(h[:])
}
