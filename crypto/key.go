package crypto

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
)

// KeySize is the size of every symmetric key in the hierarchy.
const KeySize = 32

// Key is a 256-bit secret key. Its String and Format methods never print key material, so
// a Key that ends up in a log line or error message shows as "Key(redacted)".
type Key [KeySize]byte

// NewKey returns a fresh random key.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("reading random key: %w", err)
	}
	return k, nil
}

// MustNewKey is NewKey for places where the system random source failing is fatal anyway.
func MustNewKey() Key {
	k, err := NewKey()
	if err != nil {
		panic(err)
	}
	return k
}

// String implements fmt.Stringer without revealing the key.
func (Key) String() string { return "Key(redacted)" }

// Format implements fmt.Formatter so that %x, %v and %#v cannot print the key either.
func (Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("Key(redacted)")) }

// GoString implements fmt.GoStringer.
func (Key) GoString() string { return "Key(redacted)" }

// Equal compares two keys in constant time.
func (k *Key) Equal(o *Key) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// IsZero reports whether k is all zero bytes (an unset key).
func (k *Key) IsZero() bool {
	var z Key
	return subtle.ConstantTimeCompare(k[:], z[:]) == 1
}

// Wipe overwrites k with zeros. Go may have copied the key elsewhere; Wipe is hygiene, not a
// guarantee.
func (k *Key) Wipe() { clear(k[:]) }

// ErrOpen is returned when a ciphertext does not open: a wrong key, a tampered byte, or a
// value moved to another place. It never says which, on purpose.
var ErrOpen = errors.New("message authentication failed")

// ErrWrongKey is returned when the root key does not open the key vault.
var ErrWrongKey = errors.New("wrong root key")

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return b, nil
}
