package index

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync/atomic"
)

// KeySize is the size of an index key.
const KeySize = 32

// TokenSize is the size of a blind-index token.
const TokenSize = 16

// Token is a blind-index token: HMAC-SHA256(index key, "contactstore/v1/index" ‖ kind ‖
// uint32be(len(normalised)) ‖ normalised) truncated to TokenSize bytes. Without the key it
// reveals nothing of the value, except that equal values have equal tokens.
type Token [TokenSize]byte

// tokenLabel separates index tokens from every other use of HMAC in contactstore.
const tokenLabel = "contactstore/v1/index"

// maxStackValue is the longest normalised value tokenised without allocating: every value a
// Normalizer returns is shorter (e-mail ≤ 254, E.164 ≤ 21, customer id ≤ 256 bytes).
const maxStackValue = 256

// Tokenizer computes tokens under one key. It is safe for concurrent use; Close must not
// run concurrently with Token.
type Tokenizer struct {
	ipad, opad [sha256.BlockSize]byte // key XOR 0x36.., key XOR 0x5c.. (RFC 2104)
	closed     atomic.Bool
}

// NewTokenizer returns a Tokenizer under a copy of key, which must be KeySize bytes.
func NewTokenizer(key []byte) (*Tokenizer, error) {
	if len(key) != KeySize {
		return nil, errors.New("index: the index key must be 32 bytes")
	}
	t := new(Tokenizer)
	// The key is shorter than SHA-256's block, so HMAC zero-pads it (no pre-hashing).
	for i := range sha256.BlockSize {
		t.ipad[i], t.opad[i] = 0x36, 0x5c
	}
	for i, k := range key {
		t.ipad[i] ^= k
		t.opad[i] ^= k
	}
	return t, nil
}

// Token returns the token of a normalised value of kind. It does not allocate for values
// up to 256 bytes (all that a Normalizer returns). It panics after Close.
func (t *Tokenizer) Token(kind Kind, normalised string) Token {
	if t.closed.Load() {
		panic("index: Tokenizer used after Close")
	}
	const head = sha256.BlockSize + len(tokenLabel) + 1 + 4
	var buf [head + maxStackValue]byte
	msg := buf[:0]
	if n := head + len(normalised); n > len(buf) {
		msg = make([]byte, 0, n)
	}
	msg = append(msg, t.ipad[:]...)
	msg = append(msg, tokenLabel...)
	msg = append(msg, byte(kind))
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(normalised)))
	msg = append(msg, normalised...)
	inner := sha256.Sum256(msg)
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], t.opad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	sum := sha256.Sum256(outer[:])
	clear(msg[:sha256.BlockSize]) // the key-derived pads, wherever msg lives
	clear(outer[:sha256.BlockSize])
	var tok Token
	copy(tok[:], sum[:])
	return tok
}

// Close zeroes the key material. The Tokenizer must not be used afterwards.
func (t *Tokenizer) Close() {
	t.closed.Store(true)
	clear(t.ipad[:])
	clear(t.opad[:])
}
