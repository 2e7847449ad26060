package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// sealX seals plaintext under key with XChaCha20-Poly1305 and a random nonce, appending
// nonce ‖ ciphertext to dst.
func sealX(dst []byte, key *Key, plaintext, aad []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, err
	}
	n := len(dst)
	dst = append(dst, make([]byte, chacha20poly1305.NonceSizeX)...)
	if _, err := rand.Read(dst[n:]); err != nil {
		return nil, fmt.Errorf("reading nonce: %w", err)
	}
	return a.Seal(dst, dst[n:], plaintext, aad), nil
}

// openX opens nonce ‖ ciphertext made by sealX.
func openX(dst []byte, key *Key, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, ErrOpen
	}
	a, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, err
	}
	out, err := a.Open(dst, sealed[:chacha20poly1305.NonceSizeX], sealed[chacha20poly1305.NonceSizeX:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// XOverhead is what sealX adds to a plaintext.
const XOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// RecordCipher seals and opens records under one derived record key with AES-256-GCM. It is
// safe for concurrent use.
type RecordCipher struct {
	aead cipher.AEAD
}

// RecordOverhead is what RecordCipher.Seal adds to a plaintext: a 12-byte nonce and a 16-byte tag.
const RecordOverhead = 12 + 16

// NewRecordCipher returns a cipher for key.
func NewRecordCipher(key *Key) (*RecordCipher, error) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &RecordCipher{aead: g}, nil
}

// Seal appends nonce ‖ ciphertext ‖ tag of plaintext to dst, with aad as associated data.
func (c *RecordCipher) Seal(dst, plaintext, aad []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, 12)...)
	if _, err := rand.Read(dst[n:]); err != nil {
		return nil, fmt.Errorf("reading nonce: %w", err)
	}
	return c.aead.Seal(dst, dst[n:n+12], plaintext, aad), nil
}

// Open appends the plaintext of sealed (made by Seal with the same aad) to dst.
func (c *RecordCipher) Open(dst, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < RecordOverhead {
		return nil, ErrOpen
	}
	out, err := c.aead.Open(dst, sealed[:12], sealed[12:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
