package crypto

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"contactstore/internal/wire"
)

// BackupIDSize is the size of a backup id.
const BackupIDSize = 16

// MaxBackups bounds the backup entries (live keys and tombstones) a vault or key-ring may
// declare.
const MaxBackups = 1 << 16

// BackupKey is one backup's entry in the vault: while the backup is within its term it holds
// the key K_b that opens the backup (its sealed vault copy and its archive's MAC key); once
// the term has ended the key is destroyed and the entry stays as a tombstone saying when.
type BackupKey struct {
	ID      [BackupIDSize]byte
	Created time.Time // seconds
	TermEnd time.Time // seconds: the key is destroyed once this instant has passed
	// Key is K_b; zero in a tombstone.
	Key Key
	// Destroyed is when the key was destroyed; zero while the backup is live.
	Destroyed time.Time
}

// Live reports whether the entry still holds its key.
func (b *BackupKey) Live() bool { return b.Destroyed.IsZero() }

// IDString returns the backup id as 32 hex digits.
func (b *BackupKey) IDString() string { return hex.EncodeToString(b.ID[:]) }

// NewBackupKey returns a live entry with a fresh random id and key.
func NewBackupKey(created, termEnd time.Time) (BackupKey, error) {
	b := BackupKey{Created: created.UTC().Truncate(time.Second), TermEnd: termEnd.UTC().Truncate(time.Second)}
	id, err := randomBytes(BackupIDSize)
	if err != nil {
		return b, err
	}
	copy(b.ID[:], id)
	if b.Key, err = NewKey(); err != nil {
		return b, err
	}
	return b, nil
}

// ParseBackupID parses 32 hex digits.
func ParseBackupID(s string) ([BackupIDSize]byte, error) {
	var id [BackupIDSize]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != BackupIDSize {
		return id, errors.New("a backup id is 32 hex digits")
	}
	copy(id[:], b)
	return id, nil
}

// FindBackup returns the entry of backup id in v, or nil.
func (v *Vault) FindBackup(id [BackupIDSize]byte) *BackupKey {
	for i := range v.Backups {
		if v.Backups[i].ID == id {
			return &v.Backups[i]
		}
	}
	return nil
}

const (
	backupLive    = 1
	backupExpired = 2
)

// appendBackupKeys encodes entries: a count, then per entry the id, created and term end
// (Unix seconds), a state byte, and the key (live) or the destruction time (expired).
func appendBackupKeys(b []byte, bks []BackupKey) []byte {
	b = wire.AppendUvarint(b, uint64(len(bks)))
	for i := range bks {
		e := &bks[i]
		b = append(b, e.ID[:]...)
		b = wire.AppendU64(b, unixOf(e.Created))
		b = wire.AppendU64(b, unixOf(e.TermEnd))
		if e.Live() {
			b = append(b, backupLive)
			b = append(b, e.Key[:]...)
		} else {
			b = append(b, backupExpired)
			b = wire.AppendU64(b, unixOf(e.Destroyed))
		}
	}
	return b
}

// decodeBackupKeys decodes what appendBackupKeys wrote; ids must be unique.
func decodeBackupKeys(d *wire.Decoder) ([]BackupKey, error) {
	n := d.Count(BackupIDSize + 8 + 8 + 1 + 8)
	if d.Err() != nil {
		return nil, d.Err()
	}
	if n > MaxBackups {
		return nil, fmt.Errorf("too many backups: %d", n)
	}
	out := make([]BackupKey, 0, n)
	seen := make(map[[BackupIDSize]byte]bool, n)
	for i := range n {
		var e BackupKey
		copy(e.ID[:], d.Fixed(BackupIDSize))
		e.Created = unixUTC(d.U64())
		e.TermEnd = unixUTC(d.U64())
		switch d.Byte() {
		case backupLive:
			copy(e.Key[:], d.Fixed(KeySize))
		case backupExpired:
			e.Destroyed = unixUTC(d.U64())
			if e.Destroyed.IsZero() {
				return nil, fmt.Errorf("backup %d: destroyed at time zero", i)
			}
		default:
			if d.Err() == nil {
				return nil, fmt.Errorf("backup %d: unknown state", i)
			}
		}
		if d.Err() != nil {
			return nil, d.Err()
		}
		if seen[e.ID] {
			return nil, fmt.Errorf("backup %d: duplicate id", i)
		}
		seen[e.ID] = true
		out = append(out, e)
	}
	return out, nil
}

// unixUTC turns Unix seconds into a UTC time; 0 is the zero time (so that a zero time
// round-trips).
func unixUTC(s uint64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}

// unixOf is the inverse of unixUTC.
func unixOf(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.Unix())
}

// BackupMACKey derives from K_b the key of a backup archive's trailer MAC.
func BackupMACKey(kb *Key) Key { return deriveSubkey(kb, "contactstore/v1/backup-archive-mac") }

// BackupWrapper returns a KeyWrapper around K_b, for sealing a backup's copy of the key
// vault (Vault.Marshal) and opening it (OpenVault): without K_b the copy is noise, whatever
// root key is at hand.
func BackupWrapper(kb Key) KeyWrapper { return NewRootKey(kb, "the backup's key") }

// KeyRing is the off-site key-ring: the live backup keys of one store, sealed under the
// store's root key. With the root key and the key-ring, a backup within its term can be
// restored when the live store is lost.
type KeyRing struct {
	StoreID [StoreIDSize]byte
	Keys    []BackupKey // live entries only
}

const (
	keyRingMagic   = "CSBKRING"
	keyRingVersion = 1
)

// ErrKeyRingCorrupt is returned for a key-ring file that is malformed or fails
// authentication under a root key that did unwrap its key.
var ErrKeyRingCorrupt = errors.New("backup key-ring is corrupt")

// NewKeyRing returns the key-ring of v's live backup keys.
func NewKeyRing(v *Vault) *KeyRing {
	r := &KeyRing{StoreID: v.StoreID}
	for _, b := range v.Backups {
		if b.Live() {
			r.Keys = append(r.Keys, b)
		}
	}
	return r
}

// Find returns the key-ring's entry for backup id, or nil.
func (r *KeyRing) Find(id [BackupIDSize]byte) *BackupKey {
	for i := range r.Keys {
		if r.Keys[i].ID == id {
			return &r.Keys[i]
		}
	}
	return nil
}

// Wipe overwrites every key in r.
func (r *KeyRing) Wipe() {
	for i := range r.Keys {
		r.Keys[i].Key.Wipe()
	}
}

func (r *KeyRing) header() []byte {
	h := []byte(keyRingMagic)
	h = append(h, keyRingVersion)
	return append(h, r.StoreID[:]...)
}

// Marshal seals the key-ring as the vault is sealed: a fresh key encrypts the body and the
// root key wraps it; the store id stays readable.
func (r *KeyRing) Marshal(ctx context.Context, root KeyWrapper) ([]byte, error) {
	for _, b := range r.Keys {
		if !b.Live() {
			return nil, errors.New("a key-ring holds live backup keys only")
		}
	}
	fk, err := NewKey()
	if err != nil {
		return nil, err
	}
	defer fk.Wipe()
	hdr := r.header()
	wrapped, err := root.WrapKey(ctx, fk[:], hdr)
	if err != nil {
		return nil, fmt.Errorf("wrapping the key-ring's key with %s: %w", Describe(root), err)
	}
	out := slices.Clone(hdr)
	out = wire.AppendBytes(out, wrapped)
	body := appendBackupKeys(nil, r.Keys)
	defer clear(body)
	return sealX(out, &fk, body, out)
}

// OpenKeyRing authenticates and decodes a key-ring file with the root key. A root key that
// does not open it gives ErrWrongKey; damage anywhere else gives ErrKeyRingCorrupt.
func OpenKeyRing(ctx context.Context, data []byte, root KeyWrapper) (*KeyRing, error) {
	hdrLen := len(keyRingMagic) + 1 + StoreIDSize
	if len(data) < hdrLen || string(data[:len(keyRingMagic)]) != keyRingMagic {
		return nil, fmt.Errorf("%w: not a contactstore backup key-ring", ErrKeyRingCorrupt)
	}
	if data[len(keyRingMagic)] != keyRingVersion {
		return nil, fmt.Errorf("%w: unsupported key-ring version %d", ErrKeyRingCorrupt, data[len(keyRingMagic)])
	}
	r := &KeyRing{}
	copy(r.StoreID[:], data[len(keyRingMagic)+1:hdrLen])
	d := wire.NewDecoder(data[hdrLen:])
	wrapped := d.Bytes()
	if d.Err() != nil {
		return nil, fmt.Errorf("%w: wrapped key: %v", ErrKeyRingCorrupt, d.Err())
	}
	sealedAt := len(data) - d.Len()
	raw, err := root.UnwrapKey(ctx, wrapped, data[:hdrLen])
	if err != nil {
		if errors.Is(err, ErrWrongKey) {
			return nil, fmt.Errorf("%w: %s does not open this key-ring", ErrWrongKey, Describe(root))
		}
		return nil, fmt.Errorf("unwrapping the key-ring's key with %s: %w", Describe(root), err)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: key-ring key has %d bytes", ErrKeyRingCorrupt, len(raw))
	}
	var fk Key
	copy(fk[:], raw)
	clear(raw)
	defer fk.Wipe()
	body, err := openX(nil, &fk, data[sealedAt:], data[:sealedAt])
	if err != nil {
		return nil, fmt.Errorf("%w: the sealed body does not authenticate", ErrKeyRingCorrupt)
	}
	defer clear(body)
	bd := wire.NewDecoder(body)
	if r.Keys, err = decodeBackupKeys(bd); err == nil {
		err = bd.Done()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyRingCorrupt, err)
	}
	for _, b := range r.Keys {
		if !b.Live() {
			return nil, fmt.Errorf("%w: holds a destroyed key", ErrKeyRingCorrupt)
		}
	}
	return r, nil
}
