package crypto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// KeyWrapper protects the key vault's key: the root of the hierarchy. A key file and a
// passphrase are built in; an external KMS or HSM plugs in by implementing these two methods
// (the wrapped form is opaque to the store, which keeps it in the vault file's header).
//
// Implementations must authenticate aad and fail UnwrapKey for any wrapped value or aad that
// WrapKey did not produce under the same root.
type KeyWrapper interface {
	WrapKey(ctx context.Context, key, aad []byte) ([]byte, error)
	UnwrapKey(ctx context.Context, wrapped, aad []byte) ([]byte, error)
}

// Describer may be implemented by a KeyWrapper to name its root key in messages, for
// example "key file /etc/contactstore/prod.key". It must not reveal key material.
type Describer interface {
	Describe() string
}

// Describe names the root key behind w for an error message.
func Describe(w KeyWrapper) string {
	if d, ok := w.(Describer); ok {
		return d.Describe()
	}
	return fmt.Sprintf("root key %T", w)
}

const (
	wrapKindRootKey    = 1
	wrapKindPassphrase = 2
)

// RootKey is a 256-bit root key held in memory, as read from a key file.
type RootKey struct {
	key    Key
	source string
}

var _ KeyWrapper = (*RootKey)(nil)

// NewRootKey returns a KeyWrapper around a raw 32-byte key. source names it in messages.
func NewRootKey(key Key, source string) *RootKey {
	if source == "" {
		source = "root key"
	}
	return &RootKey{key: key, source: source}
}

// Describe implements Describer.
func (r *RootKey) Describe() string { return r.source }

// String, Format and GoString name the key without printing it: fmt would otherwise print
// the unexported key bytes of a RootKey (or *RootKey) given to %v.
func (r RootKey) String() string             { return "RootKey(" + r.source + ")" }
func (r RootKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }
func (r RootKey) GoString() string           { return r.String() }

// Fingerprint returns a short public fingerprint of the key (SHA-256 of a label and the
// key, 8 bytes hex), for telling keys apart without revealing them.
func (r *RootKey) Fingerprint() string {
	h := sha256.Sum256(append([]byte("contactstore/v1/root-fingerprint"), r.key[:]...))
	return fmt.Sprintf("%x", h[:8])
}

// WrapKey implements KeyWrapper.
func (r *RootKey) WrapKey(_ context.Context, key, aad []byte) ([]byte, error) {
	return sealX([]byte{wrapKindRootKey}, &r.key, key, aad)
}

// UnwrapKey implements KeyWrapper.
func (r *RootKey) UnwrapKey(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < 1 || wrapped[0] != wrapKindRootKey {
		return nil, fmt.Errorf("%w: the vault was not sealed with a key file", ErrWrongKey)
	}
	out, err := openX(nil, &r.key, wrapped[1:], aad)
	if err != nil {
		return nil, ErrWrongKey
	}
	return out, nil
}

// Wipe forgets the key.
func (r *RootKey) Wipe() { r.key.Wipe() }

// Argon2Params are the Argon2id parameters for a passphrase root key.
type Argon2Params struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultArgon2Params follow RFC 9106's second recommended option (64 MiB, 3 passes).
var DefaultArgon2Params = Argon2Params{Time: 3, Memory: 64 * 1024, Threads: 4}

// PassphraseKey derives the root key from a passphrase with Argon2id. The salt and
// parameters travel in the wrapped value, so only the passphrase must be kept.
type PassphraseKey struct {
	pass   []byte
	params Argon2Params

	mu    sync.Mutex
	cache map[string]Key // salt‖params → derived key, so reopening does not pay Argon2 twice
}

var _ KeyWrapper = (*PassphraseKey)(nil)

// NewPassphraseKey returns a KeyWrapper for passphrase. New vaults are sealed with params;
// existing ones open with the parameters they were sealed with.
func NewPassphraseKey(passphrase []byte, params Argon2Params) (*PassphraseKey, error) {
	if len(passphrase) < 8 {
		return nil, errors.New("passphrase too short: use at least 8 characters")
	}
	if params.Time == 0 || params.Memory < 8 || params.Threads == 0 {
		return nil, errors.New("invalid Argon2id parameters")
	}
	return &PassphraseKey{pass: bytes.Clone(passphrase), params: params, cache: map[string]Key{}}, nil
}

// Describe implements Describer.
func (p *PassphraseKey) Describe() string { return "passphrase" }

// String, Format and GoString never print the passphrase or a derived key.
func (p *PassphraseKey) String() string             { return "PassphraseKey(redacted)" }
func (p *PassphraseKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }
func (p *PassphraseKey) GoString() string           { return p.String() }

func (p *PassphraseKey) derive(salt []byte, prm Argon2Params) Key {
	id := string(salt) + fmt.Sprint(prm)
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.cache[id]; ok {
		return k
	}
	var k Key
	copy(k[:], argon2.IDKey(p.pass, salt, prm.Time, prm.Memory, prm.Threads, KeySize))
	p.cache[id] = k
	return k
}

const passHeader = 1 + 4 + 4 + 1 + 16

// WrapKey implements KeyWrapper.
func (p *PassphraseKey) WrapKey(_ context.Context, key, aad []byte) ([]byte, error) {
	salt, err := randomBytes(16)
	if err != nil {
		return nil, err
	}
	out := []byte{wrapKindPassphrase}
	out = binary.BigEndian.AppendUint32(out, p.params.Time)
	out = binary.BigEndian.AppendUint32(out, p.params.Memory)
	out = append(out, p.params.Threads)
	out = append(out, salt...)
	k := p.derive(salt, p.params)
	return sealX(out, &k, key, append(bytes.Clone(out), aad...))
}

// UnwrapKey implements KeyWrapper.
func (p *PassphraseKey) UnwrapKey(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < passHeader || wrapped[0] != wrapKindPassphrase {
		return nil, fmt.Errorf("%w: the vault was not sealed with a passphrase", ErrWrongKey)
	}
	prm := Argon2Params{
		Time:    binary.BigEndian.Uint32(wrapped[1:5]),
		Memory:  binary.BigEndian.Uint32(wrapped[5:9]),
		Threads: wrapped[9],
	}
	// Refuse parameters that would let a forged vault exhaust the machine.
	if prm.Time == 0 || prm.Time > 64 || prm.Memory < 8 || prm.Memory > 4<<20 || prm.Threads == 0 {
		return nil, errors.New("vault names implausible Argon2id parameters")
	}
	salt := wrapped[10:passHeader]
	k := p.derive(salt, prm)
	out, err := openX(nil, &k, wrapped[passHeader:], append(bytes.Clone(wrapped[:passHeader]), aad...))
	if err != nil {
		return nil, ErrWrongKey
	}
	return out, nil
}

// Wipe forgets the passphrase and every derived key.
func (p *PassphraseKey) Wipe() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.pass)
	for id, k := range p.cache {
		k.Wipe()
		delete(p.cache, id)
	}
}

// Key files hold one line: this prefix and the base64url key.
const keyFilePrefix = "contactstore-root-key-v1:"

const keyFileMax = 4096

// ErrKeyFilePermissions is returned for a key file that others than its owner may read.
var ErrKeyFilePermissions = errors.New("key file is readable by others (chmod 600 it)")

// CreateKeyFile writes a fresh random root key to path with mode 0600. It never overwrites:
// an existing file is an error (fs.ErrExist).
func CreateKeyFile(path string) (*RootKey, error) {
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating key file: %w", err)
	}
	content := "# contactstore root key. Keep it secret and away from the store's disk: whoever\n" +
		"# holds it and the store directory can read every customer's data.\n" +
		keyFilePrefix + base64.RawURLEncoding.EncodeToString(k[:]) + "\n"
	_, werr := f.WriteString(content)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("writing key file %s: %w", path, err)
	}
	return NewRootKey(k, "key file "+path), nil
}

// LoadKeyFile reads a root key file. A file readable by group or others is refused with
// ErrKeyFilePermissions; a malformed file is refused without quoting its contents.
func LoadKeyFile(path string) (*RootKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s: not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s (mode %04o): %w", path, st.Mode().Perm(), ErrKeyFilePermissions)
	}
	data, err := io.ReadAll(io.LimitReader(f, keyFileMax+1))
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	defer clear(data)
	k, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return NewRootKey(k, "key file "+path), nil
}

// ParseKeyFile parses the contents of a key file.
func ParseKeyFile(data []byte) (Key, error) {
	if len(data) > keyFileMax {
		return Key{}, errors.New("too large to be a key file")
	}
	var found []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		found = append(found, line)
	}
	if len(found) != 1 || !strings.HasPrefix(found[0], keyFilePrefix) {
		return Key{}, errors.New("not a contactstore key file (expected one line starting " + keyFilePrefix + ")")
	}
	enc := strings.TrimPrefix(found[0], keyFilePrefix)
	// Go's base64 decoders skip '\r' and '\n' even in strict mode: refuse anything but the
	// base64url alphabet first, so that a key has exactly one spelling.
	if strings.IndexFunc(enc, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return Key{}, errors.New("malformed key: expected 32 bytes in base64url")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc) // Strict: one key, one spelling
	if err != nil || len(raw) != KeySize {
		return Key{}, errors.New("malformed key: expected 32 bytes in base64url")
	}
	var k Key
	copy(k[:], raw)
	clear(raw)
	return k, nil
}

// IsNotExist reports whether err says a key file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
